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
            "join the cluster: a worker that is not the initializer needs --control or --join (the initializer's "
            "control address), --my-control, --my-data and --name");
  EXPECT_EQ(refusal({"--cluster-initializer", "--worker-count", "3", "--control", "h:1", "--data", "h:2"}), "accepted");
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

TEST(WallarooFlags, JoinIsTheInitializersControlAddressOfAWorkerJoiningARunningCluster) {
  const Args joiner = {"--join", "h:1", "--name", "w3", "--my-control", "h:2", "--my-data", "h:3"};
  EXPECT_EQ(refusal(joiner), "accepted");
  Args app;
  WallarooFlags flags = take_wallaroo_flags(joiner, app);
  EXPECT_TRUE(is_joining_worker(flags));
  EXPECT_EQ(initializer_control(flags), "h:1");
  Args with_count = joiner;
  with_count.insert(with_count.end(), {"--worker-count", "2", "--external", "h:4"});
  EXPECT_EQ(refusal(with_count), "accepted");  // Wallaroo's joiners pass it; Roo admits each on its own
  Args short_form = {"-j", "h:1", "-n", "w3", "-x", "h:2", "-y", "h:3"};
  EXPECT_EQ(refusal(short_form), "accepted");
  EXPECT_EQ(initializer_control(take_wallaroo_flags(short_form, app)), "h:1");
  WallarooFlags member = take_wallaroo_flags({"--control", "h:9", "--my-control", "h:2"}, app);
  EXPECT_EQ(initializer_control(member), "h:9");
}

TEST(WallarooFlags, JoinRefusesWhatDoesNotGoWithItInOneLine) {
  const std::string needs =
      "join the cluster: a worker that is not the initializer needs --control or --join (the initializer's control "
      "address), --my-control, --my-data and --name";
  EXPECT_EQ(refusal({"--join", "h:1"}), needs);
  EXPECT_EQ(refusal({"--join", "h:1", "--my-control", "h:2", "--my-data", "h:3"}), needs);
  EXPECT_EQ(refusal({"--join", "h:1", "--name", "w3", "--my-data", "h:3"}), needs);
  EXPECT_EQ(refusal({"--join", "h:1", "--control", "h:1", "--name", "w3", "--my-control", "h:2", "--my-data", "h:3"}),
            "use --join with --control: give one (both name the initializer's control address; --join adds this "
            "worker to a running cluster)");
  EXPECT_EQ(refusal({"--join", "h:1", "--cluster-initializer", "--control", "h:5", "--data", "h:6"}),
            "use --join with --cluster-initializer: the initializer starts the cluster; --join adds a worker to a "
            "running one");
  EXPECT_EQ(refusal({"--join", "h:1", "--name", "w3", "--my-control", "h:2", "--my-data", "h:3", "--data", "h:4"}),
            "use --data on a worker that is not the initializer: it listens on --my-data instead");
  EXPECT_EQ(refusal({"--join", "nohost", "--name", "w3", "--my-control", "h:2", "--my-data", "h:3"}),
            "parse --join address 'nohost': expected host:port");
  EXPECT_EQ(refusal({"--join"}), "parse --join: the flag needs a value");
}

}  // namespace
}  // namespace roo::cli
