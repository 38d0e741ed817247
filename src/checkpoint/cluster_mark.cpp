// CheckpointStore, the cluster's side: the initializer's durable record that every worker's part of a checkpoint
// is on disk (the checkpoint is complete only then).
#include "roo/checkpoint/checkpoint_store.hpp"

#include "durable_file.hpp"
#include "store_layout.hpp"

#include "roo/core/error.hpp"

#include <fmt/format.h>

namespace roo::checkpoint {

void CheckpointStore::mark_cluster_complete(std::uint64_t id, const std::vector<std::string>& workers) {
  std::string text;
  for (const auto& worker : workers) {
    text += worker + "\n";
  }
  std::string name = cluster_mark_name(id);
  try {
    write_file_durably(folder_ / name, folder_ / (name + ".tmp"), {text});
  } catch (const FileError& error) {
    throw core::Error(fmt::format("record checkpoint {} as complete in {}: {}", id, error.path().string(),
                                  error.cause()));
  }
}

}  // namespace roo::checkpoint
