#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace roo::checkpoint {

/// Merges the records of a chain's files, oldest first, into each state entry's newest value (by table and key
/// bytes) and each source's newest position. Holds views into the files' bytes: the caller keeps them alive until
/// it has visited the result. Memory: one entry per distinct key, plus the files themselves.
class ChainMerge {
 public:
  using StateVisitor =
      std::function<void(std::uint32_t table, std::uint32_t key_group, std::string_view key, std::string_view value)>;
  using SourceVisitor = std::function<void(std::uint32_t source, std::string_view position)>;

  /// Adds one file's records (newer than every file added before). Returns the number of records, or -1 when the
  /// body is malformed.
  [[nodiscard]] std::int64_t add(std::string_view records);

  /// Every state entry once, in the order its key first appeared, with its newest value.
  void for_each_state(const StateVisitor& visit) const;
  /// Every source once, by index, with its newest position.
  void for_each_source(const SourceVisitor& visit) const;

 private:
  struct StateKey {
    std::uint32_t table;
    std::string_view key;
    bool operator==(const StateKey&) const = default;
  };
  struct StateKeyHash {
    std::size_t operator()(const StateKey& k) const {
      return std::hash<std::string_view>()(k.key) ^ (std::size_t{k.table} * 0x9e3779b97f4a7c15ULL);
    }
  };
  struct StateEntry {
    std::uint32_t table;
    std::uint32_t key_group;
    std::string_view key;
    std::string_view value;
  };

  std::vector<StateEntry> states_;
  std::unordered_map<StateKey, std::size_t, StateKeyHash> index_;
  std::map<std::uint32_t, std::string_view> sources_;
};

}  // namespace roo::checkpoint
