#include "wire.hpp"

#include <algorithm>
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
    case MessageType::checkpoint_begin:
      return "checkpoint-begin";
    case MessageType::checkpoint_part:
      return "checkpoint-part";
    case MessageType::checkpoint_complete:
      return "checkpoint-complete";
    case MessageType::stream_marks:
      return "stream-marks";
    case MessageType::stream_claim:
      return "stream-claim";
    case MessageType::stream_claim_reply:
      return "stream-claim-reply";
    case MessageType::stream_release:
      return "stream-release";
    case MessageType::membership_update:
      return "membership-update";
    case MessageType::rescale_pause:
      return "rescale-pause";
    case MessageType::rescale_poll:
      return "rescale-poll";
    case MessageType::rescale_poll_reply:
      return "rescale-poll-reply";
    case MessageType::rescale_move:
      return "rescale-move";
    case MessageType::rescale_moved:
      return "rescale-moved";
    case MessageType::rescale_resume:
      return "rescale-resume";
    case MessageType::shrink_request:
      return "shrink-request";
    case MessageType::shrink_reply:
      return "shrink-reply";
    case MessageType::key_groups:
      return "key-groups";
    case MessageType::marker:
      return "marker";
    case MessageType::watermark:
      return "watermark";
    case MessageType::auth_challenge:
      return "auth-challenge";
    case MessageType::auth_proof:
      return "auth-proof";
    case MessageType::auth_refused:
      return "auth-refused";
    case MessageType::join_at:
      return "join-at";
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

void write_endpoint(core::BigEndianWriter& writer, const core::Endpoint& value) {
  writer.str(value.host).u16(value.port);
}

core::Endpoint read_endpoint(core::BigEndianReader& reader) {
  core::Endpoint out;
  out.host = reader.str();
  out.port = reader.u16();
  return out;
}

namespace {

/// The fewest bytes a worker takes in a membership: an empty name, two endpoints with empty hosts, the external flag.
constexpr std::size_t min_worker_bytes = 4 + 6 + 6 + 1;
/// The bytes of one worker's counts in a poll reply: sent and processed.
constexpr std::size_t poll_entry_bytes = 8 + 8;

void write_worker(core::BigEndianWriter& writer, const WorkerInfo& worker) {
  writer.str(worker.name);
  write_endpoint(writer, worker.control);
  write_endpoint(writer, worker.data);
  writer.u8(worker.external ? 1 : 0);
  if (worker.external) {
    write_endpoint(writer, *worker.external);
  }
}

WorkerInfo read_worker(core::BigEndianReader& reader) {
  WorkerInfo worker;
  worker.name = reader.str();
  worker.control = read_endpoint(reader);
  worker.data = read_endpoint(reader);
  if (reader.u8() != 0) {
    worker.external = read_endpoint(reader);
  }
  return worker;
}

}  // namespace

bool is_worker_name(std::string_view name) {
  if (name.empty() || name.size() > 255) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    auto byte = static_cast<unsigned char>(c);
    return byte >= 0x20 && byte != 0x7f;
  });
}

std::vector<char> encode_hello(const HelloMessage& hello) {
  core::BigEndianWriter writer = message(MessageType::hello);
  write_worker(writer, WorkerInfo{hello.name, hello.control, hello.data, hello.external});
  writer.str(hello.app_fingerprint);
  writer.u8(hello.joining ? 1 : 0);
  return writer.take();
}

std::optional<HelloMessage> decode_hello(core::BigEndianReader reader) {
  WorkerInfo worker = read_worker(reader);
  HelloMessage hello{worker.name, worker.control, worker.data, worker.external, reader.str()};
  hello.joining = reader.u8() != 0;
  if (!reader.ok_and_done() || !is_worker_name(hello.name)) {
    return std::nullopt;
  }
  return hello;
}

void write_membership(core::BigEndianWriter& writer, const Membership& membership) {
  writer.u32(membership.key_groups).u32(static_cast<std::uint32_t>(membership.self));
  writer.u64(membership.restore_checkpoint).u64(membership.version);
  writer.u32(static_cast<std::uint32_t>(membership.workers.size()));
  for (std::size_t i = 0; i < membership.workers.size(); ++i) {
    write_worker(writer, membership.workers[i]);
    writer.u8(membership.has_departed(i) ? 1 : 0);
  }
  writer.u32(static_cast<std::uint32_t>(membership.owners.size()));
  for (std::uint16_t owner : membership.owners) {
    writer.u16(owner);
  }
}

std::vector<char> encode_membership(const Membership& membership, MessageType type) {
  core::BigEndianWriter writer = message(type);
  write_membership(writer, membership);
  return writer.take();
}

std::optional<Membership> decode_membership(core::BigEndianReader reader) {
  Membership membership;
  membership.key_groups = reader.u32();
  membership.self = reader.u32();
  membership.restore_checkpoint = reader.u64();
  membership.version = reader.u64();
  std::uint32_t count = reader.u32();
  // The counts are the peer's say-so: refuse one the body cannot hold before making room for it.
  if (count > 100000 || count > reader.remaining() / (min_worker_bytes + 1)) {
    return std::nullopt;
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    membership.workers.push_back(read_worker(reader));
    membership.departed.push_back(reader.u8() != 0);
  }
  std::uint32_t owners = reader.u32();
  if (owners != 0 && (owners != membership.key_groups || owners > reader.remaining() / 2)) {
    return std::nullopt;
  }
  for (std::uint32_t i = 0; i < owners; ++i) {
    membership.owners.push_back(reader.u16());
  }
  // No key groups would leave every key without an owner (and the key router dividing by zero); an owner must be a
  // worker. It may be departed: a worker lost keeps its key groups (their events counted lost) until the next
  // rescale round deals them out, and a joiner may come before that.
  if (!reader.ok_and_done() || membership.workers.empty() || membership.self >= membership.workers.size() ||
      membership.key_groups == 0) {
    return std::nullopt;
  }
  for (std::uint16_t owner : membership.owners) {
    if (owner >= membership.workers.size()) {
      return std::nullopt;
    }
  }
  return membership;
}

std::vector<char> encode_poll_reply(const PollReply& reply) {
  core::BigEndianWriter writer = message(MessageType::poll_reply);
  writer.u64(reply.round).u8(reply.drained ? 1 : 0).u32(static_cast<std::uint32_t>(reply.sent.size()));
  for (std::size_t i = 0; i < reply.sent.size(); ++i) {
    writer.u64(reply.sent[i]).u64(reply.processed[i]);
  }
  return writer.take();
}

std::optional<PollReply> decode_poll_reply(core::BigEndianReader reader) {
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
