#pragma once

#include "roo/python/py_ref.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace roo::graph {

using python::PyRef;

/// Lives on the Python executor (holds Python objects).
struct SourcePlan {
  enum class Kind { tcp, generator };
  Kind kind = Kind::tcp;
  std::string name;
  // tcp
  std::string host;
  std::uint16_t port = 0;
  bool valid = true;
  std::size_t max_size = 16384;
  std::size_t parallelism = 10;
  std::size_t header_length = 4;
  std::string length_fmt = ">I";
  PyRef decode;
  // generator
  PyRef initial_value;
  PyRef apply;
};

struct StagePlan {
  enum class Kind { computation, key_by, collect, state };
  Kind kind = Kind::computation;
  std::string name;
  PyRef fn;
  bool multi = false;
  bool int_as_chr = false;       ///< key_by: Wallaroo's legacy int -> chr() key conversion
  PyRef constant_key;            ///< collect
  std::size_t state_table = 0;   ///< state: index into Plan::state_tables
  bool returns_persist = false;  ///< state: G1 computations return (output, persist)
};

/// One state table: the per-key state of every stage sharing one state id (docs/description.md). The state objects
/// themselves live in the runtime (state::KeyedStateTable), not in the plan.
struct StateTablePlan {
  std::string name;  ///< the state id: what the external channel's state queries call this table
  PyRef factory;     ///< called with no arguments for a key's first state
};

struct SinkPlan {
  std::string name;
  std::string host;
  std::uint16_t port = 0;
  PyRef encode;
};

/// The path of one source's events: its stages in order, then every sink listed.
struct Flow {
  std::size_t source = 0;
  std::vector<std::size_t> stages;
  std::vector<std::size_t> sinks;
};

/// What one worker runs, read from the application's description (docs/description.md).
struct Plan {
  std::string app_name;
  std::vector<SourcePlan> sources;
  std::vector<StagePlan> stages;
  std::vector<StateTablePlan> state_tables;
  std::vector<SinkPlan> sinks;
  std::vector<Flow> flows;  ///< one per source, same index
  PyRef serialize;          ///< the app's own serialize(obj) -> bytes, if it defines the pair (else null)
  PyRef deserialize;

  /// The same on every worker running the same application: compared when workers join a cluster.
  [[nodiscard]] std::string fingerprint() const;
};

/// Reads the description dict returned by wallaroo.description.describe. Throws core::UsageError naming the
/// offending entry when the description is inconsistent. Call with the GIL held.
[[nodiscard]] Plan read_plan(PyObject* description);

}  // namespace roo::graph
