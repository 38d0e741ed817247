#include "http_reply_stream.hpp"

#include "roo/core/big_endian.hpp"

#include <fmt/format.h>

namespace roo::io {

std::string for_each_http_reply(std::string_view stream, const std::function<void(const HttpReply&)>& each) {
  std::size_t at = 0;
  while (at < stream.size()) {
    std::size_t left = stream.size() - at;
    if (left < http_reply_length_bytes) {
      return fmt::format("record at byte {}: {} bytes left, too few for its 4-byte length", at, left);
    }
    std::uint64_t length = core::load_u32_be(stream.data() + at);
    if (length < http_reply_fixed_bytes) {
      return fmt::format("record at byte {}: length {} is less than the {} bytes of id, status and content-type "
                         "length",
                         at, length, http_reply_fixed_bytes);
    }
    if (length > left - http_reply_length_bytes) {
      return fmt::format("record at byte {}: length {} runs past the end of the batch ({} bytes follow it)", at,
                         length, left - http_reply_length_bytes);
    }
    std::size_t fields = at + http_reply_length_bytes;
    HttpReply reply;
    reply.request_id = core::load_u64_be(stream.data() + fields);
    reply.status = core::load_u16_be(stream.data() + fields + 8);
    std::uint64_t type_length = core::load_u16_be(stream.data() + fields + 10);
    if (type_length > length - http_reply_fixed_bytes) {
      return fmt::format("record at byte {}: content-type length {} exceeds the record's {} bytes after its fixed "
                         "fields",
                         at, type_length, length - http_reply_fixed_bytes);
    }
    std::size_t type_at = fields + http_reply_fixed_bytes;
    reply.content_type = stream.substr(type_at, type_length);
    reply.body = stream.substr(type_at + type_length, length - http_reply_fixed_bytes - type_length);
    each(reply);
    at = fields + length;
  }
  return {};
}

std::string encode_http_reply(const HttpReply& reply) {
  core::BigEndianWriter out;
  out.u32(static_cast<std::uint32_t>(http_reply_fixed_bytes + reply.content_type.size() + reply.body.size()))
      .u64(reply.request_id)
      .u16(static_cast<std::uint16_t>(reply.status))
      .u16(static_cast<std::uint16_t>(reply.content_type.size()))
      .raw(reply.content_type)
      .raw(reply.body);
  auto bytes = out.take();
  return {bytes.begin(), bytes.end()};
}

}  // namespace roo::io
