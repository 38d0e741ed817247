#pragma once

#include "connector_frames.hpp"
#include "connector_streams.hpp"

#include "roo/core/batch_pool.hpp"
#include "roo/core/bounded_mailbox.hpp"
#include "roo/core/frame_batch.hpp"
#include "roo/core/framed_connection.hpp"
#include "roo/core/listener.hpp"
#include "roo/io/connector_source.hpp"

#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace roo::io {

namespace asio = boost::asio;

/// One connector's session with a connector source (spec §3.3), on its own strand: HELLO (version and cookie
/// checked), then NOTIFY/MESSAGE/EOS_MESSAGE. Kept MESSAGEs go into a FrameBatch handed to the mailbox after each
/// read (or once it holds batch_bytes); a full mailbox pauses the reading and the credits until the mailbox calls
/// back. Bad input gets an ERROR frame naming it, one warning, and the connection is closed.
/// Lifecycle: construct → start() → (the peer leaves, bad input, or stop()) → hands its batch over → frees its
/// streams → on_finished on its strand, once.
class ConnectorSourceConnection : public std::enable_shared_from_this<ConnectorSourceConnection> {
 public:
  /// `number`: the connection's owner id in `streams` (unique within the source, never 0).
  ConnectorSourceConnection(core::TcpSocket socket, core::ListenerSlot slot, std::uint64_t number,
                            std::shared_ptr<const ConnectorSourceConfig> config,
                            std::shared_ptr<ConnectorStreams> streams, core::BoundedMailbox<core::FrameBatch>& mailbox,
                            core::BatchPool& pool, std::function<void(ConnectorSourceConnection*)> on_finished);

  /// Begins reading. Any thread.
  void start();
  /// Sends RESTART (reconnect to the same address), hands over what was read, closes. Any thread; idempotent.
  /// Sends RESTART (with `address`, where the connector reconnects; empty: here again) and closes.
  void stop(std::string address = {});
  /// Sends one ACK with `acks` (and tops the credits up when it may). Any thread.
  void send_acks(std::vector<connector::StreamAck> acks);

 private:
  enum class HandOver { done, wait_for_room };

  core::FrameAction on_frame(const char* body, std::size_t size);
  core::FrameAction on_hello(const connector::Frame& frame);
  core::FrameAction on_notify(const connector::Notify& notify);
  void on_claim_answer(const connector::Notify& notify, const core::StreamClaim& claim);
  void accept_stream(const connector::Notify& notify, const ConnectorStreams::Opening& opening);
  void refuse_stream(const connector::Notify& notify, const std::string& why);
  /// On a cluster: `mark.stream` is free here, so the other workers may have it.
  void release_in_cluster(const core::StreamMark& mark);
  core::FrameAction on_message(const connector::Message& message);
  core::FrameAction on_end_of_stream(const connector::EndOfStream& eos);
  core::FrameAction refuse(const std::string& what, const std::string& answer);
  void linger();
  void on_closed();
  void schedule_flush();
  HandOver flush();
  void on_room();
  void top_up_credits(std::vector<connector::StreamAck> acks, bool always);
  void write(const std::string& frame);
  void finish();
  [[nodiscard]] std::string who() const;

  core::Strand strand_;
  std::shared_ptr<core::FramedConnection> connection_;
  std::uint64_t number_;
  std::shared_ptr<const ConnectorSourceConfig> config_;
  std::shared_ptr<ConnectorStreams> streams_;
  core::BoundedMailbox<core::FrameBatch>& mailbox_;
  core::BatchPool& pool_;
  std::function<void(ConnectorSourceConnection*)> on_finished_;
  asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>, core::Strand>
      stop_timer_;
  std::string peer_;
  std::string program_;  ///< the HELLO's program/instance: named in log lines
  core::FrameBatch batch_;
  /// The open streams' last taken message ids (ConnectorStreams::none: none yet): the per-message check.
  std::unordered_map<std::uint64_t, std::uint64_t> open_streams_;
  // See TcpSourceConnection: proves whether a refused push left its room callback with the mailbox.
  std::shared_ptr<char> room_token_;
  std::int64_t credits_ = 0;
  std::uint64_t skipped_ = 0;  ///< MESSAGEs whose id was not above the stream's last one
  bool said_hello_ = false;
  bool flush_posted_ = false;
  bool waiting_for_room_ = false;
  bool claiming_ = false;              ///< a NOTIFY waits for the cluster's answer: reading is paused
  std::uint64_t claiming_stream_ = 0;  ///< while claiming_: its stream (the answer frees it if the connection left)
  bool input_done_ = false;            ///< the peer left, bad input, or stop(): read no more
  bool stopping_ = false;
  bool discarding_ = false;   ///< after RESTART or ERROR: frames are dropped until the connector closes (linger)
  bool peer_gone_ = false;    ///< the connection ended: finish once the batch is handed over
  bool linger_over_ = false;  ///< linger_patience passed: finish once the batch is handed over
  bool finished_ = false;
};

}  // namespace roo::io
