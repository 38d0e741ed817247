// `roo send`: the load generator. Frames are prebuilt (files) or generated straight into per-host write
// buffers, one batch per write; nothing on the per-message path allocates, locks or formats with printf.
#include "send_connection.hpp"
#include "send_errno.hpp"
#include "send_input.hpp"
#include "send_log.hpp"
#include "send_options.hpp"
#include "send_progress.hpp"

#include "roo/core/endpoint.hpp"
#include "roo/core/error.hpp"

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <limits>
#include <optional>
#include <signal.h>
#include <type_traits>

namespace roo::cli {

namespace {

std::atomic<bool> stop_requested{false};

extern "C" void on_stop_signal(int signal_number) {
  if (stop_requested.exchange(true)) {
    // A second Ctrl-C while a write is blocked: give up at once.
    ::signal(signal_number, SIG_DFL);
    ::raise(signal_number);
  }
}

void install_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: a blocked write or sleep returns so the loop can stop
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

std::uint64_t wallclock_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(now.tv_nsec);
}

std::uint64_t monotonic_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(now.tv_nsec);
}

void sleep_until_ns(std::uint64_t deadline) {
  timespec at{static_cast<time_t>(deadline / 1000000000ull), static_cast<long>(deadline % 1000000000ull)};
  ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nullptr);  // EINTR: the loop checks stop_requested
}

constexpr std::uint64_t unbounded = std::numeric_limits<std::uint64_t>::max();

std::string progress_text(std::uint64_t sent, std::uint64_t total) {
  return total == unbounded ? std::to_string(sent) + " messages"
                            : std::to_string(sent) + " of " + std::to_string(total) + " messages";
}

struct SendTotals {
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
};

template <class Source>
SendTotals send_all(const Source& source, std::uint64_t total, std::vector<SendConnection>& connections, SentLog* log,
                    const SendOptions& options) {
  const std::size_t hosts = connections.size();
  const std::uint64_t pass = source.pass_length();
  std::vector<SendBuffer> outs(hosts);
  SendProgress progress(total == unbounded ? 0 : total);
  SendTotals totals;
  std::uint64_t next_batch_ns = monotonic_ns();

  auto fail = [&](std::size_t host, int error) {
    progress.finish();
    if (log != nullptr) {
      log->flush();
    }
    throw core::Error("send to " + connections[host].name() + ": " + errno_text(error) + " (after " +
                      progress_text(totals.messages, total) + ")");
  };

  while (totals.messages < total && !stop_requested.load(std::memory_order_relaxed)) {
    const std::uint64_t first = totals.messages;
    const std::uint64_t count = std::min<std::uint64_t>(options.batch_size, total - first);
    if (log != nullptr) {
      log->start_batch(wallclock_ns());
    }
    bool written = false;
    if constexpr (std::is_same_v<Source, FileMessages>) {
      // One host and a batch that does not wrap: write straight from the prebuilt frames.
      std::uint64_t at = first % pass;
      if (hosts == 1 && at + count <= pass) {
        std::uint64_t begin = source.offset(at);
        std::uint64_t end = source.offset(at + count);
        if (int error = connections[0].write_all(source.wire() + begin, end - begin); error != 0) {
          fail(0, error);
        }
        totals.bytes += end - begin;
        written = true;
      }
    }
    if (!written) {
      for (SendBuffer& out : outs) {
        out.clear();
      }
      if (hosts == 1) {
        for (std::uint64_t i = first; i < first + count; ++i) {
          source.append_frame(i, outs[0]);
        }
      } else {
        for (std::uint64_t i = first; i < first + count; ++i) {
          source.append_frame(i, outs[i % hosts]);
        }
      }
      for (std::size_t host = 0; host < hosts; ++host) {
        if (int error = connections[host].write_all(outs[host].data(), outs[host].size()); error != 0) {
          fail(host, error);
        }
        totals.bytes += outs[host].size();
      }
    }
    if (log != nullptr) {
      for (std::uint64_t i = first; i < first + count; ++i) {
        log->begin_line();
        source.append_log_payload(i, log->line_buffer());
        log->end_line();
      }
    }
    totals.messages += count;
    progress.update(totals.messages);
    if (options.interval_ns != 0 && totals.messages < total) {
      next_batch_ns += options.interval_ns;
      std::uint64_t now = monotonic_ns();
      if (next_batch_ns > now) {
        sleep_until_ns(next_batch_ns);
      } else {
        next_batch_ns = now;  // behind schedule: go on without bursting to catch up
      }
    }
  }
  progress.finish();
  return totals;
}

/// How many messages this run sends: --messages, else one pass over the files, else no end.
std::uint64_t messages_to_send(const SendOptions& options, std::uint64_t pass) {
  if (options.messages != 0) {
    return pass != 0 && !options.repeat ? std::min(options.messages, pass) : options.messages;
  }
  return pass != 0 && !options.repeat ? pass : unbounded;
}

}  // namespace

void run_send(const SendOptions& options) {
  std::vector<core::Endpoint> peers;
  for (const std::string& host : options.hosts) {
    peers.push_back(core::parse_endpoint(host, "--host"));
  }
  std::optional<FileMessages> file_messages;
  if (!options.files.empty()) {
    file_messages = FileMessages::load(options);
  }
  install_signal_handlers();
  std::optional<SentLog> log;
  if (!options.no_write) {
    log.emplace("sent.txt");
  }

  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                         std::chrono::duration<double>(options.connect_timeout_s));
  std::vector<SendConnection> connections;
  for (const core::Endpoint& peer : peers) {
    connections.push_back(SendConnection::connect(peer, deadline, options.connect_timeout_s, stop_requested));
  }

  SentLog* log_ptr = log ? &*log : nullptr;
  double start_s = monotonic_seconds();
  if (options.report_start) {
    std::fprintf(stderr, "started at %.6f\n", start_s);
    std::fflush(stderr);
  }
  SendTotals totals;
  std::uint64_t total = 0;
  if (file_messages) {
    total = messages_to_send(options, file_messages->pass_length());
    totals = send_all(*file_messages, total, connections, log_ptr, options);
  } else if (options.u64) {
    total = messages_to_send(options, 0);
    totals = send_all(CounterMessages(options.start_from, options.partition), total, connections, log_ptr, options);
  } else {
    total = messages_to_send(options, 0);
    totals = send_all(IntegerMessages(options.start_from), total, connections, log_ptr, options);
  }
  for (SendConnection& connection : connections) {
    connection.close();
  }
  double elapsed_s = monotonic_seconds() - start_s;
  if (log) {
    log->flush();
  }
  std::fprintf(stderr, "sent %" PRIu64 " messages (%" PRIu64 " bytes) in %.3f s\n", totals.messages, totals.bytes,
               elapsed_s);
  std::fflush(stderr);
  if (totals.messages < total && total != unbounded) {
    throw core::Error("send " + std::to_string(total) + " messages: interrupted after " +
                      std::to_string(totals.messages));
  }
}

}  // namespace roo::cli
