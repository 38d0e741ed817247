#include "roo/core/json.hpp"

namespace roo::core {

std::optional<nlohmann::ordered_json> parse_json(std::string_view text) {
  // The callback sees every value, key and bracket with its depth; past the bound, the document is refused.
  bool too_deep = false;
  auto bound_depth = [&too_deep](int depth, nlohmann::ordered_json::parse_event_t, nlohmann::ordered_json&) {
    too_deep = too_deep || depth > max_json_depth;
    return !too_deep;
  };
  constexpr bool allow_exceptions = false;  // a parse error returns a discarded value instead
  nlohmann::ordered_json value = nlohmann::ordered_json::parse(text, bound_depth, allow_exceptions);
  if (value.is_discarded() || too_deep) {
    return std::nullopt;
  }
  return value;
}

std::string to_json(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string json_quote(std::string_view text) { return to_json(nlohmann::ordered_json(text)); }

void merge_json(nlohmann::ordered_json& target, const nlohmann::ordered_json& other) {
  if (!target.is_object() || !other.is_object()) {
    return;
  }
  for (const auto& [key, value] : other.items()) {
    auto existing = target.find(key);
    if (existing == target.end()) {
      target[key] = value;
    } else {
      merge_json(*existing, value);
    }
  }
}

}  // namespace roo::core
