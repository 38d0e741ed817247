#pragma once

#include <Python.h>

#include <cstdint>
#include <string_view>

namespace roo::state {

/// The number of key groups a state table is split into when the cluster does not say otherwise. Checkpoints
/// record each key's group under this count, so that state can later move between workers group by group.
constexpr std::uint32_t default_key_groups = 256;

/// 64-bit FNV-1a: small, stable across processes and builds (Python's own hash() is salted per process).
[[nodiscard]] std::uint64_t stable_hash(std::string_view bytes);

/// The key group of `key` among `key_groups` (str and bytes by their bytes, anything else by str(key)); -1 with a
/// Python exception set when the key cannot be turned into bytes. Call with the GIL held.
[[nodiscard]] std::int64_t key_group_of(PyObject* key, std::uint32_t key_groups);

}  // namespace roo::state
