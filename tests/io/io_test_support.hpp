#pragma once

#include "roo/core/logging.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/sinks/base_sink.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace roo::io::test {

namespace asio = boost::asio;
using namespace std::chrono_literals;

/// Polls `condition` every millisecond until it holds or `timeout` passes; returns its last value.
inline bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 5000ms) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return condition();
    }
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

/// A real io_context run by one thread for the lifetime of the object.
class IoThread {
 public:
  IoThread() : work_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~IoThread() {
    work_.reset();
    io_.stop();
    thread_.join();
  }
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;
  asio::io_context& io() { return io_; }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

/// Records what the "roo.io" logger prints (message text only), so tests can assert exact warnings.
class LogCapture final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  /// The capture attached to roo.io (attached once, on first use, before any I/O thread of the test runs).
  static LogCapture& instance() {
    static std::shared_ptr<LogCapture> capture = [] {
      auto sink = std::make_shared<LogCapture>();
      core::module_logger("io")->sinks().push_back(sink);
      return sink;
    }();
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
  bool wait_for(std::string_view text, std::chrono::milliseconds timeout = 5000ms) {
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

/// A length-prefixed frame with a 4-byte big-endian header.
inline std::string frame(std::string_view payload) {
  auto n = static_cast<std::uint32_t>(payload.size());
  std::string out;
  out.push_back(static_cast<char>(n >> 24));
  out.push_back(static_cast<char>(n >> 16));
  out.push_back(static_cast<char>(n >> 8));
  out.push_back(static_cast<char>(n));
  out.append(payload);
  return out;
}

/// A blocking client connected to 127.0.0.1:port, on its own io_context.
class Client {
 public:
  explicit Client(std::uint16_t port) : socket_(io_) {
    socket_.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  void send(std::string_view bytes) { asio::write(socket_, asio::buffer(bytes.data(), bytes.size())); }
  void shutdown_send() { socket_.shutdown(asio::socket_base::shutdown_send); }
  void close() { socket_.close(); }
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
  asio::ip::tcp::socket& socket() { return socket_; }

 private:
  asio::io_context io_;
  asio::ip::tcp::socket socket_;
};

/// A listening socket on 127.0.0.1 (port 0 picks a free one) that the test accepts from, blocking.
class Listener {
 public:
  explicit Listener(std::uint16_t port = 0) : acceptor_(io_) {
    asio::ip::tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen();
  }
  [[nodiscard]] std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  asio::ip::tcp::socket accept() { return acceptor_.accept(); }
  void close() { acceptor_.close(); }

 private:
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
};

/// Reads from `socket` until EOF (or error); returns everything read.
inline std::string read_to_eof(asio::ip::tcp::socket& socket) {
  std::string out;
  char buffer[65536];
  for (;;) {
    boost::system::error_code error;
    std::size_t n = socket.read_some(asio::buffer(buffer), error);
    out.append(buffer, n);
    if (error) {
      return out;
    }
  }
}

/// Reads exactly `size` bytes from `socket`.
inline std::string read_exactly(asio::ip::tcp::socket& socket, std::size_t size) {
  std::string out(size, '\0');
  asio::read(socket, asio::buffer(out.data(), out.size()));
  return out;
}

}  // namespace roo::io::test
