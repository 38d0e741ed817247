#include "delivery_report.hpp"

#include <fmt/format.h>

namespace roo::runtime {

void DeliveryReport::add(Unit unit, std::uint64_t count, const std::string& reason) {
  if (count == 0) {
    return;
  }
  for (auto& entry : entries_) {
    if (entry.unit == unit && entry.reason == reason) {
      entry.count += count;
      return;
    }
  }
  entries_.push_back(Entry{unit, count, reason});
}

void DeliveryReport::add_events(std::uint64_t count, const std::string& reason) { add(Unit::events, count, reason); }

void DeliveryReport::add_bytes(std::uint64_t count, const std::string& reason) { add(Unit::bytes, count, reason); }

void DeliveryReport::add_keys(std::uint64_t count, const std::string& reason) { add(Unit::keys, count, reason); }

void DeliveryReport::add_fault(const std::string& fault) { add(Unit::fault, 1, fault); }

std::uint64_t DeliveryReport::events_lost() const {
  std::uint64_t total = 0;
  for (const auto& entry : entries_) {
    total += entry.unit == Unit::events ? entry.count : 0;
  }
  return total;
}

std::string DeliveryReport::summary() const {
  std::string line = "not everything was delivered:";
  const char* separator = " ";
  for (const auto& entry : entries_) {
    if (entry.unit == Unit::fault) {
      line += fmt::format("{}{}", separator, entry.reason);
      separator = "; ";
    }
  }
  for (const auto& entry : entries_) {
    if (entry.unit == Unit::fault) {
      continue;
    }
    const char* unit = entry.unit == Unit::bytes  ? (entry.count == 1 ? "byte" : "bytes")
                       : entry.unit == Unit::keys ? (entry.count == 1 ? "key" : "keys")
                                                  : (entry.count == 1 ? "event" : "events");
    line += fmt::format("{}{} {} ({})", separator, entry.count, unit, entry.reason);
    separator = "; ";
  }
  return line;
}

}  // namespace roo::runtime
