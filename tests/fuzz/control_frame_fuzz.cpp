// libFuzzer target: the bodies of control frames (src/cluster/wire.*), as the control connection hands them over
// (the length header already removed). Whatever decodes must be a usable value that encodes back to a body of the
// same size and decodes again to the same value; whatever does not decode must be refused without a crash.
#include "fuzz_check.hpp"
#include "wire.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace roo::cluster;

bool same_endpoint(const roo::core::Endpoint& a, const roo::core::Endpoint& b) {
  return a.host == b.host && a.port == b.port;
}

bool same_worker(const WorkerInfo& a, const WorkerInfo& b) {
  return a.name == b.name && same_endpoint(a.control, b.control) && same_endpoint(a.data, b.data) &&
         a.external.has_value() == b.external.has_value() && (!a.external || same_endpoint(*a.external, *b.external));
}

roo::core::BigEndianReader after_type(const std::vector<char>& body) { return roo::core::BigEndianReader(body.data() + 1, body.size() - 1); }

void check_hello(const char* data, std::size_t size) {
  std::optional<HelloMessage> hello = decode_hello(roo::core::BigEndianReader(data, size));
  if (!hello) {
    return;
  }
  ROO_FUZZ_CHECK(!hello->name.empty());
  std::vector<char> body = encode_hello(*hello);
  ROO_FUZZ_CHECK(body.size() == size + 1);  // the type byte, then the same fields
  ROO_FUZZ_CHECK(body[0] == static_cast<char>(MessageType::hello));
  std::optional<HelloMessage> again = decode_hello(after_type(body));
  ROO_FUZZ_CHECK(again.has_value());
  ROO_FUZZ_CHECK(same_worker(WorkerInfo{hello->name, hello->control, hello->data, hello->external},
                             WorkerInfo{again->name, again->control, again->data, again->external}));
  ROO_FUZZ_CHECK(again->app_fingerprint == hello->app_fingerprint);
}

void check_membership(const char* data, std::size_t size) {
  std::optional<Membership> membership = decode_membership(roo::core::BigEndianReader(data, size));
  if (!membership) {
    return;
  }
  // What a worker does with it next: find itself, and deal key groups to owners.
  ROO_FUZZ_CHECK(!membership->workers.empty());
  ROO_FUZZ_CHECK(membership->self < membership->workers.size());
  ROO_FUZZ_CHECK(membership->key_groups > 0);
  ROO_FUZZ_CHECK(membership->owner(membership->key_groups - 1) < membership->workers.size());
  std::vector<char> body = encode_membership(*membership);
  ROO_FUZZ_CHECK(body.size() == size + 1);
  std::optional<Membership> again = decode_membership(after_type(body));
  ROO_FUZZ_CHECK(again.has_value());
  ROO_FUZZ_CHECK(again->self == membership->self && again->key_groups == membership->key_groups);
  ROO_FUZZ_CHECK(again->workers.size() == membership->workers.size());
  for (std::size_t i = 0; i < again->workers.size(); ++i) {
    ROO_FUZZ_CHECK(same_worker(again->workers[i], membership->workers[i]));
  }
}

void check_poll_reply(const char* data, std::size_t size) {
  std::optional<PollReply> reply = decode_poll_reply(roo::core::BigEndianReader(data, size));
  if (!reply) {
    return;
  }
  ROO_FUZZ_CHECK(reply->sent.size() == reply->processed.size());
  std::vector<char> body = encode_poll_reply(*reply);
  ROO_FUZZ_CHECK(body.size() == size + 1);
  std::optional<PollReply> again = decode_poll_reply(after_type(body));
  ROO_FUZZ_CHECK(again.has_value());
  ROO_FUZZ_CHECK(again->round == reply->round && again->drained == reply->drained);
  ROO_FUZZ_CHECK(again->sent == reply->sent && again->processed == reply->processed);
}

/// The fixed-shape messages read inline by the control and data handlers (poll, worker-lost, local-query, ack,
/// data-hello, ...): one roo::core::BigEndianReader read of each kind, checked never to run past the body.
void check_reader(const char* data, std::size_t size) {
  roo::core::BigEndianReader reader(data, size);
  std::size_t read = 0;
  for (std::size_t step = 0; step < 64 && reader.remaining() > 0; ++step) {
    std::size_t before = reader.remaining();
    switch (static_cast<unsigned char>(data[read]) % 6) {
      case 0:
        (void)reader.u8();
        break;
      case 1:
        (void)reader.u16();
        break;
      case 2:
        (void)reader.u32();
        break;
      case 3:
        (void)reader.u64();
        break;
      case 4:
        ROO_FUZZ_CHECK(reader.str().size() <= before);
        break;
      default:
        ROO_FUZZ_CHECK(roo::cluster::read_endpoint(reader).host.size() <= before);
        break;
    }
    ROO_FUZZ_CHECK(reader.remaining() <= before);
    read = size - reader.remaining();
    if (read >= size) {
      break;
    }
  }
  ROO_FUZZ_CHECK(!reader.ok_and_done() || reader.remaining() == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  if (size == 0) {
    return 0;  // the connection refuses an empty frame before any handler sees it
  }
  const char* body = reinterpret_cast<const char*>(bytes);
  const auto type = static_cast<std::uint8_t>(body[0]);
  // Names for warnings: every type has one, and only the known ones are called by name.
  ROO_FUZZ_CHECK(!unexpected_message(type).empty());
  ROO_FUZZ_CHECK(is_known_type(type) == (describe_type(type).rfind("message type ", 0) != 0));
  // The handlers pick the decoder by the type byte; every decoder is tried on every body so that each sees all
  // shapes.
  check_hello(body + 1, size - 1);
  check_membership(body + 1, size - 1);
  check_poll_reply(body + 1, size - 1);
  check_reader(body + 1, size - 1);
  return 0;
}
