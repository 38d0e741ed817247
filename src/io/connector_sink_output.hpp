#pragma once

#include "roo/io/record_batch.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace roo::io {

/// A connector sink's output from the moment write() hands it over until it is safe (acknowledged, or committed):
/// whole batches, each placed at its byte offset in the stream's output. Records are the batch's RecordBatch::records
/// (a batch without records is one record). Offsets are relative to the first session's point of reference until
/// rebase() places them. Not thread-safe: lives on the sink's strand.
class ConnectorSinkOutput {
 public:
  /// Keeps `batch` at end().
  void append(std::shared_ptr<const RecordBatch> batch);

  /// Moves every offset so that front() becomes `front` (the first session's point of reference).
  void rebase(std::uint64_t front);

  /// Appends to `out` one MESSAGE frame on `stream_id` per record from `from` (a record's start) until `limit` or
  /// until `out` holds at least `max_bytes`; returns the offset reached (a record's start, or `limit`).
  std::uint64_t encode_messages(std::uint64_t from, std::uint64_t limit, std::size_t max_bytes, std::uint64_t stream_id,
                                std::string& out) const;

  /// True when `offset` is where a record kept here starts, or end().
  [[nodiscard]] bool is_record_start(std::uint64_t offset) const;

  /// Drops the batches that end at or before `offset`; returns their RecordBatch::size_bytes().
  std::size_t release_before(std::uint64_t offset);

  /// The batches that start at or after `offset`, oldest first (shared, not copied).
  [[nodiscard]] std::vector<std::shared_ptr<const RecordBatch>> batches_from(std::uint64_t offset) const;

  /// Drops the batches that start at or after `offset` (a batch's start); returns their size_bytes(). end() is then
  /// `offset` (or front(), when nothing is left).
  std::size_t drop_from(std::uint64_t offset);

  [[nodiscard]] std::uint64_t front() const { return front_; }
  [[nodiscard]] std::uint64_t end() const { return end_; }
  [[nodiscard]] bool empty() const { return batches_.empty(); }

 private:
  struct Placed {
    std::uint64_t start = 0;
    std::shared_ptr<const RecordBatch> batch;
  };
  /// The batch holding `offset` (front() <= offset < end()).
  [[nodiscard]] std::deque<Placed>::const_iterator batch_at(std::uint64_t offset) const;

  std::deque<Placed> batches_;  ///< oldest first, back to back
  std::uint64_t front_ = 0;     ///< offset of batches_.front() (where the next one goes when empty)
  std::uint64_t end_ = 0;
};

}  // namespace roo::io
