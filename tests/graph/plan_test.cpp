#include "graph_fixtures.hpp"

#include "roo/graph/plan.hpp"

#include <gtest/gtest.h>

namespace roo::graph {
namespace {

using test::plan_of;

TEST(Plan, FingerprintHoldsTheKindsAndTheKafkaTopics) {
  EXPECT_EQ(plan_of("kafka_to_kafka").fingerprint(),
            "Totals|source:kafka:Orders:topics=orders,refunds,chargebacks|stage:computation:pass"
            "|sink:kafka:sink 0:topic=totals");
  EXPECT_EQ(plan_of("tcp_and_generator").fingerprint(),
            "Mixed|source:tcp:words|source:gen:numbers|stage:computation:pass|sink:tcp:sink 0");
}

TEST(Plan, FingerprintHoldsTheWindowStages) {
  EXPECT_EQ(plan_of("windowed").fingerprint(),
            "Windowed|source:tcp:readings|source:gen:ticks|stage:key_by:first_letter|stage:state:tally"
            "|stage:window:range_windows over Count:range=10000000000,slide=2000000000,delay=1000000000,"
            "late=fire-per-message"
            "|stage:window:count_windows over Count:count=3,timeout=5000000000"
            "|stage:window:session_windows over Count:gap=60000000000,delay=5000000,late=place-in-oldest-window"
            "|stage:window:range_windows over Count:range=5000000000,slide=5000000000,delay=0,late=drop"
            "|sink:tcp:sink 0");
}

TEST(Plan, FingerprintChangesWithATopicButNotWithBrokersOrAddresses) {
  Plan plan = plan_of("kafka_to_kafka");
  std::string before = plan.fingerprint();
  std::get<KafkaSourceSettings>(plan.sources[0].settings).brokers = "elsewhere:9092";
  std::get<KafkaSinkSettings>(plan.sinks[0].settings).properties.clear();
  EXPECT_EQ(plan.fingerprint(), before);
  std::get<KafkaSinkSettings>(plan.sinks[0].settings).topic = "other";
  EXPECT_NE(plan.fingerprint(), before);
  Plan tcp = plan_of("tcp_and_generator");
  std::string tcp_before = tcp.fingerprint();
  std::get<TcpSourceSettings>(tcp.sources[0].settings).port = 7999;  // each worker listens on its own --in
  EXPECT_EQ(tcp.fingerprint(), tcp_before);
}

}  // namespace
}  // namespace roo::graph
