#pragma once

#include "delivery_report.hpp"
#include "hop_codec.hpp"
#include "key_router.hpp"
#include "output_buffer.hpp"
#include "watermark_table.hpp"

#include "roo/core/frame_batch.hpp"
#include "roo/graph/plan.hpp"
#include "roo/metrics/metric_catalogue.hpp"
#include "roo/metrics/metrics_registry.hpp"
#include "roo/python/call_watch.hpp"
#include "roo/python/py_ref.hpp"
#include "roo/python/user_errors.hpp"
#include "roo/state/keyed_state_table.hpp"
#include "roo/window/window_operator.hpp"

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace roo::runtime {

/// Runs events through the plan's flows: decode, stages (stateless, key_by, keyed state), encode, and
/// appends the encoded bytes to one output buffer per sink. This is the per-event hot path: it takes no
/// lock, allocates nothing in C++, and calls user functions with PyObject_Vectorcall. A raising or
/// misbehaving user function costs only its event (counted and logged by that step's StepErrors).
/// Lives on the Python executor; call only with the GIL held.
class PipelineRunner {
 public:
  /// `routing` places this worker in a cluster (default: alone). With several workers, an event whose key belongs to
  /// another worker leaves at its key_by (or collect, or a state stage reached with its source's key) and continues
  /// there at the next stage; `codec` turns events into bytes for that.
  explicit PipelineRunner(graph::Plan& plan, Routing routing = {}, ObjectCodec codec = {});

  /// Decodes frames [first, last) of `batch` with its source's decoder and runs each event through the source's
  /// flow. The caller hands outputs over between slices, so the first outputs of a large batch do not wait for
  /// its last events. Returns the index of the first frame not processed: `last`, unless the watchdog halted the
  /// executor (an interrupted call, or the drain deadline; the rest is then the caller's to count). The batch's
  /// news (FrameBatch::news) is the caller's to apply, around the frames: take_news_before, take_news_after.
  std::size_t process(const core::FrameBatch& batch, std::size_t first, std::size_t last);
  /// The whole batch, its source's news included (take_news_before, then the frames, then take_news_after).
  std::size_t process(const core::FrameBatch& batch) {
    take_news_before(batch.source, batch.news);
    std::size_t reached = process(batch, 0, batch.size());
    if (reached == batch.size()) {
      take_news_after(batch.source, batch.news);
    }
    return reached;
  }
  /// A message source's news that comes before its batch's frames (core::SourceNews: partitions assigned, the
  /// source started): with windows, the source's watermark clock learns its inputs. Nothing without windows.
  void take_news_before(std::size_t source, const core::SourceNews& news);
  /// A message source's news that comes after its batch's frames, once every one was processed (partitions caught
  /// up): with windows, those inputs may go idle. Nothing without windows.
  void take_news_after(std::size_t source, const core::SourceNews& news);

  /// Source `source` produces messages (Kafka): its batches carry FrameBatch::Meta. The decoder is called with the
  /// message's key too when `decode_takes_key`; a failure's line names the topic (from `topics`), partition and
  /// offset; the message's timestamp becomes its outputs' time. Call before processing.
  void read_messages(std::size_t source, std::vector<std::string> topics, bool decode_takes_key);
  /// Source `source` is a connector source: its batches carry Meta (stream id as topic/partition, message id as
  /// offset). A MESSAGE with an empty payload is counted in but not decoded (as Wallaroo); a failure's line names
  /// the stream and the message id.
  void read_connector_messages(std::size_t source);
  /// Sink `sink` takes records (Kafka): its encoder may return (value, key[, partition[, headers]]).
  void write_records(std::size_t sink);

  /// The executor's user calls, marked for a python::CallWatchdog.
  [[nodiscard]] const python::CallWatch& watch() const { return watch_; }
  [[nodiscard]] python::CallWatch& watch() { return watch_; }
  /// Once `watchdog` is halted, process() takes no further frames. Null: never.
  void stop_when_halted(const python::CallWatchdog* watchdog) { watchdog_ = watchdog; }

  /// Runs one already-decoded event (a generator's value) through source `source`'s flow.
  void process_value(std::size_t source, PyObject* value);

  /// Runs the events of a batch another worker sent (see OutboundHops for the layout). A malformed batch is
  /// logged and dropped.
  void process_remote(std::string_view bytes, std::size_t from);

  /// From now on, route by `routing` (a worker joined: one more worker to hop to; a rescale: new owners). Hops
  /// queued for a worker stay queued. Throws core::Error as KeyRouter does.
  void reroute(Routing routing);
  /// How keys are placed on workers now.
  [[nodiscard]] const KeyRouter& router() const { return router_; }

  /// Events waiting to leave for worker `worker`, as one batch of bytes (empty when there are none); `events` is set
  /// to the number of events in it.
  [[nodiscard]] std::vector<char> take_hops(std::size_t worker, std::uint32_t& events);

  /// Whether a lost event was also counted in failed_events() (a step failed on it) or only as a loss.
  enum class AlsoFailed : bool { no, yes };
  /// Counts `count` events that could not go on, for `reason` (failure path only; see DeliveryReport).
  void lose(std::uint64_t count, const std::string& reason, AlsoFailed also_failed);

  /// Adds the events lost here (not by user code raising) to `report`.
  void report_losses(DeliveryReport& report) const;

  /// Keys held in each state table, for the external channel's state-entity queries. Thread-safe.
  [[nodiscard]] std::vector<std::pair<std::string, std::vector<std::string>>> state_keys() const;

  /// The keyed state of each state table (same index as Plan::state_tables): what checkpoints snapshot and
  /// recoveries refill. A deque: the stages point into it.
  [[nodiscard]] std::deque<state::KeyedStateTable>& state_tables() { return tables_; }

  /// Encoded output waiting for each sink (same index as Plan::sinks); the caller hands it over and clears it.
  [[nodiscard]] std::vector<OutputBuffer>& outputs() { return outputs_; }

  // Event time and windows (docs/windows.md). All of it costs nothing when the plan has no window stage.

  [[nodiscard]] bool has_windows() const { return windows_ != nullptr; }
  /// Source `source` ended (a generator returned None): its watermark here is end_of_time.
  void finish_source(std::size_t source);
  /// This worker's watermarks at wall clock `now` (ns since the epoch), encoded for its peers.
  [[nodiscard]] std::vector<char> local_watermarks(std::int64_t now) { return watermarks_->encode(now); }
  /// Watermarks worker `from` sent (core::Watermarks). Malformed ones are logged and ignored.
  void receive_watermarks(std::size_t from, std::string_view bytes);
  /// Moves every window stage's watermark as far as its inputs allow at wall clock `now` and outputs the windows
  /// now due; outputs count windows whose timeout passed.
  /// Returns whether any window was output: the caller hands the outputs on, then calls tidy_windows() (not
  /// calling it costs nothing but latency: each operator tidies before its next change).
  bool advance_windows(std::int64_t now);
  /// The window stages' work that the outputs of advance_windows() need not wait for (WindowOperator::tidy).
  void tidy_windows();
  /// Called inside advance_windows() every window_outputs_per_hand_over outputs: the caller hands them on, so a
  /// firing's first outputs do not wait for its last (a firing of 1,000 keys takes a millisecond or more).
  void hand_over_while_firing(std::function<void()> hand_over) { hand_over_while_firing_ = std::move(hand_over); }
  static constexpr std::uint32_t window_outputs_per_hand_over = 256;
  /// The wall clock (ns) by which advance_windows() should run again with no new input (end_of_time: only new
  /// input or a peer's watermark can make anything due).
  [[nodiscard]] std::int64_t next_window_wake(std::int64_t now) const;
  /// The window stages' tables were refilled from a checkpoint: the operators rebuild what they keep beside them.
  void windows_restored();
  /// Rescaling (docs/cluster.md, "Growing and shrinking"): the cluster has `workers` workers by index, `departed`
  /// marking those that left (see WatermarkTable::members_changed).
  void members_changed(std::size_t workers, const std::vector<bool>& departed);
  /// Message source `source` stopped reading here at a rescale's move (its partitions are dealt again): the inputs
  /// it had no longer hold this worker's windows back; when `reads_again`, the windows wait for its new inputs,
  /// which its first batch after the resume lists (WatermarkClock::deal_again).
  void source_inputs_dealt_again(std::size_t source, bool reads_again);
  /// This worker leaves and processed all its input: its peers' windows no longer wait for its sources.
  void finish_all_sources();
  /// Worker `worker` was lost (no checkpoints: the cluster goes on): its watermarks hold nothing back any more.
  void peer_gone(std::size_t worker);
  /// Whether hold_windows() holds them.
  [[nodiscard]] bool windows_held() const { return windows_held_; }
  /// A rescale's move began: keys leave the window stages' tables and others come. No window fires until
  /// windows_moved() (an operator's indexes still hold keys that left, and not yet those that came).
  void hold_windows();
  /// Key groups handed over by another worker came with its window stage `index`'s watermark: taken at
  /// windows_moved() (a watermark never goes back; the giver's was the cluster's as far as it knew).
  void adopt_window_watermark(std::size_t index, EventTime watermark);
  /// The keys have moved: each operator rebuilds its indexes (WindowOperator::keys_moved), each stage takes the
  /// watermarks adopted, and what is due fires now (wall clock `now`). Returns whether any window was output (see
  /// advance_windows()).
  bool windows_moved(std::int64_t now);
  /// Each window stage's watermark (in plan order of the window stages), for a checkpoint.
  [[nodiscard]] std::vector<EventTime> window_watermarks() const;
  /// Recovery: window stage `index`'s watermark at the checkpoint (an unknown index is ignored).
  void restore_window_watermark(std::size_t index, EventTime watermark);
  /// Events that came after all their windows had fired, over every window stage.
  [[nodiscard]] std::uint64_t late_events() const;

  // Metrics (docs/metrics.md). Without measure() nothing is counted or timed.

  /// Counts every event into each step, and times one event in every `timed_one_in` (and the first of each batch)
  /// through every step, to its sink, and from its arrival: the registry's meters, labelled by pipeline (the
  /// source's name) and step. Call once before processing; the registry outlives the runner.
  void measure(metrics::MetricsRegistry& registry);
  /// Copies the counts the runner keeps itself (failures per step, late and lost events, events in and out) into
  /// the registry's counters, for the metrics thread. Cheap; the executor calls it every few hundred ms.
  void publish_counts();
  static constexpr std::uint64_t timed_one_in = 64;

  [[nodiscard]] std::uint64_t events_in() const { return events_in_; }
  [[nodiscard]] std::uint64_t outputs_written() const { return outputs_written_; }
  /// Events skipped, over every step: user code raised or broke a return rule, or Roo could not carry the event on
  /// (those are losses too: report_losses).
  [[nodiscard]] std::uint64_t failed_events() const;
  /// Events lost without a step failing on them (still queued at the drain deadline or after an interrupted call,
  /// for a lost worker, in an unreadable batch): with failed_events(), every lost event once.
  [[nodiscard]] std::uint64_t undelivered_events() const { return undelivered_events_; }

 private:
  struct WindowStage;
  struct Stage {
    const graph::StagePlan* plan;
    PyObject* fn;
    state::KeyedStateTable* table;  ///< state stages: their table (shared by the stages of one state id)
    python::StepErrors errors;
    python::StepErrors factory_errors;
    WindowStage* window = nullptr;           ///< window stages
    metrics::LatencyMeter* meter = nullptr;  ///< measure(): the step's meter
  };
  /// A window stage: its operator, where its outputs continue, and its watermark.
  struct WindowStage final : window::WindowOutput {
    PipelineRunner* runner = nullptr;
    std::unique_ptr<window::WindowOperator> op;
    std::size_t flow = 0;              ///< the first flow through the stage: its outputs continue there
    std::size_t position = 0;          ///< the stage's position in that flow
    std::vector<std::size_t> sources;  ///< the sources whose flows pass through it
    EventTime watermark = graph::start_of_time;
    const std::string* label = nullptr;  ///< the stage's step, for the CallWatch while its windows fire
    void emit(PyObject* key, PyObject* output, EventTime time) override;
    void firing(PyObject* key) override { runner->watch_.enter(label, key); }
  };
  /// The window stages and the watermarks feeding them (only when the plan has any).
  struct Windows {
    std::deque<WindowStage> stages;
  };
  struct Source {
    PyObject* decode;
    PyObject* initial_key;
    python::StepErrors errors;
    std::vector<std::string> topics;  ///< a message source's topics (read_messages)
    bool decode_takes_key = false;
    PyObject* event_time = nullptr;  ///< with_event_time(fn): fn
    std::unique_ptr<python::StepErrors> event_time_errors;
    metrics::LatencyMeter* meter = nullptr;     ///< measure(): the decoder's meter
    metrics::LatencyMeter* pipeline = nullptr;  ///< measure(): start-to-end of the source's pipeline
    metrics::LatencyMeter* worker = nullptr;    ///< measure(): arrival here to leaving, in this pipeline
    metrics::EventCount* events_in = nullptr;
    bool connector = false;  ///< read_connector_messages
    /// A connector MESSAGE's key is the event's first routing key (spec §3.3); the last one made, reused while the
    /// messages' keys repeat.
    std::string last_key_bytes{};
    python::PyRef last_key{};
    std::uint64_t events = 0;
  };
  struct Sink {
    PyObject* encode;
    python::StepErrors errors;
    bool records = false;                    ///< write_records
    metrics::LatencyMeter* meter = nullptr;  ///< measure(): the encoder's meter
    metrics::EventCount* events_out = nullptr;
    std::uint64_t events = 0;
  };

  /// process() for a batch with FrameBatch::Meta (read_messages): off the byte streams' hot path.
  std::size_t process_messages(const core::FrameBatch& batch, std::size_t first, std::size_t last);
  [[nodiscard]] static PyObject* connector_key(Source& source, std::string_view bytes);
  /// Appends a record sink's encoder result (emit's slow path). Returns false when the result broke the rules.
  bool append_record(Sink& sink, OutputBuffer& out, PyObject* encoded);

  void run(const graph::Flow& flow, std::size_t position, PyObject* data, PyObject* key, std::string_view raw,
           bool routed);
  /// True when `key` belongs here; otherwise queues the event for its owner (raw frame when `raw` is set).
  [[nodiscard]] bool stays_here(const graph::Flow& flow, std::size_t position, PyObject* data, PyObject* key,
                                std::string_view raw, python::StepErrors& errors);
  void fan_out(const graph::Flow& flow, std::size_t position, PyObject* result, PyObject* key, Stage& stage,
               bool routed);
  [[nodiscard]] PyObject* state_for(Stage& stage, PyObject* key);
  /// The stage whose routing sent an event on at `position` of `flow` (the key_by or collect before it).
  [[nodiscard]] Stage& routing_stage(std::size_t flow, std::size_t position);
  /// The event time fn(event) gives for source `source`'s `event` (ns); false (counted) when it raised or returned
  /// something else than an int.
  bool stamp(Source& source, PyObject* event);
  /// Sets up the window stages, their operators and the watermark table (plans with windows only).
  void build_windows(Routing routing);

  /// Inlined into run(), its one caller on the hot path (the call alone cost ~15 instructions per event).
  [[gnu::always_inline]] inline void emit(const graph::Flow& flow, PyObject* data);

  graph::Plan& plan_;
  std::vector<Stage> stages_;
  std::vector<Source> sources_;
  std::vector<Sink> sinks_;
  std::vector<OutputBuffer> outputs_;
  KeyRouter router_;
  ObjectCodec codec_;
  std::vector<OutboundHops> hops_;
  python::StepErrors inbound_errors_{"events from another worker"};
  std::deque<state::KeyedStateTable> tables_;
  std::uint64_t events_in_ = 0;
  std::uint64_t outputs_written_ = 0;
  std::vector<std::pair<std::string, std::uint64_t>> losses_;  ///< by reason, in the order first seen
  std::uint64_t undelivered_events_ = 0;
  python::CallWatch watch_;
  const python::CallWatchdog* watchdog_ = nullptr;
  std::int64_t event_time_ms_ = -1;   ///< the time of the message being processed (-1: none), for record outputs
  std::unique_ptr<Windows> windows_;  ///< null: no window stage, no event time kept
  std::optional<WatermarkTable> watermarks_;
  std::function<void()> hand_over_while_firing_;
  bool advancing_windows_ = false;        ///< inside advance_windows(): window outputs are counted
  bool windows_held_ = false;             ///< a rescale's keys are moving: nothing fires (hold_windows())
  bool fire_due_ = false;                 ///< the next advance_windows() fires what is due at every stage
  std::vector<EventTime> adopted_marks_;  ///< by window stage: the givers' watermarks (adopt_window_watermark())
  std::uint64_t window_outputs_ = 0;      ///< outputs of the current advance_windows()
  EventTime event_time_ = 0;              ///< the event time of the event being processed (windows only)

  // Metrics: the event being processed is timed when timed_arrival_ is set (steady clock ns).
  bool measured_ = false;
  std::int64_t timed_arrival_ = 0;  ///< when the timed event reached this worker (0: this event is not timed)
  std::int64_t timed_ingest_ = 0;   ///< when it reached its source (0: unknown here, it came from another worker)
  metrics::LatencyMeter* timed_pipeline_ = nullptr;
  metrics::LatencyMeter* timed_worker_ = nullptr;
  std::uint64_t untimed_ = 0;  ///< events since the last timed one
  struct Published {
    metrics::EventCount* count;
    const python::StepErrors* errors;
  };
  std::vector<Published> failure_counters_;
  metrics::EventCount* lost_counter_ = nullptr;
  std::vector<metrics::EventCount*> late_counters_;  ///< by window stage

  /// Starts timing the current event when it is due (one in timed_one_in, or `first` of a batch).
  void maybe_time(Source& source, bool first, std::int64_t ingest);
  /// An event from another worker: timed here when the sender timed it (`ingest_wall` its arrival at its source).
  void time_arrival(Source& source, std::int64_t ingest_wall);
  /// The timed event leaves this worker (to its sinks, or to another worker): its pipeline and worker latencies.
  void timed_leaves(bool to_sink);
};

}  // namespace roo::runtime
