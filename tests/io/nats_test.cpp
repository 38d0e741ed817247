// NatsSource and NatsSink against a real nats-server started by each test (nats_test_support.hpp).
#include "roo/io/nats_sink.hpp"
#include "roo/io/nats_source.hpp"

#include "io_test_support.hpp"
#include "nats_test_support.hpp"

#include "roo/core/error.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace roo::io {
namespace {

using namespace std::chrono_literals;
using test::LogCapture;
using test::NatsServerProcess;
using test::NatsTestClient;
using test::wait_until;

struct NatsSourceFixture {
  explicit NatsSourceFixture(NatsSourceConfig config, std::size_t mailbox_capacity = 64) : mailbox(mailbox_capacity) {
    LogCapture::instance().clear();
    source = make_nats_source(std::move(config), mailbox, pool);
  }

  /// Pops batches until `count` frames arrived or `timeout` passed.
  std::vector<std::string> take(std::size_t count, std::chrono::milliseconds timeout = 5000ms) {
    std::vector<std::string> frames;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (frames.size() < count && std::chrono::steady_clock::now() < deadline) {
      if (auto batch = mailbox.pop_for(10ms)) {
        EXPECT_EQ(batch->source, 3u);
        for (std::size_t i = 0; i < batch->size(); ++i) {
          frames.emplace_back(batch->frame(i));
        }
      }
    }
    return frames;
  }

  void stop() {
    std::atomic<bool> stopped{false};
    source->stop([&] { stopped = true; });
    // The stop hands over what the subscription still held: keep draining while it does.
    while (!stopped) {
      if (auto batch = mailbox.pop_for(10ms)) {
        for (std::size_t i = 0; i < batch->size(); ++i) {
          after_stop.emplace_back(batch->frame(i));
        }
      }
    }
  }

  core::BoundedMailbox<core::FrameBatch> mailbox;
  core::BatchPool pool;
  std::unique_ptr<Source> source;
  std::vector<std::string> after_stop;
};

NatsSourceConfig source_config(const NatsServerProcess& server, std::string queue_group = {}) {
  return NatsSourceConfig{.name = "words", .source_index = 3, .server_url = server.url(), .subject = "in.words",
                          .queue_group = std::move(queue_group)};
}

TEST(NatsSource, EachMessageIsOneFrameInOrder) {
  NatsServerProcess server;
  NatsSourceFixture fixture(source_config(server));
  fixture.source->start();
  NatsTestClient client(server.url());
  std::vector<std::string> sent;
  for (int i = 0; i < 1000; ++i) {
    sent.push_back("message " + std::to_string(i));
    client.publish("in.words", sent.back());
  }
  client.publish("in.words", "");  // an empty message is an empty frame
  sent.emplace_back();
  client.flush();
  EXPECT_EQ(fixture.take(sent.size()), sent);
  fixture.stop();
  EXPECT_TRUE(fixture.after_stop.empty());
  EXPECT_EQ(LogCapture::instance().count(
                "nats_source 'words': stopped (0 messages dropped by the client as a slow consumer)"),
            1u);
}

TEST(NatsSource, AQueueGroupSplitsTheMessagesBetweenItsMembers) {
  NatsServerProcess server;
  NatsSourceFixture first(source_config(server, "group"));
  NatsSourceFixture second(source_config(server, "group"));
  first.source->start();
  second.source->start();
  NatsTestClient client(server.url());
  for (int i = 0; i < 400; ++i) {
    client.publish("in.words", std::to_string(i));
  }
  client.flush();
  std::vector<std::string> a;
  std::vector<std::string> b;
  ASSERT_TRUE(wait_until([&] {
    auto more_a = first.take(400, 10ms);
    auto more_b = second.take(400, 10ms);
    a.insert(a.end(), more_a.begin(), more_a.end());
    b.insert(b.end(), more_b.begin(), more_b.end());
    return a.size() + b.size() >= 400;
  }));
  EXPECT_EQ(a.size() + b.size(), 400u);
  EXPECT_FALSE(a.empty());
  EXPECT_FALSE(b.empty());
  std::set<std::string> all(a.begin(), a.end());
  all.insert(b.begin(), b.end());
  EXPECT_EQ(all.size(), 400u);  // none twice
}

// The executor takes nothing: the source stops taking, libnats fills the pending limit and drops the rest; every
// message is either handed over or counted as dropped, never lost silently.
TEST(NatsSource, AFullMailboxBoundsMemoryAndCountsWhatTheClientDrops) {
  NatsServerProcess server;
  NatsSourceConfig config = source_config(server);
  config.batch_bytes = 1;  // one message per batch: the mailbox (2 batches) is full after two
  config.pending_messages = 100;
  NatsSourceFixture fixture(std::move(config), 2);
  fixture.source->start();
  NatsTestClient client(server.url());
  for (int i = 0; i < 1000; ++i) {
    client.publish("in.words", std::to_string(i));
  }
  client.flush();
  const std::string dropped_line = "nats_source 'words': the NATS client dropped";
  ASSERT_TRUE(wait_until([&] { return LogCapture::instance().count_containing(dropped_line) > 0; }, 10000ms));
  std::vector<std::string> taken = fixture.take(1000, 1000ms);
  fixture.stop();
  taken.insert(taken.end(), fixture.after_stop.begin(), fixture.after_stop.end());
  std::smatch match;
  std::size_t dropped = 0;
  std::regex stopped_line(
      R"(nats_source 'words': stopped \((\d+) messages dropped by the client as a slow consumer\))");
  for (const auto& line : LogCapture::instance().lines()) {
    if (std::regex_match(line, match, stopped_line)) {
      dropped = std::stoul(match[1]);
    }
  }
  EXPECT_GT(dropped, 0u);
  EXPECT_LE(taken.size(), 2u + 1u + 100u);  // the mailbox, the source's own batch and libnats's pending limit
  EXPECT_EQ(taken.size() + dropped, 1000u);
  for (std::size_t i = 1; i < taken.size(); ++i) {
    EXPECT_LT(std::stoi(taken[i - 1]), std::stoi(taken[i]));  // what came is in order
  }
}

TEST(NatsSource, AServerOutOfReachAtTheStartThrowsOneLine) {
  NatsServerProcess server;
  server.stop();
  NatsSourceFixture fixture(source_config(server));
  try {
    fixture.source->start();
    FAIL() << "start() must throw";
  } catch (const core::Error& error) {
    EXPECT_EQ(std::string(error.what()), "connect to " + server.url() +
                                             " for source 'words': no server available for connection");
  }
}

NatsSinkConfig sink_config(const NatsServerProcess& server) {
  return NatsSinkConfig{.name = "out", .server_url = server.url(), .subject = "out.words"};
}

RecordBatch records(const std::vector<std::string>& values) {
  RecordBatch batch;
  for (const auto& value : values) {
    batch.values.insert(batch.values.end(), value.begin(), value.end());
    batch.records.push_back(RecordBatch::Record{.value_end = static_cast<std::uint32_t>(batch.values.size())});
  }
  return batch;
}

TEST(NatsSink, EachRecordIsOneMessageAndAFlushConfirmsThem) {
  NatsServerProcess server;
  NatsTestClient client(server.url());
  client.subscribe("out.words");
  auto sink = make_nats_sink(sink_config(server));
  ASSERT_TRUE(sink->takes_records());
  sink->start();
  sink->write(records({"a", "", "ccc"}));
  sink->write(records({"dd"}));
  std::atomic<bool> flushed{false};
  std::string flush_error = "not called";
  sink->flush([&](std::string error) {
    flush_error = std::move(error);
    flushed = true;
  });
  ASSERT_TRUE(wait_until([&] { return flushed.load(); }));
  EXPECT_EQ(flush_error, "");
  EXPECT_EQ(sink->budget().in_flight(), 0u);
  EXPECT_EQ(client.wait_for(4, 5000ms), (std::vector<std::string>{"a", "", "ccc", "dd"}));
  std::atomic<bool> stopped{false};
  sink->stop([&] { stopped = true; });
  ASSERT_TRUE(wait_until([&] { return stopped.load(); }));
  EXPECT_EQ(sink->undelivered_bytes(), 0u);
}

// The server goes away: libnats buffers, no flush succeeds, the bytes stay in the budget, and a stop that cannot
// finish reports them as undelivered with the reason.
TEST(NatsSink, WhatAnAbsentServerNeverConfirmedIsReportedAsUndelivered) {
  NatsServerProcess server;
  auto sink = make_nats_sink(sink_config(server));
  sink->start();
  server.stop();
  sink->write(records({"12345", "678"}));
  std::atomic<bool> stopped{false};
  sink->stop([&] { stopped = true; });
  EXPECT_FALSE(wait_until([&] { return stopped.load(); }, 700ms));
  EXPECT_EQ(sink->undelivered_bytes(), 8u);
  EXPECT_NE(sink->undelivered_reason().find("the NATS server at " + server.url()), std::string::npos)
      << sink->undelivered_reason();
  sink.reset();  // the worker gives up at its drain deadline: the sink's thread ends
  EXPECT_TRUE(stopped.load());
}

}  // namespace
}  // namespace roo::io
