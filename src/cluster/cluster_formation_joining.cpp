// Cluster formation, the joining worker's side: reach the initializer (retrying until the join timeout), say
// hello, and follow its membership and go.
#include "cluster_core.hpp"
#include "cluster_log.hpp"

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

void ClusterCore::connect_initializer() {
  asio::ip::tcp::endpoint endpoint;
  initializer_socket_ = std::make_unique<Socket>(strand_);
  if (auto error = resolve_peer(io_, config_.control, endpoint)) {
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
      raw->retry_timer_.async_wait([self = raw->shared_from_this()](const boost::system::error_code& error) {
        if (!error && self->phase_ == Phase::joining) {
          self->start_join();
        }
      });
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
    case MessageType::checkpoint_begin:
    case MessageType::checkpoint_complete:
      if (known && formed_ && on_checkpoint_frame(type, reader)) {
        return FrameAction::proceed;
      }
      break;
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

}  // namespace roo::cluster
