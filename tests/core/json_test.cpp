#include "roo/core/json.hpp"

#include <gtest/gtest.h>

namespace roo::core {
namespace {

std::string roundtrip(std::string_view text) {
  auto value = parse_json(text);
  return value ? to_json(*value) : "invalid";
}

TEST(ClusterJson, ParsesAndPrintsCompactly) {
  EXPECT_EQ(roundtrip(R"( { "a" : [1, -2.5e3, true, null], "b": {"c": "d\"\\\n\u00e9\ud83d\ude00"} } )"),
            "{\"a\":[1,-2.5e3,true,null],\"b\":{\"c\":\"d\\\"\\\\\\n\xc3\xa9\xf0\x9f\x98\x80\"}}");
  EXPECT_EQ(roundtrip("[]"), "[]");
  EXPECT_EQ(roundtrip("{}"), "{}");
}

TEST(ClusterJson, RejectsInvalidDocuments) {
  for (std::string_view bad : {"", "{", "{\"a\":}", "[1,]", "tru", "{\"a\":1} x", "\"\x01\"", "01x", "{'a':1}"}) {
    EXPECT_EQ(roundtrip(bad), "invalid") << bad;
  }
}

TEST(ClusterJson, MergeUnitesObjectsAndKeepsTheFirstOtherwise) {
  auto target = parse_json(R"({"s":{"k":{"w0":[0]}},"n":1})");
  auto other = parse_json(R"({"s":{"k":{"w1":[1]},"j":{}},"n":2,"m":[3]})");
  ASSERT_TRUE(target && other);
  merge_json(*target, *other);
  EXPECT_EQ(to_json(*target), R"({"s":{"k":{"w0":[0],"w1":[1]},"j":{}},"n":1,"m":[3]})");
}

TEST(ClusterJson, QuoteEscapesControlCharacters) {
  EXPECT_EQ(json_quote(std::string("a\x01\tb", 4)), "\"a\\u0001\\tb\"");
}

}  // namespace
}  // namespace roo::core
