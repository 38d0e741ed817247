#include "retained_output.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace roo::io {
namespace {

std::vector<char> bytes_of(const std::string& text) { return {text.begin(), text.end()}; }

std::string gathered_text(const std::vector<boost::asio::const_buffer>& buffers) {
  std::string out;
  for (const auto& b : buffers) {
    out.append(static_cast<const char*>(b.data()), b.size());
  }
  return out;
}

TEST(RetainedOutput, KeepsWrittenBuffersUntilAcknowledgedBeyondTheMargin) {
  RetainedOutput output;
  output.push(bytes_of("aaaa"));  // stream 0..4
  output.push(bytes_of("bbbb"));  // 4..8
  output.push(bytes_of("cccc"));  // 8..12
  std::vector<boost::asio::const_buffer> gathered;
  EXPECT_EQ(output.gather(gathered, 2), 2U);
  EXPECT_EQ(gathered_text(gathered), "aaaabbbb");
  output.mark_written(2);
  EXPECT_EQ(output.write_position(), 8U);
  EXPECT_TRUE(output.has_unwritten());
  // Acknowledged up to 8, keeping 4: only "aaaa" ends at or before 4.
  EXPECT_EQ(output.release_acknowledged(8, 4), 4U);
  EXPECT_EQ(output.front_position(), 4U);
  EXPECT_EQ(output.bytes(), 8U);
  // A buffer not yet written is never released, whatever the acknowledgement says.
  EXPECT_EQ(output.release_acknowledged(12, 0), 4U);
  EXPECT_EQ(output.front_position(), 8U);
  EXPECT_EQ(output.gather(gathered, 10), 1U);
  EXPECT_EQ(gathered_text(gathered), "cccc");
}

TEST(RetainedOutput, RewindWritesEverythingKeptAgainFromTheOldestBuffer) {
  RetainedOutput output;
  output.push(bytes_of("one|"));
  output.push(bytes_of("two|"));
  output.push(bytes_of("three|"));
  std::vector<boost::asio::const_buffer> gathered;
  output.mark_written(output.gather(gathered, 64));
  EXPECT_FALSE(output.has_unwritten());
  EXPECT_EQ(output.release_acknowledged(6, 0), 4U);  // "two|" is only partly acknowledged: kept whole
  EXPECT_EQ(output.rewind(), 4U);
  EXPECT_TRUE(output.has_unwritten());
  output.gather(gathered, 64);
  EXPECT_EQ(gathered_text(gathered), "two|three|");
  EXPECT_EQ(output.end_position(), 14U);
  EXPECT_EQ(output.clear(), 10U);
  EXPECT_TRUE(output.empty());
  EXPECT_EQ(output.front_position(), 14U);
}

}  // namespace
}  // namespace roo::io
