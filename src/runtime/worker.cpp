#include "roo/runtime/worker.hpp"

#include "byte_count.hpp"
#include "checkpoint_coordinator.hpp"
#include "consumer_lag_gauge.hpp"
#include "dashboard_dir.hpp"
#include "delivery_report.hpp"
#include "external_answers.hpp"
#include "generator_source.hpp"
#include "io_from_plan.hpp"
#include "key_group_handover.hpp"
#include "partition_readers.hpp"
#include "pipeline_runner.hpp"
#include "rescale_inbox.hpp"
#include "rescale_refusal.hpp"
#include "sink_delivery_wait.hpp"
#include "sink_output_relay.hpp"
#include "source_positions.hpp"
#include "state_codecs.hpp"
#include "transactional_sinks.hpp"

#include "roo/checkpoint/record_format.hpp"
#include "roo/cluster/cluster.hpp"
#include "roo/core/batch_pool.hpp"
#include "roo/core/bounded_mailbox.hpp"
#include "roo/core/clock.hpp"
#include "roo/core/doorbell.hpp"
#include "roo/core/error.hpp"
#include "roo/core/executor_input.hpp"
#include "roo/core/logging.hpp"
#include "roo/graph/plan.hpp"
#include "roo/io/sink.hpp"
#include "roo/io/tcp_sink.hpp"
#include "roo/io/tcp_source.hpp"
#include "roo/python/application.hpp"
#include "roo/python/call_watch.hpp"
#include "roo/python/interpreter.hpp"
#include "roo/runtime/python_package_dir.hpp"

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
#include <utility>
#include <variant>

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
/// Keys handed over in a rescale removed from a table's dict per turn: about a millisecond's work.
constexpr std::size_t left_keys_per_turn = 2048;
/// How often, at most, a worker tells its peers how far its watermarks moved (windows only).
constexpr std::chrono::milliseconds watermark_interval{10};
/// Unchanged watermarks are sent again this often: a peer that restarted (recovery) has heard nothing from this
/// worker, and one whose watermark stopped moving (a finished source) would otherwise never tell it again.
constexpr std::chrono::milliseconds watermark_repeat{500};

using core::wall_clock_ns;  // event time's clock
constexpr std::chrono::milliseconds credit_poll{1};
constexpr std::chrono::milliseconds sink_room_poll{2};  // wait_for_sinks
constexpr std::chrono::seconds sink_stop_wait{2};
/// With checkpoints, a cluster that did not form is formed again after this wait, doubled each time up to the last.
constexpr std::chrono::milliseconds first_forming_retry{100};
constexpr std::chrono::milliseconds last_forming_retry{2000};
/// A Kafka source that cannot start again after a rescale (brokers out of reach) waits this long for them per
/// attempt, and is tried again this often: the executor waits meanwhile, so neither is long.
constexpr std::chrono::milliseconds kafka_restart_wait{2000};
// A stop's last resort: a worker whose executor has not finished draining this long after drain_timeout (a user
// call that ignored the interrupt) exits 1 at once, so a stop takes at most drain_timeout + 0.6 s
// (within the drain_timeout + 1 s that docs/running.md promises).
constexpr std::chrono::milliseconds forced_exit_margin{600};

/// One worker's moving parts. Members are declared in the order they may be torn down in reverse.
///
/// Two threads. The executor (the main thread, holding the Python interpreter) runs the data path: it runs
/// `data_io_`, where the sources read and cut frames and the sinks write, between and inside its batches, and
/// sleeps in it when idle. Events therefore go from socket to Python to socket without waking another thread,
/// which is what keeps latency low on a busy machine (each cross-thread wake-up waited up to ~2 ms for a core).
/// The cluster (formation, data channels to peers, drain, the external channel) runs in `data_io_` too, so a hop
/// between workers wakes no thread on either side either. The io thread runs `io_` for the signals and the connector
/// sinks (the executor waits on those without running `data_io_`: their recovery, the last checkpoint); it reaches
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
  void join_cluster(std::chrono::steady_clock::time_point give_up_at);
  void close_cluster();
  [[nodiscard]] cluster::ClusterHooks hooks();
  [[nodiscard]] ObjectCodec object_codec() const;
  void start_io();
  void create_sinks();
  void start_sinks();
  /// Offsets of replayable sources without checkpoints: committed once the sinks delivered what came before them.
  void commit_delivered_positions(std::chrono::steady_clock::time_point now);
  void create_generators();
  /// This worker's place, for its sources' and sinks' settings (its index: once the cluster formed).
  [[nodiscard]] IoPlacement placement() const;
  void start_sources();
  /// Replayable sources start after the recovery (at its positions) and restart after each rollback. A Kafka
  /// source starts only while this worker reads partitions (kafka_readers_).
  void start_replayable_sources();
  void start_replayable_source(std::size_t index, const IoPlacement& placement);
  void stop_replayable_sources();
  void stop_replayable_source(std::size_t index);
  /// Commits `position` where replayable source `index` keeps it; a Kafka source that is not running (a rescale
  /// stopped it) through a handle that never starts (a short-lived client, waiting for the answer).
  void commit_position(std::size_t index, const io::SourcePosition& position);
  /// Whether this worker reads Kafka partitions once the cluster formed: not a joiner of a running cluster (it owns
  /// no key group yet) until its first rescale move deals it some.
  [[nodiscard]] std::optional<PartitionReaders> partition_readers_at_formation() const;
  /// A rescale's move (docs/kafka.md, "Partitions and workers"): the Kafka sources stop, and the partitions this
  /// worker does not read in `next` are handed on: their positions (else where they started) committed to the group,
  /// where their next reader starts from.
  void hand_on_kafka_partitions(std::uint64_t round, const cluster::Membership& next);
  /// Paused by a rescale: whether the sinks delivered every output (only when a Kafka source hands partitions on).
  bool delivered_before_move();
  /// At a rescale's resume (and retried while that fails): the Kafka sources read this worker's partitions again.
  void read_kafka_partitions_again();
  void open_checkpoint_files();
  [[nodiscard]] bool checkpoints_as_cluster() const;
  void start_checkpoints();
  void finish_checkpoints(bool clean);
  /// Builds this run of the pipeline (runner, watchdog, generators, checkpoints) on `routing`.
  void build_pipeline(Routing routing);
  /// The window stages' watermarks follow `membership` (joiners, departed workers).
  void windows_follow(const cluster::Membership& membership);
  /// A rescale's keys have moved: the window stages rebuild and fire what is due; its outputs are handed on.
  void fire_moved_windows();
  /// The executor's loop, until the worker stops (true) or must roll back (false).
  [[nodiscard]] bool run_pipeline(bool& drain_timed_out);
  /// A peer was lost with checkpoints on: this run of the pipeline ends, and the cluster forms again.
  void tear_down_pipeline();
  [[nodiscard]] std::chrono::milliseconds forming_patience() const;
  void on_signal(int signal_number);
  void start_stop_clock();
  void stop_sources();
  void discard_queued_input(const std::string& reason);
  [[nodiscard]] std::string halted_reason() const;
  void count_interrupted_call();
  void report_delivery(DeliveryReport& report);
  [[nodiscard]] bool wait_for_sinks();
  /// A sink that failed for good (a Kafka producer fenced by a newer instance) stops this worker: true then.
  [[nodiscard]] bool check_sinks();
  [[nodiscard]] bool channels_have_room();
  [[nodiscard]] bool take_work();
  /// One message from a peer's data channel (core::PeerInput), by type: the overload set is closed, so a message type
  /// without its handler does not compile.
  void take_peer(std::size_t from, core::PeerData& data);
  void take_peer(std::size_t from, const core::CheckpointMarker& marker);
  void take_peer(std::size_t from, const core::Watermarks& watermarks);
  void take_peer(std::size_t from, core::KeyGroupState& state);
  /// Growing and shrinking (docs/cluster.md): the cluster's rescale news, taken in order once per turn.
  void take_rescale_news();
  void take_rescale(RescaleInbox::MembersChanged& changed);
  void take_rescale(const RescaleInbox::Pause& pause);
  void take_rescale(RescaleInbox::Move& move);
  void take_rescale(const RescaleInbox::Resume& resume);
  /// This worker leaves the cluster: its connector sources send their clients to a worker that stays.
  void send_connectors_away();
  /// `membership` is this worker's from now on (the external channel's answers read it too).
  void adopt_membership(cluster::Membership membership);
  /// Whether the loops over the membership's workers skip worker `w`: this worker, or one that left.
  [[nodiscard]] bool is_peer(std::size_t w) const {
    return w != facts_.membership.self && !facts_.membership.has_departed(w);
  }
  [[nodiscard]] std::string worker_name(std::size_t w) const;
  /// A source's batch (its data batch, core/executor_input.hpp): its news before its frames, the frames slice by
  /// slice, its news after them.
  void take_source_batch(core::FrameBatch& batch);
  void hand_over_outputs();
  void tend_windows(std::chrono::steady_clock::time_point now);
  [[nodiscard]] std::chrono::milliseconds until_windows_due(std::chrono::milliseconds longest) const;
  void sleep_in_data_io(std::chrono::milliseconds timeout);
  void wait_in_data_io(std::chrono::milliseconds wait);
  void drain_sinks(DeliveryReport& report);
  void shut_down_io(std::chrono::steady_clock::time_point sinks_deadline);
  void release_python_objects();
  /// The metrics thread (docs/metrics.md) and the gauges it reads; started once the plan is known.
  void start_metrics();
  /// The sinks' queues, as gauges (once the sinks exist).
  void measure_sinks();
  void stop_metrics();

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
  core::BoundedMailbox<core::PeerInput> inbound_{mailbox_batches};
  std::mutex cluster_mutex_;  ///< guards cluster_ being replaced (executor) against the signal handler (io thread)
  std::unique_ptr<cluster::Cluster> cluster_;
  std::optional<TransactionalSinks> transactional_;  ///< before sinks_: a sink may answer until it is destroyed
  HttpExchanges http_exchanges_;  ///< by source index: each http source's exchange (its source and reply faces)
  std::vector<std::unique_ptr<io::Sink>> sinks_;  ///< by the plan's sink index
  bool sinks_started_ = false;
  std::optional<std::string> failed_sink_;  ///< why a sink failed for good (check_sinks)
  std::chrono::steady_clock::time_point next_sink_check_{};
  std::chrono::steady_clock::time_point next_watermark_send_{};
  std::chrono::steady_clock::time_point next_watermark_repeat_{};
  std::vector<char> sent_watermarks_;  ///< what the peers last heard (windows only)
  std::vector<std::unique_ptr<io::Source>> sources_;
  std::vector<std::size_t> replayable_;  ///< indexes of the replayable sources
  /// Which Kafka partitions this worker reads (the last formation's or rescale move's); none: a joiner before its
  /// first move, or a leaver. Executor only.
  std::optional<PartitionReaders> kafka_readers_{PartitionReaders{}};
  /// When a Kafka source that could not start again after a rescale is tried again (max: none waits).
  std::chrono::steady_clock::time_point kafka_restart_due_ = std::chrono::steady_clock::time_point::max();
  std::vector<std::uint32_t> generations_;     ///< by source index: its current start (FrameBatch::generation)
  std::optional<SourcePositions> positions_;   ///< the replayable sources' positions at the executor's cut
  std::vector<io::Source*> sources_by_index_;  ///< by source index (null: a generator, or not started)
  /// Positions waiting for the sinks' flush to be committed (commit_delivered_positions).
  std::optional<std::vector<std::pair<std::size_t, io::SourcePosition>>> position_commit_;
  SinkDeliveryWait position_commit_flush_{sinks_, doorbell_};
  std::chrono::steady_clock::time_point next_position_commit_{};
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> signalled_{false};           ///< the stop came from SIGINT/SIGTERM (not from `roo shutdown`)
  std::atomic<bool> rollback_requested_{false};  ///< a peer was lost with checkpoints on (CheckpointCoordinator)
  std::size_t rollbacks_ = 0;
  std::atomic<bool> exit_requested_{false};
  std::atomic<bool> drained_{false};
  /// A rescale round paused source input (on_rescale_pause until on_rescale_resume, or a stop). Executor only.
  bool paused_ = false;
  /// A rescale's pause: when it began, and whether the wait for the sinks' delivery was given up (see
  /// delivered_before_move()).
  std::chrono::steady_clock::time_point paused_at_{};
  bool delivery_given_up_ = false;
  std::uint64_t paused_round_ = 0;
  SinkDeliveryWait sink_delivery_{sinks_, doorbell_};
  bool leaving_ = false;              ///< a rescale moved this worker's key groups away: it goes once told to
  bool left_keys_pending_ = false;    ///< keys handed over are still in the tables' dicts (remove_left_keys)
  bool kept_keys_pending_ = false;    ///< keys taken in a rescale are kept as bytes, to restore (restore_pending)
  bool finished_watermarks_ = false;  ///< a leaver told its peers its sources are finished (windows only)
  std::mutex lost_peers_mutex_;
  std::vector<std::size_t> lost_peers_;  ///< workers lost (no checkpoints), for the window stages; guarded
  std::atomic<bool> peers_lost_{false};  ///< lost_peers_ has news (the executor looks without the lock)
  bool leave_undone_ = false;  ///< the cluster rolled back to before this worker left: it stops, its files kept
  RescaleInbox rescale_inbox_;
  std::string rescale_refusal_;      ///< why this application cannot rescale (empty: it can), from the plan
  std::atomic<bool> formed_{false};  ///< the cluster has formed (or there is none): a signal stops it, not form()
  std::atomic<std::size_t> sources_running_{0};
  bool stopping_ = false;
  /// Set by wait_for_sinks for one turn: the sinks are full and this worker's checkpoint part awaits a peer's marker,
  /// so take_work takes only peers' batches (the marker comes behind them), no source input.
  bool peer_input_only_ = false;
  std::chrono::steady_clock::time_point drain_deadline_{};
  std::mutex facts_mutex_;
  LocalFacts facts_;  ///< guarded by facts_mutex_ (also read by the external channel's answers)
  std::optional<graph::Plan> plan_;
  std::atomic<PipelineRunner*> runner_view_{nullptr};
  std::optional<PipelineRunner> runner_;
  std::optional<python::CallWatchdog> watchdog_;
  std::atomic<python::CallWatchdog*> watchdog_view_{nullptr};  ///< for the io thread's signal handler
  std::atomic<bool> stop_clock_started_{false};
  /// When the executor last came round run_pipeline's loop (steady clock); 0 outside it. The metrics thread reads it
  /// (roo_executor_turn_seconds): a turn that lasts is a step that does not return, or sinks that take nothing.
  std::atomic<std::chrono::steady_clock::rep> turn_started_{0};
  std::atomic<std::chrono::steady_clock::rep> stop_clock_start_{0};  ///< when the stop clock started
  bool interrupt_counted_ = false;
  std::vector<GeneratorSource> generators_;
  std::optional<CheckpointFiles> checkpoint_files_;
  CheckpointInbox checkpoint_inbox_;
  std::mutex last_checkpoint_mutex_;
  std::function<void()> last_checkpoint_done_;  ///< the cluster's exit waits for the last checkpoint (initializer)
  std::optional<CheckpointCoordinator> checkpoints_;
  std::optional<StateCodecs> state_codecs_;  ///< made once the plan is known; checkpoints and rescales share it
  KeyGroupHandover handover_;
  SinkOutputRelay sink_relay_;  ///< a leaver's transactional sink output, to the initializer (and taken there)
  metrics::MetricsRegistry metrics_registry_{options_.worker_name};
  /// Declared last: its hooks read the members above, so it stops first.
  std::optional<metrics::MetricsThread> metrics_;
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
    if (options_.checkpoints) {
      rollback_requested_ = true;  // the cluster logged it; the executor rolls back
      doorbell_.ring();
      return;
    }
    log_->error("worker {} is gone: events for its key groups are dropped; restart the cluster to recover", worker);
    {
      std::lock_guard lock(lost_peers_mutex_);
      lost_peers_.push_back(worker);
    }
    peers_lost_ = true;
    doorbell_.ring();
  };
  hooks.on_checkpoint_begin = [this](std::uint64_t id) {
    checkpoint_inbox_.push(
        {.kind = CheckpointInbox::Message::Kind::begin, .id = id, .worker = 0, .ok = false, .text = {}});
    doorbell_.ring();
  };
  hooks.on_checkpoint_part = [this](std::size_t worker, std::uint64_t id, bool ok, std::string text) {
    checkpoint_inbox_.push(
        {.kind = CheckpointInbox::Message::Kind::part, .id = id, .worker = worker, .ok = ok, .text = std::move(text)});
    doorbell_.ring();
  };
  if (options_.checkpoints && checkpoints_as_cluster()) {
    hooks.before_exit = [this](std::function<void()> proceed) {
      std::lock_guard lock(last_checkpoint_mutex_);
      last_checkpoint_done_ = std::move(proceed);
      doorbell_.ring();
    };
  }
  hooks.on_checkpoint_complete = [this](std::uint64_t id) {
    checkpoint_inbox_.push(
        {.kind = CheckpointInbox::Message::Kind::complete, .id = id, .worker = 0, .ok = false, .text = {}});
    doorbell_.ring();
  };
  hooks.on_members_changed = [this](cluster::Membership membership) {
    rescale_inbox_.push(RescaleInbox::MembersChanged{std::move(membership)});
    doorbell_.ring();
  };
  hooks.on_rescale_pause = [this](std::uint64_t round) {
    rescale_inbox_.push(RescaleInbox::Pause{round});
    doorbell_.ring();
  };
  hooks.on_rescale_move = [this](std::uint64_t round, cluster::Membership next) {
    rescale_inbox_.push(RescaleInbox::Move{round, std::move(next)});
    doorbell_.ring();
  };
  hooks.on_rescale_resume = [this](std::uint64_t round) {
    rescale_inbox_.push(RescaleInbox::Resume{round});
    doorbell_.ring();
  };
  hooks.local_answer = [this](std::uint16_t type) {
    if (type == cluster::metrics_query) {
      return metrics_ ? metrics_->latest_json() : std::string("{}");
    }
    std::lock_guard lock(facts_mutex_);
    if (auto* runner = runner_view_.load()) {
      facts_.state_keys = runner->state_keys();
      facts_.stateless_steps = stateless_steps(*plan_);
    }
    return local_answer(type, facts_);
  };
  return hooks;
}

// give_up_at: after a rollback, the initializer waits for the cluster to form again until then (a joining worker
// has its own deadline: the initializer must answer within the join timeout); the first forming waits for ever.
void Worker::join_cluster(std::chrono::steady_clock::time_point give_up_at) {
  const auto& options = *options_.cluster;
  cluster::ClusterConfig config;
  config.worker_name = options_.worker_name;
  config.initializer = options.initializer;
  config.worker_count = options.worker_count;
  config.control = options.control;
  config.my_control = options.my_control;
  config.joining = options.joining;
  config.data = options.data;
  config.external = options.external;
  config.app_fingerprint = plan_->fingerprint();
  config.join_timeout = options.join_timeout;
  // The initializer's verdict comes a little before each worker's own deadline, so that its exit reaches them first.
  config.drain_timeout = options_.drain_timeout * 9 / 10;
  config.cluster_secret = options.cluster_secret;
  config.external_secret = options.external_secret;
  config.tls = options.tls;
  config.rescale_refusal = rescale_refusal_;
  if (options_.checkpoints) {
    config.roll_back_on_loss = true;
    if (checkpoints_as_cluster()) {
      config.restore_checkpoint = CheckpointCoordinator::newest_complete(*checkpoint_files_, config.layout);
    }
  }
  if (stop_requested_) {
    throw core::Error("form the cluster: the worker stopped before the cluster formed");
  }
  {
    std::lock_guard lock(cluster_mutex_);
    cluster_ = cluster::make_cluster(data_io_, config, inbound_, hooks());
  }
  std::future<cluster::Membership> formed = cluster_->begin_forming();
  {
    python::GilRelease release;  // forming can take a while; nothing needs Python meanwhile
    while (formed.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      if (rollbacks_ > 0 && options.initializer && std::chrono::steady_clock::now() >= give_up_at) {
        close_cluster();
        throw core::Error(fmt::format("form the cluster again after rollback {}: not every worker joined within {:g} s",
                                      rollbacks_, std::chrono::duration<double>(options.join_timeout).count()));
      }
      data_io_.run_one_for(idle_wait);
    }
  }
  cluster::Membership membership = formed.get();
  std::lock_guard lock(facts_mutex_);
  facts_.membership = membership;
}

// Closes the cluster's connections and listeners now (by running data_io_), so that the next one can bind the same
// ports.
void Worker::close_cluster() {
  {
    std::lock_guard lock(cluster_mutex_);
    cluster_.reset();
  }
  data_io_.poll();
}

void Worker::start_io() {
  io_work_.emplace(asio::make_work_guard(io_));
  io_thread_ = std::thread([this] { io_.run(); });
}

// Before the first run: the sinks exist (without I/O) so that a recovery can hand the transactional ones their
// output; they start after it.
void Worker::create_sinks() {
  http_exchanges_ = make_http_exchanges(*plan_, data_io_, mailbox_, pool_);
  for (std::size_t i = 0; i < plan_->sinks.size(); ++i) {
    sinks_.push_back(make_sink(plan_->sinks[i], i, data_io_, io_, placement(), http_exchanges_));
  }
  transactional_.emplace(sinks_, doorbell_);
}

void Worker::start_sinks() {
  sinks_started_ = true;
  for (auto& sink : sinks_) {
    sink->start();
  }
}

// At least once without checkpoints: every second, once the sinks delivered everything handed to them so far, the
// positions the executor had reached before are committed (Kafka's group offsets). In a cluster, events that went to
// another worker are not covered by this worker's sinks: there only the final positions are committed, after the
// drain. The sinks answer on their threads; the executor commits.
void Worker::commit_delivered_positions(std::chrono::steady_clock::time_point now) {
  if (options_.checkpoints || replayable_.empty()) {
    return;
  }
  if (position_commit_) {
    auto state = position_commit_flush_.state();
    if (state == SinkDeliveryWait::State::waiting) {
      return;
    }
    if (state == SinkDeliveryWait::State::delivered) {
      for (const auto& [source, position] : *position_commit_) {
        if (sources_by_index_[source] != nullptr) {
          sources_by_index_[source]->commit(position);
        }
      }
    }
    position_commit_.reset();
  }
  if (cluster_ || now < next_position_commit_) {
    return;
  }
  next_position_commit_ = now + std::chrono::seconds(1);
  hand_over_outputs();
  position_commit_.emplace();
  for (std::size_t source : replayable_) {
    position_commit_->emplace_back(source, positions_->of(source));
  }
  position_commit_flush_.flush();
}

void Worker::create_generators() {
  for (std::size_t i = 0; i < plan_->sources.size(); ++i) {
    if (plan_->sources[i].kind() == graph::SourcePlan::Kind::generator) {
      generators_.emplace_back(i, plan_->sources[i]);
    }
  }
}

// Once, before the cluster forms: the checkpoint files and their writer, which outlive every run of the pipeline.
void Worker::open_checkpoint_files() {
  if (!options_.checkpoints) {
    return;
  }
  checkpoint_files_.emplace(*options_.checkpoints,
                            checkpoint::CheckpointIdentity{plan_->app_name, plan_->fingerprint(), options_.worker_name},
                            checkpoints_as_cluster(), options_.cluster && options_.cluster->worker_count <= 1,
                            doorbell_);
}

// The initializer of a cluster, or of one worker that may grow, records which checkpoints every worker completed
// (and the cluster's layout with each), and names the one they all restore.
bool Worker::checkpoints_as_cluster() const {
  return options_.cluster && options_.cluster->initializer &&
         (options_.cluster->worker_count > 1 || rescale_refusal_.empty());
}

// Before any input: checkpoints are taken from here on, and the one the cluster chose (alone: the newest complete
// one) is restored.
void Worker::start_checkpoints() {
  if (!options_.checkpoints) {
    return;
  }
  CheckpointPeers peers;
  peers.cluster = cluster_.get();
  peers.adopt(facts_.membership);
  peers.may_grow = cluster_ != nullptr && rescale_refusal_.empty();
  if (peers.names.empty()) {
    peers.names.push_back(options_.worker_name);
  }
  CheckpointIo io;
  io.replayable = replayable_;
  io.positions = &*positions_;
  io.sinks = transactional_->any() ? &*transactional_ : nullptr;
  io.commit_positions = [this](const std::vector<std::pair<std::size_t, io::SourcePosition>>& positions) {
    for (const auto& [source, position] : positions) {
      if (sources_by_index_[source] != nullptr) {
        sources_by_index_[source]->commit(position);
      }
    }
  };
  checkpoints_.emplace(
      *options_.checkpoints, *runner_, *state_codecs_, generators_, *checkpoint_files_, std::move(peers),
      [this] { hand_over_outputs(); }, std::move(io));
  if (options_.measure) {
    checkpoints_->measure(metrics_registry_);
  }
  checkpoints_->recover(facts_.membership.restore_checkpoint);
  runner_->windows_restored();
  for (auto& generator : generators_) {
    if (generator.finished()) {  // ended before the checkpoint: its windows may all fire
      runner_->finish_source(generator.source_index());
    }
  }
}

// After the executor's loop: a clean stop keeps a last checkpoint (roo run), or removes the files when machida was
// shut down by `roo shutdown` / `cluster_shutdown` (Wallaroo's clean shutdown).
void Worker::finish_checkpoints(bool clean) {
  if (!checkpoints_ || !clean) {
    return;
  }
  checkpoints_->take_last_messages(checkpoint_inbox_);
  if (options_.checkpoints->remove_on_shutdown && !signalled_) {
    checkpoints_->remove_files();
  } else {
    checkpoints_->checkpoint_and_wait();
  }
}

void Worker::start_sources() {
  std::vector<std::string> source_ids;
  for (std::size_t i = 0; i < plan_->sources.size(); ++i) {
    const auto& source = plan_->sources[i];
    if (source.kind() == graph::SourcePlan::Kind::nats) {
      sources_.push_back(make_nats_source(source, i, placement(), mailbox_, pool_));
      sources_.back()->start();
      sources_by_index_[i] = sources_.back().get();
      continue;
    }
    if (http_exchanges_[i]) {
      sources_.push_back(http_exchanges_[i]->source());
      sources_.back()->start();
      sources_by_index_[i] = sources_.back().get();
      continue;
    }
    const auto* tcp = std::get_if<graph::TcpSourceSettings>(&source.settings);
    if (tcp == nullptr || !tcp->valid) {
      continue;  // a generator runs on the executor; an invalid TCP source does not listen
    }
    io::TcpSourceConfig config{.name = source.name,
                               .listen = core::Endpoint{tcp->host, tcp->port},
                               .source_index = static_cast<std::uint32_t>(i),
                               .framing = io::parse_length_prefix(tcp->header_length, tcp->length_fmt),
                               .max_size = tcp->max_size,
                               .max_connections = tcp->parallelism,
                               .idle_timeout = options_.source_idle_timeout};
    sources_.push_back(io::make_tcp_source(data_io_, config, mailbox_, pool_));
    sources_.back()->start();
    sources_by_index_[i] = sources_.back().get();
    for (std::size_t handler = 0; handler < tcp->parallelism; ++handler) {
      source_ids.push_back(std::to_string(i * 1000 + handler));
    }
  }
  sources_running_ = sources_.size();
  std::lock_guard lock(facts_mutex_);
  facts_.source_ids = std::move(source_ids);
}

IoPlacement Worker::placement() const {
  IoPlacement placement{.app_name = plan_->app_name,
                        .worker_name = options_.worker_name,
                        .worker_index = 0,
                        .worker_count = 1,
                        .checkpoints = options_.checkpoints.has_value(),
                        .broker_wait = options_.kafka_broker_wait,
                        .stream_registry = nullptr};
  if (kafka_readers_) {
    placement.partition_reader = kafka_readers_->rank;
    placement.partition_readers = kafka_readers_->count;
  }
  if (options_.cluster && !facts_.membership.workers.empty()) {
    placement.worker_index = facts_.membership.self;
    placement.worker_count = facts_.membership.workers.size();
    // A cluster that may grow shares the table of connector streams from the start, even while it has one worker.
    if (cluster_ && (placement.worker_count > 1 || rescale_refusal_.empty())) {
      placement.stream_registry = cluster_->stream_registry();
    }
  }
  return placement;
}

// After the recovery (its positions restored) and the sinks' recovery: the replayable sources read from there.
void Worker::start_replayable_sources() {
  for (std::size_t index : replayable_) {
    if (kafka_readers_ || plan_->sources[index].kind() != graph::SourcePlan::Kind::kafka) {
      start_replayable_source(index, placement());
    }
  }
}

void Worker::start_replayable_source(std::size_t index, const IoPlacement& placement) {
  const graph::SourcePlan& plan = plan_->sources[index];
  auto source = make_replayable_source(plan, index, generations_[index], positions_->of(index), placement, data_io_,
                                       mailbox_, pool_);
  source->start();
  if (plan.kind() == graph::SourcePlan::Kind::kafka) {
    metrics_registry_.gauge_family(metrics::kafka_lag, plan.name, consumer_lag_gauge(plan.name, *source));
  }
  sources_by_index_[index] = source.get();
  sources_.push_back(std::move(source));
  sources_running_.fetch_add(1);
}

// A rollback: each replayable source stops reading; what it queued is dropped when taken (its generation is past)
// and read again from the restored position.
void Worker::stop_replayable_sources() {
  for (std::size_t index : replayable_) {
    stop_replayable_source(index);
  }
}

void Worker::stop_replayable_source(std::size_t index) {
  io::Source* source = sources_by_index_[index];
  if (source == nullptr) {
    return;
  }
  source->stop({});
  if (plan_->sources[index].kind() == graph::SourcePlan::Kind::kafka) {
    metrics_registry_.gauge_family(metrics::kafka_lag, plan_->sources[index].name, nullptr);  // it reads `source`
  }
  ++generations_[index];
  sources_by_index_[index] = nullptr;
  std::erase_if(sources_, [source](const std::unique_ptr<io::Source>& held) { return held.get() == source; });
  sources_running_.fetch_sub(1);
}

void Worker::commit_position(std::size_t index, const io::SourcePosition& position) {
  if (position.empty()) {
    return;
  }
  if (io::Source* source = sources_by_index_[index]) {
    source->commit(position);
  } else if (plan_->sources[index].kind() == graph::SourcePlan::Kind::kafka) {
    make_replayable_source(plan_->sources[index], index, generations_[index], {}, placement(), data_io_, mailbox_,
                           pool_)
        ->commit(position);
  }
}

std::optional<PartitionReaders> Worker::partition_readers_at_formation() const {
  const cluster::Membership& membership = facts_.membership;
  bool owns_a_key_group = membership.owners.empty() || std::find(membership.owners.begin(), membership.owners.end(),
                                                                 membership.self) != membership.owners.end();
  if (!owns_a_key_group) {
    return std::nullopt;
  }
  return PartitionReaders::of(membership);
}

void Worker::hand_on_kafka_partitions(std::uint64_t round, const cluster::Membership& next) {
  if (stopping_) {
    return;  // no resume will come: the final commit after the drain covers every partition this worker processed
  }
  std::optional<PartitionReaders> readers = PartitionReaders::of(next);
  for (std::size_t index : replayable_) {
    if (plan_->sources[index].kind() != graph::SourcePlan::Kind::kafka) {
      continue;
    }
    // Where each partition stands: after the last message processed, else (nothing processed) where it started.
    io::SourcePosition standing;
    if (io::Source* source = sources_by_index_[index]) {
      standing = source->starts();
      stop_replayable_source(index);  // what it queued during the pause is dropped (its generation is past)
    }
    runner_->source_inputs_dealt_again(index, readers.has_value());
    for (const auto& [partition, offset] : positions_->of(index)) {
      standing[partition] = offset;
    }
    io::SourcePosition kept;
    io::SourcePosition handed;
    std::string names;
    for (const auto& [partition, offset] : standing) {
      if (readers && readers->reads(partition.partition)) {
        kept.emplace(partition, offset);
        continue;
      }
      handed.emplace(partition, offset);
      const auto& topics = std::get<graph::KafkaSourceSettings>(plan_->sources[index].settings).topics;
      names += fmt::format("{}{}/{}", names.empty() ? "" : ", ",
                           partition.topic < topics.size() ? topics[partition.topic] : "?", partition.partition);
    }
    positions_->restore(index, std::move(kept));
    if (!handed.empty()) {
      commit_position(index, handed);
      log_->info("rescale {}: kafka source '{}' hands on {} partitions: {}", round, plan_->sources[index].name,
                 handed.size(), names);
    }
  }
  kafka_readers_ = readers;
  kafka_restart_due_ = std::chrono::steady_clock::time_point::max();
}

// A paused worker is quiet only once its sinks delivered the output of everything it processed, in two cases (what
// travelled between workers is covered by each worker's own quiet):
// - checkpoints off, the move hands Kafka partitions on at the positions this worker processed, and their new readers
//   start there (docs/kafka.md, "Partitions and workers"): a crash after the resume must not lose that output;
// - a transactional sink (checkpoints on): what it wrote inside its open transaction, and a leaver's output taken
//   into it at the move (SinkOutputRelay), must reach the broker before the keys' new owners write theirs after the
//   resume, or a key's outputs would be out of order once committed.
// A sink that cannot deliver, or has not within the drain timeout, is named in a warning and the rescale goes on.
bool Worker::delivered_before_move() {
  auto is_kafka = [this](std::size_t index) { return plan_->sources[index].kind() == graph::SourcePlan::Kind::kafka; };
  bool hands_partitions_on = !options_.checkpoints && std::any_of(replayable_.begin(), replayable_.end(), is_kafka);
  bool transactional = transactional_ && transactional_->any();
  if (delivery_given_up_ || !(hands_partitions_on || transactional)) {
    return true;
  }
  hand_over_outputs();
  auto state = sink_delivery_.check(runner_->outputs_written() + sink_relay_.adopted());
  if (state == SinkDeliveryWait::State::delivered) {
    return true;
  }
  if (state == SinkDeliveryWait::State::waiting &&
      std::chrono::steady_clock::now() - paused_at_ < options_.drain_timeout) {
    return false;
  }
  delivery_given_up_ = true;
  log_->warn("rescale {}: the sinks {} before the {}; the rescale goes on, and {}", paused_round_,
             state == SinkDeliveryWait::State::failed
                 ? "cannot deliver every output (" + sink_delivery_.failure() + ")"
                 : fmt::format("did not deliver every output within {} ms", options_.drain_timeout.count()),
             transactional ? "resume" : "Kafka partitions are handed on",
             transactional ? "a key's output written before the round may follow some written after it"
                           : "output not yet delivered is lost if this worker crashes before it is");
  return true;
}

void Worker::read_kafka_partitions_again() {
  kafka_restart_due_ = std::chrono::steady_clock::time_point::max();
  if (!kafka_readers_ || stopping_ || paused_) {
    return;  // reads nothing; or the stop, or the next round's move, decides
  }
  IoPlacement again = placement();
  again.broker_wait = std::min(again.broker_wait, kafka_restart_wait);
  for (std::size_t index : replayable_) {
    if (plan_->sources[index].kind() != graph::SourcePlan::Kind::kafka || sources_by_index_[index] != nullptr) {
      continue;
    }
    try {
      start_replayable_source(index, again);
    } catch (const core::Error& error) {
      log_->error("kafka source '{}' cannot read its partitions again after the rescale ({}); trying again in {} ms",
                  plan_->sources[index].name, error.what(), kafka_restart_wait.count());
      kafka_restart_due_ = std::chrono::steady_clock::now() + kafka_restart_wait;
    }
  }
}

// From the first stop on, the watchdog interrupts a user call that does not return and, as a last resort, ends the
// process: the io thread starts it (the executor may be the one stuck), and so does the executor when the stop
// comes from the cluster. Any thread.
void Worker::start_stop_clock() {
  auto* watchdog = watchdog_view_.load();
  if (watchdog == nullptr || stop_clock_started_.exchange(true)) {
    return;
  }
  auto now = std::chrono::steady_clock::now();
  stop_clock_start_ = now.time_since_epoch().count();
  // A call running for half the drain timeout (or --stuck-step-warning, if less) will not finish in time.
  watchdog->stop(std::max(options_.drain_timeout / 2, std::chrono::milliseconds(250)), now + options_.drain_timeout,
                 now + options_.drain_timeout + forced_exit_margin);
}

void Worker::on_signal(int signal_number) {
  log_->info("received {}", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
  signalled_ = true;
  start_stop_clock();
  std::lock_guard lock(cluster_mutex_);  // a rollback replaces the cluster on the executor
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
  paused_ = false;  // a stop drains what the sources queued, whatever a rescale said
  if (runner_ && runner_->windows_held()) {
    fire_moved_windows();  // a stop during a rescale round: no resume will come
  }
  if (leaving_ && options_.checkpoints) {
    // A leaver with checkpoints waits, drained, until a checkpoint without it is complete (a recovery before that
    // needs its part): the initializer then tells it to exit. No drain deadline of its own meanwhile.
    drain_deadline_ = std::chrono::steady_clock::time_point::max();
  } else {
    start_stop_clock();
    // One deadline for the whole stop, counted from the signal (the executor may have heard of it late).
    auto started = stop_clock_start_.load();
    drain_deadline_ =
        (started != 0 ? std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(started))
                      : std::chrono::steady_clock::now()) +
        options_.drain_timeout;
  }
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

// Runs the data path for `wait` (or until a stop is requested), whatever handlers come meanwhile.
void Worker::wait_in_data_io(std::chrono::milliseconds wait) {
  auto until = std::chrono::steady_clock::now() + wait;
  for (auto now = std::chrono::steady_clock::now(); now < until && !stop_requested_;
       now = std::chrono::steady_clock::now()) {
    sleep_in_data_io(std::min(idle_wait, std::chrono::duration_cast<std::chrono::milliseconds>(until - now)));
  }
}

// Backpressure from the sinks: keep the data path running (the sinks write in it) while any sink holds more than
// its limit.
bool Worker::wait_for_sinks() {
  peer_input_only_ = false;
  for (auto& sink : sinks_) {
    while (!sink->has_room()) {
      // A sink on its own thread (Kafka) makes room without a handler here to wake this wait: look again soon.
      sleep_in_data_io(sink_room_poll);
      if (checkpoints_) {
        // A transactional sink holds the output after a checkpoint's cut until that checkpoint completes: the
        // checkpoint goes on while the executor waits here (a new part is a consistent cut here too: between turns).
        checkpoints_->on_turn(std::chrono::steady_clock::now(), checkpoint_inbox_);
      }
      // A rescale's round is answered by the loop (paused, it takes only peers' batches; delivered_before_move()
      // bounds its wait for the sinks).
      if (check_sinks() || (stop_requested_ && !stopping_) || exit_requested_ || paused_ || !rescale_inbox_.empty()) {
        return true;  // let the loop react; it comes back here
      }
      if (checkpoints_ && checkpoints_->awaiting_markers()) {
        peer_input_only_ = true;  // one turn for the batches a peer's marker waits behind, and nothing else
        return true;
      }
      if (stopping_ && std::chrono::steady_clock::now() > drain_deadline_) {
        return false;
      }
    }
  }
  return true;
}

bool Worker::check_sinks() {
  if (failed_sink_) {
    return true;
  }
  for (std::size_t i = 0; i < sinks_.size(); ++i) {
    if (sinks_[i]->failed()) {
      failed_sink_ = fmt::format("sink '{}' failed: {}", plan_->sinks[i].name, sinks_[i]->undelivered_reason());
      log_->error("{}; this worker stops", *failed_sink_);
      stop_requested_ = true;  // this worker only: a fenced worker is a stale one, its cluster goes on without it
      doorbell_.ring();
      return true;
    }
  }
  return false;
}

// Backpressure between workers: take no new source input while a peer has not processed what we sent it.
bool Worker::channels_have_room() {
  if (!cluster_) {
    return true;
  }
  // facts_.membership is written on this thread only (adopt_membership): read without the lock.
  for (std::size_t w = 0; w < facts_.membership.workers.size(); ++w) {
    if (is_peer(w) && cluster_->budget(w).in_flight() >= cluster_->budget(w).limit()) {
      return false;
    }
  }
  return true;
}

// One turn's work: a batch from another worker first (never held back, so two workers waiting on each other's
// credit still drain each other), then source input or generators if the peers have room.
bool Worker::take_work() {
  if (watchdog_->halted()) {  // after an interrupted call or at the drain deadline: no more input
    count_interrupted_call();
    discard_queued_input(halted_reason());
    return false;
  }
  std::optional<core::PeerInput> remote;
  std::optional<core::FrameBatch> batch;
  remote = inbound_.try_pop();  // never sleeps, so the GIL stays held
  if (peer_input_only_ && !remote) {
    return false;  // the sinks are full: only a peer's batches (and the marker behind them) may be taken
  }
  if (!remote && !paused_ && channels_have_room()) {  // a rescale's pause leaves source input queued
    batch = mailbox_.try_pop();
  }
  if (remote) {
    drained_ = false;
    std::visit([this, from = remote->from()](auto& message) { take_peer(from, message); }, remote->message);
    return true;
  }
  if (batch && batch->generation != generations_[batch->source]) {
    pool_.release(std::move(*batch));  // queued by a start of its source that a rollback gave up: read again
    return true;
  }
  if (batch) {
    drained_ = false;
    take_source_batch(*batch);
    pool_.release(std::move(*batch));
    return true;
  }
  if (!stopping_ && !paused_ && channels_have_room()) {
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

// Events from a peer: what they forward is sent before they are acknowledged (the drain count relies on it).
void Worker::take_peer(std::size_t from, core::PeerData& data) {
  if (checkpoints_) {
    checkpoints_->before_peer_data(from, data);
  }
  runner_->process_remote({data.bytes.data(), data.bytes.size()}, from);
  hand_over_outputs();
  cluster_->acknowledge(from, data.bytes.size());
}

// A checkpoint's barrier: no events, nothing to acknowledge.
void Worker::take_peer(std::size_t from, const core::CheckpointMarker& marker) {
  if (checkpoints_) {
    checkpoints_->on_marker(from, marker.id);
  }
}

// A peer's watermarks: no events, nothing to acknowledge.
void Worker::take_peer(std::size_t from, const core::Watermarks& watermarks) {
  runner_->receive_watermarks(from, {watermarks.bytes.data(), watermarks.bytes.size()});
  tend_windows(std::chrono::steady_clock::now());
}

// Key groups a peer handed over in a rescale: restored, then acknowledged like data (the rescale's quiet counts on
// it). What cannot be restored is logged and counted as lost state.
void Worker::take_peer(std::size_t from, core::KeyGroupState& state) {
  // A leaver's sink output (SinkOutputRelay) comes in frames of its own, whose first record is a channel batch.
  bool sink_output = !state.bytes.empty() && static_cast<std::uint8_t>(state.bytes[0]) ==
                                                 static_cast<std::uint8_t>(checkpoint::RecordTag::channel);
  if (!stopping_ && !sink_output) {
    runner_->hold_windows();  // until the round's resume (keys_moved() indexes the keys taken)
  }
  // Kept as bytes, restored a key group at a time after the resume (or when an event needs one first): the pause
  // holds the copy, not the making of every state object.
  handover_.take(
      runner_->state_tables(), *state_codecs_, worker_name(from), {state.bytes.data(), state.bytes.size()},
      [this](std::size_t stage, EventTime watermark) { runner_->adopt_window_watermark(stage, watermark); },
      runner_->router().key_groups(),
      [this, from](std::uint32_t sink, std::string_view bytes) {
        sink_relay_.adopt(sinks_, *plan_, sink, bytes, worker_name(from));
      });
  kept_keys_pending_ = kept_keys_pending_ || !sink_output;
  if (stopping_ && !sink_output) {
    fire_moved_windows();  // a stop ended the round: no resume will come
  }
  cluster_->acknowledge(from, state.bytes.size());
}

std::string Worker::worker_name(std::size_t w) const {
  return w < facts_.membership.workers.size() ? facts_.membership.workers[w].name : fmt::format("#{}", w);
}

void Worker::take_rescale_news() {
  for (auto& message : rescale_inbox_.take()) {
    std::visit([this](auto& news) { take_rescale(news); }, message);
  }
}

// A worker joined: one more worker to send to, the owners unchanged (an owners table the membership leaves implicit
// would be dealt over the new count: the one in use stays).
void Worker::take_rescale(RescaleInbox::MembersChanged& changed) {
  Routing routing = Routing::of(changed.membership);
  if (routing.owners.empty()) {
    routing.owners = runner_->router().owners();
  }
  runner_->reroute(std::move(routing));
  windows_follow(changed.membership);
  if (checkpoints_) {
    checkpoints_->membership_changed(changed.membership, false);
  }
  log_->info("the cluster has {} workers now (worker '{}' joined); it owns no key group yet",
             changed.membership.workers.size(), changed.membership.workers.back().name);
  adopt_membership(std::move(changed.membership));
}

void Worker::take_rescale(const RescaleInbox::Pause& pause) {
  if (stopping_) {
    return;  // a stop drains the sources' input: it is not held back
  }
  paused_ = true;
  paused_at_ = std::chrono::steady_clock::now();
  paused_round_ = pause.round;
  delivery_given_up_ = false;
  sink_delivery_.reset();
  runner_->hold_windows();  // a peer's move may hand this worker keys before its own move comes
  log_->info("rescale {}: source input paused", pause.round);
}

// The cluster is quiet (nothing queued or in flight anywhere): the keys of the key groups this worker gives up go to
// their new owners, and events are routed by the new owners from now on.
void Worker::take_rescale(RescaleInbox::Move& move) {
  auto started = std::chrono::steady_clock::now();
  hand_over_outputs();  // nothing, when quiet; the hops must leave before their key groups do in any case
  Routing next = Routing::of(move.next);
  const KeyRouter next_router(next);  // throws on an owners table that names no worker
  std::vector<std::string> names;
  for (const auto& worker : move.next.workers) {
    names.push_back(worker.name);
  }
  auto send = [this](std::size_t to, std::vector<char>&& bytes) {
    bool sent = cluster_->send_key_groups(to, std::move(bytes));
    // The data channels run on this thread: the frame starts on its way now, so that its new owner restores it
    // while the next one is serialized, rather than every frame after the last (a third of a 1M-key pause).
    python::GilRelease release;
    data_io_.poll();
    return sent;
  };
  std::vector<bool> gone(move.next.workers.size(), false);
  for (std::size_t w = 0; w < gone.size(); ++w) {
    gone[w] = move.next.has_departed(w);
  }
  // No window fires until the keys moved (the operators' indexes hold the keys that leave until then).
  runner_->tidy_windows();
  runner_->hold_windows();
  bool stop_ends_the_round = stopping_;
  if (left_keys_pending_) [[unlikely]] {
    // A group given back in this move must not meet the keys an earlier move left in the tables (most are gone by
    // now: removed a slice per turn since).
    left_keys_pending_ = !KeyGroupHandover::remove_left_keys(runner_->state_tables(), SIZE_MAX);
  }
  // A second move in one round follows a loss: what went to the lost worker goes to its groups' new owners.
  auto redirected = handover_.redirect(runner_->state_tables(), *state_codecs_, facts_.membership.self,
                                       next_router.owners(), gone, names, send, runner_->window_watermarks());
  if (redirected.taken_back + redirected.sent_on > 0) {
    log_->info("rescale {}: {} keys handed to a worker lost since are back here, {} went on to their new owners",
               move.round, redirected.taken_back, redirected.sent_on);
  }
  auto moved =
      handover_.hand_over(runner_->state_tables(), *state_codecs_, facts_.membership.self, runner_->router().owners(),
                          next_router.owners(), names, send, runner_->window_watermarks());
  left_keys_pending_ = true;  // removed from the tables a slice per turn (run_pipeline), off the pause
  runner_->reroute(std::move(next));
  windows_follow(move.next);
  bool leaving = move.next.has_departed(move.next.self);
  if (checkpoints_) {
    checkpoints_->membership_changed(move.next, true);
  }
  leaving_ = leaving;
  if (leaving && transactional_->any() && !sink_relay_.relaying()) {
    // It takes no part in the checkpoints after this round: what it has not committed goes to the initializer's
    // transaction, before the resume (SinkOutputRelay).
    sink_relay_.hand_off(*transactional_, *plan_, send, options_.drain_timeout + std::chrono::seconds(30));
  }
  hand_on_kafka_partitions(move.round, move.next);
  adopt_membership(std::move(move.next));
  // A leaver's pause drained (its queued source input did not count) ends with the move: it is drained only once it
  // processed, or dropped as handed on, what its sources queued, and has told its peers its sources finished. Read
  // by the io thread after rescale_moved, it let a leaver exit with its Kafka batches queued (counted as lost) and
  // without its last watermarks (the others' windows waited for it for ever). Those that stay are still paused:
  // their drained holds (clearing it would cost the round a settle poll of 20 ms).
  if (leaving) {
    drained_ = false;
  }
  cluster_->rescale_moved(move.round);
  log_->info("rescale {}: handed {} keys in {} key groups to {} workers ({}, {:.1f} ms){}", move.round, moved.keys,
             moved.groups, moved.workers, byte_count(moved.bytes),
             std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count(),
             leaving ? "; this worker leaves the cluster" : "");
  if (leaving || stop_ends_the_round) {
    fire_moved_windows();  // it takes no key, or no resume will come
  }
  if (leaving && !stopping_) {
    // What its sources queued during the pause is this worker's to process (routed to the new owners) before it
    // exits: its stop starts now, and it is drained once that is done.
    send_connectors_away();
    stop_sources();
  }
}

// The window stages follow the cluster: a joiner's watermarks count once heard, a leaver's until it finished.
void Worker::windows_follow(const cluster::Membership& membership) {
  std::vector<bool> departed(membership.workers.size(), false);
  for (std::size_t w = 0; w < departed.size(); ++w) {
    departed[w] = membership.has_departed(w);
  }
  runner_->members_changed(membership.workers.size(), departed);
}

// The keys of the round moved (given away, and every frame handed to this worker restored): what is due fires.
void Worker::fire_moved_windows() {
  if (runner_->windows_moved(wall_clock_ns())) {
    hand_over_outputs();
    runner_->tidy_windows();
  }
}

// This worker leaves: its connector sources' clients are told to reconnect to a worker that stays (RESTART with its
// address: the same source's port there, at the host its peers reach it on), leavers spread over those that stay.
void Worker::send_connectors_away() {
  const auto& membership = facts_.membership;
  std::vector<std::size_t> staying;
  for (std::size_t w = 0; w < membership.workers.size(); ++w) {
    if (is_peer(w)) {
      staying.push_back(w);
    }
  }
  if (staying.empty()) {
    return;
  }
  std::size_t successor = staying[membership.self % staying.size()];
  const cluster::WorkerInfo& worker = membership.workers[successor];
  for (std::size_t i = 0; i < plan_->sources.size(); ++i) {
    const auto* connector = std::get_if<graph::ConnectorSourceSettings>(&plan_->sources[i].settings);
    if (connector == nullptr || sources_by_index_[i] == nullptr) {
      continue;
    }
    bool wildcard = worker.data.host.empty() || worker.data.host == "0.0.0.0" || worker.data.host == "::";
    std::string address =
        connector_address(plan_->sources[i], successor, wildcard ? connector->host : worker.data.host);
    if (!address.empty()) {
      log_->info("connector source '{}': its connectors go to worker '{}' at {}", plan_->sources[i].name, worker.name,
                 address);
      sources_by_index_[i]->leave_for(address);
    }
  }
}

void Worker::take_rescale(const RescaleInbox::Resume& resume) {
  handover_.round_over();
  fire_moved_windows();
  paused_ = false;
  drained_ = false;
  read_kafka_partitions_again();
  std::string took = handover_.take_intake_summary();
  log_->info("rescale {}: source input resumes{}", resume.round, took.empty() ? "" : "; took " + took);
}

void Worker::adopt_membership(cluster::Membership membership) {
  std::lock_guard lock(facts_mutex_);
  facts_.membership = std::move(membership);
}

// A message source's news keeps its place around the frames (core::SourceNews): what comes before them first, what
// comes after them once the last one was processed (not after an interrupted batch).
void Worker::take_source_batch(core::FrameBatch& batch) {
  auto last_handover = std::chrono::steady_clock::now();
  std::size_t since_handover = 0;
  bool news = !batch.news.empty();
  if (news) [[unlikely]] {
    runner_->take_news_before(batch.source, batch.news);
    if (!batch.news.starts.empty()) {
      positions_->started(batch.source, batch.news.starts);
    }
    if (batch.empty()) {  // a batch of news only
      runner_->take_news_after(batch.source, batch.news);
      return;
    }
  }
  for (std::size_t first = 0; first < batch.size(); first += events_per_slice) {
    std::size_t last = std::min(batch.size(), first + events_per_slice);
    std::size_t reached = runner_->process(batch, first, last);
    if (!batch.meta.empty()) {
      positions_->fold(batch, first, reached);
    }
    if (reached < last) {
      count_interrupted_call();
      runner_->lose(batch.size() - reached, halted_reason(), PipelineRunner::AlsoFailed::no);
      return;
    }
    if (news && last == batch.size()) [[unlikely]] {
      runner_->take_news_after(batch.source, batch.news);
    }
    since_handover += last - first;
    auto now = std::chrono::steady_clock::now();
    tend_windows(now);
    if (since_handover >= events_per_handover || now - last_handover >= handover_interval) {
      hand_over_outputs();
      commit_delivered_positions(now);  // a slow app may spend seconds on one batch: commit within it too
      if (checkpoints_) {
        // Between two slices is a cut too (the positions are folded per slice, the outputs and hops handed over):
        // a checkpoint due now is not held back until a batch of 65,536 small Kafka messages is done.
        checkpoints_->on_turn(now, checkpoint_inbox_);
      }
      last_handover = now;
      since_handover = 0;
    }
  }
}

// Windows: every stage's watermark moves as far as its inputs allow and what is due fires; the peers hear this
// worker's watermarks after the events sent before them, whenever they changed, at most every watermark_interval,
// and again every watermark_repeat when they did not.
void Worker::tend_windows(std::chrono::steady_clock::time_point now) {
  if (!runner_->has_windows()) {
    return;
  }
  if (peers_lost_.load(std::memory_order_relaxed)) [[unlikely]] {
    std::lock_guard lock(lost_peers_mutex_);
    peers_lost_ = false;
    for (std::size_t worker : std::exchange(lost_peers_, {})) {
      runner_->peer_gone(worker);
    }
  }
  std::int64_t wall = wall_clock_ns();
  if (runner_->advance_windows(wall)) {
    hand_over_outputs();  // the windows' outputs leave before the stages tidy up after them
    runner_->tidy_windows();
  }
  if (!cluster_ || now < next_watermark_send_) {
    return;
  }
  next_watermark_send_ = now + watermark_interval;
  hand_over_outputs();  // the events these watermarks cover leave first
  auto marks = runner_->local_watermarks(wall);
  if (marks == sent_watermarks_ && now < next_watermark_repeat_) {
    return;
  }
  next_watermark_repeat_ = now + watermark_repeat;
  for (std::size_t w = 0; w < facts_.membership.workers.size(); ++w) {
    if (is_peer(w)) {
      cluster_->send_watermark(w, marks);
    }
  }
  sent_watermarks_ = std::move(marks);
}

// How long the loop may sleep when idle: until the next window is due (never a busy loop: at least a millisecond).
std::chrono::milliseconds Worker::until_windows_due(std::chrono::milliseconds longest) const {
  if (!runner_->has_windows()) {
    return longest;
  }
  std::int64_t wall = wall_clock_ns();
  std::int64_t wake = runner_->next_window_wake(wall);
  if (cluster_) {
    wake = std::min(wake, wall + std::chrono::duration_cast<std::chrono::nanoseconds>(watermark_interval).count());
  }
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::nanoseconds(wake - wall));
  return std::clamp(wait, std::chrono::milliseconds(1), longest);
}

void Worker::hand_over_outputs() {
  auto& outputs = runner_->outputs();
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    if (!outputs[i].empty()) {
      if (sink_relay_.relaying() && sinks_[i]->transactional()) [[unlikely]] {
        sink_relay_.relay(i, outputs[i].take(), [this](std::size_t to, std::vector<char>&& bytes) {
          return cluster_->send_key_groups(to, std::move(bytes));
        });
        continue;
      }
      sinks_[i]->write(outputs[i].take());
    }
  }
  if (cluster_) {
    for (std::size_t w = 0; w < facts_.membership.workers.size(); ++w) {
      if (is_peer(w)) {
        std::uint32_t events = 0;
        auto bytes = runner_->take_hops(w, events);
        if (!bytes.empty() && !cluster_->send(w, std::move(bytes))) {
          runner_->lose(events, fmt::format("for worker '{}', which was lost", facts_.membership.workers[w].name),
                        PipelineRunner::AlsoFailed::no);
        }
      }
    }
  }
  // The sinks write now, and the sources read what arrived meanwhile. This is the main loop's one poll per turn: a
  // batch a source pushes here rings the doorbell, so the loop takes it instead of sleeping.
  data_io_.poll();
}

// Stops the sinks once everything is handed over, and waits until each peer acknowledged its output or the drain
// deadline (set when the sources were stopped; a moment at least, when the stop left none) passes. A sink that could
// not deliver everything logs one error line saying how many bytes and why, and adds them to the report.
void Worker::drain_sinks(DeliveryReport& report) {
  hand_over_outputs();
  auto now = std::chrono::steady_clock::now();
  bool stop_deadline = stopping_ && drain_deadline_ != std::chrono::steady_clock::time_point::max();  // not a leaver's
  auto deadline =
      stop_deadline ? std::max(drain_deadline_, now + std::chrono::milliseconds(100)) : now + options_.drain_timeout;
  // Each sink calls back on its own thread (Kafka and NATS sinks have one each): the count is atomic.
  auto sinks_stopped = std::make_shared<std::atomic<std::size_t>>(0);
  for (auto& sink : sinks_) {
    sink->stop([sinks_stopped] { sinks_stopped->fetch_add(1, std::memory_order_acq_rel); });
  }
  while (sinks_stopped->load(std::memory_order_acquire) < sinks_.size() &&
         std::chrono::steady_clock::now() < deadline) {
    sleep_in_data_io(idle_wait);
  }
  for (std::size_t i = 0; i < sinks_.size(); ++i) {
    if (std::size_t undelivered = sinks_[i]->undelivered_bytes(); undelivered > 0) {
      const auto& sink = plan_->sinks[i];
      std::string destination = sink_destination(sink);
      log_->error("sink '{}': {} bytes not delivered to {} before the drain timeout ({})", sink.name, undelivered,
                  destination, sinks_[i]->undelivered_reason());
      report.add_bytes(undelivered, fmt::format("of output for sink '{}' at {}", sink.name, destination));
    }
  }
}

// The interrupted call's own event (its step counted it as failed too), once.
void Worker::count_interrupted_call() {
  if (watchdog_->interrupted() && !interrupt_counted_) {
    interrupt_counted_ = true;
    runner_->lose(1, fmt::format("{} did not return and was interrupted by the stop", watchdog_->interrupted_step()),
                  PipelineRunner::AlsoFailed::yes);  // the step counted StepInterrupted as a failure
  }
}

std::string Worker::halted_reason() const {
  if (watchdog_->interrupted()) {
    return fmt::format("not processed after the stop interrupted {}", watchdog_->interrupted_step());
  }
  return "still queued when the drain timed out";
}

// Counts every queued event as not delivered for `reason`. Batches from other workers are not acknowledged: their
// senders report those bytes as not processed too. A batch queued by a past start of a replayable source is not lost:
// its partitions are read again from their position, here after a rollback or by their new reader after a rescale
// handed them on (a leaver stops with such batches queued: they counted as lost, and it exited 1).
void Worker::discard_queued_input(const std::string& reason) {
  while (auto batch = mailbox_.try_pop()) {
    if (batch->generation == generations_[batch->source]) {
      runner_->lose(batch->size(), reason, PipelineRunner::AlsoFailed::no);
    }
    pool_.release(std::move(*batch));
  }
  while (auto remote = inbound_.try_pop()) {
    const auto* data = std::get_if<core::PeerData>(&remote->message);
    if (data == nullptr) {  // a marker or watermarks: no events in it
      continue;
    }
    std::uint32_t events = 0;  // a batch starts with its event count (hop_codec.hpp)
    for (std::size_t i = 0; i < 4 && i < data->bytes.size(); ++i) {
      events = (events << 8) | static_cast<unsigned char>(data->bytes[i]);
    }
    runner_->lose(events, reason, PipelineRunner::AlsoFailed::no);
  }
}

// Everything this worker read and could not deliver, in one report: the runner's losses, input still queued,
// lost peers and what peers never processed. The sinks have added theirs already.
void Worker::report_delivery(DeliveryReport& report) {
  if (mailbox_.size() > 0 || inbound_.size() > 0) {
    discard_queued_input(halted_reason());
  }
  runner_->report_losses(report);
  if (kept_keys_pending_) {  // what could not be read back counts as lost, as when restored in the round
    (void)KeyGroupHandover::restore_pending(runner_->state_tables(), runner_->router().key_groups());
    handover_.report_restore_failures(runner_->state_tables());
  }
  handover_.report_losses(report);
  sink_relay_.report_losses(report);
  if (!cluster_) {
    return;
  }
  for (const auto& peer : cluster_->shortfalls()) {
    if (peer.lost) {
      report.add_fault(fmt::format("worker '{}' was lost ({})", peer.worker, *peer.lost));
    }
    if (peer.undrained) {
      report.add_fault(fmt::format("worker '{}' did not finish draining in time", peer.worker));
    }
    report.add_bytes(peer.unprocessed_bytes,
                     peer.lost ? fmt::format("of events sent to worker '{}' and not confirmed processed", peer.worker)
                               : fmt::format("of events sent to worker '{}' and not processed", peer.worker));
  }
}

int Worker::run() {
  python::Interpreter interpreter(
      python::InterpreterConfig{.leading_paths = {python_package_dir().string(), options_.app_folder}, .argv = {""}});
  try {
    int code = serve();
    release_python_objects();
    return code;
  } catch (...) {
    // Python objects must go before the interpreter does, and the I/O thread before the objects it uses.
    shut_down_io(std::chrono::steady_clock::now() + sink_stop_wait);
    release_python_objects();
    throw;
  }
}

// Gives the sinks until `sinks_deadline` to stop (already past after a drain: what they hold was reported).
void Worker::shut_down_io(std::chrono::steady_clock::time_point sinks_deadline) {
  python::GilRelease release;
  // Atomic: Kafka, NATS and connector sinks call back on threads of their own.
  auto sinks_stopped = std::make_shared<std::atomic<std::size_t>>(0);
  if (!sinks_started_) {
    *sinks_stopped = sinks_.size();  // never started (a failed start): nothing to deliver, nothing to say
  }
  for (auto& sink : sinks_) {
    if (sinks_started_) {
      sink->stop([sinks_stopped] { sinks_stopped->fetch_add(1, std::memory_order_acq_rel); });
    }
  }
  while (*sinks_stopped < sinks_.size() && std::chrono::steady_clock::now() < sinks_deadline) {
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
  stop_metrics();  // its gauges read the sinks
  sources_.clear();
  sinks_.clear();
  http_exchanges_.clear();
  cluster_.reset();
}

void Worker::release_python_objects() {
  watchdog_view_ = nullptr;
  if (watchdog_) {
    watchdog_->close();
    watchdog_.reset();
  }
  runner_view_ = nullptr;
  checkpoints_.reset();
  generators_.clear();
  runner_.reset();
  state_codecs_.reset();
  plan_.reset();
}

// How long a worker with checkpoints keeps forming its cluster again (the lost worker must be restarted meanwhile).
std::chrono::milliseconds Worker::forming_patience() const {
  return options_.cluster ? options_.cluster->join_timeout : std::chrono::milliseconds(0);
}

void Worker::start_metrics() {
  if (!options_.measure) {
    return;
  }
  metrics::MetricsOptions settings = options_.metrics;
  settings.app_name = plan_->app_name;
  if (settings.http) {
    settings.dashboard_dir = dashboard_dir();
  }
  metrics::MetricsHooks hooks;
  if (options_.cluster) {
    hooks.gather = [this](metrics::MetricsHooks::Gathered done) {
      std::lock_guard lock(cluster_mutex_);
      if (!cluster_ || !formed_) {
        done({{metrics_registry_.worker(), metrics_->latest_json()}}, {});
        return;
      }
      cluster_->gather(cluster::metrics_query, [done = std::move(done)](cluster::GatheredByName gathered) {
        done(std::move(gathered.answers), std::move(gathered.missing));
      });
    };
  }
  hooks.ready = [this] { return formed_.load() && runner_view_.load() != nullptr; };
  using metrics::Labels;
  metrics_registry_.gauge(metrics::executor_queue, {}, [this] { return static_cast<double>(mailbox_.size()); });
  metrics_registry_.gauge(metrics::peer_queue, {}, [this] { return static_cast<double>(inbound_.size()); });
  metrics_registry_.gauge(metrics::executor_turn, {}, [this] {
    auto started = turn_started_.load(std::memory_order_relaxed);
    auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    return started == 0 ? 0.0
                        : std::chrono::duration<double>(std::chrono::steady_clock::duration(now - started)).count();
  });
  metrics_registry_.gauge(metrics::source_paused, {},
                          [this] { return std::chrono::duration<double>(mailbox_.paused()).count(); });
  if (options_.cluster) {
    metrics_registry_.gauge(metrics::workers_live, {}, [this] {
      std::lock_guard lock(cluster_mutex_);
      if (!cluster_ || !formed_) {
        return 0.0;
      }
      auto up = cluster_->workers_up();
      return static_cast<double>(std::count(up.begin(), up.end(), true));
    });
  }
  metrics_.emplace(metrics_registry_, std::move(settings), std::move(hooks));
  metrics_->start();
}

void Worker::measure_sinks() {
  if (!options_.measure) {
    return;
  }
  for (std::size_t i = 0; i < sinks_.size(); ++i) {
    io::Sink* sink = sinks_[i].get();
    metrics_registry_.gauge(metrics::sink_queue_bytes, {{"sink", plan_->sinks[i].name}},
                            [sink] { return static_cast<double>(sink->budget().in_flight()); });
  }
}

void Worker::stop_metrics() {
  if (metrics_) {
    metrics_->stop();
  }
}

void Worker::build_pipeline(Routing routing) {
  if (watchdog_) {
    watchdog_view_ = nullptr;
    watchdog_->close();
    watchdog_.reset();
  }
  checkpoints_.reset();
  generators_.clear();
  runner_view_ = nullptr;
  runner_.reset();
  if (!state_codecs_) {
    state_codecs_.emplace(*plan_);
  }
  runner_.emplace(*plan_, routing, object_codec());
  runner_->hand_over_while_firing([this] { hand_over_outputs(); });
  for (std::size_t index : replayable_) {
    if (const auto* kafka = std::get_if<graph::KafkaSourceSettings>(&plan_->sources[index].settings)) {
      runner_->read_messages(index, kafka->topics, kafka->decode_takes_key);
    } else {
      runner_->read_connector_messages(index);
    }
  }
  for (std::size_t i = 0; i < sinks_.size(); ++i) {
    if (sinks_[i]->takes_records()) {
      runner_->write_records(i);
    }
  }
  if (options_.measure) {
    runner_->measure(metrics_registry_);
  }
  runner_view_ = &*runner_;
  watchdog_.emplace(runner_->watch(), options_.stuck_step_warning);
  runner_->stop_when_halted(&*watchdog_);
  watchdog_view_ = &*watchdog_;
  if (stop_requested_) {
    start_stop_clock();
  }
  create_generators();
  start_checkpoints();
}

bool Worker::run_pipeline(bool& drain_timed_out) {
  while (!exit_requested_) {
    if (rollback_requested_ && !stopping_) {
      return false;
    }
    if (rollback_requested_ && leaving_) [[unlikely]] {
      // Its part of the checkpoint the cluster rolls back to is needed: it cannot go back from leaving in-process.
      log_->error(
          "the cluster rolls back to a checkpoint taken before this worker left: start this worker again "
          "with the same command to take its place, then ask for the shrink again");
      leave_undone_ = true;  // it stops now, keeping its checkpoint files
      return true;
    }
    if (stop_requested_ && !stopping_) {
      stop_sources();
    }
    if (stopping_ && std::chrono::steady_clock::now() > drain_deadline_) {
      drain_timed_out = true;
      break;
    }
    if (!wait_for_sinks()) {
      drain_timed_out = true;
      break;
    }
    std::uint64_t seen = doorbell_.rings();
    if (!rescale_inbox_.empty()) [[unlikely]] {
      take_rescale_news();
    }
    bool worked = take_work();
    auto now = std::chrono::steady_clock::now();
    turn_started_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
    if (now >= kafka_restart_due_) [[unlikely]] {
      read_kafka_partitions_again();
    }
    tend_windows(now);
    hand_over_outputs();
    commit_delivered_positions(now);
    if (left_keys_pending_) [[unlikely]] {
      left_keys_pending_ = !KeyGroupHandover::remove_left_keys(runner_->state_tables(), left_keys_per_turn);
    }
    if (kept_keys_pending_ && !paused_) [[unlikely]] {
      kept_keys_pending_ = !KeyGroupHandover::restore_pending(runner_->state_tables(), 1);
      handover_.report_restore_failures(runner_->state_tables());
    }
    if (now >= next_sink_check_) {
      next_sink_check_ = now + std::chrono::milliseconds(100);
      (void)check_sinks();
      runner_->publish_counts();
    }
    if (checkpoints_) {
      std::function<void()> after_last;
      {
        std::lock_guard lock(last_checkpoint_mutex_);
        after_last = std::exchange(last_checkpoint_done_, {});
      }
      if (after_last) {
        checkpoints_->take_last(std::move(after_last));
      }
      checkpoints_->on_turn(std::chrono::steady_clock::now(), checkpoint_inbox_);
    }
    if (worked) {
      if (drained_.load(std::memory_order_relaxed)) {
        drained_ = false;  // the drain's polls must not read a quiet that this turn's work ended
      }
      continue;
    }
    bool quiet = stopping_ && sources_running_ == 0 && mailbox_.size() == 0 && inbound_.size() == 0;
    if (quiet && leaving_ && !finished_watermarks_ && runner_->has_windows()) {
      // A leaver processed all its input: its peers' windows stop waiting for its sources (after its last events).
      finished_watermarks_ = true;
      runner_->finish_all_sources();
      next_watermark_send_ = {};
      next_watermark_repeat_ = {};
      tend_windows(std::chrono::steady_clock::now());
    }
    // Paused by a rescale, the sources' queued input does not count: the executor takes none of it.
    drained_ = quiet || (paused_ && inbound_.size() == 0 && delivered_before_move());
    if (quiet && !cluster_) {
      break;
    }
    if (doorbell_.rings() == seen && !left_keys_pending_ && !(kept_keys_pending_ && !paused_)) {
      sleep_in_data_io(channels_have_room() ? until_windows_due(idle_wait) : credit_poll);
    }
  }
  return true;
}

// Everything of this run that belongs to the cut being given up goes: batches from peers, events queued for them,
// the cluster's connections. Kept: the sources and their queued input (TCP input is not replayable: it goes on
// after the recovery), the sinks, the checkpoint files. Outputs already produced are handed to the sinks (outputs
// after the checkpoint repeat: docs/resilience.md).
void Worker::tear_down_pipeline() {
  ++rollbacks_;
  log_->warn(
      "rolling back (rollback {}): this worker forms the cluster again and restores its last complete "
      "checkpoint",
      rollbacks_);
  for (auto& output : runner_->outputs()) {
    if (!output.empty()) {
      sinks_[&output - runner_->outputs().data()]->write(output.take());
    }
  }
  checkpoints_.reset();
  transactional_->abort();  // what the sinks wrote since the checkpoint is written again after the recovery
  stop_replayable_sources();
  positions_.emplace(plan_->sources.size());  // the recovery restores the checkpoint's (none: as at the start)
  close_cluster();
  while (auto remote = inbound_.try_pop()) {
  }
  (void)checkpoint_inbox_.take();
  (void)rescale_inbox_.take();
  rollback_requested_ = false;
  paused_ = false;
  formed_ = false;
  std::lock_guard lock(facts_mutex_);
  facts_.membership = cluster::Membership{};
}

int Worker::serve() {
  python::PyRef description = python::load_application(options_.module_name, options_.app_args, options_.full_argv);
  plan_.emplace(graph::read_plan(description.get()));
  rescale_refusal_ = rescale_refusal(*plan_);
  description = python::PyRef();
  python::freeze_setup_objects();

  start_metrics();

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
  open_checkpoint_files();
  create_sinks();
  measure_sinks();
  for (std::size_t i = 0; i < plan_->sources.size(); ++i) {
    if (is_replayable(plan_->sources[i])) {
      replayable_.push_back(i);
    }
  }
  generations_.assign(plan_->sources.size(), 0);
  positions_.emplace(plan_->sources.size());
  sources_by_index_.assign(plan_->sources.size(), nullptr);
  bool drain_timed_out = false;
  bool first_run = true;
  auto forming_deadline = std::chrono::steady_clock::now() + forming_patience();
  auto forming_retry = first_forming_retry;
  for (;;) {
    Routing routing;
    if (options_.cluster) {
      try {
        join_cluster(forming_deadline);
        forming_retry = first_forming_retry;
      } catch (const core::Error& error) {
        // Refused for good (the cluster says so, or this application's own reason not to rescale): asking again
        // cannot change it.
        bool for_good = dynamic_cast<const cluster::JoinRefusedForGood*>(&error) != nullptr ||
                        (!rescale_refusal_.empty() &&
                         std::string_view(error.what()).find(rescale_refusal_) != std::string_view::npos);
        if (!for_good && !stop_requested_ && options_.checkpoints &&
            std::chrono::steady_clock::now() < forming_deadline) {
          // A worker that left while the cluster formed (killed again, or restarting): form again until it is back.
          // Not at once: a failure that comes at once (a port another process holds) would spin and flood the log.
          log_->warn("the cluster did not form ({}); forming again in {} ms", error.what(), forming_retry.count());
          close_cluster();
          wait_in_data_io(forming_retry);
          forming_retry = std::min(2 * forming_retry, last_forming_retry);
          continue;
        }
        if (!stop_requested_) {
          throw;
        }
        log_->info("stopped before the cluster formed");
        signals.cancel();
        if (runner_) {  // stopped while forming again after a rollback: what is queued is not delivered
          DeliveryReport report;
          report_delivery(report);
          shut_down_io(std::chrono::steady_clock::now() + sink_stop_wait);
          if (!report.is_complete()) {
            log_->error("{}", report.summary());
          }
          return report.exit_code();
        }
        shut_down_io(std::chrono::steady_clock::now() + sink_stop_wait);
        return 0;
      }
      routing = Routing::of(facts_.membership);
      kafka_readers_ = partition_readers_at_formation();
    }
    formed_ = true;
    build_pipeline(routing);
    if (options_.cluster) {
      windows_follow(facts_.membership);
    }
    if (first_run) {
      first_run = false;
      start_sources();  // first: a port in use, or brokers out of reach, must be the only line the user sees
      start_replayable_sources();
      start_sinks();
      transactional_->recover(options_.drain_timeout + std::chrono::seconds(30));
      log_->info("application '{}' runs {} source(s), {} stage(s), {} sink(s){}", plan_->app_name,
                 plan_->sources.size(), plan_->stages.size(), plan_->sinks.size(),
                 routing.workers > 1 ? fmt::format(" on worker {} of {}", routing.self, routing.workers) : "");
      log_->info("|~~ INIT PHASE III: Application is ready to work! ~~|");
    } else {
      transactional_->recover(options_.drain_timeout + std::chrono::seconds(30));
      start_replayable_sources();
      log_->info("the cluster formed again after rollback {}: the stream goes on", rollbacks_);
    }
    bool finished = run_pipeline(drain_timed_out);
    turn_started_.store(0, std::memory_order_relaxed);
    if (finished) {
      break;
    }
    tear_down_pipeline();
    forming_deadline = std::chrono::steady_clock::now() + forming_patience();
  }
  if (drain_timed_out || (watchdog_->halted() && !watchdog_->interrupted())) {
    log_->warn("the drain timed out after {} ms; stopping with what is left", options_.drain_timeout.count());
  }
  finish_checkpoints(!drain_timed_out && !leave_undone_ && !watchdog_->halted() && !failed_sink_);
  DeliveryReport report;
  drain_sinks(report);
  watchdog_->finished();
  count_interrupted_call();
  report_delivery(report);
  if (failed_sink_) {
    report.add_fault(*failed_sink_);
  }
  if (!options_.checkpoints && report.is_complete() && !drain_timed_out) {
    // At least once: everything read was delivered (a cluster's drain covers every worker's sinks), so the final
    // positions are committed. A stop that lost anything leaves the last commit where it was: those are read again.
    for (std::size_t source : replayable_) {
      commit_position(source, positions_->of(source));
    }
  }
  signals.cancel();
  runner_->publish_counts();  // the metrics' last snapshot (taken as the metrics thread stops) sees the end
  shut_down_io(std::chrono::steady_clock::now());
  log_->info("stopped: {} events in, {} outputs written, {} events failed, {} events not delivered{}",
             runner_->events_in(), runner_->outputs_written(), runner_->failed_events(), runner_->undelivered_events(),
             runner_->has_windows() ? fmt::format(", {} late events", runner_->late_events()) : std::string());
  if (!report.is_complete()) {
    log_->error("{}", report.summary());
  }
  return report.exit_code();
}

}  // namespace

int run_worker(const WorkerOptions& options) {
  Worker worker(options);
  return worker.run();
}

}  // namespace roo::runtime
