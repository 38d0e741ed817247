#pragma once

#include "roo/core/big_endian.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace roo::io {

/// One sink's encoded outputs, handed over together. The values lie back to back in `values`, which is all a byte
/// stream sink (TCP) writes. A sink that takes records (Kafka) also gets one Record per output: where its value,
/// key and headers end, the partition the encoder chose and the event's time. The runner fills `records` only for
/// such sinks, so a byte stream's hot path pays nothing for them.
struct RecordBatch {
  static constexpr std::int32_t any_partition = -1;  ///< let the sink's partitioner choose
  static constexpr std::int64_t no_time = -1;        ///< the event carries no time: the sink stamps its own

  struct Record {
    std::uint32_t value_end = 0;    ///< end offset in `values`
    std::uint32_t key_end = 0;      ///< end offset in `keys` (equal to the previous record's: no key)
    std::uint32_t headers_end = 0;  ///< end offset in `headers` (encoding: see header_at)
    std::int32_t partition = any_partition;
    std::int64_t time_ms = no_time;
    bool has_key = false;  ///< an empty key differs from none
  };

  std::vector<char> values;
  std::vector<Record> records;  ///< empty for a byte stream sink
  std::vector<char> keys;
  /// Headers of every record back to back; one header is [u16 name length][name][u32 value length][value],
  /// big-endian lengths.
  std::vector<char> headers;

  [[nodiscard]] bool empty() const { return values.empty() && records.empty(); }
  /// Bytes held: what a sink's budget counts.
  [[nodiscard]] std::size_t size_bytes() const { return values.size() + keys.size() + headers.size(); }

  [[nodiscard]] std::string_view value(std::size_t i) const {
    std::uint32_t begin = i == 0 ? 0 : records[i - 1].value_end;
    return {values.data() + begin, records[i].value_end - begin};
  }
  [[nodiscard]] std::string_view key(std::size_t i) const {
    std::uint32_t begin = i == 0 ? 0 : records[i - 1].key_end;
    return {keys.data() + begin, records[i].key_end - begin};
  }
  [[nodiscard]] std::string_view headers_of(std::size_t i) const {
    std::uint32_t begin = i == 0 ? 0 : records[i - 1].headers_end;
    return {headers.data() + begin, records[i].headers_end - begin};
  }
  void clear() {
    values.clear();
    records.clear();
    keys.clear();
    headers.clear();
  }
};

/// Appends one header to `out` (a std::string or std::vector<char>) in RecordBatch's header encoding. The caller
/// keeps `name` under 65,536 bytes.
template <class Bytes>
void append_header(Bytes& out, std::string_view name, std::string_view value) {
  std::size_t at = out.size();
  out.resize(at + 2 + name.size() + 4 + value.size());
  core::store_u16_be(out.data() + at, static_cast<std::uint16_t>(name.size()));
  std::copy(name.begin(), name.end(), out.data() + at + 2);
  core::store_u32_be(out.data() + at + 2 + name.size(), static_cast<std::uint32_t>(value.size()));
  std::copy(value.begin(), value.end(), out.data() + at + 2 + name.size() + 4);
}

}  // namespace roo::io
