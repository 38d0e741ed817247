#pragma once

#include "roo/io/kafka_source.hpp"
#include "roo/io/sink.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace roo::io {

struct KafkaSinkConfig {
  std::string name;     ///< the app's sink name: shown in logs
  std::string topic;
  std::string brokers;  ///< bootstrap.servers
  KafkaProperties properties;
  std::size_t max_message_size = 1000000;     ///< a larger record is not sent: counted and logged (message.max.bytes)
  std::chrono::milliseconds linger{5};        ///< Wallaroo's max_produce_buffer_ms (linger.ms)
  std::size_t max_buffered_bytes = 64 << 20;  ///< budget(): past this the executor waits
  /// Records written but not handed to librdkafka yet: past this the executor waits too (Sink::has_room). Small
  /// records would otherwise let the executor run seconds ahead of the brokers within max_buffered_bytes, and with
  /// exactly-once every checkpoint would first wait for that backlog. Room for a few hundred milliseconds of a fast
  /// sink's output, so that the output held during a checkpoint's commit does not stop the executor.
  std::size_t max_queued_records = 250000;
  /// Exactly-once: write inside transactions (io::Sink's prepare/commit/abort) with this transactional.id, the same
  /// for the same worker's sink across restarts (so a new instance fences its zombie). Empty: at-least-once,
  /// idempotent producer.
  std::string transactional_id;
};

/// A Kafka producer (librdkafka) writing each record with its key, partition (or the partitioner's choice:
/// property `partitioner`), headers and timestamp. When librdkafka's queue is full the batch waits in the sink and
/// budget() stays full, so the executor slows down. A delivery failure is retried by librdkafka, then logged in
/// one line and counted in undelivered_bytes(). Transactional when config.transactional_id is set.
[[nodiscard]] std::unique_ptr<Sink> make_kafka_sink(KafkaSinkConfig config);

}  // namespace roo::io
