#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace roo::io::connector {

/// The connector protocol's frames (spec §3.3, python/wallaroo/experimental/connector_wire_messages.py): on the
/// wire `u32 BE length | u8 type | body`, big-endian integers, short strings `u16 length | bytes`. The encoders give
/// whole frames (length included); decode_frame reads one frame without its length (what core::FramedConnection
/// hands over), as Python's `Frame.decode` does.
enum class FrameType : std::uint8_t {
  hello = 0,
  ok = 1,
  error = 2,
  notify = 3,
  notify_ack = 4,
  message = 5,
  ack = 6,
  restart = 7,
  eos_message = 8,
};

struct Hello {
  std::string version;
  std::string cookie;
  std::string program_name;
  std::string instance_name;
  bool operator==(const Hello&) const = default;
};
struct Ok {
  std::uint32_t initial_credits = 0;
  bool operator==(const Ok&) const = default;
};
struct ErrorFrame {
  std::string message;
  bool operator==(const ErrorFrame&) const = default;
};
struct Notify {
  std::uint64_t stream_id = 0;
  std::string stream_name;
  std::uint64_t point_of_ref = 0;
  bool operator==(const Notify&) const = default;
};
struct NotifyAck {
  bool success = false;
  std::uint64_t stream_id = 0;
  std::uint64_t point_of_ref = 0;
  bool operator==(const NotifyAck&) const = default;
};
/// A MESSAGE's key and payload are views into the decoded frame's bytes: a source copies them once, into its batch.
/// An empty key is no key (the wire cannot tell them apart; Python decodes it as None).
struct Message {
  std::uint64_t stream_id = 0;
  std::uint64_t message_id = 0;
  std::int64_t event_time = 0;
  std::string_view key;
  std::string_view payload;
  bool operator==(const Message&) const = default;
};
/// One (stream id, point of reference) of an ACK: every message of the stream up to and including that id is safe.
struct StreamAck {
  std::uint64_t stream_id = 0;
  std::uint64_t point_of_ref = 0;
  bool operator==(const StreamAck&) const = default;
};
struct Ack {
  std::uint32_t credits = 0;
  std::vector<StreamAck> acks;
  bool operator==(const Ack&) const = default;
};
/// "host:port" to reconnect to, or empty for the same address.
struct Restart {
  std::string address;
  bool operator==(const Restart&) const = default;
};
struct EndOfStream {
  std::uint64_t stream_id = 0;
  bool operator==(const EndOfStream&) const = default;
};

using Frame = std::variant<Hello, Ok, ErrorFrame, Notify, NotifyAck, Message, Ack, Restart, EndOfStream>;

/// Reads one frame: `u8 type | body`, without the length. Throws core::Error naming what is wrong ("an empty frame
/// has no message type", "unknown connector message type 77", "NOTIFY: frame body of 5 bytes is too short",
/// "HELLO: 3 bytes after the frame's last field"). A Message's views point into `frame`.
[[nodiscard]] Frame decode_frame(std::string_view frame);

/// The frame's name as the protocol spells it ("HELLO", "EOS_MESSAGE"): for log lines.
[[nodiscard]] const char* frame_name(const Frame& frame);

// Whole frames, `u32 BE length | u8 type | body`. A short string over 65535 bytes throws core::Error.
[[nodiscard]] std::string encode_hello(const Hello& hello);
[[nodiscard]] std::string encode_ok(const Ok& ok);
[[nodiscard]] std::string encode_error(const ErrorFrame& error);
[[nodiscard]] std::string encode_notify(const Notify& notify);
[[nodiscard]] std::string encode_notify_ack(const NotifyAck& ack);
[[nodiscard]] std::string encode_message(const Message& message);
[[nodiscard]] std::string encode_ack(const Ack& ack);
[[nodiscard]] std::string encode_restart(const Restart& restart);
[[nodiscard]] std::string encode_eos_message(const EndOfStream& eos);

// The two-phase commit of a connector sink rides in stream-0 MESSAGE payloads: `u8 tag | body` (spec §3.3). Counts
// are u32, transaction ids short strings.
enum class TwoPhaseTag : std::uint8_t {
  list_uncommitted = 201,
  reply_uncommitted = 202,
  phase1 = 203,
  phase1_reply = 204,
  phase2 = 205,
};

struct ListUncommitted {
  std::uint64_t rtag = 0;
  bool operator==(const ListUncommitted&) const = default;
};
struct ReplyUncommitted {
  std::uint64_t rtag = 0;
  std::vector<std::string> txn_ids;
  bool operator==(const ReplyUncommitted&) const = default;
};
/// One range of a PHASE1's where-list: the bytes [start_offset, end_offset) of a stream.
struct WhereRange {
  std::uint64_t stream_id = 0;
  std::uint64_t start_offset = 0;
  std::uint64_t end_offset = 0;
  bool operator==(const WhereRange&) const = default;
};
struct Phase1 {
  std::string txn_id;
  std::vector<WhereRange> where;
  bool operator==(const Phase1&) const = default;
};
struct Phase1Reply {
  std::string txn_id;
  bool commit = false;
  bool operator==(const Phase1Reply&) const = default;
};
struct Phase2 {
  std::string txn_id;
  bool commit = false;
  bool operator==(const Phase2&) const = default;
};

using TwoPhaseMessage = std::variant<ListUncommitted, ReplyUncommitted, Phase1, Phase1Reply, Phase2>;

/// A 2PC payload (what goes in a stream-0 MESSAGE's payload, not a whole frame).
[[nodiscard]] std::string encode_two_phase(const TwoPhaseMessage& message);
/// Reads a 2PC payload; throws core::Error naming what is wrong ("unknown 2PC message tag 7", ...).
[[nodiscard]] TwoPhaseMessage decode_two_phase(std::string_view payload);

}  // namespace roo::io::connector
