#include "roo/io/length_prefix.hpp"

#include "roo/core/big_endian.hpp"
#include "roo/core/error.hpp"

#include <bit>
#include <cstring>
#include <string>

namespace roo::io {
namespace {

constexpr std::string_view supported_formats =
    "expected an optional byte order (@ = < > !), optional 'x' pad bytes and one of B b H h I i L l Q q";

/// Python's struct size of an integer code; `native` selects '@' sizes (C long is 8 bytes on x86-64 Linux).
std::size_t field_size(char code, bool native) {
  switch (code) {
    case 'B':
    case 'b':
      return 1;
    case 'H':
    case 'h':
      return 2;
    case 'I':
    case 'i':
      return 4;
    case 'L':
    case 'l':
      return native ? 8 : 4;
    case 'Q':
    case 'q':
      return 8;
    default:
      return 0;
  }
}

std::string quote(std::size_t header_length, std::string_view format) {
  return "use decoder length_fmt '" + std::string(format) + "' with header_length " + std::to_string(header_length);
}

/// Reads a count such as the "2" in "2x"; returns 1 when there is none.
std::size_t read_count(std::string_view format, std::size_t& pos) {
  if (pos >= format.size() || format[pos] < '0' || format[pos] > '9') {
    return 1;
  }
  std::size_t count = 0;
  while (pos < format.size() && format[pos] >= '0' && format[pos] <= '9' && count < 1000) {
    count = count * 10 + static_cast<std::size_t>(format[pos] - '0');
    ++pos;
  }
  return count;
}

}  // namespace

std::optional<std::uint64_t> LengthPrefix::read(const char* header) const {
  const char* field = header + field_offset;
  if (std::endian::native == std::endian::little && field_width == 4 && big_endian && !is_signed) {
    // Wallaroo's ">I", nearly every app's framing: one load and a byte swap instead of the general loop.
    return core::load_u32_be(field);
  }
  unsigned char raw[8];
  std::memcpy(raw, field, field_width);
  std::uint64_t value = 0;
  if (big_endian) {
    for (std::size_t i = 0; i < field_width; ++i) {
      value = (value << 8) | raw[i];
    }
  } else {
    for (std::size_t i = field_width; i > 0; --i) {
      value = (value << 8) | raw[i - 1];
    }
  }
  if (is_signed && (raw[big_endian ? 0 : field_width - 1] & 0x80U) != 0) {
    return std::nullopt;
  }
  return value;
}

LengthPrefix parse_length_prefix(std::size_t header_length, std::string_view struct_format) {
  LengthPrefix prefix;
  bool native = true;  // '@' or no prefix: native sizes and alignment; this machine is little-endian
  prefix.big_endian = false;
  std::size_t pos = 0;
  if (!struct_format.empty()) {
    switch (struct_format[0]) {
      case '@':
        pos = 1;
        break;
      case '=':
      case '<':
        native = false;
        pos = 1;
        break;
      case '>':
      case '!':
        native = false;
        prefix.big_endian = true;
        pos = 1;
        break;
      default:
        break;
    }
  }
  std::size_t size = 0;
  bool have_field = false;
  while (pos < struct_format.size()) {
    if (struct_format[pos] == ' ' || struct_format[pos] == '\t' || struct_format[pos] == '\n') {
      ++pos;
      continue;
    }
    std::size_t count = read_count(struct_format, pos);
    if (pos >= struct_format.size()) {
      throw core::UsageError(quote(header_length, struct_format) + ": a count must be followed by a format code (" +
                             std::string(supported_formats) + ")");
    }
    char code = struct_format[pos++];
    if (code == 'x') {
      size += count;
      continue;
    }
    std::size_t width = field_size(code, native);
    if (width == 0) {
      throw core::UsageError(quote(header_length, struct_format) + ": unsupported format code '" +
                             std::string(1, code) + "' (" + std::string(supported_formats) + ")");
    }
    if (have_field || count != 1) {
      throw core::UsageError(quote(header_length, struct_format) + ": the format must read exactly one integer (" +
                             std::string(supported_formats) + ")");
    }
    if (native && size % width != 0) {
      size += width - size % width;  // native mode aligns the field, as Python's struct does
    }
    have_field = true;
    prefix.field_offset = size;
    prefix.field_width = width;
    prefix.is_signed = code >= 'a' && code <= 'z';
    size += width;
  }
  if (!have_field) {
    throw core::UsageError(quote(header_length, struct_format) + ": the format reads no integer (" +
                           std::string(supported_formats) + ")");
  }
  if (size != header_length) {
    throw core::UsageError(quote(header_length, struct_format) + ": the format reads " + std::to_string(size) +
                           (size == 1 ? " byte" : " bytes"));
  }
  if (header_length < 1 || header_length > 8) {
    throw core::UsageError(quote(header_length, struct_format) + ": header_length must be from 1 to 8");
  }
  prefix.header_length = header_length;
  return prefix;
}

}  // namespace roo::io
