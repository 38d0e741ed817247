#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace roo::core {

// Roo's JSON is nlohmann::json; these are the few rules Roo adds around it. Roo uses
// nlohmann::ordered_json throughout: object members keep the order they were written or parsed in, so answers keep
// Wallaroo's member order and a checkpoint manifest keeps its layout.

/// How deep parse_json lets a document nest: the top-level value is at depth 0, the values inside it at 1, and so on.
inline constexpr int max_json_depth = 64;

/// Parses one JSON document from untrusted text (surrounding whitespace allowed). nullopt when it is not JSON (text
/// that is not UTF-8 included) or nests deeper than max_json_depth. Never throws.
[[nodiscard]] std::optional<nlohmann::ordered_json> parse_json(std::string_view text);

/// Compact JSON text (no spaces, non-ASCII as UTF-8). Bytes of a string that are not UTF-8 become U+FFFD, where
/// nlohmann's dump() would throw. Integers print exactly (a uint64 round-trips).
[[nodiscard]] std::string to_json(const nlohmann::ordered_json& value);

/// `text` as a JSON string, quotes included (to_json of it), for JSON built as text.
[[nodiscard]] std::string json_quote(std::string_view text);

/// Adds `other` into `target`: objects merge member by member (recursively); anywhere else `target` keeps its value.
void merge_json(nlohmann::ordered_json& target, const nlohmann::ordered_json& other);

}  // namespace roo::core
