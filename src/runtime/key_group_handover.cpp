#include "key_group_handover.hpp"

#include "byte_count.hpp"

#include "roo/checkpoint/record_format.hpp"
#include "roo/checkpoint/snapshot.hpp"
#include "roo/core/logging.hpp"

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

/// The frames on their way to one new owner: the one being filled, and how many keys it holds.
struct Outbound {
  std::optional<checkpoint::Snapshot> frame;
  std::size_t keys = 0;
};

}  // namespace

KeyGroupHandover::Moved KeyGroupHandover::hand_over(std::deque<state::KeyedStateTable>& tables,
                                                    const StateCodecs& codecs, std::size_t self,
                                                    const std::vector<std::uint16_t>& now,
                                                    const std::vector<std::uint16_t>& next,
                                                    const std::vector<std::string>& names, const Send& send) {
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
  std::map<std::size_t, Outbound> outbound;
  auto name_of = [&](std::size_t worker) { return worker < names.size() ? names[worker] : fmt::format("#{}", worker); };
  auto flush = [&](std::size_t to, Outbound& out) {
    if (!out.frame || out.keys == 0) {
      return;
    }
    const auto& records = out.frame->records();
    moved.bytes += records.size();
    if (!send(to, std::vector<char>(records.begin(), records.end()))) {
      handover_log()->error("rescale: {} keys for worker '{}' are lost: the worker was lost", out.keys, name_of(to));
      lose(out.keys, fmt::format("of state for worker '{}', which was lost", name_of(to)));
    }
    out.frame.reset();
    out.keys = 0;
  };
  for (std::size_t index = 0; index < tables.size(); ++index) {
    auto& table = tables[index];
    std::size_t too_large = 0;
    auto handed = table.hand_over(leaving, static_cast<std::uint32_t>(now.size()), codecs.of(index),
                                  [&](std::uint32_t group, std::string_view key, std::string_view value) {
                                    std::size_t record = record_overhead + key.size() + value.size();
                                    if (record > max_record_bytes) {
                                      ++too_large;
                                      return;
                                    }
                                    std::size_t to = next[group];
                                    Outbound& out = outbound[to];
                                    if (out.frame && out.frame->records().size() + record > frame_bytes) {
                                      flush(to, out);
                                    }
                                    if (!out.frame) {
                                      out.frame.emplace(0, true);
                                    }
                                    out.frame->add_state(static_cast<std::uint32_t>(index), group, key, value);
                                    ++out.keys;
                                  });
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
  for (auto& [to, out] : outbound) {
    flush(to, out);
  }
  return moved;
}

void KeyGroupHandover::take(std::deque<state::KeyedStateTable>& tables, const StateCodecs& codecs,
                            const std::string& peer, std::string_view bytes) {
  ++intake_.frames;
  intake_.bytes += bytes.size();
  intake_.peers.insert(peer);
  // Per table: keys that could not be restored, and the first one's line.
  std::map<std::uint32_t, std::pair<std::size_t, std::string>> failed;
  std::size_t restored = 0;
  checkpoint::RecordVisitor visitor;
  visitor.on_state = [&](std::uint32_t table, std::uint32_t group, std::string_view key, std::string_view value) {
    auto& [count, first] = failed[table];
    if (table >= tables.size()) {
      if (count++ == 0) {
        first = fmt::format("state table {} does not exist in this application", table);
      }
      return;
    }
    try {
      tables[table].restore(key, value, codecs.of(table));
      ++restored;
      intake_.groups.insert(group);
    } catch (const state::StateSerializationError& error) {
      if (count++ == 0) {
        first = error.what();
      }
    }
  };
  std::size_t stray = 0;  // records a hand-over never holds (positions, channel batches): ignored, said once
  visitor.on_source = [&](std::uint32_t, std::string_view) { ++stray; };
  visitor.on_channel = [&](std::uint32_t, std::string_view) { ++stray; };
  std::int64_t records = checkpoint::visit_records(bytes, visitor);
  intake_.keys += restored;
  for (const auto& [table, failure] : failed) {
    const auto& [count, first] = failure;
    if (count == 0) {
      continue;
    }
    std::string label = table < tables.size() ? tables[table].label() : fmt::format("state table {}", table);
    handover_log()->error("rescale: {} keys of {} handed over by worker '{}' could not be restored and are lost: {}",
                          count, label, peer, first);
    lose(count, fmt::format("of {} handed over by worker '{}' that could not be restored", label, peer));
  }
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

std::string KeyGroupHandover::take_intake_summary() {
  Intake intake = std::exchange(intake_, {});
  if (intake.frames == 0) {
    return {};
  }
  std::string peers;
  for (const auto& peer : intake.peers) {
    peers += fmt::format("{}'{}'", peers.empty() ? "" : ", ", peer);
  }
  return fmt::format("{} keys in {} key groups from {} {} ({} {}, {})", intake.keys, intake.groups.size(),
                     intake.peers.size() == 1 ? "worker" : "workers", peers, intake.frames,
                     intake.frames == 1 ? "frame" : "frames", byte_count(intake.bytes));
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
}

}  // namespace roo::runtime
