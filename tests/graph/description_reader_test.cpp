#include "graph_fixtures.hpp"

#include "roo/core/error.hpp"
#include "roo/graph/plan.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>

namespace roo::graph {
namespace {

using test::plan_of;

/// The user function a decorated object of plan_apps wraps: what the description holds.
PyObject* raw_function(const char* name) {
  return pybind11::module_::import("plan_apps").attr(name).attr("_roo_fn").ptr();
}

TEST(DescriptionReader, ReadsAKafkaSourceWithEveryRooOption) {
  Plan plan = plan_of("kafka_to_kafka");
  ASSERT_EQ(plan.sources.size(), 1u);
  const SourcePlan& source = plan.sources[0];
  EXPECT_EQ(source.name, "Orders");
  EXPECT_EQ(source.kind(), SourcePlan::Kind::kafka);
  EXPECT_EQ(source.decode.get(), raw_function("decode_keyed"));
  const auto& kafka = std::get<KafkaSourceSettings>(source.settings);
  EXPECT_EQ(kafka.topics, (std::vector<std::string>{"orders", "refunds", "chargebacks"}));
  EXPECT_EQ(kafka.brokers, "k1:9092,k2:9093");
  EXPECT_EQ(kafka.group, "totals-app");
  EXPECT_EQ(kafka.start, KafkaSourceSettings::Start::latest);
  EXPECT_EQ(kafka.properties, (KafkaProperties{{"client.id", "roo"},
                                               {"security.protocol", "SASL_SSL"},
                                               {"fetch.wait.max.ms", "20"}}));
  EXPECT_EQ(kafka.log_level, KafkaLogLevel::info);
  EXPECT_TRUE(kafka.decode_takes_key);
}

TEST(DescriptionReader, ReadsAKafkaSinkWithItsPartitionerAndLinger) {
  Plan plan = plan_of("kafka_to_kafka");
  ASSERT_EQ(plan.sinks.size(), 1u);
  const SinkPlan& sink = plan.sinks[0];
  EXPECT_EQ(sink.name, "sink 0");
  EXPECT_EQ(sink.kind(), SinkPlan::Kind::kafka);
  EXPECT_EQ(sink.encode.get(), raw_function("encode_record"));
  const auto& kafka = std::get<KafkaSinkSettings>(sink.settings);
  EXPECT_EQ(kafka.topic, "totals");
  EXPECT_EQ(kafka.brokers, "k1:9092");
  EXPECT_EQ(kafka.properties, (KafkaProperties{{"compression.type", "lz4"},
                                               {"partitioner", "murmur2"},
                                               {"security.protocol", "SASL_SSL"}}));
  EXPECT_EQ(kafka.max_message_size, 4096u);
  EXPECT_EQ(kafka.linger, std::chrono::milliseconds(25));
  EXPECT_EQ(kafka.log_level, KafkaLogLevel::error);
  ASSERT_EQ(plan.flows.size(), 1u);
  EXPECT_EQ(plan.flows[0].sinks, (std::vector<std::size_t>{0}));
}

TEST(DescriptionReader, ReadsWallaroosKafkaConfigsWithWallaroosDefaults) {
  Plan plan = plan_of("wallaroo_kafka_configs");
  const auto& source = std::get<KafkaSourceSettings>(plan.sources.at(0).settings);
  EXPECT_EQ(plan.sources[0].name, "Readings");
  EXPECT_EQ(source.topics, (std::vector<std::string>{"readings"}));
  EXPECT_EQ(source.brokers, "k1:9092");
  EXPECT_EQ(source.group, "");  // the runtime chooses
  EXPECT_EQ(source.start, KafkaSourceSettings::Start::earliest);
  EXPECT_TRUE(source.properties.empty());
  EXPECT_EQ(source.log_level, KafkaLogLevel::warn);
  EXPECT_FALSE(source.decode_takes_key);
  const auto& sink = std::get<KafkaSinkSettings>(plan.sinks.at(0).settings);
  EXPECT_EQ(sink.topic, "celsius");
  EXPECT_EQ(sink.max_message_size, 100000u);
  EXPECT_EQ(sink.linger, std::chrono::milliseconds(0));
  EXPECT_TRUE(sink.properties.empty());
}

TEST(DescriptionReader, ReadsTcpAndGeneratorSourcesAndTcpSinks) {
  Plan plan = plan_of("tcp_and_generator");
  ASSERT_EQ(plan.sources.size(), 2u);
  EXPECT_EQ(plan.sources[0].kind(), SourcePlan::Kind::tcp);
  const auto& tcp = std::get<TcpSourceSettings>(plan.sources[0].settings);
  EXPECT_EQ(tcp.host, "127.0.0.1");
  EXPECT_EQ(tcp.port, 7010);
  EXPECT_TRUE(tcp.valid);
  EXPECT_EQ(tcp.max_size, 100u);
  EXPECT_EQ(tcp.parallelism, 3u);
  EXPECT_EQ(tcp.header_length, 4u);
  EXPECT_EQ(tcp.length_fmt, ">I");
  EXPECT_EQ(plan.sources[0].decode.get(), raw_function("decode_value"));
  EXPECT_EQ(plan.sources[1].kind(), SourcePlan::Kind::generator);
  const auto& generator = std::get<GeneratorSourceSettings>(plan.sources[1].settings);
  EXPECT_TRUE(generator.initial_value);
  EXPECT_TRUE(generator.apply);
  EXPECT_FALSE(plan.sources[1].decode);
  ASSERT_EQ(plan.sinks.size(), 1u);
  EXPECT_EQ(plan.sinks[0].kind(), SinkPlan::Kind::tcp);
  const auto& sink = std::get<TcpSinkSettings>(plan.sinks[0].settings);
  EXPECT_EQ(sink.host, "127.0.0.1");
  EXPECT_EQ(sink.port, 7002);
}

struct BadField {
  const char* part;  ///< "sources" or "sinks"
  const char* field;
  const char* value;  ///< a Python expression
  const char* message;
};

class KafkaEntries : public ::testing::TestWithParam<BadField> {};

TEST_P(KafkaEntries, AnInconsistentFieldIsOneLineNamingTheEntry) {
  const BadField& bad = GetParam();
  pybind11::object value = pybind11::eval(bad.value);
  pybind11::object description = test::description_of("kafka_to_kafka_with", bad.part, bad.field, value);
  try {
    (void)read_plan(description.ptr());
    FAIL() << "read_plan accepted " << bad.field << " = " << bad.value;
  } catch (const core::UsageError& error) {
    EXPECT_EQ(std::string(error.what()), bad.message);
  }
}

INSTANTIATE_TEST_SUITE_P(
    DescriptionReader, KafkaEntries,
    ::testing::Values(
        BadField{"sources", "topics", "[]",
                 "read the application description: source 'Orders': a Kafka source needs at least one topic"},
        BadField{"sources", "brokers", "''", "read the application description: source 'Orders': no Kafka brokers"},
        BadField{"sources", "start", "'middle'",
                 "read the application description: source 'Orders': start 'middle' is not earliest or latest"},
        BadField{"sources", "log_level", "'Loud'",
                 "read the application description: source 'Orders': log_level 'Loud' is not Fine, Info, Warn or "
                 "Error"},
        BadField{"sources", "properties", "['a']",
                 "read the application description: source 'Orders': properties must be a dict"},
        BadField{"sinks", "topic", "''", "read the application description: sink 'sink 0': a Kafka sink needs a topic"},
        BadField{"sinks", "max_message_size", "0",
                 "read the application description: sink 'sink 0': max_message_size 0 is below 1"},
        BadField{"sinks", "max_produce_buffer_ms", "-1",
                 "read the application description: sink 'sink 0': max_produce_buffer_ms -1 is below 0"},
        BadField{"sinks", "log_level", "'Debug'",
                 "read the application description: sink 'sink 0': log_level 'Debug' is not Fine, Info, Warn or "
                 "Error"},
        BadField{"sinks", "kind", "'kinesis'", "run sink 'sink 0': sink kind 'kinesis' is not supported yet"},
        BadField{"sources", "kind", "'kinesis'",
                 "run source 'Orders': source kind 'kinesis' is not supported yet"}),
    [](const ::testing::TestParamInfo<BadField>& entry) {
      return std::string(entry.param.part) + "_" + entry.param.field;
    });

}  // namespace
}  // namespace roo::graph
