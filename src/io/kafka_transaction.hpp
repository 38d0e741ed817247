#pragma once

#include "kafka_client_config.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace roo::io {

/// The outcome of one transactional call.
struct KafkaTransactionResult {
  enum class Kind { ok, retriable, abortable, fatal };
  Kind kind = Kind::ok;
  std::string text;     ///< librdkafka's reason, as Roo prints causes
  bool fenced = false;  ///< a newer producer with the same transactional.id took over (fatal)
  [[nodiscard]] bool ok() const { return kind == Kind::ok; }
};

/// The transactional calls of one producer that has a transactional.id, and the marker that records which
/// checkpoint's transaction committed last: each transaction also commits offset `checkpoint` of partition 0 of the
/// sink's topic for the consumer group `marker_group` (send_offsets_to_transaction, so the marker commits atomically
/// with the records; the Kafka sink's two producers share "<the sink's transactional.id>.commits"). After a crash,
/// read_committed_checkpoint() says whether checkpoint n's transaction committed. The calls block (seconds at most);
/// call them from the sink's own thread.
class KafkaTransaction {
 public:
  KafkaTransaction(rd_kafka_t* producer, std::string marker_group, std::string topic, std::string brokers,
                   KafkaProperties properties);

  /// init_transactions: fences an older producer with the same transactional.id and aborts its open transaction.
  /// Retries retriable errors (a coordinator still loading) until `timeout`.
  [[nodiscard]] KafkaTransactionResult init(std::chrono::milliseconds timeout);
  [[nodiscard]] KafkaTransactionResult begin();
  /// Adds the marker "checkpoint n committed" to the open transaction.
  [[nodiscard]] KafkaTransactionResult mark(std::uint64_t checkpoint, std::chrono::milliseconds timeout);
  /// Flushes and commits the open transaction (retrying retriable errors until `timeout`).
  [[nodiscard]] KafkaTransactionResult commit(std::chrono::milliseconds timeout);
  [[nodiscard]] KafkaTransactionResult abort(std::chrono::milliseconds timeout);
  /// Right after init(): a transaction that writes one empty record to every partition of the topic and aborts, so
  /// that whatever an earlier producer with this transactional.id left pending there ends with an ABORT marker
  /// before this producer's first COMMIT marker could make it visible (see kafka_transaction.cpp). The empty
  /// records' delivery reports carry `sweep_opaque`.
  [[nodiscard]] KafkaTransactionResult abort_leftovers(std::chrono::milliseconds timeout);
  static inline void* const sweep_opaque = reinterpret_cast<void*>(~std::uintptr_t{0});

  /// The checkpoint whose transaction committed last (0: none yet), read by a short-lived consumer of the marker
  /// group; nullopt with `error` set when it cannot be read.
  [[nodiscard]] std::optional<std::uint64_t> read_committed_checkpoint(std::chrono::milliseconds timeout,
                                                                       std::string& error) const;

  [[nodiscard]] const std::string& marker_group() const { return marker_group_; }

 private:
  rd_kafka_t* producer_;
  std::string topic_;
  std::string brokers_;
  KafkaProperties properties_;
  std::string marker_group_;
};

}  // namespace roo::io
