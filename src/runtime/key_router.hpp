#pragma once

#include <Python.h>

#include "roo/state/key_group.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace roo::runtime {

/// Where this worker sits in the cluster, as far as routing events needs to know.
struct Routing {
  std::size_t self = 0;
  std::size_t workers = 1;
  std::uint32_t key_groups = 1;
};

/// Maps an event's key to its key group (a stable hash of the key's bytes, the same in every process: Python's
/// own hash() is salted per process) and the group to the worker that owns it. Lives on the Python executor.
class KeyRouter {
 public:
  explicit KeyRouter(Routing routing) : routing_(routing) {}

  [[nodiscard]] bool is_distributed() const { return routing_.workers > 1; }
  [[nodiscard]] std::size_t self() const { return routing_.self; }
  [[nodiscard]] std::size_t workers() const { return routing_.workers; }
  [[nodiscard]] std::uint32_t key_groups() const { return routing_.key_groups; }

  /// The key group of `key` (str and bytes by their bytes, anything else by str(key)); -1 with a Python
  /// exception set when the key cannot be turned into bytes.
  [[nodiscard]] std::int64_t key_group(PyObject* key) const { return state::key_group_of(key, routing_.key_groups); }

  [[nodiscard]] std::size_t owner(std::uint32_t key_group) const { return key_group % routing_.workers; }

 private:
  Routing routing_;
};

}  // namespace roo::runtime
