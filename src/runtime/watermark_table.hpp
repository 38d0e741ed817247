#pragma once

#include "roo/graph/plan.hpp"
#include "roo/window/watermark_clock.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace roo::runtime {

using window::EventTime;

/// The watermarks one worker knows (docs/windows.md, "Watermarks"): its own for each source (a WatermarkClock over
/// that source's inputs here) and the last each peer sent for each source. A window stage's watermark is the
/// minimum over the sources whose flows pass through it, of this worker's and every peer's. A peer not heard from
/// yet holds everything back; a source with no input on a worker holds nothing back.
///
/// Peers hear this worker's watermarks as bytes (encode/receive), sent on the data channel in order with the events:
/// u16 source count | per source: u8 has_watermark | i64 watermark (big-endian).
/// Lives on the Python executor.
class WatermarkTable {
 public:
  WatermarkTable(const graph::Plan& plan, std::size_t workers, std::size_t self);

  [[nodiscard]] window::WatermarkClock& clock(std::size_t source) { return clocks_[source]; }

  /// This worker's watermarks at wall clock `now`, encoded for its peers.
  [[nodiscard]] std::vector<char> encode(std::int64_t now);
  /// The cluster grew or shrank (docs/cluster.md, "Growing and shrinking"): `workers` by index, `departed` marking
  /// those that left. A joiner holds nothing back until it is heard from, as a new input of a source holds nothing
  /// back until its first event (it may never be: turned away, or lost before it formed). A departed worker's row
  /// holds what it last said: it still processes, after its move, the input its sources queued, and says it is
  /// finished once that is done (finish_all()). A departed worker never heard from holds nothing back.
  void members_changed(std::size_t workers, const std::vector<bool>& departed);
  /// Worker `worker` was lost (a cluster without checkpoints goes on without it): it holds nothing back any more.
  void peer_gone(std::size_t worker);
  /// Every source of this worker is finished (it leaves the cluster and processed all its input): its peers' windows
  /// no longer wait for it.
  void finish_all();
  /// Peer `from`'s watermarks. False (with the reason in `error`) when the bytes are malformed or name another
  /// number of sources; nothing is changed then. A worker index beyond the rows known yet is a joiner whose
  /// watermarks came before the news of its joining: its row is made.
  [[nodiscard]] bool receive(std::size_t from, std::string_view bytes, std::string& error);

  /// The watermark the sources `sources` allow at wall clock `now`; nullopt when nothing holds it anywhere (no input
  /// on any worker yet).
  [[nodiscard]] std::optional<EventTime> combined(const std::vector<std::size_t>& sources, std::int64_t now);
  /// The earliest wall clock at which a local watermark changes with no new event (see WatermarkClock::next_change).
  [[nodiscard]] std::int64_t next_change(std::int64_t now) const;

  /// No cluster has more workers (cluster::MemberTable::max_workers): an index beyond is not a peer's.
  static constexpr std::size_t max_workers = 1024;

 private:
  struct PeerMark {
    bool heard = false;
    std::optional<EventTime> value;
  };
  std::vector<window::WatermarkClock> clocks_;
  std::vector<std::vector<PeerMark>> peers_;  ///< [worker][source]; this worker's row unused
  std::size_t self_;
};

}  // namespace roo::runtime
