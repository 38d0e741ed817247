#include "cluster_test_support.hpp"

#include <gtest/gtest.h>

namespace roo::cluster {
namespace {

using namespace std::chrono_literals;
using test::bytes_of;
using test::Client;
using test::LogCapture;
using test::wait_until;

std::string peer_of(Client& client) { return "127.0.0.1:" + std::to_string(client.local_port()); }

std::string cluster_frame(std::uint8_t type, std::string_view body) {
  auto n = static_cast<std::uint32_t>(body.size() + 1);
  std::string frame{static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                    static_cast<char>(n), static_cast<char>(type)};
  frame.append(body);
  return frame;
}

TEST(ClusterGarbage, ControlPortClosesOnlyTheBadConnection) {
  LogCapture::instance().clear();
  std::uint16_t control = test::free_port();
  test::TestWorker initializer(test::initializer_config(control, 2));
  initializer.start_forming();
  ASSERT_TRUE(wait_until([&] {
    try {
      Client probe(control);
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }));
  Client text(control);
  text.send("hello world\r\n");
  EXPECT_TRUE(text.wait_closed_by_peer());
  EXPECT_TRUE(LogCapture::instance().wait_for("cluster: closing control connection from " + peer_of(text) +
                                              ": frame of 1751477356 bytes exceeds the limit of 4096 bytes"));
  Client unknown(control);
  unknown.send(cluster_frame(200, "x"));
  EXPECT_TRUE(unknown.wait_closed_by_peer());
  EXPECT_TRUE(LogCapture::instance().wait_for("cluster: closing control connection from " + peer_of(unknown) +
                                              ": unknown message type 200"));
  Client wrong_first(control);
  wrong_first.send(cluster_frame(33, "data before hello"));
  EXPECT_TRUE(wrong_first.wait_closed_by_peer());
  EXPECT_TRUE(LogCapture::instance().wait_for("cluster: closing control connection from " + peer_of(wrong_first) +
                                              ": unexpected data message"));
  Client bad_hello(control);
  bad_hello.send(cluster_frame(1, "\x01"));
  EXPECT_TRUE(bad_hello.wait_closed_by_peer());
  EXPECT_TRUE(LogCapture::instance().wait_for("cluster: closing control connection from " + peer_of(bad_hello) +
                                              ": malformed hello message"));
  Client empty(control);
  empty.send(std::string(4, '\0'));
  EXPECT_TRUE(empty.wait_closed_by_peer());
  EXPECT_TRUE(
      LogCapture::instance().wait_for("cluster: closing control connection from " + peer_of(empty) + ": empty frame"));
  // Still serving: a real worker joins.
  test::TestWorker w1(test::worker_config("w1", control));
  w1.start_forming();
  EXPECT_TRUE(initializer.wait_formed());
  EXPECT_TRUE(w1.wait_formed());
  EXPECT_EQ(LogCapture::instance().count_containing("cluster: closing"), 5u);
}

TEST(ClusterGarbage, DataPortClosesOnlyTheBadConnection) {
  auto workers = test::formed_cluster(2);
  ASSERT_EQ(workers.size(), 2u);
  LogCapture::instance().clear();
  std::uint16_t data_port = workers[1]->membership().workers[1].data.port;
  Client text(data_port);
  text.send("GET / HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(text.wait_closed_by_peer());
  EXPECT_TRUE(LogCapture::instance().wait_for("cluster: closing data connection from " + peer_of(text) +
                                              ": frame of 1195725856 bytes exceeds the limit of 4096 bytes"));
  Client no_hello(data_port);
  no_hello.send(cluster_frame(33, "payload"));
  EXPECT_TRUE(no_hello.wait_closed_by_peer());
  EXPECT_TRUE(LogCapture::instance().wait_for("cluster: closing data connection from " + peer_of(no_hello) +
                                              ": expected a data-hello message, got data"));
  Client impostor(data_port);
  impostor.send(cluster_frame(32, std::string("\0\0\0\7", 4)));
  EXPECT_TRUE(impostor.wait_closed_by_peer());
  EXPECT_TRUE(LogCapture::instance().wait_for("cluster: closing data connection from " + peer_of(impostor) +
                                              ": data-hello from worker index 7, which is not a peer"));
  // The real channel still works and nobody was lost.
  workers[0]->cluster->send(1, bytes_of("fine"));
  auto batch = workers[1]->inbound.pop_for(5000ms);
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(test::text_of(*batch), "fine");
  EXPECT_TRUE(workers[0]->lost().empty());
  EXPECT_TRUE(workers[1]->lost().empty());
}

TEST(ClusterGarbage, DataHelloBeforeTheMembershipKeepsItsListenerPlaceUntilValidated) {
  // A data-hello that arrives before this worker knows the membership cannot be checked yet: the connection keeps
  // its place in the listener's limit (and its small frame limit) until the membership says whether it is a peer.
  LogCapture::instance().clear();
  std::uint16_t control = test::free_port();
  test::TestWorker initializer(test::initializer_config(control, 3));
  initializer.start_forming();
  auto config = test::worker_config("w1", control);
  std::uint16_t data_port = test::free_port();
  config.data = test::local(data_port);
  config.max_connections_per_port = 2;
  test::TestWorker w1(config);
  w1.start_forming();
  ASSERT_TRUE(LogCapture::instance().wait_for("cluster: worker 'w1' joined (2 of 3)"));
  Client early_a(data_port);
  early_a.send(cluster_frame(32, std::string("\0\0\0\7", 4)));
  Client early_b(data_port);
  early_b.send(cluster_frame(32, std::string("\0\0\0\7", 4)));
  // Both places are taken: a third connection waits in the backlog, unserved (its garbage is not read).
  Client waiting(data_port);
  waiting.send("GET / HTTP/1.1\r\n\r\n");
  EXPECT_FALSE(waiting.wait_closed_by_peer(1500ms));
  // The membership arrives with a third worker: index 7 is no peer, both early connections go, and the waiting one
  // is served (and closed for its garbage).
  test::TestWorker w2(test::worker_config("w2", control));
  w2.start_forming();
  EXPECT_TRUE(w1.wait_formed());
  EXPECT_TRUE(early_a.wait_closed_by_peer());
  EXPECT_TRUE(early_b.wait_closed_by_peer());
  EXPECT_TRUE(LogCapture::instance().wait_for("cluster: closing data connection from " + peer_of(early_a) +
                                              ": data-hello from worker index 7, which is not a peer"));
  EXPECT_TRUE(waiting.wait_closed_by_peer());
  EXPECT_TRUE(LogCapture::instance().wait_for("cluster: closing data connection from " + peer_of(waiting) +
                                              ": frame of 1195725856 bytes exceeds the limit of 4096 bytes"));
  EXPECT_TRUE(initializer.wait_formed());
  EXPECT_TRUE(w2.wait_formed());
}

TEST(ClusterGarbage, ExternalPortClosesOnlyTheBadConnection) {
  auto workers = test::formed_cluster(2);
  ASSERT_EQ(workers.size(), 2u);
  LogCapture::instance().clear();
  std::uint16_t port = workers[1]->external_port();
  Client text(port);
  text.send("GET / HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(text.wait_closed_by_peer());
  EXPECT_TRUE(LogCapture::instance().wait_for("cluster: closing external connection from " + peer_of(text) +
                                              ": frame of 1195725856 bytes exceeds the limit of 65536 bytes"));
  Client unknown(port);
  unknown.send_external(99, "?");
  EXPECT_TRUE(unknown.wait_closed_by_peer());
  EXPECT_TRUE(LogCapture::instance().wait_for("cluster: closing external connection from " + peer_of(unknown) +
                                              ": unknown message id 99"));
  Client short_frame(port);
  short_frame.send(std::string("\0\0\0\1\1", 5));
  EXPECT_TRUE(short_frame.wait_closed_by_peer());
  EXPECT_TRUE(LogCapture::instance().wait_for("cluster: closing external connection from " + peer_of(short_frame) +
                                              ": frame of 1 bytes has no message id"));
  Client good(port);
  good.send_external(9, "");
  auto [id, body] = good.read_external();
  EXPECT_EQ(id, 10);
  EXPECT_TRUE(workers[0]->lost().empty());
}

}  // namespace
}  // namespace roo::cluster
