#pragma once

#include "client_socket.hpp"
#include "client_tls.hpp"

#include "roo/core/endpoint.hpp"
#include "roo/core/shared_secret.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace roo::cli {

/// Message ids of Wallaroo's external channel (spec §2.5). Requests are odd-numbered queries and their
/// responses the id after them; Print, RotateLog, CleanShutdown and ReportStatus have no response.
enum class ExternalMessageId : std::uint16_t {
  print = 1,                                       ///< text the worker prints
  rotate_log = 2,                                  ///< name of the worker whose event log rotates
  clean_shutdown = 3,                              ///< stop the whole cluster, optional text
  shrink_request = 4,                              ///< JSON {"query","node_names","node_count"} -> 5 or 6
  shrink_query_response = 5,                       ///< JSON {"node_names":[...],"node_count":N}: who leaves (or could)
  shrink_error_response = 6,                       ///< text: why the cluster refused the shrink request
  partition_query = 7,                             ///< -> partition_query_response
  partition_query_response = 8,                    ///< JSON: state and stateless partitions per worker
  cluster_status_query = 9,                        ///< -> cluster_status_response or cluster_status_not_initialized
  cluster_status_response = 10,                    ///< JSON: worker_count, worker_names, processing_messages
  cluster_status_not_initialized = 11,             ///< empty: the cluster has not formed yet
  partition_count_query = 12,                      ///< -> partition_count_query_response
  partition_count_query_response = 13,             ///< JSON: like 8 with counts
  source_ids_query = 14,                           ///< -> source_ids_query_response
  source_ids_query_response = 15,                  ///< JSON: {"source_ids": [...]}
  report_status = 16,                              ///< a status code string, e.g. "boundary-count-status"
  state_entity_query = 17,                         ///< -> state_entity_query_response
  state_entity_query_response = 18,                ///< JSON: keys held locally per state stage
  stateless_partition_query = 19,                  ///< -> stateless_partition_query_response
  stateless_partition_query_response = 20,         ///< JSON: step ids per stateless partition and worker
  state_entity_count_query = 21,                   ///< -> state_entity_count_query_response
  state_entity_count_query_response = 22,          ///< JSON: key count per state stage
  stateless_partition_count_query = 23,            ///< -> stateless_partition_count_query_response
  stateless_partition_count_query_response = 24,   ///< JSON: step count per stateless partition and worker
  cluster_state_entity_count_query = 25,           ///< -> cluster_state_entity_count_query_response
  cluster_state_entity_count_query_response = 26,  ///< JSON: key count per worker and state stage
  // Roo's external secret (docs/running.md, Security; cluster/external_authentication.hpp).
  auth_hello = 200,      ///< client → worker: the client's nonce
  auth_challenge = 201,  ///< worker → client: the worker's nonce
  auth_proof = 202,      ///< client → worker: the client's proof
  auth_refused = 203,    ///< worker → client: why it refused the request (text); it closes
  auth_accepted = 204,   ///< worker → client, after a good client proof: the worker's proof
  // Roo's own queries (docs/cluster.md, The external channel): the request id is the cluster's local query type.
  metrics_query = 1000,     ///< -> metrics_response
  metrics_response = 1001,  ///< JSON: {"workers":{"<name>":<its metrics>,...},"missing":["<name>",...]}
};

/// The longest answer a client reads: a worker's answer is gathered over control frames of at most 64 MiB
/// (cluster/wire.hpp), so nothing Roo sends is longer; a peer announcing more is not a Roo worker.
constexpr std::uint32_t external_max_answer_bytes = 64u * 1024 * 1024;

/// One frame of the external channel: `u32 BE (2 + n) | u16 BE id | n payload bytes`.
[[nodiscard]] std::string encode_external_frame(ExternalMessageId id, std::string_view payload);

/// What came back, if anything, after a request.
struct ExternalReply {
  /// How the wait for a frame ended.
  enum class Outcome {
    frame,      ///< `id` and `payload` hold one whole frame
    timed_out,  ///< nothing complete arrived before the timeout
    closed,     ///< the worker closed (or reset) the connection first
    malformed,  ///< a frame too short to hold its message id
    too_large,  ///< a frame announcing more than external_max_answer_bytes (nothing of it is kept)
  };
  Outcome outcome = Outcome::timed_out;
  std::uint16_t id = 0;
  std::string payload;
};

/// Throws the one-line core::Error `<action>: <why>` for a reply that is not a whole frame ("none within 5 s
/// (--timeout)", "the worker closed the connection" with a hint, ...); returns for a frame.
void expect_frame(const ExternalReply& reply, const std::string& action, double timeout_seconds);

/// Throws the one-line core::Error for a frame that is not the answer `expected` to request `what` sent to `address`:
/// "get an answer to <what> from <address>: the worker refused: <why>" (its external secret), else "read the answer
/// to <what> from <address>: unexpected message id 13 (expected 8)"; returns for the expected answer.
void expect_answer(const ExternalReply& reply, ExternalMessageId expected, const std::string& what,
                   const std::string& address);

/// How long a request without an answer waits for a refusal before it counts as delivered.
constexpr std::chrono::milliseconds refusal_wait{300};

/// The external secret in the file `flag_value` names, else in $ROO_EXTERNAL_SECRET_FILE, else none. Throws
/// core::UsageError "read --external-secret-file '<path>': <cause>".
[[nodiscard]] core::SharedSecret external_secret(const std::optional<std::string>& flag_value);

/// A blocking client connection to one worker's external channel (`--external`), used by `roo ctl`,
/// `roo shutdown` and `cluster_shutdown`. Owns its socket; runs on the calling thread; never raises SIGPIPE.
class ExternalClient {
 public:
  /// Connects to `worker` (trying every address the name resolves to) within `timeout`. Throws core::Error
  /// "connect to 127.0.0.1:5050: connection refused" on failure.
  [[nodiscard]] static ExternalClient connect(const core::Endpoint& worker, std::chrono::milliseconds timeout,
                                              const std::optional<core::TlsFiles>& tls = std::nullopt);

  /// Connects to `worker` as connect() does and, when `secret` is not empty, authenticates.
  [[nodiscard]] static ExternalClient open(const core::Endpoint& worker, std::chrono::milliseconds timeout,
                                           const std::optional<core::TlsFiles>& tls, const core::SharedSecret& secret);

  /// Proves knowledge of the worker's external secret (--external-secret-file) and checks that the worker knows
  /// it too, before any request. Throws core::Error "authenticate to h:p: <why>".
  void authenticate(const core::SharedSecret& secret, std::chrono::milliseconds timeout);

  /// After a request without an answer: waits up to `wait` for the worker's refusal (a worker whose external
  /// channel has a secret refuses a client without it). Throws core::Error "<action>: the worker refused: <why>".
  void check_not_refused(std::chrono::milliseconds wait, const std::string& action);

  /// Writes one whole frame. Throws core::Error "send <what> to h:p: broken pipe" if the worker is gone.
  void send(ExternalMessageId id, std::string_view payload, std::string_view what);

  /// Waits up to `timeout` for one whole frame of at most external_max_answer_bytes. Zero-length frames are
  /// skipped. Never throws.
  [[nodiscard]] ExternalReply read_reply(std::chrono::milliseconds timeout);

  /// Half-closes, discards whatever the worker sent, and closes (so the worker sees an orderly close).
  void close() {
    tls_.reset();
    socket_.close();
  }

  /// "host:port" as the user wrote it.
  [[nodiscard]] const std::string& name() const { return socket_.name(); }

 private:
  explicit ExternalClient(ClientSocket socket) : socket_(std::move(socket)) {}
  [[nodiscard]] int write_all(const char* data, std::size_t size);
  ClientSocket socket_;
  std::unique_ptr<ClientTls> tls_;  // set when the worker's channel is under TLS (--tls-*); before socket_ goes
};

}  // namespace roo::cli
