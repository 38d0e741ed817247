// CheckpointStore, the reading side: which checkpoint is the newest complete one, and its chain read back.
#include "roo/checkpoint/checkpoint_store.hpp"

#include "chain_merge.hpp"
#include "durable_file.hpp"
#include "manifest.hpp"
#include "snapshot_file.hpp"
#include "store_layout.hpp"

#include "roo/core/error.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cerrno>
#include <map>

namespace roo::checkpoint {

std::optional<RecoveryPoint> CheckpointStore::latest_complete(std::vector<std::string>& skipped) {
  chain_.clear();
  chain_ok_ = false;
  std::map<std::uint64_t, std::filesystem::path, std::greater<>> manifests;
  try {
    manifests = list_manifests(folder_);
  } catch (const FileError& error) {
    // Not "no checkpoint": starting from nothing would silently lose the state this folder may hold.
    throw core::Error(fmt::format("restore from {}: {}", folder_.string(), error.cause()));
  }
  for (const auto& [id, path] : manifests) {
    std::string name = path.filename().string();
    std::optional<Manifest> manifest;
    try {
      manifest = read_manifest(path);
    } catch (const FileError& error) {
      skipped.push_back(fmt::format("checkpoint {}: {} cannot be read: {}", id, name, error.cause()));
      continue;
    }
    if (!manifest || manifest->checkpoint_id != id) {
      skipped.push_back(fmt::format("checkpoint {}: {} is not a valid manifest (torn or corrupt)", id, name));
      continue;
    }
    check_identity(manifest->app_name, manifest->fingerprint, path);
    const WorkerChain* chain = manifest->find(config_.identity.worker_name);
    if (chain == nullptr || chain->files.empty()) {
      skipped.push_back(fmt::format("checkpoint {}: {} names no files of worker '{}'", id, name,
                                    config_.identity.worker_name));
      continue;
    }
    std::string problem;
    for (const ChainFile& file : chain->files) {
      problem = problem_of(file);
      if (!problem.empty()) {
        skipped.push_back(fmt::format("checkpoint {}: {} {}", id, file.name, problem));
        break;
      }
    }
    if (!problem.empty()) {
      continue;
    }
    chain_ = chain->files;
    chain_ok_ = true;
    last_id_ = id;
    RecoveryPoint point{.checkpoint_id = id, .chain = {}};
    for (const ChainFile& file : chain_) {
      point.chain.push_back(worker_folder_ / file.name);
    }
    return point;
  }
  return std::nullopt;
}

// What is wrong with one file of a manifest's chain, or "" when it is there and intact.
std::string CheckpointStore::problem_of(const ChainFile& file) const {
  std::filesystem::path path = worker_folder_ / file.name;
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    return errno == ENOENT ? "is missing" : "cannot be read: " + describe_errno(errno);
  }
  auto size = static_cast<std::uint64_t>(info.st_size);
  if (size != file.size) {
    return size < file.size ? fmt::format("is truncated ({} of {} bytes)", size, file.size)
                            : fmt::format("is longer than its manifest says ({} bytes, not {})", size, file.size);
  }
  std::vector<char> bytes;
  try {
    bytes = read_whole_file(path);
  } catch (const FileError& error) {
    return "cannot be read: " + error.cause();
  }
  DecodedSnapshot decoded = decode_snapshot(std::string_view(bytes.data(), bytes.size()));
  if (!decoded.problem.empty()) {
    return decoded.problem;
  }
  if (decoded.crc32 != file.crc32) {
    return "does not match its manifest's CRC-32";
  }
  check_identity(decoded.identity.app_name, decoded.identity.fingerprint, path);
  if (decoded.identity.worker_name != config_.identity.worker_name) {
    throw core::Error(fmt::format("restore from {}: it holds the checkpoint of worker '{}', this is worker '{}'",
                                  path.string(), decoded.identity.worker_name, config_.identity.worker_name));
  }
  return {};
}

void CheckpointStore::check_identity(const std::string& app_name, const std::string& fingerprint,
                                     const std::filesystem::path& where) const {
  if (app_name == config_.identity.app_name && fingerprint == config_.identity.fingerprint) {
    return;
  }
  throw core::Error(fmt::format(
      "restore from {}: it holds checkpoints of app '{}' (fingerprint '{}'), this is app '{}' (fingerprint '{}')",
      where.string(), app_name, fingerprint, config_.identity.app_name, config_.identity.fingerprint));
}

// Holds every file of the chain in memory while merging (the merge keeps views into them).
void CheckpointStore::read(
    const RecoveryPoint& point,
    const std::function<void(std::uint32_t table, std::uint32_t key_group, std::string_view key,
                             std::string_view value)>& on_state,
    const std::function<void(std::uint32_t source, std::string_view position)>& on_source) const {
  std::vector<std::vector<char>> contents;
  contents.reserve(point.chain.size());
  ChainMerge merge;
  for (const std::filesystem::path& path : point.chain) {
    try {
      contents.push_back(read_whole_file(path));
    } catch (const FileError& error) {
      throw core::Error(fmt::format("read checkpoint {}: {}", point.checkpoint_id, error.what()));
    }
    DecodedSnapshot decoded = decode_snapshot(std::string_view(contents.back().data(), contents.back().size()));
    std::string problem = decoded.problem;
    if (problem.empty() && merge.add(decoded.records) != static_cast<std::int64_t>(decoded.record_count)) {
      problem = "holds records that do not decode";
    }
    if (!problem.empty()) {
      throw core::Error(fmt::format("read checkpoint {}: {} {}", point.checkpoint_id, path.string(), problem));
    }
  }
  merge.for_each_state(on_state);
  merge.for_each_source(on_source);
}

}  // namespace roo::checkpoint
