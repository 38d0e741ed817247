#include "cluster_core.hpp"
#include "cluster_log.hpp"

#include <boost/asio/post.hpp>

namespace roo::cluster {
namespace {

constexpr std::chrono::seconds drop_log_interval{5};
constexpr std::size_t unknown_worker = static_cast<std::size_t>(-1);

}  // namespace

void ClusterCore::on_data_stream(std::unique_ptr<core::ByteStream> stream, core::ListenerSlot slot) {
  if (phase_ == Phase::closed) {
    return;
  }
  auto connection = make_connection(std::move(stream), "data", false);
  connection->hold(std::move(slot));
  auto from = std::make_shared<std::size_t>(unknown_worker);
  unidentified_.insert(connection);
  connection->start(
      authenticate_first(
          *connection, config_.cluster_secret, "data", core::SecretHandshake::Role::acceptor,
          [this, from](FramedConnection& c, const char* body, std::size_t size) {
            return on_inbound_frame(from, c, body, size);
          },
          acceptor_auth_callbacks("data")),
      [this, from](FramedConnection& c, const std::string& cause) {
        unidentified_.erase(c.shared_from_this());
        if (*from != unknown_worker && membership_ready_ && peers_[*from].inbound.get() == &c) {
          on_peer_closed(*from, cause);
        }
      });
}

FrameAction ClusterCore::on_inbound_frame(const std::shared_ptr<std::size_t>& from, FramedConnection& connection,
                                          const char* body, std::size_t size) {
  auto type = static_cast<std::uint8_t>(body[0]);
  if (*from == unknown_worker) {
    core::BigEndianReader reader(body + 1, size - 1);
    std::uint32_t index = reader.u32();
    if (type != static_cast<std::uint8_t>(MessageType::data_hello) || !reader.ok_and_done()) {
      connection.fail(is_known_type(type) ? "expected a data-hello message, got " + describe_type(type)
                                          : "unknown " + describe_type(type));
      return FrameAction::stop;
    }
    if (membership_ready_ && (index >= peers_.size() || index == membership_.self || peers_[index].inbound)) {
      connection.fail("data-hello from worker index " + std::to_string(index) + ", which is not a peer");
      return FrameAction::stop;
    }
    *from = index;
    auto shared = connection.shared_from_this();
    unidentified_.erase(shared);
    if (!membership_ready_) {
      // The peer learned the membership before we did: hold its frames until we know it. Its index is checked
      // then, and only then is it trusted: until that it keeps its listener place and its small frame limit.
      early_inbound_.emplace_back(index, shared);
      return FrameAction::pause;
    }
    trust(connection);
    peers_[index].inbound = shared;
    return FrameAction::proceed;
  }
  std::size_t index = *from;
  if (type == static_cast<std::uint8_t>(MessageType::marker)) {
    core::BigEndianReader reader(body + 1, size - 1);
    return on_marker(index, connection, reader);
  }
  if (type == static_cast<std::uint8_t>(MessageType::watermark)) {
    return on_watermark(index, connection, body + 1, size - 1);
  }
  if (type != static_cast<std::uint8_t>(MessageType::data)) {
    connection.fail(unexpected_message(type));
    return FrameAction::stop;
  }
  if (!is_live(index)) {
    return FrameAction::proceed;
  }
  peers_[index].waiting_batch = RemoteBatch{index, std::vector<char>(body + 1, body + size)};
  return push_inbound(index, connection) ? FrameAction::proceed : FrameAction::pause;
}

// Hands the peer's waiting batch to the inbound mailbox. When the mailbox is full it keeps a room callback and the
// channel pauses; the callback (run on the consumer's thread) only posts back here. A refused push leaves a copy of
// room_token in the mailbox only when the mailbox kept the callback, so a use count of one means it was closed.
bool ClusterCore::push_inbound(std::size_t from, FramedConnection& connection) {
  Peer& peer = peers_[from];
  if (!peer.room_token) {
    peer.room_token = std::make_shared<char>();
  }
  std::weak_ptr<ClusterCore> weak = weak_from_this();
  auto on_room = [weak, from, token = peer.room_token] {
    if (auto self = weak.lock()) {
      asio::post(self->strand_, [self, from] {
        Peer& waiting = self->peers_[from];
        if (!waiting.waiting_batch || !waiting.inbound || waiting.inbound->closed()) {
          return;
        }
        waiting.room_token = std::make_shared<char>();
        if (self->push_inbound(from, *waiting.inbound)) {
          waiting.inbound->resume();
        }
      });
    }
  };
  core::PushResult pushed = inbound_.try_push(*peer.waiting_batch, std::move(on_room));
  if (pushed == core::PushResult::accepted) {
    peer.waiting_batch.reset();
    return true;
  }
  if (pushed == core::PushResult::full) {
    return false;
  }
  cluster_logger()->warn("cluster: the inbound mailbox is closed; discarding a batch from worker '{}' ({})",
                         name_of(from), connection.peer());
  peer.waiting_batch.reset();
  return true;
}

FrameAction ClusterCore::on_outbound_frame(std::size_t to, FramedConnection& connection, const char* body, std::size_t size) {
  core::BigEndianReader reader(body + 1, size - 1);
  std::uint64_t bytes = reader.u64();
  if (static_cast<MessageType>(body[0]) != MessageType::ack || !reader.ok_and_done()) {
    connection.fail(unexpected_message(body[0]));
    return FrameAction::stop;
  }
  Peer& peer = peers_[to];
  bytes = std::min(bytes, peer.outstanding);
  peer.outstanding -= bytes;
  budgets_[to]->release(bytes);
  return FrameAction::proceed;
}

void ClusterCore::enqueue_data(std::size_t to, std::vector<char> bytes) {
  Peer& peer = peers_[to];
  if (!is_live(to) || !peer.outbound || phase_ == Phase::closed) {
    budgets_[to]->release(bytes.size());
    if (lost_[to]) {
      peer.unprocessed_at_loss += bytes.size();
      count_drop(to);
    }
    return;
  }
  peer.outstanding += bytes.size();
  const char type = static_cast<char>(MessageType::data);
  peer.outbound->write(&type, 1, std::move(bytes));
}

void ClusterCore::count_drop(std::size_t to) {
  Peer& peer = peers_[to];
  ++peer.dropped_unlogged;
  if (!peer.drop_timer_armed) {
    log_drops(to);
  }
}

// Logs the drops counted since the last line, then looks again in drop_log_interval while drops keep coming.
void ClusterCore::log_drops(std::size_t to) {
  Peer& peer = peers_[to];
  if (peer.dropped_unlogged == 0 || phase_ == Phase::closed) {
    peer.drop_timer_armed = false;
    return;
  }
  cluster_logger()->warn("cluster: dropped {} batches for lost worker '{}'", peer.dropped_unlogged, name_of(to));
  peer.dropped_unlogged = 0;
  peer.drop_timer_armed = true;
  peer.drop_timer->expires_after(drop_log_interval);
  peer.drop_timer->async_wait([self = shared_from_this(), to](const boost::system::error_code& error) {
    if (error) {
      self->peers_[to].drop_timer_armed = false;
      return;
    }
    self->log_drops(to);
  });
}

}  // namespace roo::cluster
