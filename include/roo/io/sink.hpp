#pragma once

#include "roo/core/byte_budget.hpp"
#include "roo/io/record_batch.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace roo::io {

/// Where a sink's outputs go. The Python executor hands it RecordBatches; the sink writes them on its own
/// executor (an io_context strand, or librdkafka's threads) and counts them in budget() until its peer has them, so
/// the executor waits (backpressure) instead of memory growing.
///
/// Checkpoints (docs/resilience.md, docs/kafka.md). A sink that is not transactional delivers at least once: what was
/// written before a crash may be written again after the recovery. A transactional sink (Kafka; a connector sink
/// with checkpoints) makes output visible only once its checkpoint is complete:
///   prepare(n)  every batch written before it belongs to checkpoint n: flush it (still invisible) and report;
///               batches written after it belong to n+1 (Kafka: produced at once into a second producer's
///               transaction, so the output flows while checkpoint n completes);
///   commit(n)   checkpoint n is complete everywhere: make its output visible;
///   abort()     roll back: discard everything not committed.
/// Checkpoint n keeps what prepare(n) hands back: if the worker dies between the checkpoint's completion and its
/// commit, recover(n, ...) commits that output after the restart. A sink hands back the records themselves, or only
/// where its peer keeps them (Kafka: the offsets its transaction wrote, read back at the recovery).
/// A checkpoint may fail (no commit(n) comes): then prepare(n+1) puts checkpoint n's records and what was written
/// since into one transaction, in write order, and returns every record since the last commit; commit(n+1) commits
/// them all.
///
/// Lifecycle: construct (no I/O) → start() → write()* → stop(on_stopped). Thread-safety as marked.
class Sink {
 public:
  virtual ~Sink() = default;

  /// Begins connecting; does not wait for the connection. Throws core::Error naming the sink on bad settings.
  virtual void start() = 0;

  /// True when the sink uses RecordBatch::records (keys, partitions, headers); false: only the values' bytes.
  [[nodiscard]] virtual bool takes_records() const = 0;

  /// Queues a batch. Thread-safe. Counted in budget() until delivered (or, transactional, committed).
  virtual void write(RecordBatch&& batch) = 0;

  /// What the sink holds; the producer waits while it is over its limit.
  [[nodiscard]] virtual core::ByteBudget& budget() = 0;

  /// Whether the producer (the executor) may write more now: budget() is under its limit, and whatever else the
  /// sink bounds. Thread-safe.
  [[nodiscard]] virtual bool has_room() { return budget().in_flight() < budget().limit(); }

  /// Calls `done` (on the sink's thread) once every batch written before this call is delivered (acknowledged by
  /// the peer or broker), or with one line saying why it cannot be. At-least-once without checkpoints: a source's
  /// offsets are committed only after the sinks flushed the outputs of the events before them. Thread-safe.
  virtual void flush(std::function<void(std::string error)> done) = 0;

  [[nodiscard]] virtual bool transactional() const { return false; }

  /// Transactional sinks (see above). `done` runs on the sink's thread with an empty string on success or one line
  /// saying what failed, and, for prepare, what checkpoint n keeps for recover(). Thread-safe.
  /// Batches are shared, not copied: the sink keeps the same ones until the commit (it may have to produce them
  /// again), and neither side changes them.
  using SharedBatches = std::vector<std::shared_ptr<const RecordBatch>>;
  using Prepared = std::function<void(std::string error, SharedBatches records)>;
  using Done = std::function<void(std::string error)>;
  /// What checkpoint n keeps of a sink's output: its records, or, when `location` is not empty, only where the
  /// sink's peer keeps them, in the sink's own encoding (Kafka: KafkaWrittenOffsets), and then no records.
  struct CheckpointOutput {
    SharedBatches records;
    std::string location;
  };
  using PreparedCheckpoint = std::function<void(std::string error, CheckpointOutput output)>;
  virtual void prepare(std::uint64_t /*checkpoint*/, PreparedCheckpoint done) { done({}, {}); }
  virtual void commit(std::uint64_t /*checkpoint*/, Done done) { done({}); }
  virtual void abort() {}
  /// After a restart, before any write(): makes checkpoint n's output visible exactly once, using what its prepare
  /// returned (`records`, or `location`) if it was not committed before the crash, and fences any older instance of
  /// this sink.
  virtual void recover(std::uint64_t /*checkpoint*/, std::vector<RecordBatch> /*records*/, std::string /*location*/,
                       Done done) {
    done({});
  }
  /// This worker leaves the cluster in a rescale (docs/cluster.md, "With checkpoints"): every record not committed
  /// (the open transactions' and those queued after them) comes back through `done`, in write order, and those
  /// transactions are aborted, so that a worker that stays writes them into its own. Runs after any commit asked
  /// before it. The sink stays usable (a new transaction is open). Thread-safe.
  virtual void hand_off(Prepared done) { done({}, {}); }

  /// Delivers what is queued (a transactional sink: what is committed; the rest is aborted), closes, then calls
  /// `on_stopped` on the sink's thread. Thread-safe, idempotent. The caller bounds the wait.
  virtual void stop(std::function<void()> on_stopped) = 0;

  /// Bytes written but not delivered (0 once stopped cleanly), and why. Call after the stop's callback ran (or on
  /// the sink's own thread).
  [[nodiscard]] virtual std::size_t undelivered_bytes() const = 0;
  [[nodiscard]] virtual std::string undelivered_reason() const = 0;

  /// True once the sink cannot write any more (a Kafka producer fenced by a newer instance with its
  /// transactional.id, or another fatal error): it logged one line, undelivered_reason() says why, later writes are
  /// counted as undelivered and checkpoint calls report the failure. Thread-safe.
  [[nodiscard]] virtual bool failed() const { return false; }
};

}  // namespace roo::io
