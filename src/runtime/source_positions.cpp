#include "source_positions.hpp"

#include "roo/core/big_endian.hpp"
#include "roo/core/error.hpp"

#include <fmt/format.h>

namespace roo::runtime {
namespace {

constexpr std::size_t entry_bytes = 4 + 4 + 8;

}  // namespace

void SourcePositions::fold(const core::FrameBatch& batch, std::size_t first, std::size_t last) {
  if (batch.meta.empty() || first >= last) {
    return;
  }
  io::SourcePosition& position = positions_[batch.source];
  // A batch mostly holds runs of one partition: look the partition up once per run.
  auto entry = position.end();
  for (std::size_t i = first; i < last; ++i) {
    const core::FrameBatch::Meta& meta = batch.meta[i];
    io::PartitionId id{meta.topic, meta.partition};
    if (entry == position.end() || entry->first != id) {
      entry = position.try_emplace(id, 0).first;
    }
    entry->second = meta.offset + 1;
  }
}

void SourcePositions::started(std::size_t source,
                              const std::vector<std::pair<core::SourceNews::Input, std::int64_t>>& starts) {
  io::SourcePosition& position = positions_[source];
  for (const auto& [input, offset] : starts) {
    position.try_emplace(io::PartitionId{input.first, input.second}, offset);
  }
}

std::string SourcePositions::encode(const io::SourcePosition& position) {
  std::string out(4 + position.size() * entry_bytes, '\0');
  char* at = out.data();
  core::store_u32_be(at, static_cast<std::uint32_t>(position.size()));
  at += 4;
  for (const auto& [id, offset] : position) {
    core::store_u32_be(at, id.topic);
    core::store_u32_be(at + 4, static_cast<std::uint32_t>(id.partition));
    core::store_u64_be(at + 8, static_cast<std::uint64_t>(offset));
    at += entry_bytes;
  }
  return out;
}

io::SourcePosition SourcePositions::decode(std::string_view bytes) {
  if (bytes.size() < 4 || bytes.size() != 4 + std::size_t{core::load_u32_be(bytes.data())} * entry_bytes) {
    throw core::Error(fmt::format("a source position of {} bytes is malformed", bytes.size()));
  }
  io::SourcePosition position;
  for (const char* at = bytes.data() + 4; at < bytes.data() + bytes.size(); at += entry_bytes) {
    io::PartitionId id{core::load_u32_be(at), static_cast<std::int32_t>(core::load_u32_be(at + 4))};
    position[id] = static_cast<std::int64_t>(core::load_u64_be(at + 8));
  }
  return position;
}

}  // namespace roo::runtime
