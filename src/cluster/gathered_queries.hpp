#pragma once

#include "owned_by_core.hpp"

#include "cluster_asio.hpp"
#include "cluster_lifecycle.hpp"
#include "member_table.hpp"

#include "roo/cluster/cluster.hpp"

#include <cstdint>
#include <functional>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>

namespace roo::cluster {

/// Every worker's local answer to one external query type, by worker index.
using GatheredAnswers = std::map<std::size_t, std::string>;

/// Queries answered by every worker, gathered over the control plane (for the external channel's PartitionQuery
/// and friends): the initializer asks each live worker for its local answer (local-query, local-answer); a worker
/// asks the initializer to gather for it (gather-request, gather-reply). A lost worker is left out
/// (settle), and a worker that lost the initializer answers with its own answer only.
///
/// Threads: everything on the core's strand. Owns the gathers being collected here and the ones asked of the
/// initializer. Writes on the MemberTable's control connections and asks the runtime (hooks.local_answer).
/// ClusterCore routes the control frames here and calls settle() when a peer is lost.
class GatheredQueries : public OwnedByCore<GatheredQueries> {
 public:
  GatheredQueries(Strand& strand, const ClusterConfig& config, const ClusterHooks& hooks, const Lifecycle& lifecycle,
                  MemberTable& members)
      : strand_(strand), config_(config), hooks_(hooks), lifecycle_(lifecycle), members_(members) {}

  /// Collects every live worker's local answer to `type`; `done` always runs later on the strand, never inside.
  void gather(std::uint16_t type, std::function<void(GatheredAnswers)> done);
  /// The initializer: worker `index` asks for a gather (its id is the worker's).
  void on_gather_request(std::size_t index, std::uint64_t id, std::uint16_t type);
  /// The initializer: worker `index` answered local query `id`.
  void on_local_answer(std::size_t index, std::uint64_t id, std::string json);
  /// A worker: the initializer gathered what this worker asked for.
  void on_gather_reply(std::uint64_t id, GatheredAnswers answers);
  /// Completes what no longer waits for anyone, `lost_index` having answered or been lost.
  void settle(std::size_t lost_index);
  /// This worker's own answer (the runtime's, or "{}").
  [[nodiscard]] std::string local_answer(std::uint16_t type) const;

  /// How long the initializer waits for the workers' answers: a worker stuck in a user call (its executor runs its
  /// side of the cluster) must not hold every gather, the dashboard's and `roo ctl metrics`, back: after this the
  /// gather completes without it (listed as missing). A worker waits a little longer for the initializer's reply.
  static constexpr std::chrono::milliseconds answer_patience{3000};
  static constexpr std::chrono::milliseconds reply_patience{4000};
  /// `answers` by worker name, in membership order, and the members that did not answer (lost, or left out).
  [[nodiscard]] GatheredByName by_name(GatheredAnswers answers) const;

 private:
  /// Local answers being collected for one query (on the initializer, or locally before formation).
  struct Gather {
    std::uint16_t type = 0;
    std::set<std::size_t> awaiting;
    GatheredAnswers answers;
    std::function<void(GatheredAnswers)> done;
    std::shared_ptr<Timer> patience;
  };
  /// A worker: what it asked the initializer to gather.
  struct Asked {
    std::uint16_t type = 0;
    std::function<void(GatheredAnswers)> done;
    std::shared_ptr<Timer> patience;
  };

  /// A timer that calls expire(id) after `wait`, unless the gather completed first.
  [[nodiscard]] std::shared_ptr<Timer> expire_after(std::uint64_t id, std::chrono::milliseconds wait);
  /// Gather `id` waited long enough: it completes with the answers it has (the initializer), or with this worker's
  /// own answer only (a worker whose initializer did not reply).
  void expire(std::uint64_t id);

  Strand& strand_;
  const ClusterConfig& config_;
  const ClusterHooks& hooks_;
  const Lifecycle& lifecycle_;
  MemberTable& members_;
  std::uint64_t next_gather_id_ = 1;
  std::map<std::uint64_t, Gather> gathers_;  // being collected here
  std::map<std::uint64_t, Asked> asked_;     // worker: asked the initializer to gather
  std::set<std::size_t> last_silent_;        // the workers the last expired gather went on without
};

}  // namespace roo::cluster
