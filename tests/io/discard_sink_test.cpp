#include "roo/io/discard_sink.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace roo::io {
namespace {

TEST(DiscardSink, DropsWhatItIsGivenAndAnswersFlushAndStopAtOnce) {
  auto sink = make_discard_sink();
  sink->start();
  EXPECT_FALSE(sink->takes_records());
  RecordBatch batch;
  batch.values.assign(64 * 1024 * 1024, 'x');  // more than any real sink's budget
  sink->write(std::move(batch));
  EXPECT_EQ(sink->budget().in_flight(), 0U);
  EXPECT_TRUE(sink->budget().wait_below_limit(std::chrono::milliseconds(0)));  // never holds the executor back
  std::string flushed = "not called";
  sink->flush([&](std::string error) { flushed = std::move(error); });
  EXPECT_EQ(flushed, "");  // delivered: a Kafka source may commit what came before
  bool stopped = false;
  sink->stop([&] { stopped = true; });
  EXPECT_TRUE(stopped);
  EXPECT_EQ(sink->undelivered_bytes(), 0U);
  EXPECT_EQ(sink->undelivered_reason(), "");
}

}  // namespace
}  // namespace roo::io
