#include "kafka_committed_offsets.hpp"

#include "kafka_client_config.hpp"

#include <algorithm>
#include <thread>

namespace roo::io {
namespace {
constexpr std::chrono::milliseconds one_request{2000};
constexpr std::chrono::milliseconds between_requests{200};
}  // namespace

rd_kafka_resp_err_t read_committed_offsets(rd_kafka_t* client, rd_kafka_topic_partition_list_t* partitions,
                                           std::chrono::steady_clock::time_point deadline,
                                           const std::function<bool()>& stop) {
  using Clock = std::chrono::steady_clock;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    rd_kafka_resp_err_t error = rd_kafka_committed(
        client, partitions, kafka_timeout(std::clamp(left, std::chrono::milliseconds(100), one_request)));
    for (int i = 0; i < partitions->cnt && error == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
      error = partitions->elems[i].err;
    }
    if (error == RD_KAFKA_RESP_ERR_NO_ERROR || Clock::now() + between_requests >= deadline || (stop && stop())) {
      return error;
    }
    std::this_thread::sleep_for(between_requests);
  }
}

}  // namespace roo::io
