#include "roo/core/error.hpp"
#include "roo/graph/plan.hpp"

#include <pybind11/embed.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <map>

namespace py = pybind11;

namespace roo::graph {
namespace {

PyRef ref(const py::handle& object) { return PyRef::borrow(object.ptr()); }

std::string text(const py::dict& entry, const char* key) { return py::str(entry[key]).cast<std::string>(); }

std::uint16_t port_of(const py::dict& entry, const std::string& what) {
  long port = py::int_(entry["port"]).cast<long>();
  if (port < 0 || port > 65535) {
    throw core::UsageError("use port " + std::to_string(port) + " for " + what + ": ports run from 0 to 65535");
  }
  return static_cast<std::uint16_t>(port);
}

/// "read the application description: <what>: <cause>" — a description `describe` would never produce.
core::UsageError inconsistent(const std::string& what, const std::string& cause) {
  return core::UsageError("read the application description: " + what + ": " + cause);
}

KafkaLogLevel log_level_of(const py::dict& entry, const std::string& what) {
  std::string level = text(entry, "log_level");
  if (level == "Fine") {
    return KafkaLogLevel::fine;
  }
  if (level == "Info") {
    return KafkaLogLevel::info;
  }
  if (level == "Warn") {
    return KafkaLogLevel::warn;
  }
  if (level == "Error") {
    return KafkaLogLevel::error;
  }
  throw inconsistent(what, "log_level '" + level + "' is not Fine, Info, Warn or Error");
}

KafkaProperties properties_of(const py::dict& entry, const std::string& what) {
  py::object given = entry["properties"];
  if (!py::isinstance<py::dict>(given)) {
    throw inconsistent(what, "properties must be a dict");
  }
  KafkaProperties properties;
  for (auto [key, value] : py::reinterpret_borrow<py::dict>(given)) {
    properties.emplace_back(py::str(key).cast<std::string>(), py::str(value).cast<std::string>());
  }
  return properties;
}

std::string brokers_of(const py::dict& entry, const std::string& what) {
  std::string brokers = text(entry, "brokers");
  if (brokers.empty()) {
    throw inconsistent(what, "no Kafka brokers");
  }
  return brokers;
}

/// A count from the description: an int from `lowest` up.
std::size_t count_of(const py::dict& entry, const char* key, long lowest, const std::string& what) {
  long value = py::int_(entry[key]).cast<long>();
  if (value < lowest) {
    throw inconsistent(what, std::string(key) + " " + std::to_string(value) + " is below " + std::to_string(lowest));
  }
  return static_cast<std::size_t>(value);
}

KafkaSourceSettings read_kafka_source(const py::dict& entry, const std::string& what) {
  KafkaSourceSettings kafka;
  for (auto topic : entry["topics"]) {
    kafka.topics.push_back(py::str(topic).cast<std::string>());
  }
  if (kafka.topics.empty()) {
    throw inconsistent(what, "a Kafka source needs at least one topic");
  }
  kafka.brokers = brokers_of(entry, what);
  if (!entry["group"].is_none()) {
    kafka.group = text(entry, "group");
  }
  std::string start = text(entry, "start");
  if (start != "earliest" && start != "latest") {
    throw inconsistent(what, "start '" + start + "' is not earliest or latest");
  }
  kafka.start = start == "earliest" ? KafkaSourceSettings::Start::earliest : KafkaSourceSettings::Start::latest;
  kafka.properties = properties_of(entry, what);
  kafka.log_level = log_level_of(entry, what);
  kafka.decode_takes_key = entry["decode_takes_key"].cast<bool>();
  return kafka;
}

/// A NATS entry's non-empty text `key` ("server_url", "subject").
std::string nats_text(const py::dict& entry, const char* key, const std::string& what) {
  if (!entry.contains(key) || entry[key].is_none()) {
    throw inconsistent(what, std::string("no NATS '") + key + "' given");
  }
  std::string value = text(entry, key);
  if (value.empty()) {
    throw inconsistent(what, std::string("'") + key + "' is empty");
  }
  return value;
}

NatsSourceSettings read_nats_source(const py::dict& entry, const std::string& what) {
  NatsSourceSettings nats;
  nats.server_url = nats_text(entry, "server_url", what);
  nats.subject = nats_text(entry, "subject", what);
  if (entry.contains("queue_group") && !entry["queue_group"].is_none()) {
    nats.queue_group = text(entry, "queue_group");
  }
  return nats;
}

ConnectorSourceSettings read_connector_source(const py::dict& entry, const std::string& what) {
  ConnectorSourceSettings connector;
  connector.host = text(entry, "host");
  connector.port = port_of(entry, what);
  connector.cookie = text(entry, "cookie");
  std::size_t max_credits = count_of(entry, "max_credits", 1, what);
  std::size_t refill_credits = count_of(entry, "refill_credits", 0, what);
  if (max_credits > 0xffffffffU) {
    throw inconsistent(what, "max_credits " + std::to_string(max_credits) + " is over 4294967295");
  }
  connector.max_credits = static_cast<std::uint32_t>(max_credits);
  connector.refill_credits = static_cast<std::uint32_t>(refill_credits);
  return connector;
}

TcpSourceSettings read_tcp_source(const py::dict& entry, const std::string& what) {
  TcpSourceSettings tcp;
  tcp.host = text(entry, "host");
  tcp.port = port_of(entry, what);
  tcp.valid = entry["valid"].cast<bool>();
  tcp.max_size = entry["max_size"].cast<std::size_t>();
  tcp.parallelism = entry["parallelism"].cast<std::size_t>();
  tcp.header_length = entry["header_length"].cast<std::size_t>();
  tcp.length_fmt = text(entry, "length_fmt");
  return tcp;
}

HttpSourceSettings read_http_source(const py::dict& entry, const std::string& what) {
  for (const char* key : {"host", "port", "ignore_response", "max_body_bytes"}) {
    if (!entry.contains(key)) {
      throw inconsistent(what, std::string("an http source needs '") + key + "'");
    }
  }
  HttpSourceSettings http;
  http.host = text(entry, "host");
  http.port = port_of(entry, what);
  if (!py::isinstance<py::bool_>(entry["ignore_response"])) {
    throw inconsistent(what, "ignore_response must be a bool");
  }
  http.ignore_response = entry["ignore_response"].cast<bool>();
  http.max_body_bytes = count_of(entry, "max_body_bytes", 1, what);
  return http;
}

std::int64_t nanoseconds(const py::dict& entry, const char* key, std::int64_t lowest, const std::string& what) {
  auto value = entry[key].cast<std::int64_t>();
  if (value < lowest) {
    throw inconsistent(what, std::string(key) + " " + std::to_string(value) + " is below " + std::to_string(lowest));
  }
  return value;
}

WindowSpec read_window(const py::dict& entry, const std::string& what) {
  WindowSpec spec;
  std::string kind = text(entry, "window");
  std::string policy = text(entry, "late_data_policy");
  if (policy == "drop") {
    spec.late_policy = LatePolicy::drop;
  } else if (policy == "fire-per-message") {
    spec.late_policy = LatePolicy::fire_per_message;
  } else if (policy == "place-in-oldest-window") {
    spec.late_policy = LatePolicy::place_in_oldest_window;
  } else {
    throw inconsistent(what, "late data policy '" + policy + "' is unknown");
  }
  if (kind == "range") {
    spec.kind = WindowSpec::Kind::range;
    spec.range = nanoseconds(entry, "range", 1, what);
    spec.slide = nanoseconds(entry, "slide", 1, what);
    spec.delay = nanoseconds(entry, "delay", 0, what);
    if (spec.slide > spec.range) {
      throw inconsistent(what, "slide " + std::to_string(spec.slide) + " exceeds range " + std::to_string(spec.range));
    }
  } else if (kind == "count") {
    spec.kind = WindowSpec::Kind::count;
    spec.count = static_cast<std::uint64_t>(nanoseconds(entry, "count", 1, what));
  } else if (kind == "session") {
    spec.kind = WindowSpec::Kind::session;
    spec.gap = nanoseconds(entry, "gap", 1, what);
    spec.delay = nanoseconds(entry, "delay", 0, what);
  } else {
    throw inconsistent(what, "window kind '" + kind + "' is not range, count or session");
  }
  return spec;
}

/// A source's `with_event_time` (absent or None: ingest time, or a Kafka message's own time).
void read_event_time(const py::dict& entry, SourcePlan& source, const std::string& what) {
  if (!entry.contains("event_time") || entry["event_time"].is_none()) {
    return;
  }
  py::dict event_time = entry["event_time"].cast<py::dict>();
  if (!event_time["fn"].is_none()) {
    source.event_time = ref(event_time["fn"]);
  }
  source.event_time_spec.idleness_ns = nanoseconds(event_time, "idleness", 1, what);
  source.event_time_spec.max_ahead_ns =
      event_time["max_ahead"].is_none() ? 0 : nanoseconds(event_time, "max_ahead", 1, what);
}

SourcePlan read_source(const py::dict& entry) {
  SourcePlan source;
  source.name = text(entry, "name");
  std::string what = "source '" + source.name + "'";
  std::string kind = text(entry, "kind");
  if (kind == "gen") {
    source.settings = GeneratorSourceSettings{ref(entry["initial_value"]), ref(entry["apply"])};
    read_event_time(entry, source, what);
    return source;
  }
  if (kind == "tcp") {
    source.settings = read_tcp_source(entry, what);
  } else if (kind == "kafka") {
    source.settings = read_kafka_source(entry, what);
  } else if (kind == "nats") {
    source.settings = read_nats_source(entry, what);
  } else if (kind == "http") {
    source.settings = read_http_source(entry, what);
  } else if (kind == "connector") {
    source.settings = read_connector_source(entry, what);
  } else {
    throw core::UsageError("run " + what + ": source kind '" + kind + "' is not supported yet");
  }
  source.decode = ref(entry["decode"]);
  read_event_time(entry, source, what);
  return source;
}

KafkaSinkSettings read_kafka_sink(const py::dict& entry, const std::string& what) {
  KafkaSinkSettings kafka;
  kafka.topic = text(entry, "topic");
  if (kafka.topic.empty()) {
    throw inconsistent(what, "a Kafka sink needs a topic");
  }
  kafka.brokers = brokers_of(entry, what);
  kafka.properties = properties_of(entry, what);
  kafka.max_message_size = count_of(entry, "max_message_size", 1, what);
  kafka.linger = std::chrono::milliseconds(count_of(entry, "max_produce_buffer_ms", 0, what));
  kafka.log_level = log_level_of(entry, what);
  return kafka;
}

/// The http source an `http_reply` sink answers for, by name: it must be one of the sources read before.
HttpReplySinkSettings read_http_reply_sink(const py::dict& entry, const std::vector<SourcePlan>& sources,
                                           const std::string& what) {
  if (!entry.contains("source") || !py::isinstance<py::str>(entry["source"])) {
    throw inconsistent(what, "an http_reply sink needs 'source', the name of the http source it answers");
  }
  std::string name = text(entry, "source");
  for (std::size_t i = 0; i < sources.size(); ++i) {
    if (sources[i].name != name) {
      continue;
    }
    if (sources[i].kind() != SourcePlan::Kind::http) {
      throw core::UsageError("run " + what + ": it answers source '" + name +
                             "', which is not an http source (HttpReplySinkConfig needs an HttpSourceConfig)");
    }
    return HttpReplySinkSettings{i, name};
  }
  throw core::UsageError("run " + what + ": it answers source '" + name + "', but the application has no source of "
                         "that name");
}

SinkPlan read_sink(const py::dict& entry, const std::vector<SourcePlan>& sources) {
  SinkPlan sink;
  sink.name = text(entry, "name");
  std::string what = "sink '" + sink.name + "'";
  std::string kind = text(entry, "kind");
  if (kind == "tcp") {
    sink.settings = TcpSinkSettings{text(entry, "host"), port_of(entry, what)};
  } else if (kind == "connector") {
    sink.settings = ConnectorSinkSettings{text(entry, "host"), port_of(entry, what), text(entry, "cookie")};
  } else if (kind == "kafka") {
    sink.settings = read_kafka_sink(entry, what);
  } else if (kind == "nats") {
    sink.settings = NatsSinkSettings{nats_text(entry, "server_url", what), nats_text(entry, "subject", what)};
  } else if (kind == "http_reply") {
    sink.settings = read_http_reply_sink(entry, sources, what);
  } else if (kind == "discard") {
    sink.settings = DiscardSinkSettings{};
  } else {
    throw core::UsageError("run " + what + ": sink kind '" + kind + "' is not supported yet");
  }
  sink.encode = ref(entry["encode"]);
  return sink;
}

StagePlan read_stage(const py::dict& entry, std::vector<StateTablePlan>& tables,
                     std::map<std::string, std::size_t>& by_id) {
  StagePlan stage;
  stage.name = text(entry, "name");
  std::string kind = text(entry, "kind");
  if (kind == "computation") {
    stage.kind = StagePlan::Kind::computation;
    stage.fn = ref(entry["fn"]);
    stage.multi = entry["multi"].cast<bool>();
  } else if (kind == "key_by") {
    stage.kind = StagePlan::Kind::key_by;
    stage.fn = ref(entry["fn"]);
    stage.int_as_chr = entry.contains("int_as_chr") && entry["int_as_chr"].cast<bool>();
  } else if (kind == "collect") {
    stage.kind = StagePlan::Kind::collect;
    stage.constant_key = ref(entry["key"]);
  } else if (kind == "state") {
    stage.kind = StagePlan::Kind::state;
    stage.fn = ref(entry["fn"]);
    stage.multi = entry["multi"].cast<bool>();
    stage.returns_persist = entry["returns_persist"].cast<bool>();
    // Stages share a table only when they share a state id: G1 stages naming one partition (G2 stages never do).
    std::string state_id = text(entry, "state_id");
    auto [it, inserted] = by_id.try_emplace(state_id, tables.size());
    if (inserted) {
      tables.push_back(StateTablePlan{state_id, ref(entry["state_factory"])});
    } else if (tables[it->second].window) {
      throw inconsistent("stage '" + stage.name + "'", "state id '" + state_id + "' is a window stage's");
    }
    stage.state_table = it->second;
  } else if (kind == "window") {
    stage.kind = StagePlan::Kind::window;
    stage.fn = ref(entry["aggregation"]);
    stage.window = read_window(entry, "stage '" + stage.name + "'");
    // Each window stage keeps its own per-key windows, in a table of its own (a checkpoint's unit of keyed state).
    std::string state_id = text(entry, "state_id");
    auto [it, inserted] = by_id.try_emplace(state_id, tables.size());
    if (!inserted) {
      throw inconsistent("stage '" + stage.name + "'", "window state id '" + state_id + "' is taken");
    }
    tables.push_back(StateTablePlan{state_id, ref(py::module_::import("builtins").attr("dict")), /*window=*/true});
    stage.state_table = it->second;
  } else {
    throw core::UsageError("run stage '" + stage.name + "': stage kind '" + kind + "' is not supported yet");
  }
  return stage;
}

std::vector<std::size_t> indices(const py::handle& list, std::size_t limit, const std::string& what) {
  std::vector<std::size_t> out;
  for (auto item : list) {
    auto index = item.cast<std::size_t>();
    if (index >= limit) {
      throw core::UsageError("read the application description: " + what + " index " + std::to_string(index) +
                             " is out of range");
    }
    out.push_back(index);
  }
  return out;
}

/// Every http source that answers with the pipeline's output has a reply sink in its flow, and every reply sink is in
/// its source's flow: otherwise requests would wait for replies that never come.
void check_http_replies(const Plan& plan) {
  for (std::size_t i = 0; i < plan.sources.size(); ++i) {
    const auto* http = std::get_if<HttpSourceSettings>(&plan.sources[i].settings);
    if (http == nullptr || http->ignore_response) {
      continue;
    }
    bool answered = std::any_of(plan.flows[i].sinks.begin(), plan.flows[i].sinks.end(), [&](std::size_t sink) {
      const auto* reply = std::get_if<HttpReplySinkSettings>(&plan.sinks[sink].settings);
      return reply != nullptr && reply->source == i;
    });
    if (!answered) {
      throw core::UsageError("run source '" + plan.sources[i].name + "': nothing answers its requests; end its "
                             "pipeline with to_sink(HttpReplySinkConfig('" + plan.sources[i].name +
                             "', encoder)), or pass ignore_response=True");
    }
  }
  for (const auto& sink : plan.sinks) {
    const auto* reply = std::get_if<HttpReplySinkSettings>(&sink.settings);
    if (reply == nullptr) {
      continue;
    }
    const auto& sinks = plan.flows[reply->source].sinks;
    if (std::none_of(sinks.begin(), sinks.end(),
                     [&](std::size_t index) { return &plan.sinks[index] == &sink; })) {
      throw core::UsageError("run sink '" + sink.name + "': it answers source '" + reply->source_name +
                             "', but that source's pipeline does not end in it");
    }
  }
}

}  // namespace

Plan read_plan(PyObject* description) {
  try {
    py::dict root = py::reinterpret_borrow<py::dict>(description);
    Plan plan;
    plan.app_name = text(root, "app_name");
    for (auto entry : root["sources"]) {
      plan.sources.push_back(read_source(entry.cast<py::dict>()));
    }
    std::map<std::string, std::size_t> tables_by_id;
    for (auto entry : root["stages"]) {
      plan.stages.push_back(read_stage(entry.cast<py::dict>(), plan.state_tables, tables_by_id));
    }
    for (auto entry : root["sinks"]) {
      plan.sinks.push_back(read_sink(entry.cast<py::dict>(), plan.sources));
    }
    for (auto entry : root["flows"]) {
      py::dict flow = entry.cast<py::dict>();
      Flow parsed;
      parsed.source = flow["source"].cast<std::size_t>();
      parsed.stages = indices(flow["stages"], plan.stages.size(), "stage");
      parsed.sinks = indices(flow["sinks"], plan.sinks.size(), "sink");
      plan.flows.push_back(std::move(parsed));
    }
    if (plan.flows.size() != plan.sources.size()) {
      throw core::UsageError("read the application description: " + std::to_string(plan.sources.size()) +
                             " sources but " + std::to_string(plan.flows.size()) + " flows");
    }
    if (root.contains("serialize") && !root["serialize"].is_none() && root.contains("deserialize") &&
        !root["deserialize"].is_none()) {
      plan.serialize = ref(root["serialize"]);
      plan.deserialize = ref(root["deserialize"]);
    }
    for (std::size_t i = 0; i < plan.flows.size(); ++i) {
      if (plan.flows[i].source != i) {
        throw core::UsageError("read the application description: flow " + std::to_string(i) +
                               " does not belong to source " + std::to_string(i));
      }
    }
    check_http_replies(plan);
    return plan;
  } catch (const py::error_already_set& e) {
    throw core::UsageError(std::string("read the application description: ") + e.what());
  } catch (const py::cast_error& e) {
    throw core::UsageError(std::string("read the application description: ") + e.what());
  }
}

}  // namespace roo::graph
