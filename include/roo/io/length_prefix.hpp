#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace roo::io {

/// How a frame's header announces its payload length: the decoder's `header_length` and `length_fmt`
/// (a Python struct format such as ">I"), understood in C++ so framing never needs the GIL.
struct LengthPrefix {
  std::size_t header_length = 4;  ///< bytes before each payload (1..8)
  std::size_t field_offset = 0;   ///< where the length field starts inside the header (after 'x' pad bytes)
  std::size_t field_width = 4;    ///< 1, 2, 4 or 8 bytes
  bool big_endian = true;
  bool is_signed = false;

  /// The payload length announced by `header` (header_length bytes), or nullopt if negative.
  [[nodiscard]] std::optional<std::uint64_t> read(const char* header) const;
};

/// Builds a LengthPrefix from a decoder's header_length and struct format ("I", ">I", "!H", "<Q", ">xxI", ...).
/// Throws core::UsageError quoting both values when they are unsupported or disagree in size.
[[nodiscard]] LengthPrefix parse_length_prefix(std::size_t header_length, std::string_view struct_format);

}  // namespace roo::io
