#include "cluster_test_support.hpp"
#include "gathered_queries.hpp"
#include "wire.hpp"

#include "roo/core/big_endian.hpp"

#include <gtest/gtest.h>

namespace roo::cluster {
namespace {

using namespace std::chrono_literals;
using test::Client;
using test::TestWorker;
using test::wait_until;

using Reply = std::pair<std::uint16_t, std::string>;
using Events = std::vector<std::string>;

std::uint16_t control_port(TestWorker& initializer) { return initializer.membership().workers[0].control.port; }

ClusterConfig joiner_config(std::string name, std::uint16_t control) {
  auto config = test::worker_config(std::move(name), control);
  config.joining = true;  // --join
  return config;
}

bool wait_events(TestWorker& worker, const Events& expected) {
  return wait_until([&] { return worker.rescale_events() == expected; }, 5000ms);
}

Reply ask(std::uint16_t port, std::uint16_t id, std::string_view payload = "") {
  Client client(port);
  client.send_external(id, payload);
  return client.read_external();
}

TEST(ClusterRescale, AWorkerJoiningARunningClusterGetsItsShareInOneRound) {
  auto workers = test::formed_cluster(2, 1024, [](ClusterConfig& config) { config.key_groups = 256; });
  ASSERT_EQ(workers.size(), 2u);
  TestWorker joiner(joiner_config("w9", control_port(*workers[0])));
  joiner.start_forming();
  ASSERT_TRUE(joiner.wait_formed());
  Membership joined = joiner.membership();
  ASSERT_EQ(joined.workers.size(), 3u);
  EXPECT_EQ(joined.self, 2u);
  EXPECT_EQ(joined.workers[2].name, "w9");
  ASSERT_EQ(joined.owners.size(), 256u);  // explicit, and still the two first workers'
  EXPECT_EQ(joined.owner(0), 0u);
  EXPECT_EQ(joined.owner(1), 1u);
  // 256 groups over 3: the initializer keeps the larger share, the joiner takes 85 and nobody else gives any.
  EXPECT_TRUE(wait_events(*workers[0], {"members 3", "pause 1", "move 1 owns 86", "resume 1"}))
      << testing::PrintToString(workers[0]->rescale_events());
  EXPECT_TRUE(wait_events(*workers[1], {"members 3", "pause 1", "move 1 owns 85", "resume 1"}))
      << testing::PrintToString(workers[1]->rescale_events());
  EXPECT_TRUE(wait_events(joiner, {"pause 1", "move 1 owns 85", "resume 1"}))
      << testing::PrintToString(joiner.rescale_events());
  // Data flows both ways with the joiner.
  ASSERT_TRUE(joiner.cluster->send(1, test::bytes_of("to w1")));
  ASSERT_TRUE(workers[1]->cluster->send(2, test::bytes_of("to w9")));
  auto at_w1 = workers[1]->inbound.pop_for(5000ms);
  ASSERT_TRUE(at_w1.has_value());
  EXPECT_EQ(at_w1->from(), 2u);
  EXPECT_EQ(test::text_of(*at_w1), "to w1");
  auto at_joiner = joiner.inbound.pop_for(5000ms);
  ASSERT_TRUE(at_joiner.has_value());
  EXPECT_EQ(test::text_of(*at_joiner), "to w9");
}

/// The message types of every whole frame in `bytes` (u32 BE length, then the body whose first byte is the type).
std::vector<MessageType> frame_types(const std::string& bytes) {
  std::vector<MessageType> types;
  for (std::size_t at = 0; at + 5 <= bytes.size();) {
    std::uint32_t length = core::load_u32_be(bytes.data() + at);
    types.push_back(static_cast<MessageType>(bytes[at + 4]));
    at += 4 + length;
  }
  return types;
}

// A joiner is a member as soon as it is admitted, but it has its membership only once every worker's channel to it
// is up: until then a status query, a loss notice or a stop must not reach it (it would take them for malformed
// frames and exit), and a stop turns it away. This joiner's data port takes no connection, so it stays there.
TEST(ClusterRescale, AJoinerWithoutItsMembershipHearsNoQueryAndAStopTurnsItAway) {
  auto workers = test::formed_cluster(2);
  ASSERT_EQ(workers.size(), 2u);
  workers[0]->set_answer(21, R"({"n":0})");
  workers[1]->set_answer(21, R"({"n":1})");
  Client joiner(control_port(*workers[0]));
  auto hello = encode_hello(
      HelloMessage{"w9", test::local(test::free_port()), test::local(test::free_port()), std::nullopt, "app-1", true});
  std::string frame(4, '\0');
  core::store_u32_be(frame.data(), static_cast<std::uint32_t>(hello.size()));
  frame.append(hello.data(), hello.size());
  joiner.send(frame);
  ASSERT_TRUE(wait_events(*workers[1], {"members 3"})) << testing::PrintToString(workers[1]->rescale_events());

  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(ask(workers[0]->external_port(), 25), (Reply{26, R"({"initializer":{"n":0},"w1":{"n":1}})"}));
  EXPECT_LT(std::chrono::steady_clock::now() - started, GatheredQueries::answer_patience / 2);  // not waited for
  workers[0]->cluster->request_stop();
  EXPECT_TRUE(wait_until([&] { return workers[0]->exits.load() == 1 && workers[1]->exits.load() == 1; }, 3000ms));
  // The stop turned it away: one reject, with the reason; nothing else.
  std::string heard = joiner.read_available();
  EXPECT_EQ(frame_types(heard), std::vector<MessageType>{MessageType::reject});
  EXPECT_NE(heard.find("the cluster is stopping"), std::string::npos);
  EXPECT_TRUE(workers[0]->lost().empty());
  EXPECT_TRUE(workers[1]->lost().empty());
}

TEST(ClusterRescale, AJoinerIsRefusedWhenTheApplicationCannotRescale) {
  auto workers =
      test::formed_cluster(2, 1024, [](ClusterConfig& config) { config.rescale_refusal = "its pipeline has windows"; });
  ASSERT_EQ(workers.size(), 2u);
  std::uint16_t control = control_port(*workers[0]);
  TestWorker joiner(joiner_config("w9", control));
  joiner.start_forming();
  ASSERT_TRUE(joiner.wait_done());
  EXPECT_EQ(joiner.error(), "join the cluster at 127.0.0.1:" + std::to_string(control) +
                                ": the cluster cannot grow while it runs: its pipeline has windows");
  EXPECT_TRUE(workers[0]->rescale_events().empty());
  // Without --join, a worker after formation is one too many, as before growing existed.
  TestWorker late(test::worker_config("w8", control));
  late.start_forming();
  ASSERT_TRUE(late.wait_done());
  EXPECT_EQ(late.error(), "join the cluster at 127.0.0.1:" + std::to_string(control) +
                              ": the cluster already has all of its 2 workers");
}

TEST(ClusterRescale, AShrinkRequestOnAnyWorkerMovesTheLeaversGroupsAndLetsThemGo) {
  std::uint16_t external = test::free_port();
  auto workers = test::formed_cluster(3, 1024, [&](ClusterConfig& config) {
    config.key_groups = 256;
    if (config.worker_name == "w1") {
      config.external = test::local(external);
    }
  });
  ASSERT_EQ(workers.size(), 3u);
  EXPECT_EQ(ask(external, 4, R"({"query":true})"), (Reply{5, R"({"node_names":["w1","w2"],"node_count":2})"}));
  EXPECT_EQ(ask(external, 4, R"({"query":false,"node_names":["initializer"],"node_count":0})"),
            (Reply{6, "the initializer ('initializer') cannot leave the cluster"}));
  EXPECT_EQ(ask(external, 4, R"({"node_names":["w7","w2"]})"),
            (Reply{6,
                   "no worker named 'w7' can leave (the cluster's workers: 'initializer', 'w1', 'w2'); nothing "
                   "changes"}));
  EXPECT_EQ(ask(external, 4, "not json"),
            (Reply{6, R"(a shrink request is JSON {"query":bool,"node_names":["<worker>",...],"node_count":<int>})"}));
  EXPECT_TRUE(workers[0]->rescale_events().empty());

  EXPECT_EQ(ask(external, 4, R"({"query":false,"node_names":["w2"],"node_count":0})"),
            (Reply{5, R"({"node_names":["w2"],"node_count":1})"}));
  EXPECT_TRUE(wait_events(*workers[0], {"pause 1", "move 1 owns 128", "resume 1"}))
      << testing::PrintToString(workers[0]->rescale_events());
  EXPECT_TRUE(wait_events(*workers[1], {"pause 1", "move 1 owns 128", "resume 1"}))
      << testing::PrintToString(workers[1]->rescale_events());
  EXPECT_TRUE(wait_events(*workers[2], {"pause 1", "move 1 owns 0 departs"}))
      << testing::PrintToString(workers[2]->rescale_events());
  EXPECT_TRUE(wait_until([&] { return workers[2]->stops == 1 && workers[2]->exits == 1; }));
  workers[2].reset();  // the leaver exits: no loss for the others
  EXPECT_EQ(ask(external, 9),
            (Reply{10, R"({"worker_count":2,"worker_names":["initializer","w1"],"processing_messages":true})"}));
  // Started again with the command it was first started with (no --join), it is told how to come back.
  std::uint16_t control = control_port(*workers[0]);
  TestWorker again(test::worker_config("w2", control));
  again.start_forming();
  ASSERT_TRUE(again.wait_done());
  EXPECT_EQ(again.error(), "join the cluster at 127.0.0.1:" + std::to_string(control) +
                               ": worker 'w2' left the cluster; to take part again, start it with --join <a worker's "
                               "control address>");
  // A count larger than can leave: as many as can (the initializer stays).
  EXPECT_EQ(ask(external, 4, R"({"node_count":5})"), (Reply{5, R"({"node_names":["w1"],"node_count":1})"}));
  EXPECT_TRUE(wait_until([&] { return workers[1]->exits == 1; }));
  EXPECT_TRUE(workers[0]->lost().empty());
}

TEST(ClusterRescale, AJoinerLostAfterTheMoveHasItsGroupsGivenBackInTheSameRound) {
  auto workers = test::formed_cluster(2, 1024, [](ClusterConfig& config) { config.key_groups = 256; });
  ASSERT_EQ(workers.size(), 2u);
  auto joiner = std::make_unique<TestWorker>(joiner_config("w9", control_port(*workers[0])));
  joiner->hold_moved = true;  // still restoring what it was given
  joiner->start_forming();
  ASSERT_TRUE(joiner->wait_formed());
  ASSERT_TRUE(wait_events(*joiner, {"pause 1", "move 1 owns 85"})) << testing::PrintToString(joiner->rescale_events());
  joiner.reset();  // lost mid-round
  // A second move of round 1: each gets back what it gave, and the round ends with the cluster as it was.
  EXPECT_TRUE(wait_events(*workers[0], {"members 3", "pause 1", "move 1 owns 86", "move 1 owns 128", "resume 1"}))
      << testing::PrintToString(workers[0]->rescale_events());
  EXPECT_TRUE(wait_events(*workers[1], {"members 3", "pause 1", "move 1 owns 85", "move 1 owns 128", "resume 1"}))
      << testing::PrintToString(workers[1]->rescale_events());
  // The next joiner opens channels only to the two that stay, and gets its share.
  TestWorker next(joiner_config("w10", control_port(*workers[0])));
  next.start_forming();
  ASSERT_TRUE(next.wait_formed());
  EXPECT_TRUE(wait_events(next, {"pause 2", "move 2 owns 85", "resume 2"}))
      << testing::PrintToString(next.rescale_events());
  EXPECT_EQ(ask(workers[1]->external_port(), 9),
            (Reply{10, R"({"worker_count":3,"worker_names":["initializer","w1","w10"],"processing_messages":true})"}));
}

TEST(ClusterRescale, AJoinerNamingAWorkerThatIsNotTheInitializerIsSentOnToIt) {
  auto workers = test::formed_cluster(2, 1024, [](ClusterConfig& config) { config.key_groups = 256; });
  ASSERT_EQ(workers.size(), 2u);
  TestWorker joiner(joiner_config("w9", workers[1]->membership().workers[1].control.port));
  joiner.start_forming();
  ASSERT_TRUE(joiner.wait_formed()) << joiner.error().value_or("");
  EXPECT_EQ(joiner.membership().workers.size(), 3u);
  EXPECT_TRUE(wait_events(joiner, {"pause 1", "move 1 owns 85", "resume 1"}))
      << testing::PrintToString(joiner.rescale_events());
  // A worker that joined through another sends the next joiner to the initializer, not to the one it named.
  TestWorker next(joiner_config("w10", joiner.membership().workers[2].control.port));
  next.start_forming();
  ASSERT_TRUE(next.wait_formed()) << next.error().value_or("");
  EXPECT_EQ(next.membership().workers.size(), 4u);
}

// A worker that owned key groups is lost (its state with it); a joiner afterwards still joins: its membership names
// the lost worker departed and still owning its groups, until the round deals them out with the joiner's share.
TEST(ClusterRescale, AJoinerAfterAnOwningWorkerWasLostJoinsAndTheRoundDealsTheLostGroups) {
  auto workers = test::formed_cluster(3, 1024, [](ClusterConfig& config) { config.key_groups = 256; });
  ASSERT_EQ(workers.size(), 3u);
  workers[2].reset();
  ASSERT_TRUE(wait_until([&] { return workers[0]->lost() == std::vector<std::size_t>{2}; }, 5000ms));
  ASSERT_TRUE(wait_until([&] { return workers[1]->lost() == std::vector<std::size_t>{2}; }, 5000ms));
  TestWorker joiner(joiner_config("w9", control_port(*workers[0])));
  joiner.start_forming();
  ASSERT_TRUE(joiner.wait_formed()) << joiner.error().value_or("");
  // 256 groups had been dealt over 3 (86, 85, 85); w2's 85 and the joiner's share are dealt in one round.
  EXPECT_TRUE(wait_events(*workers[0], {"members 4", "pause 1", "move 1 owns 86", "resume 1"}))
      << testing::PrintToString(workers[0]->rescale_events());
  EXPECT_TRUE(wait_events(*workers[1], {"members 4", "pause 1", "move 1 owns 85", "resume 1"}))
      << testing::PrintToString(workers[1]->rescale_events());
  EXPECT_TRUE(wait_events(joiner, {"pause 1", "move 1 owns 85", "resume 1"}))
      << testing::PrintToString(joiner.rescale_events());
  EXPECT_EQ(ask(workers[1]->external_port(), 9),
            (Reply{10, R"({"worker_count":3,"worker_names":["initializer","w1","w9"],"processing_messages":true})"}));
}

// A leaver killed after its move went out, before the round ended: the round ends without it.
TEST(ClusterRescale, ALeaverLostDuringItsRoundDoesNotHoldTheRoundUp) {
  auto workers = test::formed_cluster(3, 1024, [](ClusterConfig& config) { config.key_groups = 256; });
  ASSERT_EQ(workers.size(), 3u);
  std::uint16_t external = workers[1]->external_port();
  workers[2]->hold_moved = true;  // still handing over
  EXPECT_EQ(ask(external, 4, R"({"node_names":["w2"]})"), (Reply{5, R"({"node_names":["w2"],"node_count":1})"}));
  ASSERT_TRUE(wait_events(*workers[2], {"pause 1", "move 1 owns 0 departs"}))
      << testing::PrintToString(workers[2]->rescale_events());
  workers[2].reset();
  EXPECT_TRUE(wait_events(*workers[0], {"pause 1", "move 1 owns 128", "resume 1"}))
      << testing::PrintToString(workers[0]->rescale_events());
  EXPECT_TRUE(wait_events(*workers[1], {"pause 1", "move 1 owns 128", "resume 1"}))
      << testing::PrintToString(workers[1]->rescale_events());
  EXPECT_EQ(ask(external, 9),
            (Reply{10, R"({"worker_count":2,"worker_names":["initializer","w1"],"processing_messages":true})"}));
}

}  // namespace
}  // namespace roo::cluster
