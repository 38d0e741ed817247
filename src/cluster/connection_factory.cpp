#include "connection_factory.hpp"

#include "cluster_log.hpp"

#include "roo/core/tls_context.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>

namespace roo::cluster {
namespace {

// handshake()'s failure when the peer closed the connection during it (nothing to warn about)
const std::string closed_during_handshake = "the peer closed the connection during the TLS handshake";

}  // namespace

std::shared_ptr<FramedConnection> ConnectionFactory::make(std::unique_ptr<core::ByteStream> stream, const char* kind,
                                                          bool trusted) const {
  return std::make_shared<FramedConnection>(
      std::move(stream),
      core::FramedConnectionConfig{
          .kind = kind,
          .log_prefix = "cluster",
          .logger = cluster_logger(),
          .skip_empty_frames = std::string_view(kind) == "external",
          .max_frame_bytes = trusted ? max_frame_bytes
                             : std::string_view(kind) == "external" && config_.external_secret.empty()
                                 ? external_max_frame_bytes
                                 : core::untrusted_max_frame_bytes,
          .frame_timeout = trusted ? std::chrono::milliseconds(0) : config_.handshake_timeout,
          // Only external clients get an output-queue cap (a client that sends queries and reads no answers).
          // Control and data peers are members: an unauthenticated one is answered with a challenge and a refusal
          // at most, data is bounded by credit, and a cap on both ends of a member's channel could stall it (each
          // side, over its cap, stops reading what would let the other drain).
          .max_queued_bytes = std::string_view(kind) == "external" ? core::default_max_queued_bytes : 0});
}

void ConnectionFactory::accept(Socket socket, core::ListenerSlot slot, const char* kind, AcceptedStream next) {
  if (!config_.tls) {
    next(std::make_unique<core::TcpStream>(std::move(socket)), std::move(slot));
    return;
  }
  std::string peer = core::describe_remote(socket);
  auto held = std::make_shared<core::ListenerSlot>(std::move(slot));
  handshake(config_.tls->wrap(std::move(socket), true),
            [kind, next = std::move(next), peer, held](std::unique_ptr<core::ByteStream> stream,
                                                       const std::string& failure) {
              if (!stream) {
                cluster_logger()->log(failure == closed_during_handshake ? spdlog::level::debug : spdlog::level::warn,
                                      "cluster: refused {} connection from {}: TLS failed: {}", kind, peer, failure);
                return;
              }
              next(std::move(stream), std::move(*held));
            });
}

void ConnectionFactory::connect(Socket socket, StreamDone done) {
  if (!config_.tls) {
    done(std::make_unique<core::TcpStream>(std::move(socket)), "");
    return;
  }
  handshake(config_.tls->wrap(std::move(socket), false), std::move(done));
}

// Runs the stream's handshake within handshake_timeout (a peer that stalls it is closed), then `done` on the strand.
void ConnectionFactory::handshake(std::unique_ptr<core::ByteStream> stream, StreamDone done) {
  auto held = std::make_shared<std::unique_ptr<core::ByteStream>>(std::move(stream));
  auto timer = std::make_shared<Timer>(strand_);
  auto timed_out = std::make_shared<bool>(false);
  timer->expires_after(config_.handshake_timeout);
  timer->async_wait([held, timed_out](const boost::system::error_code& error) {
    if (!error && *held) {
      *timed_out = true;
      (*held)->close();
    }
  });
  (*held)->async_handshake([self = keep_alive(), held, timer, timed_out,
                            done = std::move(done)](const boost::system::error_code& error) {
    timer->cancel();
    if (self->lifecycle_.phase == Phase::closed) {
      return;
    }
    if (error) {
      (*held)->close();
      bool closed = error == boost::asio::error::eof || error == boost::asio::ssl::error::stream_truncated;
      done(nullptr, *timed_out ? "no TLS handshake within " + std::to_string(self->config_.handshake_timeout.count()) +
                                     " ms"
                    : closed   ? closed_during_handshake
                               : describe_error(error));
      return;
    }
    done(std::move(*held), "");
  });
}

void ConnectionFactory::trust(FramedConnection& connection, std::uint32_t max_frame) {
  connection.set_max_frame_bytes(max_frame);
  connection.set_frame_timeout(std::chrono::milliseconds(0));
  connection.release_slot();
}

AuthCallbacks ConnectionFactory::acceptor_auth_callbacks(const char* kind) {
  AuthCallbacks callbacks;
  if (!config_.cluster_secret.empty()) {
    callbacks.on_authenticated = [](FramedConnection& c) { trust(c); };
  }
  callbacks.on_failed = [this, kind](FramedConnection& c, AuthFailure failure, const std::string& detail) {
    cluster_logger()->warn("cluster: refused {} connection from {}: {}", kind, c.peer(),
                           describe_auth_failure(failure, "it", detail));
    auto shared = c.shared_from_this();
    if (failure != AuthFailure::refused) {
      c.write(message(MessageType::auth_refused).str(refusal_text(failure)).take());
    }
    c.when_flushed([this, shared] {
      unidentified_.erase(shared);
      shared->close();
    });
  };
  return callbacks;
}

void ConnectionFactory::close_unidentified() {
  auto unidentified = std::move(unidentified_);
  unidentified_.clear();
  for (const auto& connection : unidentified) {
    connection->close();
  }
}

}  // namespace roo::cluster
