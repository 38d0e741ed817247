#include "roo/io/connector_source.hpp"

#include "connector_frames.hpp"
#include "connector_streams.hpp"
#include "io_test_support.hpp"

#include "roo/core/big_endian.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace roo::io {
namespace {

using namespace std::chrono_literals;
using test::Client;
using test::wait_until;
namespace cf = connector;

constexpr std::uint64_t none = ConnectorStreams::none;

TEST(ConnectorStreamPartition, TheStreamIdSplitsIntoTopicAndPartitionAndBack) {
  std::uint64_t id = 0x89abcdef01234567ULL;
  PartitionId partition = connector_stream_partition(id);
  EXPECT_EQ(partition.topic, 0x89abcdefU);
  EXPECT_EQ(static_cast<std::uint32_t>(partition.partition), 0x01234567U);
  EXPECT_EQ(connector_stream_id(partition), id);
  EXPECT_EQ(connector_stream_id(connector_stream_partition(0xffffffffffffffffULL)), 0xffffffffffffffffULL);
}

TEST(ConnectorStreams, AStreamOpensOnOneConnectionAtATime) {
  ConnectorStreams streams(SourcePosition{{connector_stream_partition(5), 10}});
  auto first = streams.open(5, 1, false);
  EXPECT_TRUE(first.accepted);
  EXPECT_EQ(first.point_of_ref, 9U);  // the seek position is the next id: 9 was the last processed
  EXPECT_EQ(first.last_seen, 9U);
  EXPECT_FALSE(streams.open(5, 2, false).accepted);
  EXPECT_TRUE(streams.open(5, 1, false).accepted);  // the owner may notify again
  auto unknown = streams.open(6, 2, false);
  EXPECT_TRUE(unknown.accepted);
  EXPECT_EQ(unknown.point_of_ref, none);
  EXPECT_FALSE(streams.open(7, 2, true).accepted);  // the source is stopping
  // The owner leaves having taken up to 20: the stream is free, and the next owner skips up to 20.
  auto freed = streams.release(1, {{5, 20}}, {}).for_cluster;
  ASSERT_EQ(freed.size(), 1U);  // its marks go to the cluster
  EXPECT_EQ(freed[0].stream, 5U);
  EXPECT_EQ(freed[0].committed, 9U);
  EXPECT_EQ(freed[0].last_seen, 20U);
  auto second = streams.open(5, 2, false);
  EXPECT_TRUE(second.accepted);
  EXPECT_EQ(second.point_of_ref, 9U);
  EXPECT_EQ(second.last_seen, 20U);
}

TEST(ConnectorStreams, CommitsAcknowledgeTheOwnersAndFreeEndedStreams) {
  ConnectorStreams streams({});
  ASSERT_TRUE(streams.open(1, 10, false).accepted);
  ASSERT_TRUE(streams.open(2, 11, false).accepted);
  SourcePosition position{{connector_stream_partition(1), 5}, {connector_stream_partition(2), 3}};
  auto acks = streams.commit(position).acks;
  ASSERT_EQ(acks.size(), 2U);
  EXPECT_EQ(acks[0], (std::pair<ConnectorStreams::Owner, cf::StreamAck>{10, {1, 4}}));
  EXPECT_EQ(acks[1], (std::pair<ConnectorStreams::Owner, cf::StreamAck>{11, {2, 2}}));
  EXPECT_TRUE(streams.commit(position).acks.empty());  // nothing advanced
  // Stream 1 ends after id 7: not covered yet, so it stays taken until a commit covers 7.
  EXPECT_EQ(streams.end(1, 10, 7), std::nullopt);
  EXPECT_FALSE(streams.open(1, 12, false).accepted);
  auto covering = streams.commit({{connector_stream_partition(1), 8}});
  ASSERT_EQ(covering.acks.size(), 1U);
  EXPECT_EQ(covering.acks[0], (std::pair<ConnectorStreams::Owner, cf::StreamAck>{10, {1, 7}}));
  ASSERT_EQ(covering.freed.size(), 1U);  // freed: the cluster hears of it
  EXPECT_EQ(covering.freed[0].stream, 1U);
  EXPECT_EQ(covering.freed[0].last_seen, 7U);
  EXPECT_TRUE(streams.open(1, 12, false).accepted);
  // Stream 2 ends with everything it sent committed: acknowledged at once, free at once.
  EXPECT_EQ(streams.end(2, 11, 2), (cf::StreamAck{2, 2}));
  EXPECT_TRUE(streams.open(2, 12, false).accepted);
  // An EOS from a connection that does not own the stream changes nothing.
  EXPECT_EQ(streams.end(2, 11, 2), std::nullopt);
}

TEST(ConnectorStreams, TheClusterRaisesAGrantedStreamsIdsAndARefusalFreesIt) {
  ConnectorStreams streams(SourcePosition{{connector_stream_partition(5), 10}});
  auto marks = streams.marks();
  ASSERT_EQ(marks.size(), 1U);  // what this worker restored, for the cluster
  EXPECT_EQ(marks[0].committed, 9U);
  EXPECT_EQ(marks[0].last_seen, 9U);
  ASSERT_TRUE(streams.open(5, 1, false).accepted);
  // Another worker took up to 30 and committed up to 25: this worker answers from there and skips up to 30.
  auto adopted = streams.adopt(5, 1, core::StreamMark{.stream = 5, .committed = 25, .last_seen = 30});
  EXPECT_TRUE(adopted.accepted);
  EXPECT_EQ(adopted.point_of_ref, 25U);
  EXPECT_EQ(adopted.last_seen, 30U);
  // Lower marks never lower a stream's ids.
  EXPECT_EQ(streams.adopt(5, 1, core::StreamMark{.stream = 5, .committed = 3, .last_seen = none}).last_seen, 30U);
  EXPECT_FALSE(streams.adopt(5, 2, core::StreamMark{}).accepted);  // not the owner
  // A refused claim frees the stream here.
  ASSERT_TRUE(streams.open(6, 1, false).accepted);
  EXPECT_FALSE(streams.open(6, 2, false).accepted);
  streams.give_back(6, 1);
  EXPECT_TRUE(streams.open(6, 2, false).accepted);
}

TEST(ConnectorStreams, ALeavingConnectionCanHoldUncommittedStreamsAndTheOneItIsClaiming) {
  ConnectorStreams streams(SourcePosition{{connector_stream_partition(1), 11}, {connector_stream_partition(2), 6}});
  ASSERT_TRUE(streams.open(1, 7, false).accepted);
  ASSERT_TRUE(streams.open(2, 7, false).accepted);
  ASSERT_TRUE(streams.open(3, 7, false).accepted);
  // Stream 1 took up to 15 (committed 10): held from the cluster, free here; stream 2 took nothing new: free
  // everywhere; stream 3 is being claimed: the claim's answer decides.
  auto released = streams.release(7, {{1, 15}, {2, 5}},
                                  ConnectorStreams::Leaving{.hold_uncommitted = true, .claiming = std::uint64_t{3}});
  ASSERT_EQ(released.for_cluster.size(), 1U);
  EXPECT_EQ(released.for_cluster[0].stream, 2U);
  EXPECT_EQ(released.held, 1U);
  EXPECT_FALSE(streams.open(3, 8, false).accepted);
  EXPECT_TRUE(streams.give_back(3, 7));  // the answer: free, here and in the cluster
  EXPECT_TRUE(streams.open(3, 8, false).accepted);
  // A connection of this worker takes stream 1 again at once (the same checkpoints cover both), and leaves again
  // before a commit covers 15: still held.
  ASSERT_TRUE(streams.open(1, 9, false).accepted);
  auto again = streams.release(9, {}, ConnectorStreams::Leaving{.hold_uncommitted = true, .claiming = {}});
  EXPECT_TRUE(again.for_cluster.empty());
  EXPECT_EQ(again.held, 1U);
  ASSERT_TRUE(streams.open(1, 9, false).accepted);
  EXPECT_FALSE(streams.give_back(1, 9));  // e.g. a claim answered after its connection left: not for the cluster
  // Commits: one short of 15 keeps it; one covering 15 hands it to the cluster.
  EXPECT_TRUE(streams.commit({{connector_stream_partition(1), 14}}).freed.empty());
  auto covering = streams.commit({{connector_stream_partition(1), 16}});
  ASSERT_EQ(covering.freed.size(), 1U);
  EXPECT_EQ(covering.freed[0].stream, 1U);
  EXPECT_EQ(covering.freed[0].last_seen, 15U);
  // Held while owned here again: the covering commit frees nothing (the owner keeps it).
  ASSERT_TRUE(streams.open(4, 11, false).accepted);
  (void)streams.release(11, {{4, 3}}, ConnectorStreams::Leaving{.hold_uncommitted = true, .claiming = {}});
  ASSERT_TRUE(streams.open(4, 10, false).accepted);
  EXPECT_TRUE(streams.commit({{connector_stream_partition(4), 4}}).freed.empty());
}

/// A blocking connector over a real socket.
class Connector {
 public:
  explicit Connector(std::uint16_t port) : client_(port) {}
  void send(const std::string& frame) { client_.send(frame); }
  /// The next frame the worker sends within `timeout`, or nullopt.
  std::optional<cf::Frame> read(std::chrono::milliseconds timeout = 5000ms) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    client_.socket().non_blocking(true);
    for (;;) {
      if (buffer_.size() >= 4) {
        std::size_t n = core::load_u32_be(buffer_.data());
        if (buffer_.size() >= 4 + n) {
          cf::Frame frame = cf::decode_frame(std::string_view(buffer_).substr(4, n));
          if (std::holds_alternative<cf::Message>(frame)) {
            ADD_FAILURE() << "a worker never sends MESSAGE";
          }
          buffer_.erase(0, 4 + n);
          return frame;
        }
      }
      char chunk[4096];
      boost::system::error_code error;
      std::size_t got = client_.socket().read_some(boost::asio::buffer(chunk), error);
      if (error == boost::asio::error::would_block) {
        if (std::chrono::steady_clock::now() >= deadline) {
          return std::nullopt;
        }
        std::this_thread::sleep_for(2ms);
        continue;
      }
      if (error) {
        return std::nullopt;
      }
      buffer_.append(chunk, got);
    }
  }

 private:
  Client client_;
  std::string buffer_;
};

struct SourceFixture {
  explicit SourceFixture(std::size_t mailbox_capacity, SourcePosition position = {},
                         std::chrono::milliseconds hello_timeout = 10000ms)
      : mailbox(mailbox_capacity) {
    ConnectorSourceConfig config{.name = "events",
                                 .listen = core::Endpoint{"127.0.0.1", 0},
                                 .source_index = 3,
                                 .cookie = "secret",
                                 .max_credits = 4,
                                 .refill_credits = 2,
                                 .hello_timeout = hello_timeout,
                                 .registry = nullptr,
                                 .hold_uncommitted_streams = false};
    source = make_connector_source(io.io(), config, mailbox, pool);
    source->seek(position);
    source->start();
  }
  std::uint16_t port() const { return source->local_endpoint().port; }
  /// The frames of the next batch, as (offset, payload).
  std::vector<std::pair<std::int64_t, std::string>> pop() {
    std::vector<std::pair<std::int64_t, std::string>> frames;
    auto batch = mailbox.pop_for(5000ms);
    if (!batch) {
      return frames;
    }
    EXPECT_EQ(batch->source, 3U);
    for (std::size_t i = 0; i < batch->size(); ++i) {
      frames.emplace_back(batch->meta.at(i).offset, std::string(batch->frame(i)));
    }
    pool.release(std::move(*batch));
    return frames;
  }

  core::BoundedMailbox<core::FrameBatch> mailbox;
  core::BatchPool pool;
  test::IoThread io;
  std::unique_ptr<Source> source;
};

TEST(ConnectorSource, AFullMailboxWithholdsTheCreditsUntilThereIsRoom) {
  SourceFixture fixture(1);
  Connector connector(fixture.port());
  connector.send(cf::encode_hello({"0.0.1", "secret", "p", "i"}));
  EXPECT_EQ(std::get<cf::Ok>(*connector.read()), cf::Ok{4});
  connector.send(cf::encode_notify({9, "nine", none}));
  EXPECT_EQ(std::get<cf::NotifyAck>(*connector.read()), (cf::NotifyAck{true, 9, none}));
  connector.send(cf::encode_message({9, 1, 0, "", "one"}));
  // NOTIFY and MESSAGE spent 2 of 4: at refill_credits, so topped up once the batch was handed over.
  EXPECT_EQ(std::get<cf::Ack>(*connector.read()), (cf::Ack{2, {}}));
  ASSERT_TRUE(wait_until([&] { return fixture.mailbox.size() == 1; }, 5000ms));
  // The mailbox (capacity 1) is full: the next message's batch waits, and so do the credits.
  connector.send(cf::encode_message({9, 2, 0, "", "two"}));
  connector.send(cf::encode_message({9, 3, 0, "", "three"}));
  EXPECT_EQ(connector.read(300ms), std::nullopt);
  EXPECT_EQ(fixture.pop(), (std::vector<std::pair<std::int64_t, std::string>>{{1, "one"}}));
  std::vector<std::pair<std::int64_t, std::string>> rest;
  while (rest.size() < 2) {
    auto frames = fixture.pop();
    ASSERT_FALSE(frames.empty());
    rest.insert(rest.end(), frames.begin(), frames.end());
  }
  // Messages 2 and 3 brought the credits down to refill_credits: topped up once their batch was taken in.
  EXPECT_EQ(std::get<cf::Ack>(*connector.read()), (cf::Ack{2, {}}));
  EXPECT_EQ(rest, (std::vector<std::pair<std::int64_t, std::string>>{{2, "two"}, {3, "three"}}));
}

TEST(ConnectorSource, SeekAnswersNotifyAndCommitAcknowledgesTheOwner) {
  SourceFixture fixture(16, SourcePosition{{connector_stream_partition(9), 6}});
  Connector connector(fixture.port());
  connector.send(cf::encode_hello({"0.0.1", "secret", "p", "i"}));
  EXPECT_EQ(std::get<cf::Ok>(*connector.read()), cf::Ok{4});
  connector.send(cf::encode_notify({9, "nine", none}));
  EXPECT_EQ(std::get<cf::NotifyAck>(*connector.read()), (cf::NotifyAck{true, 9, 5}));
  connector.send(cf::encode_message({9, 5, 0, "", "replayed"}));  // at the point of reference: taken already
  connector.send(cf::encode_message({9, 6, 0, "key", "six"}));
  auto frames = fixture.pop();
  EXPECT_EQ(frames, (std::vector<std::pair<std::int64_t, std::string>>{{6, "six"}}));
  (void)connector.read();  // the credits' top-up
  fixture.source->commit({{connector_stream_partition(9), 7}});
  EXPECT_EQ(std::get<cf::Ack>(*connector.read()).acks, (std::vector<cf::StreamAck>{{9, 6}}));
  // The stop tells the connector to come back (to the same address).
  bool stopped = false;
  fixture.source->stop([&] { stopped = true; });
  EXPECT_EQ(std::get<cf::Restart>(*connector.read()), cf::Restart{""});
  EXPECT_TRUE(wait_until([&] { return stopped; }, 5000ms));
}

TEST(ConnectorSource, AWorkerLeavingTheClusterSendsItsConnectorsToAnother) {
  SourceFixture fixture(16);
  Connector connector(fixture.port());
  connector.send(cf::encode_hello({"0.0.1", "secret", "p", "i"}));
  EXPECT_EQ(std::get<cf::Ok>(*connector.read()), cf::Ok{4});  // the fixture's credits
  fixture.source->leave_for("10.0.0.7:7100");
  bool stopped = false;
  fixture.source->stop([&] { stopped = true; });
  EXPECT_EQ(std::get<cf::Restart>(*connector.read()), cf::Restart{"10.0.0.7:7100"});
  EXPECT_TRUE(wait_until([&] { return stopped; }, 5000ms));
}

TEST(ConnectorSource, AConnectionWithoutHelloIsClosedAfterTheTimeout) {
  test::LogCapture::instance().clear();
  SourceFixture fixture(4, {}, 200ms);
  Client silent(fixture.port());
  auto began = std::chrono::steady_clock::now();
  EXPECT_TRUE(silent.wait_closed_by_peer(5000ms));
  EXPECT_GE(std::chrono::steady_clock::now() - began, 150ms);
  std::string line = "connector_source 'events': closing connector connection from 127.0.0.1:" +
                     std::to_string(silent.socket().local_endpoint().port()) + ": no complete frame within 0.2 s";
  EXPECT_TRUE(test::LogCapture::instance().wait_for(line)) << line;
}

}  // namespace
}  // namespace roo::io
