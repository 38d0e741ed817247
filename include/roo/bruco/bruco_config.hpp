#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace roo::bruco {

/// A Bruco function's `config.yaml` (docs/bruco.md; Bruco's keys, in Bruco's spelling), read and checked.

struct ProcessorSettings {
  std::filesystem::path handler_path;  ///< handlerPath, relative to the config's folder; default: that folder
  std::string module_name = "handler";  ///< moduleName
  int workers = 1;                      ///< workers: Roo workers (a local cluster when more than 1)
  std::vector<std::pair<std::string, std::string>> env;  ///< env: [{name, value}], for every worker
  /// stateKey (Roo's extension): where an event's key comes from, for per-key state (`context.state`): empty (no
  /// per-key state), "message-key" (the Kafka message's key) or "json:<field>" (a top-level field of a JSON event).
  std::string state_key;
};

struct KafkaSourceSettings {
  std::vector<std::string> brokers;
  std::vector<std::string> topics;
  std::string consumer_group;
  enum class Offset { latest, earliest } offset = Offset::latest;
  enum class Balance { range, sticky, roundrobin } balance = Balance::range;
  bool fire_and_forget = false;
  int rebalance_timeout_s = 60;
  int channel_buffer_size = 256;
  int fetch_default_bytes = 1024 * 1024;
};

struct HttpSourceSettings {
  std::uint16_t port = 8080;
  bool ignore_processor_response = false;
};

struct NatsSourceSettings {
  std::string server_url;
  std::string subject;
  std::string queue_group;  ///< empty: every worker gets every message
};

struct KafkaSinkSettings {
  std::vector<std::string> brokers;
  std::string topic;
  std::optional<std::int32_t> partition;
  enum class Partitioner { hash, random, manual } partitioner = Partitioner::hash;
};

struct NatsSinkSettings {
  std::string server_url;
  std::string subject;
};

using SourceSettings = std::variant<KafkaSourceSettings, HttpSourceSettings, NatsSourceSettings>;
using SinkSettings = std::variant<KafkaSinkSettings, NatsSinkSettings>;

struct BrucoConfig {
  std::filesystem::path file;  ///< the config.yaml read
  ProcessorSettings processor;
  SourceSettings source;
  std::optional<SinkSettings> sink;  ///< none: outputs are dropped (HTTP: only returned to the caller)

  /// The folder the handler module is imported from (handlerPath against the config's folder).
  [[nodiscard]] std::filesystem::path handler_folder() const;
};

/// Reads and checks `file`. Throws core::UsageError naming the file, the key path and what is allowed, e.g.
/// `read config.yaml: source.kind: "kafak" is not one of kafka, http, nats` or
/// `read config.yaml: sink.partitioner: manual needs sink.partition`.
/// `workers`, when given, is what `roo run --workers` asks for in place of processor.workers (checked against the
/// rest of the config as processor.workers is).
[[nodiscard]] BrucoConfig read_bruco_config(const std::filesystem::path& file,
                                            std::optional<int> workers = std::nullopt);

/// Where a function's config.yaml is: `path` itself (a .yaml/.yml file), `path/config.yaml`, or the config.yaml of
/// the one subfolder of `path` (Bruco's rule). Throws core::UsageError saying where it looked. (A .zip is unpacked
/// by the caller first.)
[[nodiscard]] std::filesystem::path find_bruco_config(const std::filesystem::path& path);

}  // namespace roo::bruco
