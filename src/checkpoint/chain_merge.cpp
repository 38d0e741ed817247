#include "chain_merge.hpp"

#include "record_format.hpp"

namespace roo::checkpoint {

std::int64_t ChainMerge::add(std::string_view records) {
  RecordVisitor visitor{
      .on_state =
          [this](std::uint32_t table, std::uint32_t key_group, std::string_view key, std::string_view value) {
            auto [it, inserted] = index_.try_emplace(StateKey{table, key}, states_.size());
            if (inserted) {
              states_.push_back(StateEntry{table, key_group, key, value});
            } else {
              states_[it->second] = StateEntry{table, key_group, key, value};
            }
          },
      .on_source = [this](std::uint32_t source, std::string_view position) { sources_[source] = position; },
  };
  return visit_records(records, visitor);
}

void ChainMerge::for_each_state(const StateVisitor& visit) const {
  for (const StateEntry& entry : states_) {
    visit(entry.table, entry.key_group, entry.key, entry.value);
  }
}

void ChainMerge::for_each_source(const SourceVisitor& visit) const {
  for (const auto& [source, position] : sources_) {
    visit(source, position);
  }
}

}  // namespace roo::checkpoint
