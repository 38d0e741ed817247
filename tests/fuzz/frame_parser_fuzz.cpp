// libFuzzer target: a source's framing (src/io/frame_parser.*, length_prefix.*). Arbitrary bytes arrive in arbitrary
// chunks under one of the framings a decoder may declare; the frames FrameParser cuts must be exactly the frames a
// simple whole-stream reading finds, in order, each inside the input, with no more bytes consumed than given.
#include "frame_parser.hpp"
#include "fuzz_check.hpp"

#include "roo/core/error.hpp"
#include "roo/io/length_prefix.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using roo::io::FrameParser;
using roo::io::FrameResult;
using roo::io::LengthPrefix;

struct Framing {
  std::size_t header_length;
  const char* format;
};

// Wallaroo's ">I" first (nearly every app), then the other shapes parse_length_prefix accepts.
constexpr std::array<Framing, 12> framings{{{4, ">I"},
                                            {4, "<I"},
                                            {4, "!i"},
                                            {2, ">H"},
                                            {2, "<h"},
                                            {1, "B"},
                                            {1, "b"},
                                            {8, ">Q"},
                                            {8, "<q"},
                                            {6, ">xxI"},
                                            {8, "@xI"},
                                            {3, "<xH"}}};
constexpr std::array<std::size_t, 6> max_sizes{0, 1, 7, 255, 16384, 1 << 20};
constexpr std::array<std::size_t, 5> batch_sizes{1, 5, 64, 4096, 64 * 1024};

/// The length a header announces, read byte by byte (independently of LengthPrefix::read); nullopt when negative.
std::optional<std::uint64_t> announced(const LengthPrefix& framing, std::string_view header) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < framing.field_width; ++i) {
    std::size_t at = framing.big_endian ? i : framing.field_width - 1 - i;
    value = (value << 8) | static_cast<unsigned char>(header[framing.field_offset + at]);
  }
  if (framing.is_signed && (value >> (8 * framing.field_width - 1)) != 0) {
    return std::nullopt;
  }
  return value;
}

/// What a whole-stream reading finds: the complete frames, then either a malformed header (its announced length,
/// -1 when negative), or the size of the unfinished tail.
struct Expected {
  std::vector<std::string_view> frames;
  std::optional<std::int64_t> malformed;
  std::size_t tail = 0;
};

Expected read_whole(const LengthPrefix& framing, std::size_t max_size, std::string_view stream) {
  Expected expected;
  std::size_t pos = 0;
  while (stream.size() - pos >= framing.header_length) {
    std::optional<std::uint64_t> length = announced(framing, stream.substr(pos, framing.header_length));
    if (!length || *length > max_size) {
      // FrameParser::malformed_length(): -1 when negative, and at most INT64_MAX.
      expected.malformed = length ? static_cast<std::int64_t>(std::min<std::uint64_t>(*length, INT64_MAX)) : -1;
      return expected;
    }
    if (stream.size() - pos - framing.header_length < *length) {
      break;
    }
    expected.frames.push_back(stream.substr(pos + framing.header_length, *length));
    pos += framing.header_length + *length;
  }
  expected.tail = stream.size() - pos;
  return expected;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider input(data, size);
  const Framing& chosen = framings[input.ConsumeIntegralInRange<std::size_t>(0, framings.size() - 1)];
  const std::size_t max_size = max_sizes[input.ConsumeIntegralInRange<std::size_t>(0, max_sizes.size() - 1)];
  const std::size_t batch_bytes = batch_sizes[input.ConsumeIntegralInRange<std::size_t>(0, batch_sizes.size() - 1)];
  std::vector<std::size_t> chunks(input.ConsumeIntegralInRange<std::size_t>(0, 16));
  for (auto& chunk : chunks) {
    chunk = input.ConsumeIntegralInRange<std::size_t>(0, 300);
  }
  const std::string stream = input.ConsumeRemainingBytesAsString();

  LengthPrefix framing = roo::io::parse_length_prefix(chosen.header_length, chosen.format);
  const Expected expected = read_whole(framing, max_size, stream);

  FrameParser parser(framing, max_size, batch_bytes);
  roo::core::FrameBatch batch;
  std::vector<std::string> frames;
  std::size_t offered = 0;   // bytes handed to parse() so far (a chunk at a time)
  std::size_t consumed = 0;  // bytes parse() reported as used
  std::optional<std::int64_t> malformed;
  auto collect = [&] {
    for (std::size_t i = 0; i < batch.size(); ++i) {
      std::string_view frame = batch.frame(i);
      ROO_FUZZ_CHECK(frame.size() <= max_size);
      ROO_FUZZ_CHECK(frame.size() <= stream.size());
      frames.emplace_back(frame);
    }
    batch.clear();
  };
  // Like a source connection: parse each chunk to its end, handing the batch over whenever it is full.
  for (std::size_t chunk = 0; offered < stream.size() && !malformed; ++chunk) {
    std::size_t length = chunk < chunks.size() ? chunks[chunk] : stream.size() - offered;
    length = std::min(length, stream.size() - offered);
    const char* at = stream.data() + offered;
    std::size_t left = length;
    offered += length;
    for (;;) {
      roo::io::ParseOutcome outcome = parser.parse(at, left, batch);
      ROO_FUZZ_CHECK(outcome.consumed <= left);
      consumed += outcome.consumed;
      at += outcome.consumed;
      left -= outcome.consumed;
      if (outcome.result == FrameResult::malformed) {
        malformed = parser.malformed_length();
        break;
      }
      if (outcome.result == FrameResult::need_more) {
        ROO_FUZZ_CHECK(left == 0);
        break;
      }
      ROO_FUZZ_CHECK(!batch.empty());  // batch_full: at a frame boundary, with payload to hand over
      collect();
    }
    ROO_FUZZ_CHECK(consumed <= offered);
  }
  collect();

  ROO_FUZZ_CHECK(consumed <= stream.size());
  ROO_FUZZ_CHECK(malformed == expected.malformed);
  ROO_FUZZ_CHECK(frames.size() == expected.frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    ROO_FUZZ_CHECK(frames[i] == expected.frames[i]);
  }
  if (!malformed) {
    ROO_FUZZ_CHECK(consumed == stream.size());
    ROO_FUZZ_CHECK(parser.is_mid_frame() == (expected.tail > 0));
    ROO_FUZZ_CHECK(parser.partial_bytes() == expected.tail);
    if (parser.has_header()) {
      ROO_FUZZ_CHECK(parser.frame_bytes() > expected.tail);
    }
  }
  return 0;
}
