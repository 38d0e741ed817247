#pragma once

#include "roo/core/clock.hpp"
#include "roo/core/executor_input.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

namespace roo::core {

/// Payloads of complete frames from one source, back to back in one buffer, so that a source hands the
/// Python executor many events for the cost of one queue operation and no per-event allocation. It is the message a
/// source sends the executor (core/executor_input.hpp): its data batch, with the source's news riding in it.
/// Batches are recycled through a BatchPool: clear() keeps the room.
struct FrameBatch {
  /// append_overreading copies a payload this short as one fixed-size block when the source can be read and `bytes`
  /// has room that far (a couple of inlined instructions rather than a call to libc's memcpy).
  static constexpr std::size_t block_bytes = 16;

  std::uint32_t source = 0;         ///< index of the source in the plan that produced these frames
  /// Which start of that source produced them: a rollback restarts a replayable source at the checkpoint's
  /// position, and the batches its previous start left queued are dropped.
  std::uint32_t generation = 0;
  std::vector<char> bytes;          ///< room for payloads; the first payload_bytes() hold them back to back
  std::vector<std::uint32_t> ends;  ///< end offset in `bytes` of each payload
  /// Stream sources (TCP): which connection of the source produced the frames: a number of its own for the source's
  /// lifetime (the source counts its connections), the same on every batch of that connection. 0 for other sources.
  std::uint32_t channel = 0;
  /// When the source handed the batch to the executor (steady clock, ns; 0: not known): where an event's
  /// start-to-end latency begins (docs/metrics.md).
  std::int64_t received_ns = 0;
  /// Message sources (Kafka): news about the source's inputs (partitions started, assigned, quiet) that keeps its
  /// place around these frames (core::SourceNews). A batch may hold only news, no frames: the executor then applies it
  /// and nothing else. Cleared by clear().
  SourceNews news;

  /// What a message source knows of each frame besides its payload (Kafka: partition, offset, timestamp, key).
  /// Empty for sources that have none (TCP): then their hot path pays nothing for it.
  struct Meta {
    std::uint32_t topic = 0;       ///< index of the message's topic in the source's list of topics
    std::int32_t partition = 0;
    std::int64_t offset = 0;       ///< the message's own offset; the next one to read is offset + 1
    std::int64_t time_ms = -1;     ///< the message's timestamp (event time), -1 when it has none
    std::uint32_t key_end = 0;     ///< end offset in `keys` (equal to the previous one: no key, or an empty one)
    bool has_key = false;
  };
  std::vector<Meta> meta;  ///< one per frame, or none
  std::vector<char> keys;  ///< the keys of `meta`, back to back
  [[nodiscard]] std::string_view key(std::size_t i) const {
    std::uint32_t begin = i == 0 ? 0 : meta[i - 1].key_end;
    return {keys.data() + begin, meta[i].key_end - begin};
  }

  [[nodiscard]] std::size_t size() const { return ends.size(); }
  [[nodiscard]] std::size_t payload_bytes() const { return ends.empty() ? 0 : ends.back(); }
  [[nodiscard]] bool empty() const { return ends.empty(); }
  [[nodiscard]] std::string_view frame(std::size_t i) const {
    std::uint32_t begin = i == 0 ? 0 : ends[i - 1];
    return {bytes.data() + begin, ends[i] - begin};
  }
  /// Appends data[0, n): a bounds check and a memcpy (vector::insert's range path cost ~70 instructions per small
  /// frame).
  void append(const char* data, std::size_t n) {
    std::size_t at = payload_bytes();
    if (bytes.size() - at < n || bytes.empty()) {
      grow(at + n);
    }
    std::memcpy(bytes.data() + at, data, n);
    push_end(at + n);
  }
  /// Appends data[0, n) like append(), for a caller that may read data[0, readable) (readable >= n): a payload of
  /// at most block_bytes is then copied as one block of block_bytes if `bytes` has that much room (the bytes past
  /// the payload land in the room after the payloads and are not part of the batch).
  void append_overreading(const char* data, std::size_t n, std::size_t readable) {
    append_overreading(data, n, readable, payload_bytes());
  }
  /// The same for a caller that keeps count of the batch's bytes: `at` must be payload_bytes(). Always inlined: it
  /// is meant for the loop of a frame parser, which it costs about twenty instructions per payload.
  [[gnu::always_inline]] void append_overreading(const char* data, std::size_t n, std::size_t readable,
                                                 std::size_t at) {
    if (n <= block_bytes && readable >= block_bytes && bytes.size() - at >= block_bytes) {
      std::memcpy(bytes.data() + at, data, block_bytes);
    } else {
      if (bytes.size() - at < n || bytes.empty()) {
        grow(at + n);
      }
      std::memcpy(bytes.data() + at, data, n);
    }
    push_end(at + n);
  }
  void clear() {
    ends.clear();
    news.clear();
    if (!meta.empty()) {
      meta.clear();
      keys.clear();
    }
  }

 private:
  /// Makes `bytes` hold at least `payload` bytes (rare: batches are recycled with their room). Also called for an
  /// empty first payload of a batch with no room: memcpy must not get its null data(), even for 0 bytes.
  [[gnu::noinline]] void grow(std::size_t payload) { bytes.resize(std::max({bytes.size() * 2, payload, block_bytes})); }
  /// Makes room for one more end (rare: batches are recycled with their room).
  [[gnu::noinline]] void grow_ends() { ends.reserve(std::max<std::size_t>(ends.capacity() * 2, 64)); }
  /// ends.push_back(end), with the reallocation kept out of line so that appends inline into the caller's loop.
  [[gnu::always_inline]] void push_end(std::size_t end) {
    if (ends.size() == ends.capacity()) {
      grow_ends();
    }
    ends.push_back(static_cast<std::uint32_t>(end));
  }
};

}  // namespace roo::core
