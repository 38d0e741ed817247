#pragma once

#include <Python.h>

#include <string>
#include <string_view>

namespace roo::state {

/// Keys and state values made only of Python's built-in data types — exactly None, bool, int, float, complex, str,
/// bytes, and tuples, lists, dicts, sets and frozensets of them, nested at most max_depth deep — are written through
/// marshal rather than pickle wherever state leaves the executor (checkpoints, rescale hand-overs). Reading one back
/// costs a third of pickle's or less (no Python call, no unpickler per value): with a million keys, most of a
/// recovery's or a migration's time was pickle.loads.
///
/// Only exact types fit: marshal writes other bytes-like objects (bytearray, array) as bytes and refuses subclasses,
/// so a value that does not fit keeps going through pickle, unchanged. marshal's version 4 keeps objects shared
/// inside one value shared when read back, as pickle does; a flat value (a scalar, or one container of scalars)
/// shares nothing that matters and is written with version 2, which costs less (no table of the objects seen).
///
/// The bytes start with a tag byte that neither pickle (protocol 2 and later: 0x80) nor PlainObjectCodec (0x01)
/// starts with, so a reader tells them apart and older checkpoints stay readable. Call with the GIL held.
class MarshalCodec {
 public:
  static constexpr int max_depth = 32;

  /// Whether `value` is made only of the types above (cheap for a str or an int: one type check).
  [[nodiscard]] static bool fits(PyObject* value) { return fits(value, 0); }
  /// Appends the tag and `value`'s marshal bytes to `out`; false with a Python error set (out unchanged).
  [[nodiscard]] static bool write(PyObject* value, std::string& out);
  /// Whether `bytes` were made by write().
  [[nodiscard]] static bool made(std::string_view bytes) { return !bytes.empty() && bytes.front() == tag; }
  /// The value `bytes` (made by write()) describe: a new reference, or null with a Python error set.
  [[nodiscard]] static PyObject* read(std::string_view bytes);

 private:
  static constexpr char tag = '\x02';
  static bool fits(PyObject* value, int depth);
};

}  // namespace roo::state
