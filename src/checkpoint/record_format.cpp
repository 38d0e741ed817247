#include "roo/checkpoint/record_format.hpp"

#include "roo/core/big_endian.hpp"

namespace roo::checkpoint {

std::int64_t visit_records(std::string_view records, const RecordVisitor& visitor) {
  core::BigEndianReader reader(records);
  std::int64_t count = 0;
  while (reader.ok() && reader.remaining() > 0) {
    auto tag = static_cast<RecordTag>(reader.u8());
    if (tag == RecordTag::state) {
      std::uint32_t table = reader.u32();
      std::uint32_t key_group = reader.u32();
      std::string_view key = reader.str_view();
      std::string_view value = reader.str_view();
      if (!reader.ok()) {
        return -1;
      }
      visitor.on_state(table, key_group, key, value);
    } else if (tag == RecordTag::source) {
      std::uint32_t source = reader.u32();
      std::string_view position = reader.str_view();
      if (!reader.ok()) {
        return -1;
      }
      visitor.on_source(source, position);
    } else if (tag == RecordTag::channel) {
      std::uint32_t from = reader.u32();
      std::string_view bytes = reader.str_view();
      if (!reader.ok()) {
        return -1;
      }
      if (visitor.on_channel) {
        visitor.on_channel(from, bytes);
      }
    } else {
      return -1;
    }
    ++count;
  }
  return reader.ok() ? count : -1;
}

}  // namespace roo::checkpoint
