#include "kafka_written_offsets.hpp"

#include "roo/core/error.hpp"

#include <gtest/gtest.h>

#include <string>

namespace roo::io {
namespace {

using OffsetRun = KafkaWrittenOffsets::Run;

TEST(KafkaWrittenOffsets, ConsecutiveOffsetsMakeOneRunAndOthersRecordsBetweenStartANewOne) {
  KafkaWrittenOffsets offsets;
  for (std::int64_t offset : {10, 11, 12, 15, 16}) {
    offsets.add(0, offset);
  }
  offsets.add(3, 7);
  EXPECT_EQ(offsets.records(), 6U);
  EXPECT_TRUE(offsets.increasing());
  EXPECT_EQ(offsets.runs().at(0), (std::vector<OffsetRun>{{10, 3}, {15, 2}}));
  EXPECT_EQ(offsets.runs().at(3), (std::vector<OffsetRun>{{7, 1}}));

  KafkaWrittenOffsets back = KafkaWrittenOffsets::decode(offsets.encode("out"));
  EXPECT_EQ(back.topic(), "out");
  EXPECT_EQ(back.records(), 6U);
  EXPECT_EQ(back.runs(), offsets.runs());

  offsets.clear();
  EXPECT_EQ(offsets.records(), 0U);
  EXPECT_TRUE(KafkaWrittenOffsets::decode(offsets.encode("out")).runs().empty());
}

TEST(KafkaWrittenOffsets, AnOffsetBelowTheLastIsNotIncreasing) {
  KafkaWrittenOffsets offsets;
  offsets.add(1, 20);
  offsets.add(1, 5);
  EXPECT_FALSE(offsets.increasing());
  EXPECT_THROW((void)KafkaWrittenOffsets::decode(offsets.encode("out")), core::Error);  // out of order
}

TEST(KafkaWrittenOffsets, MalformedBytesAreOneError) {
  KafkaWrittenOffsets offsets;
  offsets.add(0, 1);
  std::string bytes = offsets.encode("out");
  for (const std::string& bad :
       {std::string(), std::string("\x02", 1), bytes.substr(0, bytes.size() - 1), bytes + "x"}) {
    try {
      (void)KafkaWrittenOffsets::decode(bad);
      ADD_FAILURE() << "decoded " << bad.size() << " bytes";
    } catch (const core::Error& error) {
      EXPECT_TRUE(
          std::string(error.what()).starts_with("a Kafka sink's written offsets in the checkpoint are malformed: "))
          << error.what();
    }
  }
}

}  // namespace
}  // namespace roo::io
