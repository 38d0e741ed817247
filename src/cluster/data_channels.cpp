#include "data_channels.hpp"

#include "cluster_log.hpp"
#include "wire.hpp"

#include <boost/asio/post.hpp>

namespace roo::cluster {
namespace {

constexpr std::chrono::seconds drop_log_interval{5};
constexpr std::size_t unknown_worker = static_cast<std::size_t>(-1);

}  // namespace

void DataChannels::on_stream(std::unique_ptr<core::ByteStream> stream, core::ListenerSlot slot) {
  if (lifecycle_.phase == Phase::closed) {
    return;
  }
  auto connection = connections_.make(std::move(stream), "data", false);
  connection->hold(std::move(slot));
  auto from = std::make_shared<std::size_t>(unknown_worker);
  connections_.hold_unidentified(connection);
  connection->start(
      authenticate_first(
          *connection, config_.cluster_secret, "data", core::SecretHandshake::Role::acceptor,
          [this, from](FramedConnection& c, const char* body, std::size_t size) {
            return on_inbound_frame(from, c, body, size);
          },
          connections_.acceptor_auth_callbacks("data")),
      [this, from](FramedConnection& c, const std::string& cause) {
        connections_.forget_unidentified(c.shared_from_this());
        if (*from != unknown_worker && members_.ready() && *from < members_.size() &&
            members_.peer(*from).inbound.get() == &c) {
          peer_closed_(*from, cause);
        }
      });
}

FrameAction DataChannels::on_inbound_frame(const std::shared_ptr<std::size_t>& from, FramedConnection& connection,
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
    if (members_.ready() && (index >= members_.size() || index == members_.self() || members_.peer(index).inbound)) {
      connection.fail("data-hello from worker index " + std::to_string(index) + ", which is not a peer");
      return FrameAction::stop;
    }
    *from = index;
    auto shared = connection.shared_from_this();
    connections_.forget_unidentified(shared);
    if (!members_.ready()) {
      // The peer learned the membership before we did: hold its frames until we know it. Its index is checked
      // then, and only then is it trusted: until that it keeps its listener place and its small frame limit.
      early_inbound_.emplace_back(index, shared);
      return FrameAction::pause;
    }
    ConnectionFactory::trust(connection);
    members_.peer(index).inbound = shared;
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
  bool key_groups = type == static_cast<std::uint8_t>(MessageType::key_groups);
  if (type != static_cast<std::uint8_t>(MessageType::data) && !key_groups) {
    connection.fail(unexpected_message(type));
    return FrameAction::stop;
  }
  if (!members_.is_connected(index)) {
    return FrameAction::proceed;
  }
  std::vector<char> bytes(body + 1, body + size);
  peers_[index].waiting_input =
      key_groups ? core::PeerInput{core::InputChannel::peer(index), core::KeyGroupState{std::move(bytes)}}
                 : core::PeerInput{core::InputChannel::peer(index), core::PeerData{std::move(bytes)}};
  return push_inbound(index, connection) ? FrameAction::proceed : FrameAction::pause;
}

// Hands the peer's waiting input to the inbound mailbox. When the mailbox is full it keeps a room callback and the
// channel pauses; the callback (run on the consumer's thread) only posts back here. A refused push leaves a copy of
// room_token in the mailbox only when the mailbox kept the callback, so a use count of one means it was closed.
bool DataChannels::push_inbound(std::size_t from, FramedConnection& connection) {
  PeerState& peer = peers_[from];
  if (!peer.room_token) {
    peer.room_token = std::make_shared<char>();
  }
  std::weak_ptr<DataChannels> weak = this->weak();
  auto on_room = [weak, from, token = peer.room_token] {
    if (auto self = weak.lock()) {
      asio::post(self->strand_, [self, from] {
        PeerState& waiting = self->peers_[from];
        const auto& inbound = self->members_.peer(from).inbound;
        if (!waiting.waiting_input || !inbound || inbound->closed()) {
          return;
        }
        waiting.room_token = std::make_shared<char>();
        if (self->push_inbound(from, *inbound)) {
          inbound->resume();
        }
      });
    }
  };
  core::PushResult pushed = inbound_.try_push(*peer.waiting_input, std::move(on_room));
  if (pushed == core::PushResult::accepted) {
    peer.waiting_input.reset();
    return true;
  }
  if (pushed == core::PushResult::full) {
    return false;
  }
  cluster_logger()->warn("cluster: the inbound mailbox is closed; discarding a batch from worker '{}' ({})",
                         members_.name_of(from), connection.peer());
  peer.waiting_input.reset();
  return true;
}

FrameAction DataChannels::on_outbound_frame(std::size_t to, FramedConnection& connection, const char* body,
                                             std::size_t size) {
  core::BigEndianReader reader(body + 1, size - 1);
  std::uint64_t bytes = reader.u64();
  if (static_cast<MessageType>(body[0]) != MessageType::ack || !reader.ok_and_done()) {
    connection.fail(unexpected_message(body[0]));
    return FrameAction::stop;
  }
  MemberTable::Peer& peer = members_.peer(to);
  bytes = std::min(bytes, peer.outstanding);
  peer.outstanding -= bytes;
  members_.budget(to).release(bytes);
  return FrameAction::proceed;
}

void DataChannels::enqueue(std::size_t to, std::vector<char> bytes, MessageType type) {
  MemberTable::Peer& peer = members_.peer(to);
  if (!members_.is_connected(to) || !peer.outbound || lifecycle_.phase == Phase::closed) {
    members_.budget(to).release(bytes.size());
    if (members_.lost(to)) {
      peer.unprocessed_at_loss += bytes.size();
      count_drop(to);
    }
    return;
  }
  peer.outstanding += bytes.size();
  const char type_byte = static_cast<char>(type);
  peer.outbound->write(&type_byte, 1, std::move(bytes));
}

void DataChannels::count_drop(std::size_t to) {
  PeerState& peer = peers_[to];
  ++peer.dropped_unlogged;
  if (!peer.drop_timer_armed) {
    log_drops(to);
  }
}

// Logs the drops counted since the last line, then looks again in drop_log_interval while drops keep coming.
void DataChannels::log_drops(std::size_t to) {
  PeerState& peer = peers_[to];
  if (peer.dropped_unlogged == 0 || lifecycle_.phase == Phase::closed) {
    peer.drop_timer_armed = false;
    return;
  }
  cluster_logger()->warn("cluster: dropped {} batches for lost worker '{}'", peer.dropped_unlogged,
                         members_.name_of(to));
  peer.dropped_unlogged = 0;
  peer.drop_timer_armed = true;
  peer.drop_timer->expires_after(drop_log_interval);
  peer.drop_timer->async_wait([self = keep_alive(), to](const boost::system::error_code& error) {
    if (error) {
      self->peers_[to].drop_timer_armed = false;
      return;
    }
    self->log_drops(to);
  });
}

void DataChannels::on_membership() { on_members_added(); }

void DataChannels::on_members_added() {
  std::size_t count = members_.size();
  while (peers_.size() < count) {
    peers_.emplace_back();
    peers_.back().drop_timer = std::make_unique<Timer>(strand_);
  }
  auto early_inbound = std::move(early_inbound_);
  early_inbound_.clear();
  for (auto& [index, connection] : early_inbound) {
    if (connection->closed()) {
      continue;
    }
    if (index >= count || index == members_.self() || members_.peer(index).inbound) {
      connection->fail("data-hello from worker index " + std::to_string(index) + ", which is not a peer");
      continue;
    }
    ConnectionFactory::trust(*connection);
    members_.peer(index).inbound = connection;
    connection->resume();
  }
}

void DataChannels::acknowledge(std::size_t from, std::size_t bytes) {
  auto& inbound = members_.peer(from).inbound;
  if (members_.is_connected(from) && inbound) {
    inbound->write(message(MessageType::ack).u64(bytes).take());
  }
}

void DataChannels::send_marker(std::size_t to, std::uint64_t id) {
  MemberTable::Peer& peer = members_.peer(to);
  if (members_.is_connected(to) && peer.outbound && lifecycle_.phase != Phase::closed) {
    peer.outbound->write(message(MessageType::marker).u64(id).take());
  }
}

void DataChannels::send_watermark(std::size_t to, const std::vector<char>& bytes) {
  MemberTable::Peer& peer = members_.peer(to);
  if (members_.is_connected(to) && peer.outbound && lifecycle_.phase != Phase::closed) {
    auto frame = message(MessageType::watermark).take();
    frame.insert(frame.end(), bytes.begin(), bytes.end());
    peer.outbound->write(std::move(frame));
  }
}

FrameAction DataChannels::on_marker(std::size_t from, FramedConnection& connection, core::BigEndianReader& reader) {
  std::uint64_t id = reader.u64();
  if (!reader.ok_and_done() || id == 0) {
    connection.fail("malformed marker message");
    return FrameAction::stop;
  }
  if (!members_.is_connected(from)) {
    return FrameAction::proceed;
  }
  peers_[from].waiting_input = core::PeerInput{core::InputChannel::peer(from), core::CheckpointMarker{id}};
  return push_inbound(from, connection) ? FrameAction::proceed : FrameAction::pause;
}

FrameAction DataChannels::on_watermark(std::size_t from, FramedConnection& connection, const char* body,
                                       std::size_t size) {
  if (!members_.is_connected(from)) {
    return FrameAction::proceed;
  }
  peers_[from].waiting_input =
      core::PeerInput{core::InputChannel::peer(from), core::Watermarks{std::vector<char>(body, body + size)}};
  return push_inbound(from, connection) ? FrameAction::proceed : FrameAction::pause;
}

void DataChannels::close() {
  for (auto& peer : peers_) {
    peer.drop_timer->cancel();
  }
}

}  // namespace roo::cluster
