#include "connector_frames.hpp"
#include "hex_bytes.hpp"

#include "roo/core/error.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace roo::io::connector {
namespace {

// Each expected frame is what python/wallaroo/experimental/connector_wire_messages.py's Frame.encode gives for the
// same message (printed with `Frame.encode(msg).hex()`).
using test::hex;
using test::unhex;

/// The frame without its u32 length: what decode_frame reads.
std::string body_of(const std::string& frame) { return frame.substr(4); }

constexpr std::uint64_t u64_max = ~std::uint64_t{0};

TEST(ConnectorFrames, EncodeAsPythonDoes) {
  EXPECT_EQ(hex(encode_hello({"0.0.1", "ck", "prog", "inst"})),
            "00000018000005302e302e310002636b000470726f670004696e7374");
  EXPECT_EQ(hex(encode_ok({7})), "000000050100000007");
  EXPECT_EQ(hex(encode_error({"Bad cookie"})), "0000000d02000a42616420636f6f6b6965");
  EXPECT_EQ(hex(encode_notify({258, "s", u64_max})), "00000014030000000000000102000173ffffffffffffffff");
  EXPECT_EQ(hex(encode_notify_ack({true, 258, 41})), "00000012040100000000000001020000000000000029");
  EXPECT_EQ(hex(encode_message({258, 9, -2, "k", "abc"})),
            "0000001f0500000000000001020000000000000009fffffffffffffffe00016b616263");
  EXPECT_EQ(hex(encode_message({1, 2, 0, "", ""})), "0000001b050000000000000001000000000000000200000000000000000000");
  EXPECT_EQ(hex(encode_ack({5, {{1, 2}, {3, 4}}})),
            "000000290600000005000000020000000000000001000000000000000200000000000000030000000000000004");
  EXPECT_EQ(hex(encode_restart({"h:1"})), "000000080700000003683a31");
  EXPECT_EQ(hex(encode_eos_message({258})), "00000009080000000000000102");
}

TEST(ConnectorFrames, DecodeWhatPythonEncodes) {
  EXPECT_EQ(std::get<Hello>(decode_frame(body_of(unhex("00000018000005302e302e310002636b000470726f670004696e7374")))),
            (Hello{"0.0.1", "ck", "prog", "inst"}));
  EXPECT_EQ(std::get<Notify>(decode_frame(body_of(unhex("00000014030000000000000102000173ffffffffffffffff")))),
            (Notify{258, "s", u64_max}));
  std::string message = unhex("0000001f0500000000000001020000000000000009fffffffffffffffe00016b616263");
  EXPECT_EQ(std::get<Message>(decode_frame(body_of(message))), (Message{258, 9, -2, "k", "abc"}));
  EXPECT_EQ(std::get<EndOfStream>(decode_frame(body_of(unhex("00000009080000000000000102")))), EndOfStream{258});
  EXPECT_EQ(std::get<Ack>(decode_frame(body_of(encode_ack({5, {{1, 2}, {3, 4}}})))), (Ack{5, {{1, 2}, {3, 4}}}));
  EXPECT_EQ(std::get<NotifyAck>(decode_frame(body_of(encode_notify_ack({false, 3, 4})))), (NotifyAck{false, 3, 4}));
  EXPECT_EQ(std::get<Restart>(decode_frame(body_of(encode_restart({""})))), Restart{""});
  EXPECT_EQ(std::get<Ok>(decode_frame(body_of(encode_ok({9})))), Ok{9});
  EXPECT_EQ(std::get<ErrorFrame>(decode_frame(body_of(encode_error({"x"})))), ErrorFrame{"x"});
}

void expect_refused(const std::string& frame, const std::string& why) {
  try {
    (void)decode_frame(frame);
    ADD_FAILURE() << "decoded " << hex(frame);
  } catch (const core::Error& error) {
    EXPECT_EQ(error.what(), why);
  }
}

TEST(ConnectorFrames, MalformedFramesAreRefusedWithTheirCause) {
  expect_refused("", "an empty frame has no message type");
  expect_refused("\x4d", "unknown connector message type 77");
  expect_refused(std::string("\x03\x00\x00\x00\x00", 5), "NOTIFY: frame body of 4 bytes is too short");
  // A short string announcing more bytes than the frame holds.
  expect_refused(std::string("\x00\x00\x09"
                             "0.0",
                             6),
                 "HELLO: frame body of 5 bytes is too short");
  expect_refused(body_of(encode_eos_message({1})) + "xy", "EOS_MESSAGE: 2 bytes after the frame's last field");
  // An ACK announcing 2^32-1 entries is refused before anything is reserved.
  expect_refused(std::string("\x06\x00\x00\x00\x01\xff\xff\xff\xff", 9),
                 "ACK: 4294967295 entries announced, the frame body of 8 bytes holds fewer");
}

TEST(ConnectorFrames, TwoPhasePayloadsRoundTrip) {
  EXPECT_EQ(hex(encode_two_phase(Phase2{"t", true})), "cd00017401");
  EXPECT_EQ(hex(encode_two_phase(ListUncommitted{3})), "c90000000000000003");
  for (const TwoPhaseMessage& message :
       {TwoPhaseMessage{ListUncommitted{7}}, TwoPhaseMessage{ReplyUncommitted{7, {"a", "bc"}}},
        TwoPhaseMessage{Phase1{"s:c_id=3", {{1, 10, 20}}}}, TwoPhaseMessage{Phase1Reply{"x", false}},
        TwoPhaseMessage{Phase2{"y", true}}}) {
    EXPECT_EQ(decode_two_phase(encode_two_phase(message)), message);
  }
  try {
    (void)decode_two_phase("\x07");
    ADD_FAILURE();
  } catch (const core::Error& error) {
    EXPECT_STREQ(error.what(), "unknown 2PC message tag 7");
  }
}

}  // namespace
}  // namespace roo::io::connector
