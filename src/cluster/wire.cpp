#include "wire.hpp"

#include <cstring>

namespace roo::cluster {

std::string describe_type(std::uint8_t type) {
  switch (static_cast<MessageType>(type)) {
    case MessageType::hello:
      return "hello";
    case MessageType::reject:
      return "reject";
    case MessageType::membership:
      return "membership";
    case MessageType::channels_up:
      return "channels-up";
    case MessageType::go:
      return "go";
    case MessageType::stop_request:
      return "stop-request";
    case MessageType::stop:
      return "stop";
    case MessageType::poll:
      return "poll";
    case MessageType::poll_reply:
      return "poll-reply";
    case MessageType::exit:
      return "exit";
    case MessageType::worker_lost:
      return "worker-lost";
    case MessageType::local_query:
      return "local-query";
    case MessageType::local_answer:
      return "local-answer";
    case MessageType::gather_request:
      return "gather-request";
    case MessageType::gather_reply:
      return "gather-reply";
    case MessageType::data_hello:
      return "data-hello";
    case MessageType::data:
      return "data";
    case MessageType::ack:
      return "ack";
  }
  return "message type " + std::to_string(type);
}

bool is_known_type(std::uint8_t type) { return describe_type(type).rfind("message type ", 0) != 0; }

std::string unexpected_message(std::uint8_t type) {
  return is_known_type(type) ? "unexpected " + describe_type(type) + " message" : "unknown " + describe_type(type);
}

WireWriter& WireWriter::u8(std::uint8_t value) {
  bytes_.push_back(static_cast<char>(value));
  return *this;
}

WireWriter& WireWriter::u16(std::uint16_t value) {
  u8(static_cast<std::uint8_t>(value >> 8));
  return u8(static_cast<std::uint8_t>(value));
}

WireWriter& WireWriter::u32(std::uint32_t value) {
  u16(static_cast<std::uint16_t>(value >> 16));
  return u16(static_cast<std::uint16_t>(value));
}

WireWriter& WireWriter::u64(std::uint64_t value) {
  u32(static_cast<std::uint32_t>(value >> 32));
  return u32(static_cast<std::uint32_t>(value));
}

WireWriter& WireWriter::str(std::string_view value) {
  u32(static_cast<std::uint32_t>(value.size()));
  bytes_.insert(bytes_.end(), value.begin(), value.end());
  return *this;
}

WireWriter& WireWriter::endpoint(const core::Endpoint& value) {
  str(value.host);
  return u16(value.port);
}

bool WireReader::take(std::size_t n) {
  if (!ok_ || size_ - pos_ < n) {
    ok_ = false;
    return false;
  }
  return true;
}

std::uint8_t WireReader::u8() {
  if (!take(1)) {
    return 0;
  }
  return static_cast<std::uint8_t>(data_[pos_++]);
}

std::uint16_t WireReader::u16() {
  std::uint16_t high = u8();
  return static_cast<std::uint16_t>((high << 8) | u8());
}

std::uint32_t WireReader::u32() {
  std::uint32_t high = u16();
  return (high << 16) | u16();
}

std::uint64_t WireReader::u64() {
  std::uint64_t high = u32();
  return (high << 32) | u32();
}

std::string WireReader::str() {
  std::uint32_t n = u32();
  if (!take(n)) {
    return {};
  }
  std::string out(data_ + pos_, n);
  pos_ += n;
  return out;
}

core::Endpoint WireReader::endpoint() {
  core::Endpoint out;
  out.host = str();
  out.port = u16();
  return out;
}

namespace {

/// The fewest bytes a worker takes in a membership: an empty name, two endpoints with empty hosts, the external flag.
constexpr std::size_t min_worker_bytes = 4 + 6 + 6 + 1;
/// The bytes of one worker's counts in a poll reply: sent and processed.
constexpr std::size_t poll_entry_bytes = 8 + 8;

void write_worker(WireWriter& writer, const WorkerInfo& worker) {
  writer.str(worker.name).endpoint(worker.control).endpoint(worker.data).u8(worker.external ? 1 : 0);
  if (worker.external) {
    writer.endpoint(*worker.external);
  }
}

WorkerInfo read_worker(WireReader& reader) {
  WorkerInfo worker;
  worker.name = reader.str();
  worker.control = reader.endpoint();
  worker.data = reader.endpoint();
  if (reader.u8() != 0) {
    worker.external = reader.endpoint();
  }
  return worker;
}

}  // namespace

std::vector<char> encode_hello(const HelloMessage& hello) {
  WireWriter writer(MessageType::hello);
  write_worker(writer, WorkerInfo{hello.name, hello.control, hello.data, hello.external});
  writer.str(hello.app_fingerprint);
  return writer.take();
}

std::optional<HelloMessage> decode_hello(WireReader reader) {
  WorkerInfo worker = read_worker(reader);
  HelloMessage hello{worker.name, worker.control, worker.data, worker.external, reader.str()};
  if (!reader.ok_and_done() || hello.name.empty()) {
    return std::nullopt;
  }
  return hello;
}

std::vector<char> encode_membership(const Membership& membership) {
  WireWriter writer(MessageType::membership);
  writer.u32(membership.key_groups).u32(static_cast<std::uint32_t>(membership.self));
  writer.u32(static_cast<std::uint32_t>(membership.workers.size()));
  for (const auto& worker : membership.workers) {
    write_worker(writer, worker);
  }
  return writer.take();
}

std::optional<Membership> decode_membership(WireReader reader) {
  Membership membership;
  membership.key_groups = reader.u32();
  membership.self = reader.u32();
  std::uint32_t count = reader.u32();
  // The count is the peer's say-so: refuse one the body cannot hold before making room for it.
  if (count > 100000 || count > reader.remaining() / min_worker_bytes) {
    return std::nullopt;
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    membership.workers.push_back(read_worker(reader));
  }
  // No key groups would leave every key without an owner (and the key router dividing by zero).
  if (!reader.ok_and_done() || membership.workers.empty() || membership.self >= membership.workers.size() ||
      membership.key_groups == 0) {
    return std::nullopt;
  }
  return membership;
}

std::vector<char> encode_poll_reply(const PollReply& reply) {
  WireWriter writer(MessageType::poll_reply);
  writer.u64(reply.round).u8(reply.drained ? 1 : 0).u32(static_cast<std::uint32_t>(reply.sent.size()));
  for (std::size_t i = 0; i < reply.sent.size(); ++i) {
    writer.u64(reply.sent[i]).u64(reply.processed[i]);
  }
  return writer.take();
}

std::optional<PollReply> decode_poll_reply(WireReader reader) {
  PollReply reply;
  reply.round = reader.u64();
  reply.drained = reader.u8() != 0;
  std::uint32_t count = reader.u32();
  if (count > 100000 || count > reader.remaining() / poll_entry_bytes) {
    return std::nullopt;
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    reply.sent.push_back(reader.u64());
    reply.processed.push_back(reader.u64());
  }
  if (!reader.ok_and_done()) {
    return std::nullopt;
  }
  return reply;
}

}  // namespace roo::cluster
