#include "cluster_test_support.hpp"

#include <gtest/gtest.h>

namespace roo::cluster {
namespace {

using namespace std::chrono_literals;
using test::Client;
using test::LogCapture;
using test::wait_until;

using Reply = std::pair<std::uint16_t, std::string>;

Reply ask(std::uint16_t port, std::uint16_t id, std::string_view payload = "") {
  Client client(port);
  client.send_external(id, payload);
  return client.read_external();
}

TEST(ClusterExternal, StatusBeforeFormationIsNotInitialized) {
  std::uint16_t external = test::free_port();
  auto config = test::initializer_config(test::free_port(), 2);
  config.external = test::local(external);
  test::TestWorker initializer(config);
  initializer.start_forming();
  ASSERT_TRUE(wait_until([&] {
    try {
      Client probe(external);
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }));
  EXPECT_EQ(ask(external, 9), (Reply{11, ""}));
  initializer.set_answer(21, R"({"letters":2})");
  EXPECT_EQ(ask(external, 25), (Reply{26, R"({"initializer":{"letters":2}})"}));
}

TEST(ClusterExternal, ClusterStatusListsLiveAndMissingWorkers) {
  auto workers = test::formed_cluster(3);
  ASSERT_EQ(workers.size(), 3u);
  EXPECT_EQ(ask(workers[1]->external_port(), 9),
            (Reply{10, R"({"worker_count":3,"worker_names":["initializer","w1","w2"],"processing_messages":true})"}));
  EXPECT_EQ(ask(workers[1]->external_port(), 9, "roo-details"),
            (Reply{10, R"({"worker_count":3,"worker_names":["initializer","w1","w2"],"processing_messages":true,)"
                       R"("missing_workers":[]})"}));
  workers[2].reset();
  ASSERT_TRUE(wait_until([&] { return workers[1]->lost().size() == 1 && workers[0]->lost().size() == 1; }));
  EXPECT_EQ(ask(workers[0]->external_port(), 9),
            (Reply{10, R"({"worker_count":2,"worker_names":["initializer","w1"],"processing_messages":true})"}));
  EXPECT_EQ(ask(workers[0]->external_port(), 9, "roo-details"),
            (Reply{10, R"({"worker_count":2,"worker_names":["initializer","w1"],"processing_messages":true,)"
                       R"("missing_workers":["w2"]})"}));
}

TEST(ClusterExternal, LocalQueriesAnswerWithTheLocalHook) {
  auto workers = test::formed_cluster(2);
  ASSERT_EQ(workers.size(), 2u);
  auto& w1 = *workers[1];
  w1.set_answer(14, R"({"source_ids":["1234"]})");
  w1.set_answer(17, R"({"letters":["a","b"]})");
  w1.set_answer(19, R"({"p":{"w1":[1]}})");
  w1.set_answer(21, R"({"letters":2})");
  w1.set_answer(23, R"({"p":{"w1":1}})");
  workers[0]->set_answer(17, R"({"letters":["z"]})");
  std::uint16_t port = w1.external_port();
  EXPECT_EQ(ask(port, 14), (Reply{15, R"({"source_ids":["1234"]})"}));
  EXPECT_EQ(ask(port, 17), (Reply{18, R"({"letters":["a","b"]})"}));
  EXPECT_EQ(ask(port, 19), (Reply{20, R"({"p":{"w1":[1]}})"}));
  EXPECT_EQ(ask(port, 21), (Reply{22, R"({"letters":2})"}));
  EXPECT_EQ(ask(port, 23), (Reply{24, R"({"p":{"w1":1}})"}));
  EXPECT_EQ(ask(workers[0]->external_port(), 17), (Reply{18, R"({"letters":["z"]})"}));
}

void set_partition_answers(std::vector<std::unique_ptr<test::TestWorker>>& workers) {
  workers[0]->set_answer(7, R"({"state_partitions":{"letters":{"initializer":[0,3]}},"stateless_partitions":{}})");
  workers[1]->set_answer(7, R"({"state_partitions":{"letters":{"w1":[1,4]}},"stateless_partitions":{}})");
  workers[2]->set_answer(
      7,
      R"({"state_partitions":{"letters":{"w2":[2,5]},"totals":{"w2":[2]}},"stateless_partitions":{"s":{"w2":[9]}}})");
  workers[0]->set_answer(12, R"({"state_partitions":{"letters":{"initializer":2}},"stateless_partitions":{}})");
  workers[1]->set_answer(12, R"({"state_partitions":{"letters":{"w1":2}},"stateless_partitions":{}})");
  workers[2]->set_answer(12, " {\"state_partitions\":{\"letters\":{\"w2\":2}},\"stateless_partitions\":{}}\n");
  workers[0]->set_answer(21, R"({"letters":3,"totals":1})");
  workers[1]->set_answer(21, R"({"letters":1})");
}

TEST(ClusterExternal, PartitionQueriesMergeEveryWorkersPart) {
  auto workers = test::formed_cluster(3);
  ASSERT_EQ(workers.size(), 3u);
  set_partition_answers(workers);
  const std::string partitions =
      R"({"state_partitions":{"letters":{"initializer":[0,3],"w1":[1,4],"w2":[2,5]},"totals":{"w2":[2]}},)"
      R"("stateless_partitions":{"s":{"w2":[9]}}})";
  const std::string counts = R"({"state_partitions":{"letters":{"initializer":2,"w1":2,"w2":2}},)"
                             R"("stateless_partitions":{}})";
  for (std::size_t asked = 0; asked < 3; ++asked) {
    std::uint16_t port = workers[asked]->external_port();
    EXPECT_EQ(ask(port, 7), (Reply{8, partitions})) << asked;
    EXPECT_EQ(ask(port, 12), (Reply{13, counts})) << asked;
  }
}

TEST(ClusterExternal, ClusterStateEntityCountGathersEveryWorker) {
  auto workers = test::formed_cluster(3);
  ASSERT_EQ(workers.size(), 3u);
  set_partition_answers(workers);
  const Reply expected{26, R"({"initializer":{"letters":3,"totals":1},"w1":{"letters":1},"w2":{}})"};
  for (std::size_t asked = 0; asked < 3; ++asked) {
    EXPECT_EQ(ask(workers[asked]->external_port(), 25), expected) << asked;
  }
  workers[1].reset();
  ASSERT_TRUE(wait_until([&] { return workers[2]->lost().size() == 1 && workers[0]->lost().size() == 1; }));
  EXPECT_EQ(ask(workers[2]->external_port(), 25), (Reply{26, R"({"initializer":{"letters":3,"totals":1},"w2":{}})"}));
}

TEST(ClusterExternal, SeveralRequestsOnOneConnectionAreAnsweredInOrder) {
  LogCapture::instance().clear();
  auto workers = test::formed_cluster(3);
  ASSERT_EQ(workers.size(), 3u);
  set_partition_answers(workers);
  workers[2]->set_answer(14, R"({"source_ids":[]})");
  Client client(workers[2]->external_port());
  client.send(std::string(4, '\0'));  // a zero header is skipped
  client.send_external(25, "");
  client.send_external(9, "");
  client.send_external(1, "between the queries");
  client.send_external(14, "");
  client.send_external(25, "");
  EXPECT_EQ(client.read_external().first, 26);
  EXPECT_EQ(client.read_external().first, 10);
  EXPECT_EQ(client.read_external(), (Reply{15, R"({"source_ids":[]})"}));
  EXPECT_EQ(client.read_external(),
            (Reply{26, R"({"initializer":{"letters":3,"totals":1},"w1":{"letters":1},"w2":{}})"}));
  EXPECT_TRUE(LogCapture::instance().wait_for("$$$ ExternalPrint: between the queries $$$"));
}

TEST(ClusterExternal, CleanShutdownStopsAndExitsTheCluster) {
  auto workers = test::formed_cluster(3);
  ASSERT_EQ(workers.size(), 3u);
  Client client(workers[2]->external_port());
  client.send_external(3, "");
  EXPECT_TRUE(wait_until([&] { return workers[0]->exits == 1 && workers[1]->exits == 1 && workers[2]->exits == 1; }));
  for (auto& worker : workers) {
    EXPECT_EQ(worker->stops, 1);
  }
}

TEST(ClusterExternal, PrintLogsTheText) {
  auto workers = test::formed_cluster(1);
  ASSERT_EQ(workers.size(), 1u);
  LogCapture::instance().clear();
  Client client(workers[0]->external_port());
  client.send_external(1, "hello, cluster");
  EXPECT_TRUE(LogCapture::instance().wait_for("$$$ ExternalPrint: hello, cluster $$$"));
}

}  // namespace
}  // namespace roo::cluster
