// Checkpoints over the cluster (docs/resilience.md): the initializer asks every worker to take its part, each
// worker sends a marker on each data channel (in order with its data) and reports how its part went, and the
// initializer announces the checkpoint complete. What a part holds is the runtime's business: here it is text.
#include "cluster_core.hpp"
#include "cluster_log.hpp"

#include "roo/core/error.hpp"

#include <boost/asio/post.hpp>

namespace roo::cluster {

void ClusterCore::begin_checkpoint(std::uint64_t id) {
  asio::post(strand_, [self = shared_from_this(), id] {
    if (self->formed_ && self->config_.initializer) {
      self->to_workers(message(MessageType::checkpoint_begin).u64(id).take());
    }
  });
}

void ClusterCore::announce_checkpoint_complete(std::uint64_t id) {
  asio::post(strand_, [self = shared_from_this(), id] {
    if (self->formed_ && self->config_.initializer) {
      self->to_workers(message(MessageType::checkpoint_complete).u64(id).take());
    }
  });
}

void ClusterCore::send_marker(std::size_t to, std::uint64_t id) {
  if (!membership_ready_ || to >= budgets_.size() || to == membership_.self) {
    throw core::Error("send a checkpoint marker to worker " + std::to_string(to) + ": no data channel leads there");
  }
  // Posted like send()'s bytes, so it leaves after every batch sent before it.
  asio::post(strand_, [self = shared_from_this(), to, id] {
    Peer& peer = self->peers_[to];
    if (self->is_live(to) && peer.outbound && self->phase_ != Phase::closed) {
      peer.outbound->write(message(MessageType::marker).u64(id).take());
    }
  });
}

void ClusterCore::send_watermark(std::size_t to, std::vector<char> bytes) {
  if (!membership_ready_ || to >= budgets_.size() || to == membership_.self) {
    throw core::Error("send watermarks to worker " + std::to_string(to) + ": no data channel leads there");
  }
  asio::post(strand_, [self = shared_from_this(), to, bytes = std::move(bytes)] {
    Peer& peer = self->peers_[to];
    if (self->is_live(to) && peer.outbound && self->phase_ != Phase::closed) {
      auto frame = message(MessageType::watermark).take();
      frame.insert(frame.end(), bytes.begin(), bytes.end());
      peer.outbound->write(std::move(frame));
    }
  });
}

FrameAction ClusterCore::on_watermark(std::size_t from, FramedConnection& connection, const char* body,
                                      std::size_t size) {
  if (!is_live(from)) {
    return FrameAction::proceed;
  }
  RemoteBatch batch{from, std::vector<char>(body, body + size)};
  batch.kind = RemoteBatch::Kind::watermark;
  peers_[from].waiting_batch = std::move(batch);
  return push_inbound(from, connection) ? FrameAction::proceed : FrameAction::pause;
}

void ClusterCore::report_checkpoint_part(std::uint64_t id, bool ok, std::string text) {
  asio::post(strand_, [self = shared_from_this(), id, ok, text = std::move(text)] {
    if (self->formed_ && !self->config_.initializer && self->is_live(0) && self->peers_[0].control) {
      self->peers_[0].control->write(message(MessageType::checkpoint_part).u64(id).u8(ok ? 1 : 0).str(text).take());
    }
  });
}

void ClusterCore::to_workers(std::vector<char> frame) {
  for (std::size_t i = 1; i < peers_.size(); ++i) {
    if (is_live(i) && peers_[i].control) {
      peers_[i].control->write(std::vector<char>(frame));
    }
  }
}

bool ClusterCore::on_checkpoint_frame(MessageType type, core::BigEndianReader& reader) {
  std::uint64_t id = reader.u64();
  if (!reader.ok_and_done() || id == 0) {
    return false;
  }
  if (type == MessageType::checkpoint_begin && hooks_.on_checkpoint_begin) {
    hooks_.on_checkpoint_begin(id);
  } else if (type == MessageType::checkpoint_complete && hooks_.on_checkpoint_complete) {
    hooks_.on_checkpoint_complete(id);
  }
  return true;
}

bool ClusterCore::on_checkpoint_part(std::size_t index, core::BigEndianReader& reader) {
  std::uint64_t id = reader.u64();
  bool ok = reader.u8() != 0;
  std::string text = reader.str();
  if (!reader.ok_and_done() || id == 0) {
    return false;
  }
  if (hooks_.on_checkpoint_part) {
    hooks_.on_checkpoint_part(index, id, ok, std::move(text));
  }
  return true;
}

FrameAction ClusterCore::on_marker(std::size_t from, FramedConnection& connection, core::BigEndianReader& reader) {
  std::uint64_t id = reader.u64();
  if (!reader.ok_and_done() || id == 0) {
    connection.fail("malformed marker message");
    return FrameAction::stop;
  }
  if (!is_live(from)) {
    return FrameAction::proceed;
  }
  peers_[from].waiting_batch = RemoteBatch{from, {}, id, RemoteBatch::Kind::marker};
  return push_inbound(from, connection) ? FrameAction::proceed : FrameAction::pause;
}

void ClusterCore::on_returning_member(FramedConnection& connection, const std::string& name) {
  for (std::size_t i = 1; i < peers_.size(); ++i) {
    if (name_of(i) == name && is_live(i)) {
      cluster_logger()->info("cluster: worker '{}' is back from {}; this cluster closes and forms again", name,
                             connection.peer());
      mark_lost(i, "it was restarted");
    }
  }
  auto shared = connection.shared_from_this();
  unidentified_.erase(shared);
  shared->close();  // unanswered: it joins again, and finds the new cluster
}

}  // namespace roo::cluster
