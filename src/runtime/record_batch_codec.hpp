#pragma once

#include "roo/io/record_batch.hpp"

#include <string>
#include <string_view>

namespace roo::runtime {

/// A transactional sink's output of one checkpoint, as the checkpoint keeps it (docs/resilience.md): so that a
/// worker that died between the checkpoint's completion and the sink's commit commits that output after its restart.
/// It is written (and fsynced) for every output of an exactly-once run, so it is compact: about 5 bytes per record
/// besides its value and key (25 with fixed-width fields, which made the checkpoint the exactly-once bottleneck).
/// Layout: u32 records | u32 descriptions' bytes | u32 values, keys, headers lengths (big-endian) | per record,
/// LEB128 varints: value length, key length + 1 (0: no key), headers length, zigzag partition, zigzag time
/// minus the previous record's (the first: minus 0) | the three byte areas.
[[nodiscard]] std::string encode_record_batch(const io::RecordBatch& batch);
/// Throws core::Error naming what is inconsistent (the file's checksum passed: a bug or another version's file).
[[nodiscard]] io::RecordBatch decode_record_batch(std::string_view bytes);

}  // namespace roo::runtime
