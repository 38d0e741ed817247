// Cluster formation, what both sides do: take the membership, open the data channels to every peer, and go. The
// initializer's side is in initializer_formation.cpp, the joining worker's in joining_formation.cpp.
#include "formation.hpp"

#include "cluster_log.hpp"
#include "resolve_peer.hpp"

#include "roo/core/error.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>

namespace roo::cluster {
namespace {

constexpr std::chrono::milliseconds data_retry_delay{100};

}  // namespace

Formation::Formation(asio::io_context& io, Strand& strand, const ClusterConfig& config, Lifecycle& lifecycle,
                     MemberTable& members, ConnectionFactory& connections, DataChannels& data, const BoundPorts& ports,
                     FormationRoutes routes)
    : io_(io),
      strand_(strand),
      config_(config),
      lifecycle_(lifecycle),
      members_(members),
      connections_(connections),
      data_(data),
      routes_(std::move(routes)),
      initializer_address_(config.control.to_string()),
      initializer_(config, lifecycle, members, connections, ports, routes_, *this),
      joining_(io, strand, config, lifecycle, members, connections, ports, routes_, *this) {}

void Formation::anchor(std::weak_ptr<void> core) {
  joining_.anchor(core);
  OwnedByCore<Formation>::anchor(std::move(core));
}

std::string Formation::join_error(const std::string& reason) const {
  return "join the cluster at " + initializer_address_ + ": " + reason;
}

void Formation::start(core::Listener& control_listener) {
  if (config_.initializer) {
    initializer_.start(control_listener);
    return;
  }
  joining_.start();
}

void Formation::apply_membership(Membership membership) {
  members_.assign(std::move(membership));
  std::size_t count = members_.size();
  openings_.resize(count);
  for (auto& opening : openings_) {
    opening.connect_timer = std::make_unique<Timer>(strand_);
  }
  if (!config_.initializer) {
    members_.peer(0).control = joining_.initializer_connection();
  }
  data_deadline_ = std::chrono::steady_clock::now() + config_.join_timeout;
  data_.on_membership();
  bool alone = true;
  for (std::size_t i = 0; i < count; ++i) {
    if (i != members_.self() && !members_.departed(i)) {  // a joiner's membership names those that left, or were lost
      alone = false;
      connect_data(i);
    }
  }
  if (alone) {  // one worker (a checkpoint's layout may name others that left)
    go();
  }
}

bool Formation::opening() const {
  return lifecycle_.phase == Phase::forming || (lifecycle_.formed && lifecycle_.phase == Phase::running);
}

void Formation::grow(std::size_t index) {
  while (openings_.size() < members_.size()) {
    openings_.emplace_back();
    openings_.back().connect_timer = std::make_unique<Timer>(strand_);
  }
  data_deadline_ = std::chrono::steady_clock::now() + config_.join_timeout;
  connect_data(index);
}

void Formation::fail_channel(std::size_t index, const std::string& message) {
  if (lifecycle_.formed) {
    routes_.peer_closed(index, message);
    return;
  }
  fail(config_.initializer ? message : join_error(message));
}

void Formation::connect_data(std::size_t index) {
  Opening& peer = openings_[index];
  const WorkerInfo& worker = members_.membership().workers[index];
  auto retry = [this, index](const boost::system::error_code& error) {
    if (std::chrono::steady_clock::now() >= data_deadline_) {
      fail_channel(index, "open a data channel to worker '" + members_.name_of(index) + "' at " +
                              members_.membership().workers[index].data.to_string() + ": " + describe_error(error));
      return;
    }
    openings_[index].connect_timer->expires_after(data_retry_delay);
    openings_[index].connect_timer->async_wait([self = keep_alive(), index](const boost::system::error_code& e) {
      if (!e && self->opening() && !self->members_.lost(index)) {  // a joiner lost while its channels opened
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
  peer.connecting->async_connect(endpoint, [self = keep_alive(), index, retry](const boost::system::error_code& error) {
    if (!self->opening()) {
      return;
    }
    if (error) {
      retry(error);
      return;
    }
    self->on_data_connected(index);
  });
}

void Formation::on_data_connected(std::size_t index) {
  Opening& peer = openings_[index];
  Socket socket = std::move(*peer.connecting);
  peer.connecting.reset();
  connections_.connect(
      std::move(socket), [this, index](std::unique_ptr<core::ByteStream> stream, const std::string& failure) {
        if (!opening()) {
          return;
        }
        if (!stream) {
          fail_channel(index, "open a data channel to worker '" + members_.name_of(index) + "' at " +
                                  members_.membership().workers[index].data.to_string() + ": TLS failed: " + failure);
          return;
        }
        on_data_stream_out(index, std::move(stream));
      });
}

void Formation::on_data_stream_out(std::size_t index, std::unique_ptr<core::ByteStream> stream) {
  MemberTable::Peer& peer = members_.peer(index);
  auto connection = connections_.make(std::move(stream), "data", config_.cluster_secret.empty());
  peer.outbound = connection;
  AuthCallbacks callbacks;
  callbacks.on_authenticated = [this, index](FramedConnection& c) {
    ConnectionFactory::trust(c);
    c.write(message(MessageType::data_hello).u32(static_cast<std::uint32_t>(members_.self())).take());
    on_outbound_ready(index);
  };
  callbacks.on_failed = [this, index](FramedConnection&, AuthFailure failure, const std::string& detail) {
    fail_channel(index, "open a data channel to worker '" + members_.name_of(index) + "' at " +
                            members_.membership().workers[index].data.to_string() + ": " +
                            describe_auth_failure(failure, "it", detail));
  };
  auto on_frame = authenticate_first(
      *connection, config_.cluster_secret, "data", core::SecretHandshake::Role::connector,
      [this, index](FramedConnection& c, const char* body, std::size_t size) {
        return data_.on_outbound_frame(index, c, body, size);
      },
      std::move(callbacks));
  connection->start(std::move(on_frame),
                    [this, index](FramedConnection&, const std::string& cause) { routes_.peer_closed(index, cause); });
}

// Our data channel to `index` is authenticated (or, without a secret, open): once every one is, say so.
void Formation::on_outbound_ready(std::size_t index) {
  openings_[index].outbound_ready = true;
  if (lifecycle_.formed) {
    routes_.channel_grown(index);
    return;
  }
  for (std::size_t i = 0; i < members_.size(); ++i) {
    if (i != members_.self() && !members_.departed(i) && !openings_[i].outbound_ready) {
      return;
    }
  }
  if (config_.initializer) {
    initializer_.on_channels_up(0);
  } else {
    members_.peer(0).control->write(message(MessageType::channels_up).take());
  }
}

void Formation::go() {
  if (lifecycle_.formed) {
    return;
  }
  lifecycle_.formed = true;
  lifecycle_.phase = Phase::running;
  if (members_.membership().workers.size() > 1) {
    cluster_logger()->info("cluster: data channels up");
  }
  formed_promise_.set_value(members_.membership());
  routes_.formed();
}

void Formation::fail(const std::string& message, bool for_good) {
  if (!lifecycle_.form_called || lifecycle_.formed) {
    return;
  }
  lifecycle_.formed = true;  // the promise is settled either way
  routes_.close_all();
  lifecycle_.phase = Phase::closed;
  formed_promise_.set_exception(for_good ? std::make_exception_ptr(JoinRefusedForGood(message))
                                         : std::make_exception_ptr(core::Error(message)));
}

void Formation::close() {
  boost::system::error_code ignored;
  joining_.close();
  initializer_.close();
  for (auto& opening : openings_) {
    if (opening.connecting) {
      opening.connecting->close(ignored);
    }
    opening.connect_timer->cancel();
  }
}

}  // namespace roo::cluster
