#include "gathered_queries.hpp"

#include "cluster_log.hpp"
#include "wire.hpp"

#include <boost/asio/post.hpp>

namespace roo::cluster {

std::string GatheredQueries::local_answer(std::uint16_t type) const {
  return hooks_.local_answer ? hooks_.local_answer(type) : "{}";
}

GatheredByName GatheredQueries::by_name(GatheredAnswers answers) const {
  GatheredByName named;
  const std::size_t members = members_.ready() ? members_.size() : 1;
  for (std::size_t i = 0; i < members; ++i) {
    std::string name = members_.ready() ? members_.name_of(i) : config_.worker_name;
    if (auto found = answers.find(i); found != answers.end()) {
      named.answers.emplace_back(std::move(name), std::move(found->second));
    } else {
      named.missing.push_back(std::move(name));
    }
  }
  return named;
}

void GatheredQueries::gather(std::uint16_t type, std::function<void(GatheredAnswers)> done) {
  std::size_t self = members_.ready() ? members_.self() : 0;
  bool alone =
      !lifecycle_.formed || !members_.ready() || members_.size() == 1 || (!config_.initializer && !members_.is_live(0));
  if (alone) {
    GatheredAnswers answers{{self, local_answer(type)}};
    // The core stays alive until `done` ran: a rollback may close the cluster while the io_context goes on.
    asio::post(strand_, [alive = keep_alive(), done = std::move(done), answers = std::move(answers)]() mutable {
      done(std::move(answers));
    });
    return;
  }
  std::uint64_t id = next_gather_id_++;
  if (!config_.initializer) {
    asked_[id] = Asked{type, std::move(done), expire_after(id, reply_patience)};
    members_.peer(0).control->write(message(MessageType::gather_request).u64(id).u16(type).take());
    return;
  }
  Gather& collecting = gathers_[id];
  collecting.type = type;
  collecting.done = std::move(done);
  collecting.answers[self] = local_answer(type);
  for (std::size_t i = 1; i < members_.size(); ++i) {
    if (members_.hears_cluster(i)) {
      collecting.awaiting.insert(i);
      members_.peer(i).control->write(message(MessageType::local_query).u64(id).u16(type).take());
    }
  }
  if (collecting.awaiting.empty()) {
    settle(0);
    return;
  }
  collecting.patience = expire_after(id, answer_patience);
}

std::shared_ptr<Timer> GatheredQueries::expire_after(std::uint64_t id, std::chrono::milliseconds wait) {
  auto timer = std::make_shared<Timer>(strand_);
  timer->expires_after(wait);
  timer->async_wait([this, alive = keep_alive(), id](const boost::system::error_code& error) {
    if (!error) {
      expire(id);
    }
  });
  return timer;
}

void GatheredQueries::expire(std::uint64_t id) {
  std::function<void(GatheredAnswers)> done;
  GatheredAnswers answers;
  if (auto found = gathers_.find(id); found != gathers_.end()) {
    if (found->second.awaiting != last_silent_) {  // once per change, not at every poll of a dashboard
      last_silent_ = found->second.awaiting;
      std::string names;
      for (std::size_t index : found->second.awaiting) {
        names += (names.empty() ? "'" : ", '") + members_.name_of(index) + "'";
      }
      cluster_logger()->warn("cluster: gathering query {} without {}: no answer within {} ms (busy in a user call?)",
                             found->second.type, names, answer_patience.count());
    }
    done = std::move(found->second.done);
    answers = std::move(found->second.answers);
    gathers_.erase(found);
  } else if (auto asked = asked_.find(id); asked != asked_.end()) {
    done = std::move(asked->second.done);
    answers = GatheredAnswers{{members_.self(), local_answer(asked->second.type)}};
    asked_.erase(asked);
  } else {
    return;
  }
  done(std::move(answers));
}

void GatheredQueries::on_gather_request(std::size_t index, std::uint64_t id, std::uint16_t type) {
  gather(type, [this, index, id](GatheredAnswers answers) {
    if (!members_.is_live(index) || !members_.peer(index).control) {
      return;
    }
    core::BigEndianWriter reply = message(MessageType::gather_reply);
    reply.u64(id).u32(static_cast<std::uint32_t>(answers.size()));
    for (const auto& [worker, json] : answers) {
      reply.u32(static_cast<std::uint32_t>(worker)).str(json);
    }
    members_.peer(index).control->write(reply.take());
  });
}

void GatheredQueries::on_local_answer(std::size_t index, std::uint64_t id, std::string json) {
  auto found = gathers_.find(id);
  if (found == gathers_.end() || found->second.awaiting.erase(index) == 0) {
    return;
  }
  found->second.answers[index] = std::move(json);
  settle(index);
}

void GatheredQueries::on_gather_reply(std::uint64_t id, GatheredAnswers answers) {
  if (auto asked = asked_.find(id); asked != asked_.end()) {
    auto done = std::move(asked->second.done);
    asked_.erase(asked);
    done(std::move(answers));
  }
}

// Completes what no longer waits for anyone: on the initializer, gathers whose last awaited worker answered or was
// lost; on a worker that lost the initializer, everything it asked for (with its own answer only). The callbacks
// run later on the strand, never inside the caller.
void GatheredQueries::settle(std::size_t lost_index) {
  std::vector<std::pair<std::function<void(GatheredAnswers)>, GatheredAnswers>> finished;
  if (config_.initializer) {
    for (auto it = gathers_.begin(); it != gathers_.end();) {
      it->second.awaiting.erase(lost_index);
      if (it->second.awaiting.empty()) {
        finished.emplace_back(std::move(it->second.done), std::move(it->second.answers));
        it = gathers_.erase(it);
      } else {
        ++it;
      }
    }
  } else if (!members_.is_live(0)) {
    for (auto& [id, asked] : asked_) {
      finished.emplace_back(std::move(asked.done), GatheredAnswers{{members_.self(), local_answer(asked.type)}});
    }
    asked_.clear();
  }
  for (auto& [done, answers] : finished) {
    // The core stays alive until `done` ran: a rollback may close the cluster while the io_context goes on.
    asio::post(strand_, [alive = keep_alive(), done = std::move(done), answers = std::move(answers)]() mutable {
      done(std::move(answers));
    });
  }
}

}  // namespace roo::cluster
