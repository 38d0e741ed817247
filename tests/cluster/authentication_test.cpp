#include "cluster_test_support.hpp"
#include "wire.hpp"

#include "roo/core/big_endian.hpp"
#include "roo/core/secret_handshake.hpp"

#include <gtest/gtest.h>

namespace roo::cluster {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using test::Client;
using test::LogCapture;
using test::TestWorker;
using test::wait_until;

ClusterConfig with_secret(ClusterConfig config, std::string secret) {
  config.cluster_secret = core::SharedSecret(std::move(secret));
  return config;
}

std::string frame_of(std::string_view body) {
  std::string frame(4, '\0');
  core::store_u32_be(frame.data(), static_cast<std::uint32_t>(body.size()));
  frame.append(body);
  return frame;
}

/// Everything the server sent until it closed the connection (or 3 s passed).
std::string read_until_closed(std::uint16_t port, std::string_view send) {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  asio::write(socket, asio::buffer(send.data(), send.size()));
  std::string received;
  auto deadline = std::chrono::steady_clock::now() + 3s;
  socket.non_blocking(true);
  while (std::chrono::steady_clock::now() < deadline) {
    char chunk[4096];
    boost::system::error_code error;
    std::size_t got = socket.read_some(asio::buffer(chunk), error);
    received.append(chunk, got);
    if (error && error != asio::error::would_block) {
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  return received;
}

void wait_listening(std::uint16_t port) {
  ASSERT_TRUE(wait_until([&] {
    try {
      Client probe(port);
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }));
}

TEST(ClusterAuthentication, WorkersWithTheSameSecretFormAndExchangeData) {
  std::uint16_t control = test::free_port();
  TestWorker initializer(with_secret(test::initializer_config(control, 3), "s3cret"));
  TestWorker w1(with_secret(test::worker_config("w1", control), "s3cret"));
  TestWorker w2(with_secret(test::worker_config("w2", control), "s3cret"));
  for (auto* worker : {&initializer, &w1, &w2}) {
    worker->start_forming();
  }
  ASSERT_TRUE(initializer.wait_formed());
  ASSERT_TRUE(w1.wait_formed());
  ASSERT_TRUE(w2.wait_formed());
  w1.cluster->send(2, test::bytes_of("to w2"));
  auto batch = w2.inbound.pop_for(5000ms);
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(test::text_of(*batch), "to w2");
  EXPECT_EQ(batch->from(), 1u);
}

TEST(ClusterAuthentication, WrongSecretIsRefusedWithAClearLineOnBothSides) {
  LogCapture::instance().clear();
  std::uint16_t control = test::free_port();
  TestWorker initializer(with_secret(test::initializer_config(control, 2), "right"));
  TestWorker stranger(with_secret(test::worker_config("w1", control), "wrong"));
  initializer.start_forming();
  stranger.start_forming();
  ASSERT_TRUE(stranger.wait_done());
  EXPECT_EQ(stranger.error(), "join the cluster at 127.0.0.1:" + std::to_string(control) +
                                  ": the initializer's cluster secret differs from this worker's");
  EXPECT_TRUE(wait_until([] {
    return LogCapture::instance().count_containing(": its cluster secret differs from this worker's") == 1;
  }));
  EXPECT_EQ(LogCapture::instance().count_containing("cluster: refused control connection from 127.0.0.1:"), 1u);
  EXPECT_FALSE(initializer.wait_done(100ms));
  // The right secret still joins.
  TestWorker w1(with_secret(test::worker_config("w1", control), "right"));
  w1.start_forming();
  EXPECT_TRUE(w1.wait_formed());
  EXPECT_TRUE(initializer.wait_formed());
}

TEST(ClusterAuthentication, MissingSecretOnEitherSideIsNamed) {
  LogCapture::instance().clear();
  std::uint16_t control = test::free_port();
  TestWorker initializer(with_secret(test::initializer_config(control, 2), "right"));
  TestWorker plain(test::worker_config("w1", control));
  initializer.start_forming();
  plain.start_forming();
  ASSERT_TRUE(plain.wait_done());
  EXPECT_EQ(plain.error(), "join the cluster at 127.0.0.1:" + std::to_string(control) +
                               ": the initializer requires a cluster secret and this worker has none (set "
                               "--cluster-secret-file or ROO_CLUSTER_SECRET_FILE)");
  EXPECT_TRUE(wait_until([] {
    return LogCapture::instance().count_containing(
               ": it did not authenticate (it sent a hello message first; has it no cluster secret?)") == 1;
  }));

  std::uint16_t plain_control = test::free_port();
  TestWorker plain_initializer(test::initializer_config(plain_control, 2));
  TestWorker secretive(with_secret(test::worker_config("w1", plain_control), "right"));
  plain_initializer.start_forming();
  secretive.start_forming();
  ASSERT_TRUE(secretive.wait_done());
  EXPECT_EQ(secretive.error(), "join the cluster at 127.0.0.1:" + std::to_string(plain_control) +
                                   ": the initializer refused this worker: it has no cluster secret of its own");
}

TEST(ClusterAuthentication, StrangerWithAForgedHelloLearnsNothing) {
  LogCapture::instance().clear();
  std::uint16_t control = test::free_port();
  TestWorker initializer(with_secret(test::initializer_config(control, 2), "right"));
  initializer.start_forming();
  wait_listening(control);
  // A hello as a worker of another application would send it, without authenticating.
  HelloMessage hello{"intruder", test::local(1), test::local(2), std::nullopt, "stranger-app"};
  auto body = encode_hello(hello);
  std::string received = read_until_closed(control, frame_of(std::string_view(body.data(), body.size())));
  EXPECT_EQ(received.find("app-1"), std::string::npos);
  EXPECT_EQ(received.find("initializer"), std::string::npos);
  EXPECT_NE(received.find("a cluster secret is required"), std::string::npos);
  // A forged challenge and proof do no better.
  std::string challenge = frame_of(std::string("\x28", 1) + std::string(32, 'n'));
  std::string proof = frame_of(std::string("\x29", 1) + std::string(32, 'p'));
  received = read_until_closed(control, challenge + proof + frame_of(std::string_view(body.data(), body.size())));
  EXPECT_EQ(received.find("app-1"), std::string::npos);
  EXPECT_NE(received.find("the cluster secret does not match"), std::string::npos);
  EXPECT_FALSE(initializer.wait_done(100ms));
  EXPECT_EQ(LogCapture::instance().count_containing("joined"), 0u);
}

TEST(ClusterAuthentication, DataFromAStrangerNeverReachesTheMailbox) {
  std::uint16_t control = test::free_port();
  TestWorker initializer(with_secret(test::initializer_config(control, 2), "right"));
  TestWorker w1(with_secret(test::worker_config("w1", control), "right"));
  initializer.start_forming();
  w1.start_forming();
  ASSERT_TRUE(initializer.wait_formed());
  ASSERT_TRUE(w1.wait_formed());
  LogCapture::instance().clear();
  std::uint16_t data_port = w1.membership().workers[1].data.port;
  std::string hello = frame_of(std::string("\x20\0\0\0\0", 5));
  std::string data = frame_of(std::string("\x21", 1) + "payload");
  std::string received = read_until_closed(data_port, hello + data);
  EXPECT_NE(received.find("a cluster secret is required"), std::string::npos);
  EXPECT_FALSE(w1.inbound.pop_for(200ms).has_value());
  EXPECT_TRUE(initializer.lost().empty());
  EXPECT_EQ(LogCapture::instance().count_containing("cluster: refused data connection from 127.0.0.1:"), 1u);
}

/// A client of the external channel that authenticates as `roo ctl --external-secret-file` does.
std::pair<std::uint16_t, std::string> authenticated_request(std::uint16_t port, const std::string& secret,
                                                            std::uint16_t id) {
  Client client(port);
  core::SecretHandshake handshake(secret, "roo external v1", core::SecretHandshake::Role::connector);
  client.send_external(200, handshake.nonce());
  auto [challenge_id, challenge] = client.read_external();
  if (challenge_id != 201 || challenge.size() != 32 || !handshake.take_peer_nonce(challenge)) {
    return {challenge_id, "bad challenge"};
  }
  client.send_external(202, handshake.proof());
  auto [accepted_id, accepted] = client.read_external();
  if (accepted_id != 204 || !handshake.verify(accepted)) {
    return {accepted_id, accepted_id == 204 ? "bad proof" : accepted};
  }
  client.send_external(id, "");
  return client.read_external();
}

TEST(ClusterExternalSecret, RequestsWithoutTheSecretAreRefusedAndShutdownDoesNothing) {
  LogCapture::instance().clear();
  auto config = test::initializer_config(test::free_port(), 1);
  config.external_secret = core::SharedSecret("ext");
  TestWorker initializer(config);
  initializer.start_forming();
  ASSERT_TRUE(initializer.wait_formed());
  std::uint16_t port = initializer.external_port();
  Client shutdown(port);
  shutdown.send_external(3, "");
  auto [id, reason] = shutdown.read_external();
  EXPECT_EQ(id, 203);
  EXPECT_EQ(reason, "this worker's external channel needs the external secret (--external-secret-file)");
  EXPECT_TRUE(shutdown.wait_closed_by_peer());
  EXPECT_TRUE(LogCapture::instance().wait_for(
      "cluster: refused external connection from 127.0.0.1:" + std::to_string(shutdown.local_port()) +
      ": it did not authenticate (it sent message id 3 first; the external channel has a secret)"));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(initializer.stops, 0);
  // A wrong secret gets the challenge but is refused at its proof, before the worker proves anything.
  EXPECT_EQ(authenticated_request(port, "wrong", 9), (std::pair<std::uint16_t, std::string>{
                                                         203, "the external secret does not match"}));
  // The right one is answered.
  auto [status_id, status] = authenticated_request(port, "ext", 9);
  EXPECT_EQ(status_id, 10);
  EXPECT_EQ(status, R"({"worker_count":1,"worker_names":["initializer"],"processing_messages":true})");
}

TEST(ClusterExternalSecret, PrintedTextCannotForgeLogLines) {
  auto workers = test::formed_cluster(1);
  ASSERT_EQ(workers.size(), 1u);
  LogCapture::instance().clear();
  Client client(workers[0]->external_port());
  client.send_external(1, "hi\n2026-01-01 00:00:00.000 E roo.cluster initializer: forged\r\x1b[2J");
  EXPECT_TRUE(LogCapture::instance().wait_for(
      "$$$ ExternalPrint: hi\\n2026-01-01 00:00:00.000 E roo.cluster initializer: forged\\r\\x1b[2J $$$"));
}

}  // namespace
}  // namespace roo::cluster

namespace roo::cluster {
namespace {

TEST(ClusterAuthentication, WarnsOnceWhenListeningBeyondLoopbackWithoutSecrets) {
  LogCapture::instance().clear();
  auto config = test::initializer_config(test::free_port(), 1);
  config.data = core::Endpoint{"0.0.0.0", 0};
  config.external = core::Endpoint{"0.0.0.0", 0};
  TestWorker exposed(config);
  exposed.start_forming();
  ASSERT_TRUE(exposed.wait_formed());
  auto data = exposed.membership().workers[0].data.to_string();
  auto external = exposed.membership().workers[0].external->to_string();
  EXPECT_EQ(LogCapture::instance().count(
                "cluster: no cluster secret, and this worker listens on " + data +
                ", which is not a loopback address: any process that reaches it can join the cluster or send it data; "
                "set --cluster-secret-file (docs/running.md, Security)"),
            1u);
  EXPECT_EQ(LogCapture::instance().count(
                "cluster: no external secret, and the external channel listens on " + external +
                ", which is not a loopback address: any process that reaches it can query the cluster and shut it "
                "down; set --external-secret-file (docs/running.md, Security)"),
            1u);
  // With both secrets, or on loopback, nothing is said.
  LogCapture::instance().clear();
  config.cluster_secret = core::SharedSecret("s");
  config.external_secret = core::SharedSecret("e");
  config.control = test::local(test::free_port());
  TestWorker guarded(config);
  guarded.start_forming();
  ASSERT_TRUE(guarded.wait_formed());
  EXPECT_EQ(LogCapture::instance().count_containing("which is not a loopback address"), 0u);
}

}  // namespace
}  // namespace roo::cluster
