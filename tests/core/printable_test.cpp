#include "roo/core/printable.hpp"

#include <gtest/gtest.h>

namespace roo::core {
namespace {

TEST(Printable, ControlCharactersBecomeEscapes) {
  EXPECT_EQ(printable("a\nb\rc\td\\e\x1b[2J\x7f"), "a\\nb\\rc\\td\\\\e\\x1b[2J\\x7f");
  EXPECT_EQ(printable("plain text, ünïcode"), "plain text, ünïcode");
}

TEST(Printable, LongTextIsCutAndCounted) {
  EXPECT_EQ(printable(std::string(10, 'x'), 4), "xxxx ... (6 more bytes)");
}

}  // namespace
}  // namespace roo::core
