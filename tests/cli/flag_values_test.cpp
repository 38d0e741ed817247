#include "flag_values.hpp"

#include "roo/core/error.hpp"

#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

#include <functional>
#include <string>

namespace roo::cli {
namespace {

std::string usage_error(const std::function<void()>& call) {
  try {
    call();
  } catch (const core::UsageError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(FlagValues, CountIsAWholeNumberOfAtLeastOne) {
  EXPECT_EQ(parse_count("--workers", "3"), 3);
  for (std::string bad : {"0", "-1", "x", "2.5", "", "3 ", "99999999999"}) {
    EXPECT_EQ(usage_error([&] { (void)parse_count("--workers", bad); }),
              "parse --workers '" + bad + "': expected a whole number of at least 1");
  }
}

TEST(FlagValues, SecondsAreANumberZeroOrMore) {
  EXPECT_EQ(parse_seconds("--drain-timeout", "0"), 0);
  EXPECT_EQ(parse_seconds("--drain-timeout", "2.5"), 2.5);
  for (std::string bad : {"-1", "x", "", "inf", "nan", "1e999"}) {
    EXPECT_EQ(usage_error([&] { (void)parse_seconds("--drain-timeout", bad); }),
              "parse --drain-timeout '" + bad + "': expected a number of seconds, 0 or more");
  }
}

TEST(FlagValues, TimeoutsAreSecondsAboveZero) {
  EXPECT_EQ(parse_seconds("--timeout", "0.25", /*zero_allowed=*/false), 0.25);
  for (std::string bad : {"0", "0.0", "-1", "x"}) {
    EXPECT_EQ(usage_error([&] { (void)parse_seconds("--timeout", bad, /*zero_allowed=*/false); }),
              "parse --timeout '" + bad + "': expected a number of seconds above 0");
  }
}

TEST(FlagValues, DurationsTakeAUnit) {
  EXPECT_EQ(parse_duration_ms("--checkpoint-interval", "1s"), 1000);
  EXPECT_EQ(parse_duration_ms("--checkpoint-interval", "250ms"), 250);
  EXPECT_EQ(parse_duration_ms("--checkpoint-interval", "2m"), 120000);
  EXPECT_EQ(parse_duration_ms("--checkpoint-interval", "1.5"), 1500);
  for (std::string bad : {"0", "0s", "0.5ms", "-1s", "x", "", "1h", "1 s", "inf"}) {
    EXPECT_EQ(usage_error([&] { (void)parse_duration_ms("--checkpoint-interval", bad); }),
              "parse --checkpoint-interval '" + bad + "': expected a duration of at least 1ms, e.g. 1s, 500ms, 2m");
  }
}

TEST(FlagValues, NanosecondsAreWholeAndAtLeastAMillisecond) {
  EXPECT_EQ(parse_nanoseconds("--time-between-checkpoints", "1000000000"), 1000000000);
  for (std::string bad : {"999999", "1e9", "x", "", "-5"}) {
    EXPECT_EQ(usage_error([&] { (void)parse_nanoseconds("--time-between-checkpoints", bad); }),
              "parse --time-between-checkpoints '" + bad +
                  "': expected a whole number of nanoseconds, at least 1000000 (1 ms)");
  }
}

TEST(FlagValues, ValidatorsFailAParseWithTheSameLine) {
  CLI::App app;
  int workers = 1;
  double seconds = 10;
  std::string level = "info";
  app.add_option("--workers", workers)->check(count_value("--workers"));
  app.add_option("--drain-timeout", seconds)->check(seconds_value("--drain-timeout"));
  app.add_option("--log-level", level)->check(one_of("--log-level", {"info", "off"}));
  app.parse("--log-level off --drain-timeout 0.5 --workers 2");
  EXPECT_EQ(workers, 2);
  EXPECT_EQ(seconds, 0.5);
  EXPECT_EQ(level, "off");
  EXPECT_EQ(usage_error([&] { app.parse("--workers x"); }),
            "parse --workers 'x': expected a whole number of at least 1");
  EXPECT_EQ(usage_error([&] { app.parse("--log-level loud"); }),
            "parse --log-level 'loud': expected one of info, off");
}

}  // namespace
}  // namespace roo::cli
