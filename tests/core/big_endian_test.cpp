#include "roo/core/big_endian.hpp"

#include <gtest/gtest.h>

namespace roo::core {
namespace {

TEST(BigEndian, LoadsAndStoresNetworkByteOrder) {
  char bytes[8];
  store_u32_be(bytes, 0x01020304u);
  EXPECT_EQ(std::string(bytes, 4), std::string("\x01\x02\x03\x04", 4));
  EXPECT_EQ(load_u32_be(bytes), 0x01020304u);
  store_u16_be(bytes, 0xABCD);
  EXPECT_EQ(load_u16_be(bytes), 0xABCD);
  store_u64_be(bytes, 0x0102030405060708ull);
  EXPECT_EQ(std::string(bytes, 8), std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  EXPECT_EQ(load_u64_be(bytes), 0x0102030405060708ull);
}

TEST(BigEndian, ReaderReadsWhatTheWriterWrote) {
  BigEndianWriter writer;
  writer.u8(7).u16(513).u32(70000).u64(1ull << 40).str("hello").raw("ab");
  auto bytes = writer.take();
  BigEndianReader reader(bytes.data(), bytes.size());
  EXPECT_EQ(reader.u8(), 7);
  EXPECT_EQ(reader.u16(), 513);
  EXPECT_EQ(reader.u32(), 70000u);
  EXPECT_EQ(reader.u64(), 1ull << 40);
  EXPECT_EQ(reader.str(), "hello");
  EXPECT_EQ(reader.raw(2), "ab");
  EXPECT_TRUE(reader.ok_and_done());
}

TEST(BigEndian, ReaderFailsSoftlyPastTheEnd) {
  // A string announcing 4 GiB in a 6-byte body: nothing is allocated, the read fails.
  std::string body("\xff\xff\xff\xff" "ab", 6);
  BigEndianReader reader(body);
  EXPECT_EQ(reader.str(), "");
  EXPECT_FALSE(reader.ok());
  EXPECT_EQ(reader.u32(), 0u);
  EXPECT_FALSE(reader.ok_and_done());
  BigEndianReader leftover(std::string_view("\0\1x", 3));
  EXPECT_EQ(leftover.u16(), 1);
  EXPECT_FALSE(leftover.ok_and_done());
}

}  // namespace
}  // namespace roo::core
