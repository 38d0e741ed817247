#pragma once

#include "peer_authentication.hpp"
#include "wire.hpp"

#include "roo/cluster/cluster.hpp"
#include "roo/core/framed_connection.hpp"
#include "roo/core/listener.hpp"
#include "roo/core/tls_context.hpp"

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace roo::cluster {

namespace asio = boost::asio;
using core::FrameAction;
using core::FramedConnection;
using Strand = core::Strand;
using Socket = core::TcpSocket;
using Timer =
    asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>, Strand>;

/// Every worker's local answer to one external query type, by worker index.
using GatheredAnswers = std::map<std::size_t, std::string>;

/// Resolves a peer's address (IPv4 preferred), on the calling thread: peers are named by IP or /etc/hosts names.
/// In cluster_formation.cpp.
boost::system::error_code resolve_peer(asio::io_context& io, const core::Endpoint& where,
                                       asio::ip::tcp::endpoint& out);

/// The state behind a Cluster handle. Everything below runs on one strand of the worker's io_context (the only
/// exceptions are the thread-safe entry points send(), acknowledge(), budget() and workers_up(), which touch only
/// atomics and ByteBudgets fixed at formation, and post the rest). shared_ptr because Asio handlers and posted
/// work may outlive the handle.
///
/// The implementation is split by concern: cluster_core.cpp (entry points, listeners, peer loss),
/// cluster_formation.cpp (start, membership, data channels, go), cluster_formation_initializer.cpp (hellos,
/// refusals, sending the membership and go), cluster_formation_joining.cpp (reaching the initializer, following
/// it), cluster_data.cpp (data frames, credit,
/// backpressure), cluster_drain.cpp (stop, polls, exit), cluster_external.cpp (the external channel and queries
/// gathered over the control plane), cluster_checkpoint.cpp (checkpoint begin/part/complete, markers).
class ClusterCore : public std::enable_shared_from_this<ClusterCore> {
 public:
  ClusterCore(asio::io_context& io, ClusterConfig config, core::BoundedMailbox<RemoteBatch>& inbound,
              ClusterHooks hooks);

  Membership form();
  std::future<Membership> begin_forming();
  bool send(std::size_t to, std::vector<char>&& bytes);
  core::ByteBudget& budget(std::size_t to);
  void acknowledge(std::size_t from, std::size_t bytes);
  void request_stop();
  void begin_checkpoint(std::uint64_t id);
  void send_marker(std::size_t to, std::uint64_t id);
  void send_watermark(std::size_t to, std::vector<char> bytes);
  void report_checkpoint_part(std::uint64_t id, bool ok, std::string text);
  void announce_checkpoint_complete(std::uint64_t id);
  [[nodiscard]] std::vector<bool> workers_up() const;
  [[nodiscard]] std::vector<PeerShortfall> shortfalls() const;
  /// Closes everything; with `wait`, waits for it as Cluster::stop() says.
  void stop(bool wait);

 private:
  enum class Phase { idle, joining, forming, running, stopping, exited, closed };

  /// What this worker knows about one other worker once the membership is known.
  struct Peer {
    std::shared_ptr<FramedConnection> control;   // initializer: the worker's connection; worker: only [0] is set
    std::shared_ptr<FramedConnection> outbound;  // our data channel to it (we send data, it acks)
    bool outbound_ready = false;                 // ... and it authenticated
    std::shared_ptr<FramedConnection> inbound;   // its data channel to us (it sends data, we ack)
    std::unique_ptr<Timer> connect_timer;
    std::unique_ptr<Socket> connecting;
    std::size_t connect_attempts = 0;
    std::uint64_t outstanding = 0;  // bytes sent and not acknowledged (released at loss)
    std::uint64_t dropped_unlogged = 0;
    bool drop_timer_armed = false;
    std::unique_ptr<Timer> drop_timer;
    std::optional<RemoteBatch> waiting_batch;  // refused by the full inbound mailbox; its channel is paused
    std::shared_ptr<char> room_token;          // see push_inbound()
    std::optional<std::string> lost_cause;     // set when it was lost
    std::uint64_t unprocessed_at_loss = 0;     // outstanding bytes released when it was lost
    bool lost_while_stopping = false;
    bool undrained = false;  // initializer: not drained when the drain timed out
  };

  /// A worker that said hello to the initializer before the cluster formed.
  struct Joiner {
    WorkerInfo info;
    std::shared_ptr<FramedConnection> connection;
  };

  /// Local answers being collected for one external query (on the initializer, or locally before formation).
  struct Gather {
    std::uint16_t type = 0;
    std::set<std::size_t> awaiting;
    GatheredAnswers answers;
    std::function<void(GatheredAnswers)> done;
  };

  // cluster_core.cpp
  [[nodiscard]] std::shared_ptr<core::Listener> make_listener(const std::string& what);
  /// One warning at start when the cluster has no secret and listens beyond this machine.
  void warn_if_exposed() const;
  /// A connection on `kind`'s port ("control", "data", "external"). Untrusted: small frames, and closed unless it
  /// authenticates (or identifies itself) within handshake_timeout.
  [[nodiscard]] std::shared_ptr<FramedConnection> make_connection(std::unique_ptr<core::ByteStream> stream,
                                                                  const char* kind, bool trusted);
  /// An accepted socket as a stream: plain TCP, or (with TLS) once its handshake succeeded within
  /// handshake_timeout; a failed handshake is refused with one warning. Then `next` on the strand.
  using StreamHandler = void (ClusterCore::*)(std::unique_ptr<core::ByteStream>, core::ListenerSlot);
  void accept_secured(Socket socket, core::ListenerSlot slot, const char* kind, StreamHandler next);
  /// A connected socket as a stream; `done(nullptr, why)` when the TLS handshake failed.
  void connect_secured(Socket socket,
                       std::function<void(std::unique_ptr<core::ByteStream>, const std::string& failure)> done);
  void handshake(std::unique_ptr<core::ByteStream> stream,
                 std::function<void(std::unique_ptr<core::ByteStream>, const std::string& failure)> done);
  /// The peer proved who it is: frames up to max_frame_bytes, no timeout, and no longer counted against the
  /// listener's limit for strangers.
  static void trust(FramedConnection& connection, std::uint32_t max_frame = max_frame_bytes);
  void fail_formation(const std::string& message);
  void close_all();
  void on_peer_closed(std::size_t index, const std::string& cause);
  void mark_lost(std::size_t index, const std::string& cause);
  [[nodiscard]] bool is_live(std::size_t index) const;
  [[nodiscard]] const std::string& name_of(std::size_t index) const { return membership_.workers[index].name; }

  // cluster_formation.cpp
  void start_formation();
  void on_control_stream(std::unique_ptr<core::ByteStream> stream, core::ListenerSlot slot);
  FrameAction on_unidentified_control(FramedConnection& connection, const char* body, std::size_t size);
  void on_hello(FramedConnection& connection, const HelloMessage& hello);
  void complete_membership();
  void start_join();
  void connect_initializer();
  void on_initializer_stream(std::unique_ptr<core::ByteStream> stream);
  void on_initializer_connect_failed(const boost::system::error_code& error);
  FrameAction on_initializer_frame(FramedConnection& connection, const char* body, std::size_t size);
  void apply_membership(Membership membership);
  void connect_data(std::size_t index);
  void on_data_connected(std::size_t index);
  void on_data_stream_out(std::size_t index, std::unique_ptr<core::ByteStream> stream);
  void on_outbound_ready(std::size_t index);
  /// Authentication of an accepted control or data connection: trust it once authenticated; a peer that fails is
  /// refused (one warning, an auth-refused that names no application) and closed.
  [[nodiscard]] AuthCallbacks acceptor_auth_callbacks(const char* kind);
  void on_channels_up(std::size_t index);
  void go();
  FrameAction on_worker_control_frame(std::size_t index, FramedConnection& connection, const char* body, std::size_t size);
  [[nodiscard]] std::string join_error(const std::string& reason) const;

  // cluster_data.cpp
  void on_data_stream(std::unique_ptr<core::ByteStream> stream, core::ListenerSlot slot);
  FrameAction on_inbound_frame(const std::shared_ptr<std::size_t>& from, FramedConnection& connection, const char* body,
                               std::size_t size);
  FrameAction on_outbound_frame(std::size_t to, FramedConnection& connection, const char* body, std::size_t size);
  void enqueue_data(std::size_t to, std::vector<char> bytes);
  bool push_inbound(std::size_t from, FramedConnection& connection);
  void count_drop(std::size_t to);
  void log_drops(std::size_t to);

  // cluster_checkpoint.cpp
  /// To every live worker but the initializer, on its control connection.
  void to_workers(std::vector<char> frame);
  /// A checkpoint message from the initializer (worker side); false when it is not one or malformed.
  [[nodiscard]] bool on_checkpoint_frame(MessageType type, core::BigEndianReader& reader);
  /// A worker's checkpoint-part (initializer side); false when malformed.
  [[nodiscard]] bool on_checkpoint_part(std::size_t index, core::BigEndianReader& reader);
  /// A marker on an inbound data channel, into the mailbox in order with the data.
  FrameAction on_marker(std::size_t from, FramedConnection& connection, core::BigEndianReader& reader);
  /// The peer's watermarks, into the mailbox in order with the data.
  FrameAction on_watermark(std::size_t from, FramedConnection& connection, const char* body, std::size_t size);
  /// A lost member's restarted process says hello while this cluster still runs (roll_back_on_loss).
  void on_returning_member(FramedConnection& connection, const std::string& name);

  // cluster_drain.cpp
  void begin_stop();
  void run_on_stop();
  void poll_round();
  void on_poll_reply(std::size_t index, const PollReply& reply);
  void finish_round();
  [[nodiscard]] PollReply local_poll_reply(std::uint64_t round) const;
  void broadcast_exit();
  void run_on_exit();
  void drain_alone();
  void arm_poll_timer();
  void give_up_draining();

  // cluster_external.cpp
  void on_external_stream(std::unique_ptr<core::ByteStream> stream, core::ListenerSlot slot);
  FrameAction on_external_frame(FramedConnection& connection, const char* body, std::size_t size);
  void gather(std::uint16_t type, std::function<void(GatheredAnswers)> done);
  void on_gather_request(std::size_t index, std::uint64_t id, std::uint16_t type);
  void on_local_answer(std::size_t index, std::uint64_t id, std::string json);
  void settle_gathers(std::size_t lost_index);
  [[nodiscard]] std::string local_answer(std::uint16_t type) const;
  [[nodiscard]] std::string status_json(bool roo_details) const;
  [[nodiscard]] std::string worker_name(std::size_t index) const;

  asio::io_context& io_;
  ClusterConfig config_;
  core::BoundedMailbox<RemoteBatch>& inbound_;
  ClusterHooks hooks_;
  Strand strand_;
  std::string initializer_address_;

  std::shared_ptr<core::Listener> control_listener_;
  std::shared_ptr<core::Listener> data_listener_;
  std::shared_ptr<core::Listener> external_listener_;
  core::Endpoint bound_data_;
  core::Endpoint bound_control_;
  std::optional<core::Endpoint> bound_external_;
  std::set<std::shared_ptr<FramedConnection>> unidentified_;  // accepted, not yet known: control, data and external

  std::promise<Membership> formed_promise_;
  bool form_called_ = false;
  bool formed_ = false;
  Phase phase_ = Phase::idle;
  Membership membership_;
  std::vector<Peer> peers_;
  std::unique_ptr<std::atomic<bool>[]> lost_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> sent_bytes_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> processed_bytes_;
  std::vector<std::unique_ptr<core::ByteBudget>> budgets_;
  std::atomic<bool> membership_ready_{false};

  // initializer, while forming
  std::vector<Joiner> joiners_;
  std::set<std::size_t> channels_up_;
  // worker, while joining
  std::shared_ptr<FramedConnection> initializer_connection_;
  std::vector<std::pair<std::size_t, std::shared_ptr<FramedConnection>>>
      early_inbound_;  // data channels that said hello before our membership
  Timer join_timer_;
  Timer retry_timer_;
  std::unique_ptr<Socket> initializer_socket_;
  std::chrono::steady_clock::time_point join_deadline_;
  std::chrono::steady_clock::time_point data_deadline_;  // opening data channels gives up after join_timeout
  std::chrono::milliseconds retry_delay_{100};
  std::chrono::steady_clock::time_point last_reach_warning_{};
  std::chrono::steady_clock::time_point last_rejoin_warning_{};
  bool warned_unreachable_ = false;

  // stop, drain, exit
  bool stop_requested_ = false;
  bool on_stop_called_ = false;
  bool on_exit_called_ = false;
  Timer poll_timer_;
  std::chrono::steady_clock::time_point drain_deadline_{};  // initializer: begin_stop() + drain_timeout
  std::uint64_t poll_round_ = 0;
  std::set<std::size_t> poll_awaiting_;
  std::map<std::size_t, PollReply> poll_replies_;
  std::optional<std::vector<std::uint64_t>> last_quiet_signature_;
  std::size_t drained_alone_rounds_ = 0;
  bool alone_ = false;  // the initializer is lost: this worker drains and exits by itself
  bool before_exit_asked_ = false;  // the initializer: hooks.before_exit was called; exit waits for its proceed

  // gathered queries
  std::uint64_t next_gather_id_ = 1;
  std::map<std::uint64_t, Gather> gathers_;  // being collected here
  struct Asked {
    std::uint16_t type = 0;
    std::function<void(GatheredAnswers)> done;
  };
  std::map<std::uint64_t, Asked> asked_;  // worker: asked the initializer to gather
};

}  // namespace roo::cluster
