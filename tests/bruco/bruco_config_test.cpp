#include "roo/bruco/bruco_config.hpp"

#include "roo/core/error.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

namespace roo::bruco {
namespace {
namespace fs = std::filesystem;

class BrucoConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = fs::temp_directory_path() /
              ("roo-bruco-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(folder_);
    fs::create_directories(folder_);
  }
  void TearDown() override { fs::remove_all(folder_); }

  fs::path write(const std::string& text, const std::string& name = "config.yaml") {
    fs::path file = folder_ / name;
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
    return file;
  }

  /// The one-line error read_bruco_config gives for `text` (and `roo run --workers`), after "read <file>: ".
  std::string error_of(const std::string& text, std::optional<int> workers_flag = std::nullopt) {
    fs::path file = write(text);
    try {
      (void)read_bruco_config(file, workers_flag);
    } catch (const core::UsageError& error) {
      std::string message = error.what();
      std::string prefix = "read " + file.string() + ": ";
      EXPECT_EQ(message.rfind(prefix, 0), 0U) << message;
      return message.substr(prefix.size());
    }
    ADD_FAILURE() << "no error for:\n" << text;
    return {};
  }

  fs::path folder_;
};

TEST_F(BrucoConfigTest, ReadsBrucosExampleKafkaToKafka) {
  fs::path file = write(R"(
processor:
  handlerPath: ./fn
  moduleName: main
  workers: 2
  env:
    - name: VAR1
      value: var1-value
source:
  kind: kafka
  brokers:
    - localhost:9092
  topics: [in1, in2]
  consumerGroup: g
  offset: earliest
  balanceStrategy: sticky
  fireAndForget: true
sink:
  kind: kafka
  brokers: [localhost:9092]
  topic: out
  partition: 3
  partitioner: manual
)");
  BrucoConfig config = read_bruco_config(file);
  EXPECT_EQ(config.processor.module_name, "main");
  EXPECT_EQ(config.processor.workers, 2);
  EXPECT_EQ(config.handler_folder(), (folder_ / "fn").lexically_normal());
  ASSERT_EQ(config.processor.env.size(), 1U);
  EXPECT_EQ(config.processor.env[0], std::make_pair(std::string("VAR1"), std::string("var1-value")));
  const auto& source = std::get<KafkaSourceSettings>(config.source);
  EXPECT_EQ(source.topics, (std::vector<std::string>{"in1", "in2"}));
  EXPECT_EQ(source.consumer_group, "g");
  EXPECT_EQ(source.offset, KafkaSourceSettings::Offset::earliest);
  EXPECT_EQ(source.balance, KafkaSourceSettings::Balance::sticky);
  EXPECT_TRUE(source.fire_and_forget);
  EXPECT_EQ(source.rebalance_timeout_s, 60);
  ASSERT_TRUE(config.sink);
  const auto& sink = std::get<KafkaSinkSettings>(*config.sink);
  EXPECT_EQ(sink.topic, "out");
  EXPECT_EQ(sink.partition, 3);
  EXPECT_EQ(sink.partitioner, KafkaSinkSettings::Partitioner::manual);
}

TEST_F(BrucoConfigTest, DefaultsForHttpWithoutSink) {
  BrucoConfig config = read_bruco_config(write("source:\n  kind: http\n"));
  EXPECT_EQ(config.processor.module_name, "handler");
  EXPECT_EQ(config.processor.workers, 1);
  EXPECT_EQ(config.handler_folder(), folder_);
  const auto& http = std::get<HttpSourceSettings>(config.source);
  EXPECT_EQ(http.port, 8080);
  EXPECT_FALSE(http.ignore_processor_response);
  EXPECT_FALSE(config.sink);
}

TEST_F(BrucoConfigTest, NatsSourceAndSink) {
  BrucoConfig config = read_bruco_config(write(
      "source: {kind: nats, serverUrl: 'nats://127.0.0.1:4222', subject: in, queueGroup: q}\n"
      "sink: {kind: nats, serverUrl: 'nats://127.0.0.1:4222', subject: out}\n"));
  EXPECT_EQ(std::get<NatsSourceSettings>(config.source).queue_group, "q");
  EXPECT_EQ(std::get<NatsSinkSettings>(*config.sink).subject, "out");
}

TEST_F(BrucoConfigTest, EveryErrorNamesTheKeyAndWhatIsAllowed) {
  EXPECT_EQ(error_of("source:\n  kind: kafak\n"), "source.kind: \"kafak\" is not one of kafka, http, nats");
  EXPECT_EQ(error_of("source: {kind: http}\nsink: {kind: kafka, brokers: [b], topic: t, partitioner: manual}\n"),
            "sink.partitioner: manual needs sink.partition");
  EXPECT_EQ(error_of("processor: {workers: 1}\n"), "source: is required (a mapping with kind: kafka, http or nats)");
  EXPECT_EQ(error_of("source: {kind: http, port: 70000}\n"), "source.port: 70000 is not from 1 to 65535");
  EXPECT_EQ(error_of("source: {kind: http, prot: 80}\n"),
            "source.prot: is not a key of a source of kind http (allowed: kind, port, ignoreProcessorResponse)");
  EXPECT_EQ(error_of("source: {kind: kafka, brokers: [b], topics: [t]}\n"), "source.consumerGroup: is required");
  EXPECT_EQ(error_of("source: {kind: http, ignoreProcessorResponse: maybe}\n"),
            "source.ignoreProcessorResponse: expected true or false");
  EXPECT_EQ(error_of("source: {kind: http}\nsink: {kind: s3}\n"), "sink.kind: \"s3\" is not one of kafka, nats");
  EXPECT_EQ(error_of("source: {kind: http}\nsinks: {kind: nats}\n"),
            "sinks: is not a key of the config (allowed: processor, source, sink)");
  EXPECT_EQ(error_of("processor: {workers: 0}\nsource: {kind: http}\n"), "processor.workers: 0 is not from 1 to 64");
  EXPECT_EQ(error_of("processor: {env: [{name: 'A=B', value: x}]}\nsource: {kind: http}\n"),
            "processor.env[0].name: \"A=B\" is not an environment variable's name");
  EXPECT_EQ(error_of("source: [http]\n"), "source: expected a mapping with kind: kafka, http or nats");
  std::string bad_yaml = error_of("source: {kind: http\n");
  EXPECT_EQ(bad_yaml.rfind("not valid YAML at line ", 0), 0U) << bad_yaml;
}

TEST_F(BrucoConfigTest, ReadsTheStateKey) {
  EXPECT_EQ(read_bruco_config(write("source: {kind: http}\n")).processor.state_key, "");
  EXPECT_EQ(read_bruco_config(write("processor: {stateKey: null}\nsource: {kind: http}\n")).processor.state_key, "");
  EXPECT_EQ(read_bruco_config(write("processor: {stateKey: 'json:user'}\nsource: {kind: http}\n")).processor.state_key,
            "json:user");
  EXPECT_EQ(read_bruco_config(write("processor: {stateKey: message-key, workers: 3}\n"
                                    "source: {kind: kafka, brokers: [b], topics: [t], consumerGroup: g}\n"))
                .processor.state_key,
            "message-key");
  // Several workers: fine when nothing waits for a reply on the worker that read the request.
  EXPECT_EQ(read_bruco_config(write("processor: {stateKey: 'json:a', workers: 2}\n"
                                    "source: {kind: http, ignoreProcessorResponse: true}\n"))
                .processor.state_key,
            "json:a");
  EXPECT_EQ(read_bruco_config(write("processor: {stateKey: 'json:a', workers: 2}\nsource: {kind: http}\n"), 1)
                .processor.state_key,
            "json:a");  // roo run --workers 1 wins over processor.workers
}

TEST_F(BrucoConfigTest, StateKeyErrorsSayWhatIsAllowed) {
  EXPECT_EQ(error_of("processor: {stateKey: user}\nsource: {kind: http}\n"),
            "processor.stateKey: \"user\" is not message-key or json:<field>");
  EXPECT_EQ(error_of("processor: {stateKey: ''}\nsource: {kind: http}\n"),
            "processor.stateKey: \"\" is not message-key or json:<field>");
  EXPECT_EQ(error_of("processor: {stateKey: 'json:'}\nsource: {kind: http}\n"),
            "processor.stateKey: \"json:\" names no field (json:<field>, a top-level field of a JSON event)");
  EXPECT_EQ(error_of("processor: {stateKey: [a]}\nsource: {kind: http}\n"),
            "processor.stateKey: expected a text value");
  EXPECT_EQ(error_of("processor: {stateKey: message-key}\nsource: {kind: nats, serverUrl: u, subject: s}\n"),
            "processor.stateKey: message-key needs a kafka source (nats events have no key; use json:<field>)");
  EXPECT_EQ(error_of("processor: {stateKey: message-key}\nsource: {kind: http}\n"),
            "processor.stateKey: message-key needs a kafka source (http events have no key; use json:<field>)");
  EXPECT_EQ(error_of("processor: {stateKey: 'json:a', workers: 2}\nsource: {kind: http}\n"),
            "processor.stateKey: with an http source needs 1 worker, not 2 (processor.workers): a request is answered "
            "by the worker that read it, and a key's events go to the worker keeping its state (or set "
            "source.ignoreProcessorResponse: true)");
  EXPECT_EQ(error_of("processor: {stateKey: 'json:a'}\nsource: {kind: http}\n", 3),
            "processor.stateKey: with an http source needs 1 worker, not 3 (roo run --workers): a request is answered "
            "by the worker that read it, and a key's events go to the worker keeping its state (or set "
            "source.ignoreProcessorResponse: true)");
}

TEST_F(BrucoConfigTest, FindsTheConfigAsBrucoDoes) {
  fs::path direct = write("source: {kind: http}\n");
  EXPECT_EQ(find_bruco_config(direct), direct);
  EXPECT_EQ(find_bruco_config(folder_), direct);
  fs::remove(direct);
  fs::path nested = write("source: {kind: http}\n", "only/config.yaml");
  EXPECT_EQ(find_bruco_config(folder_), nested);
  write("x", "second/other.txt");
  EXPECT_THROW((void)find_bruco_config(folder_), core::UsageError);
  EXPECT_THROW((void)find_bruco_config(folder_ / "absent"), core::UsageError);
}

}  // namespace
}  // namespace roo::bruco
