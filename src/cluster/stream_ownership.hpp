#pragma once

#include "cluster_lifecycle.hpp"
#include "member_table.hpp"

#include "roo/cluster/cluster.hpp"

#include "roo/core/big_endian.hpp"
#include "roo/core/stream_registry.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <utility>
#include <vector>

namespace roo::cluster {

/// The cluster-wide table of connector streams (core::StreamRegistry's protocol; docs/connectors-source.md, "On a
/// cluster"): the initializer keeps, per source and stream, which worker owns it and the highest marks any worker
/// reported. Workers send it their restored marks (stream-marks), ask for a stream (stream-claim, answered by
/// stream-claim-reply) and let go of one (stream-release); the initializer does the same without the wire. Claims
/// on a source wait until every live worker's source reported its restored marks. A lost worker's streams are free.
///
/// Threads: everything on the core's strand. Owns the table (initializer) and the claims waiting for an answer
/// (any worker). Writes on the MemberTable's control connections. ClusterCore routes the frames here and calls
/// on_peer_lost() and close().
class StreamOwnership {
 public:
  using Answer = std::function<void(core::StreamClaim)>;

  StreamOwnership(const ClusterConfig& config, const Lifecycle& lifecycle, MemberTable& members)
      : config_(config), lifecycle_(lifecycle), members_(members) {}

  // This worker's calls.
  void restored(std::uint32_t source, std::vector<core::StreamMark> marks);
  void claim(std::uint32_t source, core::StreamMark mark, Answer answer);
  void release(std::uint32_t source, core::StreamMark mark);

  /// The initializer: a worker's frame (stream-marks, stream-claim or stream-release); false when malformed.
  [[nodiscard]] bool on_worker_frame(std::size_t index, std::uint8_t type, core::BigEndianReader& reader);
  /// A worker: the initializer's stream-claim-reply; false when malformed.
  [[nodiscard]] bool on_claim_reply(core::BigEndianReader& reader);
  /// A peer was lost: on the initializer its streams are free; on a worker that lost the initializer, every claim
  /// waiting for an answer is refused.
  void on_peer_lost(std::size_t index);
  /// The cluster closes: every claim still waiting is refused.
  void close();

 private:
  struct Stream {
    std::size_t owner = none;
    core::StreamMark mark;
  };
  struct Waiting {
    std::size_t worker = 0;
    std::uint64_t id = 0;
    core::StreamMark mark;
    Answer answer;  ///< the initializer's own claims; empty for a worker's (answered on the wire)
  };
  static constexpr std::size_t none = ~std::size_t{0};

  // The initializer's side.
  void on_restored(std::size_t worker, std::uint32_t source, const std::vector<core::StreamMark>& marks);
  void on_claim(std::uint32_t source, Waiting waiting);
  void on_release(std::size_t worker, std::uint32_t source, const core::StreamMark& mark);
  [[nodiscard]] bool every_worker_restored(std::uint32_t source) const;
  void decide(std::uint32_t source, Waiting waiting);
  void answer_waiting(std::uint32_t source);

  /// The initializer's answer to `worker` (its own: `answer`).
  void reply(std::size_t worker, std::uint64_t id, const core::StreamClaim& claim, const Answer& answer);
  [[nodiscard]] bool initializer() const { return config_.initializer; }
  [[nodiscard]] bool usable() const;

  const ClusterConfig& config_;
  const Lifecycle& lifecycle_;
  MemberTable& members_;
  std::map<std::pair<std::uint32_t, std::uint64_t>, Stream> streams_;  ///< initializer: (source, stream)
  std::map<std::uint32_t, std::set<std::size_t>> restored_;             ///< initializer: who reported, per source
  std::map<std::uint32_t, std::vector<Waiting>> waiting_;               ///< initializer: claims before every report
  std::map<std::uint64_t, Answer> asked_;                               ///< worker: claims sent to the initializer
  std::uint64_t next_claim_ = 1;
};

}  // namespace roo::cluster
