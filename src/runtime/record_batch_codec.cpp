#include "record_batch_codec.hpp"

#include "roo/core/big_endian.hpp"
#include "roo/core/error.hpp"

#include <fmt/format.h>

#include <cstring>
#include <limits>

namespace roo::runtime {
namespace {

constexpr std::size_t header_bytes = 5 * 4;
constexpr std::size_t max_varint_bytes = 10;
constexpr std::size_t max_record_meta = 4 * 5 + max_varint_bytes;  // three lengths, the partition, the time

char* put_varint(char* at, std::uint64_t value) {
  while (value >= 0x80) {
    *at++ = static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  *at++ = static_cast<char>(value);
  return at;
}

std::uint64_t zigzag(std::int64_t value) {
  return (static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63);
}

std::int64_t unzigzag(std::uint64_t value) {
  return static_cast<std::int64_t>(value >> 1) ^ -static_cast<std::int64_t>(value & 1);
}

// Times are kept as differences; these wrap instead of overflowing, so any pair of times round-trips.
std::int64_t wrapping_difference(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) - static_cast<std::uint64_t>(b));
}

std::int64_t wrapping_sum(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
}

core::Error malformed(std::string_view what) {
  return core::Error(fmt::format("a sink's output in the checkpoint is malformed: {}", what));
}

/// Reads one varint from [at, end); throws when it runs past `end` or past 64 bits.
std::uint64_t take_varint(const char*& at, const char* end) {
  std::uint64_t value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (at == end) {
      throw malformed("a record's description runs past its area");
    }
    auto byte = static_cast<unsigned char>(*at++);
    value |= std::uint64_t{byte & 0x7fU} << shift;
    if ((byte & 0x80U) == 0) {
      return value;
    }
  }
  throw malformed("a number longer than 64 bits");
}

}  // namespace

std::string encode_record_batch(const io::RecordBatch& batch) {
  std::string out;
  out.resize(header_bytes + batch.records.size() * max_record_meta + batch.size_bytes());
  char* meta = out.data() + header_bytes;
  char* at = meta;
  std::uint32_t value_begin = 0;
  std::uint32_t key_begin = 0;
  std::uint32_t headers_begin = 0;
  std::int64_t previous_time = 0;
  for (const auto& record : batch.records) {
    at = put_varint(at, record.value_end - value_begin);
    at = put_varint(at, record.has_key ? std::uint64_t{record.key_end - key_begin} + 1 : 0);
    at = put_varint(at, record.headers_end - headers_begin);
    at = put_varint(at, zigzag(record.partition));
    at = put_varint(at, zigzag(wrapping_difference(record.time_ms, previous_time)));
    value_begin = record.value_end;
    key_begin = record.key_end;
    headers_begin = record.headers_end;
    previous_time = record.time_ms;
  }
  core::store_u32_be(out.data(), static_cast<std::uint32_t>(batch.records.size()));
  core::store_u32_be(out.data() + 4, static_cast<std::uint32_t>(at - meta));
  core::store_u32_be(out.data() + 8, static_cast<std::uint32_t>(batch.values.size()));
  core::store_u32_be(out.data() + 12, static_cast<std::uint32_t>(batch.keys.size()));
  core::store_u32_be(out.data() + 16, static_cast<std::uint32_t>(batch.headers.size()));
  for (const auto* area : {&batch.values, &batch.keys, &batch.headers}) {
    if (!area->empty()) {
      std::memcpy(at, area->data(), area->size());
      at += area->size();
    }
  }
  out.resize(static_cast<std::size_t>(at - out.data()));
  return out;
}

io::RecordBatch decode_record_batch(std::string_view bytes) {
  if (bytes.size() < header_bytes) {
    throw malformed("shorter than its header");
  }
  std::uint32_t count = core::load_u32_be(bytes.data());
  std::uint32_t meta_size = core::load_u32_be(bytes.data() + 4);
  std::uint32_t values = core::load_u32_be(bytes.data() + 8);
  std::uint32_t keys = core::load_u32_be(bytes.data() + 12);
  std::uint32_t headers = core::load_u32_be(bytes.data() + 16);
  std::uint64_t expected = header_bytes + std::uint64_t{meta_size} + values + keys + headers;
  if (bytes.size() != expected) {
    throw malformed(fmt::format("{} bytes where its header announces {}", bytes.size(), expected));
  }
  if (count > meta_size) {  // every record takes at least one byte per field
    throw malformed("more records than its descriptions hold");
  }
  io::RecordBatch batch;
  batch.records.resize(count);
  const char* at = bytes.data() + header_bytes;
  const char* meta_end = at + meta_size;
  std::uint64_t value_end = 0;
  std::uint64_t key_end = 0;
  std::uint64_t headers_end = 0;
  std::int64_t time = 0;
  for (auto& record : batch.records) {
    value_end += take_varint(at, meta_end);
    std::uint64_t key = take_varint(at, meta_end);
    key_end += key == 0 ? 0 : key - 1;
    headers_end += take_varint(at, meta_end);
    std::int64_t partition = unzigzag(take_varint(at, meta_end));
    time = wrapping_sum(time, unzigzag(take_varint(at, meta_end)));
    if (value_end > values || key_end > keys || headers_end > headers) {
      throw malformed("a record ends past its area");
    }
    if (partition < std::numeric_limits<std::int32_t>::min() || partition > std::numeric_limits<std::int32_t>::max()) {
      throw malformed("a partition out of range");
    }
    record.value_end = static_cast<std::uint32_t>(value_end);
    record.key_end = static_cast<std::uint32_t>(key_end);
    record.headers_end = static_cast<std::uint32_t>(headers_end);
    record.partition = static_cast<std::int32_t>(partition);
    record.time_ms = time;
    record.has_key = key != 0;
  }
  if (at != meta_end) {
    throw malformed("the records' descriptions do not fill their area");
  }
  batch.values.assign(at, at + values);
  at += values;
  batch.keys.assign(at, at + keys);
  at += keys;
  batch.headers.assign(at, at + headers);
  return batch;
}

}  // namespace roo::runtime
