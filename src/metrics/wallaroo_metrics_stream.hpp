#pragma once

#include "roo/core/endpoint.hpp"
#include "roo/metrics/worker_metrics.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace roo::metrics {

/// Wallaroo's metrics stream (spec §5, `--metrics host:port`): a TCP client that sends the Monitoring Hub CONNECT
/// and JOIN on every connection, then each period one PAYLOAD per reporter that saw events (wallaroo_reports()).
/// The receiver may be down at start or go away: it reconnects with backoff (1 s, doubling to 10 s), logs one
/// warning when it cannot reach the receiver and one info line when it can again, and meanwhile keeps the last
/// `max_waiting_periods` periods (dropping the oldest, counted in a log line), so that a short outage loses nothing.
///
/// Threads: constructed on any thread; everything else, and every handler, on the metrics thread's io_context,
/// which runs nothing of the executor, so a slow or absent receiver never slows the stream processing. Destroy it
/// before that io_context.
class WallarooMetricsStream {
 public:
  static constexpr std::size_t max_waiting_periods = 16;

  WallarooMetricsStream(boost::asio::io_context& io, core::Endpoint receiver, const std::string& app_name,
                        std::chrono::nanoseconds period);
  WallarooMetricsStream(const WallarooMetricsStream&) = delete;
  WallarooMetricsStream& operator=(const WallarooMetricsStream&) = delete;

  /// Starts connecting, joining as `worker`.
  void start(std::string worker);
  /// The snapshot taken at a period's end (its time the nearest wall-clock multiple of the period): queues the
  /// period's payloads and sends them when connected.
  void report(const WorkerMetrics& now);
  /// Closes the connection; nothing is sent or retried afterwards.
  void stop();

 private:
  void connect();
  void on_connected();
  void write_next();
  void read_until_closed();
  /// The connection failed (`connected_`: it dropped) for `error`: closes it and retries later.
  void lost(const boost::system::error_code& error);
  void retry_later();
  void log_dropped();
  void close();

  boost::asio::io_context& io_;
  core::Endpoint receiver_;
  std::string topic_;  ///< "metrics:<app_name>"
  std::uint64_t period_ns_;
  std::string worker_;  ///< the name joined as (a joining worker learns its name late: then it joins again)
  boost::asio::ip::tcp::resolver resolver_{io_};
  boost::asio::ip::tcp::socket socket_{io_};
  boost::asio::steady_timer timer_{io_};  ///< the connect deadline, then the wait before the next attempt
  std::uint64_t attempt_ = 0;             ///< handlers of an earlier connection see a different one and do nothing
  bool connected_ = false;
  bool writing_ = false;
  bool stopped_ = false;
  bool timed_out_ = false;
  bool warned_ = false;  ///< a warning was logged since the last connection
  std::chrono::milliseconds backoff_;
  std::vector<char> hello_;                    ///< CONNECT and JOIN, being written
  std::deque<std::vector<char>> waiting_;      ///< one entry per period: its payloads; the front is being written
  std::uint64_t dropped_ = 0;                  ///< periods dropped since the last connection
  std::array<char, 256> discard_{};            ///< what the receiver sends: read and ignored, to see it close
  WorkerMetrics before_;                       ///< the snapshot at the start of the period
};

}  // namespace roo::metrics
