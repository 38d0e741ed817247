#include "external_client.hpp"

#include "connect_attempt.hpp"
#include "send_errno.hpp"

#include "roo/core/error.hpp"

#include <algorithm>
#include <cerrno>
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

void put_u32(std::string& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

}  // namespace

std::string encode_external_frame(ExternalMessageId id, std::string_view payload) {
  std::string frame;
  frame.reserve(6 + payload.size());
  put_u32(frame, static_cast<std::uint32_t>(2 + payload.size()));
  auto raw = static_cast<std::uint16_t>(id);
  frame.push_back(static_cast<char>(raw >> 8));
  frame.push_back(static_cast<char>(raw & 0xff));
  frame.append(payload);
  return frame;
}

ExternalClient ExternalClient::connect(const core::Endpoint& worker, std::chrono::milliseconds timeout) {
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
  return ExternalClient(ClientSocket(fd, name));
}

void ExternalClient::send(ExternalMessageId id, std::string_view payload, std::string_view what) {
  std::string frame = encode_external_frame(id, payload);
  if (int error = socket_.write_all(frame.data(), frame.size()); error != 0) {
    throw core::Error("send " + std::string(what) + " to " + name() + ": " + errno_text(error));
  }
}

ExternalReply ExternalClient::read_reply(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::string buffer;
  while (true) {
    // A whole frame in hand? Zero-length frames carry nothing and are skipped, as the worker does.
    while (buffer.size() >= 4) {
      std::uint32_t length = 0;
      for (int i = 0; i < 4; ++i) {
        length = (length << 8) | static_cast<unsigned char>(buffer[i]);
      }
      if (length == 0) {
        buffer.erase(0, 4);
        continue;
      }
      if (length < 2) {
        return ended(ExternalReply::Outcome::malformed);
      }
      if (buffer.size() < 4 + std::size_t{length}) {
        break;
      }
      ExternalReply reply = ended(ExternalReply::Outcome::frame);
      reply.id = static_cast<std::uint16_t>((static_cast<unsigned char>(buffer[4]) << 8) |
                                            static_cast<unsigned char>(buffer[5]));
      reply.payload = buffer.substr(6, length - 2);
      return reply;
    }
    pollfd waiting{socket_.fd(), POLLIN, 0};
    int ready = ::poll(&waiting, 1, milliseconds_left(deadline));
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready <= 0) {
      return ended(ExternalReply::Outcome::timed_out);
    }
    char chunk[65536];
    ssize_t got = ::recv(socket_.fd(), chunk, sizeof chunk, 0);
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
