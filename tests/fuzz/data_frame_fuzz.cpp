// libFuzzer target: the bytes of one data-channel batch from another worker (src/runtime/hop_layout.*), the part of
// hop decoding that runs before Python. Making the keys and objects (str, bytes, pickle.loads or the app's
// deserialize) needs the interpreter and is not fuzzed here. A batch that parses must be exactly the bytes its
// entries and object section make again; the per-object section must split into objects inside it.
#include "fuzz_check.hpp"
#include "hop_layout.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace roo::runtime;

void put_u16(std::string& out, std::uint16_t value) {
  out.push_back(static_cast<char>(value >> 8));
  out.push_back(static_cast<char>(value & 0xff));
}

void put_u32(std::string& out, std::size_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

void put_u64(std::string& out, std::uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

void put_span(std::string& out, std::string_view bytes) {
  put_u32(out, bytes.size());
  out.append(bytes);
}

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::vector<HopEntryView> entries;
  std::string_view blob;
  std::string error;
  const bool parsed = parse_hop_layout(bytes, entries, blob, error);
  // Room for entries follows the bytes received, whatever count the batch announces (10 bytes per entry at least).
  ROO_FUZZ_CHECK(entries.capacity() <= size / 10 + 1);
  for (const HopEntryView& entry : entries) {
    ROO_FUZZ_CHECK(inside(entry.key, bytes));
    ROO_FUZZ_CHECK(inside(entry.raw, bytes));
    ROO_FUZZ_CHECK(entry.data_kind == HopDataKind::raw_frame || entry.raw.empty());
  }
  if (!parsed) {
    ROO_FUZZ_CHECK(!error.empty());
    return 0;
  }
  ROO_FUZZ_CHECK(inside(blob, bytes));
  std::string again;
  put_u32(again, entries.size());
  for (const HopEntryView& entry : entries) {
    put_u16(again, entry.flow);
    put_u16(again, entry.position);
    again.push_back(static_cast<char>(static_cast<std::uint8_t>(entry.data_kind) | (entry.timed ? hop_timed_flag : 0)));
    again.push_back(static_cast<char>(entry.key_kind));
    put_span(again, entry.key);
    put_u64(again, static_cast<std::uint64_t>(entry.time));
    if (entry.timed) {
      put_u64(again, static_cast<std::uint64_t>(entry.ingest));
    }
    if (entry.data_kind == HopDataKind::raw_frame) {
      put_span(again, entry.raw);
    }
  }
  put_span(again, blob);
  ROO_FUZZ_CHECK(again == bytes);

  // The object section of an application with its own serialize/deserialize: u32-framed objects back to back.
  std::string_view rest = blob;
  std::string_view object;
  while (take_framed_object(rest, object)) {
    ROO_FUZZ_CHECK(inside(object, blob));
    ROO_FUZZ_CHECK(inside(rest, blob));
    ROO_FUZZ_CHECK(rest.size() + 4 + object.size() <= blob.size());
  }
  return 0;
}
