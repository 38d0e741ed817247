#include "machida_roo_flags.hpp"

#include "roo/core/error.hpp"

#include <gtest/gtest.h>

namespace roo::cli {
namespace {

using Args = std::vector<std::string>;

TEST(StuckStepFlag, TakesTheFlagWhereverItStandsAndLeavesTheRest) {
  Args args{"--application-module", "app", "--stuck-step-warning", "2.5", "--in", "S@127.0.0.1:7000"};
  double seconds = 10;
  take_stuck_step_warning(args, seconds);
  EXPECT_EQ(seconds, 2.5);
  EXPECT_EQ(args, (Args{"--application-module", "app", "--in", "S@127.0.0.1:7000"}));
  Args equals{"--out", "127.0.0.1:7002", "--stuck-step-warning=30"};
  take_stuck_step_warning(equals, seconds);
  EXPECT_EQ(seconds, 30);
  EXPECT_EQ(equals, (Args{"--out", "127.0.0.1:7002"}));
}

TEST(StuckStepFlag, LeavesTheDefaultWhenAbsent) {
  Args args{"--application-module", "app"};
  double seconds = 10;
  take_stuck_step_warning(args, seconds);
  EXPECT_EQ(seconds, 10);
  EXPECT_EQ(args.size(), 2u);
}

TEST(StuckStepFlag, RefusesAMissingOrMalformedValueInOneLine) {
  auto message = [](Args args) {
    double seconds = 10;
    try {
      take_stuck_step_warning(args, seconds);
    } catch (const core::UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message({"--stuck-step-warning"}), "parse --stuck-step-warning: the flag needs a value");
  EXPECT_EQ(message({"--stuck-step-warning", "x"}),
            "parse --stuck-step-warning 'x': expected a number of seconds above 0");
  EXPECT_EQ(message({"--stuck-step-warning=0"}),
            "parse --stuck-step-warning '0': expected a number of seconds above 0");
}

}  // namespace
}  // namespace roo::cli
