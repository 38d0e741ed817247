#include "kafka_written_offsets.hpp"

#include "roo/core/big_endian.hpp"
#include "roo/core/error.hpp"

#include <cstdint>

namespace roo::io {
namespace {

constexpr std::uint8_t version = 1;

core::Error malformed(std::string_view what) {
  return core::Error("a Kafka sink's written offsets in the checkpoint are malformed: " + std::string(what));
}

}  // namespace

void KafkaWrittenOffsets::add(std::int32_t partition, std::int64_t offset) {
  auto& runs = runs_[partition];
  if (!runs.empty() && runs.back().first + runs.back().count == offset) {
    ++runs.back().count;
  } else {
    increasing_ = increasing_ && (runs.empty() || offset > runs.back().first + runs.back().count);
    runs.push_back({.first = offset, .count = 1});
  }
  ++records_;
}

void KafkaWrittenOffsets::clear() {
  runs_.clear();
  records_ = 0;
  increasing_ = true;
}

std::string KafkaWrittenOffsets::encode(std::string_view topic) const {
  core::BigEndianWriter out;
  out.u8(version).str(topic).u32(static_cast<std::uint32_t>(runs_.size()));
  for (const auto& [partition, runs] : runs_) {
    out.u32(static_cast<std::uint32_t>(partition)).u32(static_cast<std::uint32_t>(runs.size()));
    for (const Run& run : runs) {
      out.u64(static_cast<std::uint64_t>(run.first)).u64(static_cast<std::uint64_t>(run.count));
    }
  }
  std::vector<char> bytes = out.take();
  return {bytes.begin(), bytes.end()};
}

KafkaWrittenOffsets KafkaWrittenOffsets::decode(std::string_view bytes) {
  core::BigEndianReader reader(bytes);
  if (reader.u8() != version) {
    throw malformed("not version 1 (another Roo's file?)");
  }
  KafkaWrittenOffsets out;
  out.topic_ = reader.str();
  std::uint32_t partitions = reader.u32();
  for (std::uint32_t p = 0; p < partitions && reader.ok(); ++p) {
    auto partition = static_cast<std::int32_t>(reader.u32());
    std::uint32_t count = reader.u32();
    auto& runs = out.runs_[partition];
    for (std::uint32_t r = 0; r < count && reader.ok(); ++r) {
      auto first = static_cast<std::int64_t>(reader.u64());
      auto length = static_cast<std::int64_t>(reader.u64());
      bool after_previous = runs.empty() || first > runs.back().first + runs.back().count;
      if (reader.ok() && (first < 0 || length <= 0 || first > INT64_MAX - length || !after_previous)) {
        throw malformed("a run of offsets that is empty, out of range or out of order");
      }
      runs.push_back({.first = first, .count = length});
      out.records_ += static_cast<std::uint64_t>(length);
    }
    if (runs.empty()) {
      throw malformed("a partition without offsets");
    }
  }
  if (!reader.ok_and_done()) {
    throw malformed("its length differs from what its counts announce");
  }
  return out;
}

}  // namespace roo::io
