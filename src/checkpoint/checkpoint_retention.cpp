// CheckpointStore, the removing side: old checkpoints after a commit, and everything at a clean shutdown.
#include "roo/checkpoint/checkpoint_store.hpp"

#include "durable_file.hpp"
#include "folder_lock.hpp"
#include "manifest.hpp"
#include "store_layout.hpp"

#include "roo/core/error.hpp"
#include "roo/core/logging.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <set>

namespace roo::checkpoint {
namespace {

void remove_file(const std::filesystem::path& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    throw FileError(path, describe_errno(errno));
  }
}

// Drops `worker`'s chain from a manifest; the manifest goes when it names no worker any more.
void drop_worker(Manifest& manifest, const std::filesystem::path& path, const std::string& worker) {
  manifest.erase(worker);
  if (manifest.workers.empty()) {
    remove_file(path);
    return;
  }
  std::string text = manifest_text(manifest);
  write_file_durably(path, path.string() + "." + safe_name(worker) + ".tmp", {text});
}

// Removes every file in `folder` that `keep` does not name (stale temporary files included).
void remove_files_except(const std::filesystem::path& folder, const std::set<std::string>& keep) {
  std::error_code error;
  std::vector<std::filesystem::path> doomed;
  for (std::filesystem::directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) {
    if (!keep.contains(it->path().filename().string())) {
      doomed.push_back(it->path());
    }
  }
  if (error) {
    throw FileError(folder, describe_errno(error.value()));
  }
  for (const std::filesystem::path& path : doomed) {
    // remove_all: a stray directory (a blocked temporary name) goes too.
    std::filesystem::remove_all(path, error);
    if (error) {
      throw FileError(path, describe_errno(error.value()));
    }
  }
}

// Removes this worker's temporary manifests left by a failed or interrupted write (ending in `suffix`).
void remove_stale_temporaries(const std::filesystem::path& folder, const std::string& suffix) {
  std::error_code error;
  std::vector<std::filesystem::path> doomed;
  for (std::filesystem::directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) {
    if (it->path().filename().string().ends_with(suffix)) {
      doomed.push_back(it->path());
    }
  }
  for (const std::filesystem::path& path : doomed) {
    std::filesystem::remove_all(path, error);
    if (error) {
      throw FileError(path, describe_errno(error.value()));
    }
  }
}

}  // namespace

// Keeps checkpoint `checkpoint_id` and the newest older one of this worker. A manifest newer than
// `checkpoint_id` is an abandoned future (this run recovered from before it) and goes too. Failures are logged:
// the checkpoint is complete already, and the next commit removes what is left.
void CheckpointStore::remove_unkept(std::uint64_t checkpoint_id) {
  const std::string& worker = config_.identity.worker_name;
  try {
    FolderLock lock(folder_ / ".lock");
    std::set<std::string> kept_files;
    bool kept_older = false;
    for (const auto& [id, path] : list_manifests(folder_)) {
      std::optional<Manifest> manifest = read_manifest(path);
      if (!manifest) {
        if (id < checkpoint_id) {
          remove_file(path);  // torn, and older than a complete one: worthless
        }
        continue;
      }
      const WorkerChain* chain = manifest->find(worker);
      if (chain == nullptr) {
        continue;
      }
      bool keep = id == checkpoint_id || (id < checkpoint_id && !kept_older);
      if (keep) {
        kept_older = kept_older || id < checkpoint_id;
        for (const ChainFile& file : chain->files) {
          kept_files.insert(file.name);
        }
      } else {
        drop_worker(*manifest, path, worker);
      }
    }
    remove_files_except(worker_folder_, kept_files);
    remove_stale_temporaries(folder_, "." + safe_name(worker) + ".tmp");
    sync_directory(worker_folder_);
    sync_directory(folder_);
  } catch (const FileError& error) {
    core::module_logger("checkpoint")
        ->warn("checkpoint {} is complete, but old checkpoint files stay for now: unable to remove {}: {}",
               checkpoint_id, error.path().string(), error.cause());
  }
}

void CheckpointStore::remove_all() {
  const std::string& worker = config_.identity.worker_name;
  bool folder_unused = true;
  try {
    FolderLock lock(folder_ / ".lock");
    for (const auto& [id, path] : list_manifests(folder_)) {
      std::optional<Manifest> manifest = read_manifest(path);
      if (manifest && manifest->find(worker) != nullptr) {
        drop_worker(*manifest, path, worker);
      }
    }
    remove_files_except(worker_folder_, {});
    if (::rmdir(worker_folder_.c_str()) != 0 && errno != ENOENT) {
      throw FileError(worker_folder_, describe_errno(errno));
    }
    std::error_code error;
    for (std::filesystem::directory_iterator it(folder_, error), end; !error && it != end; it.increment(error)) {
      folder_unused = folder_unused && !it->is_directory();
    }
    if (folder_unused) {
      // No worker's files remain: the manifests left name nothing restorable.
      remove_files_except(folder_, {".lock"});
    }
  } catch (const FileError& error) {
    throw core::Error(fmt::format("remove the checkpoint files of worker '{}' in {}: {}: {}", worker,
                                  folder_.string(), error.path().string(), error.cause()));
  }
  if (folder_unused) {
    ::unlink((folder_ / ".lock").c_str());
    ::rmdir(folder_.c_str());
  }
  chain_.clear();
  chain_ok_ = false;
}

}  // namespace roo::checkpoint
