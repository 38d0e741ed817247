#include "wallaroo_flags.hpp"

#include "roo/core/error.hpp"

#include <gtest/gtest.h>

namespace roo::cli {
namespace {

using Args = std::vector<std::string>;

TEST(WallarooFlags, ConsumesWorkerFlagsAndKeepsTheApplicationsInOrder) {
  Args app;
  auto flags = take_wallaroo_flags({"--application-module",
                                    "alphabet",
                                    "--in",
                                    "Alphabet@127.0.0.1:7010",
                                    "--metrics",
                                    "127.0.0.1:5001",
                                    "--control=127.0.0.1:6000",
                                    "-d",
                                    "127.0.0.1:6001",
                                    "--external",
                                    "127.0.0.1:5050",
                                    "--cluster-initializer",
                                    "--ponythreads=1",
                                    "--ponynoblock",
                                    "--ponythreads",
                                    "4",
                                    "--out",
                                    "127.0.0.1:7002",
                                    "--depth",
                                    "3"},
                                   app);
  EXPECT_EQ(app, (Args{"--in", "Alphabet@127.0.0.1:7010", "--out", "127.0.0.1:7002", "--depth", "3"}));
  EXPECT_EQ(flags.application_module, "alphabet");
  EXPECT_EQ(flags.metrics, "127.0.0.1:5001");
  EXPECT_EQ(flags.control, "127.0.0.1:6000");
  EXPECT_EQ(flags.data, "127.0.0.1:6001");
  EXPECT_EQ(flags.external, "127.0.0.1:5050");
  EXPECT_TRUE(flags.cluster_initializer);
  EXPECT_NO_THROW(check_supported(flags));
}

TEST(WallarooFlags, AcceptsEveryFlagOfTheLauncher) {
  Args app;
  auto flags = take_wallaroo_flags({"-m",
                                    "h:1",
                                    "-c",
                                    "h:2",
                                    "-x",
                                    "h:3",
                                    "-y",
                                    "h:4",
                                    "-e",
                                    "h:5",
                                    "-w",
                                    "1",
                                    "-t",
                                    "-n",
                                    "w1",
                                    "-r",
                                    "/tmp",
                                    "--log-rotation",
                                    "-l",
                                    "100",
                                    "--resilience-enable-io-journal",
                                    "--resilience-no-local-file-io",
                                    "--resilience-dos-server",
                                    "h:9",
                                    "-u",
                                    "5",
                                    "--time-between-checkpoints",
                                    "250000000",
                                    "--spike-seed",
                                    "1",
                                    "--spike-drop",
                                    "--spike-prob",
                                    "0.1",
                                    "--spike-margin",
                                    "3",
                                    "-f",
                                    "x",
                                    "--ponypin"},
                                   app);
  EXPECT_TRUE(app.empty());
  EXPECT_EQ(flags.name, "w1");
  EXPECT_EQ(flags.my_control, "h:3");
  EXPECT_EQ(flags.ignored.size(), 11u);
  EXPECT_EQ(flags.time_between_checkpoints_ns, 250000000);
  EXPECT_EQ(flags.resilience_dir, "/tmp");
}

std::string refusal(const Args& args) {
  Args app;
  try {
    check_supported(take_wallaroo_flags(args, app));
  } catch (const core::UsageError& e) {
    return e.what();
  }
  return "accepted";
}

TEST(WallarooFlags, RefusesLaterFeaturesInOneLine) {
  EXPECT_EQ(refusal({"--worker-count", "3"}),
            "use --worker-count 3: only the initializer (--cluster-initializer) takes --worker-count");
  EXPECT_EQ(refusal({"--cluster-initializer", "--worker-count", "3", "--control", "h:1"}),
            "start a cluster of 3 workers: the initializer needs --control and --data");
  EXPECT_EQ(refusal({"--my-data", "h:1", "--data", "h:2"}),
            "use --data on a worker that is not the initializer: it listens on --my-data instead");
  EXPECT_EQ(refusal({"--my-data", "h:1", "--my-control", "h:3"}),
            "join the cluster: a worker that is not the initializer needs --control (the initializer's), "
            "--my-control, --my-data and --name");
  EXPECT_EQ(refusal({"--cluster-initializer", "--worker-count", "3", "--control", "h:1", "--data", "h:2"}), "accepted");
  EXPECT_EQ(refusal({"--join", "h:1"}), "join a cluster (--join): growing a running cluster is not supported yet");
  EXPECT_EQ(refusal({"--run-with-resilience"}), "accepted");
  EXPECT_EQ(refusal({"--time-between-checkpoints", "10"}),
            "parse --time-between-checkpoints '10': expected a whole number of nanoseconds, at least 1000000 (1 ms)");
  EXPECT_EQ(refusal({"--worker-count", "zero"}), "parse --worker-count 'zero': expected a whole number of at least 1");
  EXPECT_EQ(refusal({"--metrics"}), "parse --metrics: the flag needs a value");
  EXPECT_EQ(refusal({"--metrics", "--ponythreads=1"}), "parse --metrics: the flag needs a value");
  EXPECT_EQ(refusal({"--metrics="}), "parse --metrics: the flag needs a value");
  EXPECT_EQ(refusal({"-m", ""}), "parse --metrics: the flag needs a value");
  EXPECT_EQ(refusal({"--metrics", "nohost"}), "parse --metrics address 'nohost': expected host:port");
}

}  // namespace
}  // namespace roo::cli
