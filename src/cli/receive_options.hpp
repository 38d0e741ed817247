#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace roo::cli {

/// Everything `roo receive` was asked to do.
struct ReceiveOptions {
  std::string listen;                    ///< --listen: "host:port"; port 0 picks a free port
  bool framed = false;                   ///< --framed: read `u32 BE len | payload` frames, print payload + "\n"
  bool no_write = false;                 ///< --no-write: count only, print nothing
  std::size_t buffer_size = 256 * 1024;  ///< --buffer-size: bytes per read
  std::uint64_t expect = 0;              ///< --expect: exit 0 after this many messages (0 with has_expect = at once)
  bool has_expect = false;
  bool stats = false;  ///< --stats: print the received count, bytes, duration and rate to stderr at exit
};

/// Runs `roo receive` until --expect is met or SIGTERM/SIGINT arrives. Throws core::Error / core::UsageError.
void run_receive(const ReceiveOptions& options);

}  // namespace roo::cli
