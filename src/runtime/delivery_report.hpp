#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace roo::runtime {

/// What a worker read and did not deliver, gathered when it stops: events that could not go on (a key or event
/// that cannot be pickled for another worker, a batch for a lost worker, input still queued when the drain timed
/// out), bytes that did not reach their destination (a sink, or a peer that never processed them), and keyed state a
/// rescale could not move. Each entry
/// is a count and a reason; entries with the same unit and reason add up. The worker prints summary() as its
/// last error line and exits 1 unless is_complete(). Events a user function skipped by raising are not losses
/// (they are counted in the `stopped:` line and logged where they happen). Lives on the executor.
class DeliveryReport {
 public:
  /// `count` events were read and will never reach a sink, because of `reason` (e.g. "key_by 'k': the key
  /// cannot be pickled for another worker").
  void add_events(std::uint64_t count, const std::string& reason);
  /// `count` bytes (of output, or of events sent to another worker) were not delivered, because of `reason`.
  void add_bytes(std::uint64_t count, const std::string& reason);
  /// `count` keys' state was lost, because of `reason` (a rescale could not move it: "of state computation 'count'
  /// handed over by worker 'w1' that could not be read back").
  void add_keys(std::uint64_t count, const std::string& reason);
  /// A fault that loses what cannot be counted here, e.g. "worker 'worker2' was lost (end of file)" (whatever it
  /// held is gone).
  void add_fault(const std::string& fault);

  [[nodiscard]] bool is_complete() const { return entries_.empty(); }
  [[nodiscard]] std::uint64_t events_lost() const;
  /// One line: `not everything was delivered: <fault>; <n> events (<reason>); <n> bytes (<reason>); ...`, faults
  /// first, then counts in the order first reported.
  [[nodiscard]] std::string summary() const;
  [[nodiscard]] int exit_code() const { return is_complete() ? 0 : 1; }

 private:
  enum class Unit { events, bytes, keys, fault };
  struct Entry {
    Unit unit = Unit::events;
    std::uint64_t count = 0;
    std::string reason;
  };
  void add(Unit unit, std::uint64_t count, const std::string& reason);

  std::vector<Entry> entries_;
};

}  // namespace roo::runtime
