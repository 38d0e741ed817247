#include "kafka_test_support.hpp"

#if __has_include("kafka_broker.hpp")
#include "kafka_broker.hpp"
#endif

#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <thread>

namespace roo::io::test {
namespace {

using Clock = std::chrono::steady_clock;

struct HandleDelete {
  void operator()(rd_kafka_t* handle) const { rd_kafka_destroy(handle); }
};
using Handle = std::unique_ptr<rd_kafka_t, HandleDelete>;

Handle make_client(rd_kafka_type_t type, const std::vector<std::pair<std::string, std::string>>& settings) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::array<char, 512> error{};
  auto set = [&](const std::string& key, const std::string& value) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error.data(), error.size()) != RD_KAFKA_CONF_OK) {
      throw std::runtime_error("test kafka client: " + key + ": " + error.data());
    }
  };
  set("bootstrap.servers", kafka_bootstrap());
  set("log_level", "3");
  for (const auto& [key, value] : settings) {
    set(key, value);
  }
  rd_kafka_t* handle = rd_kafka_new(type, conf, error.data(), error.size());
  if (handle == nullptr) {
    throw std::runtime_error(std::string("test kafka client: ") + error.data());
  }
  return Handle(handle);
}

void check(rd_kafka_resp_err_t error, const std::string& what) {
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error(what + ": " + rd_kafka_err2str(error));
  }
}

/// Runs one admin request on `client` and waits for its result event.
rd_kafka_event_t* admin_result(rd_kafka_t* client, rd_kafka_queue_t* queue, rd_kafka_event_type_t type) {
  for (;;) {
    rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 20000);
    if (event == nullptr) {
      throw std::runtime_error("test kafka admin: no answer");
    }
    if (rd_kafka_event_type(event) == type) {
      return event;
    }
    rd_kafka_event_destroy(event);
    (void)client;
  }
}

int partition_count(rd_kafka_t* client, const std::string& topic) {
  rd_kafka_topic_t* handle = rd_kafka_topic_new(client, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* metadata = nullptr;
  int count = -1;
  if (rd_kafka_metadata(client, 0, handle, &metadata, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (metadata->topic_cnt == 1 && metadata->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      count = metadata->topics[0].partition_cnt;
    }
    rd_kafka_metadata_destroy(metadata);
  }
  rd_kafka_topic_destroy(handle);
  return count;
}

void wait_for_partitions(rd_kafka_t* client, const std::string& topic, int partitions) {
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (partition_count(client, topic) != partitions) {
    if (Clock::now() > deadline) {
      throw std::runtime_error("test kafka admin: topic " + topic + " does not show its partitions");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

std::string kafka_bootstrap() {
#if __has_include("kafka_broker.hpp")
  return roo::test::kafka_bootstrap();  // the test broker fixture's own reader (tests/support)
#else
  const char* file = std::getenv("ROO_KAFKA_BOOTSTRAP_FILE");
  if (file == nullptr || *file == '\0') {
    throw std::runtime_error("ROO_KAFKA_BOOTSTRAP_FILE is not set: run these tests under the `kafka` ctest fixture");
  }
  std::ifstream in(file);
  std::string address;
  in >> address;
  if (address.empty()) {
    throw std::runtime_error(std::string("no bootstrap address in ") + file);
  }
  return address;
#endif
}

std::string unique_topic(std::string_view what) {
  static std::atomic<int> counter{0};
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
  return "roo-" + std::string(what) + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
         std::to_string(now.count());
}

void create_topic(const std::string& topic, int partitions) {
  Handle client = make_client(RD_KAFKA_PRODUCER, {});
  rd_kafka_queue_t* queue = rd_kafka_queue_new(client.get());
  std::array<char, 512> error{};
  rd_kafka_NewTopic_t* request = rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, error.data(), error.size());
  rd_kafka_CreateTopics(client.get(), &request, 1, nullptr, queue);
  rd_kafka_event_t* event = admin_result(client.get(), queue, RD_KAFKA_EVENT_CREATETOPICS_RESULT);
  size_t count = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
  rd_kafka_resp_err_t result = count == 1 ? rd_kafka_topic_result_error(results[0]) : rd_kafka_event_error(event);
  rd_kafka_event_destroy(event);
  rd_kafka_NewTopic_destroy(request);
  rd_kafka_queue_destroy(queue);
  check(result, "create topic " + topic);
  wait_for_partitions(client.get(), topic, partitions);
}

void add_partitions(const std::string& topic, int partitions) {
  Handle client = make_client(RD_KAFKA_PRODUCER, {});
  rd_kafka_queue_t* queue = rd_kafka_queue_new(client.get());
  std::array<char, 512> error{};
  rd_kafka_NewPartitions_t* request =
      rd_kafka_NewPartitions_new(topic.c_str(), static_cast<size_t>(partitions), error.data(), error.size());
  rd_kafka_CreatePartitions(client.get(), &request, 1, nullptr, queue);
  rd_kafka_event_t* event = admin_result(client.get(), queue, RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT);
  size_t count = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(event), &count);
  rd_kafka_resp_err_t result = count == 1 ? rd_kafka_topic_result_error(results[0]) : rd_kafka_event_error(event);
  rd_kafka_event_destroy(event);
  rd_kafka_NewPartitions_destroy(request);
  rd_kafka_queue_destroy(queue);
  check(result, "add partitions to " + topic);
  wait_for_partitions(client.get(), topic, partitions);
}

void delete_records(const std::string& topic, std::int32_t partition, std::int64_t offset) {
  Handle client = make_client(RD_KAFKA_PRODUCER, {});
  rd_kafka_queue_t* queue = rd_kafka_queue_new(client.get());
  rd_kafka_topic_partition_list_t* before = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(before, topic.c_str(), partition)->offset = offset;
  rd_kafka_DeleteRecords_t* request = rd_kafka_DeleteRecords_new(before);
  rd_kafka_DeleteRecords(client.get(), &request, 1, nullptr, queue);
  rd_kafka_event_t* event = admin_result(client.get(), queue, RD_KAFKA_EVENT_DELETERECORDS_RESULT);
  const rd_kafka_topic_partition_list_t* offsets =
      rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(event));
  rd_kafka_resp_err_t result =
      offsets != nullptr && offsets->cnt == 1 ? offsets->elems[0].err : rd_kafka_event_error(event);
  rd_kafka_event_destroy(event);
  rd_kafka_DeleteRecords_destroy(request);
  rd_kafka_topic_partition_list_destroy(before);
  rd_kafka_queue_destroy(queue);
  check(result, "delete records of " + topic);
}

void produce(const std::string& topic, const std::vector<KafkaMessage>& messages,
             const std::string& transactional_id) {
  static std::atomic<int> failures{0};
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* message, void*) {
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++failures;
    }
  });
  std::array<char, 512> error{};
  rd_kafka_conf_set(conf, "bootstrap.servers", kafka_bootstrap().c_str(), error.data(), error.size());
  rd_kafka_conf_set(conf, "acks", "all", error.data(), error.size());
  // Idempotent: under load librdkafka retries, and without idempotence a retry may reorder or repeat messages (the
  // tests expect each message at the offset its production order gives).
  rd_kafka_conf_set(conf, "enable.idempotence", "true", error.data(), error.size());
  rd_kafka_conf_set(conf, "linger.ms", "5", error.data(), error.size());
  if (!transactional_id.empty()) {
    rd_kafka_conf_set(conf, "transactional.id", transactional_id.c_str(), error.data(), error.size());
  }
  Handle client(rd_kafka_new(RD_KAFKA_PRODUCER, conf, error.data(), error.size()));
  auto check_transaction = [&](rd_kafka_error_t* failed, const std::string& what) {
    if (failed != nullptr) {
      std::string text = rd_kafka_error_string(failed);
      rd_kafka_error_destroy(failed);
      throw std::runtime_error(what + " for " + topic + ": " + text);
    }
  };
  if (!transactional_id.empty()) {
    check_transaction(rd_kafka_init_transactions(client.get(), 30000), "init transactions");
    check_transaction(rd_kafka_begin_transaction(client.get()), "begin a transaction");
  }
  failures = 0;
  for (const auto& message : messages) {
    rd_kafka_headers_t* headers = nullptr;
    if (!message.headers.empty()) {
      headers = rd_kafka_headers_new(message.headers.size());
      for (const auto& [name, value] : message.headers) {
        rd_kafka_header_add(headers, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                            static_cast<ssize_t>(value.size()));
      }
    }
    const char* key = message.key ? message.key->data() : nullptr;
    std::size_t key_size = message.key ? message.key->size() : 0;
    std::int64_t time = message.time_ms >= 0 ? message.time_ms : 0;
    for (;;) {
      rd_kafka_resp_err_t result = rd_kafka_producev(
          client.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(message.partition),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_VALUE(const_cast<char*>(message.value.data()), message.value.size()),
          RD_KAFKA_V_KEY(key, key_size), RD_KAFKA_V_TIMESTAMP(time), RD_KAFKA_V_HEADERS(headers),
          RD_KAFKA_V_END);
      if (result == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(client.get(), 10);
        continue;
      }
      check(result, "produce to " + topic);
      break;
    }
    rd_kafka_poll(client.get(), 0);
  }
  check(rd_kafka_flush(client.get(), 30000), "flush to " + topic);
  if (!transactional_id.empty()) {
    check_transaction(rd_kafka_commit_transaction(client.get(), 30000), "commit a transaction");
  }
  if (failures > 0) {
    throw std::runtime_error("produce to " + topic + ": " + std::to_string(failures.load()) + " not delivered");
  }
}

std::int64_t recent_time_ms() {
  static const std::int64_t at = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch() - std::chrono::hours(1))
                                     .count();
  return at;
}

std::vector<KafkaMessage> read_topic(const std::string& topic, std::size_t count, bool read_committed,
                                     std::chrono::milliseconds timeout, std::chrono::milliseconds settle) {
  Handle client = make_client(RD_KAFKA_CONSUMER, {{"group.id", "roo-test-reader"},
                                                  {"enable.auto.commit", "false"},
                                                  {"isolation.level", read_committed ? "read_committed"
                                                                                     : "read_uncommitted"}});
  int partitions = partition_count(client.get(), topic);
  if (partitions < 0) {
    throw std::runtime_error("read " + topic + ": no such topic");
  }
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  check(rd_kafka_assign(client.get(), list), "assign " + topic);
  rd_kafka_topic_partition_list_destroy(list);
  std::vector<KafkaMessage> out;
  auto deadline = Clock::now() + timeout;
  std::optional<Clock::time_point> settled;
  for (;;) {
    auto now = Clock::now();
    if (out.size() >= count && !settled) {
      settled = now + settle;
    }
    if ((settled && now >= *settled) || now >= deadline) {
      break;
    }
    rd_kafka_message_t* message = rd_kafka_consumer_poll(client.get(), 50);
    if (message == nullptr) {
      continue;
    }
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      KafkaMessage read;
      read.partition = message->partition;
      read.offset = message->offset;
      if (message->key != nullptr) {
        read.key = std::string(static_cast<const char*>(message->key), message->key_len);
      }
      read.value.assign(static_cast<const char*>(message->payload), message->len);
      read.time_ms = rd_kafka_message_timestamp(message, nullptr);
      rd_kafka_headers_t* headers = nullptr;
      if (rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char* name = nullptr;
        const void* value = nullptr;
        size_t size = 0;
        for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
             ++i) {
          read.headers.emplace_back(name, std::string(static_cast<const char*>(value), size));
        }
      }
      out.push_back(std::move(read));
    }
    rd_kafka_message_destroy(message);
  }
  rd_kafka_consumer_close(client.get());
  return out;
}

std::map<std::int32_t, std::int64_t> committed_offsets(const std::string& group, const std::string& topic,
                                                       int partitions) {
  Handle client = make_client(RD_KAFKA_CONSUMER, {{"group.id", group}, {"enable.auto.commit", "false"}});
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p);
  }
  check(rd_kafka_committed(client.get(), list, 10000), "read committed offsets of " + group);
  std::map<std::int32_t, std::int64_t> out;
  for (int i = 0; i < list->cnt; ++i) {
    out[list->elems[i].partition] = list->elems[i].offset;
  }
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_consumer_close(client.get());
  return out;
}

}  // namespace roo::io::test
