#include "wallaroo_metrics_stream.hpp"

#include "roo/core/big_endian.hpp"
#include "roo/metrics/hub_protocol.hpp"
#include "roo/metrics/metric_catalogue.hpp"
#include "roo/metrics/metrics_registry.hpp"

#include <boost/asio/read.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace roo::metrics {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

constexpr std::int64_t period_ns = 2'000'000'000;
constexpr std::int64_t first_end = 1'000'000'000'000'000'000;  // a multiple of the period

TEST(WallarooMetricsStream, KeepsTheLastPeriodsWhileTheReceiverIsAwayAndSendsThemWhenItComes) {
  // The port is held by a socket that does not listen, so connecting is refused until the acceptor takes it.
  asio::io_context server_io;
  tcp::socket holder(server_io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::uint16_t port = holder.local_endpoint().port();

  asio::io_context io;
  WallarooMetricsStream stream(io, core::Endpoint{"127.0.0.1", port}, "app", std::chrono::nanoseconds(period_ns));
  stream.start("w1");
  io.run_for(std::chrono::milliseconds(50));  // refused: the next attempt is 1 s away

  MetricsRegistry registry("w1");
  LatencyMeter& step = registry.latency(step_latency, {{"pipeline", "P"}, {"step", "s"}, {"kind", "computation"}});
  const std::size_t periods = WallarooMetricsStream::max_waiting_periods + 4;
  std::size_t payload_size = 0;
  for (std::size_t i = 0; i < periods; ++i) {
    step.events.add(5);
    step.latency.record(1000);
    WorkerMetrics now = registry.snapshot();
    now.time_ns = first_end + static_cast<std::int64_t>(i) * period_ns + 3'000'000;  // the timer fires a bit late
    stream.report(now);
    WallarooReport one;
    one.name = "s";
    one.category = "computation";
    one.worker = "w1";
    one.pipeline = "P";
    payload_size = hub_metrics_payload("metrics:app", one).size();
  }

  holder.close();
  tcp::acceptor acceptor(server_io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), true);
  std::size_t hello_size = hub_connect().size() + hub_join("metrics:app", "w1").size();
  std::string received(hello_size + WallarooMetricsStream::max_waiting_periods * payload_size, '\0');
  std::atomic<bool> done{false};
  std::thread server([&] {
    tcp::socket peer = acceptor.accept();
    asio::read(peer, asio::buffer(received));
    done = true;
  });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done && std::chrono::steady_clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(20));
  }
  if (!done) {
    acceptor.close();
    server_io.stop();
  }
  server.join();
  ASSERT_TRUE(done) << "the stream did not reconnect within 5 s";

  core::BigEndianReader reader(received.data() + hello_size, received.size() - hello_size);
  for (std::size_t i = 0; i < WallarooMetricsStream::max_waiting_periods; ++i) {
    ASSERT_EQ(reader.u32(), payload_size - 4);
    ASSERT_EQ(reader.u8(), 3);
    EXPECT_EQ(reader.str(), "metrics");
    EXPECT_EQ(reader.str(), "metrics:app");
    core::BigEndianReader record(reader.str_view());
    record.u32();
    EXPECT_EQ(record.str(), "s");
    record.str();
    record.str();
    record.str();
    EXPECT_EQ(record.u16(), 1);
    std::uint64_t events = 0;
    for (int bin = 0; bin < 65; ++bin) {
      events += record.u64();
    }
    EXPECT_EQ(events, 5U);
    record.u64();
    record.u64();
    EXPECT_EQ(record.u64(), static_cast<std::uint64_t>(period_ns));
    // The oldest four periods were dropped: the first one sent is the fifth.
    EXPECT_EQ(record.u64(), static_cast<std::uint64_t>(first_end + static_cast<std::int64_t>(i + 4) * period_ns));
    EXPECT_TRUE(record.ok_and_done());
  }
  EXPECT_TRUE(reader.ok_and_done());
  stream.stop();
}

}  // namespace
}  // namespace roo::metrics
