#include "roo/core/framed_connection.hpp"

#include "asio_test_support.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include <future>
#include <thread>

namespace roo::core {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using roo::test::IoThread;
using roo::test::wait_until;

roo::test::LogCapture& log_lines() { return roo::test::LogCapture::of("nettest"); }

/// A listener on 127.0.0.1 whose every accepted connection is a FramedConnection with `config`; frames are
/// recorded, and the connections kept for inspection on the strand.
class Server {
 public:
  /// answer_bytes > 0: every frame is answered with a frame of that many bytes.
  explicit Server(FramedConnectionConfig config, std::size_t max_connections = 64, std::size_t answer_bytes = 0) {
    config.logger = module_logger("nettest");
    config.log_prefix = "test";
    config.kind = "test";
    listener_ = Listener::make(strand_, ListenerConfig{.what = "the test port",
                                                       .log_prefix = "test",
                                                       .logger = module_logger("nettest"),
                                                       .max_connections = max_connections});
    port_ = listener_->listen(Endpoint{"127.0.0.1", 0}).port;
    asio::post(strand_, [this, config, answer_bytes] {
      listener_->start([this, config, answer_bytes](TcpSocket socket, ListenerSlot slot) {
        auto connection = std::make_shared<FramedConnection>(std::move(socket), config);
        connection->hold(std::move(slot));
        connections_.push_back(connection);
        ++accepted_;
        connection->start(
            [this, answer_bytes](FramedConnection& c, const char* body, std::size_t size) {
              frames_.emplace_back(body, size);
              ++frame_count_;
              if (answer_bytes > 0) {
                c.write(std::vector<char>(answer_bytes, 'a'));
                largest_queue_ = std::max<std::size_t>(largest_queue_, c.queued_bytes());
              }
              return FrameAction::proceed;
            },
            [this](FramedConnection&, const std::string&) { ++closed_; });
      });
    });
  }
  template <class F>
  auto on_strand(F f) {
    std::promise<decltype(f())> result;
    asio::post(strand_, [&] { result.set_value(f()); });
    return result.get_future().get();
  }
  ~Server() {
    on_strand([this] {
      listener_->close();
      for (auto& connection : connections_) {
        connection->close();
      }
      connections_.clear();
      return 0;
    });
  }

  [[nodiscard]] std::size_t largest_buffer() {
    return on_strand([this] {
      std::size_t largest = 0;
      for (auto& connection : connections_) {
        largest = std::max(largest, connection->buffer_capacity());
      }
      return largest;
    });
  }
  [[nodiscard]] std::uint16_t port() const { return port_; }
  std::atomic<int> accepted_{0};
  std::atomic<int> closed_{0};
  std::atomic<int> frame_count_{0};
  std::atomic<std::size_t> largest_queue_{0};

 private:
  IoThread io_;
  Strand strand_{asio::make_strand(io_.io())};
  std::shared_ptr<Listener> listener_;
  std::uint16_t port_ = 0;
  std::vector<std::shared_ptr<FramedConnection>> connections_;
  std::vector<std::string> frames_;
};

class Client {
 public:
  explicit Client(std::uint16_t port) : socket_(io_) {
    socket_.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  void send(std::string_view bytes) { asio::write(socket_, asio::buffer(bytes.data(), bytes.size())); }
  void receive(std::size_t bytes) {
    std::vector<char> sink(bytes);
    asio::read(socket_, asio::buffer(sink));
  }
  /// Sends unless the server has closed the connection; false then.
  bool try_send(std::string_view bytes) {
    boost::system::error_code error;
    asio::write(socket_, asio::buffer(bytes.data(), bytes.size()), error);
    return !error;
  }
  [[nodiscard]] std::string name() const { return "127.0.0.1:" + std::to_string(socket_.local_endpoint().port()); }

 private:
  asio::io_context io_;
  asio::ip::tcp::socket socket_;
};

std::string header(std::uint32_t length) {
  return {static_cast<char>(length >> 24), static_cast<char>(length >> 16), static_cast<char>(length >> 8),
          static_cast<char>(length)};
}

TEST(FramedConnection, AnnouncedLengthAllocatesNothingUntilTheBytesArrive) {
  // A trusted peer may send 64 MiB frames; announcing one with a 5-byte header must not reserve 64 MiB.
  Server server(FramedConnectionConfig{.max_frame_bytes = 64u * 1024 * 1024});
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 24; ++i) {
    clients.push_back(std::make_unique<Client>(server.port()));
    clients.back()->send(header(64u * 1024 * 1024) + "x");
  }
  ASSERT_TRUE(wait_until([&] { return server.accepted_ == 24; }));
  std::this_thread::sleep_for(200ms);
  EXPECT_LE(server.largest_buffer(), 128u * 1024);
  // The bytes that do arrive make the frame, and the buffer grows only with them.
  std::string rest(256 * 1024 - 1, 'y');
  Client small(server.port());
  small.send(header(256 * 1024) + "x" + rest);
  ASSERT_TRUE(wait_until([&] { return server.frame_count_ == 1; }));
  EXPECT_LE(server.largest_buffer(), 1024u * 1024);
}

TEST(FramedConnection, UntrustedPeerMaySendOnlySmallFrames) {
  log_lines().clear();
  Server server(FramedConnectionConfig{});
  Client client(server.port());
  client.send(header(64u * 1024 * 1024) + "x");
  EXPECT_TRUE(log_lines().wait_for("test: closing test connection from " + client.name() +
                                   ": frame of 67108864 bytes exceeds the limit of 4096 bytes"));
  EXPECT_TRUE(wait_until([&] { return server.closed_ == 1; }));
  EXPECT_LE(server.largest_buffer(), 8u * 1024);
}

TEST(FramedConnection, StopsReadingWhileAPeerDoesNotReadItsAnswers) {
  // Each 1-byte request is answered with 64 KiB; the client sends 1000 requests (64 MiB of answers, far more
  // than the cap plus what the kernel's socket buffers hold) and reads nothing.
  constexpr std::size_t answer = 64 * 1024;
  constexpr int requests = 1000;
  constexpr std::size_t cap = 1024 * 1024;
  Server server(FramedConnectionConfig{.max_queued_bytes = cap}, 64, answer);
  Client client(server.port());
  std::string burst;
  for (int i = 0; i < requests; ++i) {
    burst += header(1) + "q";
  }
  client.send(burst);
  std::this_thread::sleep_for(500ms);
  EXPECT_LT(server.frame_count_, requests);
  EXPECT_LE(server.largest_queue_, cap + answer + 4);
  // Once the client reads, the server drains its queue and goes on: every request is answered.
  client.receive(requests * (answer + 4));
  EXPECT_TRUE(wait_until([&] { return server.frame_count_ == requests; }));
  EXPECT_EQ(server.closed_, 0);
}

TEST(FramedConnection, ClosesAnUntrustedPeerThatLeavesItsAnswersUnreadPastTheFrameTimeout) {
  log_lines().clear();
  Server server(FramedConnectionConfig{.frame_timeout = 300ms, .max_queued_bytes = 1024 * 1024}, 64, 64 * 1024);
  Client client(server.port());
  std::string burst;
  for (int i = 0; i < 1000; ++i) {
    burst += header(1) + "q";
  }
  client.send(burst);
  std::string closing = "test: closing test connection from " + client.name() + ": it did not read its answers (";
  EXPECT_TRUE(wait_until([&] { return log_lines().count_containing(closing) == 1; }));
  EXPECT_EQ(log_lines().count_containing(" bytes queued) within 0.3 s"), 1u);
  EXPECT_TRUE(wait_until([&] { return server.closed_ == 1; }));
  EXPECT_LT(server.frame_count_, 1000);
}

TEST(FramedConnection, ClosesAPeerThatSendsNoCompleteFrameInTime) {
  log_lines().clear();
  Server server(FramedConnectionConfig{.frame_timeout = 300ms});
  Client idle(server.port());
  Client slow(server.port());
  Client prompt(server.port());
  prompt.send(header(2) + "ok");
  auto started = std::chrono::steady_clock::now();
  // The slow one sends a byte of its frame every 100 ms: never a whole frame.
  std::string frame = header(20) + std::string(20, 'z');
  for (std::size_t i = 0; i < 6; ++i) {
    (void)slow.try_send(frame.substr(i, 1));
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(log_lines().wait_for("test: closing test connection from " + idle.name() +
                                   ": no complete frame within 0.3 s"));
  EXPECT_TRUE(log_lines().wait_for("test: closing test connection from " + slow.name() +
                                   ": no complete frame within 0.3 s"));
  EXPECT_GE(std::chrono::steady_clock::now() - started, 300ms);
  EXPECT_TRUE(log_lines().wait_for("test: closing test connection from " + prompt.name() +
                                   ": no complete frame within 0.3 s"));
  EXPECT_EQ(server.frame_count_, 1);
  EXPECT_TRUE(wait_until([&] { return server.closed_ == 3; }));
}

TEST(Listener, WaitsAtItsConnectionLimitAndWarnsOnce) {
  log_lines().clear();
  Server server(FramedConnectionConfig{.frame_timeout = 1500ms}, 2);
  Client first(server.port());
  Client second(server.port());
  ASSERT_TRUE(wait_until([&] { return server.accepted_ == 2; }));
  Client third(server.port());  // completes in the kernel's backlog, but is not accepted yet
  Client fourth(server.port());
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(server.accepted_, 2);
  std::string warning = "test: the test port at 127.0.0.1:" + std::to_string(server.port()) +
                        " has 2 open connections, its limit; new connections wait until one closes";
  EXPECT_EQ(log_lines().count(warning), 1u);
  // The two idle ones time out; their places go to the waiting two.
  ASSERT_TRUE(wait_until([&] { return server.accepted_ == 4; }, 5000ms));
  EXPECT_EQ(log_lines().count(warning), 1u);
}

}  // namespace
}  // namespace roo::core
