// Cluster formation, the joining worker's side: reach the initializer (retrying until the join timeout), say
// hello, and follow its membership and go.
#include "joining_formation.hpp"

#include "cluster_log.hpp"
#include "formation.hpp"
#include "resolve_peer.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <sstream>

namespace roo::cluster {
namespace {

constexpr std::chrono::milliseconds max_retry_delay{2000};
constexpr std::chrono::seconds reach_warning_interval{10};

std::string seconds_text(std::chrono::milliseconds duration) {
  std::ostringstream out;
  out << static_cast<double>(duration.count()) / 1000.0;
  return out.str();
}

}  // namespace

JoiningFormation::JoiningFormation(asio::io_context& io, Strand& strand, const ClusterConfig& config,
                                   Lifecycle& lifecycle, const MemberTable& members, ConnectionFactory& connections,
                                   const BoundPorts& ports, const FormationRoutes& routes, Formation& formation)
    : io_(io),
      strand_(strand),
      config_(config),
      lifecycle_(lifecycle),
      members_(members),
      connections_(connections),
      ports_(ports),
      routes_(routes),
      formation_(formation),
      target_(config.control),
      initializer_address_(config.control.to_string()),
      join_timer_(strand),
      retry_timer_(strand) {}

void JoiningFormation::close() {
  boost::system::error_code ignored;
  join_timer_.cancel();
  retry_timer_.cancel();
  if (initializer_socket_) {
    initializer_socket_->close(ignored);
  }
  if (initializer_connection_) {
    initializer_connection_->close();
  }
}

void JoiningFormation::start() {
  lifecycle_.phase = Phase::joining;
  join_deadline_ = std::chrono::steady_clock::now() + config_.join_timeout;
  join_timer_.expires_at(join_deadline_);
  join_timer_.async_wait([self = keep_alive()](const boost::system::error_code& error) {
    if (!error && self->lifecycle_.phase == Phase::joining && !self->initializer_connection_) {
      self->formation_.fail(self->formation_.join_error("the initializer did not answer within " +
                                                        seconds_text(self->config_.join_timeout) + " s"));
    }
  });
  connect_initializer();
}

void JoiningFormation::connect_initializer() {
  asio::ip::tcp::endpoint endpoint;
  initializer_socket_ = std::make_unique<Socket>(strand_);
  if (auto error = resolve_peer(io_, target_, endpoint)) {
    on_initializer_connect_failed(error);
    return;
  }
  initializer_socket_->async_connect(endpoint, [self = keep_alive()](const boost::system::error_code& error) {
    if (self->lifecycle_.phase != Phase::joining) {
      return;
    }
    if (error) {
      self->on_initializer_connect_failed(error);
      return;
    }
    self->join_timer_.cancel();
    self->retry_delay_ = std::chrono::milliseconds(100);
    self->connections_.connect(
        std::move(*self->initializer_socket_),
        [raw = self.get()](std::unique_ptr<core::ByteStream> stream, const std::string& failure) {
          if (!stream) {
            raw->formation_.fail(raw->formation_.join_error("TLS with the initializer failed: " + failure));
            return;
          }
          raw->on_initializer_stream(std::move(stream));
        });
  });
}

void JoiningFormation::on_initializer_stream(std::unique_ptr<core::ByteStream> stream) {
  if (lifecycle_.phase != Phase::joining) {
    return;
  }
  auto self = keep_alive();
  {
    auto connection = connections_.make(std::move(stream), "control", config_.cluster_secret.empty());
    initializer_connection_ = connection;
    AuthCallbacks callbacks;
    callbacks.on_authenticated = [raw = self.get()](FramedConnection& c) {
      ConnectionFactory::trust(c);
      c.write(encode_hello(HelloMessage{raw->config_.worker_name, raw->ports_.control, raw->ports_.data,
                                        raw->ports_.external, raw->config_.app_fingerprint, raw->config_.joining}));
    };
    callbacks.on_failed = [raw = self.get()](FramedConnection&, AuthFailure failure, const std::string& detail) {
      raw->formation_.fail(raw->formation_.join_error(describe_auth_failure(failure, "the initializer", detail)));
    };
    auto on_frame = authenticate_first(
        *connection, self->config_.cluster_secret, "control", core::SecretHandshake::Role::connector,
        [raw = self.get()](FramedConnection& c, const char* body, std::size_t size) {
          return raw->routes_.initializer_frame(c, body, size);
        },
        std::move(callbacks));
    connection->start(std::move(on_frame), [raw = self.get()](FramedConnection& c, const std::string& cause) {
      if (raw->initializer_connection_.get() != &c) {
        return;  // one that sent us on (join-at)
      }
      if (raw->members_.ready()) {
        raw->routes_.peer_closed(0, cause);
        return;
      }
      if (raw->lifecycle_.phase != Phase::joining) {
        return;
      }
      auto now = std::chrono::steady_clock::now();
      if (now - raw->last_rejoin_warning_ >= reach_warning_interval) {
        raw->last_rejoin_warning_ = now;
        cluster_logger()->warn(
            "cluster: lost the connection to the initializer at {} before the cluster formed ({}); joining again",
            raw->initializer_address_, cause);
      }
      raw->initializer_connection_.reset();
      // Not at once: an initializer that turned this worker away (a cluster still rolling back) needs a moment.
      raw->retry_timer_.expires_after(raw->retry_delay_);
      raw->retry_delay_ = std::min(raw->retry_delay_ * 2, max_retry_delay);
      raw->retry_timer_.async_wait([self = raw->keep_alive()](const boost::system::error_code& error) {
        if (!error && self->lifecycle_.phase == Phase::joining) {
          self->start();
        }
      });
    });
  }
}

void JoiningFormation::on_initializer_connect_failed(const boost::system::error_code& error) {
  auto now = std::chrono::steady_clock::now();
  if (!warned_unreachable_ || now - last_reach_warning_ >= reach_warning_interval) {
    warned_unreachable_ = true;
    last_reach_warning_ = now;
    cluster_logger()->warn("cluster: cannot reach the initializer at {} ({}); retrying", initializer_address_,
                           describe_error(error));
  }
  retry_timer_.expires_after(retry_delay_);
  retry_delay_ = std::min(retry_delay_ * 2, max_retry_delay);
  retry_timer_.async_wait([self = keep_alive()](const boost::system::error_code& timer_error) {
    if (!timer_error && self->lifecycle_.phase == Phase::joining) {
      self->connect_initializer();
    }
  });
}

void JoiningFormation::on_reject(const std::string& reason) {
  cluster_logger()->debug("cluster: the initializer refused this worker: {}", reason);
  formation_.fail(formation_.join_error(reason), reason.starts_with(cannot_grow_refusal));
}

// A worker's control address was given to --join: it sent us to the initializer's. Once: the initializer never
// sends a worker on, so a second join-at means something else answers there.
void JoiningFormation::on_join_at(const core::Endpoint& initializer) {
  if (redirects_++ > 0) {
    formation_.fail(formation_.join_error("the worker at " + initializer_address_ + " sent this worker on to " +
                                          initializer.to_string() +
                                          " as the initializer, but it is not the initializer either"));
    return;
  }
  cluster_logger()->info("cluster: {} is a worker, not the initializer; joining at the initializer's {}",
                         initializer_address_, initializer.to_string());
  auto redirecting = std::move(initializer_connection_);
  redirecting->close();
  target_ = initializer;
  initializer_address_ = initializer.to_string();
  start();  // a fresh join timeout for the initializer
}

void JoiningFormation::on_membership(Membership membership) {
  lifecycle_.phase = Phase::forming;
  formation_.apply_membership(std::move(membership));
}

}  // namespace roo::cluster
