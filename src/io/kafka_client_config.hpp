#pragma once

#include "roo/io/kafka_source.hpp"

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace roo::io {

/// Owners of librdkafka's handles (its C API hands out raw pointers).
struct KafkaConfDelete {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
/// Consumers are closed explicitly (rd_kafka_consumer_close) before they are destroyed: a second close inside
/// rd_kafka_destroy can wait forever for a group coordinator that just restarted (librdkafka 2.0.2), and a rollback
/// that destroys a Kafka source then hangs its worker.
struct KafkaHandleDelete {
  void operator()(rd_kafka_t* handle) const { rd_kafka_destroy_flags(handle, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE); }
};
struct KafkaPartitionsDelete {
  void operator()(rd_kafka_topic_partition_list_t* list) const { rd_kafka_topic_partition_list_destroy(list); }
};
struct KafkaErrorDelete {
  void operator()(rd_kafka_error_t* error) const { rd_kafka_error_destroy(error); }
};
using KafkaConf = std::unique_ptr<rd_kafka_conf_t, KafkaConfDelete>;
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaHandleDelete>;
using KafkaPartitions = std::unique_ptr<rd_kafka_topic_partition_list_t, KafkaPartitionsDelete>;
using KafkaError = std::unique_ptr<rd_kafka_error_t, KafkaErrorDelete>;

/// What librdkafka's callbacks get as their opaque: the client's identity in log lines (e.g. "kafka_source 'in'").
/// The source's and the sink's cores derive from it and cast back in their own callbacks.
struct KafkaClientIdentity {
  std::string identity;
};

/// librdkafka's configuration for one of Roo's clients: `bootstrap.servers`, then Roo's own settings (`own`), then
/// the user's `properties` (last, so they win). The opaque is `client`; librdkafka's own log lines go to the roo.io
/// logger at debug level, prefixed with its identity. Throws core::Error
/// "configure <identity>: <key>=<value>: <librdkafka's reason>" on a property librdkafka refuses.
[[nodiscard]] KafkaConf make_kafka_client_config(KafkaClientIdentity& client, const std::string& brokers,
                                                 const KafkaProperties& own, const KafkaProperties& properties);

/// Creates the client (consumer or producer); throws core::Error "create the Kafka <kind> for <identity>: <reason>".
[[nodiscard]] KafkaHandle make_kafka_client(rd_kafka_type_t type, KafkaConf conf, const std::string& identity);

/// librdkafka's text for `error` as Roo prints causes (see kafka_reason_text).
[[nodiscard]] std::string kafka_error_text(rd_kafka_resp_err_t error);
/// A reason from librdkafka as Roo prints causes: the leading names of where it happened ("Local: ", "Broker: ",
/// "127.0.0.1:9092/bootstrap: ", "GroupCoordinator: 127.0.0.1:9092: ") and the "(after N ms in state X)" suffix,
/// which vary from run to run, are dropped; the first letter is lower-cased unless it starts an acronym.
[[nodiscard]] std::string kafka_reason_text(std::string_view reason);

/// Milliseconds for librdkafka's int timeouts.
[[nodiscard]] inline int kafka_timeout(std::chrono::milliseconds timeout) {
  return static_cast<int>(std::max<std::chrono::milliseconds::rep>(0, timeout.count()));
}

}  // namespace roo::io
