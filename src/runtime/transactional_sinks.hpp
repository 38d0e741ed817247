#pragma once

#include "roo/checkpoint/snapshot.hpp"
#include "roo/core/doorbell.hpp"
#include "roo/io/sink.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace roo::runtime {

/// The sinks whose output becomes visible only with a completed checkpoint (io::Sink::transactional(): Kafka with
/// checkpoints on), as one participant of the checkpoint (docs/kafka.md, "Exactly once"):
///   the cut of checkpoint n       prepare(n): each sink flushes checkpoint n's output inside its transaction and
///                                 hands it back (or where its peer keeps it), to be kept in the checkpoint's part;
///   checkpoint n complete         commit(n);
///   a rollback                    abort(), then recover(n) from the restored checkpoint;
///   a restart                     recover(n): a sink whose commit of n did not happen before the crash commits the
///                                 output kept in checkpoint n (and fences its predecessor).
/// Lives on the executor; the sinks answer on their own threads and ring the doorbell.
class TransactionalSinks {
 public:
  /// Every sink of `sinks` (indexed as the plan's sinks) that is transactional takes part. Neither may move while
  /// this lives.
  TransactionalSinks(std::vector<std::unique_ptr<io::Sink>>& sinks, core::Doorbell& doorbell);

  [[nodiscard]] bool any() const { return !members_.empty(); }

  /// Asks every transactional sink to prepare checkpoint `id`.
  void prepare(std::uint64_t id);
  struct Prepared {
    std::uint64_t id = 0;
    std::string error;  ///< empty: every sink prepared
    /// (sink index, its output to keep): the batches the sink keeps for its commit (shared, not copied), or where
    /// its peer keeps them.
    std::vector<std::pair<std::size_t, io::Sink::CheckpointOutput>> output;
  };
  /// Once every sink answered the last prepare(): their outputs, for the checkpoint's part.
  [[nodiscard]] std::optional<Prepared> take_prepared();
  /// The encoding of `batches` in a checkpoint (record_batch_codec), one string per batch, for
  /// checkpoint::Snapshot::add_sink_output_later(): the checkpoint's writer runs it.
  [[nodiscard]] static checkpoint::Snapshot::LateOutput encode_later(io::Sink::SharedBatches batches);
  /// Whether a prepare() has not been answered by every sink yet.
  [[nodiscard]] bool preparing() const;

  void commit(std::uint64_t id);
  void abort();

  /// A recovery read checkpoint `id`: keeps its sinks' outputs (decoded) for recover(), or where a sink's peer
  /// keeps its output (io::Sink::CheckpointOutput's location).
  void remember(std::uint64_t id, std::size_t sink, std::string_view encoded_output);
  void remember_location(std::uint64_t id, std::size_t sink, std::string_view location);
  /// After the sinks started and before any output: each transactional sink makes the remembered checkpoint's output
  /// visible exactly once (io::Sink::recover). Waits up to `timeout`; throws core::Error naming the sink that failed.
  void recover(std::chrono::milliseconds timeout);

  /// This worker leaves the cluster in a rescale: each transactional sink gives back the records it has not
  /// committed, encoded (record_batch_codec) with its index, in write order, and aborts its transaction
  /// (io::Sink::hand_off); a worker that stays writes them into its own. Waits up to `timeout` with the GIL released
  /// by the caller; a sink that fails or does not answer is in `errors` with why (its records are lost: counted by
  /// the caller).
  struct HandedOff {
    std::vector<std::pair<std::size_t, std::string>> output;  ///< (sink index, encoded batch)
    std::vector<std::pair<std::size_t, std::string>> errors;  ///< (sink index, why)
  };
  [[nodiscard]] HandedOff hand_off(std::chrono::milliseconds timeout);

 private:
  std::vector<std::unique_ptr<io::Sink>>& sinks_;
  core::Doorbell& doorbell_;
  std::vector<std::size_t> members_;  ///< indexes of the transactional sinks
  mutable std::mutex mutex_;          ///< guards answers_ (the sinks answer on their threads)
  std::uint64_t preparing_ = 0;       ///< the prepare in flight (0: none)
  /// Moves on with each abort (a rollback): a recovered run prepares the same ids again, and an answer to a prepare
  /// of the run given up must not be taken for the new one's.
  std::uint64_t generation_ = 0;
  std::map<std::size_t, std::pair<std::string, io::Sink::CheckpointOutput>> answers_;  ///< error, output
  /// What remember*() keep belongs to checkpoint `id`: an older one's is forgotten.
  void recovering(std::uint64_t id);

  std::uint64_t recover_id_ = 0;
  std::map<std::size_t, std::vector<io::RecordBatch>> recover_output_;
  std::map<std::size_t, std::string> recover_location_;
};

}  // namespace roo::runtime
