#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace roo::cli {

/// Everything `roo send` was asked to do, after flag parsing and validation.
struct SendOptions {
  std::vector<std::string> hosts;       ///< --host: one or more "host:port"; messages go round-robin
  std::uint64_t messages = 0;           ///< --messages: 0 = the whole input once (forever with --repeat)
  std::vector<std::string> files;       ///< --file: read in this order; empty = generated values
  std::uint64_t batch_size = 500;       ///< --batch-size: messages per write
  std::uint64_t interval_ns = 5000000;  ///< --interval: pause between batches; 0 = none
  bool repeat = false;                  ///< --repeat: loop over the files
  bool binary = false;                  ///< --binary: the files hold binary records
  std::uint64_t msg_size = 0;           ///< --msg-size: fixed-size records (header included), sent verbatim
  bool variable_size = false;           ///< --variable-size: `u32 BE len | payload` records, re-framed
  bool u64 = false;                     ///< --u64: generate `u32 | u64 BE value | partition` records
  std::uint64_t start_from = 0;         ///< --start-from: generated values start at start_from + 1
  std::string partition;                ///< --partition: bytes appended to each --u64 value
  bool no_write = false;                ///< --no-write: do not write sent.txt
  double connect_timeout_s = 10;        ///< --connect-timeout: keep retrying refused connections this long
  bool report_start = false;            ///< --report-start: print the CLOCK_MONOTONIC time of the first write
};

/// Runs `roo send`. Throws core::UsageError for a bad flag combination, core::Error for run-time failures.
void run_send(const SendOptions& options);

}  // namespace roo::cli
