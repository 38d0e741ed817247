#include "frame_parser.hpp"

#include "io_test_support.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace roo::io {
namespace {

using test::frame;

LengthPrefix be32() { return parse_length_prefix(4, ">I"); }

std::vector<std::string> frames_of(const core::FrameBatch& batch) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    out.emplace_back(batch.frame(i));
  }
  return out;
}

std::vector<std::string> sample_payloads(std::size_t count) {
  std::vector<std::string> payloads;
  for (std::size_t i = 0; i < count; ++i) {
    payloads.push_back(std::string(i % 23, static_cast<char>('a' + i % 26)) + std::to_string(i));
  }
  payloads.emplace_back();  // a zero-length frame is a frame
  return payloads;
}

std::string stream_of(const std::vector<std::string>& payloads) {
  std::string stream;
  for (const auto& payload : payloads) {
    stream += frame(payload);
  }
  return stream;
}

TEST(FrameParser, CutsManyFramesFromOneRead) {
  auto payloads = sample_payloads(1000);
  std::string stream = stream_of(payloads);
  FrameParser parser(be32(), 16384, 1 << 20);
  core::FrameBatch batch;
  ParseOutcome outcome = parser.parse(stream.data(), stream.size(), batch);
  EXPECT_EQ(outcome.result, FrameResult::need_more);
  EXPECT_EQ(outcome.consumed, stream.size());
  EXPECT_EQ(frames_of(batch), payloads);
  EXPECT_FALSE(parser.is_mid_frame());
}

TEST(FrameParser, ReassemblesFramesAndHeadersSplitAtEveryPosition) {
  auto payloads = sample_payloads(40);
  std::string stream = stream_of(payloads);
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    SCOPED_TRACE(split);
    FrameParser parser(be32(), 16384, 1 << 20);
    core::FrameBatch batch;
    ParseOutcome first = parser.parse(stream.data(), split, batch);
    EXPECT_EQ(first.consumed, split);
    EXPECT_EQ(first.result, FrameResult::need_more);
    ParseOutcome second = parser.parse(stream.data() + split, stream.size() - split, batch);
    EXPECT_EQ(second.consumed, stream.size() - split);
    ASSERT_EQ(frames_of(batch), payloads);
  }
}

TEST(FrameParser, ReassemblesAStreamFedOneByteAtATime) {
  auto payloads = sample_payloads(100);
  std::string stream = stream_of(payloads);
  FrameParser parser(parse_length_prefix(8, "<Q"), 16384, 1 << 20);
  std::string stream8;
  for (const auto& payload : payloads) {
    std::uint64_t n = payload.size();
    for (int i = 0; i < 8; ++i) {
      stream8.push_back(static_cast<char>(n >> (8 * i)));
    }
    stream8 += payload;
  }
  core::FrameBatch batch;
  for (char byte : stream8) {
    ParseOutcome outcome = parser.parse(&byte, 1, batch);
    ASSERT_EQ(outcome.consumed, 1U);
    ASSERT_EQ(outcome.result, FrameResult::need_more);
  }
  EXPECT_EQ(frames_of(batch), payloads);
}

TEST(FrameParser, ReportsAPartialFrameAndItsSize) {
  FrameParser parser(be32(), 16384, 1 << 20);
  core::FrameBatch batch;
  std::string stream = frame("hello") + frame("0123456789").substr(0, 7);
  (void)parser.parse(stream.data(), stream.size(), batch);
  EXPECT_EQ(frames_of(batch), std::vector<std::string>{"hello"});
  EXPECT_TRUE(parser.is_mid_frame());
  EXPECT_TRUE(parser.has_header());
  EXPECT_EQ(parser.partial_bytes(), 7U);
  EXPECT_EQ(parser.frame_bytes(), 14U);

  FrameParser header_only(be32(), 16384, 1 << 20);
  (void)header_only.parse(stream.data(), 2, batch);
  EXPECT_TRUE(header_only.is_mid_frame());
  EXPECT_FALSE(header_only.has_header());
  EXPECT_EQ(header_only.partial_bytes(), 2U);
}

TEST(FrameParser, StopsAtTheBatchLimitOnAFrameBoundaryAndResumes) {
  // Five-byte payloads, batch_bytes 10: every batch holds exactly two frames.
  std::vector<std::string> payloads = {"aaaaa", "bbbbb", "ccccc", "ddddd", "eeeee"};
  std::string stream = stream_of(payloads);
  FrameParser parser(be32(), 16384, 10);
  std::vector<std::vector<std::string>> batches;
  std::size_t pos = 0;
  for (;;) {
    core::FrameBatch batch;
    ParseOutcome outcome = parser.parse(stream.data() + pos, stream.size() - pos, batch);
    pos += outcome.consumed;
    batches.push_back(frames_of(batch));
    if (outcome.result == FrameResult::batch_full) {
      EXPECT_EQ(outcome.consumed, 18U);
      continue;
    }
    EXPECT_EQ(outcome.result, FrameResult::need_more);
    break;
  }
  EXPECT_EQ(pos, stream.size());
  EXPECT_EQ(batches, (std::vector<std::vector<std::string>>{{"aaaaa", "bbbbb"}, {"ccccc", "ddddd"}, {"eeeee"}}));
}

TEST(FrameParser, ABatchFullExactlyAtTheEndOfInputIsNeedMore) {
  std::string stream = stream_of({"aaaaa", "bbbbb"});
  FrameParser parser(be32(), 16384, 10);
  core::FrameBatch batch;
  ParseOutcome outcome = parser.parse(stream.data(), stream.size(), batch);
  EXPECT_EQ(outcome.result, FrameResult::need_more);
  EXPECT_EQ(outcome.consumed, stream.size());
  EXPECT_EQ(batch.size(), 2U);
}

TEST(FrameParser, DeliversFramesBeforeAnOversizedOneThenReportsIt) {
  std::string stream = frame("one") + frame("two") + frame(std::string(101, 'x')) + frame("three");
  FrameParser parser(be32(), 100, 1 << 20);
  core::FrameBatch batch;
  ParseOutcome outcome = parser.parse(stream.data(), stream.size(), batch);
  EXPECT_EQ(outcome.result, FrameResult::malformed);
  EXPECT_EQ(outcome.consumed, 14U);
  EXPECT_EQ(parser.malformed_length(), 101);
  EXPECT_EQ(frames_of(batch), (std::vector<std::string>{"one", "two"}));
}

TEST(FrameParser, AcceptsAFrameOfExactlyMaxSize) {
  std::string stream = frame(std::string(100, 'x'));
  FrameParser parser(be32(), 100, 1 << 20);
  core::FrameBatch batch;
  EXPECT_EQ(parser.parse(stream.data(), stream.size(), batch).result, FrameResult::need_more);
  EXPECT_EQ(batch.size(), 1U);
}

TEST(FrameParser, ReportsAnOversizedHeaderSplitAcrossReads) {
  std::string stream = frame("ok") + frame(std::string(200, 'x'));
  FrameParser parser(be32(), 100, 1 << 20);
  core::FrameBatch batch;
  ParseOutcome first = parser.parse(stream.data(), 8, batch);  // "ok" plus 2 bytes of the bad header
  EXPECT_EQ(first.result, FrameResult::need_more);
  ParseOutcome second = parser.parse(stream.data() + 8, stream.size() - 8, batch);
  EXPECT_EQ(second.result, FrameResult::malformed);
  EXPECT_EQ(parser.malformed_length(), 200);
  EXPECT_EQ(frames_of(batch), std::vector<std::string>{"ok"});
}

TEST(FrameParser, ReportsANegativeLengthAsMalformed) {
  std::string stream = frame("ok") + std::string("\xff\xff\xff\xf0", 4);
  FrameParser parser(parse_length_prefix(4, ">i"), 100, 1 << 20);
  core::FrameBatch batch;
  ParseOutcome outcome = parser.parse(stream.data(), stream.size(), batch);
  EXPECT_EQ(outcome.result, FrameResult::malformed);
  EXPECT_EQ(parser.malformed_length(), -1);
  EXPECT_EQ(frames_of(batch), std::vector<std::string>{"ok"});
}

TEST(FrameParser, HonoursPadBytesAndOneByteHeaders) {
  std::string stream = std::string("\x01\x02\x00\x03", 4) + "abc" + std::string("\xaa\xbb\x00\x00", 4);
  FrameParser parser(parse_length_prefix(4, ">xxH"), 100, 1 << 20);
  core::FrameBatch batch;
  (void)parser.parse(stream.data(), stream.size(), batch);
  EXPECT_EQ(frames_of(batch), (std::vector<std::string>{"abc", ""}));

  std::string short_stream = std::string("\x02", 1) + "hi" + std::string("\x00", 1);
  FrameParser one_byte(parse_length_prefix(1, "B"), 255, 1 << 20);
  core::FrameBatch batch2;
  (void)one_byte.parse(short_stream.data(), short_stream.size(), batch2);
  EXPECT_EQ(frames_of(batch2), (std::vector<std::string>{"hi", ""}));
}

}  // namespace
}  // namespace roo::io
