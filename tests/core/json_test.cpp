#include "roo/core/json.hpp"

#include <gtest/gtest.h>

namespace roo::core {
namespace {

std::string roundtrip(std::string_view text) {
  auto value = parse_json(text);
  return value ? to_json(*value) : "invalid";
}

TEST(Json, PrintsCompactlyInTheOrderWritten) {
  EXPECT_EQ(
      roundtrip(R"( { "b" : [1, -2, 18446744073709551615, true, null], "a": {"c": "d\"\\\n\u00e9\ud83d\ude00"} } )"),
      "{\"b\":[1,-2,18446744073709551615,true,null],\"a\":{\"c\":\"d\\\"\\\\\\n\xc3\xa9\xf0\x9f\x98\x80\"}}");
  EXPECT_EQ(roundtrip("[]"), "[]");
  EXPECT_EQ(roundtrip("{}"), "{}");
}

TEST(Json, RejectsInvalidDocumentsWithoutThrowing) {
  for (std::string_view bad : {"", "{", "{\"a\":}", "[1,]", "tru", "{\"a\":1} x", "\"\x01\"", "01x", "{'a':1}",
                               "\"\xff\"", "\"\\ud800\"", "[1] // comment"}) {
    EXPECT_EQ(roundtrip(bad), "invalid") << bad;
  }
}

TEST(Json, RefusesDocumentsNestedPastTheBound) {
  const auto nested = [](int depth, std::string_view inner) {
    return std::string(static_cast<std::size_t>(depth), '[') + std::string(inner) +
           std::string(static_cast<std::size_t>(depth), ']');
  };
  // The top-level value is at depth 0: 65 arrays put the innermost at max_json_depth, and anything in it deeper.
  EXPECT_NE(roundtrip(nested(max_json_depth + 1, "")), "invalid");
  EXPECT_EQ(roundtrip(nested(max_json_depth + 1, "1")), "invalid");
  EXPECT_EQ(roundtrip(nested(max_json_depth + 2, "")), "invalid");
  EXPECT_EQ(roundtrip(nested(100000, "")), "invalid");
}

TEST(Json, MergeUnitesObjectsAndKeepsTheFirstOtherwise) {
  auto target = parse_json(R"({"s":{"k":{"w0":[0]}},"n":1})");
  auto other = parse_json(R"({"s":{"k":{"w1":[1]},"j":{}},"n":2,"m":[3]})");
  ASSERT_TRUE(target && other);
  merge_json(*target, *other);
  EXPECT_EQ(to_json(*target), R"({"s":{"k":{"w0":[0],"w1":[1]},"j":{}},"n":1,"m":[3]})");
}

TEST(Json, QuoteEscapesControlCharactersAndReplacesWhatIsNotUtf8) {
  EXPECT_EQ(json_quote(std::string("a\x01\tb\"\\", 6)), "\"a\\u0001\\tb\\\"\\\\\"");
  EXPECT_EQ(json_quote("\xc3\xa9"), "\"\xc3\xa9\"");
  EXPECT_EQ(json_quote("a\xff"), "\"a\xef\xbf\xbd\"");
  EXPECT_TRUE(parse_json(json_quote("a\xff\xc3")).has_value());
}

}  // namespace
}  // namespace roo::core
