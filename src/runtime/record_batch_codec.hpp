#pragma once

#include "roo/io/record_batch.hpp"

#include <string>
#include <string_view>

namespace roo::runtime {

/// A transactional sink's output of one checkpoint, as the checkpoint keeps it (docs/resilience.md): so that a
/// worker that died between the checkpoint's completion and the sink's commit commits that output after its restart.
/// Layout (big-endian): u32 records | u32 values, keys, headers lengths | per record: u32 value_end, key_end,
/// headers_end, i32 partition, i64 time, u8 has_key | the three byte areas.
[[nodiscard]] std::string encode_record_batch(const io::RecordBatch& batch);
/// Throws core::Error naming what is inconsistent (the file's checksum passed: a bug or another version's file).
[[nodiscard]] io::RecordBatch decode_record_batch(std::string_view bytes);

}  // namespace roo::runtime
