#pragma once

#include "roo/core/doorbell.hpp"
#include "roo/io/sink.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace roo::runtime {

/// Waits until every sink delivered all the output handed to it so far (io::Sink::flush), by being asked again and
/// again on the executor. The at-least-once offset commits wait on it (Worker::commit_delivered_positions), and a
/// rescale's pause uses it before a Kafka source hands its partitions' positions on
/// (docs/kafka.md, "Partitions and workers"): the new reader starts after those positions, so the output of the
/// messages before them must be delivered, not merely processed, or a crash after the resume would lose it.
/// Each check() issues a flush when output was written since the last one; the sinks answer on their threads and
/// ring the doorbell, and the answers are read at the next check(). Executor thread only (check, reset).
class SinkDeliveryWait {
 public:
  enum class State { waiting, delivered, failed };

  SinkDeliveryWait(std::vector<std::unique_ptr<io::Sink>>& sinks, core::Doorbell& doorbell)
      : sinks_(sinks), doorbell_(doorbell) {}

  /// Asks every sink to flush what it holds now (`written`: the caller's count of the output written so far).
  void flush(std::uint64_t written = 0);
  /// Where the last flush stands: waiting while a sink has not answered, failed when one said it cannot deliver
  /// (failure() says why), else delivered (also when none was issued).
  [[nodiscard]] State state();
  /// Where the sinks stand for the output written so far, `written` counting it (a count that only grows, read after
  /// the outputs were handed to the sinks): a flush is issued when output was written since the last one.
  [[nodiscard]] State check(std::uint64_t written);
  /// Why a check() said failed: the first sink's error.
  [[nodiscard]] const std::string& failure() const { return failure_; }
  /// Forgets the flush in flight (its answers are ignored) and what was delivered: the next check() starts again.
  void reset();

 private:
  struct Flush {
    std::atomic<std::size_t> left{0};
    std::atomic<bool> failed{false};
    std::string error;  ///< the first error; written by the sink that set `failed`, read once `left` is 0
    std::uint64_t written = 0;
  };

  std::vector<std::unique_ptr<io::Sink>>& sinks_;
  core::Doorbell& doorbell_;
  std::shared_ptr<Flush> flush_;  ///< the last flush issued, answered or not
  std::string failure_;
};

}  // namespace roo::runtime
