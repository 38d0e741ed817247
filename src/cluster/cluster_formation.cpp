// Cluster formation, what both sides do: start the listeners, take the membership, open the data channels to
// every peer, and go. The initializer's side is in cluster_formation_initializer.cpp, the joining worker's in
// cluster_formation_joining.cpp.
#include "cluster_core.hpp"
#include "cluster_log.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>

namespace roo::cluster {
namespace {

constexpr std::chrono::milliseconds data_retry_delay{100};

}  // namespace

boost::system::error_code resolve_peer(asio::io_context& io, const core::Endpoint& where,
                                       asio::ip::tcp::endpoint& out) {
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
  if (auto error = resolve_peer(io_, worker.data, endpoint)) {
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
