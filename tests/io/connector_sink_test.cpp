#include "roo/io/connector_sink.hpp"

#include "connector_frames.hpp"
#include "io_test_support.hpp"

#include "roo/core/big_endian.hpp"

#include <gtest/gtest.h>

#include <future>
#include <optional>
#include <string>
#include <thread>

namespace roo::io {
namespace {

using namespace std::chrono_literals;
using test::Listener;

/// The sink's peer, played by the test over a real socket: reads whole frames, sends frames.
class Peer {
 public:
  explicit Peer(boost::asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}

  connector::Frame read() {
    std::string head = test::read_exactly(socket_, 4);
    body_ = test::read_exactly(socket_, core::load_u32_be(head.data()));
    return connector::decode_frame(body_);
  }
  connector::TwoPhaseMessage read_two_phase() {
    auto message = std::get<connector::Message>(read());
    EXPECT_EQ(message.stream_id, 0U);
    return connector::decode_two_phase(message.payload);
  }
  connector::Message read_message() {
    auto message = std::get<connector::Message>(read());
    payload_ = std::string(message.payload);  // the frame's bytes are reused by the next read
    message.payload = payload_;
    return message;
  }
  void send(const std::string& frame) { boost::asio::write(socket_, boost::asio::buffer(frame)); }
  void send_two_phase(const connector::TwoPhaseMessage& message) {
    send(connector::encode_message({.stream_id = 0,
                                    .message_id = 0,
                                    .event_time = 0,
                                    .key = {},
                                    .payload = connector::encode_two_phase(message)}));
  }

 private:
  boost::asio::ip::tcp::socket socket_;
  std::string body_;
  std::string payload_;
};

RecordBatch records_of(std::initializer_list<std::string> records) {
  RecordBatch batch;
  for (const auto& record : records) {
    batch.values.insert(batch.values.end(), record.begin(), record.end());
    batch.records.push_back(RecordBatch::Record{.value_end = static_cast<std::uint32_t>(batch.values.size())});
  }
  return batch;
}

ConnectorSinkConfig config_for(std::uint16_t port, bool transactional) {
  return ConnectorSinkConfig{.name = "results",
                             .peer = core::Endpoint{"127.0.0.1", port},
                             .cookie = "ck",
                             .program_name = "App",
                             .instance_name = "w1",
                             .stream_name = "App-w-w1-id-0",
                             .transactional = transactional,
                             .reconnect_interval = 20ms};
}

TEST(ConnectorSink, WithoutCheckpointsRecordsAreMessagesAtTheirOffsetsFromTheSinksEnd) {
  test::IoThread io;
  Listener listener;
  auto sink = make_connector_sink(io.io(), config_for(listener.port(), false));
  EXPECT_FALSE(sink->transactional());
  EXPECT_TRUE(sink->takes_records());
  sink->start();
  Peer peer(listener.accept());
  EXPECT_EQ(peer.read(), connector::Frame(connector::Hello{"v0.0.1", "ck", "App", "w1"}));
  peer.send(connector::encode_ok({.initial_credits = 10}));
  EXPECT_EQ(peer.read(), connector::Frame(connector::Notify{1, "App-w-w1-id-0", 0}));
  peer.send(connector::encode_notify_ack({.success = true, .stream_id = 1, .point_of_ref = 40}));
  sink->write(records_of({"ab", "cde"}));
  auto first = peer.read_message();
  EXPECT_EQ(first.stream_id, 1U);
  EXPECT_EQ(first.message_id, 40U);
  EXPECT_EQ(first.payload, "ab");
  EXPECT_TRUE(first.key.empty());
  auto second = peer.read_message();
  EXPECT_EQ(second.message_id, 42U);
  EXPECT_EQ(second.payload, "cde");
  std::promise<std::string> flushed;
  sink->flush([&](std::string error) { flushed.set_value(std::move(error)); });
  auto answer = flushed.get_future();
  ASSERT_EQ(answer.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(answer.get(), "");
}

TEST(ConnectorSink, TheTwoPhaseCommitResolvesVotesAndCommits) {
  test::IoThread io;
  Listener listener;
  auto sink = make_connector_sink(io.io(), config_for(listener.port(), true));
  EXPECT_TRUE(sink->transactional());
  sink->start();
  std::promise<std::string> recovered;
  sink->recover(4, {}, {}, [&](std::string error) { recovered.set_value(std::move(error)); });
  Peer peer(listener.accept());
  EXPECT_EQ(peer.read(), connector::Frame(connector::Hello{"v0.0.1", "ck", "App", "w1"}));
  peer.send(connector::encode_ok({.initial_credits = 10}));
  auto list = std::get<connector::ListUncommitted>(peer.read_two_phase());
  peer.send_two_phase(connector::ReplyUncommitted{
      .rtag = list.rtag, .txn_ids = {"App-w-w1-id-0:c_id=5", "App-w-w1-id-0:c_id=4", "App-w-w2-id-0:c_id=9"}});
  EXPECT_EQ(peer.read_two_phase(), connector::TwoPhaseMessage(connector::Phase2{"App-w-w1-id-0:c_id=4", true}));
  EXPECT_EQ(peer.read_two_phase(), connector::TwoPhaseMessage(connector::Phase2{"App-w-w1-id-0:c_id=5", false}));
  EXPECT_EQ(peer.read(), connector::Frame(connector::Notify{1, "App-w-w1-id-0", 0}));
  peer.send(connector::encode_notify_ack({.success = true, .stream_id = 1, .point_of_ref = 100}));
  auto answer = recovered.get_future();
  ASSERT_EQ(answer.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(answer.get(), "");

  // Checkpoint 5: the sink votes abort; the round's bytes go again before checkpoint 6's PHASE1.
  sink->write(records_of({"one\n"}));
  EXPECT_EQ(peer.read_message().message_id, 100U);
  std::promise<std::string> prepared5;
  sink->prepare(5, [&](std::string error, Sink::CheckpointOutput) { prepared5.set_value(std::move(error)); });
  EXPECT_EQ(peer.read_two_phase(),
            connector::TwoPhaseMessage(connector::Phase1{"App-w-w1-id-0:c_id=5", {{1, 100, 104}}}));
  sink->write(records_of({"two\n"}));  // after the cut: waits for the vote
  peer.send_two_phase(connector::Phase1Reply{"App-w-w1-id-0:c_id=5", false});
  auto vote5 = prepared5.get_future();
  ASSERT_EQ(vote5.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(vote5.get(), "connector sink 'results' (127.0.0.1:" + std::to_string(listener.port()) +
                             "): the sink voted to abort the output of checkpoint 5 (bytes 100 to 104)");
  EXPECT_EQ(peer.read_two_phase(), connector::TwoPhaseMessage(connector::Phase2{"App-w-w1-id-0:c_id=5", false}));
  EXPECT_EQ(peer.read_message().message_id, 100U);
  EXPECT_EQ(peer.read_message().message_id, 104U);

  std::promise<std::pair<std::string, std::size_t>> prepared6;
  sink->prepare(6, [&](std::string error, Sink::CheckpointOutput output) {
    prepared6.set_value({std::move(error), output.records.size()});
  });
  EXPECT_EQ(peer.read_two_phase(),
            connector::TwoPhaseMessage(connector::Phase1{"App-w-w1-id-0:c_id=6", {{1, 100, 108}}}));
  peer.send_two_phase(connector::Phase1Reply{"App-w-w1-id-0:c_id=6", true});
  auto vote6 = prepared6.get_future();
  ASSERT_EQ(vote6.wait_for(5s), std::future_status::ready);
  // One empty batch: the checkpoint records that this sink took part (the bytes stay at the sink).
  EXPECT_EQ(vote6.get(), (std::pair<std::string, std::size_t>{"", 1}));
  EXPECT_EQ(sink->undelivered_bytes(), 8U);
  std::promise<std::string> committed;
  sink->commit(6, [&](std::string error) { committed.set_value(std::move(error)); });
  EXPECT_EQ(peer.read_two_phase(), connector::TwoPhaseMessage(connector::Phase2{"App-w-w1-id-0:c_id=6", true}));
  EXPECT_EQ(committed.get_future().get(), "");
  EXPECT_TRUE(test::wait_until([&] { return sink->budget().in_flight() == 0; }));
}

TEST(ConnectorSink, APhase1WithoutAVoteFailsTheCheckpointAndANewSessionAbortsIt) {
  test::IoThread io;
  Listener listener;
  auto config = config_for(listener.port(), true);
  config.prepare_timeout = 200ms;
  auto sink = make_connector_sink(io.io(), config);
  sink->start();
  Peer peer(listener.accept());
  (void)peer.read();
  peer.send(connector::encode_ok({.initial_credits = 10}));
  sink->write(records_of({"x"}));  // no recover() came: no checkpoint was restored
  auto list = std::get<connector::ListUncommitted>(peer.read_two_phase());
  peer.send_two_phase(connector::ReplyUncommitted{.rtag = list.rtag, .txn_ids = {"App-w-w1-id-0:c_id=1"}});
  EXPECT_EQ(peer.read_two_phase(), connector::TwoPhaseMessage(connector::Phase2{"App-w-w1-id-0:c_id=1", false}));
  (void)peer.read();  // NOTIFY
  peer.send(connector::encode_notify_ack({.success = true, .stream_id = 1, .point_of_ref = 0}));
  EXPECT_EQ(peer.read_message().message_id, 0U);
  std::promise<std::string> prepared;
  sink->prepare(1, [&](std::string error, Sink::CheckpointOutput) { prepared.set_value(std::move(error)); });
  (void)peer.read_two_phase();  // PHASE1, never answered
  auto vote = prepared.get_future();
  ASSERT_EQ(vote.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(vote.get(), "connector sink 'results' (127.0.0.1:" + std::to_string(listener.port()) +
                            "): no vote on checkpoint 1 within 200 ms");
  Peer again(listener.accept());
  (void)again.read();
  again.send(connector::encode_ok({.initial_credits = 10}));
  auto relist = std::get<connector::ListUncommitted>(again.read_two_phase());
  again.send_two_phase(connector::ReplyUncommitted{.rtag = relist.rtag, .txn_ids = {"App-w-w1-id-0:c_id=1"}});
  EXPECT_EQ(again.read_two_phase(), connector::TwoPhaseMessage(connector::Phase2{"App-w-w1-id-0:c_id=1", false}));
}

/// A session up to the point where records flow: HELLO, OK, no uncommitted rounds, NOTIFY_ACK (at byte 0, or
/// `sink_end`).
Peer open_session(Listener& listener) {
  Peer peer(listener.accept());
  (void)peer.read();
  peer.send(connector::encode_ok({.initial_credits = 10}));
  return peer;
}
void finish_handshake_at(Peer& peer, std::uint64_t sink_end) {
  auto list = std::get<connector::ListUncommitted>(peer.read_two_phase());
  peer.send_two_phase(connector::ReplyUncommitted{.rtag = list.rtag, .txn_ids = {}});
  (void)peer.read();  // NOTIFY
  peer.send(connector::encode_notify_ack({.success = true, .stream_id = 1, .point_of_ref = sink_end}));
}
void finish_handshake(Peer& peer) { finish_handshake_at(peer, 0); }

/// The bytes of each of `batches` (its records back to back).
std::vector<std::string> values_of(const Sink::SharedBatches& batches) {
  std::vector<std::string> values;
  for (const auto& batch : batches) {
    values.emplace_back(batch->values.begin(), batch->values.end());
  }
  return values;
}

/// Prepares checkpoint `checkpoint` on `sink` and answers its PHASE1 as `peer` with a commit vote.
void prepare_voted(Sink& sink, Peer& peer, std::uint64_t checkpoint, std::uint64_t start, std::uint64_t end) {
  std::promise<std::string> prepared;
  sink.prepare(checkpoint, [&](std::string error, Sink::CheckpointOutput) { prepared.set_value(std::move(error)); });
  std::string txn = "App-w-w1-id-0:c_id=" + std::to_string(checkpoint);
  EXPECT_EQ(peer.read_two_phase(), connector::TwoPhaseMessage(connector::Phase1{txn, {{1, start, end}}}));
  peer.send_two_phase(connector::Phase1Reply{txn, true});
  auto vote = prepared.get_future();
  ASSERT_EQ(vote.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(vote.get(), "");
}

/// A transactional sink recovered to checkpoint 4, its session open (nothing uncommitted at the sink, the stream at
/// byte 0), and one record "a\n" sent at byte 0. `sink` and `peer` are the test's to use.
struct SessionWithOneRecord {
  SessionWithOneRecord() {
    finish_handshake(peer);
    sink->write(records_of({"a\n"}));
    EXPECT_EQ(peer.read_message().message_id, 0U);
  }
  static std::unique_ptr<ConnectorSink> started(test::IoThread& io, Listener& listener) {
    auto sink = make_connector_sink(io.io(), config_for(listener.port(), true));
    sink->start();
    sink->recover(4, {}, {}, [](std::string) {});
    return sink;
  }

  test::IoThread io;
  Listener listener;
  std::unique_ptr<ConnectorSink> sink = started(io, listener);
  Peer peer = open_session(listener);
};

// A leaving worker's output that no complete checkpoint holds goes to a worker that stays; the sink must keep none of
// it (or both streams could commit it), so the records come back only once a new session resolved the stream.
TEST(ConnectorSink, HandOffGivesBackWhatIsNotCommittedOnceANewSessionResolvedTheStream) {
  SessionWithOneRecord session;
  auto& sink = session.sink;
  auto& peer = session.peer;
  auto& listener = session.listener;
  prepare_voted(*sink, peer, 5, 0, 2);
  std::promise<std::string> committed;
  sink->commit(5, [&](std::string error) { committed.set_value(std::move(error)); });
  EXPECT_EQ(peer.read_two_phase(), connector::TwoPhaseMessage(connector::Phase2{"App-w-w1-id-0:c_id=5", true}));
  EXPECT_EQ(committed.get_future().get(), "");
  sink->write(records_of({"b\n"}));
  EXPECT_EQ(peer.read_message().message_id, 2U);
  prepare_voted(*sink, peer, 6, 2, 4);  // checkpoint 6 is given up elsewhere: no commit comes
  sink->write(records_of({"c\n", "d\n"}));
  EXPECT_EQ(peer.read_message().message_id, 4U);
  EXPECT_EQ(peer.read_message().message_id, 6U);

  std::promise<std::pair<std::string, std::vector<std::string>>> handed;
  sink->hand_off([&](std::string error, Sink::SharedBatches records) {
    handed.set_value({std::move(error), values_of(records)});
  });
  auto answer = handed.get_future();
  Peer again = open_session(listener);
  auto list = std::get<connector::ListUncommitted>(again.read_two_phase());
  // The PHASE2 of checkpoint 5 as if lost with the first connection: the new session commits it, aborts 6.
  again.send_two_phase(
      connector::ReplyUncommitted{.rtag = list.rtag, .txn_ids = {"App-w-w1-id-0:c_id=6", "App-w-w1-id-0:c_id=5"}});
  EXPECT_EQ(again.read_two_phase(), connector::TwoPhaseMessage(connector::Phase2{"App-w-w1-id-0:c_id=5", true}));
  EXPECT_EQ(again.read_two_phase(), connector::TwoPhaseMessage(connector::Phase2{"App-w-w1-id-0:c_id=6", false}));
  EXPECT_EQ(again.read(), connector::Frame(connector::Notify{1, "App-w-w1-id-0", 0}));
  EXPECT_EQ(answer.wait_for(100ms), std::future_status::timeout);  // not before the stream is resolved
  again.send(connector::encode_notify_ack({.success = true, .stream_id = 1, .point_of_ref = 2}));
  ASSERT_EQ(answer.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(answer.get(), (std::pair<std::string, std::vector<std::string>>{"", {"b\n", "c\nd\n"}}));
  EXPECT_TRUE(test::wait_until([&] { return sink->budget().in_flight() == 0; }));

  // The sink stays usable: its stream goes on from the committed end.
  sink->write(records_of({"e\n"}));
  auto next = again.read_message();
  EXPECT_EQ(next.message_id, 2U);
  EXPECT_EQ(next.payload, "e\n");
}

// A round the sink prepared late, from frames of the closed connection, would stay undecided at the sink while its
// records also went to the stayer: the hand-off fails instead (the leaver stops, the rollback resolves the stream).
TEST(ConnectorSink, HandOffFailsWhenTheNewSessionsStreamDoesNotEndAtTheCommittedOutput) {
  SessionWithOneRecord session;
  auto& sink = session.sink;
  auto& listener = session.listener;
  std::promise<std::string> handed;
  sink->hand_off([&](std::string error, Sink::SharedBatches records) {
    EXPECT_TRUE(records.empty());
    handed.set_value(std::move(error));
  });
  Peer again = open_session(listener);
  finish_handshake_at(again, 2);  // the sink says its stream ends after "a\n", which this worker never had voted
  auto answer = handed.get_future();
  ASSERT_EQ(answer.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(answer.get(),
            "connector sink 'results' (127.0.0.1:" + std::to_string(listener.port()) +
                "): after the hand-off the sink's stream 'App-w-w1-id-0' ends at byte 2, past its committed "
                "output (0)");
}

// A sink that answers NOTIFY with the worker's own point of reference (the shipped sinks, which write records as they
// come) is at least once: the hand-off goes on.
TEST(ConnectorSink, HandOffToASinkWhoseStreamEndsBeforeTheCommittedOutputGoesOn) {
  SessionWithOneRecord session;
  auto& sink = session.sink;
  auto& peer = session.peer;
  auto& listener = session.listener;
  prepare_voted(*sink, peer, 5, 0, 2);
  sink->commit(5, [](std::string) {});
  (void)peer.read_two_phase();  // PHASE2 commit
  sink->write(records_of({"b\n"}));
  EXPECT_EQ(peer.read_message().message_id, 2U);
  std::promise<std::pair<std::string, std::vector<std::string>>> handed;
  sink->hand_off([&](std::string error, Sink::SharedBatches records) {
    handed.set_value({std::move(error), values_of(records)});
  });
  Peer again = open_session(listener);
  finish_handshake_at(again, 0);
  auto answer = handed.get_future();
  ASSERT_EQ(answer.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(answer.get(), (std::pair<std::string, std::vector<std::string>>{"", {"b\n"}}));
}

/// `count` records of `size` bytes each.
RecordBatch big_batch(std::size_t count, std::size_t size) {
  RecordBatch batch;
  for (std::size_t i = 0; i < count; ++i) {
    batch.values.insert(batch.values.end(), size, 'r');
    batch.records.push_back(RecordBatch::Record{.value_end = static_cast<std::uint32_t>(batch.values.size())});
  }
  return batch;
}

// Far more output than the loopback's kernel buffers hold (a few MB), so PHASE1 waits behind records the sink has yet
// to take.
constexpr std::size_t slow_batches = 96;
constexpr std::size_t slow_batch_records = 256;
constexpr std::size_t record_bytes = 4096;  // 96 x 256 x 4 KiB = 96 MiB

/// A transactional sink with `prepare_timeout`, its session open, far more output written than the kernel holds, and
/// checkpoint 1 prepared: the round's PHASE1 waits behind all of it.
struct BigRound {
  explicit BigRound(std::chrono::milliseconds prepare_timeout) {
    auto config = config_for(listener.port(), true);
    config.prepare_timeout = prepare_timeout;
    sink = make_connector_sink(io.io(), config);
    sink->start();
    peer.emplace(open_session(listener));
    sink->write(records_of({"x"}));
    finish_handshake(*peer);
    for (std::size_t i = 0; i < slow_batches; ++i) {
      sink->write(big_batch(slow_batch_records, record_bytes));
    }
    sink->prepare(1, [this](std::string error, Sink::CheckpointOutput) { prepared.set_value(std::move(error)); });
  }
  std::string vote() {
    auto answer = prepared.get_future();
    EXPECT_EQ(answer.wait_for(5s), std::future_status::ready);
    return answer.wait_for(0s) == std::future_status::ready ? answer.get() : "(no vote)";
  }

  test::IoThread io;
  Listener listener;
  std::promise<std::string> prepared;  // before the sink: it outlives the sink's callback
  std::unique_ptr<Sink> sink;
  std::optional<Peer> peer;
};

TEST(ConnectorSink, ASlowSinkStillTakingTheRoundsRecordsIsNotTimedOut) {
  BigRound round(500ms);
  auto started = std::chrono::steady_clock::now();
  // At most 50 MB/s: each 500 ms sees progress, the whole round takes more than three timeouts (and the kernel's
  // buffers, read in well under a timeout, hold PHASE1 last).
  std::size_t read_bytes = 0;
  for (;;) {
    auto frame = round.peer->read();
    auto* message = std::get_if<connector::Message>(&frame);
    ASSERT_NE(message, nullptr);
    if (message->stream_id == 0) {
      auto phase1 = std::get<connector::Phase1>(connector::decode_two_phase(message->payload));
      EXPECT_EQ(phase1.where[0].end_offset, 1 + slow_batches * slow_batch_records * record_bytes);
      round.peer->send_two_phase(connector::Phase1Reply{phase1.txn_id, true});
      break;
    }
    read_bytes += message->payload.size();
    if (read_bytes >= 1024 * 1024) {
      read_bytes = 0;
      std::this_thread::sleep_for(20ms);
    }
  }
  ASSERT_GT(std::chrono::steady_clock::now() - started, 1500ms) << "the sink was not slow: this test tests nothing";
  EXPECT_EQ(round.vote(), "");
}

TEST(ConnectorSink, ASinkThatStopsTakingTheRoundsRecordsFailsItNamingWhy) {
  BigRound round(300ms);  // the peer reads nothing more
  std::string error = round.vote();
  std::string prefix = "connector sink 'results' (127.0.0.1:" + std::to_string(round.listener.port()) +
                       "): no vote on checkpoint 1 within 300 ms (its PHASE1 still waits behind ";
  EXPECT_EQ(error.substr(0, prefix.size()), prefix) << error;
  EXPECT_TRUE(error.ends_with(" bytes of output the sink stopped taking)")) << error;
}

TEST(ConnectorSink, TheSinksTimeToVoteRunsFromWhenItsSocketTookPhase1NeverLonger) {
  test::IoThread io;
  Listener listener;
  auto config = config_for(listener.port(), true);
  config.prepare_timeout = 1s;
  auto sink = make_connector_sink(io.io(), config);
  sink->start();
  Peer peer = open_session(listener);
  sink->write(records_of({"x"}));
  finish_handshake(peer);
  EXPECT_EQ(peer.read_message().message_id, 0U);
  sink->write(records_of({"y"}));
  EXPECT_EQ(peer.read_message().message_id, 1U);  // the message id is the record's byte offset
  std::promise<std::string> prepared;
  sink->prepare(1, [&](std::string error, Sink::CheckpointOutput) { prepared.set_value(std::move(error)); });
  (void)peer.read_two_phase();  // PHASE1, taken at once and never answered
  auto taken = std::chrono::steady_clock::now();
  sink->write(records_of({"z"}));  // the stream goes on: it waits for the vote and does not extend the wait
  auto vote = prepared.get_future();
  ASSERT_EQ(vote.wait_for(5s), std::future_status::ready);
  auto waited = std::chrono::steady_clock::now() - taken;
  EXPECT_EQ(vote.get(), "connector sink 'results' (127.0.0.1:" + std::to_string(listener.port()) +
                            "): no vote on checkpoint 1 within 1000 ms");
  // One prepare_timeout from PHASE1, not two (the bytes PHASE1 went out with are not progress to wait on).
  EXPECT_GT(waited, 900ms);
  EXPECT_LT(waited, 1700ms);
}

}  // namespace
}  // namespace roo::io
