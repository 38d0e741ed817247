#pragma once

#include "asio_test_support.hpp"

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

using roo::test::IoThread;
using roo::test::wait_until;

/// The capture of the roo.io logger's lines.
struct LogCapture {
  static roo::test::LogCapture& instance() { return roo::test::LogCapture::of("io"); }
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
