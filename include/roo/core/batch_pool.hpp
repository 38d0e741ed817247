#pragma once

#include "roo/core/frame_batch.hpp"

#include <cstddef>
#include <mutex>
#include <vector>

namespace roo::core {

/// Recycles FrameBatch buffers between sources (which fill them) and the executor (which empties them),
/// so steady-state traffic allocates nothing. Thread-safe; one lock per batch.
class BatchPool {
 public:
  explicit BatchPool(std::size_t reserve_bytes = 64 * 1024, std::size_t reserve_frames = 4096)
      : reserve_bytes_(reserve_bytes), reserve_frames_(reserve_frames) {}

  [[nodiscard]] FrameBatch acquire() {
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        FrameBatch batch = std::move(free_.back());
        free_.pop_back();
        return batch;
      }
    }
    FrameBatch batch;
    batch.bytes.resize(reserve_bytes_);
    batch.ends.reserve(reserve_frames_);
    return batch;
  }

  void release(FrameBatch&& batch) {
    batch.clear();
    std::lock_guard lock(mutex_);
    if (free_.size() < max_free_) {
      free_.push_back(std::move(batch));
    }
  }

 private:
  std::size_t reserve_bytes_;
  std::size_t reserve_frames_;
  std::size_t max_free_ = 256;
  std::mutex mutex_;
  std::vector<FrameBatch> free_;
};

}  // namespace roo::core
