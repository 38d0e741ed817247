#pragma once

#include "delivery_report.hpp"
#include "transactional_sinks.hpp"

#include "roo/graph/plan.hpp"
#include "roo/io/record_batch.hpp"
#include "roo/io/sink.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace roo::runtime {

/// A leaving worker's transactional sink output, moved to a worker that stays (docs/cluster.md, "With
/// checkpoints"). A leaver takes no part in the checkpoints after its round, so it cannot commit the output it
/// wrote since its last checkpoint: at the move it aborts its transactions and hands every record not committed to
/// the initializer (which never leaves), in the frames key groups travel in; the initializer writes them into its
/// own open transaction and, like every worker with a transactional sink, delivers them before the round resumes, so
/// that they precede what the keys' new owners write after it. They commit with the initializer's next checkpoint,
/// whose state covers the events they came from; a crash before it rolls every worker back to the checkpoint before
/// the round, the leaver included, and these records are aborted with the initializer's transaction. Output the
/// leaver makes after the move (its sources' queued input) follows the same way.
///
/// Lives on the executor (both sides).
class SinkOutputRelay {
 public:
  /// Sends one frame to worker `to` (Cluster::send_key_groups); false when `to` was lost.
  using Send = std::function<bool(std::size_t to, std::vector<char>&& bytes)>;
  /// Where a leaver's output goes: the initializer.
  static constexpr std::size_t stayer = 0;

  /// The leaver, at its move: hands over what `sinks` have not committed (the GIL released meanwhile) and relays
  /// later output. Throws core::Error when a sink cannot (no answer within
  /// `timeout`, an abort the broker refused, a commit not settled): the worker then stops, and the cluster rolls back.
  void hand_off(TransactionalSinks& sinks, const graph::Plan& plan, const Send& send,
                std::chrono::milliseconds timeout);
  /// Whether this worker's transactional sinks' output goes to the stayer (after hand_off()).
  [[nodiscard]] bool relaying() const { return relaying_; }
  /// The leaver after its move: sink `sink`'s batch goes to the stayer instead.
  void relay(std::size_t sink, const io::RecordBatch& batch, const Send& send);

  /// The stayer: a leaver's records for sink `sink` (KeyGroupHandover::take's on_sink_output) are written to it.
  void adopt(std::vector<std::unique_ptr<io::Sink>>& sinks, const graph::Plan& plan, std::uint32_t sink,
             std::string_view bytes, const std::string& peer);
  /// Batches adopted so far: the sinks' delivery wait (SinkDeliveryWait::check) counts them as written output.
  [[nodiscard]] std::uint64_t adopted() const { return adopted_; }

  /// Output that could not move, either way, into the closing report.
  void report_losses(DeliveryReport& report) const;

 private:
  void lose(std::uint64_t bytes, const std::string& reason);

  bool relaying_ = false;
  std::uint64_t adopted_ = 0;
  std::vector<std::pair<std::uint64_t, std::string>> lost_;  ///< bytes of output, by reason
};

}  // namespace roo::runtime
