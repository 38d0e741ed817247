// The Kafka benchmark's load generator and reader: plain librdkafka, no user code, so the figures are the broker's
// and not a client language's. bench/kafka/run.py builds it into bench/out/kafka/ (g++ -O2, pkg-config rdkafka).
//
//   kafka_load produce BROKERS TOPIC FILE [key=value ...]
//       Produces every frame of FILE (u32 BE length | value) to TOPIC, keyed by the value's first byte (the
//       alphabet workload's letter), as fast as librdkafka takes them; waits for every delivery.
//       Prints {"messages": N, "seconds": first produce -> last delivered}.
//   kafka_load read BROKERS TOPIC COUNT OUT_FILE FIRST_TIMEOUT_S IDLE_TIMEOUT_S GRACE_MS
//       Reads every partition of TOPIC from the beginning (no consumer group, read_committed) until COUNT messages
//       arrived; then GRACE_MS more to count any extra (a duplicate). Gives up FIRST_TIMEOUT_S after start with no
//       message, or IDLE_TIMEOUT_S after the last one. Writes each value as a frame to OUT_FILE ("-": none).
//       Prints {"count", "extra", "ts_min", "ts_max" (the messages' timestamps, ms), "ts_type", "seconds" (first ->
//       COUNT-th received, this process's clock), "last_read_ms" (wall clock when the COUNT-th arrived)}.
//   kafka_load latency BROKERS IN OUT RATE SECONDS WARMUP_S
//       Produces RATE messages/s for SECONDS to IN (value: u64 BE wall-clock microseconds at produce, then u32 BE
//       sequence number; key: a letter, cycling) and reads OUT at the same time; for every copy of a message created
//       after WARMUP_S, latency = the time it is read from OUT - its creation time. Prints {"sent", "received",
//       "measured", "p50_ms", "p99_ms", "p999_ms", "max_ms"}. Its own producer: linger.ms 1, Nagle off; its reader:
//       fetch.wait.max.ms 5, Nagle off (docs/benchmarks.md, "Kafka").
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "kafka_load: %s\n", what.c_str());
  std::exit(1);
}

void set(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  char error[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error, sizeof error) != RD_KAFKA_CONF_OK) {
    fail("unable to set " + key + "=" + value + ": " + error);
  }
}

void set_pairs(rd_kafka_conf_t* conf, int argc, char** argv, int from) {
  for (int i = from; i < argc; ++i) {
    const char* eq = std::strchr(argv[i], '=');
    if (eq == nullptr) {
      fail(std::string("expected key=value, got ") + argv[i]);
    }
    set(conf, std::string(argv[i], static_cast<std::size_t>(eq - argv[i])), eq + 1);
  }
}

std::atomic<long> delivery_failures{0};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void*) {
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR && delivery_failures++ == 0) {
    std::fprintf(stderr, "kafka_load: delivery failed: %s\n", rd_kafka_err2str(message->err));
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

void produce_one(rd_kafka_t* producer, const char* topic, const void* value, std::size_t size, const void* key,
                 std::size_t key_size) {
  for (;;) {
    rd_kafka_resp_err_t err = rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic),
                                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                                RD_KAFKA_V_VALUE(const_cast<void*>(value), size),
                                                RD_KAFKA_V_KEY(key, key_size), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      return;
    }
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      fail(std::string("unable to produce to ") + topic + ": " + rd_kafka_err2str(err));
    }
    rd_kafka_poll(producer, 10);
  }
}

int produce(int argc, char** argv) {
  if (argc < 5) {
    fail("usage: kafka_load produce BROKERS TOPIC FILE [key=value ...]");
  }
  std::ifstream file(argv[4], std::ios::binary);
  std::vector<char> data((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (!file.eof() && file.fail()) {
    fail(std::string("unable to read ") + argv[4]);
  }
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", argv[2]);
  set(conf, "queue.buffering.max.messages", "1000000");
  set_pairs(conf, argc, argv, 5);
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_t* producer = make_client(RD_KAFKA_PRODUCER, conf);
  long messages = 0;
  const Clock::time_point first = Clock::now();
  for (std::size_t at = 0; at + 4 <= data.size();) {
    const auto* head = reinterpret_cast<const unsigned char*>(&data[at]);
    const std::size_t size = (std::size_t{head[0]} << 24) | (head[1] << 16) | (head[2] << 8) | head[3];
    if (at + 4 + size > data.size() || size == 0) {
      fail(std::string("a truncated or empty frame at byte ") + std::to_string(at) + " of " + argv[4]);
    }
    produce_one(producer, argv[3], &data[at + 4], size, &data[at + 4], 1);
    at += 4 + size;
    if (++messages % 1024 == 0) {
      rd_kafka_poll(producer, 0);
    }
  }
  if (rd_kafka_flush(producer, 120000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    fail("unable to deliver every message within 120 s");
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - first).count();
  std::printf("{\"messages\": %ld, \"seconds\": %.6f, \"delivery_failures\": %ld}\n", messages, seconds,
              delivery_failures.load());
  rd_kafka_destroy(producer);
  return delivery_failures == 0 ? 0 : 1;
}

int64_t wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A consumer assigned every partition of `topic` from the beginning, without a group.
rd_kafka_t* reader(const char* brokers, const char* topic, const char* fetch_wait_ms) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", brokers);
  set(conf, "group.id", "kafka_load_reader");  // required by librdkafka; never joined (assign, no commits)
  set(conf, "enable.auto.commit", "false");
  set(conf, "isolation.level", "read_committed");
  set(conf, "fetch.wait.max.ms", fetch_wait_ms);
  set(conf, "socket.nagle.disable", "true");
  set(conf, "queued.min.messages", "1000000");  // 100,000 (the default) caps 2.0.2 near 330k msg/s: kafka_copy.cpp
  rd_kafka_t* consumer = make_client(RD_KAFKA_CONSUMER, conf);
  rd_kafka_poll_set_consumer(consumer);
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_topic_t* handle = rd_kafka_topic_new(consumer, topic, nullptr);
  for (int attempt = 0;; ++attempt) {
    rd_kafka_resp_err_t err = rd_kafka_metadata(consumer, 0, handle, &metadata, 5000);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && metadata->topic_cnt == 1 && metadata->topics[0].err == 0 &&
        metadata->topics[0].partition_cnt > 0) {
      break;
    }
    if (metadata != nullptr) {
      rd_kafka_metadata_destroy(metadata);
      metadata = nullptr;
    }
    if (attempt == 50) {
      fail(std::string("unable to read the partitions of ") + topic);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  rd_kafka_topic_partition_list_t* partitions = rd_kafka_topic_partition_list_new(metadata->topics[0].partition_cnt);
  for (int i = 0; i < metadata->topics[0].partition_cnt; ++i) {
    rd_kafka_topic_partition_list_add(partitions, topic, metadata->topics[0].partitions[i].id)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_metadata_destroy(metadata);
  rd_kafka_topic_destroy(handle);
  if (rd_kafka_assign(consumer, partitions) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    fail(std::string("unable to assign the partitions of ") + topic);
  }
  rd_kafka_topic_partition_list_destroy(partitions);
  return consumer;
}

int read(int argc, char** argv) {
  if (argc != 9) {
    fail("usage: kafka_load read BROKERS TOPIC COUNT OUT_FILE FIRST_TIMEOUT_S IDLE_TIMEOUT_S GRACE_MS");
  }
  const long count = std::atol(argv[4]);
  const std::string out_path = argv[5];
  const auto first_timeout = std::chrono::duration<double>(std::atof(argv[6]));
  const auto idle_timeout = std::chrono::duration<double>(std::atof(argv[7]));
  const auto grace = std::chrono::milliseconds(std::atol(argv[8]));
  std::FILE* out = out_path == "-" ? nullptr : std::fopen(out_path.c_str(), "wb");
  if (out_path != "-" && out == nullptr) {
    fail("unable to open " + out_path);
  }
  rd_kafka_t* consumer = reader(argv[2], argv[3], "10");
  long received = 0;
  long extra = 0;
  int64_t ts_min = INT64_MAX;
  int64_t ts_max = INT64_MIN;
  rd_kafka_timestamp_type_t ts_type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  const Clock::time_point started = Clock::now();
  Clock::time_point first;
  Clock::time_point last = started;
  Clock::time_point done;
  int64_t last_read_us = 0;
  const char* why = nullptr;
  for (;;) {
    const Clock::time_point now = Clock::now();
    if (received >= count && now - done >= grace) {
      break;
    }
    if (received < count && received == 0 && now - started > first_timeout) {
      why = "no message within the first timeout";
      break;
    }
    if (received < count && received > 0 && now - last > idle_timeout) {
      why = "no message within the idle timeout";
      break;
    }
    rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer, 50);
    if (message == nullptr) {
      continue;
    }
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        std::fprintf(stderr, "kafka_load: read: %s\n", rd_kafka_message_errstr(message));
      }
      rd_kafka_message_destroy(message);
      continue;
    }
    last = Clock::now();
    if (received == 0) {
      first = last;
    }
    if (received < count) {
      const int64_t ts = rd_kafka_message_timestamp(message, &ts_type);
      ts_min = std::min(ts_min, ts);
      ts_max = std::max(ts_max, ts);
      if (out != nullptr) {
        const unsigned char head[4] = {static_cast<unsigned char>(message->len >> 24),
                                       static_cast<unsigned char>(message->len >> 16),
                                       static_cast<unsigned char>(message->len >> 8),
                                       static_cast<unsigned char>(message->len)};
        std::fwrite(head, 1, 4, out);
        std::fwrite(message->payload, 1, message->len, out);
      }
      if (++received == count) {
        done = last;
        last_read_us = wall_us();
      }
    } else {
      ++extra;
    }
    rd_kafka_message_destroy(message);
  }
  if (out != nullptr) {
    std::fclose(out);
  }
  const double seconds = received >= count ? std::chrono::duration<double>(done - first).count() : 0.0;
  std::printf(
      "{\"count\": %ld, \"extra\": %ld, \"ts_min\": %lld, \"ts_max\": %lld, \"ts_type\": \"%s\", \"seconds\": %.6f, "
      "\"last_read_ms\": %.3f, \"error\": %s%s%s}\n",
      received, extra, static_cast<long long>(received ? ts_min : 0), static_cast<long long>(received ? ts_max : 0),
      ts_type == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME ? "LogAppendTime" : "CreateTime", seconds, last_read_us / 1000.0,
      why ? "\"" : "",
      why ? why : "null", why ? "\"" : "");
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  return why == nullptr ? 0 : 1;
}

double percentile(const std::vector<int64_t>& sorted, double fraction) {
  if (sorted.empty()) {
    return 0.0;
  }
  const std::size_t index = std::min(sorted.size() - 1, static_cast<std::size_t>(fraction * sorted.size()));
  return sorted[index] / 1000.0;
}

int latency(int argc, char** argv) {
  if (argc != 8) {
    fail("usage: kafka_load latency BROKERS IN OUT RATE SECONDS WARMUP_S");
  }
  const char* brokers = argv[2];
  const char* in_topic = argv[3];
  const double rate = std::atof(argv[5]);
  const double seconds = std::atof(argv[6]);
  const int64_t warmup_us = static_cast<int64_t>(std::atof(argv[7]) * 1e6);
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", brokers);
  set(conf, "linger.ms", "1");  // 0 stalls librdkafka 2.0.2: p50 0.43 s produce -> append at 10k/s (1: 0.65 ms)
  set(conf, "socket.nagle.disable", "true");
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_t* producer = make_client(RD_KAFKA_PRODUCER, conf);
  rd_kafka_t* consumer = reader(brokers, argv[4], "5");

  std::atomic<bool> producing{true};
  std::atomic<long> sent{0};
  std::vector<int64_t> latencies;
  latencies.reserve(static_cast<std::size_t>(rate * seconds) + 16);
  long received = 0;
  const int64_t start_us = wall_us();
  std::thread reading([&] {
    Clock::time_point quiet_since = Clock::now();
    for (;;) {
      rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer, 20);
      const int64_t now = wall_us();
      if (message == nullptr) {
        // After the last message was sent: stop once every one arrived, or 10 s without a message.
        if (!producing && (received >= sent || Clock::now() - quiet_since > std::chrono::seconds(10))) {
          return;
        }
        continue;
      }
      quiet_since = Clock::now();
      if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR && message->len >= 12) {
        const auto* p = static_cast<const unsigned char*>(message->payload);
        int64_t stamp = 0;
        for (int i = 0; i < 8; ++i) {
          stamp = (stamp << 8) | p[i];
        }
        ++received;
        if (stamp - start_us >= warmup_us) {
          latencies.push_back(now - stamp);
        }
      }
      rd_kafka_message_destroy(message);
    }
  });

  const Clock::time_point t0 = Clock::now();
  const auto duration = std::chrono::duration<double>(seconds);
  unsigned char value[12];
  for (long n = 0;;) {
    const auto elapsed = Clock::now() - t0;
    if (elapsed >= duration) {
      break;
    }
    const long due = static_cast<long>(rate * std::chrono::duration<double>(elapsed).count());
    for (; n < due; ++n) {
      const int64_t stamp = wall_us();
      for (int i = 0; i < 8; ++i) {
        value[i] = static_cast<unsigned char>(stamp >> (56 - 8 * i));
      }
      for (int i = 0; i < 4; ++i) {
        value[8 + i] = static_cast<unsigned char>(n >> (24 - 8 * i));
      }
      const char key = static_cast<char>('a' + n % 26);
      produce_one(producer, in_topic, value, sizeof value, &key, 1);
      sent = n + 1;
    }
    rd_kafka_poll(producer, 0);
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  rd_kafka_flush(producer, 30000);
  producing = false;
  reading.join();
  std::sort(latencies.begin(), latencies.end());
  std::printf(
      "{\"sent\": %ld, \"received\": %ld, \"measured\": %zu, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"p999_ms\": %.3f, "
      "\"max_ms\": %.3f, \"delivery_failures\": %ld}\n",
      sent.load(), received, latencies.size(), percentile(latencies, 0.5), percentile(latencies, 0.99),
      percentile(latencies, 0.999), latencies.empty() ? 0.0 : latencies.back() / 1000.0, delivery_failures.load());
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  rd_kafka_destroy(producer);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "produce") {
    return produce(argc, argv);
  }
  if (mode == "read") {
    return read(argc, argv);
  }
  if (mode == "latency") {
    return latency(argc, argv);
  }
  std::fprintf(stderr, "usage: kafka_load produce|read|latency ... (see the comment at the top of kafka_load.cpp)\n");
  return 2;
}
