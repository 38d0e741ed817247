#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace roo::core {

struct JsonMember;

/// Just enough JSON for the external channel: parse the runtime's local answers, merge them across workers and
/// print the result. Numbers, booleans and null keep their original text; object members keep their order.
struct JsonValue {
  enum class Kind { literal, string, array, object };
  Kind kind = Kind::literal;
  std::string text;  ///< literal: as written (`3`, `true`, `null`); string: the decoded value
  std::vector<JsonValue> items;
  std::vector<JsonMember> members;
};

/// One member of a JSON object. (A struct rather than std::pair: clang with libstdc++ refuses a pair holding the
/// still-incomplete JsonValue.)
struct JsonMember {
  std::string key;
  JsonValue value;
};

/// Parses one JSON document (surrounding whitespace allowed); nullopt when it is not valid JSON.
[[nodiscard]] std::optional<JsonValue> parse_json(std::string_view text);

/// Compact JSON text.
[[nodiscard]] std::string to_json(const JsonValue& value);

/// `"text"` with JSON escapes.
[[nodiscard]] std::string json_quote(std::string_view text);

/// Adds `other` into `target`: objects merge member by member (recursively); anywhere else `target` keeps its value.
void merge_json(JsonValue& target, const JsonValue& other);

}  // namespace roo::core
