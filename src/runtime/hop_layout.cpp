#include "hop_layout.hpp"

#include <algorithm>

namespace roo::runtime {
namespace {

/// The fewest bytes an entry takes: flow, position, data kind, key kind, the key's length and the event time.
constexpr std::size_t min_entry_bytes = 2 + 2 + 1 + 1 + 4 + 8;

/// Reads big-endian fields from a batch, refusing to run past its end.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}

  bool u8(std::uint8_t& value) { return fixed(value, 1); }
  bool u16(std::uint16_t& value) { return fixed(value, 2); }
  bool u32(std::uint32_t& value) { return fixed(value, 4); }
  bool u64(std::uint64_t& value) { return fixed(value, 8); }
  bool span(std::string_view& value) {
    std::uint32_t size = 0;
    if (!u32(size) || bytes_.size() - at_ < size) {
      return false;
    }
    value = bytes_.substr(at_, size);
    at_ += size;
    return true;
  }
  [[nodiscard]] bool at_end() const { return at_ == bytes_.size(); }
  [[nodiscard]] std::size_t remaining() const { return bytes_.size() - at_; }
  [[nodiscard]] std::string_view rest() const { return bytes_.substr(at_); }

 private:
  template <class T>
  bool fixed(T& value, std::size_t width) {
    if (bytes_.size() - at_ < width) {
      return false;
    }
    value = 0;
    for (std::size_t i = 0; i < width; ++i) {
      value = static_cast<T>((value << 8) | static_cast<unsigned char>(bytes_[at_ + i]));
    }
    at_ += width;
    return true;
  }

  std::string_view bytes_;
  std::size_t at_ = 0;
};

}  // namespace

bool parse_hop_layout(std::string_view bytes, std::vector<HopEntryView>& entries, std::string_view& blob,
                      std::string& error) {
  entries.clear();
  Reader reader(bytes);
  std::uint32_t count = 0;
  if (!reader.u32(count)) {
    error = "truncated batch header";
    return false;
  }
  // The count is the peer's say-so: reserve only what the bytes received can hold.
  entries.reserve(std::min<std::size_t>(count, reader.remaining() / min_entry_bytes));
  for (std::uint32_t i = 0; i < count; ++i) {
    HopEntryView entry;
    std::uint8_t data_kind = 0;
    std::uint8_t key_kind = 0;
    std::uint64_t time = 0;
    if (!reader.u16(entry.flow) || !reader.u16(entry.position) || !reader.u8(data_kind) || !reader.u8(key_kind) ||
        !reader.span(entry.key) || !reader.u64(time)) {
      error = "truncated entry " + std::to_string(i);
      return false;
    }
    bool timed = (data_kind & hop_timed_flag) != 0;
    data_kind = static_cast<std::uint8_t>(data_kind & ~hop_timed_flag);
    std::uint64_t ingest = 0;
    if (timed && !reader.u64(ingest)) {
      error = "truncated entry " + std::to_string(i);
      return false;
    }
    if (data_kind > static_cast<std::uint8_t>(HopDataKind::skipped)) {
      error = "entry " + std::to_string(i) + " has unknown data kind " + std::to_string(data_kind);
      return false;
    }
    if (key_kind > static_cast<std::uint8_t>(HopKeyKind::pickled)) {
      error = "entry " + std::to_string(i) + " has unknown key kind " + std::to_string(key_kind);
      return false;
    }
    entry.time = static_cast<std::int64_t>(time);
    entry.timed = timed;
    entry.ingest = static_cast<std::int64_t>(ingest);
    entry.data_kind = static_cast<HopDataKind>(data_kind);
    entry.key_kind = static_cast<HopKeyKind>(key_kind);
    if (entry.data_kind == HopDataKind::raw_frame && !reader.span(entry.raw)) {
      error = "truncated entry " + std::to_string(i);
      return false;
    }
    entries.push_back(entry);
  }
  if (!reader.span(blob) || !reader.at_end()) {
    error = "malformed object section";
    return false;
  }
  return true;
}

bool take_framed_object(std::string_view& blob, std::string_view& object) {
  Reader reader(blob);
  if (!reader.span(object)) {
    return false;
  }
  blob = reader.rest();
  return true;
}

}  // namespace roo::runtime
