#include "connector_sink_output.hpp"

#include "roo/core/big_endian.hpp"

#include <algorithm>

namespace roo::io {
namespace {

// u32 length | u8 type | u64 stream id | u64 message id | i64 event time | u16 key length (no key).
constexpr std::size_t message_head_bytes = 4 + 1 + 8 + 8 + 8 + 2;
constexpr char message_type = 5;

std::size_t record_count(const RecordBatch& batch) { return batch.records.empty() ? 1 : batch.records.size(); }

std::uint32_t record_end(const RecordBatch& batch, std::size_t i) {
  return batch.records.empty() ? static_cast<std::uint32_t>(batch.values.size()) : batch.records[i].value_end;
}

/// Index of the record of `batch` starting at `offset` (within the batch), or record_count() when none does.
std::size_t record_starting_at(const RecordBatch& batch, std::uint64_t offset) {
  if (offset == 0) {
    return 0;
  }
  if (batch.records.empty()) {
    return 1;
  }
  auto it = std::lower_bound(batch.records.begin(), batch.records.end(), offset,
                             [](const RecordBatch::Record& record, std::uint64_t at) { return record.value_end < at; });
  if (it == batch.records.end() || it->value_end != offset) {
    return batch.records.size();
  }
  return static_cast<std::size_t>(it - batch.records.begin()) + 1;
}

void append_message(std::string& out, std::uint64_t stream_id, std::uint64_t message_id, const char* payload,
                    std::size_t size) {
  std::size_t at = out.size();
  out.resize(at + message_head_bytes);
  char* head = out.data() + at;
  core::store_u32_be(head, static_cast<std::uint32_t>(message_head_bytes - 4 + size));
  head[4] = message_type;
  core::store_u64_be(head + 5, stream_id);
  core::store_u64_be(head + 13, message_id);
  core::store_u64_be(head + 21, 0);  // event time
  core::store_u16_be(head + 29, 0);  // no key
  out.append(payload, size);
}

}  // namespace

void ConnectorSinkOutput::append(std::shared_ptr<const RecordBatch> batch) {
  std::uint64_t size = batch->values.size();
  batches_.push_back(Placed{.start = end_, .batch = std::move(batch)});
  end_ += size;
}

void ConnectorSinkOutput::rebase(std::uint64_t front) {
  for (auto& placed : batches_) {
    placed.start = placed.start - front_ + front;
  }
  end_ = end_ - front_ + front;
  front_ = front;
}

std::deque<ConnectorSinkOutput::Placed>::const_iterator ConnectorSinkOutput::batch_at(std::uint64_t offset) const {
  auto it = std::upper_bound(batches_.begin(), batches_.end(), offset,
                             [](std::uint64_t at, const Placed& placed) { return at < placed.start; });
  return std::prev(it);
}

std::uint64_t ConnectorSinkOutput::encode_messages(std::uint64_t from, std::uint64_t limit, std::size_t max_bytes,
                                                   std::uint64_t stream_id, std::string& out) const {
  limit = std::min(limit, end_);
  while (from < limit && out.size() < max_bytes) {
    auto placed = batch_at(from);
    const RecordBatch& batch = *placed->batch;
    std::size_t i = record_starting_at(batch, from - placed->start);
    for (; i < record_count(batch) && from < limit && out.size() < max_bytes; ++i) {
      std::uint32_t begin = static_cast<std::uint32_t>(from - placed->start);
      std::uint32_t end = record_end(batch, i);
      append_message(out, stream_id, from, batch.values.data() + begin, end - begin);
      from = placed->start + end;
    }
    if (i < record_count(batch) || from == placed->start) {
      break;  // stopped inside the batch, or an empty batch with no record to send
    }
  }
  return from;
}

bool ConnectorSinkOutput::is_record_start(std::uint64_t offset) const {
  if (offset == end_) {
    return true;
  }
  if (offset < front_ || offset > end_) {
    return false;
  }
  auto placed = batch_at(offset);
  return record_starting_at(*placed->batch, offset - placed->start) < record_count(*placed->batch);
}

std::size_t ConnectorSinkOutput::release_before(std::uint64_t offset) {
  std::size_t released = 0;
  while (!batches_.empty() && batches_.front().start + batches_.front().batch->values.size() <= offset) {
    released += batches_.front().batch->size_bytes();
    batches_.pop_front();
  }
  front_ = batches_.empty() ? std::max(front_, std::min(offset, end_)) : batches_.front().start;
  return released;
}

std::vector<std::shared_ptr<const RecordBatch>> ConnectorSinkOutput::batches_from(std::uint64_t offset) const {
  std::vector<std::shared_ptr<const RecordBatch>> batches;
  for (const Placed& placed : batches_) {
    if (placed.start >= offset) {
      batches.push_back(placed.batch);
    }
  }
  return batches;
}

std::size_t ConnectorSinkOutput::drop_from(std::uint64_t offset) {
  std::size_t dropped = 0;
  while (!batches_.empty() && batches_.back().start >= offset) {
    dropped += batches_.back().batch->size_bytes();
    batches_.pop_back();
  }
  end_ = batches_.empty() ? std::max(front_, std::min(offset, end_))
                          : batches_.back().start + batches_.back().batch->values.size();
  if (batches_.empty()) {
    front_ = end_;
  }
  return dropped;
}

}  // namespace roo::io
