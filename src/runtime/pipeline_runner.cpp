#include "pipeline_runner.hpp"

#include "roo/core/clock.hpp"
#include "roo/core/logging.hpp"
#include "roo/python/collector_pause.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace roo::runtime {
namespace {

PyObject* call1(PyObject* fn, PyObject* arg) {
  PyObject* args[2] = {nullptr, arg};
  return PyObject_Vectorcall(fn, args + 1, 1 | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr);
}

PyObject* call2(PyObject* fn, PyObject* first, PyObject* second) {
  PyObject* args[3] = {nullptr, first, second};
  return PyObject_Vectorcall(fn, args + 1, 2 | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr);
}

std::string stage_label(const graph::StagePlan& stage) {
  switch (stage.kind) {
    case graph::StagePlan::Kind::computation:
      return fmt::format("computation '{}'", stage.name);
    case graph::StagePlan::Kind::key_by:
      return fmt::format("key_by '{}'", stage.name);
    case graph::StagePlan::Kind::collect:
      return "collect";
    case graph::StagePlan::Kind::state:
      return fmt::format("state computation '{}'", stage.name);
    case graph::StagePlan::Kind::window:
      return stage.name;  // "range_windows over Counter"
  }
  return stage.name;
}

PyObject* intern_key(const char* text) { return PyUnicode_InternFromString(text); }

/// Event time's clock: nanoseconds since the epoch.
std::int64_t wall_now() { return core::wall_clock_ns(); }

constexpr std::int64_t ns_per_ms = 1'000'000;

/// The metrics' clock (read only for timed events).
std::int64_t steady_ns() { return core::steady_clock_ns(); }

void record_since(metrics::LatencyMeter* meter, std::int64_t began) {
  std::int64_t now = steady_ns();
  meter->latency.record(static_cast<std::uint64_t>(std::max<std::int64_t>(now - began, 0)));
}

const char* step_kind(graph::StagePlan::Kind kind) {
  switch (kind) {
    case graph::StagePlan::Kind::computation:
      return "computation";
    case graph::StagePlan::Kind::key_by:
      return "key_by";
    case graph::StagePlan::Kind::collect:
      return "collect";
    case graph::StagePlan::Kind::state:
      return "state";
    case graph::StagePlan::Kind::window:
      return "window";
  }
  return "computation";
}

}  // namespace

PipelineRunner::PipelineRunner(graph::Plan& plan, Routing routing, ObjectCodec codec)
    : plan_(plan), router_(routing), codec_(std::move(codec)), hops_(routing.workers) {
  for (std::size_t i = 0; i < plan.state_tables.size(); ++i) {
    // Named after the first stage using the table: what a checkpoint's error line calls it.
    std::string label = fmt::format("state '{}'", plan.state_tables[i].name);
    for (auto& stage : plan.stages) {
      if (stage.kind == graph::StagePlan::Kind::state && stage.state_table == i) {
        label = stage_label(stage);
        break;
      }
    }
    tables_.emplace_back(plan.state_tables[i].name, std::move(label), plan.state_tables[i].factory);
  }
  stages_.reserve(plan.stages.size());
  for (auto& stage : plan.stages) {
    bool stateful = stage.kind == graph::StagePlan::Kind::state;
    PyObject* fn = stage.kind == graph::StagePlan::Kind::collect ? stage.constant_key.get() : stage.fn.get();
    stages_.push_back(Stage{&stage, fn, stateful ? &tables_[stage.state_table] : nullptr,
                            python::StepErrors(stage_label(stage)),
                            python::StepErrors(fmt::format("state class of '{}'", stage.name))});
  }
  // Wallaroo's initial keys: every event carries a key, even before the first key_by.
  static PyObject* tcp_key = intern_key("tcp-source-key");
  static PyObject* gen_key = intern_key("gen-source-key");
  for (auto& source : plan.sources) {
    bool generator = source.kind() == graph::SourcePlan::Kind::generator;
    sources_.push_back(Source{source.decode.get(),
                              generator ? gen_key : tcp_key,
                              python::StepErrors(fmt::format("decoder of source '{}'", source.name)),
                              {},
                              false,
                              nullptr,
                              nullptr});
    if (source.event_time) {
      sources_.back().event_time = source.event_time.get();
      sources_.back().event_time_errors =
          std::make_unique<python::StepErrors>(fmt::format("event time function of source '{}'", source.name));
    }
  }
  for (std::size_t i = 0; i < plan.sinks.size(); ++i) {
    sinks_.push_back(Sink{plan.sinks[i].encode.get(),
                          python::StepErrors(fmt::format("encoder of sink '{}'", plan.sinks[i].name)), false});
  }
  outputs_.resize(plan.sinks.size());
  if (plan.has_windows()) {
    build_windows(routing);
  }
}

void PipelineRunner::build_windows(Routing routing) {
  windows_ = std::make_unique<Windows>();
  watermarks_.emplace(plan_, routing.workers, routing.self);
  for (std::size_t s = 0; s < plan_.stages.size(); ++s) {
    if (plan_.stages[s].kind != graph::StagePlan::Kind::window) {
      continue;
    }
    WindowStage& window = windows_->stages.emplace_back();
    window.runner = this;
    bool placed = false;
    for (const auto& flow : plan_.flows) {
      auto at = std::find(flow.stages.begin(), flow.stages.end(), s);
      if (at == flow.stages.end()) {
        continue;
      }
      if (!placed) {
        window.flow = flow.source;
        window.position = static_cast<std::size_t>(at - flow.stages.begin());
        placed = true;
      }
      window.sources.push_back(flow.source);
    }
    Stage& stage = stages_[s];
    stage.table = &tables_[plan_.stages[s].state_table];
    window.op = window::make_window_operator(plan_.stages[s].window, stage.fn, *stage.table, stage.errors);
    window.label = &stage.errors.label();
    stage.window = &window;
  }
}

bool PipelineRunner::stamp(Source& source, PyObject* event) {
  watch_.enter(&source.event_time_errors->label(), nullptr);
  python::PyRef time = python::PyRef::steal(call1(source.event_time, event));
  watch_.leave();
  if (!time) {
    source.event_time_errors->report_exception();
    return false;
  }
  if (!PyLong_Check(time.get()) || PyBool_Check(time.get())) {
    source.event_time_errors->report_misuse(
        fmt::format("returned {}; expected an int (nanoseconds since the epoch)", Py_TYPE(time.get())->tp_name));
    return false;
  }
  int overflow = 0;
  long long value = PyLong_AsLongLongAndOverflow(time.get(), &overflow);
  if (overflow != 0) {
    source.event_time_errors->report_misuse("returned an int too large for nanoseconds since the epoch");
    return false;
  }
  event_time_ = value;
  return true;
}

void PipelineRunner::measure(metrics::MetricsRegistry& registry) {
  using metrics::Labels;
  measured_ = true;
  std::vector<const std::string*> pipeline_of_stage(stages_.size(), nullptr);
  for (const auto& flow : plan_.flows) {
    for (std::size_t s : flow.stages) {
      if (pipeline_of_stage[s] == nullptr) {
        pipeline_of_stage[s] = &plan_.sources[flow.source].name;
      }
    }
  }
  for (std::size_t i = 0; i < sources_.size(); ++i) {
    const std::string& pipeline = plan_.sources[i].name;
    Source& source = sources_[i];
    source.meter = &registry.latency(
        metrics::step_latency, Labels{{"pipeline", pipeline}, {"step", source.errors.label()}, {"kind", "decoder"}});
    source.pipeline = &registry.latency(metrics::pipeline_latency, Labels{{"pipeline", pipeline}});
    source.worker = &registry.latency(metrics::worker_latency, Labels{{"pipeline", pipeline}});
    source.events_in = &registry.counter(metrics::source_events, Labels{{"source", pipeline}});
    failure_counters_.push_back(
        {&registry.counter(metrics::step_failures, Labels{{"pipeline", pipeline}, {"step", source.errors.label()}}),
         &source.errors});
    if (source.event_time_errors) {
      const std::string& step = source.event_time_errors->label();
      failure_counters_.push_back(
          {&registry.counter(metrics::step_failures, Labels{{"pipeline", pipeline}, {"step", step}}),
           source.event_time_errors.get()});
    }
  }
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    Stage& stage = stages_[i];
    const std::string& pipeline = pipeline_of_stage[i] != nullptr ? *pipeline_of_stage[i] : plan_.app_name;
    Labels labels{{"pipeline", pipeline}, {"step", stage.errors.label()}, {"kind", step_kind(stage.plan->kind)}};
    stage.meter = &registry.latency(metrics::step_latency, labels);
    labels.pop_back();
    failure_counters_.push_back({&registry.counter(metrics::step_failures, labels), &stage.errors});
    if (stage.table != nullptr && stage.plan->kind == graph::StagePlan::Kind::state) {
      Labels factory{{"pipeline", pipeline}, {"step", stage.factory_errors.label()}};
      failure_counters_.push_back({&registry.counter(metrics::step_failures, factory), &stage.factory_errors});
    }
    if (stage.window != nullptr) {
      late_counters_.push_back(
          &registry.counter(metrics::late_events, Labels{{"pipeline", pipeline}, {"step", stage.errors.label()}}));
    }
  }
  for (std::size_t i = 0; i < sinks_.size(); ++i) {
    Sink& sink = sinks_[i];
    const std::string* pipeline = &plan_.app_name;
    for (const auto& flow : plan_.flows) {
      if (std::find(flow.sinks.begin(), flow.sinks.end(), i) != flow.sinks.end()) {
        pipeline = &plan_.sources[flow.source].name;
        break;
      }
    }
    sink.meter = &registry.latency(metrics::step_latency,
                                   Labels{{"pipeline", *pipeline}, {"step", sink.errors.label()}, {"kind", "encoder"}});
    sink.events_out = &registry.counter(metrics::sink_events, Labels{{"sink", plan_.sinks[i].name}});
    failure_counters_.push_back(
        {&registry.counter(metrics::step_failures, Labels{{"pipeline", *pipeline}, {"step", sink.errors.label()}}),
         &sink.errors});
  }
  failure_counters_.push_back(
      {&registry.counter(metrics::step_failures, Labels{{"pipeline", ""}, {"step", inbound_errors_.label()}}),
       &inbound_errors_});
  lost_counter_ = &registry.counter(metrics::lost_events, {});
}

void PipelineRunner::publish_counts() {
  if (!measured_) {
    return;
  }
  for (auto& source : sources_) {
    source.events_in->set(source.events);
  }
  for (auto& sink : sinks_) {
    sink.events_out->set(sink.events);
  }
  for (const auto& published : failure_counters_) {
    published.count->set(published.errors->failures());
  }
  lost_counter_->set(undelivered_events_);
  if (windows_) {
    std::size_t i = 0;
    for (const WindowStage& window : windows_->stages) {
      if (i < late_counters_.size()) {
        late_counters_[i++]->set(window.op->late_events());
      }
    }
  }
}

void PipelineRunner::maybe_time(Source& source, bool first, std::int64_t ingest) {
  if (first || ++untimed_ >= timed_one_in) {
    untimed_ = 0;
    timed_arrival_ = steady_ns();
    timed_ingest_ = ingest != 0 ? ingest : timed_arrival_;
    timed_pipeline_ = source.pipeline;
    timed_worker_ = source.worker;
  } else {
    timed_arrival_ = 0;
  }
}

void PipelineRunner::time_arrival(Source& source, std::int64_t ingest_wall) {
  if (ingest_wall == 0) {
    timed_arrival_ = 0;  // the sender did not time it: neither does this worker (the sample stays one in 64)
    return;
  }
  timed_arrival_ = steady_ns();
  // Clocks of two machines differ: a time "before" the source is taken as the arrival here.
  timed_ingest_ = timed_arrival_ - std::max<std::int64_t>(core::wall_clock_ns() - ingest_wall, 0);
  timed_pipeline_ = source.pipeline;
  timed_worker_ = source.worker;
}

void PipelineRunner::timed_leaves(bool to_sink) {
  std::int64_t now = steady_ns();
  if (to_sink && timed_ingest_ != 0) {
    timed_pipeline_->latency.record(static_cast<std::uint64_t>(std::max<std::int64_t>(now - timed_ingest_, 0)));
  }
  timed_worker_->latency.record(static_cast<std::uint64_t>(std::max<std::int64_t>(now - timed_arrival_, 0)));
}

std::uint64_t PipelineRunner::failed_events() const {
  std::uint64_t total = 0;
  for (const auto& stage : stages_) {
    total += stage.errors.failures() + stage.factory_errors.failures();
  }
  for (const auto& source : sources_) {
    total += source.errors.failures();
    if (source.event_time_errors) {  // an event whose time could not be taken is dropped: it failed too
      total += source.event_time_errors->failures();
    }
  }
  for (const auto& sink : sinks_) {
    total += sink.errors.failures();
  }
  return total + inbound_errors_.failures();
}

void PipelineRunner::lose(std::uint64_t count, const std::string& reason, AlsoFailed also_failed) {
  if (also_failed == AlsoFailed::no) {
    undelivered_events_ += count;
  }
  for (auto& [known, lost] : losses_) {
    if (known == reason) {
      lost += count;
      return;
    }
  }
  losses_.emplace_back(reason, count);
}

void PipelineRunner::report_losses(DeliveryReport& report) const {
  for (const auto& [reason, count] : losses_) {
    report.add_events(count, reason);
  }
}

PipelineRunner::Stage& PipelineRunner::routing_stage(std::size_t flow, std::size_t position) {
  const auto& stages = plan_.flows[flow].stages;
  std::size_t at = std::min(position > 0 ? position - 1 : 0, stages.size() - 1);
  return stages_[stages[at]];
}

std::size_t PipelineRunner::process(const core::FrameBatch& batch, std::size_t first, std::size_t last) {
  if (!batch.meta.empty()) [[unlikely]] {
    return process_messages(batch, first, last);
  }
  Source& source = sources_[batch.source];
  const graph::Flow& flow = plan_.flows[batch.source];
  std::int64_t now = 0;
  std::size_t input = 0;
  if (windows_) [[unlikely]] {
    now = wall_now();
    event_time_ = now;  // ingest time, unless the source has a timestamp function
    if (source.event_time != nullptr) {
      input = watermarks_->clock(batch.source).slot(batch.channel, false);
    }
  }
  const char* bytes = batch.bytes.data();
  std::uint32_t begin = first == 0 ? 0 : batch.ends[first - 1];
  for (std::size_t i = first; i < last; ++i) {
    if (watchdog_ != nullptr && watchdog_->halted()) {
      return i;
    }
    std::uint32_t end = batch.ends[i];
    std::string_view frame(bytes + begin, end - begin);
    begin = end;
    if (measured_) {
      maybe_time(source, i == first, batch.received_ns);
      source.meter->events.add();
    }
    PyObject* payload = PyBytes_FromStringAndSize(frame.data(), static_cast<Py_ssize_t>(frame.size()));
    if (payload == nullptr) {
      source.errors.report_exception();
      continue;
    }
    watch_.enter(&source.errors.label(), nullptr);
    PyObject* event = call1(source.decode, payload);
    watch_.leave();
    if (timed_arrival_ != 0) [[unlikely]] {
      record_since(source.meter, timed_arrival_);
    }
    Py_DECREF(payload);
    ++events_in_;
    ++source.events;
    if (event == nullptr) {
      source.errors.report_exception();
      continue;
    }
    if (source.event_time != nullptr && event != Py_None) [[unlikely]] {
      if (!stamp(source, event)) {
        Py_DECREF(event);
        continue;
      }
      watermarks_->clock(batch.source).observe(input, event_time_, now);
    }
    if (event != Py_None) {
      run(flow, 0, event, source.initial_key, frame, false);
    }
    Py_DECREF(event);
  }
  return last;
}

void PipelineRunner::read_messages(std::size_t source, std::vector<std::string> topics, bool decode_takes_key) {
  sources_[source].topics = std::move(topics);
  sources_[source].decode_takes_key = decode_takes_key;
}

void PipelineRunner::read_connector_messages(std::size_t source) {
  static PyObject* no_key = intern_key("");  // Wallaroo's key for a connector message without one
  sources_[source].connector = true;
  sources_[source].initial_key = no_key;
}

// A MESSAGE's key bytes as the event's routing key: a str when they are UTF-8 (as keys from key_by usually are),
// else the bytes themselves (both hash to their bytes: key_group_of). Null with the Python error set.
PyObject* PipelineRunner::connector_key(Source& source, std::string_view bytes) {
  if (!source.last_key || bytes != source.last_key_bytes) {
    python::PyRef key =
        python::PyRef::steal(PyUnicode_DecodeUTF8(bytes.data(), static_cast<Py_ssize_t>(bytes.size()), nullptr));
    if (!key) {
      PyErr_Clear();
      key = python::PyRef::steal(PyBytes_FromStringAndSize(bytes.data(), static_cast<Py_ssize_t>(bytes.size())));
    }
    if (!key) {
      return nullptr;
    }
    source.last_key = std::move(key);
    source.last_key_bytes.assign(bytes);
  }
  return source.last_key.get();
}

void PipelineRunner::write_records(std::size_t sink) { sinks_[sink].records = true; }

// Messages carry a key and a time besides their payload. Events are not forwarded to their worker as raw frames
// (the key would not travel with them): a hop pickles the decoded event.
std::size_t PipelineRunner::process_messages(const core::FrameBatch& batch, std::size_t first, std::size_t last) {
  Source& source = sources_[batch.source];
  const graph::Flow& flow = plan_.flows[batch.source];
  std::int64_t now = windows_ ? wall_now() : 0;
  std::uint64_t input_id = ~std::uint64_t{0};
  std::size_t input = 0;
  for (std::size_t i = first; i < last; ++i) {
    if (watchdog_ != nullptr && watchdog_->halted()) {
      event_time_ms_ = -1;
      return i;
    }
    const core::FrameBatch::Meta& meta = batch.meta[i];
    std::string_view frame = batch.frame(i);
    if (measured_) {
      maybe_time(source, i == first, batch.received_ns);
      source.meter->events.add();
    }
    if (source.connector && frame.empty()) [[unlikely]] {
      ++events_in_;  // processed (its position folds), never decoded
      ++source.events;
      continue;
    }
    std::int64_t decode_began = timed_arrival_ != 0 ? steady_ns() : 0;
    python::PyRef payload =
        python::PyRef::steal(PyBytes_FromStringAndSize(frame.data(), static_cast<Py_ssize_t>(frame.size())));
    ++events_in_;
    ++source.events;
    if (!payload) {
      source.errors.report_exception();
      continue;
    }
    python::PyRef event;
    watch_.enter(&source.errors.label(), nullptr);
    if (source.decode_takes_key) {
      std::string_view key = batch.key(i);
      python::PyRef key_object =
          meta.has_key
              ? python::PyRef::steal(PyBytes_FromStringAndSize(key.data(), static_cast<Py_ssize_t>(key.size())))
              : python::PyRef::borrow(Py_None);
      event =
          key_object ? python::PyRef::steal(call2(source.decode, payload.get(), key_object.get())) : python::PyRef();
    } else {
      event = python::PyRef::steal(call1(source.decode, payload.get()));
    }
    watch_.leave();
    if (decode_began != 0) {
      record_since(source.meter, decode_began);
    }
    if (!event && source.connector) {
      source.errors.report_exception(
          fmt::format("raised on stream {} message {}:",
                      (std::uint64_t{meta.topic} << 32) | static_cast<std::uint32_t>(meta.partition), meta.offset));
      continue;
    }
    if (!event) {
      const std::string& topic = meta.topic < source.topics.size() ? source.topics[meta.topic] : std::string("?");
      source.errors.report_exception(
          fmt::format("raised on topic '{}' partition {} offset {}:", topic, meta.partition, meta.offset));
      continue;
    }
    if (event.get() == Py_None) {
      continue;
    }
    if (windows_) {
      // The message's own time, unless the source has a timestamp function (or the message has no time).
      event_time_ = meta.time_ms >= 0 ? meta.time_ms * ns_per_ms : now;
      if (source.event_time != nullptr && !stamp(source, event.get())) {
        continue;
      }
      std::uint64_t id = (std::uint64_t{meta.topic} << 32) | static_cast<std::uint32_t>(meta.partition);
      if (id != input_id) {
        input_id = id;
        input = watermarks_->clock(batch.source).slot(id, true);
      }
      watermarks_->clock(batch.source).observe(input, event_time_, now);
    }
    PyObject* key = source.initial_key;
    if (source.connector && meta.has_key) {
      key = connector_key(source, batch.key(i));
      if (key == nullptr) {
        source.errors.report_exception(
            fmt::format("on the key of stream {} message {}:",
                        (std::uint64_t{meta.topic} << 32) | static_cast<std::uint32_t>(meta.partition), meta.offset));
        continue;
      }
    }
    event_time_ms_ = meta.time_ms;
    run(flow, 0, event.get(), key, {}, false);
    event_time_ms_ = -1;
  }
  return last;
}

void PipelineRunner::take_news_before(std::size_t source, const core::SourceNews& news) {
  if (!windows_ || (news.assigned.empty() && !news.started)) {
    return;
  }
  auto& clock = watermarks_->clock(source);
  for (const auto& [topic, partition] : news.assigned) {  // inputs from now on, before any of their messages
    (void)clock.slot((std::uint64_t{topic} << 32) | static_cast<std::uint32_t>(partition), true);
  }
  if (news.started) {
    clock.inputs_known();
  }
}

void PipelineRunner::take_news_after(std::size_t source, const core::SourceNews& news) {
  if (!windows_) {
    return;
  }
  std::int64_t now = news.quiet.empty() ? 0 : wall_now();
  for (const auto& [topic, partition] : news.quiet) {
    auto& clock = watermarks_->clock(source);
    clock.went_quiet(clock.slot((std::uint64_t{topic} << 32) | static_cast<std::uint32_t>(partition), true), now);
  }
}

void PipelineRunner::process_value(std::size_t source, PyObject* value) {
  ++events_in_;
  ++sources_[source].events;
  if (measured_) {
    maybe_time(sources_[source], false, 0);
  }
  if (windows_) [[unlikely]] {
    std::int64_t now = wall_now();
    event_time_ = now;
    if (sources_[source].event_time != nullptr) {
      if (!stamp(sources_[source], value)) {
        return;
      }
      auto& clock = watermarks_->clock(source);
      clock.observe(clock.slot(0, false), event_time_, now);
    }
  }
  run(plan_.flows[source], 0, value, sources_[source].initial_key, {}, false);
}

bool PipelineRunner::stays_here(const graph::Flow& flow, std::size_t position, PyObject* data, PyObject* key,
                                std::string_view raw, python::StepErrors& errors) {
  std::int64_t group = router_.key_group(key);
  if (group < 0) {
    errors.report_exception("could not place its event on a worker: str() of the key raised");
    lose(1, errors.label() + ": the key cannot be turned into text to find its worker", AlsoFailed::yes);
    return false;
  }
  std::size_t owner = router_.owner(static_cast<std::uint32_t>(group));
  if (owner == router_.self()) {
    return true;
  }
  auto flow_index = static_cast<std::uint16_t>(flow.source);
  auto next = static_cast<std::uint16_t>(position);
  std::int64_t ingest = 0;  // a timed event's arrival at its source travels with it, on the wall clock
  if (timed_arrival_ != 0 && timed_ingest_ != 0) [[unlikely]] {
    ingest = core::wall_clock_ns() - (steady_ns() - timed_ingest_);
  }
  bool queued = raw.data() != nullptr ? hops_[owner].add_raw(flow_index, next, key, event_time_, raw, ingest)
                                      : hops_[owner].add_object(flow_index, next, key, event_time_, data, ingest);
  if (measured_ && queued) {
    sources_[flow.source].worker->events.add();  // an event leaving this worker, for another
    if (timed_arrival_ != 0) [[unlikely]] {
      timed_leaves(false);
    }
  }
  if (!queued) {
    errors.report_exception("could not send its event to another worker: pickling the key raised");
    lose(1, errors.label() + ": the key cannot be pickled for another worker", AlsoFailed::yes);
  }
  return false;
}

void PipelineRunner::process_remote(std::string_view bytes, std::size_t from) {
  static auto log = core::module_logger("runtime");
  std::string error;
  std::uint32_t lost = 0;
  bool well_formed = read_hops(
      bytes, codec_,
      [&](InboundHop& hop) {
        if (hop.flow >= plan_.flows.size() || hop.position > plan_.flows[hop.flow].stages.size()) {
          inbound_errors_.report_misuse(
              fmt::format("named flow {} position {}, which this worker does not have", hop.flow, hop.position));
          lose(1, "an event from another worker names a step this worker does not have", AlsoFailed::yes);
          return;
        }
        const graph::Flow& flow = plan_.flows[hop.flow];
        event_time_ = hop.time;
        if (measured_) {
          time_arrival(sources_[hop.flow], hop.ingest);
        }
        if (hop.object) {
          run(flow, hop.position, hop.object.get(), hop.key.get(), {}, true);
          return;
        }
        Source& source = sources_[hop.flow];
        python::PyRef payload =
            python::PyRef::steal(PyBytes_FromStringAndSize(hop.raw.data(), static_cast<Py_ssize_t>(hop.raw.size())));
        watch_.enter(&source.errors.label(), nullptr);
        python::PyRef event = python::PyRef::steal(call1(source.decode, payload.get()));
        watch_.leave();
        if (!event) {
          source.errors.report_exception();
          return;
        }
        if (event.get() != Py_None) {
          run(flow, hop.position, event.get(), hop.key.get(), hop.raw, true);
        }
      },
      error, lost);
  if (!well_formed) {
    log->error("dropping {} events of a batch from worker {}: {}", lost, from, error);
    lose(lost, "a batch from another worker could not be read", AlsoFailed::no);
  }
}

void PipelineRunner::reroute(Routing routing) {
  router_.reroute(std::move(routing));
  if (hops_.size() < router_.workers()) {
    hops_.resize(router_.workers());
  }
}

std::vector<char> PipelineRunner::take_hops(std::size_t worker, std::uint32_t& events) {
  events = 0;
  if (hops_[worker].empty()) {
    return {};
  }
  return hops_[worker].finish(
      codec_,
      [this](std::uint16_t flow, std::uint16_t position) {
        Stage& stage = routing_stage(flow, position);
        stage.errors.report_exception("could not send its event to another worker: pickling the event raised");
        lose(1, stage.errors.label() + ": the event cannot be pickled for another worker", AlsoFailed::yes);
      },
      events);
}

std::vector<std::pair<std::string, std::vector<std::string>>> PipelineRunner::state_keys() const {
  std::vector<std::pair<std::string, std::vector<std::string>>> result;
  for (const auto& table : tables_) {
    result.emplace_back(table.name(), table.key_names());
  }
  return result;
}

// `data` and `key` are borrowed: the caller keeps them alive for the whole call. `raw` is the source frame `data`
// was decoded from, while no stage has changed it yet (empty otherwise); `routed` says the key's owner was
// checked since the last key change.
void PipelineRunner::run(const graph::Flow& flow, std::size_t position, PyObject* data, PyObject* key,
                         std::string_view raw, bool routed) {
  python::PyRef owned_data;
  python::PyRef owned_key;
  for (; position < flow.stages.size(); ++position) {
    Stage& stage = stages_[flow.stages[position]];
    PyObject* result = nullptr;
    std::int64_t began = 0;
    if (stage.meter != nullptr) {
      stage.meter->events.add();
      if (timed_arrival_ != 0) [[unlikely]] {
        began = steady_ns();
      }
    }
    switch (stage.plan->kind) {
      case graph::StagePlan::Kind::collect:
        key = stage.fn;
        if (router_.is_distributed() && !stays_here(flow, position + 1, data, key, raw, stage.errors)) {
          return;
        }
        routed = true;
        continue;
      case graph::StagePlan::Kind::key_by:
        watch_.enter(&stage.errors.label(), key);
        result = call1(stage.fn, data);
        watch_.leave();
        if (result != nullptr && stage.plan->int_as_chr && PyLong_CheckExact(result)) {
          PyObject* as_chr = PyUnicode_FromOrdinal(static_cast<int>(PyLong_AsLong(result)));
          Py_DECREF(result);
          result = as_chr;
        }
        if (result == nullptr) {
          stage.errors.report_exception();
          return;
        }
        owned_key = python::PyRef::steal(result);
        key = result;
        if (began != 0) [[unlikely]] {
          record_since(stage.meter, began);
        }
        if (router_.is_distributed() && !stays_here(flow, position + 1, data, key, raw, stage.errors)) {
          return;
        }
        routed = true;
        continue;
      case graph::StagePlan::Kind::computation:
        watch_.enter(&stage.errors.label(), key);
        result = call1(stage.fn, data);
        watch_.leave();
        break;
      case graph::StagePlan::Kind::state: {
        // State reached with the source's own key (no key_by before it): that key has an owner too.
        if (!routed && router_.is_distributed() && !stays_here(flow, position, data, key, raw, stage.errors)) {
          return;
        }
        routed = true;
        PyObject* state = state_for(stage, key);
        if (state == nullptr) {
          return;
        }
        watch_.enter(&stage.errors.label(), key);
        result = call2(stage.fn, data, state);
        watch_.leave();
        stage.table->touch(key, state);
        if (result != nullptr && stage.plan->returns_persist) {
          if (!PyTuple_Check(result) || PyTuple_GET_SIZE(result) != 2) {
            stage.errors.report_misuse(
                fmt::format("returned {}; expected an (output, persist) tuple", Py_TYPE(result)->tp_name));
            Py_DECREF(result);
            return;
          }
          PyObject* output = PyTuple_GET_ITEM(result, 0);
          Py_INCREF(output);
          Py_DECREF(result);
          result = output;
        }
        break;
      }
      case graph::StagePlan::Kind::window: {
        // Keyed like state: a window stage reached with the source's own key has an owner too.
        if (!routed && router_.is_distributed() && !stays_here(flow, position, data, key, raw, stage.errors)) {
          return;
        }
        WindowStage& window = *stage.window;
        watch_.enter(&stage.errors.label(), key);
        window.op->add(key, data, event_time_, window.watermark, window);
        watch_.leave();
        if (began != 0) [[unlikely]] {
          record_since(stage.meter, began);
        }
        return;
      }
    }
    if (began != 0) [[unlikely]] {
      record_since(stage.meter, began);
    }
    if (result == nullptr) {
      stage.errors.report_exception();
      return;
    }
    raw = {};
    if (stage.plan->multi) {
      fan_out(flow, position + 1, result, key, stage, routed);
      return;
    }
    if (result == Py_None) {  // a filter
      Py_DECREF(result);
      return;
    }
    owned_data = python::PyRef::steal(result);
    data = result;
  }
  emit(flow, data);
}

// Takes ownership of `result`: None or a list whose non-None items each continue down the flow.
void PipelineRunner::fan_out(const graph::Flow& flow, std::size_t position, PyObject* result, PyObject* key,
                             Stage& stage, bool routed) {
  python::PyRef owned = python::PyRef::steal(result);
  if (result == Py_None) {
    return;
  }
  if (!PyList_Check(result)) {
    stage.errors.report_misuse(
        fmt::format("returned {}; a _multi computation must return a list or None", Py_TYPE(result)->tp_name));
    return;
  }
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(result); ++i) {
    PyObject* item = PyList_GET_ITEM(result, i);
    if (item != Py_None) {
      python::PyRef hold = python::PyRef::borrow(item);  // the list may be mutated by user code downstream
      run(flow, position, item, key, {}, routed);
    }
  }
}

PyObject* PipelineRunner::state_for(Stage& stage, PyObject* key) {
  PyObject* state = PyDict_GetItemWithError(stage.table->states(), key);  // borrowed
  if (state != nullptr) {
    return state;
  }
  if (stage.table->has_pending() && !PyErr_Occurred() && stage.table->restore_pending_for(key)) [[unlikely]] {
    // Its key group came in a rescale and was kept as bytes until now (KeyedStateTable::keep_to_restore).
    state = PyDict_GetItemWithError(stage.table->states(), key);
    if (state != nullptr) {
      return state;
    }
  }
  if (PyErr_Occurred()) {  // an unhashable key
    stage.errors.report_exception();
    return nullptr;
  }
  watch_.enter(&stage.factory_errors.label(), key);
  PyObject* created = PyObject_CallNoArgs(stage.table->factory());
  watch_.leave();
  if (created == nullptr) {
    stage.factory_errors.report_exception();
    return nullptr;
  }
  stage.table->created(created);
  int failed = PyDict_SetItem(stage.table->states(), key, created);
  Py_DECREF(created);
  if (failed != 0) {
    stage.errors.report_exception();
    return nullptr;
  }
  stage.table->remember_key(key);
  return created;  // now owned by the dict
}

// A window's output continues down the flow after its stage, at the window's time (a record sink's timestamp too).
void PipelineRunner::WindowStage::emit(PyObject* key, PyObject* output, EventTime time) {
  EventTime event_time = runner->event_time_;
  std::int64_t record_time = runner->event_time_ms_;
  runner->event_time_ = time;
  runner->event_time_ms_ = time >= 0 ? time / ns_per_ms : -1;
  runner->run(runner->plan_.flows[flow], position + 1, output, key, {}, true);
  runner->event_time_ = event_time;
  runner->event_time_ms_ = record_time;
  runner->watch_.enter(label, key);  // back in the aggregation's calls (the later steps left the watch)
  if (runner->advancing_windows_ && ++runner->window_outputs_ % window_outputs_per_hand_over == 0 &&
      runner->hand_over_while_firing_) {
    runner->hand_over_while_firing_();
  }
}

void PipelineRunner::finish_source(std::size_t source) {
  if (windows_) {
    watermarks_->clock(source).finish();
  }
}

void PipelineRunner::receive_watermarks(std::size_t from, std::string_view bytes) {
  static auto log = core::module_logger("runtime");
  if (!windows_) {
    return;
  }
  if (std::string error; !watermarks_->receive(from, bytes, error)) {
    log->error("ignoring watermarks from worker {}: {}", from, error);
  }
}

bool PipelineRunner::advance_windows(std::int64_t now) {
  if (!windows_ || windows_held_) {
    return false;
  }
  timed_arrival_ = 0;  // a firing's outputs are not the last event's
  // A collection in the middle of a firing (its combine() and output() calls allocate) would hold the rest of its
  // outputs back: it runs once they left, at the next allocation after this.
  python::CollectorPause pause;
  struct Firing {
    bool& flag;
    explicit Firing(bool& advancing) : flag(advancing) { flag = true; }
    ~Firing() { flag = false; }
  } firing(advancing_windows_);  // outputs are counted for hand_over_while_firing_ meanwhile
  window_outputs_ = 0;
  for (WindowStage& window : windows_->stages) {
    std::optional<EventTime> allowed = watermarks_->combined(window.sources, now);
    bool moved = allowed && *allowed > window.watermark;
    if (moved) {
      window.watermark = *allowed;
    }
    if (moved || fire_due_) {
      watch_.enter(window.label, nullptr);  // output() and combine() are user code: the watchdog sees them
      window.op->advance(window.watermark, window);
      watch_.leave();
    }
    if (window.op->next_tick() <= now) {
      watch_.enter(window.label, nullptr);
      window.op->tick(now, window);
      watch_.leave();
    }
  }
  fire_due_ = false;
  return window_outputs_ > 0;
}

void PipelineRunner::tidy_windows() {
  if (!windows_) {
    return;
  }
  for (WindowStage& window : windows_->stages) {
    watch_.enter(window.label, nullptr);  // a refill calls combine()
    window.op->tidy(window);
    watch_.leave();
  }
}

std::int64_t PipelineRunner::next_window_wake(std::int64_t now) const {
  if (!windows_) {
    return graph::end_of_time;
  }
  constexpr std::int64_t at_least = ns_per_ms;  // never spin: a watermark that moves with the clock is polled per ms
  std::int64_t wake = watermarks_->next_change(now);
  if (wake != graph::end_of_time && wake <= now) {
    wake = graph::end_of_time;  // moves with the clock: covered by each stage's due time below
  }
  for (const WindowStage& window : windows_->stages) {
    wake = std::min(wake, window.op->next_tick());
    EventTime due = window.op->next_due();
    if (due != graph::end_of_time) {
      // If the watermark moves with the wall clock it reaches `due` after due - watermark; if it does not, waking
      // then costs one look.
      EventTime ahead = at_least;
      if (window.watermark != graph::start_of_time && __builtin_sub_overflow(due, window.watermark, &ahead)) {
        ahead = graph::end_of_time;  // far off (times near both ends): no overflow into a wake in the past
      }
      EventTime at = graph::end_of_time;
      if (!__builtin_add_overflow(now, std::max(ahead, at_least), &at)) {
        wake = std::min(wake, at);
      }
    }
  }
  return wake;
}

void PipelineRunner::windows_restored() {
  if (windows_) {
    windows_held_ = false;
    adopted_marks_.clear();
    for (WindowStage& window : windows_->stages) {
      window.op->restored();
    }
  }
}

void PipelineRunner::members_changed(std::size_t workers, const std::vector<bool>& departed) {
  if (windows_) {
    watermarks_->members_changed(workers, departed);
  }
}

void PipelineRunner::source_inputs_dealt_again(std::size_t source, bool reads_again) {
  if (!windows_) {
    return;
  }
  watermarks_->clock(source).deal_again(reads_again);
}

void PipelineRunner::finish_all_sources() {
  if (windows_) {
    watermarks_->finish_all();
  }
}

void PipelineRunner::peer_gone(std::size_t worker) {
  if (windows_) {
    watermarks_->peer_gone(worker);
  }
}

void PipelineRunner::hold_windows() {
  if (windows_) {
    windows_held_ = true;
  }
}

void PipelineRunner::adopt_window_watermark(std::size_t index, EventTime watermark) {
  if (windows_ && index < windows_->stages.size()) {
    adopted_marks_.resize(windows_->stages.size(), graph::start_of_time);
    adopted_marks_[index] = std::max(adopted_marks_[index], watermark);
  }
}

bool PipelineRunner::windows_moved(std::int64_t now) {
  if (!windows_) {
    return false;
  }
  windows_held_ = false;
  for (std::size_t i = 0; i < windows_->stages.size(); ++i) {
    WindowStage& window = windows_->stages[i];
    window.op->keys_moved();
    if (i < adopted_marks_.size()) {
      window.watermark = std::max(window.watermark, adopted_marks_[i]);
    }
  }
  adopted_marks_.clear();
  fire_due_ = true;  // keys_moved() forgot how far each operator had fired: each catches up with its stage now
  return advance_windows(now);
}

std::vector<EventTime> PipelineRunner::window_watermarks() const {
  std::vector<EventTime> marks;
  if (windows_) {
    for (const WindowStage& window : windows_->stages) {
      marks.push_back(window.watermark);
    }
  }
  return marks;
}

void PipelineRunner::restore_window_watermark(std::size_t index, EventTime watermark) {
  if (windows_ && index < windows_->stages.size()) {
    windows_->stages[index].watermark = std::max(windows_->stages[index].watermark, watermark);
  }
}

std::uint64_t PipelineRunner::late_events() const {
  std::uint64_t late = 0;
  if (windows_) {
    for (const WindowStage& window : windows_->stages) {
      late += window.op->late_events();
    }
  }
  return late;
}

void PipelineRunner::emit(const graph::Flow& flow, PyObject* data) {
  for (std::size_t sink_index : flow.sinks) {
    Sink& sink = sinks_[sink_index];
    std::int64_t began = 0;
    if (sink.meter != nullptr) {
      sink.meter->events.add();
      if (timed_arrival_ != 0) [[unlikely]] {
        began = steady_ns();
      }
    }
    watch_.enter(&sink.errors.label(), nullptr);
    PyObject* encoded = call1(sink.encode, data);
    watch_.leave();
    if (began != 0) [[unlikely]] {
      record_since(sink.meter, began);
    }
    if (encoded == nullptr) {
      sink.errors.report_exception();
      continue;
    }
    OutputBuffer& out = outputs_[sink_index];
    if (sink.records) [[unlikely]] {
      if (append_record(sink, out, encoded)) {
        ++outputs_written_;
        ++sink.events;
      }
    } else if (PyBytes_CheckExact(encoded)) {
      const char* bytes = PyBytes_AS_STRING(encoded);
      out.append(bytes, static_cast<std::size_t>(PyBytes_GET_SIZE(encoded)));
      ++outputs_written_;
      ++sink.events;
    } else if (PyByteArray_Check(encoded)) {
      const char* bytes = PyByteArray_AS_STRING(encoded);
      out.append(bytes, static_cast<std::size_t>(PyByteArray_GET_SIZE(encoded)));
      ++outputs_written_;
      ++sink.events;
    } else if (PyUnicode_Check(encoded)) {
      Py_ssize_t size = 0;
      const char* text = PyUnicode_AsUTF8AndSize(encoded, &size);
      if (text == nullptr) {
        sink.errors.report_exception();
      } else {
        out.append(text, static_cast<std::size_t>(size));
        ++outputs_written_;
        ++sink.events;
      }
    } else if (encoded != Py_None) {
      sink.errors.report_misuse(fmt::format("returned {}; expected bytes", Py_TYPE(encoded)->tp_name));
    }
    Py_DECREF(encoded);
  }
  if (measured_) {
    Source& source = sources_[flow.source];
    source.pipeline->events.add();  // an output of the pipeline, here
    source.worker->events.add();    // an event leaving this worker
    if (timed_arrival_ != 0) [[unlikely]] {
      timed_leaves(true);
    }
  }
}

namespace {

/// Bytes of a value, key or header value: bytes, bytearray or str (UTF-8). False (no exception set) otherwise.
bool bytes_of(PyObject* object, std::string_view& out) {
  if (PyBytes_Check(object)) {
    out = {PyBytes_AS_STRING(object), static_cast<std::size_t>(PyBytes_GET_SIZE(object))};
    return true;
  }
  if (PyByteArray_Check(object)) {
    out = {PyByteArray_AS_STRING(object), static_cast<std::size_t>(PyByteArray_GET_SIZE(object))};
    return true;
  }
  if (PyUnicode_Check(object)) {
    Py_ssize_t size = 0;
    const char* text = PyUnicode_AsUTF8AndSize(object, &size);
    if (text == nullptr) {
      PyErr_Clear();
      return false;
    }
    out = {text, static_cast<std::size_t>(size)};
    return true;
  }
  return false;
}

/// Headers as a list (or tuple) of (name, value) pairs, in RecordBatch's header encoding. Returns what is wrong, or
/// an empty string.
std::string encode_headers(PyObject* headers, std::string& out) {
  if (headers == Py_None) {
    return {};
  }
  python::PyRef items = python::PyRef::steal(PySequence_Fast(headers, ""));
  if (!items) {
    PyErr_Clear();
    return fmt::format("returned headers of type {}; expected a list of (name, value) pairs",
                       Py_TYPE(headers)->tp_name);
  }
  Py_ssize_t count = PySequence_Fast_GET_SIZE(items.get());
  for (Py_ssize_t i = 0; i < count; ++i) {
    PyObject* pair = PySequence_Fast_GET_ITEM(items.get(), i);
    std::string_view name;
    std::string_view value;
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 || !bytes_of(PyTuple_GET_ITEM(pair, 0), name) ||
        !bytes_of(PyTuple_GET_ITEM(pair, 1), value) || name.size() > 0xffff) {
      return "returned a header that is not a (name, value) pair of str or bytes";
    }
    io::append_header(out, name, value);
  }
  return {};
}

}  // namespace

// A record sink's encoder returns the value, or (value, key[, partition[, headers]]) (Wallaroo's Kafka encoders
// return (value, key, partition)); None writes nothing.
bool PipelineRunner::append_record(Sink& sink, OutputBuffer& out, PyObject* encoded) {
  if (encoded == Py_None) {
    return false;
  }
  std::string_view value;
  if (bytes_of(encoded, value)) {
    out.append_record(value, nullptr, io::RecordBatch::any_partition, {}, event_time_ms_);
    return true;
  }
  Py_ssize_t size = PyTuple_Check(encoded) ? PyTuple_GET_SIZE(encoded) : 0;
  if (size < 2 || size > 4) {
    sink.errors.report_misuse(fmt::format(
        "returned {}; expected bytes, or a tuple (value, key[, partition[, headers]])", Py_TYPE(encoded)->tp_name));
    return false;
  }
  if (!bytes_of(PyTuple_GET_ITEM(encoded, 0), value)) {
    sink.errors.report_misuse("returned a tuple whose value is not bytes or str");
    return false;
  }
  PyObject* key_object = PyTuple_GET_ITEM(encoded, 1);
  std::string_view key;
  if (key_object != Py_None && !bytes_of(key_object, key)) {
    sink.errors.report_misuse("returned a tuple whose key is not bytes, str or None");
    return false;
  }
  std::int32_t partition = io::RecordBatch::any_partition;
  if (size >= 3 && PyTuple_GET_ITEM(encoded, 2) != Py_None) {
    long number = PyLong_Check(PyTuple_GET_ITEM(encoded, 2)) ? PyLong_AsLong(PyTuple_GET_ITEM(encoded, 2)) : -1;
    if (number < 0 || number > 0x7fffffff) {
      PyErr_Clear();
      sink.errors.report_misuse("returned a tuple whose partition is not a partition number or None");
      return false;
    }
    partition = static_cast<std::int32_t>(number);
  }
  std::string headers;
  if (size == 4) {
    if (std::string wrong = encode_headers(PyTuple_GET_ITEM(encoded, 3), headers); !wrong.empty()) {
      sink.errors.report_misuse(wrong);
      return false;
    }
  }
  out.append_record(value, key_object != Py_None ? &key : nullptr, partition, headers, event_time_ms_);
  return true;
}

}  // namespace roo::runtime
