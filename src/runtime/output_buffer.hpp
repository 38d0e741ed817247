#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

#include "roo/io/record_batch.hpp"

namespace roo::runtime {

/// Encoded output for one sink, filled event by event on the Python executor and handed over whole. Appending is
/// a bounds check and a memcpy into room made ahead (vector::insert and resize cost ~100 instructions per small
/// output, measured by bench/callgrind).
class OutputBuffer {
 public:
  static constexpr std::size_t initial_room = 64 * 1024;

  OutputBuffer() : bytes_(initial_room) {}

  /// Inlined into the runner's emit (a call cost ~20 instructions of register saving per output); growing is not.
  [[gnu::always_inline]] void append(const char* data, std::size_t size) {
    if (bytes_.size() - used_ < size) [[unlikely]] {
      grow(size);
    }
    char* at = bytes_.data() + used_;
    if (size <= small) {
      // Most outputs are a short line: fixed-size copies the compiler inlines instead of a call into libc's memcpy.
      copy_short(at, data, size);
    } else {
      std::memcpy(at, data, size);
    }
    used_ += size;
  }

  /// One record for a sink that takes records (Kafka): the value's bytes, then where it ends and what else it has.
  /// Not on the byte-stream path. `headers` is already in RecordBatch's header encoding.
  void append_record(std::string_view value, const std::string_view* key, std::int32_t partition,
                     std::string_view headers, std::int64_t time_ms) {
    append(value.data(), value.size());
    io::RecordBatch::Record record;
    record.value_end = static_cast<std::uint32_t>(used_);
    if (key != nullptr) {
      record.has_key = true;
      keys_.insert(keys_.end(), key->begin(), key->end());
    }
    record.key_end = static_cast<std::uint32_t>(keys_.size());
    headers_.insert(headers_.end(), headers.begin(), headers.end());
    record.headers_end = static_cast<std::uint32_t>(headers_.size());
    record.partition = partition;
    record.time_ms = time_ms;
    records_.push_back(record);
  }

  [[nodiscard]] bool empty() const { return used_ == 0 && records_.empty(); }
  [[nodiscard]] std::size_t size() const { return used_; }
  [[nodiscard]] const char* data() const { return bytes_.data(); }

  /// A copy of the outputs so far (exactly), leaving this empty. The room stays: handing over often (every few
  /// events at low load) must not cost a fresh, zero-filled buffer each time.
  [[nodiscard]] io::RecordBatch take() {
    io::RecordBatch out;
    out.values.assign(bytes_.data(), bytes_.data() + used_);
    used_ = 0;
    if (!records_.empty()) {
      out.records = std::exchange(records_, {});
      out.keys = std::exchange(keys_, {});
      out.headers = std::exchange(headers_, {});
      // The next batch is likely the size of this one: one allocation each instead of a dozen doublings, whose
      // copies and frees cost most when the batches are freed on another thread (a transactional sink's, at commit).
      // Not past a hand-over's usual size: after a burst (a window's firing) the next small batch would keep the room.
      records_.reserve(std::min(out.records.size(), reserved_records_at_most));
      keys_.reserve(std::min(out.keys.size(), reserved_bytes_at_most));
      headers_.reserve(std::min(out.headers.size(), reserved_bytes_at_most));
    }
    return out;
  }

 private:
  static constexpr std::size_t small = 16;
  static constexpr std::size_t reserved_records_at_most = 8192;  // twice the worker's events per hand-over
  static constexpr std::size_t reserved_bytes_at_most = 256 * 1024;

  [[gnu::noinline]] void grow(std::size_t size) { bytes_.resize(std::max(bytes_.size() * 2, used_ + size)); }

  /// Copies size <= 16 bytes with two fixed-size moves that may overlap each other, never past `size`.
  static void copy_short(char* to, const char* from, std::size_t size) {
    if (size >= 8) {
      copy_ends<std::uint64_t>(to, from, size);
    } else if (size >= 4) {
      copy_ends<std::uint32_t>(to, from, size);
    } else {
      for (std::size_t i = 0; i < size; ++i) {
        to[i] = from[i];
      }
    }
  }

  /// The first and the last sizeof(Word) bytes of from[0, size), for sizeof(Word) <= size <= 2 * sizeof(Word).
  template <class Word>
  static void copy_ends(char* to, const char* from, std::size_t size) {
    Word head = 0;
    Word tail = 0;
    std::memcpy(&head, from, sizeof(Word));
    std::memcpy(&tail, from + size - sizeof(Word), sizeof(Word));
    std::memcpy(to, &head, sizeof(Word));
    std::memcpy(to + size - sizeof(Word), &tail, sizeof(Word));
  }

  std::vector<char> bytes_;  ///< size() is the room; the first used_ bytes are output
  std::size_t used_ = 0;
  std::vector<io::RecordBatch::Record> records_;  ///< record sinks only, one per output
  std::vector<char> keys_;
  std::vector<char> headers_;
};

}  // namespace roo::runtime
