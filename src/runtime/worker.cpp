#include "roo/runtime/worker.hpp"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <memory>
#include <optional>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "generator_source.hpp"
#include "pipeline_runner.hpp"
#include "roo/core/batch_pool.hpp"
#include "roo/core/bounded_mailbox.hpp"
#include "roo/core/error.hpp"
#include "roo/core/logging.hpp"
#include "roo/graph/plan.hpp"
#include "roo/io/tcp_sink.hpp"
#include "roo/io/tcp_source.hpp"
#include "roo/python/application.hpp"
#include "roo/python/interpreter.hpp"

namespace asio = boost::asio;

namespace roo::runtime {
namespace {

constexpr std::size_t mailbox_batches = 64;
constexpr std::size_t generator_burst = 256;
constexpr std::chrono::milliseconds idle_wait{20};

std::string roo_python_dir() {
  if (const char* env = std::getenv("ROO_PYTHON_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  return ROO_SOURCE_PYTHON_DIR;
}

/// One worker's moving parts, in the order they must be torn down (reverse of declaration).
class Worker {
 public:
  explicit Worker(const WorkerOptions& options) : options_(options), log_(core::module_logger("runtime")) {}

  int run();

 private:
  int serve();
  void shut_down_io();
  void release_python_objects();
  void start_io();
  void start_sinks();
  void start_sources();
  void request_stop();
  void stop_sources();
  [[nodiscard]] bool wait_for_sinks();
  void hand_over_outputs();
  [[nodiscard]] bool run_generators();
  [[nodiscard]] int drain_sinks();

  const WorkerOptions& options_;
  std::shared_ptr<spdlog::logger> log_;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> io_work_;
  std::thread io_thread_;
  core::BatchPool pool_;
  core::BoundedMailbox<core::FrameBatch> mailbox_{mailbox_batches};
  std::vector<std::unique_ptr<io::TcpSink>> sinks_;
  std::vector<std::unique_ptr<io::Source>> sources_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<std::size_t> sources_running_{0};
  bool stopping_ = false;
  std::chrono::steady_clock::time_point drain_deadline_{};
  std::optional<graph::Plan> plan_;
  std::optional<PipelineRunner> runner_;
  std::vector<GeneratorSource> generators_;
};

void Worker::start_io() {
  io_work_.emplace(asio::make_work_guard(io_));
  io_thread_ = std::thread([this] { io_.run(); });
}

void Worker::start_sinks() {
  for (auto& sink : plan_->sinks) {
    io::TcpSinkConfig config{.name = sink.name, .peer = core::Endpoint{sink.host, sink.port}};
    sinks_.push_back(io::make_tcp_sink(io_, config));
    sinks_.back()->start();
  }
}

void Worker::start_sources() {
  for (std::size_t i = 0; i < plan_->sources.size(); ++i) {
    const auto& source = plan_->sources[i];
    if (source.kind == graph::SourcePlan::Kind::generator) {
      generators_.emplace_back(i, source);
      continue;
    }
    if (!source.valid) {
      continue;
    }
    io::TcpSourceConfig config{.name = source.name,
                               .listen = core::Endpoint{source.host, source.port},
                               .source_index = static_cast<std::uint32_t>(i),
                               .framing = io::parse_length_prefix(source.header_length, source.length_fmt),
                               .max_size = source.max_size,
                               .max_connections = source.parallelism};
    sources_.push_back(io::make_tcp_source(io_, config, mailbox_, pool_));
    sources_.back()->start();
    log_->info("source '{}' listening on {}", source.name, sources_.back()->local_endpoint().to_string());
  }
  sources_running_ = sources_.size();
}

void Worker::request_stop() {
  stop_requested_ = true;
  mailbox_.nudge();
}

void Worker::stop_sources() {
  stopping_ = true;
  drain_deadline_ = std::chrono::steady_clock::now() + options_.drain_timeout;
  log_->info("stopping: sources stop, events in flight drain to the sinks");
  for (auto& generator : generators_) {
    generator.finish();
  }
  for (auto& source : sources_) {
    source->stop([this] {
      sources_running_.fetch_sub(1);
      mailbox_.nudge();
    });
  }
}

// Backpressure from the sinks: wait (without the GIL) while any sink holds more than its limit.
bool Worker::wait_for_sinks() {
  for (auto& sink : sinks_) {
    python::GilRelease release;
    while (!sink->budget().wait_below_limit(idle_wait)) {
      if (stop_requested_ && !stopping_) {
        return true;  // let the loop begin stopping the sources; keep waiting after
      }
      if (stopping_ && std::chrono::steady_clock::now() > drain_deadline_) {
        return false;
      }
    }
  }
  return true;
}

void Worker::hand_over_outputs() {
  auto& outputs = runner_->outputs();
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    if (!outputs[i].empty()) {
      sinks_[i]->write(std::move(outputs[i]));
      outputs[i] = std::vector<char>();
      outputs[i].reserve(64 * 1024);
    }
  }
}

bool Worker::run_generators() {
  bool any = false;
  for (auto& generator : generators_) {
    if (!generator.finished()) {
      any = true;
      (void)generator.emit(*runner_, generator_burst);
    }
  }
  return any;
}

int Worker::drain_sinks() {
  hand_over_outputs();
  int code = 0;
  for (std::size_t i = 0; i < sinks_.size(); ++i) {
    auto left = drain_deadline_ - std::chrono::steady_clock::now();
    auto wait = std::max(std::chrono::milliseconds(0), std::chrono::duration_cast<std::chrono::milliseconds>(left));
    python::GilRelease release;
    if (!sinks_[i]->budget().wait_empty(wait)) {
      log_->error("sink '{}': {} bytes not delivered to {}:{} before the drain timeout", plan_->sinks[i].name,
                  sinks_[i]->budget().in_flight(), plan_->sinks[i].host, plan_->sinks[i].port);
      code = 1;
    }
  }
  return code;
}

int Worker::run() {
  python::Interpreter interpreter(
      python::InterpreterConfig{.leading_paths = {roo_python_dir(), options_.app_folder}, .argv = {""}});
  try {
    int code = serve();
    release_python_objects();
    return code;
  } catch (...) {
    // Python objects must go before the interpreter does, and the I/O thread before the objects it uses.
    shut_down_io();
    release_python_objects();
    throw;
  }
}

void Worker::shut_down_io() {
  python::GilRelease release;
  for (auto& sink : sinks_) {
    sink->stop([] {});
  }
  io_work_.reset();
  io_.stop();
  if (io_thread_.joinable()) {
    io_thread_.join();
  }
  sources_.clear();
  sinks_.clear();
}

void Worker::release_python_objects() {
  generators_.clear();
  runner_.reset();
  plan_.reset();
}

int Worker::serve() {
  python::PyRef description =
      python::load_application(options_.module_name, options_.app_args, options_.full_argv);
  plan_.emplace(graph::read_plan(description.get()));
  description = python::PyRef();
  runner_.emplace(*plan_);

  asio::signal_set signals(io_, SIGINT, SIGTERM);
  signals.async_wait([this](const boost::system::error_code& error, int signal_number) {
    if (!error) {
      log_->info("received {}", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
      request_stop();
    }
  });
  std::signal(SIGPIPE, SIG_IGN);
  start_sinks();
  start_sources();
  start_io();
  log_->info("application '{}' runs {} source(s), {} stage(s), {} sink(s)", plan_->app_name, plan_->sources.size(),
             plan_->stages.size(), plan_->sinks.size());
  log_->info("|~~ INIT PHASE III: Application is ready to work! ~~|");

  int code = 0;
  while (true) {
    if (stop_requested_ && !stopping_) {
      stop_sources();
    }
    if (!wait_for_sinks()) {
      code = 1;
      break;
    }
    std::optional<core::FrameBatch> batch;
    bool generating = !stopping_ && std::any_of(generators_.begin(), generators_.end(),
                                                [](const GeneratorSource& g) { return !g.finished(); });
    {
      python::GilRelease release;
      batch = mailbox_.pop_for(generating ? std::chrono::milliseconds(0) : idle_wait);
    }
    if (batch) {
      runner_->process(*batch);
      pool_.release(std::move(*batch));
    } else if (generating) {
      (void)run_generators();
    } else if (stopping_ && sources_running_ == 0 && mailbox_.size() == 0) {
      break;
    }
    hand_over_outputs();
  }
  if (code == 0) {
    code = drain_sinks();
  }
  signals.cancel();
  shut_down_io();
  log_->info("stopped: {} events in, {} outputs written", runner_->events_in(), runner_->outputs_written());
  return code;
}

}  // namespace

int run_worker(const WorkerOptions& options) {
  Worker worker(options);
  return worker.run();
}

}  // namespace roo::runtime
