#include "connector_sink_output.hpp"
#include "hex_bytes.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace roo::io {
namespace {

std::shared_ptr<const RecordBatch> batch_of(std::initializer_list<std::string> records) {
  auto batch = std::make_shared<RecordBatch>();
  for (const auto& record : records) {
    batch->values.insert(batch->values.end(), record.begin(), record.end());
    batch->records.push_back(RecordBatch::Record{.value_end = static_cast<std::uint32_t>(batch->values.size())});
  }
  return batch;
}

using test::hex;

TEST(ConnectorSinkOutput, EachRecordIsAMessageWhoseIdIsItsOffset) {
  ConnectorSinkOutput output;
  output.append(batch_of({"xy\n", "ab\n"}));
  output.append(batch_of({"", "c"}));
  output.rebase(97);
  EXPECT_EQ(output.front(), 97U);
  EXPECT_EQ(output.end(), 104U);
  std::string frames;
  EXPECT_EQ(output.encode_messages(100, 104, 1 << 20, 1, frames), 104U);
  // As Python's Frame.encode(Message(1, 100, 0, None, b"ab\n")), then the empty record and "c" at 103.
  EXPECT_EQ(hex(frames),
            "0000001e05000000000000000100000000000000640000000000000000000061620a"
            "0000001b050000000000000001000000000000006700000000000000000000"
            "0000001c050000000000000001000000000000006700000000000000000000"
            "63");
}

TEST(ConnectorSinkOutput, EncodingStopsAtTheLimitAndAfterMaxBytes) {
  ConnectorSinkOutput output;
  output.append(batch_of({"aa", "bb", "cc"}));
  output.append(batch_of({"dd"}));
  std::string frames;
  EXPECT_EQ(output.encode_messages(0, 4, 1 << 20, 1, frames), 4U);  // a cut after "bb"
  EXPECT_EQ(frames.size(), 2 * 33U);
  frames.clear();
  EXPECT_EQ(output.encode_messages(4, 8, 1, 1, frames), 6U);  // one record once over max_bytes
  frames.clear();
  EXPECT_EQ(output.encode_messages(6, 8, 1 << 20, 1, frames), 8U);
  EXPECT_EQ(frames.size(), 33U);
}

TEST(ConnectorSinkOutput, RecordStartsReleaseAndDrop) {
  ConnectorSinkOutput output;
  output.append(batch_of({"aa", "bb"}));
  output.append(batch_of({"ccc"}));
  EXPECT_TRUE(output.is_record_start(0));
  EXPECT_TRUE(output.is_record_start(2));
  EXPECT_FALSE(output.is_record_start(3));
  EXPECT_TRUE(output.is_record_start(4));
  EXPECT_TRUE(output.is_record_start(7));
  EXPECT_FALSE(output.is_record_start(8));
  EXPECT_EQ(output.release_before(5), 4U);  // only whole batches: the first
  EXPECT_EQ(output.front(), 4U);
  EXPECT_EQ(output.drop_from(4), 3U);
  EXPECT_TRUE(output.empty());
  EXPECT_EQ(output.end(), 4U);
  output.append(batch_of({"d"}));
  EXPECT_EQ(output.front(), 4U);
  EXPECT_EQ(output.end(), 5U);
}

}  // namespace
}  // namespace roo::io
