// A worker that is not the initializer sends a joiner to the initializer's control address.
#include "join_redirect.hpp"

#include "cluster_log.hpp"
#include "peer_authentication.hpp"
#include "wire.hpp"

#include "roo/core/printable.hpp"

namespace roo::cluster {

void JoinRedirect::start(core::Listener& control_listener) {
  control_listener.start([this](Socket socket, core::ListenerSlot slot) {
    connections_.accept(std::move(socket), std::move(slot), "control",
                        [this](std::unique_ptr<core::ByteStream> stream, core::ListenerSlot accepted) {
                          on_stream(std::move(stream), std::move(accepted));
                        });
  });
}

void JoinRedirect::on_stream(std::unique_ptr<core::ByteStream> stream, core::ListenerSlot slot) {
  auto connection = connections_.make(std::move(stream), "control", false);
  connection->hold(std::move(slot));
  connections_.hold_unidentified(connection);
  connection->start(
      authenticate_first(
          *connection, config_.cluster_secret, "control", core::SecretHandshake::Role::acceptor,
          [this](FramedConnection& c, const char* body, std::size_t size) { return on_frame(c, body, size); },
          connections_.acceptor_auth_callbacks("control")),
      [this](FramedConnection& c, const std::string&) { connections_.forget_unidentified(c.shared_from_this()); });
}

// Only a hello is expected, and answered once: where to join. Anything else fails the connection with one line.
FrameAction JoinRedirect::on_frame(FramedConnection& connection, const char* body, std::size_t size) {
  auto type = static_cast<std::uint8_t>(body[0]);
  if (type != static_cast<std::uint8_t>(MessageType::hello)) {
    connection.fail(unexpected_message(type));
    return FrameAction::stop;
  }
  auto hello = decode_hello(core::BigEndianReader(body + 1, size - 1));
  if (!hello) {
    connection.fail("malformed hello message");
    return FrameAction::stop;
  }
  core::Endpoint at = initializer_();
  cluster_logger()->info("cluster: worker '{}' from {} asked this worker to join; sent it to the initializer at {}",
                         core::printable(hello->name, 100), connection.peer(), at.to_string());
  core::BigEndianWriter writer = message(MessageType::join_at);
  write_endpoint(writer, at);
  connection.write(writer.take());
  auto shared = connection.shared_from_this();
  connection.when_flushed([this, shared] {
    connections_.forget_unidentified(shared);
    shared->close();
  });
  return FrameAction::pause;  // nothing more is read: it closes once the answer is out
}

}  // namespace roo::cluster
