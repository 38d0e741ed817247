#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace roo::io {

/// One reply record of an HTTP reply sink's byte stream (io::HttpExchange): which request it answers, and how.
struct HttpReply {
  std::uint64_t request_id = 0;
  unsigned status = 0;
  std::string_view content_type;
  std::string_view body;
};

/// The bytes before each record's own: u32 length, then u64 id, u16 status and u16 content-type length.
constexpr std::size_t http_reply_length_bytes = 4;
constexpr std::size_t http_reply_fixed_bytes = 8 + 2 + 2;

/// Calls `each` for every record of `stream` (records back to back:
/// `u32 BE length | u64 BE request id | u16 BE status | u16 BE content-type length | content type | body`, the
/// length counting what follows it), in order. Stops at the first malformed record and returns what is wrong and
/// where ("record at byte 17: ..."); returns an empty string when every record was whole.
[[nodiscard]] std::string for_each_http_reply(std::string_view stream,
                                              const std::function<void(const HttpReply&)>& each);

/// The record for `reply` in that encoding (what an encoder produces; used by tests and tools).
[[nodiscard]] std::string encode_http_reply(const HttpReply& reply);

}  // namespace roo::io
