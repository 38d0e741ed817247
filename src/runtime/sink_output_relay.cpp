#include "sink_output_relay.hpp"

#include "byte_count.hpp"
#include "key_group_handover.hpp"
#include "record_batch_codec.hpp"

#include "roo/core/error.hpp"
#include "roo/core/logging.hpp"
#include "roo/python/interpreter.hpp"

#include <fmt/format.h>

namespace roo::runtime {
namespace {

std::shared_ptr<spdlog::logger> relay_log() { return core::module_logger("runtime"); }

std::string sink_name(const graph::Plan& plan, std::size_t sink) {
  return sink < plan.sinks.size() ? plan.sinks[sink].name : fmt::format("#{}", sink);
}

}  // namespace

void SinkOutputRelay::hand_off(TransactionalSinks& sinks, const graph::Plan& plan, const Send& send,
                                      std::chrono::milliseconds timeout) {
  relaying_ = true;
  TransactionalSinks::HandedOff handed;
  {
    python::GilRelease release;  // the sinks abort their transactions with the broker
    handed = sinks.hand_off(timeout);
  }
  if (!handed.errors.empty()) {
    // Its output is neither committed nor handed over. Checkpoints are on: this worker stops, as if it crashed in
    // the round, and every worker rolls back to the last complete checkpoint, from which that output comes again.
    const auto& [sink, error] = handed.errors.front();
    throw core::Error(
        fmt::format("leaving: sink '{}' could not hand its output not committed to the initializer "
                    "({}); this worker stops, and the cluster rolls back to its last checkpoint",
                    sink_name(plan, sink), error));
  }
  std::size_t bytes = 0;
  for (const auto& [sink, encoded] : handed.output) {
    bytes += encoded.size();
  }
  for (auto& frame : KeyGroupHandover::sink_output_frames(handed.output)) {
    std::size_t size = frame.size();
    if (!send(stayer, std::move(frame))) {
      lose(size, "of transactional sink output handed to the initializer, which was lost");
    }
  }
  if (!handed.output.empty()) {
    relay_log()->info("leaving: {} batches of output not committed ({}) go to the initializer's transaction",
                      handed.output.size(), byte_count(bytes));
  }
}

void SinkOutputRelay::relay(std::size_t sink, const io::RecordBatch& batch, const Send& send) {
  std::vector<std::pair<std::size_t, std::string>> output;
  output.emplace_back(sink, encode_record_batch(batch));
  for (auto& frame : KeyGroupHandover::sink_output_frames(output)) {
    std::size_t size = frame.size();
    if (!send(stayer, std::move(frame))) {
      lose(size, "of transactional sink output relayed to the initializer, which was lost");
    }
  }
}

void SinkOutputRelay::adopt(std::vector<std::unique_ptr<io::Sink>>& sinks, const graph::Plan& plan, std::uint32_t sink,
                            std::string_view bytes, const std::string& peer) {
  if (sink >= sinks.size() || !sinks[sink]->transactional()) {
    std::string reason = fmt::format(
        "of output for {} that worker '{}' handed over, which is not a transactional "
        "sink here",
        sink_name(plan, sink), peer);
    relay_log()->error("rescale: {} bytes {}: lost", bytes.size(), reason);
    lose(bytes.size(), reason);
    return;
  }
  try {
    sinks[sink]->write(decode_record_batch(bytes));
    ++adopted_;
  } catch (const core::Error& error) {
    std::string reason = fmt::format("of output for sink '{}' that worker '{}' handed over, malformed ({})",
                                     sink_name(plan, sink), peer, error.what());
    relay_log()->error("rescale: {} bytes {}: lost", bytes.size(), reason);
    lose(bytes.size(), reason);
  }
}

void SinkOutputRelay::report_losses(DeliveryReport& report) const {
  for (const auto& [bytes, reason] : lost_) {
    report.add_bytes(bytes, reason);
  }
}

void SinkOutputRelay::lose(std::uint64_t bytes, const std::string& reason) { lost_.emplace_back(bytes, reason); }

}  // namespace roo::runtime
