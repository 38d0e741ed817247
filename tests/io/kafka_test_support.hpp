#pragma once

// A test's side of a real Kafka broker: where it is, topics, and a plain librdkafka producer and reader to check
// what Roo's source read and what its sink wrote.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace roo::io::test {

/// The test broker's bootstrap address: the contents of the file named by ROO_KAFKA_BOOTSTRAP_FILE (written by the
/// `kafka` ctest fixture, tools/kafka/broker). Throws std::runtime_error saying so when it is not set.
[[nodiscard]] std::string kafka_bootstrap();

/// A topic name no other test (or earlier run) uses: roo-<what>-<pid>-<counter>-<time>.
[[nodiscard]] std::string unique_topic(std::string_view what);
/// A record timestamp (ms) for tests that set their own: an hour before this test process started, the same for
/// every call. Not a fixed date: the broker's retention (7 days) counts from record timestamps, and its first
/// retention check, 30 s after it starts, deletes records stamped years ago from the log under the test's feet.
[[nodiscard]] std::int64_t recent_time_ms();

/// Creates `topic` with `partitions` partitions (admin API) and waits until its metadata shows them.
void create_topic(const std::string& topic, int partitions);
/// Grows `topic` to `partitions` partitions.
void add_partitions(const std::string& topic, int partitions);
/// Deletes the records of `partition` of `topic` before `offset` (admin API), as retention would.
void delete_records(const std::string& topic, std::int32_t partition, std::int64_t offset);

/// One message as written to or read from Kafka.
struct KafkaMessage {
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  std::optional<std::string> key{};
  std::string value;
  std::int64_t time_ms = -1;
  std::vector<std::pair<std::string, std::string>> headers{};
  bool operator==(const KafkaMessage&) const = default;
};

/// Produces `messages` (partition, key, value, time_ms >= 0, headers) with acks=all and waits for every delivery;
/// with a `transactional_id`, in one committed transaction.
void produce(const std::string& topic, const std::vector<KafkaMessage>& messages,
             const std::string& transactional_id = "");

/// Reads `topic` from the beginning of every partition until `count` messages arrived or `timeout` passed, then
/// for `settle` more (so that extra messages show up). read_committed hides aborted and open transactions.
[[nodiscard]] std::vector<KafkaMessage> read_topic(const std::string& topic, std::size_t count, bool read_committed,
                                                   std::chrono::milliseconds timeout = std::chrono::seconds(20),
                                                   std::chrono::milliseconds settle = std::chrono::milliseconds(300));

/// The offsets `group` committed for partitions 0..partitions-1 of `topic` (-1001: none).
[[nodiscard]] std::map<std::int32_t, std::int64_t> committed_offsets(const std::string& group,
                                                                     const std::string& topic, int partitions);

}  // namespace roo::io::test
