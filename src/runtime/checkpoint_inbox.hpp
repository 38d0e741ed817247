#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace roo::runtime {

/// The cluster's checkpoint messages, from its hooks (the io thread) to the coordinator (the executor).
class CheckpointInbox {
 public:
  struct Message {
    enum class Kind { begin, part, complete };
    Kind kind = Kind::begin;
    std::uint64_t id = 0;
    std::size_t worker = 0;  ///< part: who reports
    bool ok = false;         ///< part
    std::string text;        ///< part: its description, or the failure's line
  };
  void push(Message message);
  [[nodiscard]] std::vector<Message> take();

 private:
  std::mutex mutex_;
  std::vector<Message> messages_;
};

}  // namespace roo::runtime
