#include "consumer_lag_gauge.hpp"

#include <utility>

namespace roo::runtime {

metrics::MetricsRegistry::Family consumer_lag_gauge(std::string source_name, const io::Source& source) {
  return [name = std::move(source_name), &source] {
    std::vector<std::pair<metrics::Labels, double>> values;
    for (const auto& [topic, partition, lag] : source.consumer_lag()) {
      values.emplace_back(
          metrics::Labels{{"source", name}, {"topic", topic}, {"partition", std::to_string(partition)}},
          static_cast<double>(lag));
    }
    return values;
  };
}

}  // namespace roo::runtime
