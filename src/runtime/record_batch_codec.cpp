#include "record_batch_codec.hpp"

#include "roo/core/big_endian.hpp"
#include "roo/core/error.hpp"

#include <fmt/format.h>

namespace roo::runtime {
namespace {

constexpr std::size_t header_bytes = 16;
constexpr std::size_t record_bytes = 4 + 4 + 4 + 4 + 8 + 1;

void put_u32(std::string& out, std::uint32_t value) {
  char bytes[4];
  core::store_u32_be(bytes, value);
  out.append(bytes, 4);
}

void put_u64(std::string& out, std::uint64_t value) {
  char bytes[8];
  core::store_u64_be(bytes, value);
  out.append(bytes, 8);
}

}  // namespace

std::string encode_record_batch(const io::RecordBatch& batch) {
  std::string out;
  out.reserve(header_bytes + batch.records.size() * record_bytes + batch.size_bytes());
  put_u32(out, static_cast<std::uint32_t>(batch.records.size()));
  put_u32(out, static_cast<std::uint32_t>(batch.values.size()));
  put_u32(out, static_cast<std::uint32_t>(batch.keys.size()));
  put_u32(out, static_cast<std::uint32_t>(batch.headers.size()));
  for (const auto& record : batch.records) {
    put_u32(out, record.value_end);
    put_u32(out, record.key_end);
    put_u32(out, record.headers_end);
    put_u32(out, static_cast<std::uint32_t>(record.partition));
    put_u64(out, static_cast<std::uint64_t>(record.time_ms));
    out.push_back(record.has_key ? 1 : 0);
  }
  out.append(batch.values.data(), batch.values.size());
  out.append(batch.keys.data(), batch.keys.size());
  out.append(batch.headers.data(), batch.headers.size());
  return out;
}

io::RecordBatch decode_record_batch(std::string_view bytes) {
  auto malformed = [&](std::string_view what) {
    return core::Error(fmt::format("a sink's output in the checkpoint is malformed: {}", what));
  };
  if (bytes.size() < header_bytes) {
    throw malformed("shorter than its header");
  }
  std::uint32_t count = core::load_u32_be(bytes.data());
  std::uint32_t values = core::load_u32_be(bytes.data() + 4);
  std::uint32_t keys = core::load_u32_be(bytes.data() + 8);
  std::uint32_t headers = core::load_u32_be(bytes.data() + 12);
  std::uint64_t expected = header_bytes + std::uint64_t{count} * record_bytes + values + keys + headers;
  if (bytes.size() != expected) {
    throw malformed(fmt::format("{} bytes where its header announces {}", bytes.size(), expected));
  }
  io::RecordBatch batch;
  batch.records.resize(count);
  const char* at = bytes.data() + header_bytes;
  for (auto& record : batch.records) {
    record.value_end = core::load_u32_be(at);
    record.key_end = core::load_u32_be(at + 4);
    record.headers_end = core::load_u32_be(at + 8);
    record.partition = static_cast<std::int32_t>(core::load_u32_be(at + 12));
    record.time_ms = static_cast<std::int64_t>(core::load_u64_be(at + 16));
    record.has_key = at[24] != 0;
    at += record_bytes;
    if (record.value_end > values || record.key_end > keys || record.headers_end > headers) {
      throw malformed("a record ends past its area");
    }
  }
  batch.values.assign(at, at + values);
  at += values;
  batch.keys.assign(at, at + keys);
  at += keys;
  batch.headers.assign(at, at + headers);
  return batch;
}

}  // namespace roo::runtime
