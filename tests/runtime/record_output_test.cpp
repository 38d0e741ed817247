// Record sinks and message sources in the PipelineRunner (Kafka's side of the runner), and the encodings a checkpoint
// keeps them in.
#include "pipeline_runner.hpp"
#include "record_batch_codec.hpp"
#include "runner_fixtures.hpp"
#include "source_positions.hpp"

#include "roo/core/error.hpp"

#include <gtest/gtest.h>
#include <pybind11/embed.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace py = pybind11;

namespace roo::runtime {
namespace {

using test::plan_of;

python::PyRef python_function(const char* source) {
  py::object function = py::eval(source);
  return python::PyRef::borrow(function.ptr());
}

/// A batch of messages as a Kafka source makes them: payloads with partition, offset, time and key.
core::FrameBatch messages(std::initializer_list<std::tuple<std::string, const char*, std::int32_t, std::int64_t>> items) {
  core::FrameBatch batch;
  for (const auto& [value, key, partition, offset] : items) {
    batch.append(value.data(), value.size());
    core::FrameBatch::Meta meta;
    meta.partition = partition;
    meta.offset = offset;
    meta.time_ms = 1000 + offset;
    if (key != nullptr) {
      batch.keys.insert(batch.keys.end(), key, key + std::strlen(key));
      meta.has_key = true;
    }
    meta.key_end = static_cast<std::uint32_t>(batch.keys.size());
    batch.meta.push_back(meta);
  }
  return batch;
}

std::string text(std::string_view view) { return std::string(view); }

TEST(RecordOutput, AnEncodersTupleBecomesARecordWithKeyPartitionHeadersAndTheMessagesTime) {
  auto plan = plan_of("split_filter");
  plan.sources[0].decode = python_function("lambda value, key: (key or b'-').decode() + '|' + value.decode()");
  plan.sinks[0].encode = python_function(
      "lambda d: None if d.endswith('none') else d.encode() if d.startswith('-') else "
      "(d.encode(), d[0], 3, [('h', b'v'), ('n', 'x')]) if d.startswith('k') else (d, None)");
  plan.stages.clear();
  plan.flows[0].stages.clear();
  PipelineRunner runner(plan);
  runner.read_messages(0, {"in"}, true);
  runner.write_records(0);
  runner.process(messages({{"a", "k1", 0, 7}, {"b", nullptr, 1, 9}, {"c", "x", 0, 8}, {"none", "k", 0, 10}}));
  io::RecordBatch out = runner.outputs()[0].take();
  ASSERT_EQ(out.records.size(), 3U);
  EXPECT_EQ(text(out.value(0)), "k1|a");
  EXPECT_TRUE(out.records[0].has_key);
  EXPECT_EQ(text(out.key(0)), "k");
  EXPECT_EQ(out.records[0].partition, 3);
  EXPECT_EQ(out.records[0].time_ms, 1007);
  EXPECT_EQ(text(out.headers_of(0)), std::string("\0\1h\0\0\0\1v\0\1n\0\0\0\1x", 16));
  EXPECT_EQ(text(out.value(1)), "-|b");  // bytes: the value alone
  EXPECT_FALSE(out.records[1].has_key);
  EXPECT_EQ(out.records[1].partition, io::RecordBatch::any_partition);
  EXPECT_EQ(out.records[1].time_ms, 1009);
  EXPECT_EQ(text(out.value(2)), "x|c");  // (value, None)
  EXPECT_FALSE(out.records[2].has_key);
  EXPECT_EQ(text(out.key(2)), "");
  EXPECT_EQ(runner.outputs_written(), 3U);
}

TEST(RecordOutput, AnEncoderBreakingTheRecordRulesCostsOnlyItsEvent) {
  auto plan = plan_of("split_filter");
  plan.sinks[0].encode = python_function(
      "lambda d: 5 if d == 'int' else (d,) if d == 'one' else (d, 1) if d == 'intkey' else "
      "(d, None, -2) if d == 'part' else (d, None, None, [1]) if d == 'hdr' else d");
  plan.stages.clear();
  plan.flows[0].stages.clear();
  PipelineRunner runner(plan);
  runner.write_records(0);
  testing::internal::CaptureStderr();
  runner.process(test::batch_of({"int", "one", "intkey", "part", "hdr", "ok"}));
  std::string log = testing::internal::GetCapturedStderr();
  io::RecordBatch out = runner.outputs()[0].take();
  ASSERT_EQ(out.records.size(), 1U);
  EXPECT_EQ(text(out.value(0)), "ok");
  EXPECT_EQ(runner.failed_events(), 5U);
  for (const char* line :
       {"returned int; expected bytes, or a tuple (value, key[, partition[, headers]])",
        "returned tuple; expected bytes, or a tuple (value, key[, partition[, headers]])",
        "returned a tuple whose key is not bytes, str or None",
        "returned a tuple whose partition is not a partition number or None",
        "returned a header that is not a (name, value) pair of str or bytes"}) {
    EXPECT_NE(log.find(line), std::string::npos) << line << "\n" << log;
  }
}

TEST(RecordOutput, ADecoderFailureNamesTheMessagesTopicPartitionAndOffset) {
  auto plan = plan_of("split_filter");
  plan.sources[0].decode = python_function("lambda value: value.decode() if value != b'bad' else int('x')");
  plan.stages.clear();
  plan.flows[0].stages.clear();
  PipelineRunner runner(plan);
  runner.read_messages(0, {"orders"}, false);
  testing::internal::CaptureStderr();
  runner.process(messages({{"a", nullptr, 0, 1}, {"bad", nullptr, 2, 41}, {"b", nullptr, 0, 2}}));
  std::string log = testing::internal::GetCapturedStderr();
  EXPECT_EQ(text(std::string_view(runner.outputs()[0].take().values.data(), 4)), "a\nb\n");
  EXPECT_EQ(runner.failed_events(), 1U);
  EXPECT_NE(log.find("raised on topic 'orders' partition 2 offset 41: ValueError"), std::string::npos) << log;
}

TEST(SourcePositions, FoldsTheOffsetAfterEachPartitionsLastProcessedMessage) {
  SourcePositions positions(2);
  auto batch = messages({{"a", nullptr, 0, 7}, {"b", nullptr, 1, 3}, {"c", nullptr, 0, 8}, {"d", nullptr, 1, 4}});
  batch.source = 1;
  positions.fold(batch, 0, 3);  // the last one not processed yet
  io::SourcePosition expected{{io::PartitionId{0, 0}, 9}, {io::PartitionId{0, 1}, 4}};
  EXPECT_EQ(positions.of(1), expected);
  EXPECT_TRUE(positions.of(0).empty());
  positions.fold(test::batch_of({"tcp"}, 0), 0, 1);  // no Meta: nothing to fold
  EXPECT_TRUE(positions.of(0).empty());
  EXPECT_EQ(SourcePositions::decode(SourcePositions::encode(expected)), expected);
  EXPECT_THROW((void)SourcePositions::decode("\0\0\0\2abc"), core::Error);
}

TEST(RecordBatchCodec, RoundTripsAndRefusesWhatDoesNotAddUp) {
  io::RecordBatch batch;
  batch.values = {'a', 'b', 'c'};
  batch.keys = {'k'};
  batch.headers = {'\0', '\1', 'h', '\0', '\0', '\0', '\0'};
  batch.records.push_back({.value_end = 1, .key_end = 1, .headers_end = 7, .partition = 2, .time_ms = 5, .has_key = true});
  batch.records.push_back({.value_end = 3, .key_end = 1, .headers_end = 7, .partition = -1, .time_ms = -1, .has_key = false});
  std::string encoded = encode_record_batch(batch);
  io::RecordBatch back = decode_record_batch(encoded);
  EXPECT_EQ(back.values, batch.values);
  EXPECT_EQ(back.keys, batch.keys);
  EXPECT_EQ(back.headers, batch.headers);
  ASSERT_EQ(back.records.size(), 2U);
  EXPECT_EQ(back.records[0].partition, 2);
  EXPECT_EQ(back.records[1].time_ms, -1);
  EXPECT_TRUE(back.records[0].has_key);
  EXPECT_EQ(back.records[0].time_ms, 5);
  EXPECT_EQ(back.records[1].value_end, 3U);
  EXPECT_EQ(back.records[1].headers_end, 7U);
  EXPECT_FALSE(back.records[1].has_key);
  try {
    (void)decode_record_batch(encoded.substr(0, encoded.size() - 1));
    FAIL() << "a truncated output was accepted";
  } catch (const core::Error& error) {
    EXPECT_NE(std::string(error.what()).find("a sink's output in the checkpoint is malformed"), std::string::npos);
  }
}

// Every output of an exactly-once run is kept in its checkpoint: the codec writes a small output (a 5-byte value and a
// 1-byte key, alphabet's votes) in a few bytes more than its value and key, and keeps any times exactly.
TEST(RecordBatchCodec, KeepsSmallRecordsSmallAndAnyTimeExact) {
  io::RecordBatch batch;
  constexpr std::int64_t base_time = 1764532800123;
  const std::vector<std::int64_t> times = {1764532800123, 1764532800123, 1764532800124, io::RecordBatch::no_time,
                                           std::numeric_limits<std::int64_t>::min(),
                                           std::numeric_limits<std::int64_t>::max(), 0};
  for (std::size_t i = 0; i < 1000; ++i) {
    batch.values.insert(batch.values.end(), {'v', 'o', 't', 'e', static_cast<char>('a' + i % 26)});
    batch.keys.push_back(static_cast<char>('a' + i % 26));
    batch.records.push_back({.value_end = static_cast<std::uint32_t>(batch.values.size()),
                             .key_end = static_cast<std::uint32_t>(batch.keys.size()),
                             .headers_end = 0,
                             .partition = i % 2 == 0 ? io::RecordBatch::any_partition : 3,
                             .time_ms = i < times.size() ? times[i] : base_time + static_cast<std::int64_t>(i / 100),
                             .has_key = true});
  }
  std::string encoded = encode_record_batch(batch);
  EXPECT_LT(encoded.size(), 1000U * (6 + 6));  // 6 bytes of value and key, 5 of description (31 with fixed widths)
  io::RecordBatch back = decode_record_batch(encoded);
  EXPECT_EQ(back.values, batch.values);
  EXPECT_EQ(back.keys, batch.keys);
  ASSERT_EQ(back.records.size(), batch.records.size());
  for (std::size_t i = 0; i < batch.records.size(); ++i) {
    EXPECT_EQ(back.records[i].value_end, batch.records[i].value_end) << i;
    EXPECT_EQ(back.records[i].key_end, batch.records[i].key_end) << i;
    EXPECT_EQ(back.records[i].partition, batch.records[i].partition) << i;
    EXPECT_EQ(back.records[i].time_ms, batch.records[i].time_ms) << i;
    EXPECT_TRUE(back.records[i].has_key) << i;
  }
  std::string wrong = encoded;
  wrong[4] = static_cast<char>(wrong[4] + 1);  // the descriptions' length no longer adds up
  EXPECT_THROW((void)decode_record_batch(wrong), core::Error);
}

}  // namespace
}  // namespace roo::runtime
