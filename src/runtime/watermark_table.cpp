#include "watermark_table.hpp"

#include "roo/core/big_endian.hpp"

#include <algorithm>

namespace roo::runtime {

WatermarkTable::WatermarkTable(const graph::Plan& plan, std::size_t workers, std::size_t self)
    : peers_(workers, std::vector<PeerMark>(plan.sources.size())), self_(self) {
  clocks_.reserve(plan.sources.size());
  for (const auto& source : plan.sources) {
    // Without a timestamp function, a Kafka message brings its own time; every other event is stamped on arrival.
    bool ingest_time = !source.event_time && source.kind() != graph::SourcePlan::Kind::kafka;
    clocks_.emplace_back(source.event_time_spec, ingest_time);
    if (source.kind() == graph::SourcePlan::Kind::kafka) {
      clocks_.back().wait_for_inputs();  // until the source's first batch lists its partitions
    }
  }
}

std::vector<char> WatermarkTable::encode(std::int64_t now) {
  core::BigEndianWriter out;
  out.u16(static_cast<std::uint16_t>(clocks_.size()));
  for (auto& clock : clocks_) {
    std::optional<EventTime> mark = clock.watermark(now);
    out.u8(mark ? 1 : 0).u64(static_cast<std::uint64_t>(mark.value_or(0)));
  }
  return out.take();
}

void WatermarkTable::members_changed(std::size_t workers, const std::vector<bool>& departed) {
  if (workers > peers_.size()) {
    PeerMark unheard_joiner;
    unheard_joiner.heard = true;  // nothing back until its first watermarks
    peers_.resize(workers, std::vector<PeerMark>(clocks_.size(), unheard_joiner));
  }
  for (std::size_t worker = 0; worker < departed.size() && worker < peers_.size(); ++worker) {
    if (!departed[worker] || worker == self_) {
      continue;
    }
    for (PeerMark& mark : peers_[worker]) {
      if (!mark.heard) {
        mark.heard = true;  // it left before this worker heard from it: it holds nothing back
        mark.value.reset();
      }
    }
  }
}

void WatermarkTable::peer_gone(std::size_t worker) {
  if (worker < peers_.size() && worker != self_) {
    for (PeerMark& mark : peers_[worker]) {
      mark.heard = true;
      mark.value.reset();
    }
  }
}

void WatermarkTable::finish_all() {
  for (auto& clock : clocks_) {
    clock.finish();
  }
}

bool WatermarkTable::receive(std::size_t from, std::string_view bytes, std::string& error) {
  if (from == self_ || from >= max_workers) {
    error = "from an unknown worker " + std::to_string(from);
    return false;
  }
  if (from >= peers_.size()) {
    peers_.resize(from + 1, std::vector<PeerMark>(clocks_.size()));  // heard below
  }
  core::BigEndianReader reader(bytes.data(), bytes.size());
  std::uint16_t count = reader.u16();
  if (count != clocks_.size() || bytes.size() != 2 + std::size_t{count} * 9) {
    error = "watermarks for " + std::to_string(count) + " sources in " + std::to_string(bytes.size()) +
            " bytes; this application has " + std::to_string(clocks_.size());
    return false;
  }
  for (auto& mark : peers_[from]) {
    bool present = reader.u8() != 0;
    auto value = static_cast<EventTime>(reader.u64());
    mark.heard = true;
    if (present) {
      mark.value = std::max(mark.value.value_or(graph::start_of_time), value);  // never goes back
    } else {
      mark.value.reset();
    }
  }
  return reader.ok_and_done();
}

std::optional<EventTime> WatermarkTable::combined(const std::vector<std::size_t>& sources, std::int64_t now) {
  std::optional<EventTime> lowest;
  auto take = [&lowest](EventTime value) { lowest = std::min(lowest.value_or(graph::end_of_time), value); };
  for (std::size_t source : sources) {
    if (auto mine = clocks_[source].watermark(now)) {
      take(*mine);
    }
    for (std::size_t worker = 0; worker < peers_.size(); ++worker) {
      if (worker == self_) {
        continue;
      }
      const PeerMark& mark = peers_[worker][source];
      if (!mark.heard) {
        take(graph::start_of_time);
      } else if (mark.value) {
        take(*mark.value);
      }
    }
  }
  return lowest;
}

std::int64_t WatermarkTable::next_change(std::int64_t now) const {
  std::int64_t next = graph::end_of_time;
  for (const auto& clock : clocks_) {
    next = std::min(next, clock.next_change(now));
  }
  return next;
}

}  // namespace roo::runtime
