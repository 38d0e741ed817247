#pragma once

#include "connector_frames.hpp"
#include "connector_sink_output.hpp"

#include "roo/core/byte_budget.hpp"
#include "roo/io/connector_sink.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace roo::io {

/// The connection, the session and the two-phase commit behind a ConnectorSink, all on one strand (shared_ptr: Asio
/// handlers and posted calls may outlive the handle). Its steps live in three files: connector_sink_session.cpp
/// (connect, HELLO, resolve the sink's uncommitted transactions, NOTIFY, read frames), connector_sink_delivery.cpp
/// (send records, peer acknowledgements, flush, stop) and connector_sink_transactions.cpp (prepare, commit, abort,
/// recover).
class ConnectorSinkCore : public std::enable_shared_from_this<ConnectorSinkCore> {
 public:
  ConnectorSinkCore(boost::asio::io_context& io, ConnectorSinkConfig config);

  // The Sink calls, posted to the strand.
  void start();
  void write(RecordBatch&& batch);
  void flush(std::function<void(std::string)> done);
  void stop(std::function<void()> on_stopped);
  void abandon();
  void prepare(std::uint64_t checkpoint, Sink::Prepared done);
  void commit(std::uint64_t checkpoint, Sink::Done done);
  void abort();
  void recover(std::uint64_t checkpoint, Sink::Done done);
  void hand_off(Sink::Prepared done);

  [[nodiscard]] core::ByteBudget& budget() { return budget_; }
  [[nodiscard]] bool transactional() const { return config_.transactional; }
  [[nodiscard]] std::size_t undelivered_bytes() const;
  [[nodiscard]] std::string undelivered_reason() const;

 private:
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
  using Timer = boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                                  boost::asio::wait_traits<std::chrono::steady_clock>, Strand>;

  /// Where the session stands. Stream-1 data goes out only when `ready`.
  enum class Phase { idle, connecting, awaiting_ok, awaiting_recovery, awaiting_list, awaiting_notify_ack, ready };

  /// A round of the two-phase commit: checkpoint `checkpoint`'s bytes [start, end) of the stream.
  struct Round {
    std::uint64_t checkpoint = 0;
    std::uint64_t start = 0;
    std::uint64_t end = 0;
  };
  /// The prepare waiting for its PHASE1 to be sent, or for the sink's vote.
  struct OpenRound {
    Round round;
    Sink::Prepared done;
    bool phase1_sent = false;
    std::uint64_t phase1_wire_end = 0;    ///< wire_queued_ once PHASE1 was queued: the socket took it at this count
    bool phase1_taken = false;            ///< the socket took PHASE1: the sink's time to vote runs
    std::uint64_t written_at_arming = 0;  ///< written_ever_ when the round's timer was last armed: progress since
    std::uint64_t arming = 0;             ///< how many times it was armed: an older expiry is stale
  };

  // connector_sink_session.cpp
  void connect();
  void on_connect(const boost::system::error_code& error);
  void retry_later();
  void read_head();
  void read_body(std::uint32_t length);
  void on_frame(std::string_view frame);
  void on_two_phase(std::string_view payload);
  void list_uncommitted();
  void on_reply_uncommitted(const connector::ReplyUncommitted& reply);
  void on_notify_ack(const connector::NotifyAck& ack);
  /// The first session: the sink's output ends at `sink_end`, where this process's output begins.
  void place(std::uint64_t sink_end);
  void lose_connection(const std::string& why);
  void close_connection();
  void send(std::string frame);
  void send_two_phase(const connector::TwoPhaseMessage& message);
  void start_vote_clock_once_phase1_taken();
  void write_outbox();

  // connector_sink_delivery.cpp
  void enqueue(const std::shared_ptr<const RecordBatch>& batch);
  void send_records();
  void acknowledge();
  void poll_acknowledgements();
  void finish_flushes();
  void maybe_finish_stop();
  [[nodiscard]] std::uint64_t sendable_end() const;
  [[nodiscard]] std::uint64_t kept_margin() const;

  // connector_sink_transactions.cpp
  void learn_recovery_point();
  /// Ends the session: what is not committed is dropped (abort) or taken (hand_off) by the caller first.
  void roll_back(const std::string& why);
  [[nodiscard]] bool finish_hand_off(std::uint64_t sink_end, bool placed_before);
  void send_phase1_when_ready();
  void arm_round_timer();
  [[nodiscard]] std::string unsent_phase1_reason() const;
  void on_vote(const connector::Phase1Reply& reply);
  void fail_round(const std::string& why);
  void finish_recoveries(const std::string& error);
  [[nodiscard]] std::uint64_t voted_end() const;
  [[nodiscard]] std::vector<std::uint64_t> prepared_checkpoints() const;

  ConnectorSinkConfig config_;
  std::string identity_;  ///< "connector sink 'results' (host:port)": how its log lines start
  Strand strand_;
  boost::asio::basic_stream_socket<boost::asio::ip::tcp, Strand> socket_;
  boost::asio::ip::basic_resolver<boost::asio::ip::tcp, Strand> resolver_;
  Timer retry_timer_;
  Timer acknowledgement_timer_;
  Timer prepare_timer_;
  core::ByteBudget budget_;
  ConnectorSinkOutput output_;

  // The connection.
  Phase phase_ = Phase::idle;
  std::uint64_t generation_ = 0;  ///< bumped per connection change, so stale handlers are ignored
  std::vector<char> head_ = std::vector<char>(4);
  std::vector<char> body_;
  std::deque<std::string> outbox_;      ///< frames to write, in order
  std::vector<std::string> in_flight_;  ///< frames being written
  std::vector<boost::asio::const_buffer> gathered_;
  bool writing_ = false;
  std::uint64_t wire_queued_ = 0;   ///< bytes queued for writing on this connection
  std::uint64_t wire_written_ = 0;  ///< bytes the socket accepted on this connection
  std::uint64_t written_ever_ = 0;  ///< bytes the sockets accepted on every connection: a round's progress
  /// (wire bytes on this connection, stream offset): a MESSAGE batch ends there; acknowledged once the peer has it.
  std::deque<std::pair<std::uint64_t, std::uint64_t>> wire_marks_;
  bool polling_ = false;
  std::chrono::milliseconds next_retry_{0};
  bool outage_reported_ = false;  ///< one line per outage: the first failure says so; the next success too
  std::string last_error_;

  // The stream.
  bool placed_ = false;      ///< the first session's NOTIFY_ACK placed the output's offsets
  std::uint64_t sent_ = 0;   ///< stream offset up to which this session sent MESSAGEs
  std::uint64_t acked_ = 0;  ///< stream offset the peer's kernel acknowledged (at least once)
  std::deque<std::pair<std::uint64_t, std::function<void(std::string)>>> flushes_;  ///< offset to reach

  // The two-phase commit.
  bool recovery_known_ = false;                ///< recover() came, or the stream began without one
  std::uint64_t last_complete_ = 0;            ///< the newest checkpoint known complete
  std::uint64_t committed_ = 0;                ///< stream offset where committed output ends
  std::deque<Round> prepared_;                 ///< voted commit, not committed yet (oldest first)
  std::optional<OpenRound> open_;              ///< the prepare in flight
  std::uint64_t rtag_ = 0;                     ///< of the last LIST_UNCOMMITTED
  std::vector<Sink::Done> recoveries_;         ///< recover() calls answered once the session is ready
  std::function<void(std::string)> handed_off_;  ///< a hand_off() answered once the new session is ready
  std::shared_ptr<const RecordBatch> marker_;  ///< what prepare hands back (see connector_sink_transactions.cpp)

  std::vector<std::function<void()>> on_stopped_;
  bool started_ = false;
  bool stopping_ = false;
  bool closed_ = false;
};

}  // namespace roo::io
