#pragma once

#include "roo/checkpoint/checkpoint_store.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace roo::checkpoint {

/// The chain of one worker in a manifest.
struct WorkerChain {
  std::string worker;
  std::vector<ChainFile> files;  ///< oldest (the full snapshot) first
};

/// One complete checkpoint: whose it is and, per worker, the files to restore it from. Written last (the
/// checkpoint is complete once it is renamed into place). JSON:
///   {"format":1,"app":"…","fingerprint":"…","checkpoint":12,
///    "workers":[{"worker":"w1","files":[{"name":"snapshot-…12.full","size":345,"crc32":123456}]}]}
struct Manifest {
  std::string app_name;
  std::string fingerprint;
  std::uint64_t checkpoint_id = 0;
  std::vector<WorkerChain> workers;

  /// `worker`'s chain, or nullptr.
  [[nodiscard]] const WorkerChain* find(std::string_view worker) const;
  /// Sets (or adds) `worker`'s chain.
  void set(std::string_view worker, std::vector<ChainFile> files);
  /// Removes `worker`'s chain; true when it was there.
  bool erase(std::string_view worker);
};

[[nodiscard]] std::string manifest_text(const Manifest& manifest);

/// nullopt when `text` is not a manifest (not JSON, or a member missing or of the wrong kind).
[[nodiscard]] std::optional<Manifest> parse_manifest(std::string_view text);

/// "manifest-00000000000000000012.json".
[[nodiscard]] std::string manifest_file_name(std::uint64_t checkpoint_id);
/// The id in a manifest's file name; nullopt for any other name.
[[nodiscard]] std::optional<std::uint64_t> manifest_id(std::string_view file_name);

}  // namespace roo::checkpoint
