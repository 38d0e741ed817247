#include "kafka_source_core.hpp"

#include "io_log.hpp"

#include "roo/core/error.hpp"

#include <algorithm>
#include <array>
#include <thread>

// A Kafka source's start: its settings, and waiting for the brokers and topics (kafka_source_core.hpp).

namespace roo::io {

void KafkaSourceCore::validate() const {
  auto refuse = [&](const std::string& why) {
    throw core::UsageError("read Kafka for source '" + config_.name + "': " + why);
  };
  if (config_.topics.empty()) {
    refuse("no topic given");
  }
  if (config_.group_id.empty()) {
    refuse("no consumer group id given");
  }
  if (config_.worker_count == 0 || config_.worker_index >= config_.worker_count) {
    refuse("worker " + std::to_string(config_.worker_index) + " of " + std::to_string(config_.worker_count));
  }
}

KafkaConf KafkaSourceCore::make_config() {
  KafkaProperties own = {
      {"group.id", config_.group_id},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      // A partition's end is an event (RD_KAFKA_RESP_ERR__PARTITION_EOF): the batches report it (quiet), so
      // that a quiet input of an event-time source can count as idle. Set again below: a property cannot unset it.
      {"enable.partition.eof", "true"},
      {"auto.offset.reset", config_.start == KafkaSourceConfig::Start::earliest ? "earliest" : "latest"},
      {"socket.nagle.disable", "true"},
      // librdkafka 2.0.2's default (100,000 per partition) stops fetching a partition whose queue holds that many
      // small messages and resumes about a second later: reading 1M 5-byte messages stalled near 330k msg/s
      // (bench/kafka). The queue stays bounded by queued.max.messages.kbytes.
      {"queued.min.messages", "1000000"},
  };
  KafkaConf conf = make_kafka_client_config(*this, config_.brokers, own, config_.properties);
  std::array<char, 512> refused{};
  (void)rd_kafka_conf_set(conf.get(), "enable.partition.eof", "true", refused.data(), refused.size());
  rd_kafka_conf_set_error_cb(conf.get(), [](rd_kafka_t*, int error, const char* reason, void* opaque) {
    static_cast<KafkaSourceCore*>(static_cast<KafkaClientIdentity*>(opaque))
        ->on_client_error(static_cast<rd_kafka_resp_err_t>(error), reason);
  });
  rd_kafka_conf_set_offset_commit_cb(
      conf.get(), [](rd_kafka_t*, rd_kafka_resp_err_t error, rd_kafka_topic_partition_list_t* offsets, void* opaque) {
        static_cast<KafkaSourceCore*>(static_cast<KafkaClientIdentity*>(opaque))->on_committed(error, offsets);
      });
  return conf;
}

KafkaTopicMetadata KafkaSourceCore::wait_for_topics() {
  auto deadline = Clock::now() + config_.broker_wait;
  bool warned_brokers = false;
  std::vector<bool> warned_topic(config_.topics.size(), false);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    KafkaTopicMetadata metadata =
        read_topic_metadata(client_.get(), topics_, std::clamp(left, std::chrono::milliseconds(100), start_attempt));
    rd_kafka_poll(client_.get(), 0);  // collects the error callbacks' cause
    if (auth_error_) {
      throw core::Error("authenticate to Kafka brokers '" + config_.brokers + "' for source '" + config_.name +
                        "': " + last_error_);
    }
    std::size_t missing = config_.topics.size();
    if (metadata.error != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (!warned_brokers) {
        warned_brokers = true;
        io_logger()->warn("{}: cannot reach Kafka brokers '{}' ({}); retrying for up to {} ms", identity,
                          config_.brokers, broker_cause(metadata.error), config_.broker_wait.count());
      }
    } else {
      missing = 0;
      for (std::size_t t = 0; t < config_.topics.size(); ++t) {
        if (metadata.topic_errors[t] != RD_KAFKA_RESP_ERR_NO_ERROR) {
          ++missing;
          if (!warned_topic[t]) {
            warned_topic[t] = true;
            io_logger()->warn("{}: cannot read topic '{}' ({}); retrying for up to {} ms", identity,
                              config_.topics[t], kafka_error_text(metadata.topic_errors[t]),
                              config_.broker_wait.count());
          }
        }
      }
    }
    if (missing == 0) {
      return metadata;
    }
    if (Clock::now() >= deadline) {
      if (metadata.error != RD_KAFKA_RESP_ERR_NO_ERROR) {
        throw core::Error("reach Kafka brokers '" + config_.brokers + "' for source '" + config_.name + "' within " +
                          std::to_string(config_.broker_wait.count()) + " ms: " + broker_cause(metadata.error));
      }
      for (std::size_t t = 0; t < config_.topics.size(); ++t) {
        if (metadata.topic_errors[t] != RD_KAFKA_RESP_ERR_NO_ERROR) {
          throw core::Error("read topic '" + config_.topics[t] + "' for source '" + config_.name + "': " +
                            kafka_error_text(metadata.topic_errors[t]) + " (waited " +
                            std::to_string(config_.broker_wait.count()) + " ms)");
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::string KafkaSourceCore::broker_cause(rd_kafka_resp_err_t error) const {
  return last_error_.empty() ? kafka_error_text(error) : last_error_;
}

void KafkaSourceCore::on_client_error(rd_kafka_resp_err_t error, const char* reason) {
  if (error == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && !last_error_.empty()) {
    return;  // the connection error before it said why
  }
  last_error_ = kafka_reason_text(reason);
  if (error == RD_KAFKA_RESP_ERR__AUTHENTICATION) {
    auth_error_ = true;
    std::lock_guard lock(warn_mutex_);
    if (!starting_ && should_warn(error)) {
      io_logger()->error("{}: cannot authenticate to Kafka brokers '{}': {}", identity, config_.brokers,
                         last_error_);
    }
    return;
  }
  if (!starting_) {
    warn_throttled(error, fmt::format("{}: {}", identity, last_error_));
  }
}

}  // namespace roo::io
