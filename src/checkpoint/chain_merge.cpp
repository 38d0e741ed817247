#include "chain_merge.hpp"

#include "roo/checkpoint/record_format.hpp"

namespace roo::checkpoint {

std::int64_t ChainMerge::add(std::string_view records) {
  channels_.clear();
  RecordVisitor visitor{
      .on_state = [](std::uint32_t, std::uint32_t, std::string_view, std::string_view) {},
      .on_source = [this](std::uint32_t source, std::string_view position) { sources_[source] = position; },
      .on_channel = [this](std::uint32_t from, std::string_view bytes) { channels_.emplace_back(from, bytes); },
  };
  std::int64_t count = visit_records(records, visitor);
  if (count >= 0) {
    files_.push_back(records);
  }
  return count;
}

void ChainMerge::for_each_state(const StateVisitor& visit) const {
  if (files_.empty()) {
    return;
  }
  auto ignore_source = [](std::uint32_t, std::string_view) {};
  if (files_.size() == 1) {
    (void)visit_records(files_.front(), RecordVisitor{.on_state = visit, .on_source = ignore_source, .on_channel = {}});
    return;
  }
  // The later files' entries, newest value per key, in first-seen order.
  std::vector<StateEntry> later;
  std::unordered_map<StateKey, std::size_t, StateKeyHash> index;
  for (std::size_t i = 1; i < files_.size(); ++i) {
    (void)visit_records(
        files_[i],
        RecordVisitor{.on_state =
                          [&](std::uint32_t table, std::uint32_t key_group, std::string_view key,
                              std::string_view value) {
                            auto [it, inserted] = index.try_emplace(StateKey{table, key}, later.size());
                            if (inserted) {
                              later.push_back(StateEntry{table, key_group, key, value});
                            } else {
                              later[it->second] = StateEntry{table, key_group, key, value};
                            }
                          },
                      .on_source = ignore_source,
                      .on_channel = {}});
  }
  (void)visit_records(files_.front(),
                      RecordVisitor{.on_state =
                                        [&](std::uint32_t table, std::uint32_t key_group, std::string_view key,
                                            std::string_view value) {
                                          if (!index.contains(StateKey{table, key})) {
                                            visit(table, key_group, key, value);
                                          }
                                        },
                                    .on_source = ignore_source,
                                    .on_channel = {}});
  for (const StateEntry& entry : later) {
    visit(entry.table, entry.key_group, entry.key, entry.value);
  }
}

void ChainMerge::for_each_source(const SourceVisitor& visit) const {
  for (const auto& [source, position] : sources_) {
    visit(source, position);
  }
}

void ChainMerge::for_each_channel(const ChannelVisitor& visit) const {
  for (const auto& [from, bytes] : channels_) {
    visit(from, bytes);
  }
}

}  // namespace roo::checkpoint
