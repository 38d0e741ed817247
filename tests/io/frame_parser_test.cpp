#include "frame_parser.hpp"

#include "io_test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
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

TEST(FrameParser, HoldsOnlyTheBytesReceivedOfAFrameAnnouncingMaxSize) {
  constexpr std::size_t max_size = 64 * 1024 * 1024;
  for (auto framing : {be32(), parse_length_prefix(4, "<I")}) {
    FrameParser parser(framing, max_size, 64 * 1024);
    core::FrameBatch batch;
    std::string big = std::string("\x04\x00\x00\x00", 4);
    std::string announced = framing.big_endian ? big : std::string(big.rbegin(), big.rend());
    std::string start = announced + std::string(10, 'x');  // 64 MiB announced, 10 bytes sent
    EXPECT_EQ(parser.parse(start.data(), start.size(), batch).result, FrameResult::need_more);
    EXPECT_EQ(parser.partial_bytes(), 14U);
    EXPECT_LT(parser.held_bytes(), 1024U);
    std::string more(100000, 'y');
    EXPECT_EQ(parser.parse(more.data(), more.size(), batch).result, FrameResult::need_more);
    EXPECT_LT(parser.held_bytes(), 2 * (more.size() + start.size()));  // grows with what arrived
    EXPECT_TRUE(batch.empty());
  }
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

// The same frames with a 4-byte little-endian header: "<I" goes through the general loop, ">I" through its own.
std::string little_endian_stream_of(const std::vector<std::string>& payloads) {
  std::string stream;
  for (const auto& payload : payloads) {
    auto n = static_cast<std::uint32_t>(payload.size());
    for (int i = 0; i < 4; ++i) {
      stream.push_back(static_cast<char>(n >> (8 * i)));
    }
    stream += payload;
  }
  return stream;
}

// Payload sizes around the 16-byte block copy and the 4-byte header: 0..40 bytes, distinct contents.
std::vector<std::string> block_edge_payloads() {
  std::vector<std::string> payloads;
  for (std::size_t n = 0; n <= 40; ++n) {
    std::string payload;
    for (std::size_t i = 0; i < n; ++i) {
      payload.push_back(static_cast<char>('A' + (n * 7 + i) % 58));
    }
    payloads.push_back(payload);
  }
  for (std::size_t n = 17; n-- > 0;) {
    payloads.push_back(std::string(n, static_cast<char>('0' + n % 10)));
  }
  return payloads;
}

// What a connection sees: every call's outcome and the frames of every batch handed over.
struct Trace {
  std::vector<std::pair<std::size_t, FrameResult>> outcomes;
  std::vector<std::vector<std::string>> batches;
  std::int64_t malformed_length = 0;
  bool operator==(const Trace&) const = default;
};

// Feeds `stream` in pieces of `piece` bytes, handing the batch over on batch_full or at the end, as TcpSource does.
Trace run_in_pieces(FrameParser& parser, const std::string& stream, std::size_t piece) {
  Trace trace;
  core::FrameBatch batch;
  for (std::size_t at = 0; at < stream.size(); at += piece) {
    std::size_t end = std::min(stream.size(), at + piece);
    std::size_t begin = at;
    for (;;) {
      ParseOutcome outcome = parser.parse(stream.data() + begin, end - begin, batch);
      trace.outcomes.emplace_back(outcome.consumed, outcome.result);
      begin += outcome.consumed;
      if (outcome.result == FrameResult::malformed) {
        trace.batches.push_back(frames_of(batch));
        trace.malformed_length = parser.malformed_length();
        return trace;
      }
      if (outcome.result == FrameResult::batch_full) {
        trace.batches.push_back(frames_of(batch));
        batch.clear();
        continue;
      }
      break;
    }
  }
  trace.batches.push_back(frames_of(batch));
  return trace;
}

std::vector<std::string> joined(const Trace& trace) {
  std::vector<std::string> all;
  for (const auto& batch : trace.batches) {
    all.insert(all.end(), batch.begin(), batch.end());
  }
  return all;
}

TEST(FrameParser, Be32ReassemblesFramesCutIntoPiecesOfEverySize) {
  auto payloads = block_edge_payloads();
  std::string stream = stream_of(payloads);
  for (std::size_t piece = 1; piece <= stream.size(); ++piece) {
    SCOPED_TRACE(piece);
    FrameParser parser(be32(), 16384, 1 << 20);
    Trace trace = run_in_pieces(parser, stream, piece);
    ASSERT_EQ(joined(trace), payloads);
    ASSERT_EQ(trace.batches.size(), 1U);
    for (const auto& [consumed, result] : trace.outcomes) {
      ASSERT_EQ(result, FrameResult::need_more);
    }
    EXPECT_FALSE(parser.is_mid_frame());
  }
}

TEST(FrameParser, Be32ReassemblesFramesSplitAtEveryPairOfPositions) {
  auto payloads = block_edge_payloads();
  payloads.resize(24);
  std::string stream = stream_of(payloads);
  for (std::size_t first = 0; first <= stream.size(); ++first) {
    for (std::size_t second = first; second <= stream.size(); ++second) {
      SCOPED_TRACE(std::to_string(first) + "," + std::to_string(second));
      FrameParser parser(be32(), 16384, 1 << 20);
      core::FrameBatch batch;
      std::size_t cuts[] = {0, first, second, stream.size()};
      for (int i = 0; i < 3; ++i) {
        ParseOutcome outcome = parser.parse(stream.data() + cuts[i], cuts[i + 1] - cuts[i], batch);
        ASSERT_EQ(outcome.consumed, cuts[i + 1] - cuts[i]);
        ASSERT_EQ(outcome.result, FrameResult::need_more);
      }
      ASSERT_EQ(frames_of(batch), payloads);
      ASSERT_EQ(batch.payload_bytes(), stream.size() - 4 * payloads.size());
    }
  }
}

TEST(FrameParser, Be32CopiesPayloadsEndingExactlyAtTheEndOfInput) {
  // The 16-byte block copy must not be used when fewer than 16 bytes can be read: each payload here is the last
  // bytes of its own exactly-sized buffer (a heap allocation of that size, so an over-read shows under ASan).
  for (std::size_t n = 0; n <= 20; ++n) {
    SCOPED_TRACE(n);
    std::string payload(n, 'p');
    std::string framed = frame(payload);
    std::vector<char> exact(framed.begin(), framed.end());
    FrameParser parser(be32(), 16384, 1 << 20);
    core::FrameBatch batch;
    ParseOutcome outcome = parser.parse(exact.data(), exact.size(), batch);
    EXPECT_EQ(outcome.consumed, exact.size());
    EXPECT_EQ(outcome.result, FrameResult::need_more);
    EXPECT_EQ(frames_of(batch), std::vector<std::string>{payload});
    EXPECT_EQ(batch.payload_bytes(), n);
  }
}

TEST(FrameParser, Be32AcceptsMaxSizeAndRejectsOneMoreWhereverTheHeaderFalls) {
  std::string ok = frame(std::string(16, 'm'));
  std::string bad = frame(std::string(17, 'x'));
  std::string stream = frame("a") + ok + bad + frame("after");
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    SCOPED_TRACE(split);
    FrameParser parser(be32(), 16, 1 << 20);
    core::FrameBatch batch;
    ParseOutcome first = parser.parse(stream.data(), split, batch);
    std::size_t bad_at = 5 + ok.size();
    if (split <= bad_at) {
      ASSERT_EQ(first.result, FrameResult::need_more);
      ASSERT_EQ(first.consumed, split);
      ParseOutcome second = parser.parse(stream.data() + split, stream.size() - split, batch);
      ASSERT_EQ(second.result, FrameResult::malformed);
      // Nothing of the bad frame counts as consumed when its whole header arrives in this call.
      ASSERT_EQ(second.consumed, bad_at - split);
    } else if (split < bad_at + 4) {
      ASSERT_EQ(first.result, FrameResult::need_more);
      ASSERT_EQ(first.consumed, split);
      ParseOutcome second = parser.parse(stream.data() + split, stream.size() - split, batch);
      ASSERT_EQ(second.result, FrameResult::malformed);
      ASSERT_EQ(second.consumed, 0U);
    } else {
      ASSERT_EQ(first.result, FrameResult::malformed);
      ASSERT_EQ(first.consumed, bad_at);
    }
    EXPECT_EQ(parser.malformed_length(), 17);
    EXPECT_EQ(frames_of(batch), (std::vector<std::string>{"a", std::string(16, 'm')}));
  }
}

TEST(FrameParser, Be32ReportsTheLargestUnsignedLengthAsIs) {
  std::string stream = frame("ok") + std::string("\xff\xff\xff\xff", 4) + "rest";
  FrameParser parser(be32(), 100, 1 << 20);
  core::FrameBatch batch;
  ParseOutcome outcome = parser.parse(stream.data(), stream.size(), batch);
  EXPECT_EQ(outcome.result, FrameResult::malformed);
  EXPECT_EQ(outcome.consumed, 6U);
  EXPECT_EQ(parser.malformed_length(), 4294967295);
  EXPECT_EQ(frames_of(batch), std::vector<std::string>{"ok"});
}

TEST(FrameParser, Be32BatchFullComesBeforeAPartialHeaderButNotBeforeTheEndOfInput) {
  // Three-byte payloads, batch_bytes 10: full once the fourth frame is in (12 bytes).
  std::string four = stream_of({"aaa", "bbb", "ccc", "ddd"});
  for (std::size_t extra = 0; extra <= 4; ++extra) {
    SCOPED_TRACE(extra);
    std::string stream = four + frame("eee").substr(0, extra);
    FrameParser parser(be32(), 100, 10);
    core::FrameBatch batch;
    ParseOutcome outcome = parser.parse(stream.data(), stream.size(), batch);
    EXPECT_EQ(frames_of(batch), (std::vector<std::string>{"aaa", "bbb", "ccc", "ddd"}));
    EXPECT_EQ(outcome.consumed, four.size());
    EXPECT_EQ(outcome.result, extra == 0 ? FrameResult::need_more : FrameResult::batch_full);
    EXPECT_FALSE(parser.is_mid_frame());
  }
}

TEST(FrameParser, Be32StopsAtOnceWhenTheBatchIsAlreadyFull) {
  std::string stream = stream_of({"xy", "z"});
  FrameParser parser(be32(), 100, 4);
  core::FrameBatch batch;
  batch.append("full", 4);
  ParseOutcome outcome = parser.parse(stream.data(), stream.size(), batch);
  EXPECT_EQ(outcome.result, FrameResult::batch_full);
  EXPECT_EQ(outcome.consumed, 0U);
  EXPECT_EQ(frames_of(batch), std::vector<std::string>{"full"});
  // Appending after payloads that are already there keeps them and counts from them.
  FrameParser roomy(be32(), 100, 6);
  ParseOutcome more = roomy.parse(stream.data(), stream.size(), batch);
  EXPECT_EQ(more.result, FrameResult::batch_full);
  EXPECT_EQ(more.consumed, 6U);
  EXPECT_EQ(frames_of(batch), (std::vector<std::string>{"full", "xy"}));
  EXPECT_EQ(batch.payload_bytes(), 6U);
}

TEST(FrameParser, Be32BatchFullRightAfterACarriedFrame) {
  std::string stream = stream_of({"0123456789", "ab", "cd"});
  FrameParser parser(be32(), 100, 10);
  core::FrameBatch batch;
  ParseOutcome first = parser.parse(stream.data(), 9, batch);
  EXPECT_EQ(first.result, FrameResult::need_more);
  EXPECT_EQ(first.consumed, 9U);
  ParseOutcome second = parser.parse(stream.data() + 9, stream.size() - 9, batch);
  EXPECT_EQ(second.result, FrameResult::batch_full);
  EXPECT_EQ(second.consumed, 5U);
  EXPECT_EQ(frames_of(batch), std::vector<std::string>{"0123456789"});
}

TEST(FrameParser, Be32BehavesExactlyLikeTheGeneralLoop) {
  // ">I" (its own loop) and "<I" (LengthPrefix::read) on the same frames, cut the same ways, with batch limits
  // and a max_size that the stream's last frames exceed: every outcome and every batch must be the same.
  auto payloads = block_edge_payloads();
  std::string big = stream_of(payloads);
  std::string little = little_endian_stream_of(payloads);
  for (std::size_t max_size : {std::size_t{40}, std::size_t{39}, std::size_t{16}}) {
    for (std::size_t batch_bytes : {std::size_t{1}, std::size_t{16}, std::size_t{50}, std::size_t{1} << 20}) {
      for (std::size_t piece : {std::size_t{1}, std::size_t{3}, std::size_t{7}, std::size_t{20}, big.size()}) {
        SCOPED_TRACE(std::to_string(max_size) + " " + std::to_string(batch_bytes) + " " + std::to_string(piece));
        FrameParser fast(be32(), max_size, batch_bytes);
        FrameParser general(parse_length_prefix(4, "<I"), max_size, batch_bytes);
        Trace fast_trace = run_in_pieces(fast, big, piece);
        Trace general_trace = run_in_pieces(general, little, piece);
        ASSERT_EQ(fast_trace, general_trace);
        std::vector<std::string> expected;
        for (const auto& payload : payloads) {
          if (payload.size() > max_size) {
            break;
          }
          expected.push_back(payload);
        }
        ASSERT_EQ(joined(fast_trace), expected);
        ASSERT_EQ(fast_trace.malformed_length, max_size < 40 ? static_cast<std::int64_t>(max_size + 1) : 0);
      }
    }
  }
}

}  // namespace
}  // namespace roo::io
