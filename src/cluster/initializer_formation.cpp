// Cluster formation, the initializer's side: identify each worker that connects to the control channel by its
// hello, refuse a wrong one, send the membership once all have come, and send go once every channel is up.
#include "initializer_formation.hpp"

#include "cluster_log.hpp"
#include "formation.hpp"

#include "roo/core/printable.hpp"

#include <algorithm>

namespace roo::cluster {

void InitializerFormation::start(core::Listener& control_listener) {
  lifecycle_.phase = Phase::forming;
  control_listener.start([this](Socket socket, core::ListenerSlot slot) {
    connections_.accept(std::move(socket), std::move(slot), "control",
                        [this](std::unique_ptr<core::ByteStream> stream, core::ListenerSlot accepted) {
                          on_control_stream(std::move(stream), std::move(accepted));
                        });
  });
  if (config_.layout) {
    std::string names;
    for (std::size_t i = 1; i < config_.layout->workers.size(); ++i) {
      if (!config_.layout->has_departed(i)) {
        names += (names.empty() ? "'" : ", '") + config_.layout->workers[i].name + "'";
      }
    }
    cluster_logger()->info("cluster: forms as checkpoint {} recorded it: {} workers{}", config_.restore_checkpoint,
                           expected_workers(), names.empty() ? "" : " (waiting for " + names + ")");
  }
  if (expected_workers() <= 1) {
    complete_membership();
  }
}

void InitializerFormation::close() {
  for (auto& joiner : joiners_) {
    joiner.connection->close();
  }
  for (auto& latecomer : latecomers_) {
    latecomer.connection->close();
  }
}

std::size_t InitializerFormation::expected_workers() const {
  if (!config_.layout) {
    return config_.worker_count;
  }
  std::size_t live = 1;
  for (std::size_t i = 1; i < config_.layout->workers.size(); ++i) {
    live += config_.layout->has_departed(i) ? 0 : 1;
  }
  return live;
}

bool InitializerFormation::in_layout(const std::string& name) const {
  const auto& workers = config_.layout->workers;
  for (std::size_t i = 1; i < workers.size(); ++i) {
    if (workers[i].name == name && !config_.layout->has_departed(i)) {
      return true;
    }
  }
  return false;
}

void InitializerFormation::admit_latecomers() {
  for (auto& latecomer : std::exchange(latecomers_, {})) {
    if (latecomer.connection->closed()) {
      continue;
    }
    std::string reason = routes_.admit(latecomer.connection, latecomer.info);
    if (!reason.empty()) {
      cluster_logger()->warn("cluster: refused worker '{}' from {}: {}", latecomer.info.name,
                             latecomer.connection->peer(), reason);
      latecomer.connection->write(message(MessageType::reject).str(reason).take());
      latecomer.connection->when_flushed([connection = latecomer.connection] { connection->close(); });
    }
  }
}

void InitializerFormation::on_control_stream(std::unique_ptr<core::ByteStream> stream, core::ListenerSlot slot) {
  if (lifecycle_.phase == Phase::closed) {
    return;
  }
  auto connection = connections_.make(std::move(stream), "control", false);
  connection->hold(std::move(slot));
  connections_.hold_unidentified(connection);
  connection->start(
      authenticate_first(
          *connection, config_.cluster_secret, "control", core::SecretHandshake::Role::acceptor,
          [this](FramedConnection& c, const char* body, std::size_t size) {
            return on_unidentified_control(c, body, size);
          },
          connections_.acceptor_auth_callbacks("control")),
      [this](FramedConnection& c, const std::string& cause) {
        connections_.forget_unidentified(c.shared_from_this());
        auto joiner =
            std::find_if(joiners_.begin(), joiners_.end(), [&](const Joiner& j) { return j.connection.get() == &c; });
        if (joiner != joiners_.end()) {
          cluster_logger()->info("cluster: worker '{}' left before the cluster formed ({})", joiner->info.name, cause);
          joiners_.erase(joiner);
          return;
        }
        for (std::size_t i = 1; i < members_.size(); ++i) {
          if (members_.peer(i).control.get() == &c) {
            routes_.peer_closed(i, cause);
          }
        }
      });
}

FrameAction InitializerFormation::on_unidentified_control(FramedConnection& connection, const char* body,
                                                          std::size_t size) {
  auto type = static_cast<std::uint8_t>(body[0]);
  for (std::size_t i = 1; i < members_.size(); ++i) {
    if (members_.peer(i).control.get() == &connection) {
      return routes_.worker_frame(i, connection, body, size);
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

void InitializerFormation::on_hello(FramedConnection& connection, const HelloMessage& hello) {
  std::string reason;
  bool member =
      hello.name == config_.worker_name ||
      std::any_of(joiners_.begin(), joiners_.end(), [&](const Joiner& j) { return j.info.name == hello.name; });
  const auto& workers = members_.membership().workers;
  bool left = false;  // a worker of this name left the cluster (a shrink)
  for (std::size_t i = 0; i < workers.size(); ++i) {
    member = member || (workers[i].name == hello.name && !members_.departed(i));  // a name that left may come back
    left = left || (workers[i].name == hello.name && members_.departed(i));
  }
  std::string detail;  // for our log only: a refused peer learns nothing about the application
  if (hello.app_fingerprint != config_.app_fingerprint) {
    reason = "its application differs from the initializer's";
    detail = " (app fingerprint '" + core::printable(hello.app_fingerprint, 100) + "', the initializer's is '" +
             config_.app_fingerprint + "')";
  } else if (member) {
    reason = "a worker named '" + hello.name + "' is already a member";
  } else if (lifecycle_.formed && lifecycle_.phase == Phase::running && hello.joining) {
    auto shared = connection.shared_from_this();
    reason = routes_.admit(shared, WorkerInfo{hello.name, hello.control, hello.data, hello.external});
    if (reason.empty()) {
      connections_.forget_unidentified(shared);
      ConnectionFactory::trust(connection);
      return;
    }
  } else if (config_.layout && lifecycle_.phase == Phase::forming && !members_.ready() && !in_layout(hello.name)) {
    // Not a worker of the checkpoint's cluster (it joined after, or is new): it joins once the cluster formed.
    auto shared = connection.shared_from_this();
    connections_.forget_unidentified(shared);
    ConnectionFactory::trust(connection);
    cluster_logger()->info("cluster: worker '{}' is not in checkpoint {}'s cluster; it joins once the cluster formed",
                           hello.name, config_.restore_checkpoint);
    latecomers_.push_back(Joiner{WorkerInfo{hello.name, hello.control, hello.data, hello.external}, shared});
    return;
  } else if (left && lifecycle_.formed) {
    // Restarted with the command it was first started with: it comes back as a joiner, or not at all.
    reason = "worker '" + hello.name + "' left the cluster; to take part again, start it with --join <a worker's "
             "control address>";
  } else if (lifecycle_.phase != Phase::forming || members_.ready() || joiners_.size() + 1 >= expected_workers()) {
    reason = "the cluster already has all of its " + std::to_string(expected_workers()) + " workers";
  }
  if (member && reason.find("already a member") != std::string::npos && config_.roll_back_on_loss &&
      lifecycle_.formed) {
    on_returning_member(connection, hello.name);
    return;
  }
  auto shared = connection.shared_from_this();
  if (!reason.empty()) {
    cluster_logger()->warn("cluster: refused worker '{}' from {}: {}{}", core::printable(hello.name, 100),
                           connection.peer(), reason, detail);
    connection.write(message(MessageType::reject).str(reason).take());
    connection.when_flushed([this, shared] {
      connections_.forget_unidentified(shared);
      shared->close();
    });
    return;
  }
  connections_.forget_unidentified(shared);
  ConnectionFactory::trust(connection);
  joiners_.push_back(Joiner{WorkerInfo{hello.name, hello.control, hello.data, hello.external}, shared});
  cluster_logger()->info("cluster: worker '{}' joined ({} of {})", hello.name, joiners_.size() + 1, expected_workers());
  if (joiners_.size() + 1 == expected_workers()) {
    complete_membership();
  }
}

void InitializerFormation::on_returning_member(FramedConnection& connection, const std::string& name) {
  for (std::size_t i = 1; i < members_.size(); ++i) {
    if (members_.name_of(i) == name && members_.is_live(i)) {
      cluster_logger()->info("cluster: worker '{}' is back from {}; this cluster closes and forms again", name,
                             connection.peer());
      routes_.lose(i, "it was restarted");
    }
  }
  auto shared = connection.shared_from_this();
  connections_.forget_unidentified(shared);
  shared->close();  // unanswered: it joins again, and finds the new cluster
}

// Without a layout: the initializer first, the others sorted by name. With one: every worker at its index in it (a
// departed worker keeps its place, with its name only), owners as it recorded them.
void InitializerFormation::complete_membership() {
  Membership membership;
  std::vector<std::shared_ptr<FramedConnection>> controls(1);
  if (config_.layout) {
    membership.workers = config_.layout->workers;
    membership.departed = config_.layout->departed;
    membership.owners = config_.layout->owners;
    membership.version = config_.layout->version;
    controls.resize(membership.workers.size());
    for (auto& joiner : joiners_) {
      for (std::size_t i = 1; i < membership.workers.size(); ++i) {
        if (membership.workers[i].name == joiner.info.name && !membership.has_departed(i)) {
          membership.workers[i] = joiner.info;
          controls[i] = joiner.connection;
        }
      }
    }
  } else {
    std::sort(joiners_.begin(), joiners_.end(),
              [](const Joiner& a, const Joiner& b) { return a.info.name < b.info.name; });
    membership.workers.emplace_back();
    for (const auto& joiner : joiners_) {
      membership.workers.push_back(joiner.info);
      controls.push_back(joiner.connection);
    }
  }
  membership.workers[0] = WorkerInfo{config_.worker_name, ports_.control, ports_.data, ports_.external};
  membership.key_groups = config_.key_groups;
  membership.restore_checkpoint = config_.restore_checkpoint;
  if (membership.workers.size() > 1) {
    cluster_logger()->info("cluster: all {} workers joined", joiners_.size() + 1);
  }
  joiners_.clear();
  formation_.apply_membership(membership);
  for (std::size_t i = 1; i < membership.workers.size(); ++i) {
    if (controls[i]) {
      members_.peer(i).control = controls[i];
      Membership theirs = membership;
      theirs.self = i;
      members_.peer(i).control->write(encode_membership(theirs));
    }
  }
}

void InitializerFormation::on_channels_up(std::size_t index) {
  channels_up_.insert(index);
  std::size_t live = 0;
  for (std::size_t i = 0; i < members_.size(); ++i) {
    live += members_.is_live(i) ? 1 : 0;
  }
  if (channels_up_.size() == live) {
    for (std::size_t i = 1; i < members_.size(); ++i) {
      if (members_.is_live(i)) {
        members_.peer(i).control->write(message(MessageType::go).take());
      }
    }
    formation_.go();
    admit_latecomers();
  }
}

}  // namespace roo::cluster
