#include "roo/io/kafka_sink.hpp"

#include "io_test_support.hpp"
#include "kafka_test_support.hpp"
#include "kafka_written_records.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace roo::io {
namespace {

using namespace std::chrono_literals;
using test::KafkaMessage;
using test::LogCapture;

void append_big_endian(std::vector<char>& out, std::uint32_t value, int width) {
  for (int shift = (width - 1) * 8; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

/// Appends `message` to `batch` in RecordBatch's encoding (what the runner's encoder step produces).
void add(RecordBatch& batch, const KafkaMessage& message) {
  batch.values.insert(batch.values.end(), message.value.begin(), message.value.end());
  if (message.key) {
    batch.keys.insert(batch.keys.end(), message.key->begin(), message.key->end());
  }
  for (const auto& [name, value] : message.headers) {
    append_big_endian(batch.headers, static_cast<std::uint32_t>(name.size()), 2);
    batch.headers.insert(batch.headers.end(), name.begin(), name.end());
    append_big_endian(batch.headers, static_cast<std::uint32_t>(value.size()), 4);
    batch.headers.insert(batch.headers.end(), value.begin(), value.end());
  }
  batch.records.push_back(RecordBatch::Record{.value_end = static_cast<std::uint32_t>(batch.values.size()),
                                              .key_end = static_cast<std::uint32_t>(batch.keys.size()),
                                              .headers_end = static_cast<std::uint32_t>(batch.headers.size()),
                                              .partition = message.partition,
                                              .time_ms = message.time_ms,
                                              .has_key = message.key.has_value()});
}

RecordBatch batch_of(const std::vector<KafkaMessage>& messages) {
  RecordBatch batch;
  for (const auto& message : messages) {
    add(batch, message);
  }
  return batch;
}

std::vector<KafkaMessage> numbered(const std::string& prefix, int count, int partitions) {
  std::vector<KafkaMessage> messages;
  for (int i = 0; i < count; ++i) {
    messages.push_back(KafkaMessage{.partition = i % partitions,
                                    .key = "k" + std::to_string(i % 7),
                                    .value = prefix + std::to_string(i),
                                    .time_ms = test::recent_time_ms() + i});
  }
  return messages;
}

/// Messages without offsets, in (partition, write order): what a reader must find.
std::vector<KafkaMessage> by_partition(std::vector<KafkaMessage> messages) {
  for (auto& message : messages) {
    message.offset = -1;
  }
  std::stable_sort(messages.begin(), messages.end(),
                   [](const KafkaMessage& a, const KafkaMessage& b) { return a.partition < b.partition; });
  return messages;
}

/// What a reader found, without offsets, in (partition, offset) order.
std::vector<KafkaMessage> as_written(std::vector<KafkaMessage> messages) {
  std::sort(messages.begin(), messages.end(), [](const KafkaMessage& a, const KafkaMessage& b) {
    return std::tie(a.partition, a.offset) < std::tie(b.partition, b.offset);
  });
  for (auto& message : messages) {
    message.offset = -1;
  }
  return messages;
}

KafkaSinkConfig sink_config(const std::string& topic, std::string transactional_id = "") {
  return KafkaSinkConfig{.name = "out",
                         .topic = topic,
                         .brokers = test::kafka_bootstrap(),
                         .properties = {},
                         .transactional_id = std::move(transactional_id)};
}

std::string flush(Sink& sink) {
  std::promise<std::string> done;
  sink.flush([&](std::string error) { done.set_value(std::move(error)); });
  auto future = done.get_future();
  if (future.wait_for(60s) != std::future_status::ready) {
    return "flush timed out";
  }
  return future.get();
}

void stop(Sink& sink) {
  std::promise<void> done;
  sink.stop([&] { done.set_value(); });
  ASSERT_EQ(done.get_future().wait_for(60s), std::future_status::ready);
}

/// What hand_off answers (its error and copies of its batches), or "hand_off timed out".
std::pair<std::string, std::vector<RecordBatch>> hand_off(Sink& sink) {
  std::promise<std::pair<std::string, std::vector<RecordBatch>>> done;
  sink.hand_off([&](std::string error, Sink::SharedBatches records) {
    std::vector<RecordBatch> copies;
    for (const auto& batch : records) {
      copies.push_back(*batch);
    }
    done.set_value({std::move(error), std::move(copies)});
  });
  auto future = done.get_future();
  if (future.wait_for(60s) != std::future_status::ready) {
    return {"hand_off timed out", {}};
  }
  return future.get();
}

/// What prepare answers: its error, and what the checkpoint keeps (copies of any records, or where they are).
struct PrepareAnswer {
  std::string error;
  std::vector<RecordBatch> records;
  std::string location;
};

PrepareAnswer prepare(Sink& sink, std::uint64_t checkpoint) {
  std::promise<PrepareAnswer> done;
  sink.prepare(checkpoint, [&](std::string error, Sink::CheckpointOutput output) {
    PrepareAnswer answer{.error = std::move(error), .records = {}, .location = std::move(output.location)};
    for (const auto& batch : output.records) {
      answer.records.push_back(*batch);
    }
    done.set_value(std::move(answer));
  });
  auto future = done.get_future();
  if (future.wait_for(60s) != std::future_status::ready) {
    return {.error = "prepare timed out", .records = {}, .location = {}};
  }
  return future.get();
}

std::string commit(Sink& sink, std::uint64_t checkpoint) {
  std::promise<std::string> done;
  sink.commit(checkpoint, [&](std::string error) { done.set_value(std::move(error)); });
  auto future = done.get_future();
  return future.wait_for(60s) == std::future_status::ready ? future.get() : "commit timed out";
}

std::string recover(Sink& sink, std::uint64_t checkpoint, std::vector<RecordBatch> records, std::string location = {}) {
  std::promise<std::string> done;
  sink.recover(checkpoint, std::move(records), std::move(location),
               [&](std::string error) { done.set_value(std::move(error)); });
  auto future = done.get_future();
  return future.wait_for(60s) == std::future_status::ready ? future.get() : "recover timed out";
}

std::vector<std::string> values(const std::vector<KafkaMessage>& messages) {
  std::vector<std::string> out;
  for (const auto& message : messages) {
    out.push_back(message.value);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> values_of(const std::vector<RecordBatch>& batches) {
  std::vector<std::string> out;
  for (const auto& batch : batches) {
    for (std::size_t i = 0; i < batch.records.size(); ++i) {
      out.emplace_back(batch.value(i));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// A worker that dies between prepare(checkpoint) and its commit: a sink with `transactional_id` writes `messages`
/// to `topic`, prepares, and is gone. Returns where the checkpoint would keep its records (empty, with a test
/// failure, when the prepare failed or kept the records themselves).
std::string prepared_then_gone(const std::string& topic, const std::string& transactional_id,
                               const std::vector<KafkaMessage>& messages, std::uint64_t checkpoint) {
  auto crashed = make_kafka_sink(sink_config(topic, transactional_id));
  crashed->start();
  crashed->write(batch_of(messages));
  auto prepared = prepare(*crashed, checkpoint);
  EXPECT_EQ(prepared.error, "");
  EXPECT_TRUE(prepared.records.empty());
  return prepared.location;
}

/// The values at `location` (a prepare's KafkaWrittenOffsets), read back from `topic` as a recovery does.
std::vector<std::string> values_at(const std::string& topic, const std::string& location) {
  KafkaWrittenOffsets offsets = KafkaWrittenOffsets::decode(location);
  EXPECT_EQ(offsets.topic(), topic);
  return values_of(read_written_records("test", test::kafka_bootstrap(), {}, offsets, 20s));
}

TEST(KafkaSink, WritesEachRecordWithItsKeyPartitionHeadersAndTimestamp) {
  std::string topic = test::unique_topic("sink-records");
  test::create_topic(topic, 3);
  std::vector<KafkaMessage> messages;
  for (int i = 0; i < 60; ++i) {
    KafkaMessage message{.partition = i % 3, .value = "v" + std::to_string(i), .time_ms = test::recent_time_ms() + i};
    if (i % 3 == 0) {
      message.key = "key" + std::to_string(i);
    } else if (i % 3 == 1) {
      message.key = "";
    }
    if (i % 4 == 0) {
      message.headers = {{"trace", "t" + std::to_string(i)}, {"empty", ""}};
    }
    messages.push_back(std::move(message));
  }
  auto sink = make_kafka_sink(sink_config(topic));
  ASSERT_TRUE(sink->takes_records());
  ASSERT_FALSE(sink->transactional());
  sink->start();
  auto [error, records, location] = prepare(*sink, 1);  // at-least-once: the checkpoint calls do nothing
  EXPECT_EQ(error, "");
  EXPECT_TRUE(records.empty());
  EXPECT_EQ(location, "");
  EXPECT_EQ(commit(*sink, 1), "");
  sink->write(batch_of({messages.begin(), messages.begin() + 25}));
  sink->write(batch_of({messages.begin() + 25, messages.end()}));
  EXPECT_EQ(flush(*sink), "");
  EXPECT_EQ(sink->budget().in_flight(), 0U);
  stop(*sink);
  EXPECT_EQ(sink->undelivered_bytes(), 0U);

  auto read = test::read_topic(topic, 60, /*read_committed=*/false);
  EXPECT_EQ(as_written(read), by_partition(messages));
}

TEST(KafkaSink, RecordsWithoutATimeGetTheWallClockOfTheirWrite) {
  std::string topic = test::unique_topic("sink-no-time");
  test::create_topic(topic, 2);
  std::vector<KafkaMessage> first;
  std::vector<KafkaMessage> second;
  for (int i = 0; i < 40; ++i) {
    (i < 20 ? first : second).push_back(KafkaMessage{.partition = i % 2, .value = std::to_string(i)});
  }
  second[3].time_ms = 1'000'000'000'000;  // one with a time of its own keeps it
  auto sink = make_kafka_sink(sink_config(topic));
  sink->start();
  auto clock_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  std::int64_t before_first = clock_ms();
  sink->write(batch_of(first));
  EXPECT_EQ(flush(*sink), "");
  std::this_thread::sleep_for(20ms);
  std::int64_t before_second = clock_ms();
  sink->write(batch_of(second));
  EXPECT_EQ(flush(*sink), "");
  std::int64_t after = clock_ms();
  stop(*sink);
  auto read = test::read_topic(topic, 40, false);
  ASSERT_EQ(read.size(), 40U);
  for (const auto& message : read) {
    int i = std::stoi(message.value);
    if (i == 23) {
      EXPECT_EQ(message.time_ms, 1'000'000'000'000) << i;
    } else if (i < 20) {
      EXPECT_GE(message.time_ms, before_first) << i;
      EXPECT_LT(message.time_ms, before_second) << i;  // stamped at its own write, not at a later one
    } else {
      EXPECT_GE(message.time_ms, before_second) << i;
      EXPECT_LE(message.time_ms, after) << i;
    }
  }
}

TEST(KafkaSink, RecordsWithoutAPartitionFollowTheirKey) {
  std::string topic = test::unique_topic("sink-partitioner");
  test::create_topic(topic, 4);
  std::vector<KafkaMessage> messages;
  for (int i = 0; i < 80; ++i) {
    messages.push_back(KafkaMessage{.partition = RecordBatch::any_partition,
                                    .key = "user" + std::to_string(i % 8),
                                    .value = std::to_string(i)});
  }
  auto config = sink_config(topic);
  config.properties = {{"partitioner", "murmur2"}};
  auto sink = make_kafka_sink(config);
  sink->start();
  sink->write(batch_of(messages));
  EXPECT_EQ(flush(*sink), "");
  stop(*sink);
  auto read = test::read_topic(topic, 80, false);
  ASSERT_EQ(read.size(), 80U);
  std::map<std::string, std::set<std::int32_t>> partitions_of_key;
  for (const auto& message : read) {
    partitions_of_key[*message.key].insert(message.partition);
  }
  std::set<std::int32_t> used;
  for (const auto& [key, partitions] : partitions_of_key) {
    EXPECT_EQ(partitions.size(), 1U) << key;
    used.insert(*partitions.begin());
  }
  EXPECT_GT(used.size(), 1U);
}

TEST(KafkaSink, AFullProducerQueueKeepsTheRestAndLosesNothing) {
  std::string topic = test::unique_topic("sink-queue-full");
  test::create_topic(topic, 2);
  auto messages = numbered("m", 3000, 2);
  auto config = sink_config(topic);
  config.properties = {{"queue.buffering.max.messages", "10"}};
  auto sink = make_kafka_sink(config);
  sink->start();
  for (int i = 0; i < 3000; i += 500) {
    sink->write(batch_of({messages.begin() + i, messages.begin() + i + 500}));
  }
  EXPECT_EQ(flush(*sink), "");
  stop(*sink);
  EXPECT_EQ(sink->undelivered_bytes(), 0U);
  EXPECT_EQ(as_written(test::read_topic(topic, 3000, false)), by_partition(messages));
}

TEST(KafkaSink, ARecordOverMaxMessageSizeIsNotSentButCounted) {
  std::string topic = test::unique_topic("sink-oversized");
  test::create_topic(topic, 1);
  auto config = sink_config(topic);
  config.max_message_size = 10;
  LogCapture::instance().clear();
  auto sink = make_kafka_sink(config);
  sink->start();
  sink->write(batch_of({{.partition = 0, .value = "small"},
                        {.partition = 0, .key = "kk", .value = std::string(20, 'x')},
                        {.partition = 0, .value = "small2"}}));
  EXPECT_EQ(flush(*sink), "");
  stop(*sink);
  EXPECT_EQ(sink->undelivered_bytes(), 22U);
  EXPECT_EQ(sink->undelivered_reason(), "records over max_message_size");
  EXPECT_EQ(LogCapture::instance().count("kafka_sink 'out': not sending a record of 22 bytes to topic '" + topic +
                                         "': over max_message_size 10 (1 so far)"),
            1U);
  auto read = test::read_topic(topic, 2, false);
  EXPECT_EQ(values(read), (std::vector<std::string>{"small", "small2"}));
}

TEST(KafkaSink, ADeliveryFailureIsOneLineAndCounted) {
  std::string topic = test::unique_topic("sink-undeliverable");
  test::create_topic(topic, 1);
  auto config = sink_config(topic);
  config.properties = {{"message.timeout.ms", "2000"}};
  LogCapture::instance().clear();
  auto sink = make_kafka_sink(config);
  sink->start();
  sink->write(batch_of({{.partition = 0, .value = "fine"}, {.partition = 5, .value = "nowhere"}}));
  EXPECT_EQ(flush(*sink), "kafka_sink 'out': records were not delivered to topic '" + topic + "': unknown partition");
  sink->write(batch_of({{.partition = 0, .value = "fine again"}}));
  EXPECT_EQ(flush(*sink), "");
  stop(*sink);
  EXPECT_EQ(sink->undelivered_bytes(), 7U);
  EXPECT_EQ(sink->undelivered_reason(), "unknown partition");
  EXPECT_EQ(LogCapture::instance().count("kafka_sink 'out': could not deliver a record to " + topic +
                                         "/5: unknown partition (1 so far)"),
            1U);
  EXPECT_EQ(values(test::read_topic(topic, 2, false)), (std::vector<std::string>{"fine", "fine again"}));
}

// The worker reads undelivered_bytes() at its drain deadline, which may come before the stop's callback: what
// librdkafka still holds (here: no broker answers) counts as undelivered then, not only once the stop finished.
TEST(KafkaSink, WhatTheBrokersHaveNotAcknowledgedCountsBeforeTheStopFinished) {
  auto config = sink_config(test::unique_topic("sink-nowhere"));
  config.brokers = "127.0.0.1:9";  // nothing listens there
  auto sink = make_kafka_sink(config);
  sink->start();
  sink->write(batch_of({{.partition = 0, .key = "k", .value = "one"}, {.partition = 0, .value = "three"}}));
  std::this_thread::sleep_for(200ms);
  sink->stop({});  // librdkafka retries for message.timeout.ms: the stop does not finish soon
  EXPECT_EQ(sink->undelivered_bytes(), 9U);
  EXPECT_EQ(sink->undelivered_reason(), "not acknowledged by the brokers");
}

// The sink's two producers take checkpoints in turn (kafka_sink_core.hpp): what is written behind checkpoint 1's cut
// is produced into checkpoint 2's transaction at once, before commit(1), and becomes visible only with commit(2).
TEST(KafkaSinkTransactions, APreparedCheckpointIsVisibleOnlyOnceCommittedAndTheNextOneFlowsMeanwhile) {
  std::string topic = test::unique_topic("txn-commit");
  test::create_topic(topic, 2);
  std::string id = test::unique_topic("txn-id");
  auto sink = make_kafka_sink(sink_config(topic, id));
  ASSERT_TRUE(sink->transactional());
  sink->start();
  auto first = numbered("a", 20, 2);
  auto second = numbered("b", 10, 2);
  sink->write(batch_of(first));
  auto [error, records, location] = prepare(*sink, 1);
  ASSERT_EQ(error, "");
  EXPECT_TRUE(records.empty());  // the checkpoint keeps where they are, not a copy
  EXPECT_EQ(values_at(topic, location), values(first));
  sink->write(batch_of(second));  // belongs to checkpoint 2: produced now, in the second producer's transaction
  EXPECT_TRUE(test::read_topic(topic, 1, true, 1500ms, 0ms).empty());
  // Written, not yet committed, checkpoint 2's included; before them, in each partition, the two empty records of
  // the start's sweep (KafkaTransaction::abort_leftovers, one per transactional id), aborted.
  auto uncommitted = test::read_topic(topic, 34, false, 5000ms, 500ms);
  ASSERT_EQ(uncommitted.size(), 34U);
  for (std::int32_t partition : {0, 1}) {
    std::vector<std::int64_t> swept;
    for (const auto& message : uncommitted) {
      if (message.partition == partition && message.value.empty()) {
        swept.push_back(message.offset);
      }
    }
    EXPECT_EQ(swept, (std::vector<std::int64_t>{0, 2})) << "partition " << partition;  // each sweep, then its abort
  }

  ASSERT_EQ(commit(*sink, 1), "");
  EXPECT_EQ(values(test::read_topic(topic, 30, true, 3000ms, 1000ms)), values(first));  // not checkpoint 2's
  EXPECT_EQ(test::committed_offsets(id + ".commits", topic, 1), (std::map<std::int32_t, std::int64_t>{{0, 1}}));

  auto [error2, records2, location2] = prepare(*sink, 2);
  ASSERT_EQ(error2, "");
  EXPECT_EQ(values_at(topic, location2), values(second));
  ASSERT_EQ(commit(*sink, 2), "");
  auto all = first;
  all.insert(all.end(), second.begin(), second.end());
  EXPECT_EQ(as_written(test::read_topic(topic, 30, true)), by_partition(all));
  // The second producer marks its commits in the same group: the newest marker names checkpoint 2.
  EXPECT_EQ(test::committed_offsets(id + ".commits", topic, 1), (std::map<std::int32_t, std::int64_t>{{0, 2}}));
  EXPECT_EQ(sink->budget().in_flight(), 0U);
  stop(*sink);
  EXPECT_EQ(sink->undelivered_bytes(), 0U);
}

// A checkpoint's transaction keeps its records (in the budget) until its commit; what is written behind the cut is
// handed to librdkafka at once, so the queue's bound (max_queued_records) does not fill while the commit waits.
TEST(KafkaSinkTransactions, OutputBehindACutIsProducedBeforeTheCommitAndHeldInTheBudget) {
  std::string topic = test::unique_topic("txn-queue-bound");
  test::create_topic(topic, 2);
  auto config = sink_config(topic, test::unique_topic("txn-id"));
  config.max_queued_records = 15;
  auto sink = make_kafka_sink(config);
  sink->start();
  auto first = numbered("a", 20, 2);
  auto second = numbered("b", 10, 2);
  auto third = numbered("c", 10, 2);
  sink->write(batch_of(first));
  ASSERT_EQ(prepare(*sink, 1).error, "");
  std::size_t held = sink->budget().in_flight();
  EXPECT_GT(held, 0U);  // checkpoint 1's records, until its commit
  sink->write(batch_of(second));
  sink->write(batch_of(third));
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!sink->has_room() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_TRUE(sink->has_room());  // 20 records written behind the cut, none left queued: produced before commit(1)
  EXPECT_GT(sink->budget().in_flight(), held);

  ASSERT_EQ(commit(*sink, 1), "");
  auto [error, records, location] = prepare(*sink, 2);
  ASSERT_EQ(error, "");
  auto later = second;
  later.insert(later.end(), third.begin(), third.end());
  EXPECT_EQ(values_at(topic, location), values(later));
  ASSERT_EQ(commit(*sink, 2), "");
  EXPECT_EQ(sink->budget().in_flight(), 0U);
  auto all = first;
  all.insert(all.end(), later.begin(), later.end());
  EXPECT_EQ(as_written(test::read_topic(topic, 40, true)), by_partition(all));
  stop(*sink);
  EXPECT_EQ(sink->undelivered_bytes(), 0U);
}

TEST(KafkaSinkTransactions, AnAbortedCheckpointIsNeverVisible) {
  std::string topic = test::unique_topic("txn-abort");
  test::create_topic(topic, 1);
  auto sink = make_kafka_sink(sink_config(topic, test::unique_topic("txn-id")));
  sink->start();
  sink->write(batch_of(numbered("aborted", 5, 1)));
  ASSERT_EQ(prepare(*sink, 1).error, "");
  sink->abort();  // the sink thread drops the held records (and releases their budget) when it runs the abort
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (sink->budget().in_flight() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(sink->budget().in_flight(), 0U);
  sink->write(batch_of(numbered("kept", 3, 1)));
  auto [error, records, location] = prepare(*sink, 2);
  ASSERT_EQ(error, "");
  EXPECT_EQ(values_at(topic, location), values(numbered("kept", 3, 1)));
  ASSERT_EQ(commit(*sink, 2), "");
  EXPECT_EQ(values(test::read_topic(topic, 3, true, 20000ms, 1000ms)), values(numbered("kept", 3, 1)));
  // The aborted ones were written, and the start's two sweeps (one per transactional id).
  EXPECT_EQ(test::read_topic(topic, 10, false).size(), 10U);
  stop(*sink);
}

TEST(KafkaSinkTransactions, AFailedCheckpointIsCommittedWithTheNextOne) {
  std::string topic = test::unique_topic("txn-extend");
  test::create_topic(topic, 1);
  auto sink = make_kafka_sink(sink_config(topic, test::unique_topic("txn-id")));
  sink->start();
  sink->write(batch_of(numbered("a", 4, 1)));
  ASSERT_EQ(prepare(*sink, 1).error, "");
  sink->write(batch_of(numbered("b", 3, 1)));
  auto [error, records, location] = prepare(*sink, 2);  // checkpoint 1 never completed
  ASSERT_EQ(error, "");
  auto all = numbered("a", 4, 1);
  auto more = numbered("b", 3, 1);
  all.insert(all.end(), more.begin(), more.end());
  // Checkpoint 1's records were produced again in checkpoint 2's transaction: its offsets name that copy only.
  EXPECT_EQ(values_at(topic, location), values(all));
  ASSERT_EQ(commit(*sink, 2), "");
  EXPECT_EQ(as_written(test::read_topic(topic, 7, true)), by_partition(all));
  stop(*sink);
}

// A leaving worker's sink (docs/cluster.md, "With checkpoints"): hand_off gives back, in write order, every record
// not committed (a given-up checkpoint's, and what waited behind its cut) and aborts their transaction, so that none
// of them is ever visible from this sink; what was committed stays; the sink goes on with a new transaction.
TEST(KafkaSinkTransactions, HandOffGivesBackWhatIsNotCommittedAndAbortsIt) {
  std::string topic = test::unique_topic("txn-handoff");
  test::create_topic(topic, 1);
  auto sink = make_kafka_sink(sink_config(topic, test::unique_topic("txn-id")));
  sink->start();
  auto committed = numbered("c", 5, 1);
  sink->write(batch_of(committed));
  ASSERT_EQ(prepare(*sink, 1).error, "");
  ASSERT_EQ(commit(*sink, 1), "");
  sink->write(batch_of(numbered("p", 4, 1)));
  ASSERT_EQ(prepare(*sink, 2).error, "");      // checkpoint 2 is given up: no commit comes
  sink->write(batch_of(numbered("q", 3, 1)));  // behind checkpoint 2's cut
  auto [error, records] = hand_off(*sink);
  ASSERT_EQ(error, "");
  std::vector<std::string> handed;
  for (const auto& batch : records) {
    for (std::size_t i = 0; i < batch.records.size(); ++i) {
      handed.emplace_back(batch.value(i));
    }
  }
  auto uncommitted = numbered("p", 4, 1);
  auto queued = numbered("q", 3, 1);
  uncommitted.insert(uncommitted.end(), queued.begin(), queued.end());
  std::vector<std::string> in_write_order;
  for (const auto& message : uncommitted) {
    in_write_order.push_back(message.value);
  }
  EXPECT_EQ(handed, in_write_order);
  EXPECT_EQ(sink->budget().in_flight(), 0U);
  sink->write(batch_of(numbered("after", 2, 1)));  // the sink goes on in a new transaction
  ASSERT_EQ(prepare(*sink, 3).error, "");
  ASSERT_EQ(commit(*sink, 3), "");
  auto visible = committed;
  auto after = numbered("after", 2, 1);
  visible.insert(visible.end(), after.begin(), after.end());
  EXPECT_EQ(as_written(test::read_topic(topic, 7, true, 20000ms, 1000ms)), by_partition(visible));
  stop(*sink);
  EXPECT_EQ(sink->undelivered_bytes(), 0U);
}

// The checkpoint keeps only where checkpoint 4's records landed; the restart reads them back from the topic (the
// crashed transaction's records stay in the log, aborted) and commits them once, with their keys, headers and times.
TEST(KafkaSinkTransactions, RecoverCommitsACheckpointThatDidNotCommitAndNeverTwice) {
  std::string topic = test::unique_topic("txn-recover");
  test::create_topic(topic, 2);
  std::string id = test::unique_topic("txn-id");
  auto messages = numbered("r", 6, 2);
  for (std::size_t i = 0; i < messages.size(); ++i) {
    messages[i].headers = {{"n", std::to_string(i)}, {"empty", ""}};
  }
  std::string location = prepared_then_gone(topic, id, messages, 4);
  ASSERT_NE(location, "");
  EXPECT_TRUE(test::read_topic(topic, 1, true, 1500ms, 0ms).empty());

  LogCapture::instance().clear();
  auto restarted = make_kafka_sink(sink_config(topic, id));
  restarted->start();
  ASSERT_EQ(recover(*restarted, 4, {}, location), "");
  EXPECT_EQ(as_written(test::read_topic(topic, 6, true)), by_partition(messages));
  EXPECT_EQ(LogCapture::instance().count("kafka_sink 'out': committed checkpoint 4 again after the restart (6 records "
                                         "read back from the topic)"),
            1U);
  stop(*restarted);

  auto again = make_kafka_sink(sink_config(topic, id));
  again->start();
  ASSERT_EQ(recover(*again, 4, {}, location), "");  // the marker says 4 committed: nothing is written twice
  again->write(batch_of(numbered("after", 1, 1)));
  ASSERT_EQ(prepare(*again, 5).error, "");
  ASSERT_EQ(commit(*again, 5), "");
  auto expected = messages;
  expected.push_back(numbered("after", 1, 1)[0]);
  EXPECT_EQ(as_written(test::read_topic(topic, 7, true, 20000ms, 1000ms)), by_partition(expected));
  stop(*again);
}

// A checkpoint written by a Roo that kept the records themselves (and any whose delivery reports did not account for
// every record) is recovered from those records.
TEST(KafkaSinkTransactions, RecoverCommitsRecordsTheCheckpointKept) {
  std::string topic = test::unique_topic("txn-recover-kept");
  test::create_topic(topic, 1);
  std::string id = test::unique_topic("txn-id");
  auto messages = numbered("kept", 4, 1);
  auto restarted = make_kafka_sink(sink_config(topic, id));
  restarted->start();
  std::vector<RecordBatch> records;
  records.push_back(batch_of(messages));
  ASSERT_EQ(recover(*restarted, 2, records), "");
  EXPECT_EQ(as_written(test::read_topic(topic, 4, true, 20000ms, 1000ms)), by_partition(messages));
  stop(*restarted);
}

// Several workers' sinks write one partition: a transaction's records are runs of offsets with others' records
// between them, and the recovery takes its own only.
TEST(KafkaSinkTransactions, ARecoveryReadsBackItsOwnRecordsAmongOthersInThePartition) {
  std::string topic = test::unique_topic("txn-recover-shared");
  test::create_topic(topic, 1);
  std::string id = test::unique_topic("txn-id");
  auto mine = numbered("mine", 6, 1);
  auto others = numbered("other", 4, 1);
  std::string location;
  {
    auto crashed = make_kafka_sink(sink_config(topic, id));
    crashed->start();
    crashed->write(batch_of({mine.begin(), mine.begin() + 3}));
    ASSERT_EQ(flush(*crashed), "");
    test::produce(topic, {others.begin(), others.begin() + 2});
    crashed->write(batch_of({mine.begin() + 3, mine.end()}));
    ASSERT_EQ(flush(*crashed), "");
    test::produce(topic, {others.begin() + 2, others.end()});
    auto prepared = prepare(*crashed, 1);
    ASSERT_EQ(prepared.error, "");
    auto offsets = KafkaWrittenOffsets::decode(prepared.location);
    ASSERT_EQ(offsets.runs().at(0).size(), 2U);  // the others' first two records lie between
    location = prepared.location;
  }
  auto restarted = make_kafka_sink(sink_config(topic, id));
  restarted->start();
  ASSERT_EQ(recover(*restarted, 1, {}, location), "");
  auto visible = others;
  visible.insert(visible.end(), mine.begin(), mine.end());
  EXPECT_EQ(as_written(test::read_topic(topic, 10, true, 20000ms, 1000ms)), by_partition(visible));
  stop(*restarted);
}

// The log no longer holds the records (retention deleted them before the restart): the recovery fails with one line
// saying so, and commits nothing.
TEST(KafkaSinkTransactions, ARecoveryWhoseRecordsAreGoneSaysSoAndCommitsNothing) {
  std::string topic = test::unique_topic("txn-recover-gone");
  test::create_topic(topic, 1);
  std::string id = test::unique_topic("txn-id");
  std::string location = prepared_then_gone(topic, id, numbered("gone", 5, 1), 3);
  ASSERT_NE(location, "");
  auto runs = KafkaWrittenOffsets::decode(location).runs().at(0);
  ASSERT_EQ(runs.size(), 1U);
  test::delete_records(topic, 0, runs[0].first + 2);  // the first two of the five
  auto restarted = make_kafka_sink(sink_config(topic, id));
  restarted->start();
  std::string error = recover(*restarted, 3, {}, location);
  EXPECT_TRUE(
      error.starts_with("kafka_sink 'out': cannot commit checkpoint 3 after the restart: cannot read back the "
                        "5 records of topic '" +
                        topic + "' its transaction wrote: "))
      << error;
  EXPECT_EQ(error.find('\n'), std::string::npos);
  EXPECT_TRUE(test::read_topic(topic, 1, true, 1500ms, 0ms).empty());
  stop(*restarted);
}

// The sink now writes another topic than the one the checkpoint's records went to: the offsets name nothing of it.
TEST(KafkaSinkTransactions, ARecoveryIntoAnotherTopicSaysSoAndCommitsNothing) {
  std::string topic = test::unique_topic("txn-recover-was");
  std::string other = test::unique_topic("txn-recover-now");
  test::create_topic(topic, 1);
  test::create_topic(other, 1);
  std::string id = test::unique_topic("txn-id");
  std::string location = prepared_then_gone(topic, id, numbered("was", 3, 1), 2);
  ASSERT_NE(location, "");
  auto restarted = make_kafka_sink(sink_config(other, id));
  restarted->start();
  EXPECT_EQ(recover(*restarted, 2, {}, location),
            "kafka_sink 'out': cannot commit checkpoint 2 after the restart: its records went to topic '" + topic +
                "', and this sink writes topic '" + other + "'");
  EXPECT_TRUE(test::read_topic(other, 1, true, 1500ms, 0ms).empty());
  stop(*restarted);
}

TEST(KafkaSinkTransactions, ARestartedSinkCommitsTheZombiesPreparedCheckpointOnceAndTheZombieCannot) {
  std::string topic = test::unique_topic("txn-zombie");
  test::create_topic(topic, 2);
  std::string id = test::unique_topic("txn-id");
  auto messages = numbered("z", 10, 2);
  auto zombie = make_kafka_sink(sink_config(topic, id));  // a worker that hangs between prepare(3) and commit(3)
  zombie->start();
  zombie->write(batch_of(messages));
  auto [error, records, location] = prepare(*zombie, 3);
  ASSERT_EQ(error, "");

  auto restarted = make_kafka_sink(sink_config(topic, id));
  restarted->start();
  // Fences the zombie, aborts its open transaction, reads its records back and commits them as checkpoint 3.
  ASSERT_EQ(recover(*restarted, 3, records, location), "");
  EXPECT_NE(commit(*zombie, 3), "");
  EXPECT_TRUE(zombie->failed());
  EXPECT_EQ(as_written(test::read_topic(topic, 10, true, 20000ms, 1000ms)), by_partition(messages));
  EXPECT_EQ(test::committed_offsets(id + ".commits", topic, 1), (std::map<std::int32_t, std::int64_t>{{0, 3}}));
  stop(*zombie);
  stop(*restarted);
}

TEST(KafkaSinkTransactions, ASecondInstanceFencesTheFirst) {
  std::string topic = test::unique_topic("txn-fence");
  test::create_topic(topic, 1);
  std::string id = test::unique_topic("txn-id");
  LogCapture::instance().clear();
  auto zombie = make_kafka_sink(sink_config(topic, id));
  zombie->start();
  zombie->write(batch_of(numbered("zombie", 3, 1)));
  ASSERT_EQ(prepare(*zombie, 1).error, "");

  auto successor = make_kafka_sink(sink_config(topic, id));
  successor->start();
  ASSERT_EQ(recover(*successor, 0, {}), "");  // waits for its init_transactions, which fences the zombie

  std::string line = "kafka_sink 'out': fenced by a newer instance with transactional.id '" + id + "' (topic '" +
                     topic + "'); the sink stops writing";
  EXPECT_EQ(commit(*zombie, 1), line);
  EXPECT_TRUE(zombie->failed());
  EXPECT_EQ(LogCapture::instance().count(line), 1U);
  zombie->write(batch_of(numbered("late", 1, 1)));
  EXPECT_EQ(zombie->undelivered_reason(), "fenced by a newer instance with transactional.id '" + id + "'");

  successor->write(batch_of(numbered("successor", 2, 1)));
  ASSERT_EQ(prepare(*successor, 1).error, "");
  ASSERT_EQ(commit(*successor, 1), "");
  EXPECT_EQ(values(test::read_topic(topic, 2, true, 20000ms, 1000ms)), values(numbered("successor", 2, 1)));
  stop(*zombie);
  stop(*successor);
  EXPECT_FALSE(successor->failed());
}

// The zombie's checkpoint 2 is held by its second producer (checkpoint 1 went through the first): the successor's
// start fences both transactional ids, so that neither can commit, and recover(2) commits checkpoint 2 once.
TEST(KafkaSinkTransactions, ASecondInstanceFencesBothProducersOfTheFirst) {
  std::string topic = test::unique_topic("txn-fence-both");
  test::create_topic(topic, 1);
  std::string id = test::unique_topic("txn-id");
  auto zombie = make_kafka_sink(sink_config(topic, id));
  zombie->start();
  auto first = numbered("one", 3, 1);
  zombie->write(batch_of(first));
  ASSERT_EQ(prepare(*zombie, 1).error, "");
  ASSERT_EQ(commit(*zombie, 1), "");
  auto second = numbered("two", 4, 1);
  zombie->write(batch_of(second));
  auto [error, records, location] = prepare(*zombie, 2);
  ASSERT_EQ(error, "");
  zombie->write(batch_of(numbered("three", 2, 1)));  // checkpoint 3's, in the first producer's new transaction

  auto successor = make_kafka_sink(sink_config(topic, id));
  successor->start();
  ASSERT_EQ(recover(*successor, 2, records, location), "");
  EXPECT_NE(commit(*zombie, 2), "");
  EXPECT_TRUE(zombie->failed());
  auto visible = first;
  visible.insert(visible.end(), second.begin(), second.end());
  EXPECT_EQ(as_written(test::read_topic(topic, 7, true, 20000ms, 1000ms)), by_partition(visible));
  EXPECT_EQ(test::committed_offsets(id + ".commits", topic, 1), (std::map<std::int32_t, std::int64_t>{{0, 2}}));
  stop(*zombie);
  stop(*successor);
}

/// A probe, not a test: how fast the sink delivers 100-byte records (written in batches of 1000, flushed at the end).
TEST(KafkaSink, DISABLED_Throughput) {
  std::string topic = test::unique_topic("sink-throughput");
  test::create_topic(topic, 2);
  constexpr int count = 1000000;
  std::vector<KafkaMessage> messages;
  for (int i = 0; i < 1000; ++i) {
    messages.push_back(KafkaMessage{.partition = i % 2, .value = std::string(100, 'a' + i % 26)});
  }
  auto sink = make_kafka_sink(sink_config(topic));
  sink->start();
  auto began = std::chrono::steady_clock::now();
  for (int i = 0; i < count; i += 1000) {
    while (!sink->budget().wait_below_limit(100ms)) {
    }
    sink->write(batch_of(messages));
  }
  EXPECT_EQ(flush(*sink), "");
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  std::cout << count << " records in " << seconds << " s: " << count / seconds << " records/s\n";
  stop(*sink);
}

}  // namespace
}  // namespace roo::io
