#pragma once

#include <nats/nats.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace roo::io::test {

/// A real nats-server (Debian's) on a free loopback port, started for one test and killed at its end.
class NatsServerProcess {
 public:
  NatsServerProcess();
  ~NatsServerProcess() { stop(); }
  NatsServerProcess(const NatsServerProcess&) = delete;
  NatsServerProcess& operator=(const NatsServerProcess&) = delete;

  void start();  ///< on the same port; returns once it accepts connections
  void stop();   ///< SIGTERM, then waits
  [[nodiscard]] std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] std::uint16_t port() const { return port_; }

 private:
  std::uint16_t port_ = 0;
  int pid_ = -1;
};

/// A plain libnats client for the test's side: publishes, and collects what a subscription receives.
class NatsTestClient {
 public:
  explicit NatsTestClient(const std::string& url);
  ~NatsTestClient();
  NatsTestClient(const NatsTestClient&) = delete;
  NatsTestClient& operator=(const NatsTestClient&) = delete;

  void publish(const std::string& subject, const std::string& data);
  void flush();
  void subscribe(const std::string& subject);
  /// What the subscription received, waiting until `count` messages came or `timeout` passed.
  std::vector<std::string> wait_for(std::size_t count, std::chrono::milliseconds timeout);

 private:
  static void on_message(natsConnection* connection, natsSubscription* subscription, natsMsg* message, void* self);

  natsConnection* connection_ = nullptr;
  natsSubscription* subscription_ = nullptr;
  std::mutex mutex_;
  std::vector<std::string> received_;
};

}  // namespace roo::io::test
