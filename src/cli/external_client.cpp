#include "external_client.hpp"

#include "connect_attempt.hpp"
#include "send_errno.hpp"

#include "roo/core/big_endian.hpp"
#include "roo/core/error.hpp"
#include "roo/core/printable.hpp"
#include "roo/core/secret_handshake.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <utility>

namespace roo::cli {
namespace {

using Clock = std::chrono::steady_clock;

int milliseconds_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 1 << 30));
}

ExternalReply ended(ExternalReply::Outcome outcome) {
  ExternalReply reply;
  reply.outcome = outcome;
  return reply;
}

}  // namespace

core::SharedSecret external_secret(const std::optional<std::string>& flag_value) {
  if (flag_value) {
    return core::SharedSecret::load(*flag_value, "--external-secret-file");
  }
  if (const char* path = std::getenv("ROO_EXTERNAL_SECRET_FILE"); path != nullptr && *path != '\0') {
    return core::SharedSecret::load(path, "ROO_EXTERNAL_SECRET_FILE");
  }
  return {};
}

std::string encode_external_frame(ExternalMessageId id, std::string_view payload) {
  std::string frame(6, '\0');
  core::store_u32_be(frame.data(), static_cast<std::uint32_t>(2 + payload.size()));
  core::store_u16_be(frame.data() + 4, static_cast<std::uint16_t>(id));
  frame.append(payload);
  return frame;
}

ExternalClient ExternalClient::connect(const core::Endpoint& worker, std::chrono::milliseconds timeout,
                                       const std::optional<core::TlsFiles>& tls) {
  std::string name = worker.to_string();
  auto deadline = Clock::now() + timeout;
  std::string resolve_error;
  int fd = connect_to(worker, deadline, resolve_error);
  if (!resolve_error.empty()) {
    throw core::Error("connect to " + name + ": " + resolve_error);
  }
  if (fd < 0) {
    throw core::Error("connect to " + name + ": " + errno_text(-fd));
  }
  ExternalClient client(ClientSocket(fd, name));
  if (tls) {
    client.tls_ = ClientTls::start(fd, *tls, name, timeout);
  }
  return client;
}

ExternalClient ExternalClient::open(const core::Endpoint& worker, std::chrono::milliseconds timeout,
                                    const std::optional<core::TlsFiles>& tls, const core::SharedSecret& secret) {
  ExternalClient client = connect(worker, timeout, tls);
  if (!secret.empty()) {
    client.authenticate(secret, timeout);
  }
  return client;
}

void expect_frame(const ExternalReply& reply, const std::string& action, double timeout_seconds) {
  switch (reply.outcome) {
    case ExternalReply::Outcome::frame:
      return;
    case ExternalReply::Outcome::timed_out: {
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%g s", timeout_seconds);
      throw core::Error(action + ": none within " + seconds + " (--timeout)");
    }
    case ExternalReply::Outcome::closed:
      throw core::Error(action +
                        ": the worker closed the connection\n"
                        "hint: a worker closes the connection on a request it does not understand");
    case ExternalReply::Outcome::malformed:
      throw core::Error(action + ": the answer is a frame too short to hold a message id");
    case ExternalReply::Outcome::too_large:
      throw core::Error(action + ": the answer announces more than " + std::to_string(external_max_answer_bytes >> 20) +
                        " MiB, more than any Roo worker sends");
  }
}

void expect_answer(const ExternalReply& reply, ExternalMessageId expected, const std::string& what,
                   const std::string& address) {
  if (reply.id == static_cast<std::uint16_t>(ExternalMessageId::auth_refused)) {
    throw core::Error("get an answer to " + what + " from " + address +
                      ": the worker refused: " + core::printable(reply.payload, 200));
  }
  if (reply.id != static_cast<std::uint16_t>(expected)) {
    throw core::Error("read the answer to " + what + " from " + address + ": unexpected message id " +
                      std::to_string(reply.id) + " (expected " + std::to_string(static_cast<std::uint16_t>(expected)) +
                      ")");
  }
}

int ExternalClient::write_all(const char* data, std::size_t size) {
  return tls_ ? tls_->write_all(data, size) : socket_.write_all(data, size);
}

void ExternalClient::send(ExternalMessageId id, std::string_view payload, std::string_view what) {
  std::string frame = encode_external_frame(id, payload);
  if (int error = write_all(frame.data(), frame.size()); error != 0) {
    throw core::Error("send " + std::string(what) + " to " + name() + ": " + errno_text(error));
  }
}

void ExternalClient::authenticate(const core::SharedSecret& secret, std::chrono::milliseconds timeout) {
  std::string action = "authenticate to " + name();
  core::SecretHandshake handshake(secret.bytes(), "roo external v1", core::SecretHandshake::Role::connector);
  send(ExternalMessageId::auth_hello, handshake.nonce(), "the external secret's auth-hello");
  ExternalReply reply = read_reply(timeout);
  if (reply.outcome == ExternalReply::Outcome::frame &&
      reply.id == static_cast<std::uint16_t>(ExternalMessageId::auth_refused)) {
    throw core::Error(action + ": the worker refused: " + core::printable(reply.payload, 200));
  }
  if (reply.outcome != ExternalReply::Outcome::frame ||
      reply.id != static_cast<std::uint16_t>(ExternalMessageId::auth_challenge)) {
    throw core::Error(action + ": the worker did not answer the external secret's auth-hello");
  }
  const std::string differs = action + ": the worker's external secret differs from this one (--external-secret-file)";
  if (!handshake.take_peer_nonce(reply.payload)) {
    throw core::Error(action + ": the worker did not answer the external secret's auth-hello");
  }
  // The worker proves itself only after our proof checked out; its refusal of our proof means another secret.
  send(ExternalMessageId::auth_proof, handshake.proof(), "the external secret's proof");
  ExternalReply accepted = read_reply(timeout);
  if (accepted.outcome == ExternalReply::Outcome::frame &&
      accepted.id == static_cast<std::uint16_t>(ExternalMessageId::auth_refused)) {
    throw core::Error(differs);
  }
  if (accepted.outcome != ExternalReply::Outcome::frame ||
      accepted.id != static_cast<std::uint16_t>(ExternalMessageId::auth_accepted) ||
      !handshake.verify(accepted.payload)) {
    throw core::Error(differs);
  }
}

void ExternalClient::check_not_refused(std::chrono::milliseconds wait, const std::string& action) {
  ExternalReply reply = read_reply(wait);
  if (reply.outcome == ExternalReply::Outcome::frame &&
      reply.id == static_cast<std::uint16_t>(ExternalMessageId::auth_refused)) {
    throw core::Error(action + ": the worker refused: " + core::printable(reply.payload, 200));
  }
}

ExternalReply ExternalClient::read_reply(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::string buffer;
  while (true) {
    // A whole frame in hand? Zero-length frames carry nothing and are skipped, as the worker does.
    while (buffer.size() >= 4) {
      std::uint32_t length = core::load_u32_be(buffer.data());
      if (length == 0) {
        buffer.erase(0, 4);
        continue;
      }
      if (length < 2) {
        return ended(ExternalReply::Outcome::malformed);
      }
      if (length > external_max_answer_bytes) {
        return ended(ExternalReply::Outcome::too_large);
      }
      if (buffer.size() < 4 + std::size_t{length}) {
        break;
      }
      ExternalReply reply = ended(ExternalReply::Outcome::frame);
      reply.id = core::load_u16_be(buffer.data() + 4);
      reply.payload = buffer.substr(6, length - 2);
      return reply;
    }
    char chunk[65536];
    if (tls_ && tls_->has_pending()) {
      long got = tls_->read(chunk, sizeof chunk);
      if (got <= 0) {
        return ended(ExternalReply::Outcome::closed);
      }
      buffer.append(chunk, static_cast<std::size_t>(got));
      continue;
    }
    pollfd waiting{socket_.fd(), POLLIN, 0};
    int ready = ::poll(&waiting, 1, milliseconds_left(deadline));
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready <= 0) {
      return ended(ExternalReply::Outcome::timed_out);
    }
    ssize_t got = tls_ ? tls_->read(chunk, sizeof chunk) : ::recv(socket_.fd(), chunk, sizeof chunk, 0);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0) {
      return ended(ExternalReply::Outcome::closed);
    }
    buffer.append(chunk, static_cast<std::size_t>(got));
  }
}

}  // namespace roo::cli
