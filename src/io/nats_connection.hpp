#pragma once

#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

namespace roo::io {

/// "<status text>" of a libnats status, with the connection's last error when it says more ("nats: ...").
[[nodiscard]] std::string nats_error_text(natsStatus status, natsConnection* connection = nullptr);

/// One connection to a NATS server for one source or sink (libnats 3.4.1), and what it logs after the start: a lost
/// connection once per outage (warn), the reconnection once (info). libnats reconnects forever on its own threads;
/// subscriptions are renewed and what is published meanwhile waits in its reconnect buffer.
///
/// Threads: connect() and close() on the owner's thread; libnats calls the callbacks on its own threads until close()
/// returns (close() waits for the connection's last callback, so this object may then be destroyed).
class NatsConnection {
 public:
  struct Options {
    std::string url;                          ///< "nats://host:port" (or a comma-separated list)
    std::string identity;                     ///< "nats_source 'x'": what log lines name
    std::string what;                         ///< "source 'x'": what the connect error names
    std::size_t reconnect_buffer = 16 << 20;  ///< bytes published while disconnected that libnats keeps
    std::chrono::milliseconds connect_timeout{2000};
    std::chrono::milliseconds reconnect_wait{250};
  };

  explicit NatsConnection(Options options) : options_(std::move(options)) {}
  ~NatsConnection() { close(); }

  NatsConnection(const NatsConnection&) = delete;
  NatsConnection& operator=(const NatsConnection&) = delete;

  /// Connects once (no retry: a server out of reach at the start is the user's error). Throws core::Error
  /// "connect to <url> for <what>: <cause>" (the CLI prints it as "unable to connect to ...").
  void connect();

  /// Closes (libnats flushes what it buffered, briefly) and waits for the connection's last callback.
  void close();

  [[nodiscard]] natsConnection* get() const { return connection_; }
  [[nodiscard]] const Options& options() const { return options_; }
  /// True while connected (not while reconnecting or once closed). Any thread.
  [[nodiscard]] bool connected() const {
    return connection_ != nullptr && natsConnection_Status(connection_) == NATS_CONN_STATUS_CONNECTED;
  }

 private:
  static void on_disconnected(natsConnection* connection, void* self);
  static void on_reconnected(natsConnection* connection, void* self);
  static void on_closed(natsConnection* connection, void* self);
  static void on_error(natsConnection* connection, natsSubscription* subscription, natsStatus status, void* self);

  Options options_;
  natsConnection* connection_ = nullptr;
  std::atomic<bool> closing_{false};
  std::atomic<bool> down_{false};
  std::mutex closed_mutex_;
  std::condition_variable closed_signal_;
  bool closed_ = false;
};

}  // namespace roo::io
