// CheckpointStore, the reading side: which checkpoint is the newest complete one, and its chain read back.
#include "chain_merge.hpp"
#include "durable_file.hpp"
#include "manifest.hpp"
#include "snapshot_file.hpp"
#include "store_layout.hpp"

#include "roo/checkpoint/checkpoint_store.hpp"
#include "roo/core/error.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <map>
#include <sys/stat.h>

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
    if (config_.cluster_initializer && !marked_or_alone(id, path)) {
      skipped.push_back(fmt::format("checkpoint {}: not complete on every worker", id));
      continue;
    }
    std::optional<RecoveryPoint> point;
    std::string problem = verified_point(id, path, point);
    if (!problem.empty()) {
      skipped.push_back(fmt::format("checkpoint {}: {}", id, problem));
      continue;
    }
    return point;
  }
  return std::nullopt;
}

// A cluster's checkpoint is complete once the initializer marked it; one taken by this worker alone (before it was
// the initializer of a cluster that may grow) names only its chain, and needed no mark.
bool CheckpointStore::marked_or_alone(std::uint64_t id, const std::filesystem::path& manifest_path) const {
  std::error_code ignored;
  if (std::filesystem::exists(folder_ / cluster_mark_name(id), ignored)) {
    return true;
  }
  if (!config_.unmarked_alone || any_cluster_mark()) {
    return false;
  }
  try {
    std::optional<Manifest> manifest = read_manifest(manifest_path);
    return manifest && manifest->workers.size() == 1 && manifest->find(config_.identity.worker_name) != nullptr;
  } catch (const FileError&) {
    return false;
  }
}

bool CheckpointStore::any_cluster_mark() const {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(folder_, error)) {
    if (entry.path().extension() == ".complete") {
      return true;
    }
  }
  return false;
}

std::string CheckpointStore::verified_point(std::uint64_t id, const std::filesystem::path& path,
                                            std::optional<RecoveryPoint>& point) {
  std::string name = path.filename().string();
  std::optional<Manifest> manifest;
  try {
    manifest = read_manifest(path);
  } catch (const FileError& error) {
    return fmt::format("{} cannot be read: {}", name, error.cause());
  }
  if (!manifest || manifest->checkpoint_id != id) {
    return fmt::format("{} is not a valid manifest (torn or corrupt)", name);
  }
  check_identity(manifest->app_name, manifest->fingerprint, path);
  const WorkerChain* chain = manifest->find(config_.identity.worker_name);
  if (chain == nullptr || chain->files.empty()) {
    return fmt::format("{} names no files of worker '{}'", name, config_.identity.worker_name);
  }
  for (const ChainFile& file : chain->files) {
    std::string problem = problem_of(file);
    if (!problem.empty()) {
      return fmt::format("{} {}", file.name, problem);
    }
  }
  chain_ = chain->files;
  chain_ok_ = true;
  last_id_ = id;
  point = RecoveryPoint{.checkpoint_id = id, .chain = {}};
  for (const ChainFile& file : chain_) {
    point->chain.push_back(worker_folder_ / file.name);
  }
  return {};
}

void CheckpointStore::start_over() {
  chain_.clear();
  chain_ok_ = false;
  last_id_ = 0;
}

std::optional<RecoveryPoint> CheckpointStore::point_of(std::uint64_t id, std::string& problem) {
  chain_.clear();
  chain_ok_ = false;
  std::filesystem::path path = folder_ / manifest_file_name(id);
  std::error_code ignored;
  if (!std::filesystem::exists(path, ignored)) {
    problem = fmt::format("{} is missing", path.filename().string());
    return std::nullopt;
  }
  std::optional<RecoveryPoint> point;
  problem = verified_point(id, path, point);
  return point;
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
void CheckpointStore::read(const RecoveryPoint& point,
                           const std::function<void(std::uint32_t table, std::uint32_t key_group, std::string_view key,
                                                    std::string_view value)>& on_state,
                           const std::function<void(std::uint32_t source, std::string_view position)>& on_source,
                           const std::function<void(std::uint32_t from, std::string_view bytes)>& on_channel) const {
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
  if (on_channel) {
    merge.for_each_channel(on_channel);
  }
}

}  // namespace roo::checkpoint
