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
  if (config_.worker_count <= 1) {
    complete_membership();
  }
}

void InitializerFormation::close() {
  for (auto& joiner : joiners_) {
    joiner.connection->close();
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
  for (std::size_t i = 0; i < workers.size(); ++i) {
    member = member || (workers[i].name == hello.name && !members_.departed(i));  // a name that left may come back
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
  } else if (lifecycle_.phase != Phase::forming || members_.ready() || joiners_.size() + 1 >= config_.worker_count) {
    reason = "the cluster already has all of its " + std::to_string(config_.worker_count) + " workers";
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
  cluster_logger()->info("cluster: worker '{}' joined ({} of {})", hello.name, joiners_.size() + 1,
                         config_.worker_count);
  if (joiners_.size() + 1 == config_.worker_count) {
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

void InitializerFormation::complete_membership() {
  Membership membership;
  membership.key_groups = config_.key_groups;
  membership.restore_checkpoint = config_.restore_checkpoint;
  membership.workers.push_back(WorkerInfo{config_.worker_name, ports_.control, ports_.data, ports_.external});
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
  formation_.apply_membership(membership);
  for (std::size_t i = 1; i < membership.workers.size(); ++i) {
    members_.peer(i).control = joiners[i - 1].connection;
    Membership theirs = membership;
    theirs.self = i;
    members_.peer(i).control->write(encode_membership(theirs));
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
  }
}

}  // namespace roo::cluster
