#pragma once

// Helpers shared by the C++ test suites that run real sockets (io, cluster): polling with a deadline, an
// io_context on its own thread, and a capture of a module's log lines for exact assertions.

#include "roo/core/logging.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <spdlog/sinks/base_sink.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace roo::test {

/// Polls `condition` every millisecond until it holds or `timeout` passes; returns its last value.
inline bool wait_until(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return condition();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

/// A real io_context run by one thread for the lifetime of the object.
class IoThread {
 public:
  IoThread() : work_(boost::asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~IoThread() {
    work_.reset();
    io_.stop();
    thread_.join();
  }
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;
  boost::asio::io_context& io() { return io_; }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

/// Records what the "roo.<module>" logger prints (message text only), so tests can assert exact lines.
class LogCapture final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  /// The capture attached to roo.<module> (attached on first use, before the test's I/O threads log).
  static LogCapture& of(const std::string& module) {
    static std::mutex registry_mutex;
    static std::map<std::string, std::shared_ptr<LogCapture>> registry;
    std::lock_guard lock(registry_mutex);
    auto& capture = registry[module];
    if (!capture) {
      capture = std::make_shared<LogCapture>();
      core::module_logger(module)->sinks().push_back(capture);
    }
    return *capture;
  }

  void clear() {
    std::lock_guard lock(mutex_);
    lines_.clear();
  }
  [[nodiscard]] std::vector<std::string> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  [[nodiscard]] std::size_t count(std::string_view text) {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& line : lines_) {
      n += line == text ? 1 : 0;
    }
    return n;
  }
  [[nodiscard]] std::size_t count_containing(std::string_view text) {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& line : lines_) {
      n += line.find(text) != std::string::npos ? 1 : 0;
    }
    return n;
  }
  /// Waits for a line equal to `text`.
  bool wait_for(std::string_view text, std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    return wait_until([&] { return count(text) > 0; }, timeout);
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    lines_.emplace_back(msg.payload.data(), msg.payload.size());
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;
};

}  // namespace roo::test
