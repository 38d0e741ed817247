#include "roo/metrics/hub_protocol.hpp"

#include <gtest/gtest.h>

#include <string>

namespace roo::metrics {
namespace {

using namespace std::string_literals;

std::string bytes(const std::vector<char>& message) { return {message.begin(), message.end()}; }

// The expected bytes are written out by hand from spec §5, not made with BigEndianWriter.

TEST(HubProtocol, ConnectIsSizeOneAndType1) { EXPECT_EQ(bytes(hub_connect()), "\x00\x00\x00\x01\x01"s); }

TEST(HubProtocol, JoinCarriesTheTopicAndTheWorker) {
  // size = type 1 + 4 + "metrics:app" 11 + 4 + "w1" 2 = 22
  EXPECT_EQ(bytes(hub_join("metrics:app", "w1")),
            "\x00\x00\x00\x16"s + "\x02"s + "\x00\x00\x00\x0b"s + "metrics:app" + "\x00\x00\x00\x02"s + "w1");
}

TEST(HubProtocol, PayloadCarriesOneRecordWithMinBeforeMax) {
  WallarooReport report;
  report.name = "s";
  report.category = "computation";
  report.worker = "w";
  report.pipeline = "p";
  report.id = 2;
  report.bins[3] = 5;
  report.bins[10] = 0x0102030405060708;
  report.min_ns = 4;
  report.max_ns = 1000;
  report.period_ns = 2'000'000'000;
  report.period_end_ns = 4'000'000'000;

  std::string numbers(65 * 8, '\0');
  numbers[3 * 8 + 7] = 5;
  for (int i = 0; i < 8; ++i) {
    numbers[10 * 8 + static_cast<std::size_t>(i)] = static_cast<char>(i + 1);
  }
  numbers += "\x00\x00\x00\x00\x00\x00\x00\x04"s;  // min
  numbers += "\x00\x00\x00\x00\x00\x00\x03\xe8"s;  // max 1000
  numbers += "\x00\x00\x00\x00\x77\x35\x94\x00"s;  // 2e9
  numbers += "\x00\x00\x00\x00\xee\x6b\x28\x00"s;  // 4e9
  // rec_size as Wallaroo computes it: 18 + 14 bytes of strings + 704 = 736 = 0x2e0
  std::string record = "\x00\x00\x02\xe0"s + "\x00\x00\x00\x01"s + "s" + "\x00\x00\x00\x0b"s + "computation" +
                       "\x00\x00\x00\x01"s + "w" + "\x00\x00\x00\x01"s + "p" + "\x00\x02"s + numbers;
  ASSERT_EQ(record.size(), 588U);
  // size = type 1 + 4 + "metrics" 7 + 4 + "metrics:app" 11 + 4 + 588 = 619 = 0x26b; data_len 588 = 0x24c
  std::string expected = "\x00\x00\x02\x6b"s + "\x03"s + "\x00\x00\x00\x07"s + "metrics" + "\x00\x00\x00\x0b"s +
                         "metrics:app" + "\x00\x00\x02\x4c"s + record;
  EXPECT_EQ(bytes(hub_metrics_payload("metrics:app", report)), expected);
}

}  // namespace
}  // namespace roo::metrics
