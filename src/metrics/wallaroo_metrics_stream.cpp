#include "wallaroo_metrics_stream.hpp"

#include "roo/core/logging.hpp"
#include "roo/metrics/hub_protocol.hpp"
#include "roo/metrics/wallaroo_report.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <cctype>

namespace roo::metrics {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr std::chrono::milliseconds first_backoff{1000};
constexpr std::chrono::milliseconds longest_backoff{10000};
constexpr std::chrono::seconds connect_deadline{5};  // an address that drops SYNs would otherwise take minutes

const std::shared_ptr<spdlog::logger>& log() {
  static const auto logger = core::module_logger("metrics");
  return logger;
}

std::string cause_of(const boost::system::error_code& error, bool timed_out) {
  if (timed_out) {
    return "timed out";
  }
  if (error == asio::error::eof) {
    return "closed by the receiver";
  }
  std::string text = error.message();
  if (!text.empty()) {
    text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  }
  return text;
}

}  // namespace

WallarooMetricsStream::WallarooMetricsStream(asio::io_context& io, core::Endpoint receiver,
                                             const std::string& app_name, std::chrono::nanoseconds period)
    : io_(io),
      receiver_(std::move(receiver)),
      topic_("metrics:" + app_name),
      period_ns_(static_cast<std::uint64_t>(period.count())),
      backoff_(first_backoff) {}

void WallarooMetricsStream::start(std::string worker) {
  worker_ = std::move(worker);
  connect();
}

void WallarooMetricsStream::stop() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  log_dropped();
  close();
  resolver_.cancel();
  timer_.cancel();
}

void WallarooMetricsStream::report(const WorkerMetrics& now) {
  if (stopped_) {
    return;
  }
  std::uint64_t time = static_cast<std::uint64_t>(std::max<std::int64_t>(now.time_ns, 0));
  std::uint64_t period_end = (time + period_ns_ / 2) / period_ns_ * period_ns_;
  std::vector<WallarooReport> reports = wallaroo_reports(now, before_, period_ns_, period_end);
  before_ = now;
  if (now.worker != worker_) {  // a joining worker has its name now: join again under it
    worker_ = now.worker;
    if (connected_) {
      close();
      connect();
    }
  }
  if (reports.empty()) {
    return;
  }
  std::vector<char> payloads;
  for (const auto& report : reports) {
    std::vector<char> payload = hub_metrics_payload(topic_, report);
    payloads.insert(payloads.end(), payload.begin(), payload.end());
  }
  waiting_.push_back(std::move(payloads));
  if (waiting_.size() > max_waiting_periods) {
    // The front may be on its way to the socket; then the next oldest goes.
    waiting_.erase(writing_ ? std::next(waiting_.begin()) : waiting_.begin());
    ++dropped_;
  }
  write_next();
}

void WallarooMetricsStream::connect() {
  std::uint64_t attempt = ++attempt_;
  timed_out_ = false;
  timer_.expires_after(connect_deadline);
  timer_.async_wait([this, attempt](const boost::system::error_code& error) {
    if (error || attempt != attempt_ || connected_) {
      return;
    }
    timed_out_ = true;
    resolver_.cancel();
    boost::system::error_code ignored;
    socket_.close(ignored);
  });
  resolver_.async_resolve(
      receiver_.host, std::to_string(receiver_.port),
      [this, attempt](const boost::system::error_code& error, const tcp::resolver::results_type& addresses) {
        if (attempt != attempt_ || stopped_) {
          return;
        }
        if (error) {
          lost(error);
          return;
        }
        asio::async_connect(socket_, addresses, [this, attempt](const boost::system::error_code& failed, const auto&) {
          if (attempt != attempt_ || stopped_) {
            return;
          }
          if (failed) {
            lost(failed);
            return;
          }
          on_connected();
        });
      });
}

void WallarooMetricsStream::on_connected() {
  connected_ = true;
  timer_.cancel();
  backoff_ = first_backoff;
  log()->info("sending Wallaroo's metrics stream to {}{}", receiver_.to_string(), warned_ ? " again" : "");
  warned_ = false;
  log_dropped();
  hello_ = hub_connect();
  std::vector<char> join = hub_join(topic_, worker_);
  hello_.insert(hello_.end(), join.begin(), join.end());
  writing_ = true;
  asio::async_write(socket_, asio::buffer(hello_),
                    [this, attempt = attempt_](const boost::system::error_code& error, std::size_t) {
                      if (attempt != attempt_ || stopped_) {
                        return;
                      }
                      writing_ = false;
                      if (error) {
                        lost(error);
                        return;
                      }
                      write_next();
                    });
  read_until_closed();
}

void WallarooMetricsStream::write_next() {
  if (!connected_ || writing_ || waiting_.empty()) {
    return;
  }
  writing_ = true;
  asio::async_write(socket_, asio::buffer(waiting_.front()),
                    [this, attempt = attempt_](const boost::system::error_code& error, std::size_t) {
                      if (attempt != attempt_ || stopped_) {
                        return;
                      }
                      writing_ = false;
                      if (error) {
                        lost(error);
                        return;
                      }
                      waiting_.pop_front();
                      write_next();
                    });
}

void WallarooMetricsStream::read_until_closed() {
  socket_.async_read_some(asio::buffer(discard_),
                          [this, attempt = attempt_](const boost::system::error_code& error, std::size_t) {
                            if (attempt != attempt_ || stopped_) {
                              return;
                            }
                            if (error) {
                              lost(error);
                              return;
                            }
                            read_until_closed();
                          });
}

void WallarooMetricsStream::lost(const boost::system::error_code& error) {
  bool was_connected = connected_;
  std::string cause = cause_of(error, timed_out_);
  close();
  if (warned_) {
    log()->debug("still cannot reach the metrics receiver at {} ({})", receiver_.to_string(), cause);
  } else if (was_connected) {
    log()->warn("lost the metrics receiver at {} ({}); retrying", receiver_.to_string(), cause);
  } else {
    log()->warn("cannot reach the metrics receiver at {} ({}); retrying", receiver_.to_string(), cause);
  }
  warned_ = true;
  retry_later();
}

void WallarooMetricsStream::retry_later() {
  timer_.expires_after(backoff_);
  timer_.async_wait([this](const boost::system::error_code& error) {
    if (error || stopped_) {
      return;
    }
    connect();
  });
  backoff_ = std::min(backoff_ * 2, longest_backoff);
}

void WallarooMetricsStream::log_dropped() {
  if (dropped_ != 0) {
    log()->warn("dropped {} period(s) of metrics while the receiver at {} was away (more than {} waiting)", dropped_,
                receiver_.to_string(), max_waiting_periods);
    dropped_ = 0;
  }
}

void WallarooMetricsStream::close() {
  ++attempt_;  // whatever the old connection's handlers report now is stale
  boost::system::error_code ignored;
  socket_.close(ignored);
  connected_ = false;
  writing_ = false;
}

}  // namespace roo::metrics
