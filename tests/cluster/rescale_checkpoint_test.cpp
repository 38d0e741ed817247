// Growing and shrinking with checkpoints on (docs/resilience.md, "Growing and shrinking"), over loopback between
// real cluster objects: a checkpoint and a membership change never overlap, a leaver goes only once a checkpoint
// without it is complete, a joiner starts empty, and the initializer forms as a checkpoint's layout recorded it.
#include "cluster_test_support.hpp"

#include <gtest/gtest.h>

namespace roo::cluster {
namespace {

using namespace std::chrono_literals;
using test::Client;
using test::LogCapture;
using test::TestWorker;
using test::wait_until;

using Reply = std::pair<std::uint16_t, std::string>;
using Events = std::vector<std::string>;

void with_checkpoints(ClusterConfig& config) {
  config.key_groups = 256;
  config.roll_back_on_loss = true;
  config.restore_checkpoint = 7;  // only the initializer's counts
}

bool wait_events(TestWorker& worker, const Events& expected) {
  return wait_until([&] { return worker.rescale_events() == expected; }, 5000ms);
}

/// Nothing of `what` happens for a while.
bool stays(const std::function<bool()>& what) {
  std::this_thread::sleep_for(150ms);
  return what();
}

Reply ask(std::uint16_t port, std::uint16_t id, std::string_view payload = "") {
  Client client(port);
  client.send_external(id, payload);
  return client.read_external();
}

TEST(ClusterRescaleCheckpoints, AShrinkWaitsForTheCheckpointInProgressAndItsLeaverForOneWithoutIt) {
  auto workers = test::formed_cluster(2, 1024, with_checkpoints);
  ASSERT_EQ(workers.size(), 2u);
  ASSERT_TRUE(workers[0]->cluster->begin_checkpoint(7));  // the cluster's first checkpoint: a shrink may follow
  workers[0]->cluster->end_checkpoint(7, true);
  ASSERT_TRUE(workers[0]->cluster->begin_checkpoint(8));
  EXPECT_EQ(ask(workers[0]->external_port(), 4, R"({"node_names":["w1"]})"),
            (Reply{5, R"({"node_names":["w1"],"node_count":1})"}));
  EXPECT_TRUE(stays([&] { return workers[0]->rescale_events().empty(); }));  // held by checkpoint 8
  EXPECT_EQ(ask(workers[0]->external_port(), 4, R"({"node_names":["w1"]})"),
            (Reply{6, "a rescale is in progress; ask again when it is over"}));

  workers[0]->cluster->end_checkpoint(8, true);
  EXPECT_TRUE(wait_events(*workers[0], {"pause 1", "move 1 owns 256", "resume 1"}))
      << testing::PrintToString(workers[0]->rescale_events());
  EXPECT_TRUE(wait_events(*workers[1], {"pause 1", "move 1 owns 0 departs"}))
      << testing::PrintToString(workers[1]->rescale_events());
  // Checkpoint 8 had w1 in it: a recovery to it needs w1, which stays until a checkpoint without it is complete.
  EXPECT_TRUE(stays([&] { return workers[1]->exits == 0; }));
  ASSERT_TRUE(workers[0]->cluster->begin_checkpoint(9));
  workers[0]->cluster->end_checkpoint(9, false);  // failed: not one to recover to
  EXPECT_TRUE(stays([&] { return workers[1]->exits == 0; }));
  ASSERT_TRUE(workers[0]->cluster->begin_checkpoint(10));
  workers[0]->cluster->end_checkpoint(10, true);
  EXPECT_TRUE(wait_until([&] { return workers[1]->stops == 1 && workers[1]->exits == 1; }));
  // The leaver took no part in 9 or 10 (it is departed): it heard of 7 and 8 only. It heard 8 complete before the
  // pause: its sinks commit 8 before they hand what is not committed over at the move.
  EXPECT_EQ(workers[1]->checkpoint_events(), (Events{"begin 7", "complete 7", "begin 8", "complete 8"}));
  EXPECT_EQ(workers[1]->timeline(),
            (Events{"begin 7", "complete 7", "begin 8", "complete 8", "pause 1", "move 1 owns 0 departs"}));
  workers[1].reset();
  EXPECT_TRUE(workers[0]->lost().empty());
}

// A checkpoint's hold is released on the strand once its completion went out; one begun meanwhile keeps its own.
TEST(ClusterRescaleCheckpoints, ACheckpointBegunRightAfterAnotherEndedStillHoldsAShrinkBack) {
  auto workers = test::formed_cluster(2, 1024, with_checkpoints);
  ASSERT_EQ(workers.size(), 2u);
  ASSERT_TRUE(workers[0]->cluster->begin_checkpoint(7));
  workers[0]->cluster->end_checkpoint(7, true);
  ASSERT_TRUE(workers[0]->cluster->begin_checkpoint(8));
  EXPECT_EQ(ask(workers[0]->external_port(), 4, R"({"node_names":["w1"]})"),
            (Reply{5, R"({"node_names":["w1"],"node_count":1})"}));
  workers[0]->cluster->end_checkpoint(8, true);
  if (!workers[0]->cluster->begin_checkpoint(9)) {
    GTEST_SKIP() << "the shrink's round began between the two calls";
  }
  EXPECT_TRUE(stays([&] { return workers[0]->rescale_events().empty(); }));  // held by checkpoint 9
  workers[0]->cluster->end_checkpoint(9, true);
  EXPECT_TRUE(wait_events(*workers[1], {"pause 1", "move 1 owns 0 departs"}))
      << testing::PrintToString(workers[1]->rescale_events());
  EXPECT_EQ(workers[1]->timeline(), (Events{"begin 7", "complete 7", "begin 8", "complete 8", "begin 9", "complete 9",
                                            "pause 1", "move 1 owns 0 departs"}));
}

// A shrink held back by a checkpoint is not begun when a worker is lost: the cluster rolls back, and the shrink is
// forgotten with a line that says so (its leaver is still a member of the checkpoint the cluster goes back to).
TEST(ClusterRescaleCheckpoints, AShrinkHeldBackByACheckpointAndUndoneByARollbackSaysSo) {
  auto workers = test::formed_cluster(3, 1024, with_checkpoints);
  ASSERT_EQ(workers.size(), 3u);
  ASSERT_TRUE(workers[0]->cluster->begin_checkpoint(7));
  workers[0]->cluster->end_checkpoint(7, true);
  ASSERT_TRUE(workers[0]->cluster->begin_checkpoint(8));
  EXPECT_EQ(ask(workers[0]->external_port(), 4, R"({"node_names":["w1"]})"),
            (Reply{5, R"({"node_names":["w1"],"node_count":1})"}));
  LogCapture::instance().clear();
  workers[2].reset();
  EXPECT_TRUE(wait_until([] {
    return LogCapture::instance().count_containing(
               "cluster: the shrink of 'w1' had not begun when worker 'w2' was lost; the rollback forgets it: ask for "
               "it again") == 1;
  }));
  EXPECT_TRUE(workers[0]->rescale_events().empty());
}

TEST(ClusterRescaleCheckpoints, NoCheckpointBeginsWhileAWorkerJoinsAndNoWorkerJoinsDuringOne) {
  auto workers = test::formed_cluster(1, 1024, with_checkpoints);
  ASSERT_EQ(workers.size(), 1u);
  std::uint16_t control = workers[0]->membership().workers[0].control.port;
  auto config = test::worker_config("w1", control);
  config.joining = true;
  TestWorker joiner(config);
  joiner.hold_moved = true;  // the round stays in its move
  joiner.start_forming();
  // No checkpoint of this cluster yet: a recovery would find none of the membership the joiner changes.
  EXPECT_TRUE(stays([&] { return workers[0]->rescale_events().empty(); }));
  ASSERT_TRUE(workers[0]->cluster->begin_checkpoint(1));
  workers[0]->cluster->end_checkpoint(1, false);  // failed: still none
  EXPECT_TRUE(stays([&] { return workers[0]->rescale_events().empty(); }));
  ASSERT_TRUE(workers[0]->cluster->begin_checkpoint(2));
  workers[0]->cluster->end_checkpoint(2, true);
  ASSERT_TRUE(joiner.wait_formed());
  EXPECT_EQ(joiner.membership().restore_checkpoint, 0u);  // a joiner starts empty: its groups bring their state
  ASSERT_TRUE(wait_until([&] { return joiner.rescale_events() == Events{"pause 1", "move 1 owns 128"}; }));
  EXPECT_FALSE(workers[0]->cluster->begin_checkpoint(3));
  joiner.hold_moved = false;
  joiner.cluster->rescale_moved(1);
  ASSERT_TRUE(wait_events(*workers[0], {"members 2", "pause 1", "move 1 owns 128", "resume 1"}));
  ASSERT_TRUE(wait_until([&] { return workers[0]->cluster->begin_checkpoint(3); }));

  auto second = test::worker_config("w2", control);
  second.joining = true;
  TestWorker waiting(second);
  waiting.start_forming();
  EXPECT_TRUE(stays([&] { return workers[0]->rescale_events().size() == 4; }));  // held by checkpoint 3
  workers[0]->cluster->end_checkpoint(3, true);
  ASSERT_TRUE(waiting.wait_formed());
  EXPECT_TRUE(wait_events(*workers[0], {"members 2", "pause 1", "move 1 owns 128", "resume 1", "members 3", "pause 2",
                                        "move 2 owns 86", "resume 2"}))
      << testing::PrintToString(workers[0]->rescale_events());
}

TEST(ClusterRescaleCheckpoints, TheInitializerFormsAsTheCheckpointsLayoutRecordedIt) {
  // Recorded after w1 left: w2 at index 2, the groups shared by the initializer and w2.
  Membership layout;
  for (const char* name : {"initializer", "w1", "w2"}) {
    layout.workers.push_back(WorkerInfo{name, {}, {}, std::nullopt});
  }
  layout.departed = {false, true, false};
  layout.key_groups = 256;
  for (std::uint16_t group = 0; group < 256; ++group) {
    layout.owners.push_back(group < 100 ? 0 : 2);
  }
  layout.version = 5;
  std::uint16_t control = test::free_port();
  auto config = test::initializer_config(control, 3);  // --worker-count 3 as first started: the layout wins
  with_checkpoints(config);
  config.layout = layout;
  TestWorker initializer(config);
  TestWorker newcomer(test::worker_config("w5", control));  // not in the layout: joins once the cluster formed
  newcomer.start_forming();
  initializer.start_forming();
  EXPECT_TRUE(stays([&] { return !initializer.wait_done(0ms); }));  // waits for w2 alone
  auto w2_config = test::worker_config("w2", control);
  with_checkpoints(w2_config);
  TestWorker w2(w2_config);
  w2.start_forming();
  ASSERT_TRUE(initializer.wait_formed());
  ASSERT_TRUE(w2.wait_formed());
  Membership formed = w2.membership();
  ASSERT_EQ(formed.workers.size(), 3u);
  EXPECT_EQ(formed.self, 2u);
  EXPECT_EQ(formed.workers[1].name, "w1");
  EXPECT_EQ(formed.departed, (std::vector<bool>{false, true, false}));
  EXPECT_EQ(formed.owners, layout.owners);
  EXPECT_EQ(formed.version, 5u);
  EXPECT_EQ(formed.restore_checkpoint, 7u);
  ASSERT_TRUE(newcomer.wait_formed());
  Membership grown = newcomer.membership();
  ASSERT_EQ(grown.workers.size(), 4u);
  EXPECT_EQ(grown.self, 3u);
  EXPECT_EQ(grown.restore_checkpoint, 0u);
  // 256 groups over 3 live workers: w2, which owned most, keeps 86; the newcomer takes 85 from the two.
  EXPECT_TRUE(wait_events(initializer, {"members 4", "pause 1", "move 1 owns 85", "resume 1"}))
      << testing::PrintToString(initializer.rescale_events());
  EXPECT_TRUE(wait_events(newcomer, {"pause 1", "move 1 owns 85", "resume 1"}))
      << testing::PrintToString(newcomer.rescale_events());
  EXPECT_TRUE(initializer.lost().empty());
}

}  // namespace
}  // namespace roo::cluster
