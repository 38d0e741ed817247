#pragma once

#include "connector_frames.hpp"

#include "roo/core/stream_registry.hpp"
#include "roo/io/source.hpp"

#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

namespace roo::io {

/// The streams of one connector source (one worker's): which connection owns each, what was committed of it, and the
/// last message id the source took from it. The connections consult it only when a stream opens, ends or is let go,
/// and the runtime when it commits: a mutex guards it (never taken per message: a connection keeps the last ids of
/// its open streams itself). Any thread.
///
/// A stream is free, open on one connection (NOTIFY accepted), or ended (EOS) and waiting for a commit to cover its
/// last id; only a free stream may be opened. A connection that goes away frees its streams at once. On a cluster
/// this worker must also own the stream cluster-wide (core::StreamRegistry): what this class frees, the caller
/// releases there too, with the marks it returns.
class ConnectorStreams {
 public:
  /// A connection's number within its source (0 is nobody).
  using Owner = std::uint64_t;
  static constexpr std::uint64_t none = core::StreamMark::none;  ///< "no point of reference": U64 max

  /// `position`: what seek() gave (each stream's last processed id + 1).
  explicit ConnectorStreams(const SourcePosition& position);

  struct Opening {
    bool accepted = false;
    std::uint64_t point_of_ref = none;  ///< the last committed id, or `none`
    std::uint64_t last_seen = none;     ///< ids up to this one are skipped (`none`: no id seen)
  };
  /// NOTIFY: the stream opens on `owner` unless it is open or ending on another connection, or the source stops.
  [[nodiscard]] Opening open(std::uint64_t stream, Owner owner, bool stopping);
  /// The cluster granted `owner`'s open(): the stream's ids rise to what the cluster knows of it (`cluster`), so
  /// that ids another worker took are skipped here. Not accepted when `owner` no longer holds the stream.
  [[nodiscard]] Opening adopt(std::uint64_t stream, Owner owner, const core::StreamMark& cluster);
  /// The cluster refused `owner`'s open(), or granted it to a connection that has gone: the stream is free again
  /// here. Returns whether the cluster may have it too (false while it is held: see Leaving).
  bool give_back(std::uint64_t stream, Owner owner);
  /// Every stream's marks as seek() gave them (for the cluster, before any connection).
  [[nodiscard]] std::vector<core::StreamMark> marks();

  /// EOS from `owner` with the last id it took (`none`: none). Returns the ACK to send at once when the commits
  /// already cover it (the stream is then free), else it waits for commit().
  [[nodiscard]] std::optional<connector::StreamAck> end(std::uint64_t stream, Owner owner, std::uint64_t last_seen);

  /// How release() lets go of a connection's streams.
  struct Leaving {
    /// On a cluster with checkpoints: a stream whose last id taken no commit covers yet is free here at once, but kept
    /// from the other workers until a commit covers it (another worker could otherwise acknowledge ids that only this
    /// worker's next checkpoint makes durable).
    bool hold_uncommitted = false;
    /// A stream the connection is still asking the cluster for stays with it: the answer frees it.
    std::optional<std::uint64_t> claiming;
  };
  struct Released {
    std::vector<core::StreamMark> for_cluster;  ///< free everywhere: release them in the cluster too
    std::size_t held = 0;                       ///< free here only, until a commit covers them
  };
  /// `owner` went away: its streams are free (but see `leaving`), their last ids kept (a connector re-NOTIFYing
  /// resumes after them). `last_seen`: the connection's own record of its open streams.
  Released release(Owner owner, const std::unordered_map<std::uint64_t, std::uint64_t>& last_seen,
                   const Leaving& leaving);

  struct Commit {
    std::vector<std::pair<Owner, connector::StreamAck>> acks;  ///< to send, by owner
    std::vector<core::StreamMark> freed;  ///< ended or held streams the commit covered: free in the cluster too
  };
  /// The runtime made `position` durable: the ACKs to send, by owner (an ended stream whose last id is covered is
  /// freed with its ACK). Only streams whose committed id advanced are acknowledged.
  [[nodiscard]] Commit commit(const SourcePosition& position);

 private:
  struct Stream {
    Owner owner = 0;
    bool ended = false;
    bool held = false;  ///< free here, kept from the cluster until a commit covers last_seen (Leaving)
    std::uint64_t committed = none;  ///< last id made durable
    std::uint64_t last_seen = none;  ///< last id taken, while no connection owns the stream
  };

  [[nodiscard]] static core::StreamMark mark_of(std::uint64_t id, const Stream& stream) {
    return core::StreamMark{.stream = id, .committed = stream.committed, .last_seen = stream.last_seen};
  }

  std::mutex mutex_;
  std::unordered_map<std::uint64_t, Stream> streams_;
};

/// a <= b where `none` (nothing) comes before every id.
[[nodiscard]] inline bool id_covered(std::uint64_t id, std::uint64_t upto) {
  return id == ConnectorStreams::none || (upto != ConnectorStreams::none && id <= upto);
}

}  // namespace roo::io
