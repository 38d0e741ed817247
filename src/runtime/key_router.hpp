#pragma once

#include "roo/cluster/cluster.hpp"
#include "roo/state/key_group.hpp"

#include <Python.h>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace roo::runtime {

/// Where this worker sits in the cluster, as far as routing events needs to know.
struct Routing {
  std::size_t self = 0;
  std::size_t workers = 1;
  std::uint32_t key_groups = 1;
  /// The owner of each key group (key_groups entries); empty: dealt round-robin over the workers.
  std::vector<std::uint16_t> owners = {};

  /// The membership's: its owners table as it stands (a joiner's is explicit, not round-robin).
  [[nodiscard]] static Routing of(const cluster::Membership& membership);
};

/// Maps an event's key to its key group (a stable hash of the key's bytes, the same in every process: Python's
/// own hash() is salted per process) and the group to the worker that owns it, by a table (one entry per key group)
/// that a rescale replaces. Lives on the Python executor.
class KeyRouter {
 public:
  /// Throws core::Error when `routing`'s owners table has not one entry per key group, or names a worker that is not
  /// one of `routing.workers`.
  explicit KeyRouter(Routing routing) { reroute(std::move(routing)); }

  /// From now on, route by `routing` (a worker joined, or a rescale moved key groups). Throws as the constructor.
  void reroute(Routing routing);

  /// Whether some key group belongs to another worker (else every event stays here, and routing costs nothing).
  [[nodiscard]] bool is_distributed() const { return distributed_; }
  [[nodiscard]] std::size_t self() const { return self_; }
  [[nodiscard]] std::size_t workers() const { return workers_; }
  [[nodiscard]] std::uint32_t key_groups() const { return static_cast<std::uint32_t>(owners_.size()); }
  /// The owner of every key group, by key group.
  [[nodiscard]] const std::vector<std::uint16_t>& owners() const { return owners_; }

  /// The key group of `key` (str and bytes by their bytes, anything else by str(key)); -1 with a Python
  /// exception set when the key cannot be turned into bytes.
  [[nodiscard]] std::int64_t key_group(PyObject* key) const { return state::key_group_of(key, key_groups()); }

  /// The per-event lookup: one vector index.
  [[nodiscard]] std::size_t owner(std::uint32_t key_group) const { return owners_[key_group]; }

 private:
  std::size_t self_ = 0;
  std::size_t workers_ = 1;
  std::vector<std::uint16_t> owners_;
  bool distributed_ = false;
};

}  // namespace roo::runtime
