#pragma once

#include "roo/core/endpoint.hpp"
#include "roo/io/sink.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace roo::io {

struct ConnectorSinkConfig {
  std::string name;            ///< the sink's name in logs ("results")
  core::Endpoint peer;         ///< the connector sink's host:port
  std::string cookie;          ///< sent in HELLO
  std::string program_name;    ///< HELLO's program name: the application's name
  std::string instance_name;   ///< HELLO's instance name: the worker's name
  std::string stream_name;     ///< "<app>-w-<worker>-id-<sink index>": the output stream's name, and its txn ids'
  bool transactional = false;  ///< checkpoints on: output is committed with them (two-phase commit)
  std::size_t max_buffered_bytes = 16 * 1024 * 1024;  ///< past this the producer waits (backpressure)
  std::size_t max_frame_bytes = 16 * 1024 * 1024;     ///< a longer frame from the sink closes the connection
  std::chrono::milliseconds reconnect_interval{250};  ///< the first retry; it doubles up to max_reconnect_interval
  std::chrono::milliseconds max_reconnect_interval{5000};
  /// A PHASE1 unanswered this long fails the checkpoint. Below the checkpoint's own round timeout (10 s at least), so
  /// the line the user sees names the sink.
  std::chrono::milliseconds prepare_timeout{5000};
};

/// The worker's side of Wallaroo's connector sink protocol (spec §3.3, docs/connectors-sink.md): a client that sends
/// each output record as a stream-1 MESSAGE whose message id is the record's byte offset in the stream's output.
///
/// Without checkpoints: at least once. Records are kept until the peer's kernel acknowledged them (and a margin of
/// max_buffered_bytes / 2 beyond, as the TCP sink does); after a reconnect they are resent from the offset the
/// sink's NOTIFY_ACK names.
///
/// With checkpoints (transactional()): exactly once through the two-phase commit carried in stream-0 MESSAGEs.
/// prepare(n) sends PHASE1 "<stream>:c_id=<n>" for the bytes since the last round and answers with the sink's vote;
/// commit(n) sends PHASE2 commit for every prepared round up to n; a session (every connect) first lists the sink's
/// uncommitted transactions and resolves them (commit up to the last complete checkpoint, abort the rest except
/// rounds this process prepared and still waits to commit), then opens the stream where the sink's voted output
/// ends. Output is kept in memory until committed; a round that fails (an abort vote, no answer within
/// prepare_timeout, a lost connection) is aborted at the sink and its bytes are sent again in the next round.
/// Runs on its own strand of `io`; destroy it before the io_context.
class ConnectorSink : public Sink {};

[[nodiscard]] std::unique_ptr<ConnectorSink> make_connector_sink(boost::asio::io_context& io,
                                                                 ConnectorSinkConfig config);

}  // namespace roo::io
