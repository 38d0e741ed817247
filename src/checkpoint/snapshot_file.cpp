#include "snapshot_file.hpp"

#include "roo/core/big_endian.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <zlib.h>

namespace roo::checkpoint {
namespace {

constexpr std::string_view magic = "ROOSNAP1";
constexpr std::size_t trailer_size = 12;

// zlib's CRC-32 (the ISO-HDLC polynomial, as boost::crc_32_type): several GB/s where a byte-at-a-time loop made
// checking a 100 MB chain cost a second of the recovery.
class Crc32 {
 public:
  void add(const char* data, std::size_t size) {
    while (size > 0) {
      auto chunk = static_cast<uInt>(std::min<std::size_t>(size, 1u << 30));
      crc_ = ::crc32(crc_, reinterpret_cast<const Bytef*>(data), chunk);
      data += chunk;
      size -= chunk;
    }
  }
  [[nodiscard]] std::uint32_t value() const { return static_cast<std::uint32_t>(crc_); }

 private:
  uLong crc_ = ::crc32(0L, Z_NULL, 0);
};

}  // namespace

EncodedSnapshot encode_snapshot(const Snapshot& snapshot, const CheckpointIdentity& identity) {
  core::BigEndianWriter header;
  header.raw(magic).u16(snapshot_format_version).u64(snapshot.checkpoint_id()).u8(snapshot.full() ? 1 : 0);
  header.str(identity.app_name).str(identity.fingerprint).str(identity.worker_name);
  EncodedSnapshot out;
  out.header = header.take();
  const std::vector<char>& records = snapshot.records();
  core::store_u64_be(out.trailer.data(), snapshot.state_entries() + snapshot.source_entries() + snapshot.channel_entries());
  Crc32 crc;
  crc.add(out.header.data(), out.header.size());
  crc.add(records.data(), records.size());
  crc.add(out.trailer.data(), 8);
  out.crc32 = crc.value();
  core::store_u32_be(out.trailer.data() + 8, out.crc32);
  out.size = out.header.size() + records.size() + trailer_size;
  return out;
}

DecodedSnapshot decode_snapshot(std::string_view bytes) {
  DecodedSnapshot out;
  core::BigEndianReader reader(bytes);
  if (reader.raw(magic.size()) != magic) {
    out.problem = bytes.size() < magic.size() ? "is truncated" : "is not a Roo snapshot file";
    return out;
  }
  std::uint16_t version = reader.u16();
  out.checkpoint_id = reader.u64();
  out.full = reader.u8() != 0;
  out.identity.app_name = reader.str();
  out.identity.fingerprint = reader.str();
  out.identity.worker_name = reader.str();
  if (!reader.ok() || reader.remaining() < trailer_size) {
    out.problem = "is truncated";
    return out;
  }
  if (version != snapshot_format_version) {
    out.problem = fmt::format("has format version {}, this Roo reads {}", version, snapshot_format_version);
    return out;
  }
  std::size_t body_start = bytes.size() - reader.remaining();
  std::size_t trailer_start = bytes.size() - trailer_size;
  out.records = bytes.substr(body_start, trailer_start - body_start);
  out.record_count = core::load_u64_be(bytes.data() + trailer_start);
  out.crc32 = core::load_u32_be(bytes.data() + trailer_start + 8);
  Crc32 crc;
  crc.add(bytes.data(), trailer_start + 8);
  if (crc.value() != out.crc32) {
    out.problem = "fails its CRC-32 check";
  }
  return out;
}

}  // namespace roo::checkpoint
