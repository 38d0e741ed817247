#include "connector_sink_rules.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <utility>

namespace roo::io {
namespace {

constexpr std::string_view checkpoint_marker = ":c_id=";

}  // namespace

std::string transaction_id(std::string_view stream_name, std::uint64_t checkpoint) {
  return fmt::format("{}{}{}", stream_name, checkpoint_marker, checkpoint);
}

std::optional<std::uint64_t> checkpoint_of(std::string_view txn_id, std::string_view stream_name) {
  if (txn_id.size() <= stream_name.size() + checkpoint_marker.size() || !txn_id.starts_with(stream_name) ||
      txn_id.substr(stream_name.size(), checkpoint_marker.size()) != checkpoint_marker) {
    return std::nullopt;
  }
  std::string_view digits = txn_id.substr(stream_name.size() + checkpoint_marker.size());
  std::uint64_t checkpoint = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), checkpoint);
  if (error != std::errc() || end != digits.data() + digits.size()) {
    return std::nullopt;
  }
  return checkpoint;
}

std::vector<connector::Phase2> resolve_uncommitted(const std::vector<std::string>& txn_ids,
                                                   std::string_view stream_name, std::uint64_t last_complete,
                                                   const std::vector<std::uint64_t>& open_prepared) {
  std::vector<std::pair<std::uint64_t, const std::string*>> commits;
  std::vector<std::pair<std::uint64_t, const std::string*>> aborts;
  for (const std::string& id : txn_ids) {
    std::optional<std::uint64_t> checkpoint = checkpoint_of(id, stream_name);
    if (!checkpoint) {
      continue;
    }
    if (*checkpoint <= last_complete) {
      commits.emplace_back(*checkpoint, &id);
    } else if (std::find(open_prepared.begin(), open_prepared.end(), *checkpoint) == open_prepared.end()) {
      aborts.emplace_back(*checkpoint, &id);
    }
  }
  std::sort(commits.begin(), commits.end());
  std::sort(aborts.begin(), aborts.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<connector::Phase2> decisions;
  decisions.reserve(commits.size() + aborts.size());
  for (const auto& [checkpoint, id] : commits) {
    decisions.push_back(connector::Phase2{.txn_id = *id, .commit = true});
  }
  for (const auto& [checkpoint, id] : aborts) {
    decisions.push_back(connector::Phase2{.txn_id = *id, .commit = false});
  }
  return decisions;
}

}  // namespace roo::io
