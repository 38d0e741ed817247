#include "connector_frames.hpp"
#include "hex_bytes.hpp"

#include <gtest/gtest.h>

#include <string>

namespace roo::io::connector {
namespace {

// Each expected payload is what python/wallaroo/experimental/connector_two_phase.py's encode() gives for the same
// message (printed with `.hex()`), and each frame what connector_wire_messages.Frame.encode gives.
using test::hex;
using test::unhex;

TEST(ConnectorTwoPhase, PayloadsAreTheBytesPythonWrites) {
  EXPECT_EQ(hex(encode_two_phase(ListUncommitted{.rtag = 7})), "c90000000000000007");
  EXPECT_EQ(hex(encode_two_phase(ReplyUncommitted{.rtag = 7, .txn_ids = {"a:c_id=1", "b"}})),
            "ca0000000000000007000000020008613a635f69643d31000162");
  EXPECT_EQ(hex(encode_two_phase(
                Phase1{.txn_id = "s:c_id=3", .where = {{.stream_id = 1, .start_offset = 0, .end_offset = 10}}})),
            "cb0008733a635f69643d33000000010000000000000001"
            "0000000000000000000000000000000a");
  EXPECT_EQ(hex(encode_two_phase(Phase1Reply{.txn_id = "x", .commit = true})), "cc00017801");
  EXPECT_EQ(hex(encode_two_phase(Phase2{.txn_id = "x", .commit = false})), "cd00017800");
}

TEST(ConnectorTwoPhase, PythonPayloadsDecode) {
  EXPECT_EQ(decode_two_phase(unhex("ca0000000000000007000000020008613a635f69643d31000162")),
            TwoPhaseMessage(ReplyUncommitted{.rtag = 7, .txn_ids = {"a:c_id=1", "b"}}));
  EXPECT_EQ(decode_two_phase(unhex("cc00017801")), TwoPhaseMessage(Phase1Reply{.txn_id = "x", .commit = true}));
  EXPECT_EQ(decode_two_phase(unhex("cc00017800")), TwoPhaseMessage(Phase1Reply{.txn_id = "x", .commit = false}));
}

TEST(ConnectorTwoPhase, TheSinkSessionsFramesAreTheBytesPythonWrites) {
  EXPECT_EQ(
      hex(encode_hello({.version = "v0.0.1", .cookie = "ck", .program_name = "App", .instance_name = "initializer"})),
      "0000001f00000676302e302e310002636b0003417070000b696e697469616c697a6572");
  EXPECT_EQ(hex(encode_notify({.stream_id = 1, .stream_name = "App-w-initializer-id-0", .point_of_ref = 0})),
            "0000002903000000000000000100164170702d772d696e697469616c697a65722d69642d300000000000000000");
}

}  // namespace
}  // namespace roo::io::connector
