#include "roo/checkpoint/checkpoint_store.hpp"

#include "chain_merge.hpp"
#include "durable_file.hpp"
#include "folder_lock.hpp"
#include "manifest.hpp"
#include "snapshot_file.hpp"
#include "store_layout.hpp"

#include "roo/core/error.hpp"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace roo::checkpoint {
namespace {

// mkdir that accepts an existing directory; the cause is the OS's.
void make_folder(const std::filesystem::path& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    throw FileError(path, describe_errno(errno));
  }
}

}  // namespace

CheckpointStore::CheckpointStore(StoreConfig config) : config_(std::move(config)) {
  folder_ = config_.dir / (safe_name(config_.identity.app_name) + ".roo-checkpoints");
  worker_folder_ = folder_ / safe_name(config_.identity.worker_name);
  struct stat info {};
  if (::stat(config_.dir.c_str(), &info) != 0) {
    throw core::Error(fmt::format("use checkpoint directory {}: {}", config_.dir.string(), describe_errno(errno)));
  }
  if (!S_ISDIR(info.st_mode)) {
    throw core::Error(fmt::format("use checkpoint directory {}: not a directory", config_.dir.string()));
  }
  try {
    make_folder(folder_);
    make_folder(worker_folder_);
    // The new folders' entries must survive a crash as much as the files in them.
    sync_directory(config_.dir);
    sync_directory(folder_);
  } catch (const FileError& error) {
    throw core::Error(fmt::format("use checkpoint directory {}: {}", config_.dir.string(), error.cause()));
  }
}

CheckpointStore::~CheckpointStore() = default;

void CheckpointStore::claim() {
  try {
    owner_ = std::make_unique<FolderLock>(folder_ / (".owner-" + safe_name(config_.identity.worker_name)),
                                          FolderLock::TryOnly{});
  } catch (const FileError& error) {
    throw core::Error(fmt::format("use checkpoint directory {}: {}", config_.dir.string(), error.cause()));
  }
  if (!owner_->held()) {
    throw core::Error(fmt::format(
        "use checkpoint directory {}: worker '{}' of app '{}' is running already with these files (another process "
        "holds {})",
        config_.dir.string(), config_.identity.worker_name, config_.identity.app_name,
        (folder_ / (".owner-" + safe_name(config_.identity.worker_name))).string()));
  }
}

bool CheckpointStore::needs_full() const { return !chain_ok_; }

CommitResult CheckpointStore::write_and_commit(const Snapshot& snapshot) {
  auto started = std::chrono::steady_clock::now();
  std::uint64_t id = snapshot.checkpoint_id();
  if (!snapshot.full() && needs_full()) {
    throw core::Error(fmt::format("write checkpoint {} to {}: it is incremental, and there is no complete chain "
                                  "to add it to (the next snapshot must be full)",
                                  id, worker_folder_.string()));
  }
  if (id <= last_id_) {
    throw core::Error(fmt::format("write checkpoint {} to {}: checkpoint {} is already there (ids must grow)", id,
                                  worker_folder_.string(), last_id_));
  }
  // Until this commit succeeds its changes are in no complete checkpoint: a failure leaves needs_full() true.
  chain_ok_ = false;
  CommitResult result{.checkpoint_id = id, .state_entries = snapshot.state_entries()};
  std::vector<ChainFile> chain = snapshot.full() ? std::vector<ChainFile>{} : chain_;
  std::filesystem::path writing;
  std::vector<std::filesystem::path> written;  // this attempt's files: no manifest names them until it succeeds
  try {
    chain.push_back(write_snapshot(snapshot, writing));
    written.push_back(writing);
    result.bytes_written += chain.back().size;
    if (!config_.compact_separately && needs_compaction(chain)) {
      chain = {compact(chain, id, writing)};
      written.push_back(writing);
      result.bytes_written += chain.back().size;
      result.compacted = true;
    }
    result.bytes_written += commit_manifest(id, chain);
  } catch (const FileError& error) {
    // Give a full disk its space back; what cannot be removed now goes with the next commit's old files.
    for (const std::filesystem::path& path : written) {
      ::unlink(path.c_str());
    }
    throw core::Error(fmt::format("write checkpoint {} to {}: {}", id, error.path().string(), error.cause()));
  }
  chain_ = std::move(chain);
  chain_ok_ = true;
  last_id_ = id;
  remove_unkept(id);
  result.took = std::chrono::steady_clock::now() - started;
  return result;
}

std::size_t CheckpointStore::compact_if_needed() {
  if (!chain_ok_ || !needs_compaction(chain_)) {
    return 0;
  }
  std::filesystem::path writing;
  std::vector<ChainFile> chain;
  std::size_t bytes = 0;
  try {
    chain = {compact(chain_, last_id_, writing)};
    bytes = chain.front().size + commit_manifest(last_id_, chain);
  } catch (const FileError& error) {
    if (!chain.empty()) {
      ::unlink((worker_folder_ / chain.front().name).c_str());
    }
    throw core::Error(fmt::format("compact checkpoint {} in {}: {}", last_id_, error.path().string(), error.cause()));
  }
  chain_ = std::move(chain);
  remove_unkept(last_id_);
  return bytes;
}

ChainFile CheckpointStore::write_snapshot(const Snapshot& snapshot, std::filesystem::path& writing) {
  EncodedSnapshot encoded = encode_snapshot(snapshot, config_.identity);
  ChainFile file{.name = snapshot_file_name(snapshot.checkpoint_id(), snapshot.full()),
                 .size = encoded.size,
                 .crc32 = encoded.crc32};
  writing = worker_folder_ / file.name;
  const std::vector<char>& records = snapshot.records();
  write_file_durably(writing, worker_folder_ / (file.name + ".tmp"),
                     {std::string_view(encoded.header.data(), encoded.header.size()),
                      std::string_view(records.data(), records.size()),
                      std::string_view(encoded.trailer.data(), encoded.trailer.size())});
  return file;
}

bool CheckpointStore::needs_compaction(const std::vector<ChainFile>& chain) const {
  if (chain.size() < 2) {
    return false;
  }
  std::uint64_t delta_bytes = 0;
  for (std::size_t i = 1; i < chain.size(); ++i) {
    delta_bytes += chain[i].size;
  }
  return chain.size() > config_.max_chain || delta_bytes > chain.front().size;
}

// Runs on the writer thread: the chain's files are read back (they are in the page cache, just written) rather
// than kept in memory between checkpoints.
ChainFile CheckpointStore::compact(const std::vector<ChainFile>& chain, std::uint64_t checkpoint_id,
                                   std::filesystem::path& writing) {
  std::vector<std::vector<char>> contents;
  ChainMerge merge;
  for (const ChainFile& file : chain) {
    writing = worker_folder_ / file.name;
    contents.push_back(read_whole_file(writing));
    DecodedSnapshot decoded = decode_snapshot(std::string_view(contents.back().data(), contents.back().size()));
    if (!decoded.problem.empty() || decoded.crc32 != file.crc32 || merge.add(decoded.records) < 0) {
      throw FileError(writing, decoded.problem.empty() ? "its records do not verify" : decoded.problem);
    }
  }
  Snapshot full(checkpoint_id, true);
  merge.for_each_state([&](std::uint32_t table, std::uint32_t key_group, std::string_view key,
                           std::string_view value) { full.add_state(table, key_group, key, value); });
  merge.for_each_source([&](std::uint32_t source, std::string_view position) {
    full.add_source_position(source, position);
  });
  merge.for_each_channel([&](std::uint32_t from, std::string_view bytes) { full.add_channel_batch(from, bytes); });
  return write_snapshot(full, writing);
}

std::size_t CheckpointStore::commit_manifest(std::uint64_t checkpoint_id, const std::vector<ChainFile>& chain) {
  FolderLock lock(folder_ / ".lock");
  std::filesystem::path path = folder_ / manifest_file_name(checkpoint_id);
  // Another worker sharing this folder may have written its part of the same checkpoint already.
  Manifest manifest;
  std::error_code ignored;
  if (std::filesystem::exists(path, ignored)) {
    try {
      manifest = read_manifest(path).value_or(Manifest{});
    } catch (const FileError&) {
      manifest = Manifest{};  // unreadable: replaced whole
    }
  }
  if (manifest.app_name != config_.identity.app_name || manifest.fingerprint != config_.identity.fingerprint) {
    manifest = Manifest{};
  }
  manifest.app_name = config_.identity.app_name;
  manifest.fingerprint = config_.identity.fingerprint;
  manifest.checkpoint_id = checkpoint_id;
  manifest.set(config_.identity.worker_name, chain);
  std::string text = manifest_text(manifest);
  std::string temporary = path.filename().string() + "." + safe_name(config_.identity.worker_name) + ".tmp";
  write_file_durably(path, folder_ / temporary, {text});
  return text.size();
}

}  // namespace roo::checkpoint
