#pragma once

#include "asio_test_support.hpp"

#include "roo/cluster/cluster.hpp"
#include "roo/core/error.hpp"
#include "roo/core/logging.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

namespace roo::cluster::test {

namespace asio = boost::asio;
using namespace std::chrono_literals;

/// A port that was free a moment ago (bound to 0, then released), for addresses a test must know in advance.
inline std::uint16_t free_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

using roo::test::IoThread;
using roo::test::wait_until;

/// The capture of the roo.cluster logger's lines.
struct LogCapture {
  static roo::test::LogCapture& instance() { return roo::test::LogCapture::of("cluster"); }
};

inline core::Endpoint local(std::uint16_t port) { return core::Endpoint{"127.0.0.1", port}; }

inline ClusterConfig initializer_config(std::uint16_t control_port, std::size_t worker_count) {
  ClusterConfig config;
  config.worker_name = "initializer";
  config.initializer = true;
  config.worker_count = worker_count;
  config.control = local(control_port);
  config.data = local(0);
  config.external = local(0);
  config.app_fingerprint = "app-1";
  config.key_groups = 12;
  config.join_timeout = 5000ms;
  return config;
}

inline ClusterConfig worker_config(std::string name, std::uint16_t control_port) {
  ClusterConfig config;
  config.worker_name = std::move(name);
  config.control = local(control_port);
  config.my_control = local(0);
  config.data = local(0);
  config.external = local(0);
  config.app_fingerprint = "app-1";
  config.key_groups = 99;  // ignored: the initializer's count wins
  config.join_timeout = 5000ms;
  return config;
}

/// One simulated worker process: its own io thread, inbound mailbox, recording hooks, and a thread blocked in
/// form(). The hooks' answers and the drained flag are set by the test.
class TestWorker {
 public:
  explicit TestWorker(ClusterConfig config, std::size_t mailbox_capacity = 1024) : inbound(mailbox_capacity) {
    ClusterHooks hooks;
    hooks.is_drained = [this] { return drained.load(); };
    hooks.on_stop = [this] { ++stops; };
    hooks.on_exit = [this] { ++exits; };
    hooks.on_peer_lost = [this](std::size_t index) {
      std::lock_guard lock(mutex_);
      lost_.push_back(index);
    };
    hooks.local_answer = [this](std::uint16_t type) {
      std::lock_guard lock(mutex_);
      auto found = answers_.find(type);
      return found == answers_.end() ? std::string("{}") : found->second;
    };
    hooks.on_checkpoint_begin = [this](std::uint64_t id) {
      std::lock_guard lock(mutex_);
      checkpoint_events_.push_back("begin " + std::to_string(id));
      timeline_.push_back(checkpoint_events_.back());
    };
    hooks.on_checkpoint_part = [this](std::size_t worker, std::uint64_t id, bool ok, std::string text) {
      std::lock_guard lock(mutex_);
      checkpoint_events_.push_back("part " + std::to_string(id) + " from " + std::to_string(worker) +
                                   (ok ? " ok: " : " failed: ") + text);
    };
    hooks.on_checkpoint_complete = [this](std::uint64_t id) {
      std::lock_guard lock(mutex_);
      checkpoint_events_.push_back("complete " + std::to_string(id));
      timeline_.push_back(checkpoint_events_.back());
    };
    hooks.on_members_changed = [this](Membership membership) {
      record_rescale("members " + std::to_string(membership.workers.size()));
    };
    hooks.on_rescale_pause = [this](std::uint64_t round) { record_rescale("pause " + std::to_string(round)); };
    hooks.on_rescale_move = [this](std::uint64_t round, Membership next) {
      std::size_t owned = 0;
      for (std::uint32_t group = 0; group < next.key_groups; ++group) {
        owned += next.owner(group) == next.self ? 1 : 0;
      }
      record_rescale("move " + std::to_string(round) + " owns " + std::to_string(owned) +
                     (next.has_departed(next.self) ? " departs" : ""));
      if (!hold_moved) {
        cluster->rescale_moved(round);
      }
    };
    hooks.on_rescale_resume = [this](std::uint64_t round) { record_rescale("resume " + std::to_string(round)); };
    cluster = make_cluster(io.io(), std::move(config), inbound, std::move(hooks));
  }
  /// What the rescale hooks heard, in order ("members 3", "pause 1", "move 1 owns 85", "resume 1").
  [[nodiscard]] std::vector<std::string> rescale_events() {
    std::lock_guard lock(mutex_);
    return rescale_events_;
  }
  ~TestWorker() {
    if (cluster) {
      cluster->stop();
    }
    if (former_.joinable()) {
      former_.join();
    }
  }
  TestWorker(const TestWorker&) = delete;
  TestWorker& operator=(const TestWorker&) = delete;

  /// Calls form() on a thread of its own (it blocks until the cluster formed).
  void start_forming() {
    former_ = std::thread([this] {
      try {
        auto formed = cluster->form();
        std::lock_guard lock(mutex_);
        membership_ = std::move(formed);
      } catch (const core::Error& error) {
        std::lock_guard lock(mutex_);
        error_ = error.what();
      }
      done_ = true;
    });
  }
  bool wait_formed(std::chrono::milliseconds timeout = 5000ms) {
    return wait_until([this] { return done_.load(); }, timeout) && !error().has_value();
  }
  bool wait_done(std::chrono::milliseconds timeout = 5000ms) {
    return wait_until([this] { return done_.load(); }, timeout);
  }
  [[nodiscard]] Membership membership() {
    std::lock_guard lock(mutex_);
    return membership_.value_or(Membership{});
  }
  [[nodiscard]] std::optional<std::string> error() {
    std::lock_guard lock(mutex_);
    return error_;
  }
  [[nodiscard]] std::vector<std::size_t> lost() {
    std::lock_guard lock(mutex_);
    return lost_;
  }
  /// What the checkpoint hooks heard, in order ("begin 3", "part 3 from 1 ok: text", "complete 3").
  [[nodiscard]] std::vector<std::string> checkpoint_events() {
    std::lock_guard lock(mutex_);
    return checkpoint_events_;
  }
  /// The checkpoints' begin and complete and the rescale events, as one sequence.
  [[nodiscard]] std::vector<std::string> timeline() {
    std::lock_guard lock(mutex_);
    return timeline_;
  }
  void set_answer(std::uint16_t type, std::string json) {
    std::lock_guard lock(mutex_);
    answers_[type] = std::move(json);
  }
  /// This worker's external port as the membership reports it.
  [[nodiscard]] std::uint16_t external_port() {
    auto formed = membership();
    return formed.workers.at(formed.self).external->port;
  }

  IoThread io;
  core::BoundedMailbox<core::PeerInput> inbound;
  std::unique_ptr<Cluster> cluster;
  std::atomic<bool> drained{true};
  std::atomic<bool> hold_moved{false};  // a move is recorded and never answered (a worker still handing over)
  std::atomic<int> stops{0};
  std::atomic<int> exits{0};

 private:
  std::mutex mutex_;
  std::optional<Membership> membership_;
  std::optional<std::string> error_;
  std::vector<std::size_t> lost_;
  std::map<std::uint16_t, std::string> answers_;
  std::vector<std::string> checkpoint_events_;
  std::vector<std::string> rescale_events_;
  std::vector<std::string> timeline_;
  std::atomic<bool> done_{false};

  void record_rescale(std::string event) {
    std::lock_guard lock(mutex_);
    timeline_.push_back(event);
    rescale_events_.push_back(std::move(event));
  }
  std::thread former_;
};

/// A blocking TCP client on 127.0.0.1:port, on its own io_context.
class Client {
 public:
  explicit Client(std::uint16_t port) : socket_(io_) {
    socket_.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  void send(std::string_view bytes) { asio::write(socket_, asio::buffer(bytes.data(), bytes.size())); }
  [[nodiscard]] std::uint16_t local_port() const { return socket_.local_endpoint().port(); }
  /// Sends an external-channel message: u32 BE (2 + n) | u16 BE id | payload.
  void send_external(std::uint16_t id, std::string_view payload) {
    auto n = static_cast<std::uint32_t>(payload.size() + 2);
    std::string frame{static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                      static_cast<char>(n),       static_cast<char>(id >> 8), static_cast<char>(id)};
    frame.append(payload);
    send(frame);
  }
  /// Reads one external-channel message: (id, payload).
  std::pair<std::uint16_t, std::string> read_external() {
    unsigned char header[6];
    asio::read(socket_, asio::buffer(header, 6));
    std::uint32_t n = (std::uint32_t{header[0]} << 24) | (std::uint32_t{header[1]} << 16) |
                      (std::uint32_t{header[2]} << 8) | header[3];
    auto id = static_cast<std::uint16_t>((header[4] << 8) | header[5]);
    std::string payload(n - 2, '\0');
    asio::read(socket_, asio::buffer(payload.data(), payload.size()));
    return {id, payload};
  }
  /// Everything received so far, without waiting.
  std::string read_available() {
    socket_.non_blocking(true);
    std::string received;
    for (;;) {
      char chunk[4096];
      boost::system::error_code error;
      std::size_t got = socket_.read_some(asio::buffer(chunk), error);
      received.append(chunk, got);
      if (error || got == 0) {
        return received;
      }
    }
  }
  /// True once the server closed the connection (a read ends with EOF or reset).
  bool wait_closed_by_peer(std::chrono::milliseconds timeout = 5000ms) {
    socket_.non_blocking(true);
    return wait_until(
        [&] {
          char byte = 0;
          boost::system::error_code error;
          socket_.read_some(asio::buffer(&byte, 1), error);
          return error && error != asio::error::would_block;
        },
        timeout);
  }

 private:
  asio::io_context io_;
  asio::ip::tcp::socket socket_;
};

inline std::vector<char> bytes_of(std::string_view text) { return {text.begin(), text.end()}; }

/// The events' bytes of a peer's input, which must be core::PeerData (anything else fails the test and reads empty).
inline const std::vector<char>& data_of(const core::PeerInput& input) {
  static const std::vector<char> none;
  const auto* data = std::get_if<core::PeerData>(&input.message);
  EXPECT_NE(data, nullptr) << "expected a data batch from worker " << input.from();
  return data != nullptr ? data->bytes : none;
}
inline std::string text_of(const core::PeerInput& input) {
  const auto& bytes = data_of(input);
  return {bytes.begin(), bytes.end()};
}

}  // namespace roo::cluster::test

namespace roo::cluster::test {

/// Forms a cluster of `count` workers: index 0 the initializer, then "w1", "w2", …; asserts formation.
inline std::vector<std::unique_ptr<TestWorker>> formed_cluster(
    std::size_t count, std::size_t mailbox_capacity = 1024,
    const std::function<void(ClusterConfig&)>& adjust = [](ClusterConfig&) {}) {
  std::uint16_t control = free_port();
  std::vector<std::unique_ptr<TestWorker>> workers;
  auto config = initializer_config(control, count);
  adjust(config);
  workers.push_back(std::make_unique<TestWorker>(config, mailbox_capacity));
  for (std::size_t i = 1; i < count; ++i) {
    config = worker_config("w" + std::to_string(i), control);
    adjust(config);
    workers.push_back(std::make_unique<TestWorker>(config, mailbox_capacity));
  }
  for (auto& worker : workers) {
    worker->start_forming();
  }
  for (auto& worker : workers) {
    if (!worker->wait_formed()) {
      workers.clear();
      return workers;
    }
  }
  return workers;
}

}  // namespace roo::cluster::test
