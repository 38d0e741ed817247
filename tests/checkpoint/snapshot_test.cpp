#include "roo/checkpoint/snapshot.hpp"

#include "chain_merge.hpp"
#include "manifest.hpp"
#include "snapshot_file.hpp"

#include "roo/checkpoint/record_format.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace roo::checkpoint {
namespace {

std::vector<std::string> records_of(std::string_view body) {
  std::vector<std::string> out;
  RecordVisitor visitor{
      .on_state =
          [&](std::uint32_t table, std::uint32_t key_group, std::string_view key, std::string_view value) {
            out.push_back("state " + std::to_string(table) + " " + std::to_string(key_group) + " " +
                          std::string(key) + "=" + std::string(value));
          },
      .on_source =
          [&](std::uint32_t source, std::string_view position) {
            out.push_back("source " + std::to_string(source) + " " + std::string(position));
          },
      .on_channel =
          [&](std::uint32_t from, std::string_view bytes) {
            out.push_back("channel " + std::to_string(from) + " " + std::string(bytes));
          },
  };
  std::int64_t count = visit_records(body, visitor);
  EXPECT_EQ(count, static_cast<std::int64_t>(out.size()));
  return out;
}

TEST(Snapshot, AppendsRecordsInTheirFileEncoding) {
  Snapshot snapshot(7, true);
  snapshot.add_state(1, 17, "apple", "3");
  snapshot.add_state(0, 2, std::string("k\0y", 3), "");
  snapshot.add_source_position(4, "pos-9");
  EXPECT_EQ(snapshot.checkpoint_id(), 7u);
  EXPECT_TRUE(snapshot.full());
  EXPECT_EQ(snapshot.state_entries(), 2u);
  EXPECT_EQ(snapshot.source_entries(), 1u);
  // tag + table + key group + key + value = 1 + 4 + 4 + (4 + 5) + (4 + 1) for the first record.
  EXPECT_EQ(snapshot.records().size(), 23u + (1 + 4 + 4 + 4 + 3 + 4) + (1 + 4 + 4 + 5));
  const std::vector<char>& body = snapshot.records();
  EXPECT_EQ(records_of(std::string_view(body.data(), body.size())),
            (std::vector<std::string>{"state 1 17 apple=3", "state 0 2 " + std::string("k\0y", 3) + "=",
                                      "source 4 pos-9"}));
}

TEST(Snapshot, ChannelBatchesAreRecordsOfTheirOwn) {
  Snapshot snapshot(3, false);
  snapshot.add_state(0, 1, "k", "v");
  snapshot.add_channel_batch(2, std::string("b\0tes", 6));
  EXPECT_EQ(snapshot.channel_entries(), 1u);
  const std::vector<char>& body = snapshot.records();
  EXPECT_EQ(records_of(std::string_view(body.data(), body.size())),
            (std::vector<std::string>{"state 0 1 k=v", "channel 2 " + std::string("b\0tes", 6)}));
}

TEST(Snapshot, OutputAddedLaterIsEncodedOnlyWhenAskedAndStoredAsOutputAddedAtOnce) {
  Snapshot snapshot(4, false);
  int encodings = 0;
  snapshot.add_sink_output_later(1, [&encodings] {
    ++encodings;
    return std::vector<std::string>{"first", std::string("sec\0nd", 7)};
  });
  snapshot.add_state(0, 1, "k", "v");
  EXPECT_EQ(encodings, 0);
  EXPECT_EQ(snapshot.channel_entries(), 0u);
  snapshot.encode_late_output();
  snapshot.encode_late_output();  // run once, then forgotten
  EXPECT_EQ(encodings, 1);
  EXPECT_EQ(snapshot.channel_entries(), 2u);

  Snapshot at_once(4, false);
  at_once.add_state(0, 1, "k", "v");
  at_once.add_sink_output(1, "first");
  at_once.add_sink_output(1, std::string("sec\0nd", 7));
  EXPECT_EQ(snapshot.records(), at_once.records());
  const std::vector<char>& body = snapshot.records();
  std::string flagged = std::to_string(1u | Snapshot::sink_output_flag);
  EXPECT_EQ(records_of(std::string_view(body.data(), body.size())),
            (std::vector<std::string>{"state 0 1 k=v", "channel " + flagged + " first",
                                      "channel " + flagged + " " + std::string("sec\0nd", 7)}));
}

// A sink that keeps only where its output is (Kafka's offsets) has that stored as a channel record with both flags,
// which recovery tells from a batch of output.
TEST(Snapshot, ASinksOutputLocationIsAChannelRecordWithBothFlags) {
  Snapshot snapshot(5, false);
  snapshot.add_sink_output_location(2, std::string("\x01offsets", 8));
  snapshot.add_sink_output(3, "batch");
  const std::vector<char>& body = snapshot.records();
  std::string location = std::to_string(2u | Snapshot::sink_output_flag | Snapshot::sink_location_flag);
  std::string batch = std::to_string(3u | Snapshot::sink_output_flag);
  EXPECT_EQ(records_of(std::string_view(body.data(), body.size())),
            (std::vector<std::string>{"channel " + location + " " + std::string("\x01offsets", 8),
                                      "channel " + batch + " batch"}));
  EXPECT_EQ(Snapshot::sink_location_flag & Snapshot::window_watermark_flag, 0u);
  EXPECT_EQ(Snapshot::sink_location_flag & Snapshot::sink_output_flag, 0u);
}

TEST(Snapshot, MalformedBodyIsReported) {
  Snapshot snapshot(1, true);
  snapshot.add_state(1, 1, "key", "value");
  std::string body(snapshot.records().begin(), snapshot.records().end());
  RecordVisitor ignore{
      .on_state = [](auto, auto, auto, auto) {}, .on_source = [](auto, auto) {}, .on_channel = [](auto, auto) {}};
  EXPECT_EQ(visit_records(body.substr(0, body.size() - 1), ignore), -1);
  EXPECT_EQ(visit_records(std::string("\x09", 1), ignore), -1);  // unknown tag
}

std::string file_bytes(const Snapshot& snapshot, const CheckpointIdentity& identity) {
  EncodedSnapshot encoded = encode_snapshot(snapshot, identity);
  std::string out(encoded.header.begin(), encoded.header.end());
  out.append(snapshot.records().begin(), snapshot.records().end());
  out.append(encoded.trailer.begin(), encoded.trailer.end());
  EXPECT_EQ(out.size(), encoded.size);
  return out;
}

TEST(SnapshotFile, DecodesWhatItEncoded) {
  Snapshot snapshot(12, false);
  snapshot.add_state(2, 5, "k", "v");
  snapshot.add_source_position(0, "p");
  CheckpointIdentity identity{.app_name = "app", .fingerprint = "fp", .worker_name = "w2"};
  std::string bytes = file_bytes(snapshot, identity);
  DecodedSnapshot decoded = decode_snapshot(bytes);
  EXPECT_EQ(decoded.problem, "");
  EXPECT_EQ(decoded.checkpoint_id, 12u);
  EXPECT_FALSE(decoded.full);
  EXPECT_EQ(decoded.identity.app_name, "app");
  EXPECT_EQ(decoded.identity.fingerprint, "fp");
  EXPECT_EQ(decoded.identity.worker_name, "w2");
  EXPECT_EQ(decoded.record_count, 2u);
  EXPECT_EQ(decoded.crc32, encode_snapshot(snapshot, identity).crc32);
  EXPECT_EQ(records_of(decoded.records), (std::vector<std::string>{"state 2 5 k=v", "source 0 p"}));
}

TEST(SnapshotFile, FindsEveryFlippedByteAndTruncation) {
  Snapshot snapshot(3, true);
  snapshot.add_state(0, 0, "key", "value");
  std::string bytes = file_bytes(snapshot, {.app_name = "a", .fingerprint = "f", .worker_name = "w"});
  for (std::size_t i = 8; i < bytes.size(); ++i) {  // past the magic: those bytes say "not a snapshot"
    std::string flipped = bytes;
    flipped[i] = static_cast<char>(flipped[i] ^ 0x10);
    EXPECT_NE(decode_snapshot(flipped).problem, "") << "byte " << i;
  }
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_NE(decode_snapshot(bytes.substr(0, n)).problem, "") << "length " << n;
  }
  EXPECT_EQ(decode_snapshot(bytes.substr(0, 5)).problem, "is truncated");
  EXPECT_EQ(decode_snapshot("NOTASNAPSHOT").problem, "is not a Roo snapshot file");
}

TEST(ChainMerge, NewestValuePerTableAndKeyFullFileFirst) {
  Snapshot full(1, true);
  full.add_state(0, 1, "a", "a1");
  full.add_state(0, 2, "b", "b1");
  full.add_state(1, 1, "a", "other table");
  full.add_source_position(0, "p1");
  full.add_source_position(1, "q1");
  Snapshot delta(2, false);
  delta.add_state(0, 1, "a", "a2");
  delta.add_state(0, 3, "c", "c2");
  delta.add_source_position(0, "p2");
  delta.add_source_position(1, "q2");
  ChainMerge merge;
  EXPECT_EQ(merge.add(std::string_view(full.records().data(), full.records().size())), 5);
  EXPECT_EQ(merge.add(std::string_view(delta.records().data(), delta.records().size())), 4);
  std::vector<std::string> seen;
  merge.for_each_state([&](std::uint32_t table, std::uint32_t, std::string_view key, std::string_view value) {
    seen.push_back(std::to_string(table) + std::string(key) + "=" + std::string(value));
  });
  merge.for_each_source([&](std::uint32_t source, std::string_view position) {
    seen.push_back("s" + std::to_string(source) + "=" + std::string(position));
  });
  // The full file's entries not replaced later, then the later files' in first-seen order.
  EXPECT_EQ(seen, (std::vector<std::string>{"0b=b1", "1a=other table", "0a=a2", "0c=c2", "s0=p2", "s1=q2"}));
}

TEST(Manifest, RoundTripsThroughItsText) {
  Manifest manifest{
      .app_name = "word \"count\"", .fingerprint = "abc", .checkpoint_id = 18446744073709551615ULL, .workers = {}};
  manifest.set("w1", {ChainFile{.name = "snapshot-1.full", .size = 10, .crc32 = 4294967295U},
                      ChainFile{.name = "snapshot-2.delta", .size = 0, .crc32 = 0}});
  manifest.set("w2", {});
  auto parsed = parse_manifest(manifest_text(manifest));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->app_name, "word \"count\"");
  EXPECT_EQ(parsed->fingerprint, "abc");
  EXPECT_EQ(parsed->checkpoint_id, 18446744073709551615ULL);
  ASSERT_EQ(parsed->workers.size(), 2u);
  ASSERT_NE(parsed->find("w1"), nullptr);
  EXPECT_EQ(parsed->find("w1")->files.size(), 2u);
  EXPECT_EQ(parsed->find("w1")->files[0].crc32, 4294967295U);
  EXPECT_EQ(parsed->find("w1")->files[1].name, "snapshot-2.delta");
  EXPECT_TRUE(parsed->erase("w2"));
  EXPECT_EQ(parsed->find("w2"), nullptr);
  std::string text = manifest_text(manifest);
  EXPECT_FALSE(parse_manifest(text.substr(0, text.size() / 2)).has_value());
  EXPECT_FALSE(parse_manifest(R"({"format":1})").has_value());
  std::string flipped = text;
  flipped[flipped.find("count")] ^= 1;  // still JSON, but another app name: a corrupt manifest
  EXPECT_FALSE(parse_manifest(flipped).has_value());
}

TEST(Manifest, TextKeepsTheLayoutEarlierVersionsWrote) {
  // Checkpoints written before issue 12 (hand-written JSON) and after (nlohmann::json) are the same bytes.
  Manifest manifest{
      .app_name = "word \"count\"", .fingerprint = "abc", .checkpoint_id = 18446744073709551615ULL, .workers = {}};
  manifest.set("w1", {ChainFile{.name = "snapshot-1.full", .size = 10, .crc32 = 4294967295U}});
  manifest.set("w2", {});
  EXPECT_EQ(manifest_text(manifest),
            R"({"format":1,"app":"word \"count\"","fingerprint":"abc","checkpoint":18446744073709551615,)"
            R"("workers":[{"worker":"w1","files":[{"name":"snapshot-1.full","size":10,"crc32":4294967295}]},)"
            R"({"worker":"w2","files":[]}],"crc32":3726787172})"
            "\n");
}

TEST(Manifest, FileNamesCarryTheIdInTwentyDigits) {
  EXPECT_EQ(manifest_file_name(12), "manifest-00000000000000000012.json");
  EXPECT_EQ(manifest_id("manifest-00000000000000000012.json"), 12u);
  EXPECT_EQ(manifest_id("manifest-00000000000000000012.json.w1.tmp"), std::nullopt);
  EXPECT_EQ(manifest_id("manifest-12.json"), std::nullopt);
}

}  // namespace
}  // namespace roo::checkpoint
