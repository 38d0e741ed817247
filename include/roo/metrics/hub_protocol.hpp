#pragma once

#include "roo/metrics/wallaroo_report.hpp"

#include <string_view>
#include <vector>

namespace roo::metrics {

// The messages a worker sends Wallaroo's Monitoring Hub (spec §5), each framed as `u32 size | u8 type | body`, the
// size counting what follows it, all big-endian.

/// CONNECT: `u32 1 | u8 1`.
[[nodiscard]] std::vector<char> hub_connect();
/// JOIN: `u32 size | u8 2 | u32 len | topic | u32 len | worker`; the topic is "metrics:<app_name>".
[[nodiscard]] std::vector<char> hub_join(std::string_view topic, std::string_view worker);
/// PAYLOAD: `u32 size | u8 3 | u32 len | "metrics" | u32 len | topic | u32 data_len | data`, data being one
/// reporter's record for one period.
[[nodiscard]] std::vector<char> hub_metrics_payload(std::string_view topic, const WallarooReport& report);

}  // namespace roo::metrics
