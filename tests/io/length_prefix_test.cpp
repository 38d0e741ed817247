#include "roo/io/length_prefix.hpp"

#include "roo/core/error.hpp"

#include <gtest/gtest.h>

#include <string>

namespace roo::io {
namespace {

struct FormatCase {
  const char* format;
  std::size_t header_length;
  std::size_t field_offset;
  std::size_t field_width;
  bool big_endian;
  bool is_signed;
};

TEST(LengthPrefix, ParsesEveryByteOrderPadAndIntegerCode) {
  const FormatCase cases[] = {
      {">I", 4, 0, 4, true, false},  {"!I", 4, 0, 4, true, false},    {"<I", 4, 0, 4, false, false},
      {"=I", 4, 0, 4, false, false}, {"@I", 4, 0, 4, false, false},   {"I", 4, 0, 4, false, false},
      {">B", 1, 0, 1, true, false},  {">b", 1, 0, 1, true, true},     {">H", 2, 0, 2, true, false},
      {">h", 2, 0, 2, true, true},   {">i", 4, 0, 4, true, true},     {">L", 4, 0, 4, true, false},
      {">l", 4, 0, 4, true, true},   {">Q", 8, 0, 8, true, false},    {">q", 8, 0, 8, true, true},
      {"<H", 2, 0, 2, false, false}, {"<Q", 8, 0, 8, false, false},   {"L", 8, 0, 8, false, false},
      {"l", 8, 0, 8, false, true},   {"=L", 4, 0, 4, false, false},   {">xxH", 4, 2, 2, true, false},
      {">xI", 5, 1, 4, true, false}, {">2xI", 6, 2, 4, true, false},  {"xI", 8, 4, 4, false, false},
      {"xH", 4, 2, 2, false, false}, {"xB", 2, 1, 1, false, false},   {"=xI", 5, 1, 4, false, false},
      {">Ix", 5, 0, 4, true, false}, {"> x H", 3, 1, 2, true, false}, {"B", 1, 0, 1, false, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.format);
    LengthPrefix prefix = parse_length_prefix(c.header_length, c.format);
    EXPECT_EQ(prefix.header_length, c.header_length);
    EXPECT_EQ(prefix.field_offset, c.field_offset);
    EXPECT_EQ(prefix.field_width, c.field_width);
    EXPECT_EQ(prefix.big_endian, c.big_endian);
    EXPECT_EQ(prefix.is_signed, c.is_signed);
  }
}

TEST(LengthPrefix, ReadsValuesLikePythonStructUnpack) {
  const char bytes[] = {'\x01', '\x02', '\x03', '\x04', '\x05', '\x06', '\x07', '\x08'};
  // Expected values are struct.unpack(fmt, bytes[:size])[0] in Python.
  EXPECT_EQ(parse_length_prefix(4, ">I").read(bytes), 0x01020304U);
  EXPECT_EQ(parse_length_prefix(4, "<I").read(bytes), 0x04030201U);
  EXPECT_EQ(parse_length_prefix(4, "I").read(bytes), 0x04030201U);
  EXPECT_EQ(parse_length_prefix(2, "!H").read(bytes), 0x0102U);
  EXPECT_EQ(parse_length_prefix(1, "B").read(bytes), 0x01U);
  EXPECT_EQ(parse_length_prefix(8, ">Q").read(bytes), 0x0102030405060708ULL);
  EXPECT_EQ(parse_length_prefix(8, "<Q").read(bytes), 0x0807060504030201ULL);
  EXPECT_EQ(parse_length_prefix(4, ">xxH").read(bytes), 0x0304U);
  EXPECT_EQ(parse_length_prefix(8, "xI").read(bytes), 0x08070605U);
  const char high[] = {'\xff', '\xff', '\xff', '\xfe'};
  EXPECT_EQ(parse_length_prefix(4, ">I").read(high), 0xfffffffeU);
  EXPECT_EQ(parse_length_prefix(4, ">i").read(high), std::nullopt);  // -2: negative lengths are refused
  EXPECT_EQ(parse_length_prefix(4, "<i").read(high), std::nullopt);  // -16777217
  EXPECT_EQ(parse_length_prefix(4, "<i").read(bytes), 0x04030201U);
  EXPECT_EQ(parse_length_prefix(1, "b").read(high), std::nullopt);
  const char small_signed[] = {'\x00', '\x7f'};
  EXPECT_EQ(parse_length_prefix(2, ">h").read(small_signed), 0x7fU);
}

std::string usage_error(std::size_t header_length, const char* format) {
  try {
    (void)parse_length_prefix(header_length, format);
  } catch (const core::UsageError& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(LengthPrefix, RejectsSizeMismatchQuotingBothValues) {
  EXPECT_EQ(usage_error(4, ">H"), "use decoder length_fmt '>H' with header_length 4: the format reads 2 bytes");
  EXPECT_EQ(usage_error(2, ">I"), "use decoder length_fmt '>I' with header_length 2: the format reads 4 bytes");
  EXPECT_EQ(usage_error(4, "L"), "use decoder length_fmt 'L' with header_length 4: the format reads 8 bytes");
  EXPECT_EQ(usage_error(4, "xI"), "use decoder length_fmt 'xI' with header_length 4: the format reads 8 bytes");
  EXPECT_EQ(usage_error(4, "B"), "use decoder length_fmt 'B' with header_length 4: the format reads 1 byte");
  EXPECT_EQ(usage_error(0, ">I"), "use decoder length_fmt '>I' with header_length 0: the format reads 4 bytes");
}

TEST(LengthPrefix, RejectsUnsupportedFormatsWithTheReason) {
  const std::string expected =
      " (expected an optional byte order (@ = < > !), optional 'x' pad bytes and one of B b H h I i L l Q q)";
  EXPECT_EQ(usage_error(4, ">f"),
            "use decoder length_fmt '>f' with header_length 4: unsupported format code 'f'" + expected);
  EXPECT_EQ(usage_error(4, ">HH"),
            "use decoder length_fmt '>HH' with header_length 4: the format must read exactly one integer" + expected);
  EXPECT_EQ(usage_error(4, ">2H"),
            "use decoder length_fmt '>2H' with header_length 4: the format must read exactly one integer" + expected);
  EXPECT_EQ(usage_error(4, ">xxxx"),
            "use decoder length_fmt '>xxxx' with header_length 4: the format reads no integer" + expected);
  EXPECT_EQ(usage_error(4, ""),
            "use decoder length_fmt '' with header_length 4: the format reads no integer" + expected);
  EXPECT_EQ(usage_error(4, ">2"),
            "use decoder length_fmt '>2' with header_length 4: a count must be followed by a format code" + expected);
  EXPECT_EQ(usage_error(12, ">8xI"),
            "use decoder length_fmt '>8xI' with header_length 12: header_length must be from 1 to 8");
}

}  // namespace
}  // namespace roo::io
