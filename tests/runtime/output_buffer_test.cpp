#include "output_buffer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace roo::runtime {
namespace {

// Every size around the short-copy paths (0..16 bytes) and past them, appended back to back across growth.
TEST(OutputBuffer, KeepsEveryAppendedByteInOrderAcrossSizesAndGrowth) {
  OutputBuffer out;
  std::string expected;
  for (int round = 0; round < 300; ++round) {
    for (std::size_t size = 0; size <= 40; ++size) {
      std::string piece;
      for (std::size_t i = 0; i < size; ++i) {
        piece.push_back(static_cast<char>('a' + (round * 7 + size * 3 + i) % 26));
      }
      out.append(piece.data(), piece.size());
      expected += piece;
    }
  }
  ASSERT_GT(expected.size(), OutputBuffer::initial_room) << "the test must make the buffer grow";
  EXPECT_EQ(out.size(), expected.size());
  std::vector<char> taken = out.take().values;
  EXPECT_EQ(std::string(taken.begin(), taken.end()), expected);
  EXPECT_TRUE(out.empty());
  out.append("xy\n", 3);
  taken = out.take().values;
  EXPECT_EQ(std::string(taken.begin(), taken.end()), "xy\n") << "room is reused after take()";
}

}  // namespace
}  // namespace roo::runtime
