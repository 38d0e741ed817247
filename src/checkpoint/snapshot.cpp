#include "roo/checkpoint/snapshot.hpp"

#include "roo/checkpoint/record_format.hpp"
#include "roo/core/big_endian.hpp"

#include <cstring>
#include <utility>

namespace roo::checkpoint {
namespace {

// Appends one record's fixed part and strings straight into the body: one resize (amortized by the vector's
// growth), no allocation of its own per record.
void append_u32(char*& at, std::uint32_t value) {
  core::store_u32_be(at, value);
  at += 4;
}

void append_str(char*& at, std::string_view text) {
  append_u32(at, static_cast<std::uint32_t>(text.size()));
  if (!text.empty()) {
    std::memcpy(at, text.data(), text.size());
  }
  at += text.size();
}

}  // namespace

Snapshot::Snapshot(std::uint64_t checkpoint_id, bool full) : checkpoint_id_(checkpoint_id), full_(full) {}

void Snapshot::add_state(std::uint32_t table, std::uint32_t key_group, std::string_view key, std::string_view value) {
  std::size_t at = records_.size();
  records_.resize(at + 1 + 4 + 4 + 4 + key.size() + 4 + value.size());
  char* out = records_.data() + at;
  *out++ = static_cast<char>(RecordTag::state);
  append_u32(out, table);
  append_u32(out, key_group);
  append_str(out, key);
  append_str(out, value);
  ++state_entries_;
}

void Snapshot::add_source_position(std::uint32_t source, std::string_view position) {
  add_tagged(static_cast<std::uint8_t>(RecordTag::source), source, position);
  ++source_entries_;
}

// A record of one number and one string: a source position, a channel batch.
void Snapshot::add_tagged(std::uint8_t tag, std::uint32_t number, std::string_view bytes) {
  std::size_t at = records_.size();
  records_.resize(at + 1 + 4 + 4 + bytes.size());
  char* out = records_.data() + at;
  *out++ = static_cast<char>(tag);
  append_u32(out, number);
  append_str(out, bytes);
}

void Snapshot::add_sink_output(std::uint32_t sink, std::string_view bytes) {
  add_channel_batch(sink | sink_output_flag, bytes);
}

void Snapshot::add_sink_output_location(std::uint32_t sink, std::string_view location) {
  add_channel_batch(sink | sink_output_flag | sink_location_flag, location);
}

void Snapshot::add_sink_output_later(std::uint32_t sink, LateOutput encode) {
  late_output_.emplace_back(sink, std::move(encode));
}

void Snapshot::encode_late_output() {
  auto late = std::exchange(late_output_, {});
  for (auto& [sink, encode] : late) {
    std::vector<std::string> batches = encode();
    std::size_t bytes = 0;
    for (const auto& batch : batches) {
      bytes += 1 + 4 + 4 + batch.size();
    }
    records_.reserve(records_.size() + bytes);
    for (const auto& batch : batches) {
      add_sink_output(sink, batch);
    }
  }
}

void Snapshot::add_channel_batch(std::uint32_t from, std::string_view bytes) {
  add_tagged(static_cast<std::uint8_t>(RecordTag::channel), from, bytes);
  ++channel_entries_;
}

}  // namespace roo::checkpoint
