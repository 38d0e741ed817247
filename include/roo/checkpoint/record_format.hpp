#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

namespace roo::checkpoint {

/// The record encoding inside a snapshot file, written by Snapshot and read back here. Big-endian (core's codec):
///   state:  u8 1 | u32 table | u32 key_group | u32 key length | key | u32 value length | value
///   source: u8 2 | u32 source | u32 position length | position
///   channel: u8 3 | u32 from worker | u32 length | the batch's bytes
///            (with Snapshot::sink_output_flag set in the number: a transactional sink's output of the checkpoint)
enum class RecordTag : std::uint8_t { state = 1, source = 2, channel = 3 };

/// Receives the records of one snapshot's body, as views into it.
struct RecordVisitor {
  std::function<void(std::uint32_t table, std::uint32_t key_group, std::string_view key, std::string_view value)>
      on_state;
  std::function<void(std::uint32_t source, std::string_view position)> on_source;
  std::function<void(std::uint32_t from, std::string_view bytes)> on_channel;
};

/// Decodes `records` (a snapshot's body) record by record. Returns the number of records, or -1 when the body is
/// malformed (an unknown tag, a length past the end); records before the malformed one were already visited.
[[nodiscard]] std::int64_t visit_records(std::string_view records, const RecordVisitor& visitor);

}  // namespace roo::checkpoint
