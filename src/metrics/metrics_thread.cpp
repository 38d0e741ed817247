#include "roo/metrics/metrics_thread.hpp"

#include "roo/core/clock.hpp"
#include "roo/core/logging.hpp"
#include "metrics_http_server.hpp"
#include "wallaroo_metrics_stream.hpp"

#include <boost/asio/post.hpp>

#include <atomic>
#include <future>

#include <nlohmann/json.hpp>

namespace roo::metrics {

namespace asio = boost::asio;

MetricsThread::MetricsThread(MetricsRegistry& registry, MetricsOptions options, MetricsHooks hooks)
    : registry_(registry), options_(std::move(options)), hooks_(std::move(hooks)), activity_(options_.log_every) {}

MetricsThread::~MetricsThread() { stop(); }

void MetricsThread::start() {
  if (started_) {
    return;
  }
  if (options_.http) {
    http_ = std::make_unique<MetricsHttpServer>(io_, *options_.http, MetricsHttpRoutes(*this, options_.dashboard_dir));
    http_->start();
  }
  started_ = true;
  sample();
  if (options_.wallaroo) {
    wallaroo_ = std::make_unique<WallarooMetricsStream>(io_, *options_.wallaroo, options_.app_name, options_.period);
    wallaroo_->start(registry_.worker());
  }
  schedule_sample();
  thread_ = std::thread([this] { io_.run(); });
}

void MetricsThread::stop() {
  if (!started_ || stopped_) {
    return;
  }
  stopped_ = true;
  asio::post(io_, [this] {
    timer_.cancel();
    if (http_) {
      http_->close();
    }
    sample();
    if (wallaroo_) {
      wallaroo_->stop();
    }
    io_.stop();
  });
  if (thread_.joinable()) {
    thread_.join();
  }
}

void MetricsThread::schedule_sample() {
  // The next wall-clock multiple of the period: Wallaroo's reporting periods are aligned so.
  auto period = std::chrono::duration_cast<std::chrono::nanoseconds>(options_.period).count();
  std::int64_t now = core::wall_clock_ns();
  std::int64_t next = (now / period + 1) * period;
  timer_.expires_after(std::chrono::nanoseconds(next - now));
  timer_.async_wait([this](const boost::system::error_code& error) {
    if (error) {
      return;
    }
    sample();
    if (wallaroo_) {  // only the samples at the period's multiples: sample_now()'s would split a period
      wallaroo_->report(latest());
    }
    schedule_sample();
  });
}

void MetricsThread::sample() {
  WorkerMetrics now = history_.add(registry_.snapshot());
  activity_.observe(now);
  std::string json = nlohmann::json(now).dump();
  std::lock_guard lock(latest_mutex_);
  latest_ = std::move(now);
  latest_json_ = std::move(json);
}

void MetricsThread::sample_now() {
  if (!started_ || stopped_) {
    sample();
    return;
  }
  std::promise<void> done;
  asio::post(io_, [this, &done] {
    sample();
    done.set_value();
  });
  done.get_future().wait();
}

WorkerMetrics MetricsThread::latest() const {
  std::lock_guard lock(latest_mutex_);
  return latest_;
}

std::string MetricsThread::latest_json() const {
  std::lock_guard lock(latest_mutex_);
  return latest_json_;
}

void MetricsThread::cluster(std::function<void(ClusterMetrics)> done) {
  // The gather runs on the worker's executor thread (its cluster side does), which a user call that does not return
  // keeps busy: after gather_patience the answer is this worker's own figures, so a page or scrape never hangs.
  // Whichever comes first answers; the other finds `once` taken.
  auto once = std::make_shared<std::atomic<bool>>(false);
  auto finish = [this, once, done = std::move(done)](std::vector<std::pair<std::string, std::string>> answers,
                                                     std::vector<std::string> missing) mutable {
    if (once->exchange(true)) {
      return;
    }
    asio::post(io_, [this, done = std::move(done), answers = std::move(answers),
                     missing = std::move(missing)]() mutable {
      ClusterMetrics cluster;
      cluster.missing = std::move(missing);
      for (auto& [worker, json] : answers) {
        WorkerMetrics metrics;
        std::string error;
        if (parse_worker_metrics(json, metrics, error)) {
          metrics.worker = worker;
          cluster.workers.push_back(std::move(metrics));
        } else {
          core::module_logger("metrics")->warn("worker '{}' answered the metrics query with {}: {}; leaving it out",
                                               worker, json.empty() ? "nothing" : "bad JSON", error);
          cluster.missing.push_back(worker);
        }
      }
      cluster.total = add_up(cluster.workers);
      done(std::move(cluster));
    });
  };
  if (!hooks_.gather) {
    finish({{registry_.worker(), latest_json()}}, {});
    return;
  }
  auto patience = std::make_shared<asio::steady_timer>(io_, gather_patience);
  auto alone = [this, patience, finish]() mutable {
    patience->async_wait([this, patience, finish](const boost::system::error_code& error) mutable {
      if (!error) {
        finish({{registry_.worker(), latest_json()}}, {});
      }
    });
  };
  alone();
  hooks_.gather(std::move(finish));
}

}  // namespace roo::metrics
