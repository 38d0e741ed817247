#pragma once

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
};

/// A listening TCP source: many concurrent connections, each read in large chunks and cut into frames
/// in C++. A malformed frame (over max_size) or a truncated one at EOF closes only that connection,
/// with one warning naming the source and the peer.
[[nodiscard]] std::unique_ptr<Source> make_tcp_source(boost::asio::io_context& io, TcpSourceConfig config,
                                                      core::BoundedMailbox<core::FrameBatch>& mailbox,
                                                      core::BatchPool& pool);

}  // namespace roo::io
