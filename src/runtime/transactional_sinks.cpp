#include "transactional_sinks.hpp"

#include "record_batch_codec.hpp"

#include "roo/core/error.hpp"
#include "roo/core/logging.hpp"

#include <fmt/format.h>

#include <condition_variable>

namespace roo::runtime {

TransactionalSinks::TransactionalSinks(std::vector<std::unique_ptr<io::Sink>>& sinks, core::Doorbell& doorbell)
    : sinks_(sinks), doorbell_(doorbell) {
  for (std::size_t i = 0; i < sinks_.size(); ++i) {
    if (sinks_[i]->transactional()) {
      members_.push_back(i);
    }
  }
}

void TransactionalSinks::prepare(std::uint64_t id) {
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(mutex_);
    preparing_ = id;
    generation = generation_;
    answers_.clear();
  }
  for (std::size_t index : members_) {
    sinks_[index]->prepare(id, [this, id, generation, index](std::string error, io::Sink::CheckpointOutput output) {
      // Not encoded here: the sink's thread goes back to producing, and the checkpoint's writer encodes any batches
      // (shared with the sink, which keeps them for its commit) when it writes the part.
      {
        std::lock_guard lock(mutex_);
        if (preparing_ != id || generation_ != generation) {
          return;  // an answer to a prepare given up (a rollback; its run may have used the same id)
        }
        answers_[index] = {std::move(error), std::move(output)};
      }
      doorbell_.ring();
    });
  }
}

bool TransactionalSinks::preparing() const {
  std::lock_guard lock(mutex_);
  return preparing_ != 0 && answers_.size() < members_.size();
}

checkpoint::Snapshot::LateOutput TransactionalSinks::encode_later(io::Sink::SharedBatches batches) {
  return [batches = std::move(batches)] {
    std::vector<std::string> encoded;
    encoded.reserve(batches.size());
    for (const auto& batch : batches) {
      encoded.push_back(encode_record_batch(*batch));
    }
    return encoded;
  };
}

std::optional<TransactionalSinks::Prepared> TransactionalSinks::take_prepared() {
  std::map<std::size_t, std::pair<std::string, io::Sink::CheckpointOutput>> answers;
  std::uint64_t id = 0;
  {
    std::lock_guard lock(mutex_);
    if (preparing_ == 0 || answers_.size() < members_.size()) {
      return std::nullopt;
    }
    id = std::exchange(preparing_, 0);
    answers.swap(answers_);
  }
  Prepared prepared{.id = id, .error = {}, .output = {}};
  for (auto& [index, answer] : answers) {
    if (!answer.first.empty()) {
      prepared.error += (prepared.error.empty() ? "" : "; ") + answer.first;
      continue;
    }
    prepared.output.emplace_back(index, std::move(answer.second));
  }
  return prepared;
}

void TransactionalSinks::commit(std::uint64_t id) {
  for (std::size_t index : members_) {
    sinks_[index]->commit(id, [id](const std::string& error) {
      if (!error.empty()) {
        core::module_logger("runtime")->error("checkpoint {}: {}", id, error);
      }
    });
  }
}

void TransactionalSinks::abort() {
  {
    std::lock_guard lock(mutex_);
    preparing_ = 0;
    ++generation_;
    answers_.clear();
  }
  for (std::size_t index : members_) {
    sinks_[index]->abort();
  }
}

void TransactionalSinks::remember(std::uint64_t id, std::size_t sink, std::string_view encoded_output) {
  recovering(id);
  recover_output_[sink].push_back(decode_record_batch(encoded_output));
}

void TransactionalSinks::remember_location(std::uint64_t id, std::size_t sink, std::string_view location) {
  recovering(id);
  recover_location_[sink] = std::string(location);
}

void TransactionalSinks::recovering(std::uint64_t id) {
  if (recover_id_ != id) {
    recover_id_ = id;
    recover_output_.clear();
    recover_location_.clear();
  }
}

void TransactionalSinks::recover(std::chrono::milliseconds timeout) {
  if (members_.empty() || recover_id_ == 0) {
    recover_output_.clear();
    recover_location_.clear();
    return;
  }
  // Shared with the callbacks: a sink that answers after the timeout must find it alive.
  struct Answers {
    std::mutex mutex;
    std::condition_variable answered;
    std::map<std::size_t, std::string> errors;
  };
  auto answers = std::make_shared<Answers>();
  for (std::size_t index : members_) {
    auto output = recover_output_.contains(index) ? std::move(recover_output_[index]) : std::vector<io::RecordBatch>{};
    auto location = recover_location_.contains(index) ? std::move(recover_location_[index]) : std::string{};
    sinks_[index]->recover(recover_id_, std::move(output), std::move(location), [answers, index](std::string error) {
      std::lock_guard lock(answers->mutex);
      answers->errors[index] = std::move(error);
      answers->answered.notify_all();
    });
  }
  recover_output_.clear();
  recover_location_.clear();
  std::unique_lock lock(answers->mutex);
  if (!answers->answered.wait_for(lock, timeout, [&] { return answers->errors.size() == members_.size(); })) {
    throw core::Error(fmt::format("recover the sinks' output of checkpoint {}: no answer within {} s", recover_id_,
                                  timeout.count() / 1000));
  }
  auto errors = answers->errors;
  for (const auto& [index, error] : errors) {
    if (!error.empty()) {
      throw core::Error(fmt::format("recover the sinks' output of checkpoint {}: {}", recover_id_, error));
    }
  }
}

TransactionalSinks::HandedOff TransactionalSinks::hand_off(std::chrono::milliseconds timeout) {
  struct Answers {
    std::mutex mutex;
    std::condition_variable answered;
    std::map<std::size_t, std::pair<std::string, std::vector<std::string>>> by_sink;
  };
  auto answers = std::make_shared<Answers>();
  for (std::size_t index : members_) {
    sinks_[index]->hand_off([answers, index](std::string error, io::Sink::SharedBatches records) {
      std::vector<std::string> encoded;
      encoded.reserve(records.size());
      for (const auto& batch : records) {
        encoded.push_back(encode_record_batch(*batch));
      }
      std::lock_guard lock(answers->mutex);
      answers->by_sink[index] = {std::move(error), std::move(encoded)};
      answers->answered.notify_all();
    });
  }
  HandedOff handed;
  std::unique_lock lock(answers->mutex);
  answers->answered.wait_for(lock, timeout, [&] { return answers->by_sink.size() == members_.size(); });
  for (std::size_t index : members_) {
    auto answer = answers->by_sink.find(index);
    if (answer == answers->by_sink.end()) {
      handed.errors.emplace_back(index, fmt::format("no answer within {} s", timeout.count() / 1000));
    } else if (!answer->second.first.empty()) {
      handed.errors.emplace_back(index, answer->second.first);
    } else {
      for (auto& bytes : answer->second.second) {
        handed.output.emplace_back(index, std::move(bytes));
      }
    }
  }
  return handed;
}

}  // namespace roo::runtime
