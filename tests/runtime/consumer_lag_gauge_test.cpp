#include "consumer_lag_gauge.hpp"

#include "roo/metrics/metric_catalogue.hpp"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace roo::runtime {
namespace {

/// A source whose lag is whatever the test sets (the Kafka source's own is tested against the broker in tests/io).
class FakeLaggingSource final : public io::Source {
 public:
  void start() override {}
  void stop(std::function<void()> on_stopped) override { on_stopped(); }
  [[nodiscard]] core::Endpoint local_endpoint() const override { return {}; }
  [[nodiscard]] std::vector<io::PartitionLag> consumer_lag() const override { return lag; }
  std::vector<io::PartitionLag> lag;
};

std::vector<metrics::ValueSample> lag_values(const metrics::MetricsRegistry& registry) {
  std::vector<metrics::ValueSample> values;
  for (auto& value : registry.snapshot().values) {
    if (value.name == metrics::kafka_lag) {
      values.push_back(std::move(value));
    }
  }
  return values;
}

TEST(ConsumerLagGauge, EachPartitionIsOneValueLabelledSourceTopicAndPartitionReadAtEachSnapshot) {
  FakeLaggingSource source;
  source.lag = {{.topic = "votes", .partition = 0, .lag = 12}, {.topic = "votes", .partition = 3, .lag = 0}};
  metrics::MetricsRegistry registry("w0");
  registry.gauge_family(metrics::kafka_lag, "Counts", consumer_lag_gauge("Counts", source));

  auto values = lag_values(registry);
  ASSERT_EQ(values.size(), 2U);
  EXPECT_EQ(values[0].labels, (metrics::Labels{{"source", "Counts"}, {"topic", "votes"}, {"partition", "0"}}));
  EXPECT_EQ(values[0].value, 12.0);
  EXPECT_EQ(values[1].labels, (metrics::Labels{{"source", "Counts"}, {"topic", "votes"}, {"partition", "3"}}));
  EXPECT_EQ(values[1].value, 0.0);

  source.lag = {{.topic = "votes", .partition = 3, .lag = 40}};  // partitions come and go with the source's reading
  values = lag_values(registry);
  ASSERT_EQ(values.size(), 1U);
  EXPECT_EQ(values[0].labels, (metrics::Labels{{"source", "Counts"}, {"topic", "votes"}, {"partition", "3"}}));
  EXPECT_EQ(values[0].value, 40.0);
}

// The worker replaces a source's family before destroying the source (a rollback), and registers the restarted
// source's under the same owner: one family per source name, never reading the old source.
TEST(ConsumerLagGauge, ReplacedUnderTheSourcesNameTheOldSourceIsNoLongerRead) {
  metrics::MetricsRegistry registry("w0");
  std::vector<metrics::ValueSample> values;
  {
    FakeLaggingSource first;
    first.lag = {{.topic = "votes", .partition = 0, .lag = 5}};
    registry.gauge_family(metrics::kafka_lag, "Counts", consumer_lag_gauge("Counts", first));
    ASSERT_EQ(lag_values(registry).size(), 1U);
    registry.gauge_family(metrics::kafka_lag, "Counts", nullptr);
  }
  EXPECT_TRUE(lag_values(registry).empty());

  FakeLaggingSource second;
  second.lag = {{.topic = "votes", .partition = 0, .lag = 2}};
  registry.gauge_family(metrics::kafka_lag, "Counts", consumer_lag_gauge("Counts", second));
  values = lag_values(registry);
  ASSERT_EQ(values.size(), 1U);
  EXPECT_EQ(values[0].value, 2.0);
}

}  // namespace
}  // namespace roo::runtime
