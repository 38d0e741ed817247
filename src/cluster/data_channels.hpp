#pragma once

#include "cluster_lifecycle.hpp"
#include "connection_factory.hpp"
#include "member_table.hpp"
#include "owned_by_core.hpp"

#include "roo/cluster/cluster.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace roo::cluster {

/// The data channels once they are open (Formation opens the outbound ones): batches out with gathered writes and
/// credit (acks release the peer's budget), batches in to the inbound mailbox with backpressure (a full mailbox
/// pauses the channel until it has room), acks back, drops counted for lost workers, and the checkpoint markers
/// and watermarks that must travel in order with the data.
///
/// Threads: everything on the core's strand; only the mailbox's room callback runs on the consumer's thread, and
/// it only posts back. Owns each peer's waiting batch and drop counter, and the data channels that said hello
/// before the membership was known. Reads and writes the MemberTable's data connections and budgets; a closed
/// inbound channel is reported through `peer_closed` (ClusterCore's loss wiring).
class DataChannels : public OwnedByCore<DataChannels> {
 public:
  using PeerClosed = std::function<void(std::size_t index, const std::string& cause)>;

  DataChannels(Strand& strand, const ClusterConfig& config, const Lifecycle& lifecycle, MemberTable& members,
               ConnectionFactory& connections, core::BoundedMailbox<core::PeerInput>& inbound, PeerClosed peer_closed)
      : strand_(strand),
        config_(config),
        lifecycle_(lifecycle),
        members_(members),
        connections_(connections),
        inbound_(inbound),
        peer_closed_(std::move(peer_closed)) {}

  /// A connection accepted on the data port: a peer's inbound channel once it said data-hello.
  void on_stream(std::unique_ptr<core::ByteStream> stream, core::ListenerSlot slot);
  /// The membership is known: per-peer state, and the channels that said hello early are checked and trusted.
  void on_membership();
  /// A worker joined (growing): its per-peer state. (It opens its channels only once every worker knows it.)
  void on_members_added();
  /// A frame on our outbound channel to `to`: only acks come back.
  FrameAction on_outbound_frame(std::size_t to, FramedConnection& connection, const char* body, std::size_t size);
  /// A batch for `to` (already charged to its budget by Cluster::send()), or (`type` key_groups) key groups' state.
  void enqueue(std::size_t to, std::vector<char> bytes, MessageType type = MessageType::data);
  /// A batch for a lost worker was dropped: counted, and logged at most every 5 s.
  void count_drop(std::size_t to);
  /// The runtime processed `bytes` from `from`: an ack back on its inbound channel.
  void acknowledge(std::size_t from, std::size_t bytes);
  /// A checkpoint marker to `to`, after every batch enqueued before it.
  void send_marker(std::size_t to, std::uint64_t id);
  /// Watermarks to `to`, after every batch enqueued before them.
  void send_watermark(std::size_t to, const std::vector<char>& bytes);
  /// `index` was lost: its waiting input goes.
  void discard_waiting(std::size_t index) { peers_[index].waiting_input.reset(); }
  void close();

 private:
  struct PeerState {
    std::optional<core::PeerInput> waiting_input;  // refused by the full inbound mailbox; its channel is paused
    std::shared_ptr<char> room_token;              // see push_inbound()
    std::uint64_t dropped_unlogged = 0;
    bool drop_timer_armed = false;
    std::unique_ptr<Timer> drop_timer;
  };

  FrameAction on_inbound_frame(const std::shared_ptr<std::size_t>& from, FramedConnection& connection, const char* body,
                               std::size_t size);
  bool push_inbound(std::size_t from, FramedConnection& connection);
  /// A marker on an inbound data channel, into the mailbox in order with the data.
  FrameAction on_marker(std::size_t from, FramedConnection& connection, core::BigEndianReader& reader);
  /// The peer's watermarks, into the mailbox in order with the data.
  FrameAction on_watermark(std::size_t from, FramedConnection& connection, const char* body, std::size_t size);
  void log_drops(std::size_t to);

  Strand& strand_;
  const ClusterConfig& config_;
  const Lifecycle& lifecycle_;
  MemberTable& members_;
  ConnectionFactory& connections_;
  core::BoundedMailbox<core::PeerInput>& inbound_;
  PeerClosed peer_closed_;
  std::vector<PeerState> peers_;
  std::vector<std::pair<std::size_t, std::shared_ptr<FramedConnection>>>
      early_inbound_;  // data channels that said hello before our membership
};

}  // namespace roo::cluster
