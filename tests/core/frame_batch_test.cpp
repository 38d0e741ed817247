#include "roo/core/frame_batch.hpp"

#include "roo/core/batch_pool.hpp"

#include <gtest/gtest.h>

namespace roo::core {
namespace {

TEST(FrameBatch, KeepsPayloadsBackToBack) {
  FrameBatch batch;
  batch.append("ab", 2);
  batch.append("", 0);
  batch.append("cde", 3);
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(batch.frame(0), "ab");
  EXPECT_EQ(batch.frame(1), "");
  EXPECT_EQ(batch.frame(2), "cde");
  EXPECT_EQ(batch.payload_bytes(), 5u);
}

// Found by tests/fuzz/frame_parser_fuzz.cpp (UBSan): an empty first payload was copied to the null data() of a new
// batch.
TEST(FrameBatch, AnEmptyFirstPayloadIsCopiedIntoRoom) {
  FrameBatch batch;
  batch.append("", 0);
  EXPECT_NE(batch.bytes.data(), nullptr);
  FrameBatch overread;
  overread.append_overreading("abcd", 0, 4);
  EXPECT_NE(overread.bytes.data(), nullptr);
  ASSERT_EQ(overread.size(), 1u);
  EXPECT_EQ(overread.frame(0), "");
  EXPECT_EQ(overread.payload_bytes(), 0u);
}

TEST(FrameBatch, AppendOverreadingKeepsOnlyThePayloadBytes) {
  // The source has 16 readable bytes, so short payloads are copied as 16-byte blocks; what lands past a payload is
  // overwritten by the next one and never shows in a frame.
  const char source[] = "0123456789abcdefXYZ";
  FrameBatch batch;
  for (std::size_t n = 0; n <= 17; ++n) {
    batch.append_overreading(source, n, 19);
  }
  batch.append("!", 1);
  batch.append_overreading(source + 16, 3, 3);  // too little to read a block: copied exactly
  ASSERT_EQ(batch.size(), 20u);
  for (std::size_t n = 0; n <= 17; ++n) {
    EXPECT_EQ(batch.frame(n), std::string_view(source, n));
  }
  EXPECT_EQ(batch.frame(18), "!");
  EXPECT_EQ(batch.frame(19), "XYZ");
  EXPECT_EQ(batch.payload_bytes(), 153u + 1 + 3);
  batch.clear();
  batch.append_overreading(source, 2, 19);
  EXPECT_EQ(batch.frame(0), "01");
  EXPECT_EQ(batch.payload_bytes(), 2u);
  // No room for a block at the end of `bytes`: the payload is copied exactly, and `bytes` grows only as append does.
  FrameBatch tight;
  tight.bytes.resize(10);
  tight.append_overreading(source, 4, 19);
  tight.append_overreading(source + 4, 6, 15);
  EXPECT_EQ(tight.bytes.size(), 10u);
  EXPECT_EQ(tight.frame(0), "0123");
  EXPECT_EQ(tight.frame(1), "456789");
  tight.append_overreading(source, 1, 19);
  EXPECT_EQ(tight.bytes.size(), 20u);
  EXPECT_EQ(tight.frame(2), "0");
}

TEST(BatchPool, RecyclesBuffersWithTheirCapacity) {
  BatchPool pool(1024, 16);
  FrameBatch batch = pool.acquire();
  EXPECT_GE(batch.bytes.capacity(), 1024u);
  batch.append("xyz", 3);
  const char* storage = batch.bytes.data();
  pool.release(std::move(batch));
  FrameBatch again = pool.acquire();
  EXPECT_TRUE(again.empty());
  EXPECT_EQ(again.bytes.data(), storage);
}

}  // namespace
}  // namespace roo::core
