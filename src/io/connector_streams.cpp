#include "connector_streams.hpp"

#include "roo/io/connector_source.hpp"

namespace roo::io {

PartitionId connector_stream_partition(std::uint64_t stream_id) {
  return PartitionId{static_cast<std::uint32_t>(stream_id >> 32), static_cast<std::int32_t>(stream_id & 0xffffffffU)};
}

std::uint64_t connector_stream_id(PartitionId partition) {
  return (std::uint64_t{partition.topic} << 32) | static_cast<std::uint32_t>(partition.partition);
}

ConnectorStreams::ConnectorStreams(const SourcePosition& position) {
  for (const auto& [partition, next] : position) {
    if (next > 0) {
      Stream& stream = streams_[connector_stream_id(partition)];
      stream.committed = static_cast<std::uint64_t>(next - 1);
      stream.last_seen = stream.committed;
    }
  }
}

ConnectorStreams::Opening ConnectorStreams::open(std::uint64_t stream, Owner owner, bool stopping) {
  std::lock_guard lock(mutex_);
  Stream& entry = streams_[stream];
  if (stopping || (entry.owner != 0 && entry.owner != owner)) {
    return Opening{};
  }
  entry.owner = owner;
  entry.ended = false;
  return Opening{.accepted = true, .point_of_ref = entry.committed, .last_seen = entry.last_seen};
}

ConnectorStreams::Opening ConnectorStreams::adopt(std::uint64_t stream, Owner owner, const core::StreamMark& cluster) {
  std::lock_guard lock(mutex_);
  Stream& entry = streams_[stream];
  if (entry.owner != owner) {
    return Opening{};
  }
  entry.committed = core::later_id(entry.committed, cluster.committed);
  entry.last_seen = core::later_id(entry.last_seen, cluster.last_seen);
  return Opening{.accepted = true, .point_of_ref = entry.committed, .last_seen = entry.last_seen};
}

bool ConnectorStreams::give_back(std::uint64_t stream, Owner owner) {
  std::lock_guard lock(mutex_);
  auto found = streams_.find(stream);
  if (found == streams_.end()) {
    return true;
  }
  if (found->second.owner == owner) {
    found->second.owner = 0;
    found->second.ended = false;
  }
  return !found->second.held;
}

std::vector<core::StreamMark> ConnectorStreams::marks() {
  std::lock_guard lock(mutex_);
  std::vector<core::StreamMark> marks;
  marks.reserve(streams_.size());
  for (const auto& [id, stream] : streams_) {
    marks.push_back(mark_of(id, stream));
  }
  return marks;
}

std::optional<connector::StreamAck> ConnectorStreams::end(std::uint64_t stream, Owner owner, std::uint64_t last_seen) {
  std::lock_guard lock(mutex_);
  auto found = streams_.find(stream);
  if (found == streams_.end() || found->second.owner != owner) {
    return std::nullopt;
  }
  Stream& entry = found->second;
  entry.last_seen = last_seen;
  if (id_covered(last_seen, entry.committed)) {
    entry.owner = 0;
    entry.ended = false;
    return connector::StreamAck{stream, last_seen == none ? entry.committed : last_seen};
  }
  entry.ended = true;
  return std::nullopt;
}

ConnectorStreams::Released ConnectorStreams::release(
    Owner owner, const std::unordered_map<std::uint64_t, std::uint64_t>& last_seen, const Leaving& leaving) {
  std::lock_guard lock(mutex_);
  Released released;
  for (auto& [id, stream] : streams_) {
    if (stream.owner != owner || leaving.claiming == id) {
      continue;
    }
    if (auto seen = last_seen.find(id); seen != last_seen.end()) {
      stream.last_seen = seen->second;
    }
    stream.owner = 0;
    stream.ended = false;
    if (leaving.hold_uncommitted && !id_covered(stream.last_seen, stream.committed)) {
      stream.held = true;  // commit() hands it to the cluster
      ++released.held;
    } else if (!stream.held) {
      released.for_cluster.push_back(mark_of(id, stream));
    } else {
      ++released.held;  // held since an earlier connection left, still not covered
    }
  }
  return released;
}

ConnectorStreams::Commit ConnectorStreams::commit(const SourcePosition& position) {
  Commit result;
  std::lock_guard lock(mutex_);
  for (const auto& [partition, next] : position) {
    if (next <= 0) {
      continue;
    }
    auto committed = static_cast<std::uint64_t>(next - 1);
    std::uint64_t id = connector_stream_id(partition);
    Stream& stream = streams_[id];
    if (stream.committed != none && committed <= stream.committed) {
      continue;
    }
    stream.committed = committed;
    if (stream.held && id_covered(stream.last_seen, committed)) {
      stream.held = false;
      if (stream.owner == 0) {
        result.freed.push_back(mark_of(id, stream));
      }
    }
    if (stream.owner == 0) {
      continue;
    }
    result.acks.emplace_back(stream.owner, connector::StreamAck{id, committed});
    if (stream.ended && id_covered(stream.last_seen, committed)) {
      stream.owner = 0;
      stream.ended = false;
      result.freed.push_back(mark_of(id, stream));
    }
  }
  return result;
}

}  // namespace roo::io
