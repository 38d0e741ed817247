#include "cluster_core.hpp"
#include "cluster_log.hpp"

#include "roo/core/printable.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <sstream>

namespace roo::cluster {
namespace {

constexpr std::chrono::milliseconds max_retry_delay{2000};
constexpr std::chrono::seconds reach_warning_interval{10};
constexpr std::chrono::milliseconds data_retry_delay{100};

/// Resolves a peer's address (IPv4 preferred), on the calling thread: peers are named by IP or /etc/hosts names.
boost::system::error_code resolve(asio::io_context& io, const core::Endpoint& where, asio::ip::tcp::endpoint& out) {
  boost::system::error_code error;
  asio::ip::tcp::resolver resolver(io);
  auto results =
      resolver.resolve(where.host, std::to_string(where.port), asio::ip::tcp::resolver::numeric_service, error);
  if (error) {
    return error;
  }
  out = results.begin()->endpoint();
  for (const auto& entry : results) {
    if (entry.endpoint().address().is_v4()) {
      out = entry.endpoint();
      break;
    }
  }
  return error;
}

std::string seconds_text(std::chrono::milliseconds duration) {
  std::ostringstream out;
  out << static_cast<double>(duration.count()) / 1000.0;
  return out.str();
}

}  // namespace

std::string ClusterCore::join_error(const std::string& reason) const {
  return "join the cluster at " + initializer_address_ + ": " + reason;
}

void ClusterCore::start_formation() {
  if (phase_ != Phase::idle) {
    return;
  }
  // The listeners live as long as this core; their handlers run on its strand.
  data_listener_->start(
      [this](Socket socket, core::ListenerSlot slot) {
        accept_secured(std::move(socket), std::move(slot), "data", &ClusterCore::on_data_stream);
      });
  if (bound_external_) {
    external_listener_->start(
        [this](Socket socket, core::ListenerSlot slot) {
          accept_secured(std::move(socket), std::move(slot), "external", &ClusterCore::on_external_stream);
        });
  }
  if (config_.initializer) {
    phase_ = Phase::forming;
    control_listener_->start(
        [this](Socket socket, core::ListenerSlot slot) {
          accept_secured(std::move(socket), std::move(slot), "control", &ClusterCore::on_control_stream);
        });
    if (config_.worker_count <= 1) {
      complete_membership();
    }
    return;
  }
  start_join();
}

void ClusterCore::start_join() {
  phase_ = Phase::joining;
  join_deadline_ = std::chrono::steady_clock::now() + config_.join_timeout;
  join_timer_.expires_at(join_deadline_);
  join_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& error) {
    if (!error && self->phase_ == Phase::joining && !self->initializer_connection_) {
      self->fail_formation(
          self->join_error("the initializer did not answer within " + seconds_text(self->config_.join_timeout) + " s"));
    }
  });
  connect_initializer();
}

// ---- initializer side ----

void ClusterCore::on_control_stream(std::unique_ptr<core::ByteStream> stream, core::ListenerSlot slot) {
  if (phase_ == Phase::closed) {
    return;
  }
  auto connection = make_connection(std::move(stream), "control", false);
  connection->hold(std::move(slot));
  unidentified_.insert(connection);
  connection->start(
      authenticate_first(
          *connection, config_.cluster_secret, "control", core::SecretHandshake::Role::acceptor,
          [this](FramedConnection& c, const char* body, std::size_t size) {
            return on_unidentified_control(c, body, size);
          },
          acceptor_auth_callbacks("control")),
      [this](FramedConnection& c, const std::string& cause) {
        unidentified_.erase(c.shared_from_this());
        auto joiner =
            std::find_if(joiners_.begin(), joiners_.end(), [&](const Joiner& j) { return j.connection.get() == &c; });
        if (joiner != joiners_.end()) {
          cluster_logger()->info("cluster: worker '{}' left before the cluster formed ({})", joiner->info.name, cause);
          joiners_.erase(joiner);
          return;
        }
        for (std::size_t i = 1; i < peers_.size(); ++i) {
          if (peers_[i].control.get() == &c) {
            on_peer_closed(i, cause);
          }
        }
      });
}

FrameAction ClusterCore::on_unidentified_control(FramedConnection& connection, const char* body, std::size_t size) {
  auto type = static_cast<std::uint8_t>(body[0]);
  for (std::size_t i = 1; i < peers_.size(); ++i) {
    if (peers_[i].control.get() == &connection) {
      return on_worker_control_frame(i, connection, body, size);
    }
  }
  bool joined =
      std::any_of(joiners_.begin(), joiners_.end(), [&](const Joiner& j) { return j.connection.get() == &connection; });
  if (type != static_cast<std::uint8_t>(MessageType::hello) || joined) {
    connection.fail(unexpected_message(type));
    return FrameAction::stop;
  }
  auto hello = decode_hello(core::BigEndianReader(body + 1, size - 1));
  if (!hello) {
    connection.fail("malformed hello message");
    return FrameAction::stop;
  }
  on_hello(connection, *hello);
  return connection.closed() ? FrameAction::stop : FrameAction::proceed;
}

void ClusterCore::on_hello(FramedConnection& connection, const HelloMessage& hello) {
  std::string reason;
  bool member =
      hello.name == config_.worker_name ||
      std::any_of(joiners_.begin(), joiners_.end(), [&](const Joiner& j) { return j.info.name == hello.name; });
  for (const auto& worker : membership_.workers) {
    member = member || worker.name == hello.name;
  }
  std::string detail;  // for our log only: a refused peer learns nothing about the application
  if (hello.app_fingerprint != config_.app_fingerprint) {
    reason = "its application differs from the initializer's";
    detail = " (app fingerprint '" + core::printable(hello.app_fingerprint, 100) + "', the initializer's is '" +
             config_.app_fingerprint + "')";
  } else if (member) {
    reason = "a worker named '" + hello.name + "' is already a member";
  } else if (phase_ != Phase::forming || membership_ready_ || joiners_.size() + 1 >= config_.worker_count) {
    reason = "the cluster already has all of its " + std::to_string(config_.worker_count) + " workers";
  }
  auto shared = connection.shared_from_this();
  if (!reason.empty()) {
    cluster_logger()->warn("cluster: refused worker '{}' from {}: {}{}", core::printable(hello.name, 100),
                           connection.peer(), reason, detail);
    connection.write(message(MessageType::reject).str(reason).take());
    connection.when_flushed([this, shared] {
      unidentified_.erase(shared);
      shared->close();
    });
    return;
  }
  unidentified_.erase(shared);
  trust(connection);
  joiners_.push_back(Joiner{WorkerInfo{hello.name, hello.control, hello.data, hello.external}, shared});
  cluster_logger()->info("cluster: worker '{}' joined ({} of {})", hello.name, joiners_.size() + 1,
                         config_.worker_count);
  if (joiners_.size() + 1 == config_.worker_count) {
    complete_membership();
  }
}

void ClusterCore::complete_membership() {
  Membership membership;
  membership.key_groups = config_.key_groups;
  membership.workers.push_back(WorkerInfo{config_.worker_name, bound_control_, bound_data_, bound_external_});
  std::sort(joiners_.begin(), joiners_.end(),
            [](const Joiner& a, const Joiner& b) { return a.info.name < b.info.name; });
  for (const auto& joiner : joiners_) {
    membership.workers.push_back(joiner.info);
  }
  if (membership.workers.size() > 1) {
    cluster_logger()->info("cluster: all {} workers joined", membership.workers.size());
  }
  auto joiners = std::move(joiners_);
  joiners_.clear();
  apply_membership(membership);
  for (std::size_t i = 1; i < membership.workers.size(); ++i) {
    peers_[i].control = joiners[i - 1].connection;
    Membership theirs = membership;
    theirs.self = i;
    peers_[i].control->write(encode_membership(theirs));
  }
}

FrameAction ClusterCore::on_worker_control_frame(std::size_t index, FramedConnection& connection, const char* body,
                                                 std::size_t size) {
  auto type = static_cast<MessageType>(body[0]);
  core::BigEndianReader reader(body + 1, size - 1);
  switch (type) {
    case MessageType::channels_up:
      if (!formed_ && reader.ok_and_done()) {
        on_channels_up(index);
        return FrameAction::proceed;
      }
      break;
    case MessageType::stop_request:
      if (reader.ok_and_done()) {
        stop_requested_ = true;
        if (formed_) {
          begin_stop();
        }
        return FrameAction::proceed;
      }
      break;
    case MessageType::poll_reply:
      if (auto reply = decode_poll_reply(reader); reply && reply->sent.size() == peers_.size()) {
        on_poll_reply(index, *reply);
        return FrameAction::proceed;
      }
      break;
    case MessageType::local_answer: {
      std::uint64_t id = reader.u64();
      std::string json = reader.str();
      if (reader.ok_and_done()) {
        on_local_answer(index, id, std::move(json));
        return FrameAction::proceed;
      }
      break;
    }
    case MessageType::gather_request: {
      std::uint64_t id = reader.u64();
      std::uint16_t query = reader.u16();
      if (reader.ok_and_done()) {
        on_gather_request(index, id, query);
        return FrameAction::proceed;
      }
      break;
    }
    default:
      connection.fail(unexpected_message(body[0]));
      return FrameAction::stop;
  }
  connection.fail("malformed " + describe_type(body[0]) + " message");
  return FrameAction::stop;
}

void ClusterCore::on_channels_up(std::size_t index) {
  channels_up_.insert(index);
  std::size_t live = 0;
  for (std::size_t i = 0; i < peers_.size(); ++i) {
    live += is_live(i) ? 1 : 0;
  }
  if (channels_up_.size() == live) {
    for (std::size_t i = 1; i < peers_.size(); ++i) {
      if (is_live(i)) {
        peers_[i].control->write(message(MessageType::go).take());
      }
    }
    go();
  }
}

// ---- worker side ----

void ClusterCore::connect_initializer() {
  asio::ip::tcp::endpoint endpoint;
  initializer_socket_ = std::make_unique<Socket>(strand_);
  if (auto error = resolve(io_, config_.control, endpoint)) {
    on_initializer_connect_failed(error);
    return;
  }
  initializer_socket_->async_connect(endpoint, [self = shared_from_this()](const boost::system::error_code& error) {
    if (self->phase_ != Phase::joining) {
      return;
    }
    if (error) {
      self->on_initializer_connect_failed(error);
      return;
    }
    self->join_timer_.cancel();
    self->retry_delay_ = std::chrono::milliseconds(100);
    self->connect_secured(std::move(*self->initializer_socket_),
                          [raw = self.get()](std::unique_ptr<core::ByteStream> stream, const std::string& failure) {
                            if (!stream) {
                              raw->fail_formation(raw->join_error("TLS with the initializer failed: " + failure));
                              return;
                            }
                            raw->on_initializer_stream(std::move(stream));
                          });
  });
}

void ClusterCore::on_initializer_stream(std::unique_ptr<core::ByteStream> stream) {
  if (phase_ != Phase::joining) {
    return;
  }
  auto self = shared_from_this();
  {
    auto connection = make_connection(std::move(stream), "control", config_.cluster_secret.empty());
    initializer_connection_ = connection;
    AuthCallbacks callbacks;
    callbacks.on_authenticated = [raw = self.get()](FramedConnection& c) {
      trust(c);
      c.write(encode_hello(HelloMessage{raw->config_.worker_name, raw->bound_control_, raw->bound_data_,
                                        raw->bound_external_, raw->config_.app_fingerprint}));
    };
    callbacks.on_failed = [raw = self.get()](FramedConnection&, AuthFailure failure, const std::string& detail) {
      raw->fail_formation(raw->join_error(describe_auth_failure(failure, "the initializer", detail)));
    };
    auto on_frame = authenticate_first(
        *connection, self->config_.cluster_secret, "control", core::SecretHandshake::Role::connector,
        [raw = self.get()](FramedConnection& c, const char* body, std::size_t size) {
          return raw->on_initializer_frame(c, body, size);
        },
        std::move(callbacks));
    connection->start(std::move(on_frame), [raw = self.get()](FramedConnection&, const std::string& cause) {
      if (raw->membership_ready_) {
        raw->on_peer_closed(0, cause);
        return;
      }
      if (raw->phase_ != Phase::joining) {
        return;
      }
      cluster_logger()->warn(
          "cluster: lost the connection to the initializer at {} before the cluster formed ({}); joining again",
          raw->initializer_address_, cause);
      raw->initializer_connection_.reset();
      raw->start_join();
    });
  }
}

void ClusterCore::on_initializer_connect_failed(const boost::system::error_code& error) {
  auto now = std::chrono::steady_clock::now();
  if (!warned_unreachable_ || now - last_reach_warning_ >= reach_warning_interval) {
    warned_unreachable_ = true;
    last_reach_warning_ = now;
    cluster_logger()->warn("cluster: cannot reach the initializer at {} ({}); retrying", initializer_address_,
                           describe_error(error));
  }
  retry_timer_.expires_after(retry_delay_);
  retry_delay_ = std::min(retry_delay_ * 2, max_retry_delay);
  retry_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& timer_error) {
    if (!timer_error && self->phase_ == Phase::joining) {
      self->connect_initializer();
    }
  });
}

FrameAction ClusterCore::on_initializer_frame(FramedConnection& connection, const char* body, std::size_t size) {
  auto type = static_cast<MessageType>(body[0]);
  core::BigEndianReader reader(body + 1, size - 1);
  bool known = membership_ready_;
  switch (type) {
    case MessageType::reject: {
      std::string reason = reader.str();
      if (!known && reader.ok_and_done()) {
        cluster_logger()->debug("cluster: the initializer refused this worker: {}", reason);
        fail_formation(join_error(reason));
        return FrameAction::stop;
      }
      break;
    }
    case MessageType::membership:
      if (auto membership = decode_membership(reader); !known && membership) {
        phase_ = Phase::forming;
        apply_membership(std::move(*membership));
        return FrameAction::proceed;
      }
      break;
    case MessageType::go:
      if (known && !formed_ && reader.ok_and_done()) {
        go();
        return FrameAction::proceed;
      }
      break;
    case MessageType::stop:
      if (known && reader.ok_and_done()) {
        if (phase_ == Phase::running) {
          phase_ = Phase::stopping;
        }
        run_on_stop();
        return FrameAction::proceed;
      }
      break;
    case MessageType::poll: {
      std::uint64_t round = reader.u64();
      if (known && reader.ok_and_done()) {
        connection.write(encode_poll_reply(local_poll_reply(round)));
        return FrameAction::proceed;
      }
      break;
    }
    case MessageType::exit:
      if (known && reader.ok_and_done()) {
        phase_ = Phase::exited;
        run_on_exit();
        return FrameAction::proceed;
      }
      break;
    case MessageType::worker_lost: {
      std::uint32_t index = reader.u32();
      if (known && reader.ok_and_done()) {
        mark_lost(index, "the initializer lost it");
        return FrameAction::proceed;
      }
      break;
    }
    case MessageType::local_query: {
      std::uint64_t id = reader.u64();
      std::uint16_t query = reader.u16();
      if (known && reader.ok_and_done()) {
        connection.write(message(MessageType::local_answer).u64(id).str(local_answer(query)).take());
        return FrameAction::proceed;
      }
      break;
    }
    case MessageType::gather_reply: {
      std::uint64_t id = reader.u64();
      std::uint32_t count = reader.u32();
      GatheredAnswers answers;
      for (std::uint32_t i = 0; i < count && reader.ok_and_done() == false; ++i) {
        std::uint32_t index = reader.u32();
        answers[index] = reader.str();
      }
      if (known && reader.ok_and_done()) {
        if (auto asked = asked_.find(id); asked != asked_.end()) {
          auto done = std::move(asked->second.done);
          asked_.erase(asked);
          done(std::move(answers));
        }
        return FrameAction::proceed;
      }
      break;
    }
    default:
      connection.fail(unexpected_message(body[0]));
      return FrameAction::stop;
  }
  connection.fail("malformed or unexpected " + describe_type(body[0]) + " message");
  return FrameAction::stop;
}

// ---- both ----

void ClusterCore::apply_membership(Membership membership) {
  membership_ = std::move(membership);
  std::size_t count = membership_.workers.size();
  peers_.resize(count);
  lost_ = std::make_unique<std::atomic<bool>[]>(count);
  sent_bytes_ = std::make_unique<std::atomic<std::uint64_t>[]>(count);
  processed_bytes_ = std::make_unique<std::atomic<std::uint64_t>[]>(count);
  for (std::size_t i = 0; i < count; ++i) {
    lost_[i] = false;
    sent_bytes_[i] = 0;
    processed_bytes_[i] = 0;
    peers_[i].connect_timer = std::make_unique<Timer>(strand_);
    peers_[i].drop_timer = std::make_unique<Timer>(strand_);
    budgets_.push_back(std::make_unique<core::ByteBudget>(config_.max_unacknowledged_bytes));
  }
  if (!config_.initializer) {
    peers_[0].control = initializer_connection_;
  }
  membership_ready_ = true;
  data_deadline_ = std::chrono::steady_clock::now() + config_.join_timeout;
  auto early_inbound = std::move(early_inbound_);
  early_inbound_.clear();
  for (auto& [index, connection] : early_inbound) {
    if (connection->closed()) {
      continue;
    }
    if (index >= count || index == membership_.self || peers_[index].inbound) {
      connection->fail("data-hello from worker index " + std::to_string(index) + ", which is not a peer");
      continue;
    }
    trust(*connection);
    peers_[index].inbound = connection;
    connection->resume();
  }
  if (count == 1) {
    go();
    return;
  }
  for (std::size_t i = 0; i < count; ++i) {
    if (i != membership_.self) {
      connect_data(i);
    }
  }
}

void ClusterCore::connect_data(std::size_t index) {
  Peer& peer = peers_[index];
  const WorkerInfo& worker = membership_.workers[index];
  auto retry = [this, index](const boost::system::error_code& error) {
    if (std::chrono::steady_clock::now() >= data_deadline_) {
      std::string message = "open a data channel to worker '" + name_of(index) + "' at " +
                            membership_.workers[index].data.to_string() + ": " + describe_error(error);
      fail_formation(config_.initializer ? message : join_error(message));
      return;
    }
    peers_[index].connect_timer->expires_after(data_retry_delay);
    peers_[index].connect_timer->async_wait([self = shared_from_this(), index](const boost::system::error_code& e) {
      if (!e && self->phase_ == Phase::forming) {
        self->connect_data(index);
      }
    });
  };
  asio::ip::tcp::endpoint endpoint;
  if (auto error = resolve(io_, worker.data, endpoint)) {
    retry(error);
    return;
  }
  peer.connecting = std::make_unique<Socket>(strand_);
  peer.connecting->async_connect(endpoint,
                                 [self = shared_from_this(), index, retry](const boost::system::error_code& error) {
                                   if (self->phase_ != Phase::forming) {
                                     return;
                                   }
                                   if (error) {
                                     retry(error);
                                     return;
                                   }
                                   self->on_data_connected(index);
                                 });
}

void ClusterCore::on_data_connected(std::size_t index) {
  Peer& peer = peers_[index];
  Socket socket = std::move(*peer.connecting);
  peer.connecting.reset();
  connect_secured(std::move(socket), [this, index](std::unique_ptr<core::ByteStream> stream,
                                                   const std::string& failure) {
    if (phase_ != Phase::forming) {
      return;
    }
    if (!stream) {
      std::string message = "open a data channel to worker '" + name_of(index) + "' at " +
                            membership_.workers[index].data.to_string() + ": TLS failed: " + failure;
      fail_formation(config_.initializer ? message : join_error(message));
      return;
    }
    on_data_stream_out(index, std::move(stream));
  });
}

void ClusterCore::on_data_stream_out(std::size_t index, std::unique_ptr<core::ByteStream> stream) {
  Peer& peer = peers_[index];
  auto connection = make_connection(std::move(stream), "data", config_.cluster_secret.empty());
  peer.outbound = connection;
  AuthCallbacks callbacks;
  callbacks.on_authenticated = [this, index](FramedConnection& c) {
    trust(c);
    c.write(message(MessageType::data_hello).u32(static_cast<std::uint32_t>(membership_.self)).take());
    on_outbound_ready(index);
  };
  callbacks.on_failed = [this, index](FramedConnection&, AuthFailure failure, const std::string& detail) {
    std::string message = "open a data channel to worker '" + name_of(index) + "' at " +
                          membership_.workers[index].data.to_string() + ": " +
                          describe_auth_failure(failure, "it", detail);
    fail_formation(config_.initializer ? message : join_error(message));
  };
  auto on_frame = authenticate_first(
      *connection, config_.cluster_secret, "data", core::SecretHandshake::Role::connector,
      [this, index](FramedConnection& c, const char* body, std::size_t size) {
        return on_outbound_frame(index, c, body, size);
      },
      std::move(callbacks));
  connection->start(std::move(on_frame),
                    [this, index](FramedConnection&, const std::string& cause) { on_peer_closed(index, cause); });
}

// Our data channel to `index` is authenticated (or, without a secret, open): once every one is, say so.
void ClusterCore::on_outbound_ready(std::size_t index) {
  peers_[index].outbound_ready = true;
  for (std::size_t i = 0; i < peers_.size(); ++i) {
    if (i != membership_.self && !peers_[i].outbound_ready) {
      return;
    }
  }
  if (config_.initializer) {
    on_channels_up(0);
  } else {
    peers_[0].control->write(message(MessageType::channels_up).take());
  }
}

AuthCallbacks ClusterCore::acceptor_auth_callbacks(const char* kind) {
  AuthCallbacks callbacks;
  if (!config_.cluster_secret.empty()) {
    callbacks.on_authenticated = [](FramedConnection& c) { trust(c); };
  }
  callbacks.on_failed = [this, kind](FramedConnection& c, AuthFailure failure, const std::string& detail) {
    cluster_logger()->warn("cluster: refused {} connection from {}: {}", kind, c.peer(),
                           describe_auth_failure(failure, "it", detail));
    auto shared = c.shared_from_this();
    if (failure != AuthFailure::refused) {
      c.write(message(MessageType::auth_refused).str(refusal_text(failure)).take());
    }
    c.when_flushed([this, shared] {
      unidentified_.erase(shared);
      shared->close();
    });
  };
  return callbacks;
}

void ClusterCore::go() {
  if (formed_) {
    return;
  }
  formed_ = true;
  phase_ = Phase::running;
  if (membership_.workers.size() > 1) {
    cluster_logger()->info("cluster: data channels up");
  }
  formed_promise_.set_value(membership_);
  if (stop_requested_) {
    if (config_.initializer) {
      begin_stop();
    } else if (is_live(0)) {
      peers_[0].control->write(message(MessageType::stop_request).take());
    }
  }
}

}  // namespace roo::cluster
