#include "roo/metrics/metrics_thread.hpp"

#include "roo/core/clock.hpp"
#include "roo/core/logging.hpp"
#include "wallaroo_metrics_stream.hpp"

#include <boost/asio/post.hpp>

#include <future>

#include <nlohmann/json.hpp>

namespace roo::metrics {

namespace asio = boost::asio;

MetricsThread::MetricsThread(MetricsRegistry& registry, MetricsOptions options, MetricsHooks hooks)
    : registry_(registry), options_(std::move(options)), hooks_(std::move(hooks)) {}

MetricsThread::~MetricsThread() { stop(); }

void MetricsThread::start() {
  if (started_) {
    return;
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
  auto finish = [this, done = std::move(done)](std::vector<std::pair<std::string, std::string>> answers,
                                               std::vector<std::string> missing) mutable {
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
  hooks_.gather(std::move(finish));
}

}  // namespace roo::metrics
