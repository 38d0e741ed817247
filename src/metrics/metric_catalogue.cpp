#include "roo/metrics/metric_catalogue.hpp"

namespace roo::metrics {

const std::vector<MetricInfo>& metric_catalogue() {
  using Type = MetricInfo::Type;
  static const std::vector<MetricInfo> catalogue = {
      {step_latency, Type::histogram,
       "Time one event spent in one step (decoder, computation, state computation, window, encoder), timed on a "
       "sample of the events",
       "computation", step_events},
      {step_events, Type::counter, "Events that entered a step"},
      {pipeline_latency, Type::histogram,
       "Time from an event's arrival at its source to its output being handed to the sink (across workers), timed on "
       "a sample of the events",
       "start-to-end"},
      {worker_latency, Type::histogram,
       "Time from an event's arrival at this worker (from a source or another worker) to its leaving it (to a sink or "
       "another worker), timed on a sample of the events",
       "node-ingress-egress"},
      {source_events, Type::counter, "Events read by a source on this worker"},
      {sink_events, Type::counter, "Outputs handed to a sink on this worker"},
      {step_failures, Type::counter, "Events a step could not process (user code raised or broke a return rule)"},
      {lost_events, Type::counter, "Events lost without a step failing on them (see the delivery report)"},
      {late_events, Type::counter, "Events that came after all their windows had fired, per window stage"},
      {executor_queue, Type::gauge, "Source batches waiting for the executor"},
      {peer_queue, Type::gauge, "Batches from other workers waiting for the executor"},
      {executor_turn, Type::gauge,
       "Seconds since the executor last came round its loop: near 0 while it runs (idle or not), growing while a "
       "user call does not return or the sinks take nothing"},
      {source_paused, Type::counter, "Time a source spent paused because the executor's queue was full (backpressure)"},
      {sink_queue_bytes, Type::gauge,
       "Bytes handed to a sink that it still holds (not yet written, or kept to resend after a reconnect)"},
      {checkpoint_duration, Type::histogram, "Time from a checkpoint's start to its completion on this worker"},
      {checkpoints_completed, Type::counter, "Checkpoints completed"},
      {checkpoint_bytes, Type::gauge, "Bytes the last completed checkpoint wrote on this worker"},
      {checkpoint_last_id, Type::gauge, "The id of the last completed checkpoint"},
      {recoveries, Type::counter, "Recoveries from a checkpoint this worker took part in"},
      {kafka_lag, Type::gauge, "Messages between a Kafka partition's end and the source's position in it"},
      {workers_live, Type::gauge, "Workers of the cluster this worker sees as live"},
      {uptime, Type::gauge, "Seconds since the worker started"},
  };
  return catalogue;
}

const MetricInfo* find_metric(std::string_view name) {
  for (const auto& info : metric_catalogue()) {
    if (info.name == name) {
      return &info;
    }
  }
  return nullptr;
}

}  // namespace roo::metrics
