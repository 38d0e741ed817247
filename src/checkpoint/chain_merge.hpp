#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace roo::checkpoint {

/// Merges the records of a chain's files, oldest first, into each state entry's newest value (by table and key
/// bytes), each source's newest position, and the newest file's channel batches. Holds views into the files'
/// bytes: the caller keeps them alive until it has visited the result.
///
/// Only the incremental files are indexed: the full file at the chain's start (nearly all of a large state) is
/// streamed once, skipping the keys a later file replaces. Memory: one entry per key in the incremental files.
class ChainMerge {
 public:
  using StateVisitor =
      std::function<void(std::uint32_t table, std::uint32_t key_group, std::string_view key, std::string_view value)>;
  using SourceVisitor = std::function<void(std::uint32_t source, std::string_view position)>;
  using ChannelVisitor = std::function<void(std::uint32_t from, std::string_view bytes)>;

  /// Adds one file's records (newer than every file added before). Returns the number of records, or -1 when the
  /// body is malformed.
  [[nodiscard]] std::int64_t add(std::string_view records);

  /// Every state entry once, with its newest value: the first file's entries not replaced later, in file order,
  /// then the later files' entries in the order their key first appeared there.
  void for_each_state(const StateVisitor& visit) const;
  /// Every source once, by index, with its newest position.
  void for_each_source(const SourceVisitor& visit) const;
  /// The channel batches of the newest file added, in order (older files' belong to older checkpoints).
  void for_each_channel(const ChannelVisitor& visit) const;

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

  std::vector<std::string_view> files_;
  std::map<std::uint32_t, std::string_view> sources_;
  std::vector<std::pair<std::uint32_t, std::string_view>> channels_;
};

}  // namespace roo::checkpoint
