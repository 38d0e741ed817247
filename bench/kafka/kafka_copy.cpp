// The broker's end-to-end limit: a plain librdkafka copy loop, consume from one topic and produce every message
// (value and key) to another, in one thread, with no user code. bench/kafka/run.py builds it into bench/out/kafka/
// (g++ -O2, pkg-config rdkafka) and times it like any other system on the same broker and data:
//
//   kafka_copy BROKERS IN_TOPIC OUT_TOPIC GROUP COUNT [key=value ...]
//
// Subscribes to IN_TOPIC with consumer group GROUP from the earliest offset (offsets auto-committed: at-least-once),
// produces each message to OUT_TOPIC with the same key (librdkafka's default partitioner), and stops once COUNT
// messages are copied and delivered (COUNT 0: copies until SIGTERM or SIGINT, for the latency runs). key=value
// arguments are librdkafka properties of the producer (the defaults otherwise: linger.ms 5, batch.size 1000000,
// acks all; queue.buffering.max.messages 1000000). The consumer sets queued.min.messages 1000000 (see below). Prints one JSON line on stdout: {"copied": N, "seconds": first consumed -> last delivered}.
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

volatile std::sig_atomic_t stop_requested = 0;

void request_stop(int) { stop_requested = 1; }

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "kafka_copy: %s\n", what.c_str());
  std::exit(1);
}

void set(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  char error[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error, sizeof error) != RD_KAFKA_CONF_OK) {
    fail("unable to set " + key + "=" + value + ": " + error);
  }
}

long delivery_failures = 0;

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void*) {
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (delivery_failures++ == 0) {
      std::fprintf(stderr, "kafka_copy: delivery failed: %s\n", rd_kafka_err2str(message->err));
    }
  }
}

rd_kafka_t* make_client(rd_kafka_type_t type, rd_kafka_conf_t* conf) {
  char error[512];
  rd_kafka_t* client = rd_kafka_new(type, conf, error, sizeof error);
  if (client == nullptr) {
    fail(std::string("unable to create a client: ") + error);
  }
  return client;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: kafka_copy BROKERS IN_TOPIC OUT_TOPIC GROUP COUNT [producer key=value ...]\n");
    return 2;
  }
  const std::string brokers = argv[1];
  const char* out_topic = argv[3];
  const long count = std::atol(argv[5]);
  std::signal(SIGTERM, request_stop);
  std::signal(SIGINT, request_stop);

  rd_kafka_conf_t* consumer_conf = rd_kafka_conf_new();
  set(consumer_conf, "bootstrap.servers", brokers);
  set(consumer_conf, "group.id", argv[4]);
  set(consumer_conf, "auto.offset.reset", "earliest");
  set(consumer_conf, "fetch.wait.max.ms", "10");
  // librdkafka 2.0.2 stops fetching a partition whose local queue holds queued.min.messages (default 100,000) and
  // resumes only about a second later: with small messages that caps a consumer near 330k msg/s. 1,000,000 keeps
  // it fetching (1.4-1.5M msg/s measured); queued.max.messages.kbytes (64 MiB per partition) still bounds memory.
  set(consumer_conf, "queued.min.messages", "1000000");
  rd_kafka_t* consumer = make_client(RD_KAFKA_CONSUMER, consumer_conf);
  rd_kafka_poll_set_consumer(consumer);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, argv[2], RD_KAFKA_PARTITION_UA);
  if (rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer, topics); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    fail(std::string("unable to subscribe to ") + argv[2] + ": " + rd_kafka_err2str(err));
  }
  rd_kafka_topic_partition_list_destroy(topics);

  rd_kafka_conf_t* producer_conf = rd_kafka_conf_new();
  set(producer_conf, "bootstrap.servers", brokers);
  set(producer_conf, "queue.buffering.max.messages", "1000000");
  for (int i = 6; i < argc; ++i) {
    const char* eq = std::strchr(argv[i], '=');
    if (eq == nullptr) {
      fail(std::string("expected key=value, got ") + argv[i]);
    }
    set(producer_conf, std::string(argv[i], static_cast<std::size_t>(eq - argv[i])), eq + 1);
  }
  rd_kafka_conf_set_dr_msg_cb(producer_conf, on_delivery);
  rd_kafka_t* producer = make_client(RD_KAFKA_PRODUCER, producer_conf);
  // librdkafka 2.0.2 learns a new topic's partitions only at its next 1 s metadata scan: ask now, so the first
  // messages do not wait for it.
  rd_kafka_topic_t* out_handle = rd_kafka_topic_new(producer, out_topic, nullptr);
  const rd_kafka_metadata_t* metadata = nullptr;
  if (rd_kafka_metadata(producer, 0, out_handle, &metadata, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_metadata_destroy(metadata);
  }
  rd_kafka_topic_destroy(out_handle);

  long copied = 0;
  std::chrono::steady_clock::time_point first;
  while (!stop_requested && (count == 0 || copied < count)) {
    rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer, 100);
    if (message == nullptr) {
      rd_kafka_poll(producer, 0);
      continue;
    }
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        std::fprintf(stderr, "kafka_copy: consume: %s\n", rd_kafka_message_errstr(message));
      }
      rd_kafka_message_destroy(message);
      continue;
    }
    if (copied == 0) {
      first = std::chrono::steady_clock::now();
    }
    for (;;) {
      rd_kafka_resp_err_t err = rd_kafka_producev(
          producer, RD_KAFKA_V_TOPIC(out_topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_VALUE(message->payload, message->len), RD_KAFKA_V_KEY(message->key, message->key_len),
          RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        break;
      }
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        fail(std::string("unable to produce to ") + out_topic + ": " + rd_kafka_err2str(err));
      }
      rd_kafka_poll(producer, 10);  // the queue is full: wait for deliveries (backpressure)
    }
    rd_kafka_message_destroy(message);
    if (++copied % 1024 == 0) {
      rd_kafka_poll(producer, 0);
    }
  }
  if (rd_kafka_flush(producer, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    fail("unable to deliver every message within 60 s");
  }
  const double seconds =
      copied == 0 ? 0.0 : std::chrono::duration<double>(std::chrono::steady_clock::now() - first).count();
  std::printf("{\"copied\": %ld, \"seconds\": %.6f, \"delivery_failures\": %ld}\n", copied, seconds,
              delivery_failures);
  std::fflush(stdout);
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  rd_kafka_destroy(producer);
  return delivery_failures == 0 ? 0 : 1;
}
