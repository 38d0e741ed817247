#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace roo::checkpoint {

/// Whose checkpoints these are: a worker refuses to restore files whose identity differs (another application, or
/// the same application with another pipeline shape, or another worker's files).
struct CheckpointIdentity {
  std::string app_name;
  std::string fingerprint;  ///< graph::Plan::fingerprint(): the same while the pipeline's shape is the same
  std::string worker_name;
};

/// One worker's part of one checkpoint. Built on the executor (the Python thread) while it is paused at the
/// checkpoint's cut, then handed to the CheckpointWriter, which writes it without the GIL. Records are appended
/// straight in their file encoding: one growing buffer, no allocation per record.
///
/// A full snapshot holds every key of every state table; an incremental one only the keys changed since the
/// previous checkpoint (a key's newer record replaces its older one when a chain is read back). Source positions
/// are always complete (every replayable source's position at the cut).
class Snapshot {
 public:
  Snapshot(std::uint64_t checkpoint_id, bool full);

  /// The state of `key` in state table `table` (its index in the plan), both already serialized (pickle or the
  /// app's serialize). `key_group` is the key's stable key group (for moving state between workers later).
  void add_state(std::uint32_t table, std::uint32_t key_group, std::string_view key, std::string_view value);
  /// The position of replayable source `source` (its index in the plan), already serialized.
  void add_source_position(std::uint32_t source, std::string_view position);
  /// A batch worker `from` sent this worker before that worker's cut and that arrived after this worker's (the
  /// channel's state in Chandy–Lamport's snapshot): replayed, in order, after a recovery to this checkpoint. Unlike
  /// state, channel batches belong to their own checkpoint only (a chain read back yields its newest file's).
  void add_channel_batch(std::uint32_t from, std::string_view bytes);
  /// Output of transactional sink `sink` (its index in the plan) that belongs to this checkpoint, already encoded: a
  /// restarted worker commits it if the sink's own commit did not happen before the crash. Like channel batches, it
  /// belongs to its own checkpoint only; it is stored as a channel record whose number has sink_output_flag set.
  void add_sink_output(std::uint32_t sink, std::string_view bytes);
  /// Output of transactional sink `sink` encoded only when the part is written (encode_late_output()), on the
  /// writer's thread: each string `encode` returns is stored as add_sink_output() stores one. A second of Kafka
  /// output is 15-30 MB: encoding and copying it then keeps that work off the executor and the sink's thread.
  using LateOutput = std::function<std::vector<std::string>()>;
  void add_sink_output_later(std::uint32_t sink, LateOutput encode);
  /// Runs and forgets the encodings add_sink_output_later() left. The writer calls it before making the file.
  void encode_late_output();
  /// Where a transactional sink's peer keeps sink `sink`'s output of this checkpoint (io::Sink::CheckpointOutput's
  /// location), instead of the output itself: a channel record whose number has sink_output_flag and
  /// sink_location_flag set.
  void add_sink_output_location(std::uint32_t sink, std::string_view location);
  static constexpr std::uint32_t sink_output_flag = 0x80000000u;
  static constexpr std::uint32_t sink_location_flag = 0x20000000u;
  /// A source position record whose number has this flag set holds window stage (number & ~flag)'s watermark
  /// instead: a recovered worker does not fire or take as on time what it had counted late before the crash.
  static constexpr std::uint32_t window_watermark_flag = 0x40000000u;

  [[nodiscard]] std::uint64_t checkpoint_id() const { return checkpoint_id_; }
  [[nodiscard]] bool full() const { return full_; }
  [[nodiscard]] std::size_t state_entries() const { return state_entries_; }
  [[nodiscard]] std::size_t source_entries() const { return source_entries_; }
  [[nodiscard]] std::size_t channel_entries() const { return channel_entries_; }
  /// The encoded records (the file's body, without header and trailer).
  [[nodiscard]] const std::vector<char>& records() const { return records_; }

 private:
  /// Appends a record of a tag, one number and one string (record_format.hpp).
  void add_tagged(std::uint8_t tag, std::uint32_t number, std::string_view bytes);

  std::uint64_t checkpoint_id_;
  bool full_;
  std::size_t state_entries_ = 0;
  std::size_t source_entries_ = 0;
  std::size_t channel_entries_ = 0;
  std::vector<char> records_;
  std::vector<std::pair<std::uint32_t, LateOutput>> late_output_;
};

}  // namespace roo::checkpoint
