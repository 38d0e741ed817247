#include "shrink_request.hpp"

#include "roo/core/error.hpp"

#include <nlohmann/json.hpp>

namespace roo::cli {
namespace {

std::vector<std::string> split_names(const std::string& list) {
  std::vector<std::string> names;
  std::size_t start = 0;
  while (true) {
    std::size_t comma = list.find(',', start);
    std::string name = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (name.empty()) {
      throw core::UsageError("shrink --workers '" + list + "': expected worker names separated by commas");
    }
    names.push_back(name);
    if (comma == std::string::npos) {
      return names;
    }
    start = comma + 1;
  }
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) {
    text += (text.empty() ? "" : ", ") + name;
  }
  return text;
}

std::string workers_counted(std::uint64_t n) { return std::to_string(n) + (n == 1 ? " worker" : " workers"); }

}  // namespace

ShrinkAsk shrink_ask(const std::optional<std::string>& workers, const std::optional<std::uint64_t>& count, bool query) {
  int given = (workers ? 1 : 0) + (count ? 1 : 0) + (query ? 1 : 0);
  if (given != 1) {
    throw core::UsageError("shrink the cluster: give exactly one of --workers, --count and --query");
  }
  ShrinkAsk ask;
  ask.query = query;
  if (workers) {
    ask.workers = split_names(*workers);
  }
  if (count) {
    if (*count == 0) {
      throw core::UsageError("shrink --count 0: expected a number of workers to leave, at least 1");
    }
    ask.count = *count;
  }
  return ask;
}

std::string shrink_request_json(const ShrinkAsk& ask) {
  nlohmann::ordered_json request;
  request["query"] = ask.query;
  request["node_names"] = ask.workers;
  request["node_count"] = ask.count;
  return request.dump();
}

ShrinkAnswer parse_shrink_answer(const std::string& json, const std::string& action) {
  auto refuse = [&action](const std::string& why) {
    return core::Error(action + ": the answer is not a ShrinkQueryResponse (" + why + ")");
  };
  nlohmann::json answer = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!answer.is_object()) {
    throw refuse("not a JSON object");
  }
  auto names = answer.find("node_names");
  auto count = answer.find("node_count");
  if (names == answer.end() || !names->is_array() || count == answer.end() || !count->is_number_unsigned()) {
    throw refuse("expected node_names and node_count");
  }
  ShrinkAnswer result;
  for (const auto& name : *names) {
    if (!name.is_string()) {
      throw refuse("a node name that is not a string");
    }
    result.workers.push_back(name.get<std::string>());
  }
  result.count = count->get<std::uint64_t>();
  return result;
}

std::string describe_shrink(const ShrinkAsk& ask, const ShrinkAnswer& answer) {
  auto leaving = static_cast<std::uint64_t>(answer.workers.size());
  if (ask.query) {
    return leaving == 0 ? "no worker could leave"
                        : "could leave: " + joined(answer.workers) + " (" + workers_counted(leaving) + ")";
  }
  if (leaving == 0) {
    return "no worker can leave";
  }
  std::string line = "shrinking: " + joined(answer.workers) + " will leave (" + workers_counted(leaving);
  if (ask.count > leaving) {
    line += "; " + std::to_string(ask.count) + " were asked for, only " + std::to_string(leaving) + " can leave";
  }
  return line + ")";
}

}  // namespace roo::cli
