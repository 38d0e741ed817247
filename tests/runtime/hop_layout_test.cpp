#include "hop_layout.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace roo::runtime {
namespace {

std::string u32(std::uint32_t value) {
  return {static_cast<char>(value >> 24), static_cast<char>(value >> 16), static_cast<char>(value >> 8),
          static_cast<char>(value)};
}

std::string span(std::string_view bytes) { return u32(static_cast<std::uint32_t>(bytes.size())) + std::string(bytes); }

/// flow 0, position 1, the given kinds, key "k", event time 7 (and payload "p" for a raw frame).
std::string entry(std::uint8_t data_kind, std::uint8_t key_kind) {
  std::string out("\x00\x00\x00\x01", 4);
  out += static_cast<char>(data_kind);
  out += static_cast<char>(key_kind);
  out += span("k");
  out += std::string("\x00\x00\x00\x00\x00\x00\x00\x07", 8);
  return data_kind == 0 ? out + span("p") : out;
}

TEST(HopLayout, CutsABatchIntoEntriesAndTheObjectSection) {
  const std::string batch = u32(2) + entry(0, 0) + entry(1, 1) + span("blob");
  std::vector<HopEntryView> entries;
  std::string_view blob;
  std::string error;
  ASSERT_TRUE(parse_hop_layout(batch, entries, blob, error)) << error;
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].position, 1u);
  EXPECT_EQ(entries[0].data_kind, HopDataKind::raw_frame);
  EXPECT_EQ(entries[0].key, "k");
  EXPECT_EQ(entries[0].raw, "p");
  EXPECT_EQ(entries[0].time, 7);
  EXPECT_EQ(entries[1].data_kind, HopDataKind::object);
  EXPECT_EQ(entries[1].key_kind, HopKeyKind::bytes);
  EXPECT_TRUE(entries[1].raw.empty());
  EXPECT_EQ(blob, "blob");
}

// A timed entry (the metrics' sample) carries its arrival at its source after its event time.
TEST(HopLayout, ATimedEntryCarriesItsIngestTime) {
  std::string timed("\x00\x00\x00\x01", 4);
  timed += static_cast<char>(0x80);  // raw frame, timed
  timed += static_cast<char>(0);
  timed += span("k");
  timed += std::string("\x00\x00\x00\x00\x00\x00\x00\x07", 8);
  timed += std::string("\x00\x00\x00\x00\x00\x00\x01\x00", 8);  // ingest 256
  timed += span("p");
  const std::string batch = u32(2) + timed + entry(0, 0) + span("");
  std::vector<HopEntryView> entries;
  std::string_view blob;
  std::string error;
  ASSERT_TRUE(parse_hop_layout(batch, entries, blob, error)) << error;
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].data_kind, HopDataKind::raw_frame);
  EXPECT_TRUE(entries[0].timed);
  EXPECT_EQ(entries[0].ingest, 256);
  EXPECT_FALSE(entries[1].timed);
  EXPECT_EQ(entries[0].raw, "p");
  EXPECT_EQ(entries[1].ingest, 0);
  const std::string cut = u32(1) + timed.substr(0, timed.size() - 13);  // the ingest time cut short
  EXPECT_FALSE(parse_hop_layout(cut, entries, blob, error));
  EXPECT_EQ(error, "truncated entry 0");
}

// Found while writing tests/fuzz/data_frame_fuzz.cpp (which checks it): read_hops reserved the announced count up
// front, so four bytes saying 4,294,967,295 entries asked for hundreds of GiB (std::bad_alloc out of the executor).
TEST(HopLayout, AnAnnouncedCountReservesOnlyWhatTheBytesCanHold) {
  const std::string batch = u32(0xFFFFFFFF) + entry(0, 0);
  std::vector<HopEntryView> entries;
  std::string_view blob;
  std::string error;
  EXPECT_FALSE(parse_hop_layout(batch, entries, blob, error));
  EXPECT_EQ(error, "truncated entry 1");
  EXPECT_EQ(entries.size(), 1u);
  EXPECT_LE(entries.capacity(), 2u);
}

TEST(HopLayout, UnknownKindsAreRefused) {
  std::vector<HopEntryView> entries;
  std::string_view blob;
  std::string error;
  EXPECT_FALSE(parse_hop_layout(u32(1) + entry(7, 0) + span(""), entries, blob, error));
  EXPECT_EQ(error, "entry 0 has unknown data kind 7");
  EXPECT_FALSE(parse_hop_layout(u32(1) + entry(1, 3) + span(""), entries, blob, error));
  EXPECT_EQ(error, "entry 0 has unknown key kind 3");
}

TEST(HopLayout, BytesAfterTheObjectSectionAreRefused) {
  std::vector<HopEntryView> entries;
  std::string_view blob;
  std::string error;
  EXPECT_FALSE(parse_hop_layout(u32(0) + span("") + "x", entries, blob, error));
  EXPECT_EQ(error, "malformed object section");
}

TEST(HopLayout, FramedObjectsAreTakenOneAtATime) {
  std::string_view blob;
  const std::string bytes = span("one") + span("") + u32(9) + "short";
  blob = bytes;
  std::string_view object;
  ASSERT_TRUE(take_framed_object(blob, object));
  EXPECT_EQ(object, "one");
  ASSERT_TRUE(take_framed_object(blob, object));
  EXPECT_EQ(object, "");
  EXPECT_FALSE(take_framed_object(blob, object));
  EXPECT_EQ(blob.size(), 9u);
}

}  // namespace
}  // namespace roo::runtime
