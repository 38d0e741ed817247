#include "external_answers.hpp"

#include <gtest/gtest.h>

namespace roo::runtime {
namespace {

TEST(ExternalAnswers, StateEntitiesListEveryKeyWhenSmall) {
  LocalFacts facts;
  facts.state_keys = {{"counts", {"a", "b"}}, {"totals", {}}};
  EXPECT_EQ(local_answer(17, facts), R"({"counts":["a","b"],"totals":[]})");
}

TEST(ExternalAnswers, StateEntitiesAreBoundedAndSaySo) {
  LocalFacts facts;
  std::vector<std::string> keys;
  for (int i = 0; i < 200000; ++i) {
    keys.push_back("key-" + std::to_string(i));  // about 2 MiB of quoted keys
  }
  facts.state_keys = {{"counts", keys}};
  std::string answer = local_answer(17, facts);
  EXPECT_LT(answer.size(), max_state_entity_answer_bytes + 1024);
  auto cut = answer.find(R"(,"roo_cut":"listed )");
  ASSERT_NE(cut, std::string::npos);
  std::size_t listed = std::stoul(answer.substr(cut + 19));
  EXPECT_GT(listed, 50000u);
  EXPECT_LT(listed, 200000u);
  EXPECT_TRUE(answer.ends_with(" of 200000 keys: answers are bounded to 1 MiB\"}")) << answer.substr(cut);
}

}  // namespace
}  // namespace roo::runtime
