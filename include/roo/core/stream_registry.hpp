#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace roo::core {

/// How far one connector stream got: the last message id made durable and the last one taken. `none` (U64 max, the
/// protocol's "no point of reference") comes before every id.
struct StreamMark {
  static constexpr std::uint64_t none = ~std::uint64_t{0};
  std::uint64_t stream = 0;
  std::uint64_t committed = none;
  std::uint64_t last_seen = none;
};

/// The later of two ids where `none` is before every id.
[[nodiscard]] inline std::uint64_t later_id(std::uint64_t a, std::uint64_t b) {
  if (a == StreamMark::none) {
    return b;
  }
  return b == StreamMark::none || a >= b ? a : b;
}

/// `into` raised to `other`'s ids (same stream).
inline void raise_mark(StreamMark& into, const StreamMark& other) {
  into.committed = later_id(into.committed, other.committed);
  into.last_seen = later_id(into.last_seen, other.last_seen);
}

/// What the cluster answers a claim: whether this worker now owns the stream, the stream's marks as the whole
/// cluster knows them (this worker's, raised by what other workers reported), and who holds it when refused.
struct StreamClaim {
  bool granted = false;
  StreamMark mark;
  std::string holder;  ///< refused: the worker that owns the stream ("" when the cluster could not be asked)
};

/// Which worker owns each connector stream, cluster-wide (spec §3.3: a stream is open on one connection of the
/// whole cluster; the initializer keeps the table), and how far each stream got on any worker, so that a connector
/// moving to another worker resumes where the cluster is. It is what io's connector sources need of the cluster;
/// the cluster implements it (Cluster::stream_registry) and the runtime hands it over.
///
/// Sources are named by their index in the app (the same on every worker). Threads: callable from any thread; the
/// answer runs on the cluster's thread: post away from it, and keep it cheap.
class StreamRegistry {
 public:
  virtual ~StreamRegistry() = default;
  /// Source `source` of this worker starts from `marks` (its restored positions). Claims on a source are answered
  /// once every worker's source has said this, so that a stream's marks are the highest any worker restored.
  virtual void restored(std::uint32_t source, std::vector<StreamMark> marks) = 0;
  /// This worker wants `mark.stream` of `source` (`mark`: what this worker knows of it). `answer` runs once: on the
  /// cluster's thread, or at once on the caller's when the cluster is gone (refused).
  virtual void claim(std::uint32_t source, StreamMark mark, std::function<void(StreamClaim)> answer) = 0;
  /// This worker let go of `mark.stream` (its connection left, or its end was acknowledged), having got to `mark`.
  virtual void release(std::uint32_t source, StreamMark mark) = 0;
};

}  // namespace roo::core
