#include "kafka_record_producer.hpp"

#include <cstdint>
#include <string_view>

namespace roo::io {
namespace {

const char empty_bytes[1] = {0};

std::uint32_t read_big_endian(std::string_view bytes, std::size_t at, std::size_t width) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    value = (value << 8) | static_cast<unsigned char>(bytes[at + i]);
  }
  return value;
}

/// librdkafka headers from [u16 name length][name][u32 value length][value]...; nullptr when there are none.
/// Roo's encoder writes them, so a truncated header ends the list rather than failing the record.
rd_kafka_headers_t* decode_headers(std::string_view encoded) {
  if (encoded.empty()) {
    return nullptr;
  }
  rd_kafka_headers_t* headers = rd_kafka_headers_new(4);
  std::size_t at = 0;
  while (at + 2 <= encoded.size()) {
    std::size_t name_size = read_big_endian(encoded, at, 2);
    if (at + 2 + name_size + 4 > encoded.size()) {
      break;
    }
    std::string_view name = encoded.substr(at + 2, name_size);
    std::size_t value_size = read_big_endian(encoded, at + 2 + name_size, 4);
    std::size_t value_at = at + 2 + name_size + 4;
    if (value_at + value_size > encoded.size()) {
      break;
    }
    rd_kafka_header_add(headers, name.data(), static_cast<ssize_t>(name.size()), encoded.data() + value_at,
                        static_cast<ssize_t>(value_size));
    at = value_at + value_size;
  }
  return headers;
}

}  // namespace

std::size_t record_count(const RecordBatch& batch) {
  return batch.records.empty() ? (batch.values.empty() ? 0 : 1) : batch.records.size();
}

std::size_t record_size(const RecordBatch& batch, std::size_t index) {
  if (batch.records.empty()) {
    return batch.values.size();
  }
  return batch.value(index).size() + batch.key(index).size() + batch.headers_of(index).size();
}

rd_kafka_resp_err_t produce_record(rd_kafka_t* producer, rd_kafka_topic_t* topic, const RecordBatch& batch,
                                   std::size_t index, void* opaque) {
  if (batch.records.empty()) {
    return rd_kafka_producev(producer, RD_KAFKA_V_RKT(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_VALUE(const_cast<char*>(batch.values.data()), batch.values.size()),
                             RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
  }
  const RecordBatch::Record& record = batch.records[index];
  std::string_view value = batch.value(index);
  std::string_view key = batch.key(index);
  const char* key_data = record.has_key ? (key.empty() ? empty_bytes : key.data()) : nullptr;
  rd_kafka_headers_t* headers = decode_headers(batch.headers_of(index));
  rd_kafka_resp_err_t result = rd_kafka_producev(
      producer, RD_KAFKA_V_RKT(topic), RD_KAFKA_V_PARTITION(record.partition),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_VALUE(const_cast<char*>(value.empty() ? empty_bytes : value.data()), value.size()),
      RD_KAFKA_V_KEY(key_data, key.size()), RD_KAFKA_V_TIMESTAMP(record.time_ms >= 0 ? record.time_ms : 0),
      RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
  if (result != RD_KAFKA_RESP_ERR_NO_ERROR && headers != nullptr) {
    rd_kafka_headers_destroy(headers);  // librdkafka owns them only once the record is accepted
  }
  return result;
}

}  // namespace roo::io
