#pragma once

#include <functional>

#include "roo/core/endpoint.hpp"

namespace roo::io {

/// Something that feeds events into the worker: it fills core::FrameBatch buffers and pushes them into
/// the Python executor's mailbox; when the mailbox is full it stops reading until told there is room.
/// Lifecycle: construct (no I/O) → start() → stop(on_stopped). Runs on the worker's io_context.
class Source {
 public:
  virtual ~Source() = default;

  /// Binds and listens (or connects). Throws core::Error with the source name and address on failure.
  virtual void start() = 0;

  /// Stops accepting and reading, hands over every frame already read, then calls `on_stopped` on the
  /// io_context's thread. Thread-safe and idempotent (later calls only add callbacks).
  virtual void stop(std::function<void()> on_stopped) = 0;

  /// The address actually bound (useful with port 0).
  [[nodiscard]] virtual core::Endpoint local_endpoint() const = 0;
};

}  // namespace roo::io
