#include "roo/core/error.hpp"
#include "roo/graph/plan.hpp"

#include <pybind11/embed.h>
#include <pybind11/stl.h>

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

/// wallaroo.experimental's connector sources and sinks are described but not run yet.
std::string connectors_not_yet(const char* what) {
  return std::string("connector ") + what + " are not supported yet (see docs/running.md#connectors)";
}

SourcePlan read_source(const py::dict& entry) {
  SourcePlan source;
  source.name = text(entry, "name");
  std::string kind = text(entry, "kind");
  if (kind == "gen") {
    source.kind = SourcePlan::Kind::generator;
    source.initial_value = ref(entry["initial_value"]);
    source.apply = ref(entry["apply"]);
    return source;
  }
  if (kind == "connector") {
    throw core::UsageError("start source '" + source.name + "': " + connectors_not_yet("sources"));
  }
  if (kind != "tcp") {
    throw core::UsageError("run source '" + source.name + "': source kind '" + kind + "' is not supported yet");
  }
  source.host = text(entry, "host");
  source.port = port_of(entry, "source '" + source.name + "'");
  source.valid = entry["valid"].cast<bool>();
  source.max_size = entry["max_size"].cast<std::size_t>();
  source.parallelism = entry["parallelism"].cast<std::size_t>();
  source.header_length = entry["header_length"].cast<std::size_t>();
  source.length_fmt = text(entry, "length_fmt");
  source.decode = ref(entry["decode"]);
  return source;
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
    }
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

}  // namespace

std::string Plan::fingerprint() const {
  std::string text = app_name;
  for (const auto& source : sources) {
    text += "|source:" + source.name;
  }
  for (const auto& stage : stages) {
    text += "|stage:" + stage.name;
  }
  for (const auto& sink : sinks) {
    text += "|sink:" + sink.name;
  }
  return text;
}

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
      py::dict sink = entry.cast<py::dict>();
      std::string name = text(sink, "name");
      if (text(sink, "kind") == "connector") {
        throw core::UsageError("start sink '" + name + "': " + connectors_not_yet("sinks"));
      }
      if (text(sink, "kind") != "tcp") {
        throw core::UsageError("run sink '" + name + "': sink kind '" + text(sink, "kind") + "' is not supported yet");
      }
      plan.sinks.push_back(
          SinkPlan{name, text(sink, "host"), port_of(sink, "sink '" + name + "'"), ref(sink["encode"])});
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
    return plan;
  } catch (const py::error_already_set& e) {
    throw core::UsageError(std::string("read the application description: ") + e.what());
  } catch (const py::cast_error& e) {
    throw core::UsageError(std::string("read the application description: ") + e.what());
  }
}

}  // namespace roo::graph
