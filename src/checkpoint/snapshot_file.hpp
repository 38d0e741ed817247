#pragma once

#include "roo/checkpoint/snapshot.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace roo::checkpoint {

/// A snapshot file's framing around Snapshot::records():
///   header:  "ROOSNAP1" | u16 format version | u64 checkpoint id | u8 full | str app | str fingerprint | str worker
///   body:    the records (record_format.hpp)
///   trailer: u64 record count | u32 CRC-32 of every byte before it
/// (strings are `u32 length | bytes`, integers big-endian). The CRC-32 is also what the manifest records per file.
inline constexpr std::uint16_t snapshot_format_version = 1;

/// The header and trailer of `snapshot`'s file, and what the manifest will say of it.
struct EncodedSnapshot {
  std::vector<char> header;
  std::array<char, 12> trailer{};
  std::uint32_t crc32 = 0;
  std::uint64_t size = 0;  ///< header + records + trailer
};

[[nodiscard]] EncodedSnapshot encode_snapshot(const Snapshot& snapshot, const CheckpointIdentity& identity);

/// What a snapshot file says about itself; `problem` is empty when it is intact, else what is wrong, worded to
/// follow the file's name ("is truncated", "fails its CRC-32 check").
struct DecodedSnapshot {
  std::string problem;
  std::uint64_t checkpoint_id = 0;
  bool full = false;
  CheckpointIdentity identity;
  std::string_view records;  ///< a view into the bytes decoded
  std::uint64_t record_count = 0;
  std::uint32_t crc32 = 0;
};

/// Checks the framing and the CRC-32 of a whole snapshot file (not the records: visit_records does).
[[nodiscard]] DecodedSnapshot decode_snapshot(std::string_view bytes);

}  // namespace roo::checkpoint
