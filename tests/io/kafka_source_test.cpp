#include "roo/io/kafka_source.hpp"

#include "io_test_support.hpp"
#include "kafka_test_support.hpp"

#include "roo/core/error.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <iostream>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace roo::io {
namespace {

using namespace std::chrono_literals;
using test::KafkaMessage;
using test::LogCapture;

/// What the source handed over for one frame.
struct Read {
  std::uint32_t topic = 0;
  KafkaMessage message;
  bool operator<(const Read& other) const {
    return std::tie(topic, message.partition, message.offset) <
           std::tie(other.topic, other.message.partition, other.message.offset);
  }
};

KafkaSourceConfig config_for(std::vector<std::string> topics, std::string group = "") {
  if (group.empty()) {
    group = test::unique_topic("group");
  }
  return KafkaSourceConfig{.name = "in",
                           .source_index = 7,
                           .generation = 3,
                           .topics = std::move(topics),
                           .brokers = test::kafka_bootstrap(),
                           .group_id = std::move(group),
                           .properties = {},
                           .broker_wait = 20000ms};
}

/// A mailbox, a pool and a started Kafka source; take() pops what it handed over.
struct SourceFixture {
  explicit SourceFixture(KafkaSourceConfig config, std::size_t mailbox_capacity = 64, const SourcePosition& seek = {})
      : mailbox(mailbox_capacity) {
    source = make_kafka_source(std::move(config), mailbox, pool);
    source->seek(seek);
    source->start();
  }
  ~SourceFixture() { stop(); }

  /// Pops batches until `count` frames arrived or `timeout` passed (sleeping `per_batch` after each batch).
  std::vector<Read> take(std::size_t count, std::chrono::milliseconds timeout = 20000ms,
                         std::chrono::milliseconds per_batch = 0ms) {
    std::vector<Read> frames;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (frames.size() < count && std::chrono::steady_clock::now() < deadline) {
      auto batch = mailbox.pop_for(10ms);
      if (!batch) {
        continue;
      }
      EXPECT_EQ(batch->source, 7U);
      EXPECT_EQ(batch->generation, 3U);
      EXPECT_EQ(batch->meta.size(), batch->size());
      for (std::size_t i = 0; i < batch->size(); ++i) {
        const auto& meta = batch->meta[i];
        Read read{.topic = meta.topic,
                  .message = KafkaMessage{.partition = meta.partition,
                                          .offset = meta.offset,
                                          .value = std::string(batch->frame(i)),
                                          .time_ms = meta.time_ms}};
        if (meta.has_key) {
          read.message.key = std::string(batch->key(i));
        }
        frames.push_back(std::move(read));
      }
      pool.release(std::move(*batch));
      if (per_batch.count() > 0) {
        std::this_thread::sleep_for(per_batch);
      }
    }
    return frames;
  }

  /// What the source handed over, in order: a frame, or (frame empty) a partition reported quiet.
  struct Handed {
    std::optional<Read> frame;
    std::pair<std::uint32_t, std::int32_t> quiet;
  };
  /// Pops batches (sleeping `per_batch` after each) until `frames` frames came and every pair of `ends` was reported
  /// quiet, or `timeout` passed.
  std::vector<Handed> take_until_quiet(const std::set<std::pair<std::uint32_t, std::int32_t>>& ends, std::size_t frames,
                                       std::chrono::milliseconds timeout = 30000ms,
                                       std::chrono::milliseconds per_batch = 0ms) {
    std::vector<Handed> handed;
    std::set<std::pair<std::uint32_t, std::int32_t>> seen;
    std::size_t frames_seen = 0;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while ((frames_seen < frames || seen != ends) && std::chrono::steady_clock::now() < deadline) {
      auto batch = mailbox.pop_for(10ms);
      if (!batch) {
        continue;
      }
      EXPECT_EQ(batch->source, 7U);
      EXPECT_EQ(batch->generation, 3U);
      for (std::size_t i = 0; i < batch->size(); ++i) {
        const auto& meta = batch->meta[i];
        handed.push_back(Handed{.frame = Read{.topic = meta.topic,
                                              .message = KafkaMessage{.partition = meta.partition,
                                                                      .offset = meta.offset,
                                                                      .value = std::string(batch->frame(i)),
                                                                      .time_ms = meta.time_ms}},
                                .quiet = {}});
        ++frames_seen;
      }
      for (const auto& pair : batch->news.quiet) {
        handed.push_back(Handed{.frame = std::nullopt, .quiet = pair});
        if (ends.count(pair) != 0) {
          seen.insert(pair);
        }
      }
      pool.release(std::move(*batch));
      if (per_batch.count() > 0) {
        std::this_thread::sleep_for(per_batch);
      }
    }
    return handed;
  }

  void stop() {
    if (!source) {
      return;
    }
    std::promise<void> stopped;
    source->stop([&] { stopped.set_value(); });
    // Drain while it hands over its last batch, and that batch after it.
    auto drain = [&] {
      while (auto batch = mailbox.try_pop()) {
        leftover += batch->size();
        for (const auto& meta : batch->meta) {
          ++leftover_by_partition[meta.partition];
        }
        pool.release(std::move(*batch));
      }
    };
    auto done = stopped.get_future();
    while (done.wait_for(10ms) != std::future_status::ready) {
      drain();
    }
    drain();
    source.reset();
  }

  core::BoundedMailbox<core::FrameBatch> mailbox;
  core::BatchPool pool;
  std::unique_ptr<Source> source;
  std::size_t leftover = 0;
  std::map<std::int32_t, std::size_t> leftover_by_partition;  ///< of leftover
};

std::vector<KafkaMessage> keyed_messages(int partitions, int count, std::int64_t base_time) {
  std::vector<KafkaMessage> messages;
  for (int i = 0; i < count; ++i) {
    KafkaMessage message{.partition = i % partitions, .value = "value-" + std::to_string(i), .time_ms = base_time + i};
    if (i % 3 == 0) {
      message.key = "key-" + std::to_string(i % 10);
    } else if (i % 3 == 1) {
      message.key = "";  // an empty key differs from none
    }
    messages.push_back(std::move(message));
  }
  return messages;
}

/// The messages as a reader sees them: offsets numbered per partition in produce order.
std::vector<Read> expected_reads(const std::vector<KafkaMessage>& messages, std::uint32_t topic = 0) {
  std::map<std::int32_t, std::int64_t> next;
  std::vector<Read> reads;
  for (const auto& message : messages) {
    Read read{.topic = topic, .message = message};
    read.message.offset = next[message.partition]++;
    reads.push_back(read);
  }
  std::sort(reads.begin(), reads.end());
  return reads;
}

void expect_same(std::vector<Read> actual, const std::vector<Read>& expected) {
  std::sort(actual.begin(), actual.end());
  ASSERT_EQ(actual.size(), expected.size());
  for (std::size_t i = 0; i < actual.size(); ++i) {
    EXPECT_EQ(actual[i].topic, expected[i].topic) << i;
    EXPECT_EQ(actual[i].message, expected[i].message) << i << ": " << actual[i].message.value;
  }
}

/// Frames arrive in offset order within each partition.
void expect_partition_order(const std::vector<Read>& reads) {
  std::map<std::pair<std::uint32_t, std::int32_t>, std::int64_t> last;
  for (const auto& read : reads) {
    auto key = std::make_pair(read.topic, read.message.partition);
    auto at = last.find(key);
    if (at != last.end()) {
      EXPECT_LT(at->second, read.message.offset);
    }
    last[key] = read.message.offset;
  }
}

TEST(KafkaSource, ReadsEveryMessageWithItsPartitionOffsetKeyAndTimestamp) {
  std::string topic = test::unique_topic("source-meta");
  test::create_topic(topic, 3);
  auto messages = keyed_messages(3, 300, test::recent_time_ms());
  test::produce(topic, messages);

  SourceFixture fixture(config_for({topic}));
  auto reads = fixture.take(300);
  expect_partition_order(reads);
  expect_same(reads, expected_reads(messages));
  EXPECT_TRUE(fixture.take(1, 500ms).empty());
}

TEST(KafkaSource, ReadsSeveralTopicsAndNamesEachMessagesTopic) {
  std::string first = test::unique_topic("source-first");
  std::string second = test::unique_topic("source-second");
  test::create_topic(first, 2);
  test::create_topic(second, 1);
  auto first_messages = keyed_messages(2, 40, 1000);
  auto second_messages = keyed_messages(1, 30, 5000);
  test::produce(first, first_messages);
  test::produce(second, second_messages);

  SourceFixture fixture(config_for({first, second}));
  auto expected = expected_reads(first_messages, 0);
  auto more = expected_reads(second_messages, 1);
  expected.insert(expected.end(), more.begin(), more.end());
  std::sort(expected.begin(), expected.end());
  expect_same(fixture.take(70), expected);
}

TEST(KafkaSource, SeekAndCommitNameEachTopicByItsIndex) {
  std::string first = test::unique_topic("source-seek-first");
  std::string second = test::unique_topic("source-seek-second");
  test::create_topic(first, 1);
  test::create_topic(second, 1);
  test::produce(first, keyed_messages(1, 10, 1000));
  test::produce(second, keyed_messages(1, 10, 2000));
  std::string group = test::unique_topic("group");
  SourceFixture fixture(config_for({first, second}, group), 64, {{PartitionId{1, 0}, 8}});
  auto reads = fixture.take(12);
  ASSERT_EQ(reads.size(), 12U);
  std::sort(reads.begin(), reads.end());
  EXPECT_EQ(reads[10].topic, 1U);
  EXPECT_EQ(reads[10].message.offset, 8);
  EXPECT_EQ(reads[11].message.offset, 9);
  fixture.source->commit({{PartitionId{0, 0}, 10}, {PartitionId{1, 0}, 9}});
  fixture.stop();
  EXPECT_EQ(test::committed_offsets(group, first, 1), (std::map<std::int32_t, std::int64_t>{{0, 10}}));
  EXPECT_EQ(test::committed_offsets(group, second, 1), (std::map<std::int32_t, std::int64_t>{{0, 9}}));
}

TEST(KafkaSource, WorkersSplitThePartitionsByPartitionModuloWorkerCount) {
  std::string topic = test::unique_topic("source-split");
  test::create_topic(topic, 5);
  auto messages = keyed_messages(5, 500, 1000);
  test::produce(topic, messages);
  std::string group = test::unique_topic("group");

  std::vector<Read> all;
  for (std::size_t worker = 0; worker < 3; ++worker) {
    auto config = config_for({topic}, group);
    config.worker_index = worker;
    config.worker_count = 3;
    SourceFixture fixture(config);
    std::size_t expected_count = 0;
    for (const auto& message : messages) {
      expected_count += static_cast<std::size_t>(message.partition) % 3 == worker ? 1 : 0;
    }
    auto reads = fixture.take(expected_count);
    EXPECT_TRUE(fixture.take(1, 500ms).empty()) << "worker " << worker << " read more than its partitions";
    for (const auto& read : reads) {
      EXPECT_EQ(static_cast<std::size_t>(read.message.partition) % 3, worker);
    }
    all.insert(all.end(), reads.begin(), reads.end());
  }
  expect_same(all, expected_reads(messages));
}

TEST(KafkaSource, SeekResumesAtTheGivenOffsets) {
  std::string topic = test::unique_topic("source-seek");
  test::create_topic(topic, 2);
  auto messages = keyed_messages(2, 100, 1000);
  test::produce(topic, messages);

  SourcePosition position{{PartitionId{0, 0}, 10}, {PartitionId{0, 1}, 49}};
  SourceFixture fixture(config_for({topic}), 64, position);
  std::vector<Read> expected;
  for (const auto& read : expected_reads(messages)) {
    if (read.message.offset >= (read.message.partition == 0 ? 10 : 49)) {
      expected.push_back(read);
    }
  }
  ASSERT_EQ(expected.size(), 41U);
  EXPECT_EQ(fixture.source->starts(), position);  // where a rescale hands a partition on when nothing was processed
  expect_same(fixture.take(41), expected);
  EXPECT_TRUE(fixture.take(1, 500ms).empty());
}

TEST(KafkaSource, CommitStoresOffsetsInTheGroupAndANewSourceStartsThere) {
  std::string topic = test::unique_topic("source-commit");
  test::create_topic(topic, 2);
  auto messages = keyed_messages(2, 20, 1000);
  test::produce(topic, messages);
  std::string group = test::unique_topic("group");
  {
    SourceFixture fixture(config_for({topic}, group));
    ASSERT_EQ(fixture.take(20).size(), 20U);
    fixture.source->commit({{PartitionId{0, 0}, 4}, {PartitionId{0, 1}, 7}});
    fixture.stop();
  }
  EXPECT_EQ(test::committed_offsets(group, topic, 2), (std::map<std::int32_t, std::int64_t>{{0, 4}, {1, 7}}));

  SourceFixture again(config_for({topic}, group));
  EXPECT_EQ(again.source->starts(), (SourcePosition{{PartitionId{0, 0}, 4}, {PartitionId{0, 1}, 7}}));
  std::vector<Read> expected;
  for (const auto& read : expected_reads(messages)) {
    if (read.message.offset >= (read.message.partition == 0 ? 4 : 7)) {
      expected.push_back(read);
    }
  }
  expect_same(again.take(expected.size()), expected);
}

TEST(KafkaSource, StartsAtTheEndWithLatestAndNoCommittedOffset) {
  std::string topic = test::unique_topic("source-latest");
  test::create_topic(topic, 1);
  test::produce(topic, keyed_messages(1, 10, 1000));
  auto config = config_for({topic});
  config.start = KafkaSourceConfig::Start::latest;
  SourceFixture fixture(config);
  // "latest" is resolved to the end's offset at the assignment: a rescale can hand the partition on from there.
  EXPECT_EQ(fixture.source->starts(), (SourcePosition{{PartitionId{0, 0}, 10}}));
  std::vector<KafkaMessage> later{{.partition = 0, .value = "later", .time_ms = 5}};
  test::produce(topic, later);
  auto reads = fixture.take(1);
  ASSERT_EQ(reads.size(), 1U);
  EXPECT_EQ(reads[0].message.value, "later");
  EXPECT_EQ(reads[0].message.offset, 10);
}

TEST(KafkaSource, AFullMailboxPausesThePartitionsAndNothingIsLost) {
  std::string topic = test::unique_topic("source-backpressure");
  test::create_topic(topic, 3);
  auto messages = keyed_messages(3, 3000, 1000);
  test::produce(topic, messages);

  core::module_logger("io")->set_level(spdlog::level::debug);
  LogCapture::instance().clear();
  auto config = config_for({topic});
  config.batch_bytes = 200;
  SourceFixture fixture(config, /*mailbox_capacity=*/1);
  // Nothing takes from the mailbox yet: it fills, stays full, and the source pauses (however long its start takes).
  ASSERT_TRUE(
      LogCapture::instance().wait_for("kafka_source 'in': the executor's mailbox is full; pausing 3 partitions"));
  auto reads = fixture.take(3000, 60000ms, 1ms);
  fixture.stop();
  core::module_logger("io")->set_level(spdlog::level::info);
  expect_partition_order(reads);
  expect_same(reads, expected_reads(messages));
  auto pauses = LogCapture::instance().count("kafka_source 'in': the executor's mailbox is full; pausing 3 partitions");
  EXPECT_GE(pauses, 1U);
  EXPECT_EQ(LogCapture::instance().count("kafka_source 'in': resuming 3 partitions"), pauses);
}

using Ends = std::pair<std::uint32_t, std::int32_t>;  ///< (topic index, partition), as in FrameBatch::news.quiet

/// For each partition: how many of its frames came before each time it was reported quiet.
std::map<std::pair<std::uint32_t, std::int32_t>, std::vector<std::size_t>> frames_before_quiet(
    const std::vector<SourceFixture::Handed>& handed) {
  std::map<std::pair<std::uint32_t, std::int32_t>, std::size_t> frames;
  std::map<std::pair<std::uint32_t, std::int32_t>, std::vector<std::size_t>> reports;
  for (const auto& entry : handed) {
    if (entry.frame) {
      ++frames[{entry.frame->topic, entry.frame->message.partition}];
    } else {
      reports[entry.quiet].push_back(frames[entry.quiet]);
    }
  }
  return reports;
}

// A partition is reported quiet (topic index, partition) once read to its end, after its last frame; an empty
// partition and a partition with no new message are reported without any message; new messages are followed by a
// new report after them.
TEST(KafkaSource, ReportsEachPartitionQuietOnceReadToItsEnd) {
  std::string first = test::unique_topic("source-end-first");
  std::string second = test::unique_topic("source-end-second");
  test::create_topic(first, 2);
  test::create_topic(second, 1);
  std::vector<KafkaMessage> messages;
  for (int i = 0; i < 50; ++i) {
    messages.push_back(KafkaMessage{.partition = 0, .value = "m" + std::to_string(i)});
  }
  test::produce(first, messages);  // partition 1 of the first topic and the second topic stay empty

  SourceFixture fixture(config_for({first, second}));
  std::set<std::pair<std::uint32_t, std::int32_t>> all = {{0, 0}, {0, 1}, {1, 0}};
  auto handed = fixture.take_until_quiet(all, 50);
  auto reports = frames_before_quiet(handed);
  ASSERT_EQ(reports.size(), 3U);
  ASSERT_FALSE(reports[Ends(0, 0)].empty());
  EXPECT_EQ(reports[Ends(0, 0)].front(), 50U);  // never before its last message
  EXPECT_EQ(reports[Ends(0, 1)].front(), 0U);
  EXPECT_EQ(reports[Ends(1, 0)].front(), 0U);

  // Quiet, then ten more messages: reported again after the tenth, and not between.
  std::vector<KafkaMessage> more;
  for (int i = 0; i < 10; ++i) {
    more.push_back(KafkaMessage{.partition = 0, .value = "n" + std::to_string(i)});
  }
  test::produce(first, more);
  handed = fixture.take_until_quiet({{0, 0}}, 10);
  reports = frames_before_quiet(handed);
  EXPECT_EQ(reports[Ends(0, 0)], (std::vector<std::size_t>{10}));
  std::size_t frames = 0;
  for (const auto& entry : handed) {
    frames += entry.frame ? 1 : 0;
  }
  EXPECT_EQ(frames, 10U);
  EXPECT_EQ(reports.count(Ends(0, 1)), 0U);  // no new message there: its end was said once
}

// A partition read with a backlog behind a full mailbox (paused, resumed) is not reported quiet before its
// last message, and is reported once read to its end, although the pause dropped what librdkafka had queued.
TEST(KafkaSource, APartitionWithABacklogIsQuietOnlyAtItsEndEvenAfterPauses) {
  std::string topic = test::unique_topic("source-end-backlog");
  test::create_topic(topic, 2);
  std::vector<KafkaMessage> messages;
  for (int i = 0; i < 3000; ++i) {
    messages.push_back(KafkaMessage{.partition = i % 2, .value = "value-" + std::to_string(i)});
  }
  test::produce(topic, messages);

  core::module_logger("io")->set_level(spdlog::level::debug);
  LogCapture::instance().clear();
  auto config = config_for({topic});
  config.batch_bytes = 200;
  SourceFixture fixture(config, /*mailbox_capacity=*/1);
  ASSERT_TRUE(
      LogCapture::instance().wait_for("kafka_source 'in': the executor's mailbox is full; pausing 2 partitions"));
  auto handed = fixture.take_until_quiet({{0, 0}, {0, 1}}, 3000, 60000ms, 1ms);
  core::module_logger("io")->set_level(spdlog::level::info);
  auto reports = frames_before_quiet(handed);
  ASSERT_EQ(reports.size(), 2U);
  for (std::int32_t partition = 0; partition < 2; ++partition) {
    const auto& at = reports[Ends(0, partition)];
    ASSERT_FALSE(at.empty()) << partition;
    for (std::size_t frames : at) {
      EXPECT_EQ(frames, 1500U) << partition;
    }
  }
  std::vector<Read> reads;
  for (const auto& entry : handed) {
    if (entry.frame) {
      reads.push_back(*entry.frame);
    }
  }
  expect_partition_order(reads);
  EXPECT_EQ(reads.size(), 3000U);
}

// A quiet partition at its end while another has a backlog behind a slow reader: the pauses drop what librdkafka
// queued, its end-of-partition signal included, and it is still reported (librdkafka signals the end again after a
// resume; seen here: reported once per resume), never before its last message.
TEST(KafkaSource, AQuietPartitionIsQuietThoughPausesDropWhatLibrdkafkaQueued) {
  std::string topic = test::unique_topic("source-end-quiet");
  test::create_topic(topic, 2);
  std::vector<KafkaMessage> messages;
  for (int i = 0; i < 300; ++i) {
    messages.push_back(KafkaMessage{.partition = 0, .value = "busy-" + std::to_string(i)});
  }
  for (int i = 0; i < 5; ++i) {
    messages.push_back(KafkaMessage{.partition = 1, .value = "quiet-" + std::to_string(i)});
  }
  test::produce(topic, messages);

  auto config = config_for({topic});
  config.batch_bytes = 200;
  SourceFixture fixture(config, /*mailbox_capacity=*/1);
  // 150 ms per batch: the source waits for room most of the time, pausing after 100 ms.
  auto handed = fixture.take_until_quiet({{0, 0}, {0, 1}}, 305, 60000ms, 150ms);
  auto reports = frames_before_quiet(handed);
  ASSERT_EQ(reports[Ends(0, 0)].size(), 1U);
  EXPECT_EQ(reports[Ends(0, 0)].front(), 300U);
  ASSERT_FALSE(reports[Ends(0, 1)].empty());
  for (std::size_t frames : reports[Ends(0, 1)]) {
    EXPECT_EQ(frames, 5U);
  }
}

// A partition is reported quiet only once it sat at its end for quiet_after (the source's idleness) with nothing new,
// by the source's own clock: an empty one after that long, a written one not while messages keep coming (slower than
// its end is reached, faster than quiet_after), and once after the last. The executor takes the report as idle at
// once, so its own clock never decides (docs/notes.md, session 25).
TEST(KafkaSource, ReportsAPartitionQuietOnlyAfterItSatAtItsEndForQuietAfter) {
  using Clock = std::chrono::steady_clock;
  std::string topic = test::unique_topic("source-quiet-after");
  test::create_topic(topic, 2);  // partition 1 stays empty
  auto config = config_for({topic});
  config.quiet_after = 2500ms;
  auto started = Clock::now();
  SourceFixture fixture(config);
  constexpr int messages = 8;
  std::thread producer([&] {
    for (int i = 0; i < messages; ++i) {
      test::produce(topic, {KafkaMessage{.partition = 0, .value = "v" + std::to_string(i)}});
      std::this_thread::sleep_for(300ms);
    }
  });
  std::vector<std::pair<Clock::time_point, SourceFixture::Handed>> handed;
  std::size_t frames = 0;
  bool p0_quiet = false;
  auto deadline = Clock::now() + 30s;
  while ((frames < messages || !p0_quiet) && Clock::now() < deadline) {
    auto batch = fixture.mailbox.pop_for(10ms);
    if (!batch) {
      continue;
    }
    for (std::size_t i = 0; i < batch->size(); ++i, ++frames) {
      Read read{.topic = 0, .message = KafkaMessage{.partition = batch->meta[i].partition, .value = {}}};
      handed.emplace_back(Clock::now(), SourceFixture::Handed{.frame = read, .quiet = {}});
    }
    for (const auto& pair : batch->news.quiet) {
      handed.emplace_back(Clock::now(), SourceFixture::Handed{.frame = std::nullopt, .quiet = pair});
      p0_quiet = p0_quiet || pair == Ends(0, 0);
    }
    fixture.pool.release(std::move(*batch));
  }
  producer.join();
  std::vector<Clock::time_point> p1_reports;
  std::vector<Clock::time_point> p0_reports;
  // Each report of partition 0 comes quiet_after after its latest frame at least (a produce slower than that, on a
  // loaded host, may make one between messages: allowed), and the last comes after its last frame.
  std::optional<Clock::time_point> last_frame;
  std::size_t frames_seen = 0;
  std::size_t frames_before_last_p0_report = 0;
  for (const auto& [at, entry] : handed) {
    if (entry.frame) {
      last_frame = at;
      ++frames_seen;
    } else if (entry.quiet == Ends(0, 1)) {
      p1_reports.push_back(at);
    } else if (entry.quiet == Ends(0, 0)) {
      p0_reports.push_back(at);
      frames_before_last_p0_report = frames_seen;
      ASSERT_TRUE(last_frame.has_value());
      EXPECT_GE(at - *last_frame, 2400ms);  // its end came after its latest message was handed over
    }
  }
  ASSERT_EQ(p1_reports.size(), 1U);
  EXPECT_GE(p1_reports[0] - started, 2500ms);
  ASSERT_FALSE(p0_reports.empty());
  EXPECT_LT(p0_reports.size(), static_cast<std::size_t>(messages));  // not between most messages 300 ms apart
  EXPECT_EQ(frames_before_last_p0_report, static_cast<std::size_t>(messages));
}

// A quiet partition beside a backlog read behind a full mailbox (the source waiting for room and pausing, again and
// again): it is reported quiet quiet_after after its end while the backlog still flows, not held back until the
// backlog is read (the windows would stall meanwhile, or for ever under steady overload). Its end must come before
// the backlog: librdkafka queues a partition's end-of-partition behind the messages fetched with it, so a backlog
// fetched in one go delays every other partition's end until it is read.
TEST(KafkaSource, AnEmptyPartitionBesideABacklogIsReportedQuietWhileTheBacklogFlows) {
  std::string topic = test::unique_topic("source-quiet-beside-backlog");
  test::create_topic(topic, 2);  // partition 1 stays empty
  test::produce(topic, {KafkaMessage{.partition = 0, .value = "first"}});
  auto config = config_for({topic});
  config.batch_bytes = 200;
  config.quiet_after = 1500ms;
  SourceFixture fixture(config, /*mailbox_capacity=*/1);
  ASSERT_EQ(fixture.take(1).size(), 1U);
  std::this_thread::sleep_for(300ms);  // both partitions at their end
  std::vector<KafkaMessage> messages;
  for (int i = 0; i < 800; ++i) {
    messages.push_back(KafkaMessage{.partition = 0, .value = "busy-" + std::to_string(i)});
  }
  test::produce(topic, messages);
  // 150 ms per batch of ~20 messages: about 6 s for the backlog, the source waiting for room and pausing.
  auto handed = fixture.take_until_quiet({{0, 1}}, 0, 30000ms, 150ms);
  auto reports = frames_before_quiet(handed);
  ASSERT_EQ(reports[Ends(0, 1)].size(), 1U);
  EXPECT_LT(reports[Ends(0, 1)].front(), 600U);  // reported while partition 0 still had a backlog
  EXPECT_EQ(reports.count(Ends(0, 0)), 0U);
}

/// The source's lag once it has `partitions` partitions (a partition is left out until its end is known), or what it
/// has after `timeout`.
std::vector<PartitionLag> lag_of(const Source& source, std::size_t partitions,
                                 std::chrono::milliseconds timeout = 10000ms) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto lag = source.consumer_lag();
  while (lag.size() < partitions && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
    lag = source.consumer_lag();
  }
  return lag;
}

// Read to the end, every partition's lag is 0: those with messages (the position after the last one), and an empty
// one (known from its end-of-partition signal alone).
TEST(KafkaSource, ConsumerLagIsZeroForEveryPartitionReadToItsEnd) {
  std::string topic = test::unique_topic("source-lag-end");
  test::create_topic(topic, 3);
  std::vector<KafkaMessage> messages;
  for (int i = 0; i < 1000; ++i) {
    messages.push_back(KafkaMessage{.partition = i % 2, .value = "value-" + std::to_string(i)});
  }
  test::produce(topic, messages);  // partition 2 stays empty

  SourceFixture fixture(config_for({topic}));
  auto handed = fixture.take_until_quiet({{0, 0}, {0, 1}, {0, 2}}, 1000);
  EXPECT_EQ(handed.size(), 1003U);
  EXPECT_EQ(fixture.source->consumer_lag(), (std::vector<PartitionLag>{{.topic = topic, .partition = 0, .lag = 0},
                                                                       {.topic = topic, .partition = 1, .lag = 0},
                                                                       {.topic = topic, .partition = 2, .lag = 0}}));
}

// A committed transaction ends with a marker at the offset after its last message: the position stays before it, the
// partition's end is after it, and the lag is still 0 once the source read to the end.
TEST(KafkaSource, ConsumerLagIsZeroAtTheEndOfTransactionalInput) {
  std::string topic = test::unique_topic("source-lag-transactional");
  test::create_topic(topic, 1);
  std::vector<KafkaMessage> messages;
  for (int i = 0; i < 100; ++i) {
    messages.push_back(KafkaMessage{.partition = 0, .value = "value-" + std::to_string(i)});
  }
  test::produce(topic, messages, test::unique_topic("transaction"));

  SourceFixture fixture(config_for({topic}));
  auto handed = fixture.take_until_quiet({{0, 0}}, 100);
  EXPECT_EQ(handed.size(), 101U);
  EXPECT_EQ(fixture.source->consumer_lag(), (std::vector<PartitionLag>{{.topic = topic, .partition = 0, .lag = 0}}));
}

// Behind a full mailbox the source pauses: each partition's lag is exactly what the source has not read (the
// messages handed over after the stop are the rest), and it grows with messages produced meanwhile, though a paused
// partition is not fetched.
TEST(KafkaSource, ConsumerLagCountsWhatThePausedSourceHasNotReadAndGrowsWithNewMessages) {
  std::string topic = test::unique_topic("source-lag-paused");
  test::create_topic(topic, 2);
  std::vector<KafkaMessage> messages;
  for (int i = 0; i < 2000; ++i) {
    messages.push_back(KafkaMessage{.partition = i % 2, .value = "value-" + std::to_string(i)});
  }
  test::produce(topic, messages);

  core::module_logger("io")->set_level(spdlog::level::debug);
  LogCapture::instance().clear();
  auto config = config_for({topic});
  config.batch_bytes = 200;
  SourceFixture fixture(config, /*mailbox_capacity=*/1);
  ASSERT_TRUE(
      LogCapture::instance().wait_for("kafka_source 'in': the executor's mailbox is full; pausing 2 partitions"));
  core::module_logger("io")->set_level(spdlog::level::info);
  auto paused = lag_of(*fixture.source, 2);
  ASSERT_EQ(paused.size(), 2U);

  std::vector<KafkaMessage> more;
  for (int i = 0; i < 300; ++i) {
    more.push_back(KafkaMessage{.partition = 0, .value = "more-" + std::to_string(i)});
  }
  test::produce(topic, more);
  auto grown = fixture.source->consumer_lag();
  auto deadline = std::chrono::steady_clock::now() + 10000ms;
  while ((grown.size() != 2 || grown[0].lag != paused[0].lag + 300) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    grown = fixture.source->consumer_lag();
  }
  ASSERT_EQ(grown.size(), 2U);
  EXPECT_EQ(grown[0].lag, paused[0].lag + 300);
  EXPECT_EQ(grown[1].lag, paused[1].lag);

  fixture.stop();  // hands over what it read before the pause: the rest is the lag
  for (std::int32_t partition = 0; partition < 2; ++partition) {
    EXPECT_EQ(paused[static_cast<std::size_t>(partition)].topic, topic);
    EXPECT_EQ(paused[static_cast<std::size_t>(partition)].partition, partition);
    EXPECT_GT(paused[static_cast<std::size_t>(partition)].lag, 0) << partition;
    EXPECT_EQ(static_cast<std::int64_t>(fixture.leftover_by_partition[partition]) +
                  paused[static_cast<std::size_t>(partition)].lag,
              1000)
        << partition;
  }
}

TEST(KafkaSource, SkipsAndCountsAMessageOverMaxSize) {
  std::string topic = test::unique_topic("source-oversized");
  test::create_topic(topic, 1);
  std::vector<KafkaMessage> messages{{.partition = 0, .value = "small"},
                                     {.partition = 0, .value = std::string(20, 'x')},
                                     {.partition = 0, .value = "small2"}};
  test::produce(topic, messages);
  LogCapture::instance().clear();
  auto config = config_for({topic});
  config.max_size = 10;
  SourceFixture fixture(config);
  auto reads = fixture.take(2);
  ASSERT_EQ(reads.size(), 2U);
  EXPECT_EQ(reads[0].message.value, "small");
  EXPECT_EQ(reads[1].message.value, "small2");
  EXPECT_EQ(reads[1].message.offset, 2);
  fixture.stop();
  EXPECT_EQ(LogCapture::instance().count("kafka_source 'in': skipping the message at " + topic +
                                         "/0 offset 1: 20 bytes exceed max_size 10 (1 so far)"),
            1U);
  EXPECT_EQ(LogCapture::instance().count("kafka_source 'in': stopped (1 messages over max_size skipped)"), 1U);
}

TEST(KafkaSource, PicksUpPartitionsAddedWhileRunningFromTheirBeginning) {
  std::string topic = test::unique_topic("source-grow");
  test::create_topic(topic, 1);
  auto config = config_for({topic});
  config.start = KafkaSourceConfig::Start::latest;  // a new partition still starts at its beginning
  config.partition_refresh = 4000ms;                // the next refresh comes after the messages below
  SourceFixture fixture(config);
  std::this_thread::sleep_for(1s);  // the assignment resolves "latest" before the message comes
  test::produce(topic, {{.partition = 0, .value = "first"}});
  ASSERT_EQ(fixture.take(1).size(), 1U);
  test::add_partitions(topic, 3);
  // Written before the source's next refresh finds the partitions.
  test::produce(topic, {{.partition = 2, .value = "in a new partition"}, {.partition = 1, .value = "and another"}});
  auto reads = fixture.take(2);
  ASSERT_EQ(reads.size(), 2U);
  std::sort(reads.begin(), reads.end());
  EXPECT_EQ(reads[0].message.partition, 1);
  EXPECT_EQ(reads[0].message.value, "and another");
  EXPECT_EQ(reads[1].message.partition, 2);
  EXPECT_EQ(reads[1].message.value, "in a new partition");
}

TEST(KafkaSource, UnreachableBrokersFailTheStartAfterBrokerWait) {
  std::uint16_t port = 0;
  {
    test::Listener listener;  // a port nobody listens on once closed
    port = listener.port();
  }
  core::BoundedMailbox<core::FrameBatch> mailbox(4);
  core::BatchPool pool;
  auto config = config_for({"anything"});
  config.brokers = "127.0.0.1:" + std::to_string(port);
  config.broker_wait = 1500ms;
  LogCapture::instance().clear();
  auto source = make_kafka_source(config, mailbox, pool);
  auto began = std::chrono::steady_clock::now();
  try {
    source->start();
    FAIL() << "start() did not throw";
  } catch (const core::Error& error) {
    std::string address = "127.0.0.1:" + std::to_string(port);
    EXPECT_EQ(std::string(error.what()), "reach Kafka brokers '" + address +
                                             "' for source 'in' within 1500 ms: connect to ipv4#" + address +
                                             " failed: Connection refused");
  }
  EXPECT_GE(std::chrono::steady_clock::now() - began, 1500ms);
  EXPECT_EQ(LogCapture::instance().count_containing("kafka_source 'in': cannot reach Kafka brokers"), 1U);
}

TEST(KafkaSource, AnUnknownTopicFailsTheStartAfterBrokerWait) {
  core::BoundedMailbox<core::FrameBatch> mailbox(4);
  core::BatchPool pool;
  std::string topic = test::unique_topic("source-missing");
  auto config = config_for({topic});
  config.broker_wait = 1500ms;
  LogCapture::instance().clear();
  auto source = make_kafka_source(config, mailbox, pool);
  try {
    source->start();
    FAIL() << "start() did not throw";
  } catch (const core::Error& error) {
    EXPECT_EQ(std::string(error.what()),
              "read topic '" + topic + "' for source 'in': unknown topic or partition (waited 1500 ms)");
  }
  EXPECT_EQ(LogCapture::instance().count("kafka_source 'in': cannot read topic '" + topic +
                                         "' (unknown topic or partition); retrying for up to 1500 ms"),
            1U);
}

TEST(KafkaSource, ABadPropertyIsOneLine) {
  core::BoundedMailbox<core::FrameBatch> mailbox(4);
  core::BatchPool pool;
  auto config = config_for({"anything"});
  config.properties = {{"no.such.property", "1"}};
  auto source = make_kafka_source(config, mailbox, pool);
  try {
    source->start();
    FAIL() << "start() did not throw";
  } catch (const core::Error& error) {
    EXPECT_EQ(std::string(error.what()),
              "configure kafka_source 'in': no.such.property=1: no such configuration property: \"no.such.property\"");
  }
}

TEST(KafkaSource, AnAuthenticationFailureFailsTheStartAtOnce) {
  core::BoundedMailbox<core::FrameBatch> mailbox(4);
  core::BatchPool pool;
  auto config = config_for({"anything"});
  // The test broker's listener is PLAINTEXT: a SASL handshake is refused.
  config.properties = {{"security.protocol", "sasl_plaintext"},
                       {"sasl.mechanism", "PLAIN"},
                       {"sasl.username", "roo"},
                       {"sasl.password", "wrong"}};
  auto source = make_kafka_source(config, mailbox, pool);
  auto began = std::chrono::steady_clock::now();
  try {
    source->start();
    FAIL() << "start() did not throw";
  } catch (const core::Error& error) {
    EXPECT_EQ(std::string(error.what()), "authenticate to Kafka brokers '" + config.brokers +
                                             "' for source 'in': SASL PLAIN mechanism handshake failed: Broker: "
                                             "Request not valid in current SASL state: broker's supported mechanisms");
  }
  EXPECT_LT(std::chrono::steady_clock::now() - began, 15000ms);
}

/// A probe, not a test (like TcpSource.DISABLED_Throughput): how fast the source hands over 100-byte messages.
TEST(KafkaSource, DISABLED_Throughput) {
  std::string topic = test::unique_topic("source-throughput");
  test::create_topic(topic, 2);
  constexpr int count = 1000000;
  std::vector<KafkaMessage> messages;
  for (int i = 0; i < count; ++i) {
    messages.push_back(KafkaMessage{.partition = i % 2, .value = std::string(100, 'a' + i % 26)});
  }
  test::produce(topic, messages);
  auto began = std::chrono::steady_clock::now();
  SourceFixture fixture(config_for({topic}));
  std::size_t frames = 0;
  while (frames < static_cast<std::size_t>(count)) {
    if (auto batch = fixture.mailbox.pop_for(10ms)) {
      frames += batch->size();
      fixture.pool.release(std::move(*batch));
    }
  }
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  std::cout << count << " messages in " << seconds << " s: " << count / seconds << " msg/s\n";
}

}  // namespace
}  // namespace roo::io
