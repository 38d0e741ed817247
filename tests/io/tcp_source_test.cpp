#include "roo/io/tcp_source.hpp"

#include "io_test_support.hpp"

#include "roo/core/error.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace roo::io {
namespace {

using namespace std::chrono_literals;
using test::Client;
using test::frame;
using test::LogCapture;
using test::wait_until;

/// A mailbox, a pool and a source on a real io thread. Members are declared so that the io thread stops
/// before the mailbox and pool go away.
struct SourceFixture {
  explicit SourceFixture(TcpSourceConfig config, std::size_t mailbox_capacity = 64) : mailbox(mailbox_capacity) {
    LogCapture::instance().clear();
    source = make_tcp_source(io.io(), std::move(config), mailbox, pool);
    source->start();
  }

  std::uint16_t port() const { return source->local_endpoint().port; }

  /// Pops batches until `count` frames arrived or the deadline passes; frames in arrival order.
  std::vector<std::string> take(std::size_t count, std::chrono::milliseconds timeout = 5000ms) {
    std::vector<std::string> frames;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (frames.size() < count && std::chrono::steady_clock::now() < deadline) {
      auto batch = mailbox.pop_for(10ms);
      if (!batch) {
        continue;
      }
      EXPECT_EQ(batch->source, 7U);
      for (std::size_t i = 0; i < batch->size(); ++i) {
        frames.emplace_back(batch->frame(i));
      }
      pool.release(std::move(*batch));
    }
    return frames;
  }

  core::BoundedMailbox<core::FrameBatch> mailbox;
  core::BatchPool pool;
  test::IoThread io;
  std::unique_ptr<Source> source;
};

TcpSourceConfig config_with(std::size_t max_size = 16384, std::size_t max_connections = 10,
                            std::size_t batch_bytes = 64 * 1024) {
  return TcpSourceConfig{.name = "votes",
                         .listen = core::Endpoint{"127.0.0.1", 0},
                         .source_index = 7,
                         .framing = parse_length_prefix(4, ">I"),
                         .max_size = max_size,
                         .max_connections = max_connections,
                         .batch_bytes = batch_bytes};
}

std::string payload(std::size_t connection, std::size_t i) {
  return "c" + std::to_string(connection) + "-" + std::to_string(i) + std::string(i % 37, '.');
}

TEST(TcpSource, DeliversManyFramesInOrder) {
  SourceFixture fixture(config_with());
  constexpr std::size_t count = 200000;
  std::string stream;
  std::vector<std::string> expected;
  for (std::size_t i = 0; i < count; ++i) {
    expected.push_back(payload(0, i));
    stream += frame(expected.back());
  }
  Client client(fixture.port());
  std::thread sender([&] { client.send(stream); });
  auto frames = fixture.take(count);
  sender.join();
  EXPECT_EQ(frames.size(), count);
  EXPECT_TRUE(frames == expected);
}

TEST(TcpSource, KeepsEachOfManyConcurrentConnectionsInOrder) {
  constexpr std::size_t connections = 10;
  constexpr std::size_t per_connection = 5000;
  SourceFixture fixture(config_with(16384, connections, 4096));
  std::vector<std::unique_ptr<Client>> clients;
  for (std::size_t c = 0; c < connections; ++c) {
    clients.push_back(std::make_unique<Client>(fixture.port()));
  }
  std::vector<std::thread> senders;
  for (std::size_t c = 0; c < connections; ++c) {
    senders.emplace_back([&, c] {
      // Many small writes, so frames of different connections interleave and cross read boundaries.
      std::string chunk;
      for (std::size_t i = 0; i < per_connection; ++i) {
        chunk += frame(payload(c, i));
        if (chunk.size() > 1000 || i + 1 == per_connection) {
          clients[c]->send(chunk);
          chunk.clear();
        }
      }
    });
  }
  auto frames = fixture.take(connections * per_connection);
  for (auto& sender : senders) {
    sender.join();
  }
  ASSERT_EQ(frames.size(), connections * per_connection);
  std::map<std::size_t, std::size_t> next;  // connection -> next expected index
  for (const auto& f : frames) {
    std::size_t c = std::stoul(f.substr(1, f.find('-') - 1));
    ASSERT_EQ(f, payload(c, next[c])) << "connection " << c;
    ++next[c];
  }
  for (std::size_t c = 0; c < connections; ++c) {
    EXPECT_EQ(next[c], per_connection);
  }
}

// Each connection's batches carry one channel of their own for the source's lifetime (a watermark per input): a
// connection opened after another closed does not get its number again.
TEST(TcpSource, StampsEachConnectionsBatchesWithAChannelOfItsOwn) {
  constexpr std::size_t per_connection = 2000;
  SourceFixture fixture(config_with(16384, 10, 256));  // small batches: many per connection
  std::map<std::size_t, std::set<std::uint32_t>> channels;  // connection -> the channels its frames came with
  std::size_t frames = 0;
  auto send_and_take = [&](const std::vector<std::size_t>& connections) {
    std::vector<std::unique_ptr<Client>> clients;
    for (std::size_t c = 0; c < connections.size(); ++c) {
      clients.push_back(std::make_unique<Client>(fixture.port()));
    }
    std::vector<std::thread> senders;
    for (std::size_t c = 0; c < connections.size(); ++c) {
      senders.emplace_back([&, c] {
        std::string chunk;
        for (std::size_t i = 0; i < per_connection; ++i) {
          chunk += frame(payload(connections[c], i));
          if (chunk.size() > 500 || i + 1 == per_connection) {
            clients[c]->send(chunk);
            chunk.clear();
          }
        }
      });
    }
    std::size_t wanted = frames + connections.size() * per_connection;
    auto deadline = std::chrono::steady_clock::now() + 10000ms;
    while (frames < wanted && std::chrono::steady_clock::now() < deadline) {
      auto batch = fixture.mailbox.pop_for(10ms);
      if (!batch) {
        continue;
      }
      for (std::size_t i = 0; i < batch->size(); ++i) {
        std::string f(batch->frame(i));
        channels[std::stoul(f.substr(1, f.find('-') - 1))].insert(batch->channel);
        ++frames;
      }
      fixture.pool.release(std::move(*batch));
    }
    for (auto& sender : senders) {
      sender.join();
    }
    EXPECT_EQ(frames, wanted);
  };
  send_and_take({0, 1, 2});  // at once; closed at the end of the call
  send_and_take({3});        // after the first three closed
  ASSERT_EQ(channels.size(), 4U);
  std::set<std::uint32_t> distinct;
  for (const auto& [connection, seen] : channels) {
    EXPECT_EQ(seen.size(), 1U) << "connection " << connection;  // stable within a connection
    distinct.insert(seen.begin(), seen.end());
  }
  EXPECT_EQ(distinct.size(), 4U);  // and different across connections, reused by none
}

TEST(TcpSource, AcceptsNoMoreThanMaxConnectionsAndResumesWhenOneCloses) {
  SourceFixture fixture(config_with(16384, 2));
  Client first(fixture.port());
  Client second(fixture.port());
  Client third(fixture.port());  // completes in the kernel's backlog, but is not accepted yet
  third.send(frame("third-0"));
  first.send(frame("first-0"));
  second.send(frame("second-0"));
  auto frames = fixture.take(2);
  std::sort(frames.begin(), frames.end());
  EXPECT_EQ(frames, (std::vector<std::string>{"first-0", "second-0"}));
  first.send(frame("first-1"));
  EXPECT_EQ(fixture.take(1), std::vector<std::string>{"first-1"});
  first.close();
  EXPECT_EQ(fixture.take(1), std::vector<std::string>{"third-0"});
}

TEST(TcpSource, LogsOnceWhenItReachesItsConnectionLimit) {
  SourceFixture fixture(config_with(16384, 2));
  Client first(fixture.port());
  Client second(fixture.port());
  const std::string first_peer = "127.0.0.1:" + std::to_string(first.socket().local_endpoint().port());
  first.send(frame("first-0"));
  second.send(frame("second-0"));
  EXPECT_EQ(fixture.take(2).size(), 2U);
  std::string warning =
      "tcp_source 'votes': at its limit of 2 connections (the source's parallelism); new clients wait until one "
      "closes";
  EXPECT_TRUE(LogCapture::instance().wait_for(warning));
  first.close();
  Client third(fixture.port());
  third.send(frame("third-0"));
  EXPECT_EQ(fixture.take(1), std::vector<std::string>{"third-0"});
  EXPECT_EQ(LogCapture::instance().count(warning), 1U);  // reached again at once: not logged again
}

TEST(TcpSource, ClosesConnectionsThatCompleteNoFrameInTimeAndServesTheNextClient) {
  auto config = config_with(16384, 3);
  config.idle_timeout = 300ms;
  SourceFixture fixture(config);
  Client silent(fixture.port());
  Client loris(fixture.port());
  Client resting(fixture.port());  // one whole frame, then a pause: kept
  resting.send(frame("resting-0"));
  EXPECT_EQ(fixture.take(1), std::vector<std::string>{"resting-0"});
  loris.send(frame("slow").substr(0, 6));  // the header and two of four bytes, then nothing
  Client waiting(fixture.port());  // in the backlog until a slot frees
  waiting.send(frame("waiting-0"));
  EXPECT_TRUE(silent.wait_closed_by_peer(5000ms));
  EXPECT_TRUE(loris.wait_closed_by_peer(5000ms));
  EXPECT_EQ(fixture.take(1), std::vector<std::string>{"waiting-0"});
  auto port_of = [](Client& c) { return "127.0.0.1:" + std::to_string(c.socket().local_endpoint().port()); };
  EXPECT_TRUE(LogCapture::instance().wait_for("tcp_source 'votes': closing connection from " + port_of(silent) +
                                              ": no complete frame in 0.3 s"));
  EXPECT_TRUE(LogCapture::instance().wait_for("tcp_source 'votes': closing connection from " + port_of(loris) +
                                              ": no complete frame in 0.3 s (6 bytes of an unfinished frame "
                                              "discarded)"));
  std::this_thread::sleep_for(600ms);
  resting.send(frame("resting-1"));  // idle between frames for twice the timeout: still served
  EXPECT_EQ(fixture.take(1), std::vector<std::string>{"resting-1"});
  std::atomic<bool> stopped{false};
  fixture.source->stop([&] { stopped = true; });
  EXPECT_TRUE(wait_until([&] { return stopped.load(); }));
  EXPECT_TRUE(LogCapture::instance().wait_for(
      "tcp_source 'votes': stopped (2 connections closed for a bad frame or no complete frame in time)"));
}

// A client that sent whole frames and went quiet kept its place for ever, so a full source never served a newcomer.
TEST(TcpSource, AFullSourceTakesThePlaceOfAConnectionIdleBetweenFrames) {
  auto config = config_with(16384, 2);
  config.idle_timeout = 200ms;
  SourceFixture fixture(config);
  Client first(fixture.port());
  Client second(fixture.port());
  const std::string first_peer = "127.0.0.1:" + std::to_string(first.socket().local_endpoint().port());
  first.send(frame("first-0"));
  second.send(frame("second-0"));
  EXPECT_EQ(fixture.take(2).size(), 2U);
  Client newcomer(fixture.port());  // in the backlog: both places are taken by clients resting between frames
  newcomer.send(frame("newcomer-0"));
  EXPECT_EQ(fixture.take(1), std::vector<std::string>{"newcomer-0"});
  EXPECT_TRUE(LogCapture::instance().wait_for(
      "tcp_source 'votes': closing connection from " + first_peer +
      ": idle between frames for 0.4 s while the source is at its limit of 2 connections"));
}

// Below its limit a source keeps a connection resting between frames however long it rests.
TEST(TcpSource, KeepsAConnectionIdleBetweenFramesWhileThereIsRoom) {
  auto config = config_with(16384, 2);
  config.idle_timeout = 100ms;
  SourceFixture fixture(config);
  Client resting(fixture.port());
  resting.send(frame("resting-0"));
  EXPECT_EQ(fixture.take(1), std::vector<std::string>{"resting-0"});
  std::this_thread::sleep_for(600ms);
  resting.send(frame("resting-1"));
  EXPECT_EQ(fixture.take(1), std::vector<std::string>{"resting-1"});
}

TEST(TcpSource, ClosesOnlyTheConnectionWithAnOversizedFrame) {
  SourceFixture fixture(config_with(100));
  Client bad(fixture.port());
  Client good(fixture.port());
  good.send(frame("good-0"));
  EXPECT_EQ(fixture.take(1), std::vector<std::string>{"good-0"});
  bad.send(frame("bad-0") + frame("bad-1") + frame(std::string(101, 'x')) + frame("bad-after"));
  EXPECT_EQ(fixture.take(2), (std::vector<std::string>{"bad-0", "bad-1"}));
  EXPECT_TRUE(bad.wait_closed_by_peer());
  std::string peer = "127.0.0.1:" + std::to_string(bad.socket().local_endpoint().port());
  std::string warning =
      "tcp_source 'votes': closing connection from " + peer + ": frame of 101 bytes exceeds max_size 100";
  EXPECT_TRUE(LogCapture::instance().wait_for(warning));
  good.send(frame("good-1") + frame("good-2"));
  EXPECT_EQ(fixture.take(2), (std::vector<std::string>{"good-1", "good-2"}));
  EXPECT_EQ(LogCapture::instance().count(warning), 1U);
  EXPECT_FALSE(fixture.mailbox.pop_for(20ms).has_value());  // "bad-after" never arrives
}

TEST(TcpSource, WarnsAboutAFrameTruncatedAtEof) {
  SourceFixture fixture(config_with());
  Client client(fixture.port());
  std::string peer = "127.0.0.1:" + std::to_string(client.socket().local_endpoint().port());
  client.send(frame("one") + frame("two") + frame("0123456789").substr(0, 7));
  client.shutdown_send();
  EXPECT_EQ(fixture.take(2), (std::vector<std::string>{"one", "two"}));
  EXPECT_TRUE(LogCapture::instance().wait_for("tcp_source 'votes': connection from " + peer +
                                              " closed mid-frame (7 of 14 bytes); partial frame discarded"));

  Client header_cut(fixture.port());
  std::string peer2 = "127.0.0.1:" + std::to_string(header_cut.socket().local_endpoint().port());
  header_cut.send(frame("three") + std::string("\0\0", 2));
  header_cut.shutdown_send();
  EXPECT_EQ(fixture.take(1), std::vector<std::string>{"three"});
  EXPECT_TRUE(LogCapture::instance().wait_for("tcp_source 'votes': connection from " + peer2 +
                                              " closed mid-frame (2 of 4 header bytes); partial frame discarded"));
}

TEST(TcpSource, StopsReadingWhenTheMailboxIsFullAndLosesNothingWhenDrained) {
  // A mailbox of 2 batches of about 4 KiB that nobody drains: the client's writes must stall.
  SourceFixture fixture(config_with(16384, 10, 4096), 2);
  constexpr std::size_t count = 300000;  // about 30 MB
  std::string stream;
  for (std::size_t i = 0; i < count; ++i) {
    std::string p = std::to_string(i);
    p.resize(96, '#');
    stream += frame(p);
  }
  Client client(fixture.port());
  std::atomic<std::size_t> sent{0};
  std::atomic<bool> send_failed{false};
  // No ASSERT until the sender is joined: an early return would leave it writing into destroyed objects.
  std::thread sender([&] {
    constexpr std::size_t chunk = 64 * 1024;
    try {
      for (std::size_t pos = 0; pos < stream.size(); pos += chunk) {
        std::size_t n = std::min(chunk, stream.size() - pos);
        client.send(std::string_view(stream).substr(pos, n));
        sent += n;
      }
    } catch (const std::exception&) {
      send_failed = true;  // the fixture went away after a failed assertion; the assertion says why
    }
  });

  EXPECT_TRUE(wait_until([&] { return fixture.mailbox.size() == 2; }));
  // Wait until the sender makes no progress for 300 ms: the socket buffers are full and the source reads no more.
  std::size_t last = sent.load();
  auto still_since = std::chrono::steady_clock::now();
  EXPECT_TRUE(wait_until(
      [&] {
        std::size_t now = sent.load();
        if (now != last) {
          last = now;
          still_since = std::chrono::steady_clock::now();
        }
        return std::chrono::steady_clock::now() - still_since > 300ms;
      },
      8000ms));
  EXPECT_LT(sent.load(), stream.size());
  // What left the client is bounded by the kernel's socket buffers plus one read buffer and the held batches.
  EXPECT_LT(sent.load(), 16U * 1024 * 1024);
  EXPECT_EQ(fixture.mailbox.size(), 2U);

  auto frames = fixture.take(count, 30000ms);  // generous: the machine may be busy with other builds
  sender.join();
  EXPECT_FALSE(send_failed.load());
  ASSERT_EQ(frames.size(), count);
  for (std::size_t i = 0; i < count; ++i) {
    ASSERT_EQ(frames[i].substr(0, frames[i].find('#')), std::to_string(i));
  }
  EXPECT_FALSE(fixture.mailbox.pop_for(20ms).has_value());
}

TEST(TcpSource, StopHandsOverEveryReceivedFrameThenCallsBack) {
  // batch_bytes 100 and a mailbox of one: the first batch fills the mailbox, the rest waits in the source.
  SourceFixture fixture(config_with(16384, 10, 100), 1);
  std::vector<std::string> expected;
  std::string stream;
  for (std::size_t i = 0; i < 30; ++i) {
    expected.push_back("frame-" + std::to_string(i) + "-abcdefgh");
    stream += frame(expected.back());
  }
  Client client(fixture.port());
  client.send(stream);  // one small write: one read takes it all
  ASSERT_TRUE(wait_until([&] { return fixture.mailbox.size() == 1; }));
  std::atomic<bool> stopped{false};
  fixture.source->stop([&] { stopped = true; });
  EXPECT_FALSE(stopped.load());
  auto frames = fixture.take(expected.size());
  EXPECT_EQ(frames, expected);
  EXPECT_TRUE(wait_until([&] { return stopped.load(); }));
  EXPECT_TRUE(client.wait_closed_by_peer());
  // Idempotent: a second stop only adds a callback, which runs at once.
  std::atomic<bool> again{false};
  fixture.source->stop([&] { again = true; });
  EXPECT_TRUE(wait_until([&] { return again.load(); }));
}

TEST(TcpSource, StopClosesTheListener) {
  SourceFixture fixture(config_with());
  std::uint16_t port = fixture.port();
  std::atomic<bool> stopped{false};
  fixture.source->stop([&] { stopped = true; });
  ASSERT_TRUE(wait_until([&] { return stopped.load(); }));
  EXPECT_THROW(Client{port}, boost::system::system_error);
}

TEST(TcpSource, ListensOnAHostName) {
  auto config = config_with();
  config.listen.host = "localhost";
  SourceFixture fixture(config);
  EXPECT_EQ(fixture.source->local_endpoint().host, "127.0.0.1");
  Client client(fixture.port());
  client.send(frame("via-name"));
  EXPECT_EQ(fixture.take(1), std::vector<std::string>{"via-name"});
}

TEST(TcpSource, ReportsABindFailureWithTheAddressAndSourceName) {
  test::Listener taken;
  core::BoundedMailbox<core::FrameBatch> mailbox(4);
  core::BatchPool pool;
  test::IoThread io;
  auto config = config_with();
  config.listen.port = taken.port();
  auto source = make_tcp_source(io.io(), config, mailbox, pool);
  try {
    source->start();
    FAIL() << "start() should throw";
  } catch (const core::Error& error) {
    EXPECT_EQ(std::string(error.what()),
              "listen on 127.0.0.1:" + std::to_string(taken.port()) + " for source 'votes': address already in use");
  }
}

// Not a test: a throughput probe. Run with --gtest_also_run_disabled_tests --gtest_filter='*Throughput*'.
TEST(TcpSource, DISABLED_Throughput) {
  SourceFixture fixture(config_with());
  constexpr std::size_t count = 5000000;
  std::string stream;
  for (std::size_t i = 0; i < count; ++i) {
    stream += frame("vote:u000123:K");
  }
  Client client(fixture.port());
  auto start = std::chrono::steady_clock::now();
  std::thread sender([&] { client.send(stream); });
  std::size_t frames = 0;
  while (frames < count) {
    auto batch = fixture.mailbox.pop_for(1000ms);
    ASSERT_TRUE(batch.has_value());
    frames += batch->size();
    fixture.pool.release(std::move(*batch));
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  sender.join();
  std::printf("%zu frames in %.3f s: %.2f M frames/s\n", count, seconds, count / seconds / 1e6);
}

}  // namespace
}  // namespace roo::io
