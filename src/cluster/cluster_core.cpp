#include "cluster_core.hpp"

#include "cluster_log.hpp"

#include "roo/core/error.hpp"

#include <boost/asio/post.hpp>

namespace roo::cluster {

ClusterCore::ClusterCore(asio::io_context& io, ClusterConfig config, core::BoundedMailbox<RemoteBatch>& inbound,
                         ClusterHooks hooks)
    : io_(io),
      config_(std::move(config)),
      inbound_(inbound),
      hooks_(std::move(hooks)),
      strand_(asio::make_strand(io)),
      initializer_address_(config_.control.to_string()),
      control_listener_(make_listener("the control channel")),
      data_listener_(make_listener("the data channel")),
      external_listener_(make_listener("the external channel")),
      join_timer_(strand_),
      retry_timer_(strand_),
      poll_timer_(strand_) {
  if (config_.initializer) {
    config_.worker_name = config_.worker_name.empty() ? "initializer" : config_.worker_name;
  }
}

// ---- entry points (any thread) ----

Membership ClusterCore::form() { return begin_forming().get(); }

std::future<Membership> ClusterCore::begin_forming() {
  if (form_called_) {
    throw core::Error("form the cluster: form() was already called");
  }
  form_called_ = true;
  try {
    if (config_.initializer) {
      bound_control_ = control_listener_->listen(config_.control);
    } else {
      bound_control_ = config_.my_control;
    }
    bound_data_ = data_listener_->listen(config_.data);
    if (config_.external) {
      bound_external_ = external_listener_->listen(*config_.external);
    }
  } catch (const core::Error&) {
    close_all();
    throw;
  }
  warn_if_exposed();
  auto formed = formed_promise_.get_future();
  asio::post(strand_, [self = shared_from_this()] { self->start_formation(); });
  return formed;
}

core::ByteBudget& ClusterCore::budget(std::size_t to) {
  if (!membership_ready_ || to >= budgets_.size()) {
    throw core::Error("use the data channel to worker " + std::to_string(to) + ": no such worker");
  }
  return *budgets_[to];
}

bool ClusterCore::send(std::size_t to, std::vector<char>&& bytes) {
  if (!membership_ready_ || to >= budgets_.size() || to == membership_.self) {
    throw core::Error("send to worker " + std::to_string(to) + ": no data channel leads there");
  }
  if (lost_[to]) {
    asio::post(strand_, [self = shared_from_this(), to] { self->count_drop(to); });
    return false;
  }
  budgets_[to]->add(bytes.size());
  sent_bytes_[to] += bytes.size();
  asio::post(strand_, [self = shared_from_this(), to, bytes = std::move(bytes)]() mutable {
    self->enqueue_data(to, std::move(bytes));
  });
  return true;
}

void ClusterCore::acknowledge(std::size_t from, std::size_t bytes) {
  if (!membership_ready_ || from >= budgets_.size()) {
    return;
  }
  processed_bytes_[from] += bytes;
  asio::post(strand_, [self = shared_from_this(), from, bytes] {
    auto& inbound = self->peers_[from].inbound;
    if (self->is_live(from) && inbound) {
      inbound->write(message(MessageType::ack).u64(bytes).take());
    }
  });
}

void ClusterCore::request_stop() {
  asio::post(strand_, [self = shared_from_this()] {
    if (self->phase_ == Phase::exited || self->phase_ == Phase::closed || self->stop_requested_) {
      return;
    }
    self->stop_requested_ = true;
    if (!self->formed_) {
      return;  // go() carries it on
    }
    if (self->config_.initializer) {
      self->begin_stop();
    } else if (self->is_live(0) && self->peers_[0].control) {
      self->peers_[0].control->write(message(MessageType::stop_request).take());
    }
  });
}

std::vector<bool> ClusterCore::workers_up() const {
  std::vector<bool> up;
  if (!membership_ready_) {
    return up;
  }
  for (std::size_t i = 0; i < budgets_.size(); ++i) {
    up.push_back(!lost_[i]);
  }
  return up;
}

std::vector<PeerShortfall> ClusterCore::shortfalls() const {
  std::vector<PeerShortfall> result;
  if (!membership_ready_) {
    return result;
  }
  // A worker hears the initializer's exit only once every live worker was drained, so a peer that closed while this
  // one was stopping, owing it nothing, had simply exited first. The initializer itself is never told so.
  bool exit_said = !config_.initializer && phase_ == Phase::exited && !alone_;
  for (std::size_t i = 0; i < peers_.size(); ++i) {
    if (i == membership_.self) {
      continue;
    }
    const Peer& peer = peers_[i];
    PeerShortfall shortfall{name_of(i), peer.unprocessed_at_loss, peer.lost_cause, peer.undrained};
    if (!peer.lost_cause) {
      shortfall.unprocessed_bytes = budgets_[i]->in_flight();
    } else if (exit_said && peer.lost_while_stopping && peer.unprocessed_at_loss == 0) {
      continue;  // it exited before this worker heard the exit: nothing of ours was left with it
    }
    if (shortfall.lost || shortfall.unprocessed_bytes > 0 || shortfall.undrained) {
      result.push_back(std::move(shortfall));
    }
  }
  return result;
}

void ClusterCore::stop(bool wait) {
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  asio::post(strand_, [self = shared_from_this(), done] {
    if (self->phase_ != Phase::closed) {
      self->close_all();
      self->fail_formation("form the cluster: the worker stopped before the cluster formed");
      self->phase_ = Phase::closed;
    }
    done->set_value();
  });
  if (wait && !strand_.running_in_this_thread() && !io_.stopped()) {
    (void)finished.wait_for(std::chrono::seconds(2));
  }
}

// ---- listeners, loss ----

void ClusterCore::warn_if_exposed() const {
  if (bound_external_ && config_.external_secret.empty() && !external_listener_->is_loopback()) {
    cluster_logger()->warn(
        "cluster: no external secret, and the external channel listens on {}, which is not a loopback address: any "
        "process that reaches it can query the cluster and shut it down; set --external-secret-file "
        "(docs/running.md, Security)",
        bound_external_->to_string());
  }
  if (!config_.cluster_secret.empty()) {
    return;
  }
  const core::Listener* exposed = nullptr;
  core::Endpoint where;
  if (config_.initializer && !control_listener_->is_loopback()) {
    exposed = control_listener_.get();
    where = bound_control_;
  } else if (!data_listener_->is_loopback()) {
    exposed = data_listener_.get();
    where = bound_data_;
  }
  if (exposed != nullptr) {
    cluster_logger()->warn(
        "cluster: no cluster secret, and this worker listens on {}, which is not a loopback address: any process "
        "that reaches it can join the cluster or send it data; set --cluster-secret-file (docs/running.md, "
        "Security)",
        where.to_string());
  }
}

std::shared_ptr<core::Listener> ClusterCore::make_listener(const std::string& what) {
  return core::Listener::make(strand_, core::ListenerConfig{.what = what,
                                                            .log_prefix = "cluster",
                                                            .logger = cluster_logger(),
                                                            .max_connections = config_.max_connections_per_port});
}

std::shared_ptr<FramedConnection> ClusterCore::make_connection(std::unique_ptr<core::ByteStream> stream,
                                                               const char* kind, bool trusted) {
  return std::make_shared<FramedConnection>(
      std::move(stream),
      core::FramedConnectionConfig{
          .kind = kind,
          .log_prefix = "cluster",
          .logger = cluster_logger(),
          .skip_empty_frames = std::string_view(kind) == "external",
          .max_frame_bytes = trusted ? max_frame_bytes
                             : std::string_view(kind) == "external" && config_.external_secret.empty()
                                 ? external_max_frame_bytes
                                 : core::untrusted_max_frame_bytes,
          .frame_timeout = trusted ? std::chrono::milliseconds(0) : config_.handshake_timeout,
          // Only external clients get an output-queue cap (a client that sends queries and reads no answers).
          // Control and data peers are members: an unauthenticated one is answered with a challenge and a refusal
          // at most, data is bounded by credit, and a cap on both ends of a member's channel could stall it (each
          // side, over its cap, stops reading what would let the other drain).
          .max_queued_bytes = std::string_view(kind) == "external" ? core::default_max_queued_bytes : 0});
}

void ClusterCore::accept_secured(Socket socket, core::ListenerSlot slot, const char* kind, StreamHandler next) {
  if (!config_.tls) {
    (this->*next)(std::make_unique<core::TcpStream>(std::move(socket)), std::move(slot));
    return;
  }
  std::string peer = core::describe_remote(socket);
  auto held = std::make_shared<core::ListenerSlot>(std::move(slot));
  handshake(config_.tls->wrap(std::move(socket), true),
            [this, kind, next, peer, held](std::unique_ptr<core::ByteStream> stream, const std::string& failure) {
              if (!stream) {
                cluster_logger()->warn("cluster: refused {} connection from {}: TLS failed: {}", kind, peer, failure);
                return;
              }
              (this->*next)(std::move(stream), std::move(*held));
            });
}

void ClusterCore::connect_secured(
    Socket socket, std::function<void(std::unique_ptr<core::ByteStream>, const std::string& failure)> done) {
  if (!config_.tls) {
    done(std::make_unique<core::TcpStream>(std::move(socket)), "");
    return;
  }
  handshake(config_.tls->wrap(std::move(socket), false), std::move(done));
}

// Runs the stream's handshake within handshake_timeout (a peer that stalls it is closed), then `done` on the strand.
void ClusterCore::handshake(std::unique_ptr<core::ByteStream> stream,
                            std::function<void(std::unique_ptr<core::ByteStream>, const std::string& failure)> done) {
  auto held = std::make_shared<std::unique_ptr<core::ByteStream>>(std::move(stream));
  auto timer = std::make_shared<Timer>(strand_);
  auto timed_out = std::make_shared<bool>(false);
  timer->expires_after(config_.handshake_timeout);
  timer->async_wait([held, timed_out](const boost::system::error_code& error) {
    if (!error && *held) {
      *timed_out = true;
      (*held)->close();
    }
  });
  (*held)->async_handshake([self = shared_from_this(), held, timer, timed_out,
                            done = std::move(done)](const boost::system::error_code& error) {
    timer->cancel();
    if (self->phase_ == Phase::closed) {
      return;
    }
    if (error) {
      (*held)->close();
      done(nullptr, *timed_out ? "no TLS handshake within " + std::to_string(self->config_.handshake_timeout.count()) +
                                     " ms"
                               : describe_error(error));
      return;
    }
    done(std::move(*held), "");
  });
}

void ClusterCore::trust(FramedConnection& connection, std::uint32_t max_frame) {
  connection.set_max_frame_bytes(max_frame);
  connection.set_frame_timeout(std::chrono::milliseconds(0));
  connection.release_slot();
}

void ClusterCore::fail_formation(const std::string& message) {
  if (!form_called_ || formed_) {
    return;
  }
  formed_ = true;  // the promise is settled either way
  close_all();
  phase_ = Phase::closed;
  formed_promise_.set_exception(std::make_exception_ptr(core::Error(message)));
}

void ClusterCore::close_all() {
  boost::system::error_code ignored;
  control_listener_->close();
  data_listener_->close();
  external_listener_->close();
  join_timer_.cancel();
  retry_timer_.cancel();
  poll_timer_.cancel();
  if (initializer_socket_) {
    initializer_socket_->close(ignored);
  }
  auto unidentified = std::move(unidentified_);
  unidentified_.clear();
  for (const auto& connection : unidentified) {
    connection->close();
  }
  for (auto& joiner : joiners_) {
    joiner.connection->close();
  }
  if (initializer_connection_) {
    initializer_connection_->close();
  }
  for (auto& peer : peers_) {
    for (auto* connection : {&peer.control, &peer.outbound, &peer.inbound}) {
      if (*connection) {
        (*connection)->close();
      }
    }
    if (peer.connecting) {
      peer.connecting->close(ignored);
    }
    peer.connect_timer->cancel();
    peer.drop_timer->cancel();
  }
}

bool ClusterCore::is_live(std::size_t index) const {
  return membership_ready_ && index < peers_.size() && !lost_[index];
}

void ClusterCore::on_peer_closed(std::size_t index, const std::string& cause) {
  if (phase_ == Phase::closed || phase_ == Phase::exited) {
    return;
  }
  if (!formed_) {
    std::string message = "worker '" + name_of(index) + "' left while the cluster was forming (" + cause + ")";
    fail_formation(config_.initializer ? "form the cluster: " + message : join_error(message));
    return;
  }
  mark_lost(index, cause);
}

void ClusterCore::mark_lost(std::size_t index, const std::string& cause) {
  if (!is_live(index) || index == membership_.self || phase_ == Phase::closed || phase_ == Phase::exited) {
    return;
  }
  Peer& peer = peers_[index];
  peer.lost_cause = cause;
  peer.lost_while_stopping = phase_ == Phase::stopping;
  peer.unprocessed_at_loss = peer.outstanding;
  lost_[index] = true;
  if (config_.roll_back_on_loss) {
    cluster_logger()->warn("cluster: lost worker '{}' ({}); the cluster rolls back to its last complete checkpoint",
                           name_of(index), cause);
  } else {
    cluster_logger()->warn(
        "cluster: lost worker '{}' ({}); its key groups are unreachable until the cluster is restarted",
        name_of(index), cause);
  }
  for (auto* connection : {&peer.control, &peer.outbound, &peer.inbound}) {
    if (*connection) {
      (*connection)->close();
    }
  }
  peer.waiting_batch.reset();
  budgets_[index]->release(peer.outstanding);
  peer.outstanding = 0;
  if (hooks_.on_peer_lost) {
    hooks_.on_peer_lost(index);
  }
  if (config_.roll_back_on_loss) {
    return;  // the runtime closes this cluster and forms a new one: nothing to tell, nothing to drain
  }
  if (config_.initializer) {
    for (std::size_t i = 1; i < peers_.size(); ++i) {
      if (is_live(i) && peers_[i].control) {
        peers_[i].control->write(message(MessageType::worker_lost).u32(static_cast<std::uint32_t>(index)).take());
      }
    }
    settle_gathers(index);
    if (poll_awaiting_.erase(index) > 0 && poll_awaiting_.empty()) {
      finish_round();
    }
  } else if (index == 0) {
    settle_gathers(index);
    drain_alone();
  }
}

}  // namespace roo::cluster
