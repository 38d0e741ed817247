#include "cluster_core.hpp"

#include "cluster_log.hpp"

#include "roo/core/error.hpp"

#include <boost/asio/post.hpp>

namespace roo::cluster {

std::shared_ptr<ClusterCore> ClusterCore::make(asio::io_context& io, ClusterConfig config,
                                               core::BoundedMailbox<core::PeerInput>& inbound, ClusterHooks hooks) {
  auto core = std::make_shared<ClusterCore>(io, std::move(config), inbound, std::move(hooks));
  std::weak_ptr<void> owner = core;
  core->connections_.anchor(owner);
  core->data_.anchor(owner);
  core->drain_.anchor(owner);
  core->formation_.anchor(owner);
  core->queries_.anchor(owner);
  core->rescale_.anchor(owner);
  return core;
}

ClusterCore::ClusterCore(asio::io_context& io, ClusterConfig config, core::BoundedMailbox<core::PeerInput>& inbound,
                         ClusterHooks hooks)
    : io_(io),
      config_(std::move(config)),
      hooks_(std::move(hooks)),
      strand_(asio::make_strand(io)),
      members_(config_),
      connections_(strand_, config_, life_),
      control_listener_(make_listener("the control channel")),
      data_listener_(make_listener("the data channel")),
      external_listener_(make_listener("the external channel")),
      checkpoints_(config_, hooks_, life_, members_),
      data_(strand_, config_, life_, members_, connections_, inbound,
            [this](std::size_t index, const std::string& cause) { on_peer_closed(index, cause); }),
      drain_(strand_, config_, hooks_, life_, members_, [this] { rescale_.turn_away_joiners(); }),
      queries_(strand_, config_, hooks_, life_, members_),
      external_(config_, life_, members_, connections_, queries_, rescale_, [this] { request_stop(); }),
      streams_(config_, life_, members_),
      formation_(
          io_, strand_, config_, life_, members_, connections_, data_, ports_,
          FormationRoutes{
              .worker_frame = [this](
                                  std::size_t index, FramedConnection& connection, const char* body,
                                  std::size_t size) { return on_worker_control_frame(index, connection, body, size); },
              .initializer_frame = [this](FramedConnection& connection, const char* body,
                                          std::size_t size) { return on_initializer_frame(connection, body, size); },
              .peer_closed = [this](std::size_t index, const std::string& cause) { on_peer_closed(index, cause); },
              .lose = [this](std::size_t index, const std::string& cause) { mark_lost(index, cause); },
              .admit = [this](const std::shared_ptr<FramedConnection>& connection,
                              const WorkerInfo& worker) { return rescale_.admit(connection, worker); },
              .channel_grown = [this](std::size_t index) { rescale_.on_channel_grown(index); },
              .formed = [this] { drain_.on_formed(); },
              .close_all = [this] { close_all(); },
          }),
      rescale_(strand_, config_, hooks_, life_, members_, connections_, data_, formation_),
      join_redirect_(config_, connections_, [this] { return formation_.initializer_address(); }) {
  if (config_.initializer) {
    config_.worker_name = config_.worker_name.empty() ? "initializer" : config_.worker_name;
  }
}

// ---- entry points (any thread) ----

Membership ClusterCore::form() { return begin_forming().get(); }

std::future<Membership> ClusterCore::begin_forming() {
  if (life_.form_called) {
    throw core::Error("form the cluster: form() was already called");
  }
  life_.form_called = true;
  try {
    if (config_.initializer) {
      ports_.control = control_listener_->listen(config_.control);
    } else {
      ports_.control = control_listener_->listen(config_.my_control);  // for joiners, sent on to the initializer
    }
    ports_.data = data_listener_->listen(config_.data);
    if (config_.external) {
      ports_.external = external_listener_->listen(*config_.external);
    }
  } catch (const core::Error&) {
    close_all();
    throw;
  }
  warn_if_exposed();
  auto formed = formation_.formed();
  asio::post(strand_, [self = shared_from_this()] { self->start(); });
  return formed;
}

core::ByteBudget& ClusterCore::budget(std::size_t to) {
  if (!members_.ready() || to >= members_.count()) {
    throw core::Error("use the data channel to worker " + std::to_string(to) + ": no such worker");
  }
  return members_.budget(to);
}

bool ClusterCore::send(std::size_t to, std::vector<char>&& bytes) {
  if (!members_.ready() || to >= members_.count() || to == members_.self()) {
    throw core::Error("send to worker " + std::to_string(to) + ": no data channel leads there");
  }
  if (members_.lost(to)) {
    asio::post(strand_, [self = shared_from_this(), to] { self->data_.count_drop(to); });
    return false;
  }
  members_.budget(to).add(bytes.size());
  members_.count_sent(to, bytes.size());
  asio::post(strand_, [self = shared_from_this(), to, bytes = std::move(bytes)]() mutable {
    self->data_.enqueue(to, std::move(bytes));
  });
  return true;
}

bool ClusterCore::send_key_groups(std::size_t to, std::vector<char>&& bytes) {
  if (!members_.ready() || to >= members_.count() || to == members_.self()) {
    throw core::Error("send key groups to worker " + std::to_string(to) + ": no data channel leads there");
  }
  if (members_.lost(to)) {
    return false;
  }
  members_.budget(to).add(bytes.size());
  members_.count_sent(to, bytes.size());
  asio::post(strand_, [self = shared_from_this(), to, bytes = std::move(bytes)]() mutable {
    self->data_.enqueue(to, std::move(bytes), MessageType::key_groups);
  });
  return true;
}

void ClusterCore::rescale_moved(std::uint64_t round) {
  asio::post(strand_, [self = shared_from_this(), round] { self->rescale_.moved(round); });
}

void ClusterCore::acknowledge(std::size_t from, std::size_t bytes) {
  if (!members_.ready() || from >= members_.count()) {
    return;
  }
  members_.count_processed(from, bytes);
  asio::post(strand_, [self = shared_from_this(), from, bytes] { self->data_.acknowledge(from, bytes); });
}

void ClusterCore::request_stop() {
  asio::post(strand_, [self = shared_from_this()] { self->drain_.request_stop(); });
}

bool ClusterCore::begin_checkpoint(std::uint64_t id) {
  if (!rescale_.hold_for_checkpoint(id)) {
    // What the membership change held back for a moment (it saw this checkpoint's hold) goes on.
    asio::post(strand_, [self = shared_from_this()] { self->rescale_.resume_held_back(); });
    return false;
  }
  asio::post(strand_, [self = shared_from_this(), id] {
    self->rescale_.checkpoint_began();
    self->checkpoints_.begin(id);
  });
  return true;
}

void ClusterCore::end_checkpoint(std::uint64_t id, bool complete) {
  asio::post(strand_, [self = shared_from_this(), id, complete] {
    if (complete) {
      self->checkpoints_.announce_complete(id);
    }
    // Only now: a change waiting on the strand would otherwise send its pause (and a leaver hand its sinks' output
    // over) before the workers heard the checkpoint complete, and commit it. A later checkpoint's hold stays.
    self->rescale_.release_checkpoint_hold(id);
    self->rescale_.checkpoint_over(complete);
  });
}

void ClusterCore::report_checkpoint_part(std::uint64_t id, bool ok, std::string text) {
  asio::post(strand_, [self = shared_from_this(), id, ok, text = std::move(text)] {
    self->checkpoints_.report_part(id, ok, text);
  });
}

void ClusterCore::send_marker(std::size_t to, std::uint64_t id) {
  if (!members_.ready() || to >= members_.count() || to == members_.self()) {
    throw core::Error("send a checkpoint marker to worker " + std::to_string(to) + ": no data channel leads there");
  }
  // Posted like send()'s bytes, so it leaves after every batch sent before it.
  asio::post(strand_, [self = shared_from_this(), to, id] { self->data_.send_marker(to, id); });
}

void ClusterCore::send_watermark(std::size_t to, std::vector<char> bytes) {
  if (!members_.ready() || to >= members_.count() || to == members_.self()) {
    throw core::Error("send watermarks to worker " + std::to_string(to) + ": no data channel leads there");
  }
  asio::post(strand_,
             [self = shared_from_this(), to, bytes = std::move(bytes)] { self->data_.send_watermark(to, bytes); });
}

void ClusterCore::gather(std::uint16_t type, std::function<void(GatheredByName)> done) {
  asio::post(strand_, [self = shared_from_this(), type, done = std::move(done)]() mutable {
    self->queries_.gather(type, [self, done = std::move(done)](GatheredAnswers answers) {
      done(self->queries_.by_name(std::move(answers)));
    });
  });
}

namespace {

/// Cluster::stream_registry's handle: each call posts to the core's strand while the core lives; once it is gone a
/// claim is refused (a rollback replaced the cluster; the source asking is being stopped too).
class ClusterStreamRegistry final : public core::StreamRegistry {
 public:
  ClusterStreamRegistry(std::weak_ptr<ClusterCore> core, Strand strand, StreamOwnership& streams)
      : core_(std::move(core)), strand_(std::move(strand)), streams_(streams) {}

  void restored(std::uint32_t source, std::vector<core::StreamMark> marks) override {
    if (auto alive = core_.lock()) {
      asio::post(strand_, [alive, streams = &streams_, source, marks = std::move(marks)]() mutable {
        streams->restored(source, std::move(marks));
      });
    }
  }
  void claim(std::uint32_t source, core::StreamMark mark, std::function<void(core::StreamClaim)> answer) override {
    auto alive = core_.lock();
    if (!alive) {
      answer(core::StreamClaim{.granted = false, .mark = mark, .holder = ""});
      return;
    }
    asio::post(strand_, [alive, streams = &streams_, source, mark, answer = std::move(answer)]() mutable {
      streams->claim(source, mark, std::move(answer));
    });
  }
  void release(std::uint32_t source, core::StreamMark mark) override {
    if (auto alive = core_.lock()) {
      asio::post(strand_, [alive, streams = &streams_, source, mark] { streams->release(source, mark); });
    }
  }

 private:
  std::weak_ptr<ClusterCore> core_;
  Strand strand_;
  StreamOwnership& streams_;  ///< lives as long as the core, which every posted call holds
};

}  // namespace

std::shared_ptr<core::StreamRegistry> ClusterCore::stream_registry() {
  return std::make_shared<ClusterStreamRegistry>(weak_from_this(), strand_, streams_);
}

std::vector<bool> ClusterCore::workers_up() const {
  std::vector<bool> up;
  if (!members_.ready()) {
    return up;
  }
  for (std::size_t i = 0; i < members_.count(); ++i) {
    up.push_back(!members_.lost(i));
  }
  return up;
}

void ClusterCore::stop(bool wait) {
  auto done = std::make_shared<std::promise<void>>();
  auto finished = done->get_future();
  asio::post(strand_, [self = shared_from_this(), done] {
    if (self->life_.phase != Phase::closed) {
      self->close_all();
      self->formation_.fail("form the cluster: the worker stopped before the cluster formed");
      self->life_.phase = Phase::closed;
    }
    done->set_value();
  });
  if (wait && !strand_.running_in_this_thread() && !io_.stopped()) {
    (void)finished.wait_for(std::chrono::seconds(2));
  }
}

// ---- listeners, closing (on the strand) ----

void ClusterCore::start() {
  if (life_.phase != Phase::idle) {
    return;
  }
  // The listeners live as long as this core; their handlers run on its strand.
  data_listener_->start([this](Socket socket, core::ListenerSlot slot) {
    connections_.accept(std::move(socket), std::move(slot), "data",
                        [this](std::unique_ptr<core::ByteStream> stream, core::ListenerSlot accepted) {
                          data_.on_stream(std::move(stream), std::move(accepted));
                        });
  });
  if (ports_.external) {
    external_listener_->start([this](Socket socket, core::ListenerSlot slot) {
      connections_.accept(std::move(socket), std::move(slot), "external",
                          [this](std::unique_ptr<core::ByteStream> stream, core::ListenerSlot accepted) {
                            external_.on_stream(std::move(stream), std::move(accepted));
                          });
    });
  }
  if (!config_.initializer) {
    join_redirect_.start(*control_listener_);
  }
  formation_.start(*control_listener_);
}

void ClusterCore::warn_if_exposed() const {
  if (ports_.external && config_.external_secret.empty() && !external_listener_->is_loopback()) {
    cluster_logger()->warn(
        "cluster: no external secret, and the external channel listens on {}, which is not a loopback address: any "
        "process that reaches it can query the cluster and shut it down; set --external-secret-file "
        "(docs/running.md, Security)",
        ports_.external->to_string());
  }
  if (!config_.cluster_secret.empty()) {
    return;
  }
  const core::Listener* exposed = nullptr;
  core::Endpoint where;
  if (!control_listener_->is_loopback()) {  // another worker's only sends joiners on, after the secret's handshake
    exposed = control_listener_.get();
    where = ports_.control;
  } else if (!data_listener_->is_loopback()) {
    exposed = data_listener_.get();
    where = ports_.data;
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

void ClusterCore::close_all() {
  streams_.close();
  control_listener_->close();
  data_listener_->close();
  external_listener_->close();
  formation_.close();
  drain_.close();
  rescale_.close();
  connections_.close_unidentified();
  members_.close_connections();
  data_.close();
}

}  // namespace roo::cluster
