#pragma once

#include "delivery_report.hpp"
#include "state_codecs.hpp"

#include "roo/state/keyed_state_table.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace roo::runtime {

/// Keyed state moving between workers in a rescale (docs/cluster.md, "Growing and shrinking"): the keys of the key
/// groups this worker gives up leave its state tables for their new owners, serialized as checkpoints serialize them
/// (StateCodecs) and in the checkpoint record encoding (checkpoint::Snapshot, visit_records), in frames of about
/// frame_bytes; a peer's frames are restored into this worker's tables. What cannot move is counted as lost state,
/// for the closing report, with one error line where it happens. Lives on the executor (the GIL held).
class KeyGroupHandover {
 public:
  /// A frame is sent once another key would take it past this (a single larger key goes alone). 1 MiB and 4 MiB
  /// gave the same 1M-key pause within the spread (docs/benchmarks.md); the smaller one shortens the last frame's
  /// restore, after the giver is done.
  static constexpr std::size_t frame_bytes = 1024 * 1024;
  /// A key whose record alone is larger cannot move (a cluster frame holds at most 64 MiB): it is lost.
  static constexpr std::size_t max_record_bytes = 63 * 1024 * 1024;

  /// Sends one frame to worker `to` (Cluster::send_key_groups); false when `to` was lost and the frame dropped.
  using Send = std::function<bool(std::size_t to, std::vector<char>&& bytes)>;

  /// What hand_over() moved.
  struct Moved {
    std::size_t keys = 0;
    std::size_t groups = 0;   ///< key groups that left this worker (with keys or without)
    std::size_t workers = 0;  ///< new owners they went to
    std::size_t bytes = 0;    ///< sent, over every frame
  };
  /// Hands every key of `tables` (by Plan::state_tables index) whose key group worker `self` owns in `now` and not in
  /// `next` (owner tables, one entry per key group) to the group's owner in `next`, through `send`. The keys leave
  /// the tables (a window stage's at once, the others' dict entries after the stream resumed:
  /// remove_left_keys()); the frames are kept until round_over(), for redirect(). `names`: the workers' names, for
  /// lines.
  /// `window_watermarks`: this worker's window stage watermarks (PipelineRunner::window_watermarks()), in every
  /// frame, so that the new owner's windows are no less advanced than this worker's were.
  Moved hand_over(std::deque<state::KeyedStateTable>& tables, const StateCodecs& codecs, std::size_t self,
                  const std::vector<std::uint16_t>& now, const std::vector<std::uint16_t>& next,
                  const std::vector<std::string>& names, const Send& send,
                  const std::vector<graph::EventTime>& window_watermarks = {});

  /// Removes up to `at_most` keys per table of those hand_over() left in their dicts. True once none is left.
  static bool remove_left_keys(std::deque<state::KeyedStateTable>& tables, std::size_t at_most);

  /// What redirect() did with the state kept for workers that were lost.
  struct Redirected {
    std::size_t taken_back = 0;  ///< keys restored here again
    std::size_t sent_on = 0;     ///< keys sent to their group's owner in `next`
  };
  /// A move that follows a loss in the same round (before round_over()): what this worker handed to a worker that
  /// `gone` marks (by worker index: lost before it had restored it for sure) goes to its key group's owner in `next`,
  /// restored here when that is `self`, sent on otherwise (and kept again). Call before hand_over().
  Redirected redirect(std::deque<state::KeyedStateTable>& tables, const StateCodecs& codecs, std::size_t self,
                      const std::vector<std::uint16_t>& next, const std::vector<bool>& gone,
                      const std::vector<std::string>& names, const Send& send,
                      const std::vector<graph::EventTime>& window_watermarks = {});
  /// The round is over everywhere (every frame was restored): the frames kept for redirect() go. Frames that could
  /// not be sent (their worker was lost) and that no second move redirected are lost state, counted here.
  void round_over();

  /// Restores into `tables` the keys of one frame worker `peer` handed over (a core::KeyGroupState).
  /// A malformed frame, an unknown table or a state that cannot be read back costs one error line naming the peer
  /// and the table, and counts as lost state; the rest is restored.
  /// `on_window_watermark(stage, watermark)` hears the giver's window stage watermarks the frame carries.
  using WindowWatermark = std::function<void(std::size_t stage, graph::EventTime watermark)>;
  /// `key_groups` (the cluster's count): a table that is not a window stage's keeps the keys as bytes, restored
  /// group by group when first needed (KeyedStateTable::keep_to_restore; then restore_pending() after the resume and
  /// report_restore_failures()); 0: every key is restored now.
  /// `on_sink_output(sink, bytes)` hears a leaver's transactional sink output (sink_output_frames()), in order.
  using SinkOutput = std::function<void(std::uint32_t sink, std::string_view bytes)>;
  void take(std::deque<state::KeyedStateTable>& tables, const StateCodecs& codecs, const std::string& peer,
            std::string_view bytes, const WindowWatermark& on_window_watermark = {}, std::uint32_t key_groups = 0,
            const SinkOutput& on_sink_output = {});
  /// A leaving worker's transactional sinks' uncommitted output (sink index, record_batch_codec bytes), in the
  /// records checkpoints keep it as, in frames of about frame_bytes, for a worker that stays to write into its own
  /// transaction (docs/cluster.md, "With checkpoints"). Sent like key groups' frames; take() hands them on.
  [[nodiscard]] static std::vector<std::vector<char>> sink_output_frames(
      const std::vector<std::pair<std::size_t, std::string>>& output);
  /// Restores the kept keys of up to `at_most` key groups per table. True once no table keeps any.
  static bool restore_pending(std::deque<state::KeyedStateTable>& tables, std::size_t at_most);
  /// One error line and the count of lost keys per table and peer for kept keys that could not be restored.
  void report_restore_failures(std::deque<state::KeyedStateTable>& tables);

  /// What take() restored since the last call, as the end of an info line: "12 keys in 3 key groups from worker
  /// 'w1' (1 frame, 2 KiB)"; empty when nothing came.
  [[nodiscard]] std::string take_intake_summary();

  /// State lost moving, either way, into the closing report.
  void report_losses(DeliveryReport& report) const;

 private:
  void lose(std::uint64_t keys, const std::string& reason);
  /// Frames on their way to new owners, filled key by key (hand_over, redirect).
  class Outbox;
  /// Restores one record into `tables`; a failure is counted in `failed` (by table: keys, the first one's line).
  static bool restore(std::deque<state::KeyedStateTable>& tables, const StateCodecs& codecs, std::uint32_t table,
                      std::string_view key, std::string_view value,
                      std::map<std::uint32_t, std::pair<std::size_t, std::string>>& failed);
  /// One error line and the count of lost keys per table that failed to restore, handed over by `peer`.
  void report_failed(const std::deque<state::KeyedStateTable>& tables, const std::string& peer,
                     const std::map<std::uint32_t, std::pair<std::size_t, std::string>>& failed);

  struct Intake {
    std::size_t keys = 0;
    std::size_t frames = 0;
    std::size_t bytes = 0;
    std::vector<bool> groups;  ///< by key group: one key of it was restored (a set's insert per key cost 4 %)
    std::size_t group_count = 0;
    void restored_in(std::uint32_t group) {
      if (group >= 1U << 16) {
        return;  // far more key groups than a cluster has (256): not a size to take from a frame
      }
      if (group >= groups.size()) {
        groups.resize(group + 1, false);
      }
      if (!groups[group]) {
        groups[group] = true;
        ++group_count;
      }
    }
    std::set<std::string> peers;
  };
  Intake intake_;
  std::map<std::size_t, std::vector<std::vector<char>>> kept_;  ///< frames sent this round, by the worker they went to
  /// Keys in kept_ frames that could not be sent (their worker was already lost), by worker, with its name: a second
  /// move redirects them; round_over() counts what is left as lost.
  std::map<std::size_t, std::pair<std::size_t, std::string>> undelivered_;
  std::vector<std::pair<std::string, std::uint64_t>> lost_;  ///< keys of state lost, by reason
  std::vector<std::string> faults_;                          ///< frames lost whole (malformed): keys uncounted
};

}  // namespace roo::runtime
