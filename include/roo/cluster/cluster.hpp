#pragma once

#include "roo/core/bounded_mailbox.hpp"
#include "roo/core/byte_budget.hpp"
#include "roo/core/endpoint.hpp"
#include "roo/core/error.hpp"
#include "roo/core/executor_input.hpp"
#include "roo/core/shared_secret.hpp"
#include "roo/core/stream_registry.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace roo::core {
class TlsContext;
}

namespace roo::cluster {

/// form() failed for good: the initializer refused a worker joining a running cluster that cannot grow
/// (ClusterConfig::rescale_refusal). Trying again cannot help, unlike a formation a lost worker broke.
class JoinRefusedForGood : public core::Error {
 public:
  using core::Error::Error;
};

/// The start of the initializer's refusal of a joiner when the running cluster cannot grow.
inline constexpr std::string_view cannot_grow_refusal = "the cluster cannot grow while it runs: ";

/// One worker as every member of the cluster knows it.
struct WorkerInfo {
  std::string name;
  core::Endpoint control;                  ///< where its control server listens
  core::Endpoint data;                     ///< where it accepts data channels
  std::optional<core::Endpoint> external;  ///< its external channel, if any
};

/// Decided by the initializer and identical on every worker: who is in, in which order (index 0 is the
/// initializer, the others of the first formation sorted by name, workers that joined later after them in the order
/// they joined), how many key groups the key space is cut into, and which worker owns each.
struct Membership {
  std::vector<WorkerInfo> workers;
  std::size_t self = 0;
  std::uint32_t key_groups = 0;
  /// Moves on with every change of workers or owners (a worker joined, a rescale's new owners, a worker left).
  std::uint64_t version = 0;
  /// The owner of each key group (key_groups entries); empty: dealt round-robin over the workers.
  std::vector<std::uint16_t> owners;
  /// By worker index: true once the worker left the cluster by shrinking. It keeps its index, owns no key group and
  /// is sent nothing; its connections closing is no loss.
  std::vector<bool> departed;
  /// With checkpoints: the checkpoint every worker restores before taking input (0: none, start empty). Chosen by
  /// the initializer (ClusterConfig::restore_checkpoint).
  std::uint64_t restore_checkpoint = 0;

  /// The worker owning key group `key_group`.
  [[nodiscard]] std::size_t owner(std::uint32_t key_group) const {
    return owners.empty() ? key_group % workers.size() : owners[key_group];
  }
  /// Whether worker `index` left the cluster by shrinking.
  [[nodiscard]] bool has_departed(std::size_t index) const { return index < departed.size() && departed[index]; }
};

struct ClusterConfig {
  std::string worker_name;  ///< "initializer" for the initializer
  bool initializer = false;
  std::size_t worker_count = 1;            ///< initializer: how many workers (itself included) to wait for
  core::Endpoint control;                  ///< initializer: listen here; others: the initializer's address
  core::Endpoint my_control;               ///< others: reported in the membership; sends joiners on (JoinRedirect)
  core::Endpoint data;                     ///< where this worker listens for data channels (--data / --my-data)
  std::optional<core::Endpoint> external;  ///< serve the external channel here (§2.5 of the Wallaroo spec)
  std::string app_fingerprint;             ///< every worker must run the same application (compared at join)
  std::uint32_t key_groups = 256;
  std::chrono::milliseconds join_timeout{30000};  ///< how long a worker keeps retrying the initializer
  /// budget(to)'s limit: bytes sent to one worker and not yet acknowledged before the executor should wait.
  std::size_t max_unacknowledged_bytes = 16 * 1024 * 1024;
  /// The initializer: how long after the stop it waits for every worker to drain before it says exit anyway.
  std::chrono::milliseconds drain_timeout{10000};
  /// Per port (control, data, external): connections at once from peers that are not members yet (and external
  /// clients). More wait in the kernel's backlog until one closes.
  std::size_t max_connections_per_port = 64;
  /// A peer that is not a member yet must complete each frame of its handshake within this (and an external
  /// client each request): an idle or slow connection does not keep its place.
  std::chrono::milliseconds handshake_timeout{10000};
  /// Every control and data connection, both ways, proves knowledge of this secret (HMAC challenge–response)
  /// before any other frame is read. Empty: no authentication (a warning when bound to a non-loopback address).
  core::SharedSecret cluster_secret;
  /// The external channel's clients must prove knowledge of this secret (HMAC challenge–response) before any
  /// request, CleanShutdown included. Empty: anyone who reaches the external port may query and shut down.
  core::SharedSecret external_secret;
  /// Mutual TLS (--tls-cert, --tls-key, --tls-ca) on every control, data and external connection; none: plain TCP.
  std::shared_ptr<const core::TlsContext> tls;
  /// With checkpoints (docs/resilience.md): a lost peer (the initializer included) is not a reason to stop. The
  /// runtime rolls back: it closes this cluster and forms a new one with the same workers once the lost one is back.
  /// A hello from a lost member's restarted process is closed unanswered (it retries until the new cluster forms).
  bool roll_back_on_loss = false;
  /// The initializer, with checkpoints: the checkpoint the membership tells every worker to restore.
  std::uint64_t restore_checkpoint = 0;
  /// The initializer, with checkpoints: the cluster as restore_checkpoint recorded it (names by index, departed
  /// workers, owners; the endpoints are not used). The cluster forms with exactly its live workers at their indexes
  /// and owners, whatever worker_count says; another worker that says hello meanwhile joins once it formed, as a
  /// joiner (growing), or is refused with rescale_refusal.
  std::optional<Membership> layout;
  /// Why this application cannot grow or shrink while it runs (the runtime's one line, e.g. "its pipeline has
  /// windows"); empty: it can. The initializer refuses a joiner or a shrink request with it.
  std::string rescale_refusal;
  /// A worker started with --join: it may join a cluster that formed already (a worker started with --control
  /// after formation is refused, as before growing existed: "the cluster already has all of its N workers").
  bool joining = false;
};

/// Another worker whose events this worker cannot account for at exit, for the closing report.
struct PeerShortfall {
  std::string worker;                   ///< its name
  std::uint64_t unprocessed_bytes = 0;  ///< sent to it and never acknowledged (when lost, or still at exit)
  std::optional<std::string> lost;      ///< why it was lost (`connection reset by peer`, `end of file`), if it was
  bool undrained = false;               ///< the initializer: it was still not drained when the drain timed out
};

/// A local query type of Roo's own, beside the external channel's (Wallaroo spec §2.5): this worker's metrics as
/// JSON (metrics::WorkerMetrics), gathered for the cluster's view (the dashboard, `roo ctl metrics`).
inline constexpr std::uint16_t metrics_query = 1000;

/// Cluster::gather's result.
struct GatheredByName {
  std::vector<std::pair<std::string, std::string>> answers;  ///< (worker name, its answer), by worker index
  std::vector<std::string> missing;                          ///< workers of the membership that did not answer
};

/// What the runtime tells the cluster, asked from the thread running the cluster's io_context (must be thread-safe
/// and cheap).
struct ClusterHooks {
  /// True when this worker has stopped its sources and has nothing queued or in progress.
  std::function<bool()> is_drained;
  /// The cluster decided to stop (a signal on any worker, or an external CleanShutdown): stop the sources.
  std::function<void()> on_stop;
  /// Every worker is drained and nothing is in flight anywhere: finish (flush sinks) and exit.
  std::function<void()> on_exit;
  /// The initializer, optional: every worker is drained; the cluster says exit once `proceed` is called (from any
  /// thread), or at the drain deadline. With checkpoints: the last checkpoint is taken meanwhile.
  std::function<void(std::function<void()> proceed)> before_exit;
  /// A peer's connection broke; its key groups are unreachable until the cluster is restarted.
  std::function<void(std::size_t worker)> on_peer_lost;
  /// This worker's answer to an external query (`type` = the spec §2.5 request id) as the JSON the spec shows
  /// for a single worker, e.g. type 17 (StateEntityQuery) -> {"<state>": ["k1", ...]}, 21 -> {"<state>": 3}.
  /// Asked for 14, 17, 19, 21, 23 (answered as is), 21 on every worker for 25 (ClusterStateEntityCount), and 7 / 12
  /// on every worker for Partition(Count)Query: there it must return only this worker's part, in the full shape
  /// (`{"state_partitions":{"<state>":{"<this worker>":[...]}},"stateless_partitions":{...}}`); the parts are
  /// merged object by object (for anything but objects the first worker's value wins). Unset: "{}".
  std::function<std::string(std::uint16_t type)> local_answer;
  /// Checkpoints (docs/resilience.md), all on the io thread and cheap (queue the work for the executor):
  /// a worker that is not the initializer is told to take its part of checkpoint `id` (Cluster::begin_checkpoint);
  std::function<void(std::uint64_t id)> on_checkpoint_begin;
  /// the initializer hears from worker `worker` how its part of checkpoint `id` went (report_checkpoint_part);
  std::function<void(std::size_t worker, std::uint64_t id, bool ok, std::string text)> on_checkpoint_part;
  /// a worker that is not the initializer hears that checkpoint `id` is complete (end_checkpoint).
  std::function<void(std::uint64_t id)> on_checkpoint_complete;

  /// Growing and shrinking a running cluster (docs/cluster.md), all on the io thread and cheap (queue the work for
  /// the executor). A rescale is one round, run by the initializer: pause, quiet, move, quiet, resume.
  /// A worker joined: `membership` has one more worker (same owners; its data channels are up both ways). From now
  /// on budget(), send() and acknowledge() take its index; nothing is routed to it until a rescale moves groups.
  std::function<void(Membership membership)> on_members_changed;
  /// Rescale `round` begins: take no more source input (sources, generators) until on_rescale_resume; keep taking
  /// peers' input. is_drained() must turn true once nothing is queued or in progress.
  std::function<void(std::uint64_t round)> on_rescale_pause;
  /// The cluster is quiet: `next` holds the new owners (and departed workers). Hand every key group this worker owns
  /// now and does not own in `next` to its new owner (send_key_groups), route by `next` from now on, then call
  /// rescale_moved(round). A worker marked departed in `next` hands over everything it owns.
  std::function<void(std::uint64_t round, Membership next)> on_rescale_move;
  /// Rescale `round` is over everywhere: take source input again. (A departed worker hears on_stop and on_exit
  /// instead, and exits as after a clean shutdown.)
  std::function<void(std::uint64_t round)> on_rescale_resume;
};

/// The control plane (membership, readiness, stop/drain/exit), the data channels (one outbound TCP connection
/// to each peer, credit-controlled), and the external channel of one worker. Lives on the io_context; every
/// public function is thread-safe. Lifecycle: construct → form() → ... → stop().
class Cluster {
 public:
  virtual ~Cluster() = default;

  /// Blocks the calling thread (not the io thread) until the cluster has formed: every worker has joined, every
  /// data channel is connected, and the initializer has said go. Throws core::Error with one clear sentence on a
  /// duplicate name, a worker count or application mismatch, or when the initializer cannot be reached within
  /// join_timeout (retrying with backoff meanwhile, and saying so in the log).
  [[nodiscard]] virtual Membership form() = 0;

  /// form() without the wait, for a caller that runs the io_context itself: binds the listeners (throwing as form()
  /// does), starts forming, and returns the outcome to come. Run the io_context until it is ready.
  [[nodiscard]] virtual std::future<Membership> begin_forming() = 0;

  /// Sends `bytes` to worker `to` over its data channel. The bytes are charged to budget(to) until the peer
  /// acknowledges having processed them. To a lost peer: the bytes are dropped and counted (and budget released).
  /// Only after form() returned; throws core::Error when `to` is this worker or no worker. Returns false when the
  /// bytes were dropped because `to` is lost (the caller counts what they carried).
  virtual bool send(std::size_t to, std::vector<char>&& bytes) = 0;

  /// Bytes sent to `to` and not yet acknowledged; the executor waits on it before taking new source input.
  /// Limit: ClusterConfig::max_unacknowledged_bytes. Only after form() returned; the reference stays valid as long
  /// as the Cluster.
  [[nodiscard]] virtual core::ByteBudget& budget(std::size_t to) = 0;

  /// The executor finished processing `bytes` bytes of a core::PeerData from `from`: credit goes back to the sender.
  /// The drain protocol compares bytes sent with bytes acknowledged, so acknowledge every byte received, once.
  virtual void acknowledge(std::size_t from, std::size_t bytes) = 0;

  /// Asks the whole cluster to stop (a signal here, or `roo shutdown`): the initializer broadcasts stop, then
  /// polls every worker until all are drained with nothing in flight (sent == processed, twice in a row), then
  /// broadcasts exit.
  virtual void request_stop() = 0;

  /// Checkpoints (docs/resilience.md); only after form() returned, from any thread.
  /// The initializer: asks every other worker to take its part of checkpoint `id` (hooks.on_checkpoint_begin), and
  /// holds membership changes back until end_checkpoint(id): a checkpoint's cut and a rescale's move never overlap,
  /// and a checkpoint's workers are the membership at its begin. False (nothing sent) while the membership is
  /// changing (a worker joining, a rescale round): try again later.
  [[nodiscard]] virtual bool begin_checkpoint(std::uint64_t id) = 0;
  /// Sends checkpoint `id`'s marker to worker `to`, after every batch sent to it so far (it arrives there as a
  /// core::CheckpointMarker, in order with the data).
  virtual void send_marker(std::size_t to, std::uint64_t id) = 0;
  /// Sends the runtime's watermark bytes to worker `to`, after every batch sent to it so far (it arrives there as
  /// core::Watermarks). Not counted against the credit: small, and only ever the latest matters.
  virtual void send_watermark(std::size_t to, std::vector<char> bytes) = 0;
  /// A worker that is not the initializer: how its part of checkpoint `id` went (`text`: the part's description,
  /// or the failure's one line).
  virtual void report_checkpoint_part(std::uint64_t id, bool ok, std::string text) = 0;
  /// The initializer: checkpoint `id` (begun) is over. Membership changes may go on. `complete`: every other worker
  /// hears it (hooks.on_checkpoint_complete), and workers that left the cluster before it began (they wait for a
  /// complete checkpoint without them, so that a recovery never needs them) are told to exit.
  virtual void end_checkpoint(std::uint64_t id, bool complete) = 0;

  /// Growing and shrinking (docs/cluster.md), only after form() returned, from any thread.
  /// Sends key groups' state to worker `to` (on_rescale_move): after every batch sent to it so far, charged to its
  /// budget and counted like send()'s bytes; it arrives there as a core::KeyGroupState.
  virtual bool send_key_groups(std::size_t to, std::vector<char>&& bytes) = 0;
  /// This worker handed over everything on_rescale_move asked for (and routes by the new owners).
  virtual void rescale_moved(std::uint64_t round) = 0;

  /// Every live worker's answer to local query `type` (hooks.local_answer on each worker: e.g. metrics_query), by
  /// worker name, and the names of the workers that could not answer (lost). Any thread; `done` runs later on the
  /// io thread. Before the cluster formed, or on a worker that lost the initializer: this worker's answer only.
  virtual void gather(std::uint16_t type, std::function<void(GatheredByName)> done) = 0;

  /// The cluster-wide table of connector streams (which worker owns each, how far each got), for this worker's
  /// connector sources; the initializer keeps it. The handle may outlive the cluster: its claims are then refused.
  [[nodiscard]] virtual std::shared_ptr<core::StreamRegistry> stream_registry() = 0;

  /// Which workers are still connected (index -> up), for status answers.
  [[nodiscard]] virtual std::vector<bool> workers_up() const = 0;

  /// Lost peers, peers that have not acknowledged everything sent to them, and (on the initializer) workers still
  /// not drained when the drain timed out. A peer lost while the cluster was stopping, with everything sent to it
  /// acknowledged, is left out once the initializer said exit (it exited first). Call from the thread that runs the
  /// io_context, while it is not running it (the worker's executor, at exit).
  [[nodiscard]] virtual std::vector<PeerShortfall> shortfalls() const = 0;

  /// Closes every connection; idempotent. Waits (up to 2 s) until done unless called from the io thread or the
  /// io_context is stopped (then the closing runs when it next runs). A form() still waiting throws "form the
  /// cluster: the worker stopped before the cluster formed".
  virtual void stop() = 0;
};

/// What each peer's data channel delivers (core::PeerInput: data, checkpoint markers, watermarks, in the order the peer
/// sent them) goes into `inbound` (bounded: when full, the channel stops reading and the sender's budget fills up).
/// Hooks are called on the io thread.
[[nodiscard]] std::unique_ptr<Cluster> make_cluster(boost::asio::io_context& io, ClusterConfig config,
                                                    core::BoundedMailbox<core::PeerInput>& inbound, ClusterHooks hooks);

}  // namespace roo::cluster
