// CheckpointStore, the cluster's side: the initializer's durable record that every worker's part of a checkpoint
// is on disk (the checkpoint is complete only then).
#include "durable_file.hpp"
#include "store_layout.hpp"

#include "roo/checkpoint/checkpoint_store.hpp"
#include "roo/core/error.hpp"

#include <fmt/format.h>

namespace roo::checkpoint {

void CheckpointStore::mark_cluster_complete(std::uint64_t id, std::string_view layout) {
  std::string name = cluster_mark_name(id);
  try {
    write_file_durably(folder_ / name, folder_ / (name + ".tmp"), {layout});
  } catch (const FileError& error) {
    throw core::Error(
        fmt::format("record checkpoint {} as complete in {}: {}", id, error.path().string(), error.cause()));
  }
}

std::string CheckpointStore::cluster_layout(std::uint64_t id) const {
  try {
    std::vector<char> bytes = read_whole_file(folder_ / cluster_mark_name(id));
    return {bytes.begin(), bytes.end()};
  } catch (const FileError&) {
    return {};
  }
}

}  // namespace roo::checkpoint
