#include "key_group_handover.hpp"

#include "byte_count.hpp"

#include "roo/checkpoint/record_format.hpp"
#include "roo/checkpoint/snapshot.hpp"
#include "roo/core/big_endian.hpp"
#include "roo/core/logging.hpp"
#include "roo/python/collector_pause.hpp"

#include <fmt/format.h>

#include <map>
#include <optional>

namespace roo::runtime {
namespace {

std::shared_ptr<spdlog::logger> handover_log() {
  static auto log = core::module_logger("runtime");
  return log;
}

constexpr std::size_t record_overhead = 1 + 4 + 4 + 4 + 4;  // tag, table, key group, two lengths

std::string name_of(const std::vector<std::string>& names, std::size_t worker) {
  return worker < names.size() ? names[worker] : fmt::format("#{}", worker);
}

}  // namespace

/// Per new owner, the frame being filled: sent once the next key would take it past frame_bytes, and at flush().
/// Every frame sent is kept (KeyGroupHandover::kept_) until the round is over.
class KeyGroupHandover::Outbox {
 public:
  Outbox(KeyGroupHandover& handover, const std::vector<std::string>& names, const Send& send,
         const std::vector<graph::EventTime>& window_watermarks)
      : handover_(handover), names_(names), send_(send) {
    for (std::size_t i = 0; i < window_watermarks.size(); ++i) {
      core::BigEndianWriter mark;
      mark.u64(static_cast<std::uint64_t>(window_watermarks[i]));
      marks_.emplace_back(checkpoint::Snapshot::window_watermark_flag | static_cast<std::uint32_t>(i), mark.take());
    }
  }

  /// False when the key's record is too large to travel (the caller counts it lost).
  bool add(std::size_t to, std::uint32_t table, std::uint32_t group, std::string_view key, std::string_view value) {
    std::size_t record = record_overhead + key.size() + value.size();
    if (record > max_record_bytes) {
      return false;
    }
    Frame& frame = frames_[to];
    if (frame.records && frame.records->records().size() + record > frame_bytes) {
      send(to, frame);
    }
    if (!frame.records) {
      frame.records.emplace(0, true);
      for (const auto& [stage, mark] : marks_) {  // first: the keys' windows are no less advanced on the new owner
        frame.records->add_source_position(stage, {mark.data(), mark.size()});
      }
    }
    frame.records->add_state(table, group, key, value);
    ++frame.keys;
    return true;
  }

  void flush() {
    for (auto& [to, frame] : frames_) {
      send(to, frame);
    }
  }

  [[nodiscard]] std::size_t bytes() const { return bytes_; }

 private:
  struct Frame {
    std::optional<checkpoint::Snapshot> records;
    std::size_t keys = 0;
  };

  void send(std::size_t to, Frame& frame) {
    if (!frame.records || frame.keys == 0) {
      return;
    }
    const auto& records = frame.records->records();
    bytes_ += records.size();
    handover_.kept_[to].emplace_back(records.begin(), records.end());
    if (!send_(to, std::vector<char>(records.begin(), records.end()))) {
      // Kept all the same: the cluster's second move in this round gives the lost worker's groups to others.
      auto& [keys, name] = handover_.undelivered_[to];
      keys += frame.keys;
      name = name_of(names_, to);
    }
    frame.records.reset();
    frame.keys = 0;
  }

  KeyGroupHandover& handover_;
  const std::vector<std::string>& names_;
  const Send& send_;
  std::vector<std::pair<std::uint32_t, std::vector<char>>> marks_;  ///< window watermark records, in every frame
  std::map<std::size_t, Frame> frames_;
  std::size_t bytes_ = 0;
};

KeyGroupHandover::Moved KeyGroupHandover::hand_over(std::deque<state::KeyedStateTable>& tables,
                                                    const StateCodecs& codecs, std::size_t self,
                                                    const std::vector<std::uint16_t>& now,
                                                    const std::vector<std::uint16_t>& next,
                                                    const std::vector<std::string>& names, const Send& send,
                                                    const std::vector<graph::EventTime>& window_watermarks) {
  Moved moved;
  std::vector<bool> leaving(now.size(), false);
  std::set<std::size_t> owners;
  for (std::size_t group = 0; group < now.size() && group < next.size(); ++group) {
    if (now[group] == self && next[group] != self) {
      leaving[group] = true;
      ++moved.groups;
      owners.insert(next[group]);
    }
  }
  moved.workers = owners.size();
  if (moved.groups == 0) {
    return moved;
  }
  python::CollectorPause collector_paused;  // frees many objects and makes none that cycle: nothing to collect
  Outbox outbox(*this, names, send, window_watermarks);
  for (std::size_t index = 0; index < tables.size(); ++index) {
    auto& table = tables[index];
    std::size_t too_large = 0;
    auto handed = table.hand_over(
        leaving, static_cast<std::uint32_t>(now.size()), codecs.of(index),
        [&](std::uint32_t group, std::string_view key, std::string_view value) {
          if (!outbox.add(next[group], static_cast<std::uint32_t>(index), group, key, value)) {
            ++too_large;
          }
        },
        // A window stage's index walks its table: its keys go now. Others' after the resume.
        !codecs.is_window(index));
    moved.keys += handed.keys - too_large;
    if (handed.failed > 0) {
      handover_log()->error("rescale: {} keys of {} could not be handed over and are lost: {}", handed.failed,
                            table.label(), handed.first_failure);
      lose(handed.failed, fmt::format("of {} that could not be serialized to hand over", table.label()));
    }
    if (too_large > 0) {
      handover_log()->error("rescale: {} keys of {} are lost: each one's state is larger than a rescale moves ({})",
                            too_large, table.label(), byte_count(max_record_bytes));
      lose(too_large, fmt::format("of {} too large to hand over", table.label()));
    }
  }
  outbox.flush();
  moved.bytes = outbox.bytes();
  return moved;
}

bool KeyGroupHandover::remove_left_keys(std::deque<state::KeyedStateTable>& tables, std::size_t at_most) {
  bool done = true;
  for (auto& table : tables) {
    done = table.remove_left_keys(at_most) && done;
  }
  return done;
}

KeyGroupHandover::Redirected KeyGroupHandover::redirect(std::deque<state::KeyedStateTable>& tables,
                                                        const StateCodecs& codecs, std::size_t self,
                                                        const std::vector<std::uint16_t>& next,
                                                        const std::vector<bool>& gone,
                                                        const std::vector<std::string>& names, const Send& send,
                                                        const std::vector<graph::EventTime>& window_watermarks) {
  Redirected redirected;
  std::map<std::size_t, std::vector<std::vector<char>>> lost_frames;
  for (auto kept = kept_.begin(); kept != kept_.end();) {
    if (kept->first < gone.size() && gone[kept->first]) {
      undelivered_.erase(kept->first);
      lost_frames.insert(std::move(*kept));
      kept = kept_.erase(kept);
    } else {
      ++kept;
    }
  }
  Outbox outbox(*this, names, send, window_watermarks);
  for (const auto& [was_for, frames] : lost_frames) {
    std::map<std::uint32_t, std::pair<std::size_t, std::string>> failed;
    checkpoint::RecordVisitor visitor;
    visitor.on_state = [&](std::uint32_t table, std::uint32_t group, std::string_view key, std::string_view value) {
      std::size_t owner = group < next.size() ? next[group] : self;
      if (owner == self) {
        redirected.taken_back += restore(tables, codecs, table, key, value, failed) ? 1 : 0;
      } else if (outbox.add(owner, table, group, key, value)) {
        ++redirected.sent_on;
      }
    };
    visitor.on_source = [](std::uint32_t, std::string_view) {};
    for (const auto& frame : frames) {
      (void)checkpoint::visit_records({frame.data(), frame.size()}, visitor);  // our own bytes: well formed
    }
    report_failed(tables, name_of(names, was_for), failed);
  }
  outbox.flush();
  return redirected;
}

bool KeyGroupHandover::restore(std::deque<state::KeyedStateTable>& tables, const StateCodecs& codecs,
                               std::uint32_t table, std::string_view key, std::string_view value,
                               std::map<std::uint32_t, std::pair<std::size_t, std::string>>& failed) {
  auto note = [&](std::string line) {
    auto& [count, first] = failed[table];
    if (count++ == 0) {
      first = std::move(line);
    }
    return false;
  };
  if (table >= tables.size()) {
    return note(fmt::format("state table {} does not exist in this application", table));
  }
  try {
    tables[table].restore(key, value, codecs.of(table));
    return true;
  } catch (const state::StateSerializationError& error) {
    return note(error.what());
  }
}

void KeyGroupHandover::report_failed(const std::deque<state::KeyedStateTable>& tables, const std::string& peer,
                                     const std::map<std::uint32_t, std::pair<std::size_t, std::string>>& failed) {
  for (const auto& [table, failure] : failed) {
    const auto& [count, first] = failure;
    std::string label = table < tables.size() ? tables[table].label() : fmt::format("state table {}", table);
    handover_log()->error("rescale: {} keys of {} handed over by worker '{}' could not be restored and are lost: {}",
                          count, label, peer, first);
    lose(count, fmt::format("of {} handed over by worker '{}' that could not be restored", label, peer));
  }
}

void KeyGroupHandover::take(std::deque<state::KeyedStateTable>& tables, const StateCodecs& codecs,
                            const std::string& peer, std::string_view bytes, const WindowWatermark& on_window_watermark,
                            std::uint32_t key_groups, const SinkOutput& on_sink_output) {
  python::CollectorPause collector_paused;  // a frame makes thousands of objects, none cyclic: nothing to collect
  ++intake_.frames;
  intake_.bytes += bytes.size();
  intake_.peers.insert(peer);
  std::map<std::uint32_t, std::pair<std::size_t, std::string>> failed;
  std::size_t restored = 0;
  checkpoint::RecordVisitor visitor;
  visitor.on_state = [&](std::uint32_t table, std::uint32_t group, std::string_view key, std::string_view value) {
    if (key_groups > 0 && table < tables.size() && !codecs.is_window(table)) {
      tables[table].keep_to_restore(group, key_groups, key, value, codecs.of(table), peer);
      ++restored;
      intake_.restored_in(group);
    } else if (restore(tables, codecs, table, key, value, failed)) {
      ++restored;
      intake_.restored_in(group);
    }
  };
  std::size_t stray = 0;  // records a hand-over never holds (positions, channel batches): ignored, said once
  visitor.on_source = [&](std::uint32_t source, std::string_view position) {
    core::BigEndianReader mark(position);
    auto watermark = static_cast<graph::EventTime>(mark.u64());
    if ((source & checkpoint::Snapshot::window_watermark_flag) != 0 && mark.ok_and_done()) {
      if (on_window_watermark) {
        on_window_watermark(source & ~checkpoint::Snapshot::window_watermark_flag, watermark);
      }
      return;
    }
    ++stray;
  };
  visitor.on_channel = [&](std::uint32_t number, std::string_view batch) {
    if ((number & checkpoint::Snapshot::sink_output_flag) != 0 && on_sink_output) {
      on_sink_output(number & ~checkpoint::Snapshot::sink_output_flag, batch);
      return;
    }
    ++stray;
  };
  std::int64_t records = checkpoint::visit_records(bytes, visitor);
  intake_.keys += restored;
  report_failed(tables, peer, failed);
  if (stray > 0) {
    handover_log()->warn("rescale: ignored {} records that are not keyed state in key groups worker '{}' handed over",
                         stray, peer);
  }
  if (records < 0) {
    handover_log()->error(
        "rescale: key groups handed over by worker '{}' are malformed after {} keys ({}): the "
        "rest of that frame is lost",
        peer, restored, byte_count(bytes.size()));
    faults_.push_back(fmt::format("state handed over by worker '{}' was malformed", peer));
  }
}

std::vector<std::vector<char>> KeyGroupHandover::sink_output_frames(
    const std::vector<std::pair<std::size_t, std::string>>& output) {
  std::vector<std::vector<char>> frames;
  std::size_t next = 0;
  while (next < output.size()) {
    checkpoint::Snapshot frame(0, false);
    do {  // at least one batch per frame, however large
      frame.add_sink_output(static_cast<std::uint32_t>(output[next].first), output[next].second);
      ++next;
    } while (next < output.size() &&
             frame.records().size() + record_overhead + output[next].second.size() <= frame_bytes);
    frames.emplace_back(frame.records().begin(), frame.records().end());
  }
  return frames;
}

bool KeyGroupHandover::restore_pending(std::deque<state::KeyedStateTable>& tables, std::size_t at_most) {
  python::CollectorPause collector_paused;
  bool done = true;
  for (auto& table : tables) {
    done = table.restore_pending(at_most) && done;
  }
  return done;
}

void KeyGroupHandover::report_restore_failures(std::deque<state::KeyedStateTable>& tables) {
  for (std::size_t index = 0; index < tables.size(); ++index) {
    for (auto& [peer, failure] : tables[index].take_restore_failures()) {
      report_failed(tables, peer, {{static_cast<std::uint32_t>(index), std::move(failure)}});
    }
  }
}

std::string KeyGroupHandover::take_intake_summary() {
  Intake intake = std::exchange(intake_, {});
  if (intake.frames == 0) {
    return {};
  }
  std::string peers;
  for (const auto& peer : intake.peers) {
    peers += fmt::format("{}'{}'", peers.empty() ? "" : ", ", peer);
  }
  return fmt::format("{} keys in {} key groups from {} {} ({} {}, {})", intake.keys, intake.group_count,
                     intake.peers.size() == 1 ? "worker" : "workers", peers, intake.frames,
                     intake.frames == 1 ? "frame" : "frames", byte_count(intake.bytes));
}

void KeyGroupHandover::round_over() {
  for (const auto& [to, undelivered] : undelivered_) {
    const auto& [keys, name] = undelivered;
    handover_log()->error("rescale: {} keys for worker '{}' are lost: the worker was lost", keys, name);
    lose(keys, fmt::format("of state for worker '{}', which was lost", name));
  }
  undelivered_.clear();
  kept_.clear();
}

void KeyGroupHandover::lose(std::uint64_t keys, const std::string& reason) {
  for (auto& [known, count] : lost_) {
    if (known == reason) {
      count += keys;
      return;
    }
  }
  lost_.emplace_back(reason, keys);
}

void KeyGroupHandover::report_losses(DeliveryReport& report) const {
  for (const auto& fault : faults_) {
    report.add_fault(fault);
  }
  for (const auto& [reason, keys] : lost_) {
    report.add_keys(keys, reason);
  }
  for (const auto& [to, undelivered] : undelivered_) {  // the round never ended (this worker stopped in it)
    report.add_keys(undelivered.first, fmt::format("of state for worker '{}', which was lost", undelivered.second));
  }
}

}  // namespace roo::runtime
