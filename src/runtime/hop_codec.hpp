#pragma once

#include "roo/python/py_ref.hpp"
#include "roo/python/user_errors.hpp"

#include <Python.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace roo::runtime {

/// How Python objects cross to another worker: pickle (one dumps per batch, of a list), or the application's own
/// serialize/deserialize pair (one call per object, each framed `u32 BE length | bytes`, as Wallaroo did).
struct ObjectCodec {
  python::PyRef dumps;  ///< pickle.dumps, or the app's serialize
  python::PyRef loads;  ///< pickle.loads, or the app's deserialize
  bool per_object = false;
};

/// Events on their way to one peer, gathered during one executor batch and sent as one data-channel batch.
/// Wire layout (all integers big-endian):
///   u32 count | count × entry | u32 blob_length | blob
///   entry = u16 flow | u16 position | u8 data_kind (0 raw frame, 1 object; | 0x80 timed) | u8 key_kind (0 str,
///           1 bytes, 2 pickled) | u32 key_length | key | i64 event_time (ns) | (timed only) i64 ingest (wall ns) |
///           (raw only) u32 payload_length | payload
///   blob  = the objects of the object entries, in order: a pickled list, or (per_object) u32-framed app bytes.
/// A raw entry carries the source frame itself: the receiver decodes it again instead of unpickling an object,
/// which is several times cheaper (used when no stage changed the event since its decoder).
/// Lives on the Python executor.
class OutboundHops {
 public:
  OutboundHops();

  /// Queue one event. False (with the Python exception set) when its key cannot be turned into bytes (a key that is
  /// not str or bytes is pickled); the event is then not queued.
  /// `time` is the event's event time (ns since the epoch): it keeps it on the other worker. `ingest`, for an event
  /// the metrics time, is when it reached its source (wall clock ns; 0: not timed).
  [[nodiscard]] bool add_raw(std::uint16_t flow, std::uint16_t position, PyObject* key, std::int64_t time,
                             std::string_view payload, std::int64_t ingest = 0);
  [[nodiscard]] bool add_object(std::uint16_t flow, std::uint16_t position, PyObject* key, std::int64_t time,
                                PyObject* data, std::int64_t ingest = 0);

  [[nodiscard]] bool empty() const { return count_ == 0; }

  /// Called for each event left out of a batch because its object cannot be serialized, with the Python exception
  /// set: the event's flow and the position it was to continue at.
  using Skipped = std::function<void(std::uint16_t flow, std::uint16_t position)>;

  /// The batch's bytes; clears this for the next batch. Objects that cannot be serialized are left out and
  /// reported to `skipped` (the rest go). `events` is set to the number of events that go.
  [[nodiscard]] std::vector<char> finish(const ObjectCodec& codec, const Skipped& skipped, std::uint32_t& events);

 private:
  bool append_key(PyObject* key);

  std::vector<char> entries_;
  std::uint32_t count_ = 0;
  python::PyRef objects_;  ///< list
  std::vector<std::size_t> object_entry_offsets_;
};

/// One event of an inbound batch, ready to continue down its flow.
struct InboundHop {
  std::uint16_t flow = 0;
  std::uint16_t position = 0;
  python::PyRef key;
  std::int64_t time = 0;  ///< event time (ns since the epoch)
  std::int64_t ingest = 0;  ///< a timed event: when it reached its source (wall clock ns); 0: not timed
  python::PyRef object;  ///< object entries
  std::string_view raw;  ///< raw entries: the source frame, to be decoded
};

/// Parses an inbound batch and calls `each` for every event, in order. Returns false (with a reason in
/// `error`) when the bytes are not a well-formed batch; `each` has then been called for none of its events, and
/// `lost` says how many the batch announced (0 when even its header is unreadable). Entries the sender left out
/// (counted there) are skipped.
[[nodiscard]] bool read_hops(std::string_view bytes, const ObjectCodec& codec,
                             const std::function<void(InboundHop&)>& each, std::string& error, std::uint32_t& lost);

}  // namespace roo::runtime
