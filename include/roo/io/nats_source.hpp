#pragma once

#include "roo/core/batch_pool.hpp"
#include "roo/core/bounded_mailbox.hpp"
#include "roo/core/frame_batch.hpp"
#include "roo/io/source.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace roo::io {

struct NatsSourceConfig {
  std::string name;                ///< the app's source name: shown in logs
  std::uint32_t source_index = 0;  ///< stamped on every FrameBatch
  std::string server_url;          ///< "nats://host:port"
  std::string subject;             ///< may hold wildcards ("orders.*", "orders.>")
  std::string queue_group;         ///< empty: a plain subscription (every subscriber gets every message)
  std::size_t batch_bytes = 64 * 1024;  ///< hand a batch over once it holds this many payload bytes
  /// What libnats may hold for the subscription while the executor is behind (its pending limits); past either,
  /// libnats drops messages (a slow consumer), which the source counts and logs.
  int pending_messages = 65536;
  int pending_bytes = 64 << 20;
};

/// A NATS core subscription (libnats). Its own thread takes the messages libnats queued for the subscription, one
/// frame per message in a FrameBatch (the byte-stream path: the decoder gets the message's data), and pushes the
/// batch into `mailbox`. When the mailbox is full the thread stops taking and waits for room; libnats keeps
/// receiving up to the pending limits, then drops messages: those are counted and logged in one line (at most every
/// few seconds, and the total at the stop). Never replayable: NATS core delivers at most once (docs/nats.md).
///
/// start() connects and subscribes (the server knows the subscription when it returns), or throws core::Error
/// "connect to <url> for source '<name>': <cause>". stop() drains the subscription: the server stops
/// sending, and what it sent before is handed over. `mailbox` and `pool` must outlive the Source.
[[nodiscard]] std::unique_ptr<Source> make_nats_source(NatsSourceConfig config,
                                                       core::BoundedMailbox<core::FrameBatch>& mailbox,
                                                       core::BatchPool& pool);

}  // namespace roo::io
