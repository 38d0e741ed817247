#include "bruco_launch.hpp"

#include "tool_process.hpp"

#include "roo/bruco/bruco_config.hpp"
#include "roo/core/error.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <variant>

namespace roo::cli {
namespace fs = std::filesystem;

namespace {

/// The interpreter Roo embeds: pip and venv run on it, so what they install is importable in the workers.
constexpr const char* python = "/usr/bin/python3";

fs::path unpack_zip(const fs::path& zip) {
  std::string pattern = (fs::temp_directory_path() / "roo-bruco-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw core::Error("unpack " + zip.string() + ": cannot make a temporary folder");
  }
  ToolResult unzip = run_tool({python, "-m", "zipfile", "-e", zip.string(), pattern});
  if (unzip.status != 0) {
    std::error_code ignored;
    fs::remove_all(pattern, ignored);
    throw core::UsageError("unpack " + zip.string() + ": " + unzip.last_lines(1));
  }
  std::fprintf(stderr, "roo run: unpacked %s into %s\n", zip.c_str(), pattern.c_str());
  return pattern;
}

/// The virtualenv requirements go into: the active one, else `.roo-venv` in the function's folder (made once).
fs::path requirements_venv(const fs::path& folder) {
  if (const char* active = std::getenv("VIRTUAL_ENV"); active != nullptr && *active != '\0') {
    return active;
  }
  fs::path venv = folder / ".roo-venv";
  if (!fs::exists(venv / "bin" / "python")) {
    ToolResult made = run_tool({python, "-m", "venv", venv.string()});
    if (made.status != 0) {
      throw core::Error("make the virtualenv " + venv.string() + " for requirements.txt: " + made.last_lines(5));
    }
  }
  ::setenv("VIRTUAL_ENV", venv.c_str(), 1);  // the workers import from it (python/virtualenv.cpp)
  return venv;
}

void install_requirements(const fs::path& folder) {
  fs::path requirements = folder / "requirements.txt";
  std::error_code error;
  if (!fs::is_regular_file(requirements, error)) {
    return;
  }
  if (const char* disabled = std::getenv("BRUCO_DISABLE_PIP"); disabled != nullptr && std::string(disabled) == "true") {
    std::fprintf(stderr, "roo run: BRUCO_DISABLE_PIP=true: not installing %s\n", requirements.c_str());
    return;
  }
  fs::path venv = requirements_venv(folder);
  ToolResult pip = run_tool({(venv / "bin" / "python").string(), "-m", "pip", "install", "--disable-pip-version-check",
                             "-q", "-r", requirements.string()});
  if (pip.status != 0) {
    throw core::Error("install " + requirements.string() + " with pip into " + venv.string() + ":\n" +
                      pip.last_lines(8));
  }
  std::fprintf(stderr, "roo run: installed %s into the virtualenv %s\n", requirements.c_str(), venv.c_str());
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    out += (out.empty() ? "" : ",") + item;
  }
  return out;
}

// Each source and sink of the config becomes flags of Roo's Bruco module (python/wallaroo/_bruco.py); Kafka's also the
// `--kafka_source_*` / `--kafka_sink_*` flags Roo's Kafka configs read.

void add_source_flags(const bruco::HttpSourceSettings& http, std::vector<std::string>& argv) {
  argv.insert(argv.end(), {"--bruco-source", "http", "--bruco-http-port", std::to_string(http.port)});
  if (http.ignore_processor_response) {
    argv.push_back("--bruco-ignore-response");
  }
}

void add_source_flags(const bruco::NatsSourceSettings& nats, std::vector<std::string>& argv) {
  argv.insert(argv.end(), {"--bruco-source", "nats", "--bruco-nats-source-url", nats.server_url,
                           "--bruco-nats-source-subject", nats.subject});
  if (!nats.queue_group.empty()) {
    argv.insert(argv.end(), {"--bruco-nats-queue-group", nats.queue_group});
  }
}

void add_source_flags(const bruco::KafkaSourceSettings& kafka, std::vector<std::string>& argv) {
  using Balance = bruco::KafkaSourceSettings::Balance;
  const char* strategy = kafka.balance == Balance::range        ? "range"
                         : kafka.balance == Balance::roundrobin ? "roundrobin"
                                                                : "cooperative-sticky";
  argv.insert(argv.end(),
              {"--bruco-source", "kafka", "--kafka_source_topic", kafka.topics.front(), "--kafka_source_brokers",
               joined(kafka.brokers), "--bruco-kafka-topics", joined(kafka.topics), "--bruco-kafka-group",
               kafka.consumer_group, "--bruco-kafka-start",
               kafka.offset == bruco::KafkaSourceSettings::Offset::earliest ? "earliest" : "latest",
               "--bruco-kafka-property", std::string("partition.assignment.strategy=") + strategy,
               "--bruco-kafka-property", "max.partition.fetch.bytes=" + std::to_string(kafka.fetch_default_bytes),
               "--bruco-kafka-property",
               "max.poll.interval.ms=" + std::to_string(std::max(kafka.rebalance_timeout_s, 60) * 1000)});
}

void add_sink_flags(const bruco::KafkaSinkSettings& kafka, std::vector<std::string>& argv) {
  using Partitioner = bruco::KafkaSinkSettings::Partitioner;
  argv.insert(argv.end(), {"--bruco-sink", "kafka", "--kafka_sink_topic", kafka.topic, "--kafka_sink_brokers",
                           joined(kafka.brokers), "--kafka_sink_max_produce_buffer_ms", "0",
                           "--kafka_sink_max_message_size", "1000000"});
  if (kafka.partitioner == Partitioner::manual) {
    argv.insert(argv.end(), {"--bruco-kafka-sink-partition", std::to_string(*kafka.partition)});
  } else {
    // hash: like Bruco's (sarama's FNV-1a hash of the key), a keyless message to a random partition.
    argv.insert(argv.end(), {"--bruco-kafka-sink-partitioner",
                             kafka.partitioner == Partitioner::random ? "random" : "fnv1a_random"});
  }
}

void add_sink_flags(const bruco::NatsSinkSettings& nats, std::vector<std::string>& argv) {
  argv.insert(argv.end(), {"--bruco-sink", "nats", "--bruco-nats-sink-url", nats.server_url,
                           "--bruco-nats-sink-subject", nats.subject});
}

}  // namespace

bool is_bruco_function(const std::string& app) {
  fs::path path(app);
  std::string extension = path.extension().string();
  if (extension == ".yaml" || extension == ".yml" || extension == ".zip") {
    return true;
  }
  std::error_code error;
  if (!fs::is_directory(path, error)) {
    return false;
  }
  try {
    (void)bruco::find_bruco_config(path);  // config.yaml in it, or in its one subfolder
    return true;
  } catch (const core::UsageError&) {
    return false;
  }
}

BrucoRun prepare_bruco_function(const std::string& path, std::optional<int> workers_flag) {
  fs::path where = path;
  if (where.extension() == ".zip") {
    if (!fs::is_regular_file(where)) {
      throw core::UsageError("run " + path + ": no such file");
    }
    where = unpack_zip(where);
  }
  bruco::BrucoConfig config = bruco::read_bruco_config(fs::absolute(bruco::find_bruco_config(where)), workers_flag);
  for (const auto& [name, value] : config.processor.env) {
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  install_requirements(config.file.parent_path());
  BrucoRun run{.argv = {"wallaroo._bruco", "--bruco-handler-folder", config.handler_folder().string(), "--bruco-module",
                        config.processor.module_name},
               .workers = workers_flag.value_or(config.processor.workers)};
  std::visit([&](const auto& source) { add_source_flags(source, run.argv); }, config.source);
  if (config.sink) {
    std::visit([&](const auto& sink) { add_sink_flags(sink, run.argv); }, *config.sink);
  }
  if (!config.processor.state_key.empty()) {
    run.argv.insert(run.argv.end(), {"--bruco-state-key", config.processor.state_key});
  }
  return run;
}

}  // namespace roo::cli
