#include "roo/runtime/worker.hpp"

#include "external_answers.hpp"
#include "generator_source.hpp"
#include "pipeline_runner.hpp"

#include "roo/cluster/cluster.hpp"
#include "roo/core/batch_pool.hpp"
#include "roo/core/bounded_mailbox.hpp"
#include "roo/core/doorbell.hpp"
#include "roo/core/error.hpp"
#include "roo/core/logging.hpp"
#include "roo/graph/plan.hpp"
#include "roo/io/tcp_sink.hpp"
#include "roo/io/tcp_source.hpp"
#include "roo/python/application.hpp"
#include "roo/python/interpreter.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace asio = boost::asio;

namespace roo::runtime {
namespace {

constexpr std::size_t mailbox_batches = 64;
constexpr std::size_t generator_burst = 256;
// Outputs go to the sinks once 200 µs of work have piled up (or 4096 events, a bound on the buffer rather than on
// time): often enough that the first events of a large batch do not wait for its last ones, rarely enough to cost
// nothing per event. Each hand-over is a poll of the data io_context and a write syscall; at 512 events it was
// every ~75 µs on passthrough and cost ~10 % of its throughput (docs/benchmarks.md).
constexpr std::size_t events_per_slice = 64;
constexpr std::size_t events_per_handover = 4096;
constexpr std::chrono::microseconds handover_interval{200};
constexpr std::chrono::milliseconds idle_wait{20};
constexpr std::chrono::milliseconds credit_poll{1};
constexpr std::chrono::seconds sink_stop_wait{2};

std::string roo_python_dir() {
  if (const char* env = std::getenv("ROO_PYTHON_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  return ROO_SOURCE_PYTHON_DIR;
}

/// One worker's moving parts. Members are declared in the order they may be torn down in reverse.
///
/// Two threads. The executor (the main thread, holding the Python interpreter) runs the data path: it runs
/// `data_io_`, where the sources read and cut frames and the sinks write, between and inside its batches, and
/// sleeps in it when idle. Events therefore go from socket to Python to socket without waking another thread,
/// which is what keeps latency low on a busy machine (each cross-thread wake-up waited up to ~2 ms for a core).
/// The cluster (formation, data channels to peers, drain, the external channel) runs in `data_io_` too, so a hop
/// between workers wakes no thread on either side either. The io thread only runs `io_` for the signals; it reaches
/// the executor through the doorbell, whose waker posts to `data_io_`.
class Worker {
 public:
  explicit Worker(const WorkerOptions& options) : options_(options), log_(core::module_logger("runtime")) {
    mailbox_.set_doorbell(&doorbell_);
    inbound_.set_doorbell(&doorbell_);
    doorbell_.set_waker([this] {
      if (!data_io_.get_executor().running_in_this_thread()) {
        asio::post(data_io_, [] {});  // ends the executor's sleep in run_one_for()
      }
    });
  }

  int run();

 private:
  int serve();
  void join_cluster();
  [[nodiscard]] cluster::ClusterHooks hooks();
  [[nodiscard]] ObjectCodec object_codec() const;
  void start_io();
  void start_sinks();
  void start_sources();
  void on_signal(int signal_number);
  void stop_sources();
  [[nodiscard]] bool wait_for_sinks();
  [[nodiscard]] bool channels_have_room();
  [[nodiscard]] bool take_work();
  void hand_over_outputs();
  void sleep_in_data_io(std::chrono::milliseconds timeout);
  [[nodiscard]] int drain_sinks();
  void shut_down_io();
  void release_python_objects();

  const WorkerOptions& options_;
  std::shared_ptr<spdlog::logger> log_;
  asio::io_context io_;
  asio::io_context data_io_{1};  ///< run only by the executor (concurrency hint: one thread)
  /// Keeps data_io_ from running out of work (which would stop it: run_one_for would then return at once).
  asio::executor_work_guard<asio::io_context::executor_type> data_work_{asio::make_work_guard(data_io_)};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> io_work_;
  std::thread io_thread_;
  core::Doorbell doorbell_;
  core::BatchPool pool_;
  core::BoundedMailbox<core::FrameBatch> mailbox_{mailbox_batches};
  core::BoundedMailbox<cluster::RemoteBatch> inbound_{mailbox_batches};
  std::unique_ptr<cluster::Cluster> cluster_;
  std::vector<std::unique_ptr<io::TcpSink>> sinks_;
  std::vector<std::unique_ptr<io::Source>> sources_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> exit_requested_{false};
  std::atomic<bool> drained_{false};
  std::atomic<bool> formed_{false};  ///< the cluster has formed (or there is none): a signal stops it, not form()
  std::atomic<std::size_t> sources_running_{0};
  bool stopping_ = false;
  std::chrono::steady_clock::time_point drain_deadline_{};
  std::mutex facts_mutex_;
  LocalFacts facts_;  ///< guarded by facts_mutex_ (also read by the external channel's answers)
  std::optional<graph::Plan> plan_;
  std::atomic<PipelineRunner*> runner_view_{nullptr};
  std::optional<PipelineRunner> runner_;
  std::vector<GeneratorSource> generators_;
};

ObjectCodec Worker::object_codec() const {
  if (plan_->serialize) {
    return ObjectCodec{plan_->serialize, plan_->deserialize, true};
  }
  python::PyRef pickle = python::PyRef::steal(PyImport_ImportModule("pickle"));
  return ObjectCodec{python::PyRef::steal(PyObject_GetAttrString(pickle.get(), "dumps")),
                     python::PyRef::steal(PyObject_GetAttrString(pickle.get(), "loads")), false};
}

cluster::ClusterHooks Worker::hooks() {
  cluster::ClusterHooks hooks;
  hooks.is_drained = [this] { return drained_.load(); };
  hooks.on_stop = [this] {
    stop_requested_ = true;
    doorbell_.ring();
  };
  hooks.on_exit = [this] {
    exit_requested_ = true;
    doorbell_.ring();
  };
  hooks.on_peer_lost = [this](std::size_t worker) {
    log_->error("worker {} is gone: events for its key groups are dropped; restart the cluster to recover", worker);
  };
  hooks.local_answer = [this](std::uint16_t type) {
    std::lock_guard lock(facts_mutex_);
    if (auto* runner = runner_view_.load()) {
      facts_.state_keys = runner->state_keys();
    }
    return local_answer(type, facts_);
  };
  return hooks;
}

void Worker::join_cluster() {
  const auto& options = *options_.cluster;
  cluster::ClusterConfig config;
  config.worker_name = options_.worker_name;
  config.initializer = options.initializer;
  config.worker_count = options.worker_count;
  config.control = options.control;
  config.my_control = options.my_control;
  config.data = options.data;
  config.external = options.external;
  config.app_fingerprint = plan_->fingerprint();
  config.join_timeout = options.join_timeout;
  config.cluster_secret = options.cluster_secret;
  config.external_secret = options.external_secret;
  config.tls = options.tls;
  cluster_ = cluster::make_cluster(data_io_, config, inbound_, hooks());
  std::future<cluster::Membership> formed = cluster_->begin_forming();
  {
    python::GilRelease release;  // forming can take a while; nothing needs Python meanwhile
    while (formed.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      data_io_.run_one_for(idle_wait);
    }
  }
  cluster::Membership membership = formed.get();
  std::lock_guard lock(facts_mutex_);
  facts_.membership = membership;
}

void Worker::start_io() {
  io_work_.emplace(asio::make_work_guard(io_));
  io_thread_ = std::thread([this] { io_.run(); });
}

void Worker::start_sinks() {
  for (auto& sink : plan_->sinks) {
    io::TcpSinkConfig config{.name = sink.name, .peer = core::Endpoint{sink.host, sink.port}};
    sinks_.push_back(io::make_tcp_sink(data_io_, config));
    sinks_.back()->start();
  }
}

void Worker::start_sources() {
  std::vector<std::string> source_ids;
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
    sources_.push_back(io::make_tcp_source(data_io_, config, mailbox_, pool_));
    sources_.back()->start();
    for (std::size_t handler = 0; handler < source.parallelism; ++handler) {
      source_ids.push_back(std::to_string(i * 1000 + handler));
    }
  }
  sources_running_ = sources_.size();
  std::lock_guard lock(facts_mutex_);
  facts_.source_ids = std::move(source_ids);
}

void Worker::on_signal(int signal_number) {
  log_->info("received {}", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
  if (cluster_ && !formed_) {
    stop_requested_ = true;
    cluster_->stop();  // form() gives up; nothing has started yet
  } else if (cluster_) {
    cluster_->request_stop();  // every worker stops together, then drains
  } else {
    stop_requested_ = true;
    doorbell_.ring();
  }
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
      doorbell_.ring();
    });
  }
}

// Runs the data path's handlers for up to `timeout`, or until one has run, without the GIL.
void Worker::sleep_in_data_io(std::chrono::milliseconds timeout) {
  python::GilRelease release;
  data_io_.run_one_for(timeout);
  data_io_.poll();  // whatever else became ready meanwhile
}

// Backpressure from the sinks: keep the data path running (the sinks write in it) while any sink holds more than
// its limit.
bool Worker::wait_for_sinks() {
  for (auto& sink : sinks_) {
    while (sink->budget().in_flight() >= sink->budget().limit()) {
      sleep_in_data_io(idle_wait);
      if ((stop_requested_ && !stopping_) || exit_requested_) {
        return true;  // let the loop react; it comes back here
      }
      if (stopping_ && std::chrono::steady_clock::now() > drain_deadline_ + options_.drain_timeout) {
        return false;
      }
    }
  }
  return true;
}

// Backpressure between workers: take no new source input while a peer has not processed what we sent it.
bool Worker::channels_have_room() {
  if (!cluster_) {
    return true;
  }
  auto& membership = facts_.membership;  // written once before the loop starts
  for (std::size_t w = 0; w < membership.workers.size(); ++w) {
    if (w != membership.self && cluster_->budget(w).in_flight() >= cluster_->budget(w).limit()) {
      return false;
    }
  }
  return true;
}

// One turn's work: a batch from another worker first (never held back, so two workers waiting on each other's
// credit still drain each other), then source input or generators if the peers have room.
bool Worker::take_work() {
  std::optional<cluster::RemoteBatch> remote;
  std::optional<core::FrameBatch> batch;
  remote = inbound_.try_pop();  // never sleeps, so the GIL stays held
  if (!remote && channels_have_room()) {
    batch = mailbox_.try_pop();
  }
  if (remote) {
    drained_ = false;
    runner_->process_remote({remote->bytes.data(), remote->bytes.size()}, remote->from);
    hand_over_outputs();  // what it forwards is sent before it is acknowledged (the drain count relies on it)
    cluster_->acknowledge(remote->from, remote->bytes.size());
    return true;
  }
  if (batch) {
    drained_ = false;
    auto last_handover = std::chrono::steady_clock::now();
    std::size_t since_handover = 0;
    for (std::size_t first = 0; first < batch->size(); first += events_per_slice) {
      std::size_t last = std::min(batch->size(), first + events_per_slice);
      runner_->process(*batch, first, last);
      since_handover += last - first;
      auto now = std::chrono::steady_clock::now();
      if (since_handover >= events_per_handover || now - last_handover >= handover_interval) {
        hand_over_outputs();
        last_handover = now;
        since_handover = 0;
      }
    }
    pool_.release(std::move(*batch));
    return true;
  }
  if (!stopping_ && channels_have_room()) {
    bool any = false;
    for (auto& generator : generators_) {
      if (!generator.finished()) {
        any = true;
        drained_ = false;
        (void)generator.emit(*runner_, generator_burst);
      }
    }
    return any;
  }
  return false;
}

void Worker::hand_over_outputs() {
  auto& outputs = runner_->outputs();
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    if (!outputs[i].empty()) {
      sinks_[i]->write(outputs[i].take());
    }
  }
  if (cluster_) {
    for (std::size_t w = 0; w < facts_.membership.workers.size(); ++w) {
      if (w != facts_.membership.self) {
        auto bytes = runner_->take_hops(w);
        if (!bytes.empty()) {
          cluster_->send(w, std::move(bytes));
        }
      }
    }
  }
  // The sinks write now, and the sources read what arrived meanwhile. This is the main loop's one poll per turn: a
  // batch a source pushes here rings the doorbell, so the loop takes it instead of sleeping.
  data_io_.poll();
}

int Worker::drain_sinks() {
  hand_over_outputs();
  int code = 0;
  auto deadline = std::chrono::steady_clock::now() + options_.drain_timeout;
  for (std::size_t i = 0; i < sinks_.size(); ++i) {
    while (sinks_[i]->budget().in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
      sleep_in_data_io(idle_wait);
    }
    if (sinks_[i]->budget().in_flight() > 0) {
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
  auto sinks_stopped = std::make_shared<std::size_t>(0);
  for (auto& sink : sinks_) {
    sink->stop([sinks_stopped] { ++*sinks_stopped; });
  }
  auto deadline = std::chrono::steady_clock::now() + sink_stop_wait;
  while (*sinks_stopped < sinks_.size() && std::chrono::steady_clock::now() < deadline) {
    data_io_.run_one_for(idle_wait);
  }
  // Stopped first, so that the cluster's stop() (and its handle's destructor) queue their closing instead of waiting
  // for a thread to run it. Nothing runs the queue afterwards: the handlers are destroyed with data_io_, which closes
  // what they hold, and none of them logs (a failed start must stay one line on stderr).
  data_io_.stop();
  if (cluster_) {
    cluster_->stop();
  }
  io_work_.reset();
  io_.stop();
  if (io_thread_.joinable()) {
    io_thread_.join();
  }
  sources_.clear();
  sinks_.clear();
  cluster_.reset();
}

void Worker::release_python_objects() {
  runner_view_ = nullptr;
  generators_.clear();
  runner_.reset();
  plan_.reset();
}

int Worker::serve() {
  python::PyRef description = python::load_application(options_.module_name, options_.app_args, options_.full_argv);
  plan_.emplace(graph::read_plan(description.get()));
  description = python::PyRef();
  python::freeze_setup_objects();

  asio::signal_set signals(io_, SIGINT, SIGTERM);
  std::function<void(const boost::system::error_code&, int)> on_signal_set;
  on_signal_set = [&](const boost::system::error_code& error, int signal_number) {
    if (!error) {
      on_signal(signal_number);
      signals.async_wait(on_signal_set);  // a second Ctrl-C is logged too, and changes nothing
    }
  };
  signals.async_wait(on_signal_set);
  std::signal(SIGPIPE, SIG_IGN);
  start_io();
  Routing routing;
  if (options_.cluster) {
    try {
      join_cluster();
    } catch (const core::Error&) {
      if (!stop_requested_) {
        throw;
      }
      log_->info("stopped before the cluster formed");
      signals.cancel();
      shut_down_io();
      return 0;
    }
    routing = Routing{facts_.membership.self, facts_.membership.workers.size(), facts_.membership.key_groups};
  }
  formed_ = true;
  runner_.emplace(*plan_, routing, object_codec());
  runner_view_ = &*runner_;
  start_sources();  // first: a port in use must be the only line the user sees
  start_sinks();
  log_->info("application '{}' runs {} source(s), {} stage(s), {} sink(s){}", plan_->app_name, plan_->sources.size(),
             plan_->stages.size(), plan_->sinks.size(),
             routing.workers > 1 ? fmt::format(" on worker {} of {}", routing.self, routing.workers) : "");
  log_->info("|~~ INIT PHASE III: Application is ready to work! ~~|");

  int code = 0;
  while (!exit_requested_) {
    if (stop_requested_ && !stopping_) {
      stop_sources();
    }
    if (!wait_for_sinks()) {
      code = 1;
      break;
    }
    std::uint64_t seen = doorbell_.rings();
    bool worked = take_work();
    hand_over_outputs();
    if (worked) {
      continue;
    }
    bool quiet = stopping_ && sources_running_ == 0 && mailbox_.size() == 0 && inbound_.size() == 0;
    drained_ = quiet;
    if (quiet && !cluster_) {
      break;
    }
    if (quiet && std::chrono::steady_clock::now() > drain_deadline_ + options_.drain_timeout) {
      log_->warn("the cluster did not finish draining in time; exiting");
      break;
    }
    if (doorbell_.rings() == seen) {
      sleep_in_data_io(channels_have_room() ? idle_wait : credit_poll);
    }
  }
  if (code == 0) {
    code = drain_sinks();
  }
  signals.cancel();
  shut_down_io();
  log_->info("stopped: {} events in, {} outputs written, {} events failed", runner_->events_in(),
             runner_->outputs_written(), runner_->failed_events());
  return code;
}

}  // namespace

int run_worker(const WorkerOptions& options) {
  Worker worker(options);
  return worker.run();
}

}  // namespace roo::runtime
