#pragma once

#include <optional>
#include <string>
#include <vector>

namespace roo::cli {

/// Wallaroo's worker-level flags (spec §2.1), consumed before the application sees its arguments.
struct WallarooFlags {
  std::optional<std::string> application_module;
  std::optional<std::string> metrics;
  std::optional<std::string> control;
  std::optional<std::string> data;
  std::optional<std::string> my_control;
  std::optional<std::string> my_data;
  std::optional<std::string> external;
  std::optional<std::string> name;
  std::optional<std::string>
      join;  ///< --join: the initializer's control address, for a worker joining a running cluster
  std::optional<std::string> resilience_dir;
  std::optional<long long> time_between_checkpoints_ns;  ///< --time-between-checkpoints (nanoseconds)
  // Roo's security flags (docs/running.md, Security); the environment supplies them when absent.
  std::optional<std::string> cluster_secret_file;   ///< --cluster-secret-file, else $ROO_CLUSTER_SECRET_FILE
  std::optional<std::string> external_secret_file;  ///< --external-secret-file, else $ROO_EXTERNAL_SECRET_FILE
  std::optional<std::string> tls_cert;              ///< --tls-cert: mutual TLS on control, data and external
  std::optional<std::string> tls_key;               ///< --tls-key
  std::optional<std::string> tls_ca;                ///< --tls-ca
  int worker_count = 1;
  bool cluster_initializer = false;
  bool run_with_resilience = false;
  bool help = false;
  std::vector<std::string> ignored;  ///< accepted for compatibility, without effect (logged)
};

/// Splits `args` (without the program name) into Wallaroo's flags and the application's own arguments,
/// which keep their order. `--pony*` flags are dropped. Throws core::UsageError for a flag that lacks its
/// value (none follows, the next word is another `--flag`, or it is empty) or has a malformed one.
[[nodiscard]] WallarooFlags take_wallaroo_flags(const std::vector<std::string>& args,
                                                std::vector<std::string>& app_args);

/// Whether the flags start a worker that joins a cluster (one that is not the initializer): --my-control or --my-data
/// (a member of the first formation, with --control) or --join (a worker added to a running cluster, which the
/// initializer admits after formation; the cluster layer tells them apart, the command line need not).
[[nodiscard]] bool is_joining_worker(const WallarooFlags& flags);

/// The initializer's control address a joining worker says hello to: --join, else --control.
[[nodiscard]] const std::optional<std::string>& initializer_control(const WallarooFlags& flags);

/// Refuses, in one line, flags that do not go together or lack a partner (e.g. --join with --control, a joining
/// worker without --name), and malformed addresses.
void check_supported(const WallarooFlags& flags);

}  // namespace roo::cli
