#pragma once

#include "roo/cluster/cluster.hpp"
#include "roo/core/big_endian.hpp"
#include "roo/core/endpoint.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace roo::cluster {

/// Largest frame body an authenticated (or, without a secret, identified) worker may send on a control or data
/// connection; before that, core::untrusted_max_frame_bytes.
constexpr std::uint32_t max_frame_bytes = 64u * 1024 * 1024;
/// Largest frame an external-channel client may send (its requests are small; Print text is the longest).
constexpr std::uint32_t external_max_frame_bytes = 64u * 1024;

/// The first byte of every control and data frame body. Control frames travel on the control connection between
/// a worker and the initializer; data frames on the data channels between every pair of workers.
enum class MessageType : std::uint8_t {
  hello = 1,                 ///< worker → initializer: name, addresses, app fingerprint
  reject = 2,                ///< initializer → worker: why it may not join (text)
  membership = 3,            ///< initializer → worker: every worker, the receiver's index, key groups
  channels_up = 4,           ///< worker → initializer: its outbound data channels are connected
  go = 5,                    ///< initializer → worker: formation is complete
  stop_request = 6,          ///< worker → initializer: please stop the cluster
  stop = 7,                  ///< initializer → worker: stop the sources (hooks.on_stop)
  poll = 8,                  ///< initializer → worker: report your drain state (round)
  poll_reply = 9,            ///< worker → initializer: round, drained, bytes sent to / processed from each worker
  exit = 10,                 ///< initializer → worker: everything is drained (hooks.on_exit)
  worker_lost = 11,          ///< initializer → worker: this worker's connection broke
  local_query = 12,          ///< initializer → worker: give your local answer to an external query type (id, type)
  local_answer = 13,         ///< worker → initializer: (id, JSON)
  gather_request = 14,       ///< worker → initializer: collect every worker's local answer to a type (id, type)
  gather_reply = 15,         ///< initializer → worker: (id, [(worker, JSON)…])
  checkpoint_begin = 16,     ///< initializer → worker: take your part of checkpoint (id)
  checkpoint_part = 17,      ///< worker → initializer: (id, ok, the part's description or the failure's line)
  checkpoint_complete = 18,  ///< initializer → worker: checkpoint (id) is complete everywhere
  stream_marks = 19,         ///< worker → initializer: a connector source's restored marks (source, [marks])
  stream_claim = 20,         ///< worker → initializer: may this worker open a connector stream (id, source, mark)
  stream_claim_reply = 21,   ///< initializer → worker: (id, granted, the stream's marks, holder when refused)
  stream_release = 22,       ///< worker → initializer: this worker let a connector stream go (source, mark)
  membership_update = 23,    ///< initializer → worker: a worker joined (the membership, as membership's body)
  rescale_pause = 24,        ///< initializer → worker: rescale (round) begins: take no source input
  rescale_poll = 25,         ///< initializer → worker: report your quiet state (round), as poll
  rescale_poll_reply = 26,   ///< worker → initializer: as poll-reply
  rescale_move = 27,         ///< initializer → worker: (round, the new membership): hand over your key groups
  rescale_moved = 28,        ///< worker → initializer: (round) handed over
  rescale_resume = 29,       ///< initializer → worker: (round) is over: take source input again
  shrink_request = 30,       ///< worker → initializer: an external shrink request (id, the request's JSON)
  shrink_reply = 31,         ///< initializer → worker: (id, accepted, the answer's text)
  auth_challenge = 40,       ///< either side, first on a control or data connection with a secret: a fresh nonce
  auth_proof = 41,           ///< either side, after the peer's challenge: HMAC proof of the cluster secret
  auth_refused = 42,         ///< acceptor → opener: why it closes (text; nothing about the application)
  join_at = 43,  ///< a worker that is not the initializer → a worker that said hello to it: the initializer's control
                 ///< address (endpoint), where to join
  data_hello = 32,  ///< data channel opener → acceptor: the sender's worker index
  data = 33,        ///< one Cluster::send: the bytes
  ack = 34,         ///< acceptor → opener, on the same channel: bytes processed (u64)
  marker = 35,      ///< opener → acceptor, in order with data: checkpoint marker (id)
  watermark = 36,   ///< opener → acceptor, in order with data: the sender's watermarks (runtime's bytes)
  key_groups = 37,  ///< opener → acceptor, in order with data: key groups' state in a rescale (runtime's bytes)
};

/// "hello", "data", … for warnings; "message type 200" when unknown.
[[nodiscard]] std::string describe_type(std::uint8_t type);
[[nodiscard]] bool is_known_type(std::uint8_t type);
/// Why a connection that did not expect a message of `type` fails: "unexpected <name> message", or "unknown
/// message type N" for a type no Roo version sends.
[[nodiscard]] std::string unexpected_message(std::uint8_t type);

/// A control or data message body: its type byte, then what the caller writes (core::BigEndianWriter).
[[nodiscard]] inline core::BigEndianWriter message(MessageType type) {
  core::BigEndianWriter writer;
  writer.u8(static_cast<std::uint8_t>(type));
  return writer;
}

/// An address on the wire: `str host | u16 port`.
void write_endpoint(core::BigEndianWriter& writer, const core::Endpoint& value);
[[nodiscard]] core::Endpoint read_endpoint(core::BigEndianReader& reader);

struct HelloMessage {
  std::string name;
  core::Endpoint control;
  core::Endpoint data;
  std::optional<core::Endpoint> external;
  std::string app_fingerprint;
  bool joining = false;  ///< started with --join: may join a cluster that formed already (growing)
};

/// A name a hello may carry: 1 to 255 bytes, no control characters (it is logged as it is).
[[nodiscard]] bool is_worker_name(std::string_view name);
[[nodiscard]] std::vector<char> encode_hello(const HelloMessage& hello);
[[nodiscard]] std::optional<HelloMessage> decode_hello(core::BigEndianReader reader);
/// A membership (type membership, membership_update, or rescale_move after its u64 round, which the caller writes).
void write_membership(core::BigEndianWriter& writer, const Membership& membership);
[[nodiscard]] std::vector<char> encode_membership(const Membership& membership,
                                                  MessageType type = MessageType::membership);
[[nodiscard]] std::optional<Membership> decode_membership(core::BigEndianReader reader);

/// One worker's answer to a drain poll: bytes it sent to and processed from each worker (by index).
struct PollReply {
  std::uint64_t round = 0;
  bool drained = false;
  std::vector<std::uint64_t> sent;
  std::vector<std::uint64_t> processed;
};

[[nodiscard]] std::vector<char> encode_poll_reply(const PollReply& reply);
[[nodiscard]] std::optional<PollReply> decode_poll_reply(core::BigEndianReader reader);

}  // namespace roo::cluster
