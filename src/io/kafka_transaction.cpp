#include "kafka_transaction.hpp"

#include "kafka_committed_offsets.hpp"

#include <thread>
#include <utility>

namespace roo::io {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds retry_pause{100};

/// Classifies (and frees) librdkafka's error object; nullptr is success.
KafkaTransactionResult result_of(rd_kafka_error_t* raw) {
  KafkaError error(raw);
  KafkaTransactionResult result;
  if (!error) {
    return result;
  }
  rd_kafka_resp_err_t code = rd_kafka_error_code(error.get());
  result.text = kafka_reason_text(rd_kafka_error_string(error.get()));
  if (rd_kafka_error_is_fatal(error.get())) {
    result.kind = KafkaTransactionResult::Kind::fatal;
  } else if (rd_kafka_error_txn_requires_abort(error.get())) {
    result.kind = KafkaTransactionResult::Kind::abortable;
  } else if (rd_kafka_error_is_retriable(error.get())) {
    result.kind = KafkaTransactionResult::Kind::retriable;
  } else {
    result.kind = KafkaTransactionResult::Kind::fatal;
  }
  result.fenced = code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
                  code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH;
  return result;
}

/// Repeats `call` while it fails with a retriable error and time is left.
template <class Call>
KafkaTransactionResult retrying(std::chrono::milliseconds timeout, Call call) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    KafkaTransactionResult result = result_of(call(kafka_timeout(std::max(left, std::chrono::milliseconds(1)))));
    if (result.kind != KafkaTransactionResult::Kind::retriable || Clock::now() >= deadline) {
      return result;
    }
    std::this_thread::sleep_for(retry_pause);
  }
}

}  // namespace

KafkaTransaction::KafkaTransaction(rd_kafka_t* producer, std::string marker_group, std::string topic,
                                   std::string brokers, KafkaProperties properties)
    : producer_(producer),
      topic_(std::move(topic)),
      brokers_(std::move(brokers)),
      properties_(std::move(properties)),
      marker_group_(std::move(marker_group)) {}

KafkaTransactionResult KafkaTransaction::init(std::chrono::milliseconds timeout) {
  return retrying(timeout, [&](int ms) { return rd_kafka_init_transactions(producer_, ms); });
}

KafkaTransactionResult KafkaTransaction::begin() { return result_of(rd_kafka_begin_transaction(producer_)); }

KafkaTransactionResult KafkaTransaction::mark(std::uint64_t checkpoint, std::chrono::milliseconds timeout) {
  KafkaPartitions offsets(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_t* marker = rd_kafka_topic_partition_list_add(offsets.get(), topic_.c_str(), 0);
  marker->offset = static_cast<std::int64_t>(checkpoint);
  std::string text = "roo checkpoint " + std::to_string(checkpoint);
  marker->metadata = rd_kafka_mem_malloc(nullptr, text.size());
  std::copy(text.begin(), text.end(), static_cast<char*>(marker->metadata));
  marker->metadata_size = text.size();
  rd_kafka_consumer_group_metadata_t* group = rd_kafka_consumer_group_metadata_new(marker_group_.c_str());
  KafkaTransactionResult result = retrying(timeout, [&](int ms) {
    return rd_kafka_send_offsets_to_transaction(producer_, offsets.get(), group, ms);
  });
  rd_kafka_consumer_group_metadata_destroy(group);
  return result;
}

KafkaTransactionResult KafkaTransaction::commit(std::chrono::milliseconds timeout) {
  return retrying(timeout, [&](int ms) { return rd_kafka_commit_transaction(producer_, ms); });
}

KafkaTransactionResult KafkaTransaction::abort(std::chrono::milliseconds timeout) {
  // Delivered first: an EndTxn(abort) sent while the transaction's partitions are still being registered
  // (AddPartitionsToTxn in flight, or retried while the previous commit completes) is refused by the coordinator
  // with INVALID_TXN_STATE, a fatal error for librdkafka 2.0.2 (confluentinc/librdkafka#4849). Delivering the records
  // registers their partitions; the abort then discards them.
  (void)rd_kafka_flush(producer_, kafka_timeout(timeout));
  return retrying(timeout, [&](int ms) { return rd_kafka_abort_transaction(producer_, ms); });
}

// init_transactions fences an earlier producer with this transactional.id and has the coordinator abort its open
// transaction. A broker restarted meanwhile (Kafka 4.4, librdkafka 2.0.2's transaction protocol, before KIP-890) was
// seen to lose that abort: the earlier producer's records stayed pending in their partitions with no marker, and the
// next COMMIT marker of this transactional id, a later epoch's, made them visible: duplicates under read_committed
// (tests/e2e/test_kafka_faults.py, a kill, a restart and a broker restart at once, 2 runs of 5 on a loaded machine).
// An ABORT marker of this producer in every partition ends whatever is pending there first.
KafkaTransactionResult KafkaTransaction::abort_leftovers(std::chrono::milliseconds timeout) {
  KafkaTransactionResult result;
  rd_kafka_topic_t* topic = rd_kafka_topic_new(producer_, topic_.c_str(), nullptr);
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_resp_err_t error = rd_kafka_metadata(producer_, 0, topic, &metadata, kafka_timeout(timeout));
  int partitions = 0;
  if (error == RD_KAFKA_RESP_ERR_NO_ERROR && metadata->topic_cnt == 1) {
    error = metadata->topics[0].err;
    partitions = metadata->topics[0].partition_cnt;
  }
  if (metadata != nullptr) {
    rd_kafka_metadata_destroy(metadata);
  }
  rd_kafka_topic_destroy(topic);
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR || partitions == 0) {
    result.kind = KafkaTransactionResult::Kind::retriable;
    result.text = "cannot list the partitions of topic '" + topic_ + "': " +
                  (error != RD_KAFKA_RESP_ERR_NO_ERROR ? kafka_error_text(error) : std::string("it has none"));
    return result;
  }
  if (result = begin(); !result.ok()) {
    return result;
  }
  for (int partition = 0; partition < partitions; ++partition) {
    if (rd_kafka_resp_err_t produced =
            rd_kafka_producev(producer_, RD_KAFKA_V_TOPIC(topic_.c_str()), RD_KAFKA_V_PARTITION(partition),
                              RD_KAFKA_V_VALUE(nullptr, 0), RD_KAFKA_V_OPAQUE(sweep_opaque), RD_KAFKA_V_END);
        produced != RD_KAFKA_RESP_ERR_NO_ERROR) {
      (void)abort(timeout);
      result.kind = KafkaTransactionResult::Kind::retriable;
      result.text = "cannot write to " + topic_ + "/" + std::to_string(partition) + ": " + kafka_error_text(produced);
      return result;
    }
  }
  return abort(timeout);
}

std::optional<std::uint64_t> KafkaTransaction::read_committed_checkpoint(std::chrono::milliseconds timeout,
                                                                          std::string& error) const {
  KafkaClientIdentity identity{"kafka_sink marker reader '" + marker_group_ + "'"};
  KafkaProperties own = {{"group.id", marker_group_},
                         {"enable.auto.commit", "false"},
                         {"isolation.level", "read_committed"}};
  KafkaHandle consumer =
      make_kafka_client(RD_KAFKA_CONSUMER, make_kafka_client_config(identity, brokers_, own, properties_),
                        identity.identity);
  KafkaPartitions offsets(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(offsets.get(), topic_.c_str(), 0);
  rd_kafka_resp_err_t result =
      read_committed_offsets(consumer.get(), offsets.get(), std::chrono::steady_clock::now() + timeout);
  std::optional<std::uint64_t> checkpoint;
  if (result != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error = kafka_error_text(result);
  } else {
    std::int64_t offset = offsets->elems[0].offset;
    checkpoint = offset < 0 ? 0 : static_cast<std::uint64_t>(offset);
  }
  rd_kafka_consumer_close(consumer.get());
  return checkpoint;
}

}  // namespace roo::io
