#include "cluster_layout.hpp"

#include "roo/core/json.hpp"

namespace roo::runtime {

std::string layout_json(const cluster::Membership& membership) {
  nlohmann::ordered_json workers = nlohmann::ordered_json::array();
  nlohmann::ordered_json departed = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < membership.workers.size(); ++i) {
    workers.push_back(membership.workers[i].name);
    departed.push_back(membership.has_departed(i));
  }
  nlohmann::ordered_json layout;
  layout["workers"] = std::move(workers);
  layout["departed"] = std::move(departed);
  layout["key_groups"] = membership.key_groups;
  layout["owners"] = membership.owners;
  layout["version"] = membership.version;
  return core::to_json(layout);
}

std::optional<cluster::Membership> layout_of(std::string_view text) {
  auto layout = core::parse_json(text);
  if (!layout || !layout->is_object()) {
    return std::nullopt;
  }
  cluster::Membership membership;
  try {
    for (const auto& name : layout->at("workers")) {
      membership.workers.push_back(cluster::WorkerInfo{name.get<std::string>(), {}, {}, std::nullopt});
    }
    membership.departed = layout->at("departed").get<std::vector<bool>>();
    membership.key_groups = layout->at("key_groups").get<std::uint32_t>();
    membership.owners = layout->at("owners").get<std::vector<std::uint16_t>>();
    membership.version = layout->at("version").get<std::uint64_t>();
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
  bool owners_fit = membership.owners.empty() || membership.owners.size() == membership.key_groups;
  for (std::uint16_t owner : membership.owners) {
    owners_fit = owners_fit && owner < membership.workers.size() && !membership.has_departed(owner);
  }
  if (membership.workers.empty() || membership.departed.size() != membership.workers.size() ||
      membership.has_departed(0) || membership.key_groups == 0 || !owners_fit) {
    return std::nullopt;
  }
  return membership;
}

}  // namespace roo::runtime
