#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace roo::runtime {

/// How an entry's event travels (the entry's data_kind byte).
enum class HopDataKind : std::uint8_t {
  raw_frame = 0,  ///< the source frame itself, decoded again by the receiver
  object = 1,     ///< a Python object, in the batch's object section
  skipped = 2,    ///< an object the sender could not serialize: left out (and reported there)
};

/// Set in an entry's data_kind byte when the event is one the metrics time (docs/metrics.md): an i64 follows its
/// event time, the wall clock (ns) at which it reached its source, so its start-to-end latency spans workers.
constexpr std::uint8_t hop_timed_flag = 0x80;

/// How an entry's key travels (the entry's key_kind byte).
enum class HopKeyKind : std::uint8_t {
  str = 0,      ///< UTF-8 text
  bytes = 1,    ///< the bytes as they are
  pickled = 2,  ///< any other type, pickled on its own
};

/// One entry of an inbound hop batch as it is on the wire (layout: hop_codec.hpp), before any Python object is made.
/// The views point into the batch's bytes.
struct HopEntryView {
  std::uint16_t flow = 0;
  std::uint16_t position = 0;
  HopDataKind data_kind = HopDataKind::raw_frame;
  HopKeyKind key_kind = HopKeyKind::str;
  std::string_view key;
  std::int64_t time = 0;  ///< the event's event time (ns since the epoch)
  bool timed = false;       ///< the data kind carried hop_timed_flag: `ingest` followed the event time
  std::int64_t ingest = 0;  ///< timed entries (hop_timed_flag): when it reached its source (wall clock ns); else 0
  std::string_view raw;  ///< raw_frame entries: the source frame
};

/// Cuts a hop batch into its entries and its object section (the blob) without touching Python, so that every byte
/// from a peer is checked before the GIL is taken. Returns false with a reason in `error` ("truncated entry 3",
/// "entry 0 has unknown data kind 7", ...) when the bytes are not a well-formed batch; `entries` then holds the
/// entries read before the fault. Memory grows with the bytes received, never with the announced count. Any thread.
[[nodiscard]] bool parse_hop_layout(std::string_view bytes, std::vector<HopEntryView>& entries, std::string_view& blob,
                                    std::string& error);

/// Takes the next `u32 BE length | bytes` object from the front of a per-object blob (ObjectCodec::per_object).
/// Returns false, leaving `blob` as it was, when it does not hold a whole one.
[[nodiscard]] bool take_framed_object(std::string_view& blob, std::string_view& object);

}  // namespace roo::runtime
