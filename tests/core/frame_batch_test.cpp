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
