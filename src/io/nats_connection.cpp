#include "nats_connection.hpp"

#include "io_log.hpp"

#include "roo/core/error.hpp"

#include <fmt/format.h>

#include <cctype>

// One libnats connection of a NATS source or sink, and what it logs (nats_connection.hpp).

namespace roo::io {
namespace {

/// libnats's options, freed on every path.
struct NatsOptionsHandle {
  natsOptions* options = nullptr;
  NatsOptionsHandle() {
    if (natsOptions_Create(&options) != NATS_OK) {
      throw core::Error("create NATS client options: out of memory");
    }
  }
  ~NatsOptionsHandle() { natsOptions_Destroy(options); }
  NatsOptionsHandle(const NatsOptionsHandle&) = delete;
  NatsOptionsHandle& operator=(const NatsOptionsHandle&) = delete;
};

}  // namespace

std::string nats_error_text(natsStatus status, natsConnection* connection) {
  std::string text = natsStatus_GetText(status);
  if (!text.empty()) {
    text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  }
  const char* last = nullptr;
  if (connection != nullptr && natsConnection_GetLastError(connection, &last) != NATS_OK && last != nullptr &&
      *last != '\0' && text != last) {
    text += std::string(": ") + last;
  }
  return text;
}

void NatsConnection::connect() {
  NatsOptionsHandle handle;
  natsOptions* options = handle.options;
  std::string name = "roo " + options_.identity;
  natsStatus status = natsOptions_SetURL(options, options_.url.c_str());
  if (status == NATS_OK) {
    status = natsOptions_SetName(options, name.c_str());
  }
  if (status == NATS_OK) {
    status = natsOptions_SetTimeout(options, options_.connect_timeout.count());
  }
  if (status == NATS_OK) {
    status = natsOptions_SetMaxReconnect(options, -1);  // libnats: a negative count retries forever
  }
  if (status == NATS_OK) {
    status = natsOptions_SetReconnectWait(options, options_.reconnect_wait.count());
  }
  if (status == NATS_OK) {
    status = natsOptions_SetReconnectBufSize(options, static_cast<int>(options_.reconnect_buffer));
  }
  if (status == NATS_OK) {
    status = natsOptions_SetDisconnectedCB(options, &NatsConnection::on_disconnected, this);
  }
  if (status == NATS_OK) {
    status = natsOptions_SetReconnectedCB(options, &NatsConnection::on_reconnected, this);
  }
  if (status == NATS_OK) {
    status = natsOptions_SetClosedCB(options, &NatsConnection::on_closed, this);
  }
  if (status == NATS_OK) {
    status = natsOptions_SetErrorHandler(options, &NatsConnection::on_error, this);
  }
  if (status != NATS_OK) {
    throw core::UsageError(fmt::format("use NATS server '{}' for {}: {}", options_.url, options_.what,
                                       nats_error_text(status)));
  }
  status = natsConnection_Connect(&connection_, options);
  if (status != NATS_OK) {
    connection_ = nullptr;
    throw core::Error(fmt::format("connect to {} for {}: {}", options_.url, options_.what, nats_error_text(status)));
  }
  io_logger()->info("{}: connected to {}", options_.identity, options_.url);
}

void NatsConnection::close() {
  if (connection_ == nullptr) {
    return;
  }
  closing_.store(true);
  natsConnection_Close(connection_);
  {
    // The closed callback is the connection's last: after it, no callback can reach this object.
    std::unique_lock lock(closed_mutex_);
    closed_signal_.wait_for(lock, std::chrono::seconds(5), [&] { return closed_; });
  }
  natsConnection_Destroy(connection_);
  connection_ = nullptr;
}

void NatsConnection::on_disconnected(natsConnection* /*connection*/, void* self) {
  auto& connection = *static_cast<NatsConnection*>(self);
  if (!connection.closing_.load() && !connection.down_.exchange(true)) {
    io_logger()->warn("{}: lost the connection to {}; reconnecting (NATS core delivers at most once: messages in "
                      "flight may be lost)",
                      connection.options_.identity, connection.options_.url);
  }
}

void NatsConnection::on_reconnected(natsConnection* /*connection*/, void* self) {
  auto& connection = *static_cast<NatsConnection*>(self);
  if (connection.down_.exchange(false)) {
    io_logger()->info("{}: reconnected to {}", connection.options_.identity, connection.options_.url);
  }
}

void NatsConnection::on_closed(natsConnection* /*connection*/, void* self) {
  auto& connection = *static_cast<NatsConnection*>(self);
  {
    std::lock_guard lock(connection.closed_mutex_);
    connection.closed_ = true;
  }
  connection.closed_signal_.notify_all();
}

void NatsConnection::on_error(natsConnection* /*connection*/, natsSubscription* /*subscription*/, natsStatus status,
                              void* self) {
  if (status == NATS_SLOW_CONSUMER) {
    return;  // the source counts and logs its dropped messages itself (natsSubscription_GetDropped)
  }
  auto& connection = *static_cast<NatsConnection*>(self);
  io_logger()->warn("{}: {}", connection.options_.identity, natsStatus_GetText(status));
}

}  // namespace roo::io
