#pragma once

#include "roo/io/sink.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace roo::io {

struct NatsSinkConfig {
  std::string name;        ///< the app's sink name: shown in logs
  std::string server_url;  ///< "nats://host:port"
  std::string subject;     ///< every output is published here
  std::size_t max_buffered_bytes = 16 << 20;  ///< budget(): past this the executor waits
  std::size_t reconnect_buffer = 16 << 20;    ///< what libnats keeps while reconnecting
};

/// A NATS core publisher (libnats) taking records: each output is one message on the subject. Its own thread
/// publishes what write() queued and then flushes (a PING/PONG round trip): bytes stay in budget() until a flush
/// after their publish succeeded, so a slow or absent server slows the executor down instead of growing memory.
/// While libnats reconnects, published messages wait in its reconnect buffer; when that is full the thread waits
/// (the budget fills, the executor waits). What could not be published (a message over the server's max_payload, or
/// everything left when the stop's wait ends) is counted in undelivered_bytes() with the reason. NATS core has no
/// acknowledgements: messages in flight to a server that goes away are lost without being counted (docs/nats.md).
///
/// start() connects, or throws core::Error "connect to <url> for sink '<name>': <cause>".
[[nodiscard]] std::unique_ptr<Sink> make_nats_sink(NatsSinkConfig config);

}  // namespace roo::io
