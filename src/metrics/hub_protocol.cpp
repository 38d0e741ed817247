#include "roo/metrics/hub_protocol.hpp"

#include "roo/core/big_endian.hpp"

namespace roo::metrics {
namespace {

enum class HubMessage : std::uint8_t { connect = 1, join = 2, payload = 3 };

std::string_view view(const std::vector<char>& bytes) { return {bytes.data(), bytes.size()}; }

/// `u32 size | u8 type | body`.
std::vector<char> framed(HubMessage type, const std::vector<char>& body) {
  core::BigEndianWriter out;
  out.u32(static_cast<std::uint32_t>(1 + body.size())).u8(static_cast<std::uint8_t>(type)).raw(view(body));
  return out.take();
}

std::vector<char> metrics_record(const WallarooReport& report) {
  // Wallaroo's record size: 4 string lengths and the id (18 bytes), the strings, and 704 (64 × 11) for the numbers,
  // which overstates the 552 bytes they take (65 bins and 4 more u64). Consumers skip it and go by the outer sizes;
  // we write Wallaroo's value so that a parser written against its bytes reads ours the same.
  constexpr std::uint32_t wallaroo_numbers_size = 64 * 11;
  auto record_size = static_cast<std::uint32_t>(18 + report.name.size() + report.category.size() +
                                                report.worker.size() + report.pipeline.size() + wallaroo_numbers_size);
  core::BigEndianWriter out;
  out.u32(record_size).str(report.name).str(report.category).str(report.worker).str(report.pipeline).u16(report.id);
  for (std::uint64_t bin : report.bins) {
    out.u64(bin);
  }
  // min before max: the order Wallaroo's code (hub_protocol.pony) writes, though its 0.5 docs and
  // metrics_parser.py say max then min.
  out.u64(report.min_ns).u64(report.max_ns).u64(report.period_ns).u64(report.period_end_ns);
  return out.take();
}

}  // namespace

std::vector<char> hub_connect() { return framed(HubMessage::connect, {}); }

std::vector<char> hub_join(std::string_view topic, std::string_view worker) {
  core::BigEndianWriter body;
  body.str(topic).str(worker);
  return framed(HubMessage::join, body.take());
}

std::vector<char> hub_metrics_payload(std::string_view topic, const WallarooReport& report) {
  std::vector<char> record = metrics_record(report);
  core::BigEndianWriter body;
  body.str("metrics").str(topic).str(view(record));
  return framed(HubMessage::payload, body.take());
}

}  // namespace roo::metrics
