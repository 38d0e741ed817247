#include "graph_fixtures.hpp"

#include "roo/core/error.hpp"
#include "roo/graph/plan.hpp"

#include <gtest/gtest.h>

#include <ostream>
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

TEST(DescriptionReader, ReadsAWindowStageOfEachKindWithATableOfItsOwn) {
  pybind11::object description = test::description_of("windowed");
  Plan plan = read_plan(description.ptr());
  ASSERT_EQ(plan.stages.size(), 6u);
  pybind11::list stages = description["stages"];
  for (std::size_t i = 2; i < 6; ++i) {
    EXPECT_EQ(plan.stages[i].kind, StagePlan::Kind::window) << i;
    EXPECT_EQ(plan.stages[i].fn.get(), pybind11::dict(stages[i])["aggregation"].ptr()) << i;
  }
  const WindowSpec& sliding = plan.stages[2].window;
  EXPECT_EQ(plan.stages[2].name, "range_windows over Count");
  EXPECT_EQ(sliding.kind, WindowSpec::Kind::range);
  EXPECT_EQ(sliding.range, 10'000'000'000);
  EXPECT_EQ(sliding.slide, 2'000'000'000);
  EXPECT_EQ(sliding.delay, 1'000'000'000);
  EXPECT_EQ(sliding.late_policy, LatePolicy::fire_per_message);
  const WindowSpec& counted = plan.stages[3].window;
  EXPECT_EQ(plan.stages[3].name, "count_windows over Count");
  EXPECT_EQ(counted.kind, WindowSpec::Kind::count);
  EXPECT_EQ(counted.count, 3u);
  EXPECT_EQ(counted.count_timeout_ns, 5'000'000'000);
  const WindowSpec& sessions = plan.stages[4].window;
  EXPECT_EQ(plan.stages[4].name, "session_windows over Count");
  EXPECT_EQ(sessions.kind, WindowSpec::Kind::session);
  EXPECT_EQ(sessions.gap, 60'000'000'000);
  EXPECT_EQ(sessions.delay, 5'000'000);
  EXPECT_EQ(sessions.late_policy, LatePolicy::place_in_oldest_window);
  const WindowSpec& tumbling = plan.stages[5].window;
  EXPECT_EQ(tumbling.kind, WindowSpec::Kind::range);
  EXPECT_EQ(tumbling.range, 5'000'000'000);
  EXPECT_EQ(tumbling.slide, 5'000'000'000);
  EXPECT_EQ(tumbling.delay, 0);
  EXPECT_EQ(tumbling.late_policy, LatePolicy::drop);
  // The state stage first, then one table per window stage, named by its state id.
  ASSERT_EQ(plan.state_tables.size(), 5u);
  std::vector<std::string> names;
  for (const auto& table : plan.state_tables) {
    names.push_back(table.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"tally", "range_windows over Count", "count_windows over Count",
                                             "session_windows over Count", "range_windows over Count (2)"}));
  for (std::size_t i = 1; i < 6; ++i) {
    EXPECT_EQ(plan.stages[i].state_table, i - 1) << i;
  }
  EXPECT_TRUE(plan.has_windows());
  EXPECT_FALSE(plan_of("tcp_and_generator").has_windows());
}

TEST(DescriptionReader, ReadsEachSourcesEventTime) {
  pybind11::object description = test::description_of("windowed");
  Plan plan = read_plan(description.ptr());
  ASSERT_EQ(plan.sources.size(), 2u);
  EXPECT_EQ(plan.sources[0].event_time.get(), pybind11::module_::import("plan_apps").attr("stamp").ptr());
  EXPECT_EQ(plan.sources[0].event_time_spec.idleness_ns, 500'000'000);
  EXPECT_EQ(plan.sources[0].event_time_spec.max_ahead_ns, 0);  // None: no cap
  EXPECT_FALSE(plan.sources[1].event_time);                     // with_event_time(): ingest time
  EXPECT_EQ(plan.sources[1].event_time_spec.idleness_ns, 2'000'000'000);
  EXPECT_EQ(plan.sources[1].event_time_spec.max_ahead_ns, 10'000'000'000);
  Plan plain = plan_of("tcp_and_generator");  // "event_time": None
  for (const SourcePlan& source : plain.sources) {
    EXPECT_FALSE(source.event_time);
    EXPECT_EQ(source.event_time_spec.idleness_ns, 2'000'000'000);
    EXPECT_EQ(source.event_time_spec.max_ahead_ns, 10'000'000'000);
  }
}

/// `windowed()`'s description with one field of stage `stage` replaced (-1: of the TCP source's event_time), and the
/// entry and cause the reader names.
struct BadWindowField {
  int stage;
  const char* field;
  const char* value;  ///< a Python expression
  const char* entry;
  const char* cause;
};

void PrintTo(const BadWindowField& bad, std::ostream* os) {
  *os << (bad.stage < 0 ? "event_time" : "stage " + std::to_string(bad.stage)) << ": " << bad.field << " = "
      << bad.value;
}

class WindowEntries : public ::testing::TestWithParam<BadWindowField> {};

TEST_P(WindowEntries, AnInconsistentFieldIsOneLineNamingTheEntry) {
  const BadWindowField& bad = GetParam();
  pybind11::object value = pybind11::eval(bad.value);
  pybind11::object description = bad.stage < 0
                                     ? test::description_of("windowed_event_time_with", bad.field, value)
                                     : test::description_of("windowed_with", bad.stage, bad.field, value);
  try {
    (void)read_plan(description.ptr());
    FAIL() << "read_plan accepted " << bad.field << " = " << bad.value;
  } catch (const core::UsageError& error) {
    EXPECT_EQ(std::string(error.what()),
              std::string("read the application description: ") + bad.entry + ": " + bad.cause);
  }
}

TEST(DescriptionReader, AStateStageCannotUseAWindowStagesTable) {
  auto description = test::description_of("windowed_then_state_in_a_window_table");
  try {
    (void)read_plan(description.ptr());
    FAIL() << "read_plan let a state stage share a window stage's table";
  } catch (const core::UsageError& error) {
    EXPECT_EQ(std::string(error.what()), "read the application description: stage 'late tally': state id "
                                         "'range_windows over Count' is a window stage's");
  }
}

constexpr const char* sliding = "stage 'range_windows over Count'";
constexpr const char* counted = "stage 'count_windows over Count'";
constexpr const char* sessions = "stage 'session_windows over Count'";
constexpr const char* tumbling = "stage 'range_windows over Count'";
constexpr const char* readings = "source 'readings'";

INSTANTIATE_TEST_SUITE_P(
    DescriptionReader, WindowEntries,
    ::testing::Values(
        BadWindowField{2, "window", "'tumbling'", sliding, "window kind 'tumbling' is not range, count or session"},
        BadWindowField{2, "late_data_policy", "'keep'", sliding, "late data policy 'keep' is unknown"},
        BadWindowField{2, "range", "0", sliding, "range 0 is below 1"},
        BadWindowField{2, "slide", "0", sliding, "slide 0 is below 1"},
        BadWindowField{2, "slide", "10**10 + 1", sliding, "slide 10000000001 exceeds range 10000000000"},
        BadWindowField{2, "delay", "-1", sliding, "delay -1 is below 0"},
        BadWindowField{3, "count", "0", counted, "count 0 is below 1"},
        BadWindowField{3, "late_data_policy", "None", counted, "late data policy 'None' is unknown"},
        BadWindowField{4, "gap", "0", sessions, "gap 0 is below 1"},
        BadWindowField{4, "delay", "-5", sessions, "delay -5 is below 0"},
        BadWindowField{4, "state_id", "'tally'", sessions, "window state id 'tally' is taken"},
        BadWindowField{5, "state_id", "'range_windows over Count'", tumbling,
                       "window state id 'range_windows over Count' is taken"},
        BadWindowField{-1, "idleness", "0", readings, "idleness 0 is below 1"},
        BadWindowField{-1, "max_ahead", "-3", readings, "max_ahead -3 is below 1"}),
    [](const ::testing::TestParamInfo<BadWindowField>& entry) {
      return (entry.param.stage < 0 ? std::string("event_time") : "stage" + std::to_string(entry.param.stage)) +
             "_" + entry.param.field + "_" + std::to_string(entry.index);
    });

}  // namespace
}  // namespace roo::graph
