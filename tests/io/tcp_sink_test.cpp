#include "roo/io/tcp_sink.hpp"

#include "io_test_support.hpp"

#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace roo::io {
namespace {

using namespace std::chrono_literals;
using test::Listener;
using test::LogCapture;
using test::wait_until;

RecordBatch bytes_of(std::string_view text) {
  RecordBatch batch;
  batch.values.assign(text.begin(), text.end());
  return batch;
}

/// Buffers of varied sizes and contents; `first` numbers them so a stream can be checked buffer by buffer.
std::vector<std::string> numbered_buffers(std::size_t count, std::size_t first = 0) {
  std::vector<std::string> buffers;
  for (std::size_t i = first; i < first + count; ++i) {
    buffers.push_back("<" + std::to_string(i) + ":" + std::string(i % 300, static_cast<char>('a' + i % 26)) + ">");
  }
  return buffers;
}

std::string joined(const std::vector<std::string>& buffers) {
  std::string out;
  for (const auto& b : buffers) {
    out += b;
  }
  return out;
}

struct SinkFixture {
  explicit SinkFixture(std::uint16_t port, std::size_t max_buffered_bytes = 16 * 1024 * 1024) {
    LogCapture::instance().clear();
    sink = make_tcp_sink(io.io(), TcpSinkConfig{.name = "out",
                                                .peer = core::Endpoint{"127.0.0.1", port},
                                                .max_buffered_bytes = max_buffered_bytes,
                                                .reconnect_interval = 20ms});
  }
  void write_all(const std::vector<std::string>& buffers) {
    for (const auto& b : buffers) {
      sink->write(bytes_of(b));
    }
  }
  bool stop_and_wait() {
    std::atomic<bool> stopped{false};
    sink->stop([&] { stopped = true; });
    return wait_until([&] { return stopped.load(); });
  }

  test::IoThread io;
  std::unique_ptr<TcpSink> sink;
};

/// A port with nothing listening on it (bound once, then released).
std::uint16_t unused_port() {
  Listener probe;
  std::uint16_t port = probe.port();
  probe.close();
  return port;
}

TEST(TcpSink, WritesBytesVerbatimAndReleasesTheBudget) {
  Listener listener;
  SinkFixture fixture(listener.port());
  fixture.sink->start();
  auto peer = listener.accept();
  auto buffers = numbered_buffers(2000);
  std::thread writer([&] { fixture.write_all(buffers); });
  std::string expected = joined(buffers);
  EXPECT_EQ(test::read_exactly(peer, expected.size()), expected);
  writer.join();
  // Acknowledged bytes within the resend margin (at most half the budget) stay until the stop.
  EXPECT_LE(fixture.sink->budget().in_flight(), expected.size());
  EXPECT_TRUE(fixture.stop_and_wait());
  EXPECT_EQ(fixture.sink->budget().in_flight(), 0U);
  EXPECT_TRUE(
      LogCapture::instance().wait_for("tcp_sink 'out': connected to 127.0.0.1:" + std::to_string(listener.port())));
}

TEST(TcpSink, FlushAnswersOnceThePeerAcknowledgedEverythingWrittenBeforeIt) {
  Listener listener;
  SinkFixture fixture(listener.port());
  fixture.sink->start();
  auto peer = listener.accept();
  EXPECT_FALSE(fixture.sink->takes_records());
  auto buffers = numbered_buffers(3000);
  fixture.write_all(buffers);
  std::atomic<bool> flushed{false};
  std::string error = "not called";
  fixture.sink->flush([&](std::string e) {
    error = std::move(e);
    flushed = true;
  });
  std::string expected = joined(buffers);
  EXPECT_EQ(test::read_exactly(peer, expected.size()), expected);
  ASSERT_TRUE(wait_until([&] { return flushed.load(); }));
  EXPECT_EQ(error, "");
  EXPECT_TRUE(fixture.stop_and_wait());
}

TEST(TcpSink, FlushWithoutAPeerWaitsAndFailsWhenTheSinkCloses) {
  std::uint16_t port = unused_port();
  SinkFixture fixture(port);
  fixture.sink->start();
  fixture.sink->write(bytes_of("0123456789"));
  std::atomic<bool> flushed{false};
  std::string error;
  fixture.sink->flush([&](std::string e) {
    error = std::move(e);
    flushed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(flushed.load());  // nothing acknowledged it: the flush waits
  fixture.sink.reset();          // closes at once
  ASSERT_TRUE(wait_until([&] { return flushed.load(); }));
  EXPECT_EQ(error, "the sink closed before 127.0.0.1:" + std::to_string(port) + " delivered everything");
}

TEST(TcpSink, StopWritesEverythingQueuedThenCloses) {
  Listener listener;
  SinkFixture fixture(listener.port());
  fixture.sink->start();
  auto peer = listener.accept();
  auto buffers = numbered_buffers(5000);
  fixture.write_all(buffers);
  std::atomic<bool> stopped{false};
  fixture.sink->stop([&] { stopped = true; });
  EXPECT_EQ(test::read_to_eof(peer), joined(buffers));  // EOF: the sink closed after the last byte
  EXPECT_TRUE(wait_until([&] { return stopped.load(); }));
  EXPECT_EQ(fixture.sink->budget().in_flight(), 0U);
}

TEST(TcpSink, QueuesWhileThePeerIsAbsentAndDeliversOnceItListens) {
  std::uint16_t port = unused_port();
  SinkFixture fixture(port, 100);
  fixture.sink->start();
  std::string address = "127.0.0.1:" + std::to_string(port);
  std::string warning = "tcp_sink 'out': cannot connect to " + address + " (connection refused); retrying every 20 ms";
  ASSERT_TRUE(LogCapture::instance().wait_for(warning));
  auto buffers = numbered_buffers(20);
  std::string expected = joined(buffers);
  fixture.write_all(buffers);
  EXPECT_EQ(fixture.sink->budget().in_flight(), expected.size());  // nothing can have been written
  EXPECT_FALSE(fixture.sink->budget().wait_below_limit(0ms));      // over max_buffered_bytes: producer waits
  Listener listener(port);
  auto peer = listener.accept();
  EXPECT_EQ(test::read_exactly(peer, expected.size()), expected);
  EXPECT_TRUE(wait_until([&] { return fixture.sink->budget().wait_below_limit(0ms); }));  // the producer may go on
  EXPECT_TRUE(LogCapture::instance().wait_for("tcp_sink 'out': connected to " + address));
  EXPECT_EQ(LogCapture::instance().count(warning), 1U);  // retries are not logged again
  EXPECT_TRUE(fixture.stop_and_wait());
  EXPECT_EQ(fixture.sink->budget().in_flight(), 0U);
}

TEST(TcpSink, ReconnectsAfterThePeerLeavesAndDeliversWhatFollows) {
  Listener first;
  std::uint16_t port = first.port();
  std::string address = "127.0.0.1:" + std::to_string(port);
  SinkFixture fixture(port);
  fixture.sink->start();
  auto peer = first.accept();
  auto part1 = numbered_buffers(100);
  fixture.write_all(part1);
  EXPECT_EQ(test::read_exactly(peer, joined(part1).size()), joined(part1));
  peer.close();
  first.close();
  // The peer read everything, but the sink cannot know whether it did: the last acknowledged bytes are resent.
  std::size_t part1_bytes = joined(part1).size();
  ASSERT_TRUE(LogCapture::instance().wait_for("tcp_sink 'out': lost connection to " + address +
                                              " (end of file); reconnecting to resend " + std::to_string(part1_bytes) +
                                              " bytes"));
  auto part2 = numbered_buffers(100, 100);
  fixture.write_all(part2);
  Listener second(port);
  auto peer2 = second.accept();
  std::atomic<bool> stopped{false};
  fixture.sink->stop([&] { stopped = true; });
  EXPECT_EQ(test::read_to_eof(peer2), joined(part1) + joined(part2));  // at-least-once: part1 again
  EXPECT_TRUE(wait_until([&] { return stopped.load(); }));
  EXPECT_EQ(fixture.sink->budget().in_flight(), 0U);
}

/// Parses "<i:...>" buffers; returns their numbers, failing on a torn buffer.
std::vector<std::size_t> buffer_numbers(const std::string& stream, bool allow_torn_tail) {
  std::vector<std::size_t> numbers;
  std::size_t pos = 0;
  while (pos < stream.size()) {
    std::size_t colon = stream.find(':', pos);
    if (stream[pos] != '<' || colon == std::string::npos) {
      EXPECT_TRUE(allow_torn_tail) << "torn buffer at " << pos;
      break;
    }
    std::size_t i = std::stoul(stream.substr(pos + 1, colon - pos - 1));
    std::string whole = numbered_buffers(1, i).front();
    if (stream.compare(pos, whole.size(), whole) != 0) {
      EXPECT_TRUE(allow_torn_tail && pos + whole.size() > stream.size()) << "torn buffer " << i;
      break;
    }
    numbers.push_back(i);
    pos += whole.size();
  }
  return numbers;
}

/// The end of a test where the first peer left after reading `received` (the first buffers, a torn one perhaps)
/// and `second` took its place: joins the writer, stops the sink, reads the second connection to its end, and
/// checks that it starts at a buffer boundary no later than the first buffer the first peer did not read whole,
/// carries every later buffer in order up to the last of `count`, and that nothing is left in flight. Returns the
/// buffers the first peer read whole.
std::vector<std::size_t> expect_resent_without_gap(SinkFixture& fixture, Listener& second, std::thread& writer,
                                                   const std::string& received, std::size_t count) {
  auto peer2 = second.accept();
  writer.join();
  std::atomic<bool> stopped{false};
  fixture.sink->stop([&] { stopped = true; });
  std::string resumed = test::read_to_eof(peer2);
  EXPECT_TRUE(wait_until([&] { return stopped.load(); }));
  auto before = buffer_numbers(received, true);
  auto after = buffer_numbers(resumed, false);
  EXPECT_FALSE(after.empty());
  if (after.empty()) {
    return before;
  }
  EXPECT_LE(after.front(), before.size());  // no gap between what the first peer read and the resend
  for (std::size_t i = 1; i < after.size(); ++i) {
    EXPECT_EQ(after[i], after[i - 1] + 1) << "at " << i;
    if (after[i] != after[i - 1] + 1) {
      break;
    }
  }
  EXPECT_EQ(after.back(), count - 1);
  EXPECT_EQ(fixture.sink->budget().in_flight(), 0U);
  EXPECT_EQ(fixture.sink->undelivered_bytes(), 0U);
  return before;
}

TEST(TcpSink, ResumesAtABufferBoundaryWhenThePeerVanishesMidStream) {
  Listener first;
  std::uint16_t port = first.port();
  SinkFixture fixture(port);
  fixture.sink->start();
  auto peer = first.accept();
  // ~23 MB: far more than the loopback socket buffers can hold, so some buffers are still unwritten when the first
  // peer goes away (with ~3 MB the kernel sometimes took everything and nothing was left to resend).
  constexpr std::size_t count = 150000;
  auto buffers = numbered_buffers(count);
  std::thread writer([&] { fixture.write_all(buffers); });
  std::string received = test::read_exactly(peer, 200000);
  peer.close();  // unread data is discarded: the sink sees a reset or EOF in the middle of its writes
  first.close();
  Listener second(port);
  // Also: the first peer read the first buffers in order (the sink never skips one on a connection).
  auto before = expect_resent_without_gap(fixture, second, writer, received, count);
  for (std::size_t i = 0; i < before.size(); ++i) {
    ASSERT_EQ(before[i], i);
  }
}

TEST(TcpSink, ResendsWhatAKilledPeerHadAcknowledgedButNotRead) {
  Listener first;
  std::uint16_t port = first.port();
  SinkFixture fixture(port);
  fixture.sink->start();
  auto peer = first.accept();
  // The peer reads a little, slowly, while the sink is far behind; then it vanishes with bytes in its receive
  // buffer that its kernel had acknowledged.
  constexpr std::size_t count = 60000;
  auto buffers = numbered_buffers(count);
  std::thread writer([&] { fixture.write_all(buffers); });
  std::string received;
  for (int i = 0; i < 20; ++i) {
    received += test::read_exactly(peer, 4096);
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_GT(fixture.sink->undelivered_bytes(), 0U);
  peer.close();
  first.close();
  std::string lost = "tcp_sink 'out': lost connection to 127.0.0.1:" + std::to_string(port) + " (";
  ASSERT_TRUE(wait_until([&] { return LogCapture::instance().count_containing(lost) > 0; }));
  Listener second(port);
  expect_resent_without_gap(fixture, second, writer, received, count);
}

TEST(TcpSink, StopWaitsForThePeersAcknowledgementAndReportsWhatIsMissing) {
  Listener listener;
  SinkFixture fixture(listener.port());
  fixture.sink->start();
  auto peer = listener.accept();  // never reads
  auto buffers = numbered_buffers(100000);
  std::size_t total = joined(buffers).size();
  std::thread writer([&] { fixture.write_all(buffers); });
  ASSERT_TRUE(wait_until([&] { return fixture.sink->budget().in_flight() >= total / 2; }));
  std::atomic<bool> stopped{false};
  fixture.sink->stop([&] { stopped = true; });
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(stopped.load());  // the peer's kernel holds only a part; the rest is neither sent nor acknowledged
  std::string read = test::read_exactly(peer, 1000);  // now read everything: the stop completes
  writer.join();
  read += test::read_to_eof(peer);
  EXPECT_TRUE(wait_until([&] { return stopped.load(); }));
  EXPECT_EQ(read, joined(buffers));
  EXPECT_EQ(fixture.sink->undelivered_bytes(), 0U);
}

TEST(TcpSink, AStopAfterThePeerReadEverythingAndClosedInOrderNeedsNoNewPeer) {
  // A receiver that exits once it has what it expects (roo receive --expect N): the sink keeps the acknowledged
  // margin for a possible next peer, but does not make the stop wait for one.
  Listener listener;
  SinkFixture fixture(listener.port());
  fixture.sink->start();
  auto peer = listener.accept();
  auto buffers = numbered_buffers(3000);
  fixture.write_all(buffers);
  EXPECT_EQ(test::read_exactly(peer, joined(buffers).size()), joined(buffers));
  peer.close();
  std::string lost = "tcp_sink 'out': lost connection to 127.0.0.1:" + std::to_string(listener.port()) +
                     " (end of file); reconnecting to resend ";
  ASSERT_TRUE(wait_until([&] { return LogCapture::instance().count_containing(lost) > 0; }));
  listener.close();
  EXPECT_TRUE(fixture.stop_and_wait());
  EXPECT_EQ(fixture.sink->undelivered_bytes(), 0U);
  EXPECT_EQ(fixture.sink->budget().in_flight(), 0U);
}

TEST(TcpSink, UndeliveredBytesCountWhatIsKeptWhileThePeerIsAway) {
  std::uint16_t port = unused_port();
  SinkFixture fixture(port);
  fixture.sink->start();
  ASSERT_TRUE(LogCapture::instance().wait_for("tcp_sink 'out': cannot connect to 127.0.0.1:" + std::to_string(port) +
                                              " (connection refused); retrying every 20 ms"));
  fixture.sink->write(bytes_of("0123456789"));
  fixture.sink->stop({});
  // Read on the io thread, as the worker does (it runs the io_context itself).
  std::atomic<std::size_t> undelivered{0};
  std::string reason;
  std::atomic<bool> read{false};
  boost::asio::post(fixture.io.io(), [&] {
    undelivered = fixture.sink->undelivered_bytes();
    reason = fixture.sink->undelivered_reason();
    read = true;
  });
  ASSERT_TRUE(wait_until([&] { return read.load(); }));
  EXPECT_EQ(undelivered.load(), 10U);
  EXPECT_EQ(reason, "no connection: connection refused");
}

TEST(TcpSink, DroppingTheSinkDiscardsWhatCannotBeWrittenWithAWarning) {
  std::uint16_t port = unused_port();
  auto fixture = std::make_unique<SinkFixture>(port);
  fixture->sink->start();
  fixture->sink->write(bytes_of("0123456789"));
  fixture->sink.reset();
  EXPECT_TRUE(LogCapture::instance().wait_for("tcp_sink 'out': discarding 10 bytes not yet delivered to 127.0.0.1:" +
                                              std::to_string(port)));
}

}  // namespace
}  // namespace roo::io
