#pragma once

#include <Python.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace roo::state {

/// Keys and state values made only of Python's built-in data types — exactly None, bool, int, float, complex, str,
/// bytes, and tuples, lists, dicts, sets and frozensets of them, nested at most max_depth deep — are written through
/// marshal rather than pickle wherever state leaves the executor (checkpoints, rescale hand-overs). Reading one back
/// costs a third of pickle's or less (no Python call, no unpickler per value): with a million keys, most of a
/// recovery's or a migration's time was pickle.loads.
///
/// Only exact types fit: marshal writes other bytes-like objects (bytearray, array, bytes subclasses) as bytes and
/// refuses other subclasses, so a value that does not fit keeps going through pickle, unchanged. So does a value
/// larger than max_nodes, and one marshal cannot write after all (write() says so: a set of complex NaNs, a str over
/// 2 GiB). marshal's version 4 keeps objects shared inside one value shared when read back, as pickle does; a flat
/// value (a scalar, or one container of scalars) shares nothing that matters and is written with version 2, which
/// costs less (no table of the objects seen). Keys are always written with version 2: version 4's bytes for one key
/// vary with its reference count and interning, and a checkpoint chain's merge finds a key's newest record by its
/// bytes.
///
/// The bytes start with a tag byte (0x02; 0x03 for a str key written as its UTF-8) that neither pickle (protocol 2
/// and later: 0x80) nor PlainObjectCodec (0x01) starts with, so a reader tells them apart and older checkpoints stay
/// readable. Call with the GIL held.
class MarshalCodec {
 public:
  static constexpr int max_depth = 32;
  /// Objects walked at most by fits(): a value shared many times over inside itself would cost 2^depth.
  static constexpr std::size_t max_nodes = 100'000;

  /// Whether `value` is made only of the types above (cheap for a str or an int: one type check).
  [[nodiscard]] static bool fits(PyObject* value) {
    std::size_t budget = max_nodes;
    return fits(value, 0, budget);
  }
  /// Appends the tag and the marshal bytes of `value` (a state, or a plain object's attributes; it fits()) to
  /// `out`; false when marshal cannot write it after all (out unchanged, no Python error left: use pickle).
  [[nodiscard]] static bool write(PyObject* value, std::string& out);
  /// The same for a key: the same key always gives the same bytes (a str: its UTF-8 under a tag of its own).
  [[nodiscard]] static bool write_key(PyObject* key, std::string& out);
  /// Whether `bytes` were made by write().
  [[nodiscard]] static bool made(std::string_view bytes) {
    return !bytes.empty() && (bytes.front() == tag || bytes.front() == text_tag);
  }
  /// The value `bytes` (made by write()) describe: a new reference, or null with a Python error set.
  [[nodiscard]] static PyObject* read(std::string_view bytes);
  /// For the bytes write_key() made of a str whose UTF-8 is valid: that UTF-8 (a view into `bytes`), read without
  /// Python. Otherwise nothing (another type, or a str with a lone surrogate).
  [[nodiscard]] static std::optional<std::string_view> str_key_utf8(std::string_view bytes);

 private:
  static constexpr char tag = '\x02';
  static constexpr char text_tag = '\x03';  ///< a str key as its UTF-8
  static bool fits(PyObject* value, int depth, std::size_t& budget);
  static bool write(PyObject* value, int version, std::string& out);
};

}  // namespace roo::state
