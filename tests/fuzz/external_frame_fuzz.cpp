// libFuzzer target: the bodies of external-channel frames (src/cluster/external_request.*), as the external
// connection hands them over, and the JSON the channel's answers are made of (src/core/json.cpp over nlohmann::json:
// each worker's local answer is parsed, merged with the others' and printed). A request's payload lies inside its
// body; parsing never throws; JSON that parses prints as JSON that parses to the same text, merging never breaks
// that, and any bytes quoted make a JSON string.
#include "external_request.hpp"
#include "fuzz_check.hpp"

#include "roo/core/json.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace roo;
  const char* body = reinterpret_cast<const char*>(data);
  std::string error;
  std::optional<cluster::ExternalRequest> request = cluster::decode_external_request(body, size, error);
  ROO_FUZZ_CHECK(request.has_value() == (size >= 2));
  if (!request) {
    ROO_FUZZ_CHECK(error == "frame of " + std::to_string(size) + " bytes has no message id");
    return 0;
  }
  ROO_FUZZ_CHECK(request->id == ((static_cast<unsigned>(data[0]) << 8) | data[1]));
  ROO_FUZZ_CHECK(request->payload.data() == body + 2 && request->payload.size() == size - 2);

  ROO_FUZZ_CHECK(core::parse_json(core::json_quote(request->payload)).has_value());
  std::optional<nlohmann::ordered_json> value = core::parse_json(request->payload);
  if (!value) {
    return 0;
  }
  const std::string text = core::to_json(*value);
  std::optional<nlohmann::ordered_json> reparsed = core::parse_json(text);
  ROO_FUZZ_CHECK(reparsed.has_value());
  ROO_FUZZ_CHECK(core::to_json(*reparsed) == text);
  // What the initializer does with every worker's answer to a partition query.
  nlohmann::ordered_json merged = nlohmann::ordered_json::object();
  if (value->is_object()) {
    core::merge_json(merged, *value);
    core::merge_json(merged, *reparsed);
    ROO_FUZZ_CHECK(core::parse_json(core::to_json(merged)).has_value());
  }
  return 0;
}
