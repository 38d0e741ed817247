#include "roo/bruco/bruco_config.hpp"

#include "roo/core/error.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string_view>
#include <system_error>
#include <variant>

namespace roo::bruco {
namespace fs = std::filesystem;

namespace {

const char* source_kind(const SourceSettings& source) {
  constexpr const char* kinds[] = {"kafka", "http", "nats"};  // SourceSettings' alternatives, in order
  return kinds[source.index()];
}

/// Reads one config file, naming the file and the key path in every error.
class ConfigReader {
 public:
  explicit ConfigReader(fs::path file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    throw core::UsageError("read " + file_.string() + ": " + path + ": " + what);
  }

  /// `node` is a map whose keys are all in `allowed`.
  /// `node` is a map whose keys are all in `allowed`; `what` names it in the error ("a source of kind http").
  void expect_map(const YAML::Node& node, const std::string& path, std::initializer_list<const char*> allowed,
                  const std::string& what = {}) const {
    if (!node.IsMap()) {
      fail(path, "expected a mapping of " + list(allowed));
    }
    for (const auto& entry : node) {
      std::string key = entry.first.as<std::string>();
      if (std::none_of(allowed.begin(), allowed.end(), [&](const char* known) { return key == known; })) {
        fail(join(path, key), "is not a key of " + (what.empty() ? path : what) + " (allowed: " + list(allowed) + ")");
      }
    }
  }

  [[nodiscard]] std::string text(const YAML::Node& parent, const std::string& path, const char* key,
                                 std::optional<std::string> fallback = std::nullopt) const {
    YAML::Node node = parent[key];
    if (!node || node.IsNull()) {
      if (fallback) {
        return *fallback;
      }
      fail(join(path, key), "is required");
    }
    if (!node.IsScalar()) {
      fail(join(path, key), "expected a text value");
    }
    return node.as<std::string>();
  }

  [[nodiscard]] std::vector<std::string> texts(const YAML::Node& parent, const std::string& path,
                                               const char* key) const {
    YAML::Node node = parent[key];
    if (!node || node.IsNull()) {
      fail(join(path, key), "is required (a list)");
    }
    std::vector<std::string> out;
    if (node.IsScalar()) {  // one item without the list, as Go's YAML would refuse but people write
      out.push_back(node.as<std::string>());
    } else if (node.IsSequence()) {
      for (const auto& item : node) {
        if (!item.IsScalar()) {
          fail(join(path, key), "expected a list of text values");
        }
        out.push_back(item.as<std::string>());
      }
    } else {
      fail(join(path, key), "expected a list of text values");
    }
    if (out.empty()) {
      fail(join(path, key), "is empty");
    }
    return out;
  }

  [[nodiscard]] long long number(const YAML::Node& parent, const std::string& path, const char* key,
                                 long long fallback, long long low, long long high) const {
    YAML::Node node = parent[key];
    if (!node || node.IsNull()) {
      return fallback;
    }
    long long value = 0;
    if (!node.IsScalar() || !YAML::convert<long long>::decode(node, value)) {
      fail(join(path, key), "expected a whole number from " + std::to_string(low) + " to " + std::to_string(high));
    }
    if (value < low || value > high) {
      fail(join(path, key), std::to_string(value) + " is not from " + std::to_string(low) + " to " +
                                std::to_string(high));
    }
    return value;
  }

  [[nodiscard]] bool flag(const YAML::Node& parent, const std::string& path, const char* key) const {
    YAML::Node node = parent[key];
    if (!node || node.IsNull()) {
      return false;
    }
    bool value = false;
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
      fail(join(path, key), "expected true or false");
    }
    return value;
  }

  /// One of `choices` (the first is the default when the key is absent).
  [[nodiscard]] std::size_t choice(const YAML::Node& parent, const std::string& path, const char* key,
                                   std::initializer_list<const char*> choices, bool required = false) const {
    YAML::Node node = parent[key];
    if (!node || node.IsNull()) {
      if (required) {
        fail(join(path, key), "is required (one of " + list(choices) + ")");
      }
      return 0;
    }
    std::string value = node.IsScalar() ? node.as<std::string>() : std::string();
    std::size_t index = 0;
    for (const char* known : choices) {
      if (value == known) {
        return index;
      }
      ++index;
    }
    fail(join(path, key), "\"" + value + "\" is not one of " + list(choices));
  }

  static std::string join(const std::string& path, const std::string& key) { return path + "." + key; }

  static std::string list(std::initializer_list<const char*> items) {
    std::string out;
    for (const char* item : items) {
      out += (out.empty() ? "" : ", ") + std::string(item);
    }
    return out;
  }

 private:
  fs::path file_;
};

/// processor.stateKey: absent, "message-key" or "json:<field>".
std::string read_state_key(const ConfigReader& read, const YAML::Node& processor) {
  if (YAML::Node node = processor["stateKey"]; !node || node.IsNull()) {
    return {};
  }
  std::string key = read.text(processor, "processor", "stateKey");
  constexpr std::string_view json = "json:";
  if (key == "message-key" || (key.starts_with(json) && key.size() > json.size())) {
    return key;
  }
  if (key == json) {
    read.fail("processor.stateKey", "\"json:\" names no field (json:<field>, a top-level field of a JSON event)");
  }
  read.fail("processor.stateKey", "\"" + key + "\" is not message-key or json:<field>");
}

/// What processor.stateKey needs of the source and the number of workers.
void check_state_key(const ConfigReader& read, const BrucoConfig& config, std::optional<int> workers_flag) {
  if (config.processor.state_key.empty()) {
    return;
  }
  if (config.processor.state_key == "message-key" && !std::holds_alternative<KafkaSourceSettings>(config.source)) {
    read.fail("processor.stateKey", "message-key needs a kafka source (" + std::string(source_kind(config.source)) +
                                        " events have no key; use json:<field>)");
  }
  const auto* http = std::get_if<HttpSourceSettings>(&config.source);
  int workers = workers_flag.value_or(config.processor.workers);
  if (http != nullptr && !http->ignore_processor_response && workers > 1) {
    read.fail("processor.stateKey",
              "with an http source needs 1 worker, not " + std::to_string(workers) +
                  (workers_flag ? " (roo run --workers)" : " (processor.workers)") +
                  ": a request is answered by the worker that read it, and a key's events go to the worker keeping "
                  "its state (or set source.ignoreProcessorResponse: true)");
  }
}

ProcessorSettings read_processor(const ConfigReader& read, const YAML::Node& node) {
  ProcessorSettings processor;
  if (!node || node.IsNull()) {
    return processor;
  }
  read.expect_map(node, "processor", {"handlerPath", "moduleName", "workers", "env", "stateKey"});
  processor.handler_path = read.text(node, "processor", "handlerPath", std::string());
  processor.module_name = read.text(node, "processor", "moduleName", std::string("handler"));
  if (processor.module_name.empty() || processor.module_name.find('/') != std::string::npos) {
    read.fail("processor.moduleName", "\"" + processor.module_name + "\" is not a Python module name");
  }
  processor.workers = static_cast<int>(read.number(node, "processor", "workers", 1, 1, 64));
  if (YAML::Node env = node["env"]; env && !env.IsNull()) {
    if (!env.IsSequence()) {
      read.fail("processor.env", "expected a list of {name, value}");
    }
    std::size_t i = 0;
    for (const auto& item : env) {
      std::string path = "processor.env[" + std::to_string(i++) + "]";
      read.expect_map(item, path, {"name", "value"});
      std::string name = read.text(item, path, "name");
      if (name.empty() || name.find('=') != std::string::npos) {
        read.fail(path + ".name", "\"" + name + "\" is not an environment variable's name");
      }
      processor.env.emplace_back(name, read.text(item, path, "value", std::string()));
    }
  }
  processor.state_key = read_state_key(read, node);
  return processor;
}

SourceSettings read_source(const ConfigReader& read, const YAML::Node& node) {
  if (!node || node.IsNull()) {
    read.fail("source", "is required (a mapping with kind: kafka, http or nats)");
  }
  if (!node.IsMap()) {
    read.fail("source", "expected a mapping with kind: kafka, http or nats");
  }
  switch (read.choice(node, "source", "kind", {"kafka", "http", "nats"}, true)) {
    case 0: {
      read.expect_map(node, "source",
                      {"kind", "brokers", "topics", "consumerGroup", "offset", "balanceStrategy", "fireAndForget",
                       "rebalanceTimeout", "channelBufferSize", "fetchDefaultBytes"},
                      "a source of kind kafka");
      KafkaSourceSettings kafka;
      kafka.brokers = read.texts(node, "source", "brokers");
      kafka.topics = read.texts(node, "source", "topics");
      kafka.consumer_group = read.text(node, "source", "consumerGroup");
      kafka.offset = static_cast<KafkaSourceSettings::Offset>(read.choice(node, "source", "offset", {"latest", "earliest"}));
      kafka.balance = static_cast<KafkaSourceSettings::Balance>(
          read.choice(node, "source", "balanceStrategy", {"range", "sticky", "roundrobin"}));
      kafka.fire_and_forget = read.flag(node, "source", "fireAndForget");
      kafka.rebalance_timeout_s = static_cast<int>(read.number(node, "source", "rebalanceTimeout", 60, 1, 3600));
      kafka.channel_buffer_size = static_cast<int>(read.number(node, "source", "channelBufferSize", 256, 1, 1 << 20));
      kafka.fetch_default_bytes =
          static_cast<int>(read.number(node, "source", "fetchDefaultBytes", 1 << 20, 1, 1 << 30));
      return kafka;
    }
    case 1: {
      read.expect_map(node, "source", {"kind", "port", "ignoreProcessorResponse"}, "a source of kind http");
      HttpSourceSettings http;
      http.port = static_cast<std::uint16_t>(read.number(node, "source", "port", 8080, 1, 65535));
      http.ignore_processor_response = read.flag(node, "source", "ignoreProcessorResponse");
      return http;
    }
    default: {
      read.expect_map(node, "source", {"kind", "serverUrl", "subject", "queueGroup"}, "a source of kind nats");
      NatsSourceSettings nats;
      nats.server_url = read.text(node, "source", "serverUrl");
      nats.subject = read.text(node, "source", "subject");
      nats.queue_group = read.text(node, "source", "queueGroup", std::string());
      return nats;
    }
  }
}

std::optional<SinkSettings> read_sink(const ConfigReader& read, const YAML::Node& node) {
  if (!node || node.IsNull()) {
    return std::nullopt;
  }
  if (!node.IsMap()) {
    read.fail("sink", "expected a mapping with kind: kafka or nats");
  }
  if (read.choice(node, "sink", "kind", {"kafka", "nats"}, true) == 0) {
    read.expect_map(node, "sink", {"kind", "brokers", "topic", "partition", "partitioner"}, "a sink of kind kafka");
    KafkaSinkSettings kafka;
    kafka.brokers = read.texts(node, "sink", "brokers");
    kafka.topic = read.text(node, "sink", "topic");
    if (node["partition"] && !node["partition"].IsNull()) {
      kafka.partition = static_cast<std::int32_t>(
          read.number(node, "sink", "partition", 0, 0, std::numeric_limits<std::int32_t>::max()));
    }
    kafka.partitioner = static_cast<KafkaSinkSettings::Partitioner>(
        read.choice(node, "sink", "partitioner", {"hash", "random", "manual"}));
    if (kafka.partitioner == KafkaSinkSettings::Partitioner::manual && !kafka.partition) {
      read.fail("sink.partitioner", "manual needs sink.partition");
    }
    return kafka;
  }
  read.expect_map(node, "sink", {"kind", "serverUrl", "subject"}, "a sink of kind nats");
  NatsSinkSettings nats;
  nats.server_url = read.text(node, "sink", "serverUrl");
  nats.subject = read.text(node, "sink", "subject");
  return nats;
}

}  // namespace

fs::path BrucoConfig::handler_folder() const {
  fs::path folder = file.parent_path();
  return processor.handler_path.empty() ? folder : (folder / processor.handler_path).lexically_normal();
}

BrucoConfig read_bruco_config(const fs::path& file, std::optional<int> workers) {
  ConfigReader read(file);
  YAML::Node root;
  try {
    root = YAML::LoadFile(file.string());
  } catch (const YAML::BadFile&) {
    throw core::UsageError("read " + file.string() + ": no such file, or it cannot be read");
  } catch (const YAML::Exception& error) {
    throw core::UsageError("read " + file.string() + ": not valid YAML at line " + std::to_string(error.mark.line + 1) +
                           ", column " + std::to_string(error.mark.column + 1) + ": " + error.msg);
  }
  if (!root.IsMap()) {
    throw core::UsageError("read " + file.string() + ": expected a mapping with processor, source and sink");
  }
  for (const auto& entry : root) {
    std::string key = entry.first.as<std::string>();
    if (key != "processor" && key != "source" && key != "sink") {
      read.fail(key, "is not a key of the config (allowed: processor, source, sink)");
    }
  }
  BrucoConfig config;
  config.file = file;
  config.processor = read_processor(read, root["processor"]);
  config.source = read_source(read, root["source"]);
  config.sink = read_sink(read, root["sink"]);
  check_state_key(read, config, workers);
  return config;
}

fs::path find_bruco_config(const fs::path& path) {
  std::error_code error;
  if (fs::is_regular_file(path, error)) {
    return path;
  }
  if (!fs::is_directory(path, error)) {
    throw core::UsageError("run " + path.string() + ": no such file or folder");
  }
  if (fs::is_regular_file(path / "config.yaml", error)) {
    return path / "config.yaml";
  }
  std::vector<fs::path> folders;
  for (const auto& entry : fs::directory_iterator(path, error)) {
    if (entry.is_directory(error)) {
      folders.push_back(entry.path());
    }
  }
  if (folders.size() == 1 && fs::is_regular_file(folders.front() / "config.yaml", error)) {
    return folders.front() / "config.yaml";
  }
  throw core::UsageError("run " + path.string() + ": no config.yaml in it" +
                         (folders.size() == 1 ? " nor in " + folders.front().filename().string()
                                              : folders.empty() ? std::string() : " (and more than one subfolder)"));
}

}  // namespace roo::bruco
