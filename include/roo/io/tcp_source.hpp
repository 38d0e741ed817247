#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "roo/core/batch_pool.hpp"
#include "roo/core/bounded_mailbox.hpp"
#include "roo/core/endpoint.hpp"
#include "roo/core/frame_batch.hpp"
#include "roo/io/length_prefix.hpp"
#include "roo/io/source.hpp"

namespace boost::asio {
class io_context;
}

namespace roo::io {

struct TcpSourceConfig {
  std::string name;                       ///< the app's source name: shown in logs
  core::Endpoint listen;                  ///< from --in name@host:port
  std::uint32_t source_index = 0;         ///< stamped on every FrameBatch this source produces
  LengthPrefix framing;                   ///< from the decoder's header_length / length_fmt
  std::size_t max_size = 16384;           ///< a frame announcing more closes its connection
  std::size_t max_connections = 10;       ///< Wallaroo's `parallelism`: concurrent clients accepted
  std::size_t batch_bytes = 64 * 1024;    ///< hand a batch over once it holds this many payload bytes
  /// A connection with no complete frame yet, or stuck inside one, is closed after this long without completing a
  /// frame (0: never). Connections resting between frames are not affected.
  std::chrono::milliseconds idle_timeout{30000};
};

/// A listening TCP source: many concurrent connections, each read in large chunks and cut into frames
/// in C++. A malformed frame (over max_size) or a truncated one at EOF closes only that connection,
/// with one warning naming the source and the peer.
///
/// Executors: the acceptor and each connection run on their own strands of `io`, so `io` may be run by
/// several threads. Each connection pushes its batch (stamped with source_index) into `mailbox` after every
/// read; when the mailbox is full it keeps the batch and the unread bytes, reads no more, and resumes when the
/// mailbox calls back. `mailbox` and `pool` must outlive the source's activity: destroy the Source (after
/// stop) and then stop the io_context before destroying them. Destroying the Source without stop() still
/// winds it down, without a callback. start() throws core::Error
/// "listen on <host:port> for source '<name>': <cause>".
[[nodiscard]] std::unique_ptr<Source> make_tcp_source(boost::asio::io_context& io, TcpSourceConfig config,
                                                      core::BoundedMailbox<core::FrameBatch>& mailbox,
                                                      core::BatchPool& pool);

}  // namespace roo::io
