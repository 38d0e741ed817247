#pragma once

#include "roo/cluster/cluster.hpp"
#include "roo/core/endpoint.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace roo::cluster {

/// Largest frame body accepted on any cluster port (control, data, external); a longer one is garbage.
constexpr std::uint32_t max_frame_bytes = 64u * 1024 * 1024;

/// The first byte of every control and data frame body. Control frames travel on the control connection between
/// a worker and the initializer; data frames on the data channels between every pair of workers.
enum class MessageType : std::uint8_t {
  hello = 1,            ///< worker → initializer: name, addresses, app fingerprint
  reject = 2,           ///< initializer → worker: why it may not join (text)
  membership = 3,       ///< initializer → worker: every worker, the receiver's index, key groups
  channels_up = 4,      ///< worker → initializer: its outbound data channels are connected
  go = 5,               ///< initializer → worker: formation is complete
  stop_request = 6,     ///< worker → initializer: please stop the cluster
  stop = 7,             ///< initializer → worker: stop the sources (hooks.on_stop)
  poll = 8,             ///< initializer → worker: report your drain state (round)
  poll_reply = 9,       ///< worker → initializer: round, drained, bytes sent to / processed from each worker
  exit = 10,            ///< initializer → worker: everything is drained (hooks.on_exit)
  worker_lost = 11,     ///< initializer → worker: this worker's connection broke
  local_query = 12,     ///< initializer → worker: give your local answer to an external query type (id, type)
  local_answer = 13,    ///< worker → initializer: (id, JSON)
  gather_request = 14,  ///< worker → initializer: collect every worker's local answer to a type (id, type)
  gather_reply = 15,    ///< initializer → worker: (id, [(worker, JSON)…])
  data_hello = 32,      ///< data channel opener → acceptor: the sender's worker index
  data = 33,            ///< one Cluster::send: the bytes
  ack = 34,             ///< acceptor → opener, on the same channel: bytes processed (u64)
};

/// "hello", "data", … for warnings; "message type 200" when unknown.
[[nodiscard]] std::string describe_type(std::uint8_t type);
[[nodiscard]] bool is_known_type(std::uint8_t type);
/// Why a connection that did not expect a message of `type` fails: "unexpected <name> message", or "unknown
/// message type N" for a type no Roo version sends.
[[nodiscard]] std::string unexpected_message(std::uint8_t type);

/// Builds a frame body: big-endian integers and u32-length-prefixed strings.
class WireWriter {
 public:
  explicit WireWriter(MessageType type) { bytes_.push_back(static_cast<char>(type)); }
  WireWriter& u8(std::uint8_t value);
  WireWriter& u16(std::uint16_t value);
  WireWriter& u32(std::uint32_t value);
  WireWriter& u64(std::uint64_t value);
  WireWriter& str(std::string_view value);
  WireWriter& endpoint(const core::Endpoint& value);
  /// The body (type byte included); the connection adds the length header.
  [[nodiscard]] std::vector<char> take() { return std::move(bytes_); }

 private:
  std::vector<char> bytes_;
};

/// Reads a frame body written by WireWriter (after its type byte). Every read fails softly: ok() turns false and
/// values read past the end are zero, so a decoder reads everything and checks ok() once.
class WireReader {
 public:
  WireReader(const char* data, std::size_t size) : data_(data), size_(size) {}
  std::uint8_t u8();
  std::uint16_t u16();
  std::uint32_t u32();
  std::uint64_t u64();
  std::string str();
  core::Endpoint endpoint();
  /// True when every read was in bounds and the whole body was used.
  [[nodiscard]] bool ok_and_done() const { return ok_ && pos_ == size_; }
  /// Bytes not read yet (0 after a failed read): bounds a count announced by the peer before anything is allocated.
  [[nodiscard]] std::size_t remaining() const { return ok_ ? size_ - pos_ : 0; }

 private:
  [[nodiscard]] bool take(std::size_t n);
  const char* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

struct HelloMessage {
  std::string name;
  core::Endpoint control;
  core::Endpoint data;
  std::optional<core::Endpoint> external;
  std::string app_fingerprint;
};

[[nodiscard]] std::vector<char> encode_hello(const HelloMessage& hello);
[[nodiscard]] std::optional<HelloMessage> decode_hello(WireReader reader);
[[nodiscard]] std::vector<char> encode_membership(const Membership& membership);
[[nodiscard]] std::optional<Membership> decode_membership(WireReader reader);

/// One worker's answer to a drain poll: bytes it sent to and processed from each worker (by index).
struct PollReply {
  std::uint64_t round = 0;
  bool drained = false;
  std::vector<std::uint64_t> sent;
  std::vector<std::uint64_t> processed;
};

[[nodiscard]] std::vector<char> encode_poll_reply(const PollReply& reply);
[[nodiscard]] std::optional<PollReply> decode_poll_reply(WireReader reader);

}  // namespace roo::cluster
