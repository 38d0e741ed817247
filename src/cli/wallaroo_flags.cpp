#include "wallaroo_flags.hpp"

#include "flag_values.hpp"

#include "roo/core/endpoint.hpp"
#include "roo/core/error.hpp"

#include <functional>
#include <map>

namespace roo::cli {
namespace {

using Setter = std::function<void(WallarooFlags&, const std::string&)>;

void set(std::optional<std::string> WallarooFlags::*field, WallarooFlags& flags, const std::string& value) {
  flags.*field = value;
}

struct FlagSpec {
  const char* long_name;
  const char* short_name;  // "" when none
  bool takes_value;
  Setter apply;
};

const std::vector<FlagSpec>& flag_specs() {
  auto text = [](std::optional<std::string> WallarooFlags::*field) {
    return [field](WallarooFlags& f, const std::string& v) { set(field, f, v); };
  };
  auto ignore = [](const char* name) {
    return [name](WallarooFlags& f, const std::string&) { f.ignored.emplace_back(name); };
  };
  static const std::vector<FlagSpec> specs = {
      {"--application-module", "", true, text(&WallarooFlags::application_module)},
      {"--metrics", "-m", true, text(&WallarooFlags::metrics)},
      {"--control", "-c", true, text(&WallarooFlags::control)},
      {"--data", "-d", true, text(&WallarooFlags::data)},
      {"--my-control", "-x", true, text(&WallarooFlags::my_control)},
      {"--my-data", "-y", true, text(&WallarooFlags::my_data)},
      {"--external", "-e", true, text(&WallarooFlags::external)},
      {"--name", "-n", true, text(&WallarooFlags::name)},
      {"--join", "-j", true, text(&WallarooFlags::join)},
      {"--resilience-dir", "-r", true, text(&WallarooFlags::resilience_dir)},
      {"--worker-count", "-w", true,
       [](WallarooFlags& f, const std::string& v) { f.worker_count = parse_count("--worker-count", v); }},
      {"--cluster-initializer", "-t", false,
       [](WallarooFlags& f, const std::string&) { f.cluster_initializer = true; }},
      {"--run-with-resilience", "", false, [](WallarooFlags& f, const std::string&) { f.run_with_resilience = true; }},
      {"--help", "-h", false, [](WallarooFlags& f, const std::string&) { f.help = true; }},
      {"--log-rotation", "", false, ignore("--log-rotation")},
      {"--event-log-file-size", "-l", true, ignore("--event-log-file-size")},
      {"--resilience-enable-io-journal", "", false, ignore("--resilience-enable-io-journal")},
      {"--resilience-no-local-file-io", "", false, ignore("--resilience-no-local-file-io")},
      {"--resilience-dos-server", "", true, ignore("--resilience-dos-server")},
      {"--stop-pause", "-u", true, ignore("--stop-pause")},
      {"--time-between-checkpoints", "", true,
       [](WallarooFlags& f, const std::string& v) {
         f.time_between_checkpoints_ns = parse_nanoseconds("--time-between-checkpoints", v);
       }},
      {"--spike-seed", "", true, ignore("--spike-seed")},
      {"--spike-drop", "", false, ignore("--spike-drop")},
      {"--spike-prob", "", true, ignore("--spike-prob")},
      {"--spike-margin", "", true, ignore("--spike-margin")},
      {"--file", "-f", true, ignore("--file")},
      // Roo's security flags (docs/running.md, Security).
      {"--cluster-secret-file", "", true, text(&WallarooFlags::cluster_secret_file)},
      {"--external-secret-file", "", true, text(&WallarooFlags::external_secret_file)},
      {"--tls-cert", "", true, text(&WallarooFlags::tls_cert)},
      {"--tls-key", "", true, text(&WallarooFlags::tls_key)},
      {"--tls-ca", "", true, text(&WallarooFlags::tls_ca)},
  };
  return specs;
}

// Pony runtime flags that take a value; every other --pony* flag is a switch.
bool pony_flag_takes_value(const std::string& name) {
  static const char* valued[] = {"--ponythreads",  "--ponyminthreads",       "--ponycdinterval", "--ponygcinitial",
                                 "--ponygcfactor", "--ponysuspendthreshold", "--ponymaxthreads", "--ponystats"};
  for (const char* flag : valued) {
    if (name == flag) {
      return true;
    }
  }
  return false;
}

}  // namespace

WallarooFlags take_wallaroo_flags(const std::vector<std::string>& args, std::vector<std::string>& app_args) {
  WallarooFlags flags;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    std::string name = arg;
    std::optional<std::string> inline_value;
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = arg.substr(0, eq);
      inline_value = arg.substr(eq + 1);
    }
    if (name.rfind("--pony", 0) == 0) {
      if (!inline_value && pony_flag_takes_value(name) && i + 1 < args.size()) {
        ++i;
      }
      continue;
    }
    const FlagSpec* spec = nullptr;
    for (const auto& candidate : flag_specs()) {
      if (name == candidate.long_name || (*candidate.short_name != '\0' && name == candidate.short_name)) {
        spec = &candidate;
        break;
      }
    }
    if (spec == nullptr) {
      app_args.push_back(arg);
      continue;
    }
    std::string value;
    if (spec->takes_value) {
      if (inline_value) {
        value = *inline_value;
      } else if (i + 1 < args.size() && !args[i + 1].starts_with("--")) {
        value = args[++i];
      }
      if (value.empty()) {
        throw core::UsageError("parse " + std::string(spec->long_name) + ": the flag needs a value");
      }
    }
    spec->apply(flags, value);
  }
  return flags;
}

bool is_joining_worker(const WallarooFlags& flags) {
  return !flags.cluster_initializer && (flags.my_control || flags.my_data || flags.join);
}

const std::optional<std::string>& initializer_control(const WallarooFlags& flags) {
  return flags.join ? flags.join : flags.control;
}

void check_supported(const WallarooFlags& flags) {
  if (flags.join && flags.cluster_initializer) {
    throw core::UsageError(
        "use --join with --cluster-initializer: the initializer starts the cluster; --join adds a worker to a "
        "running one");
  }
  if (flags.join && flags.control) {
    throw core::UsageError(
        "use --join with --control: give one (both name the initializer's control address; --join adds this worker "
        "to a running cluster)");
  }
  bool joins_a_cluster = is_joining_worker(flags);
  // Wallaroo's joiners pass --worker-count K (all joining at once); Roo admits each joiner on its own.
  if (flags.worker_count > 1 && !flags.cluster_initializer && !flags.join) {
    throw core::UsageError("use --worker-count " + std::to_string(flags.worker_count) +
                           ": only the initializer (--cluster-initializer) takes --worker-count");
  }
  if (joins_a_cluster && flags.data) {
    throw core::UsageError("use --data on a worker that is not the initializer: it listens on --my-data instead");
  }
  if (flags.cluster_initializer && flags.worker_count > 1 && (!flags.control || !flags.data)) {
    throw core::UsageError("start a cluster of " + std::to_string(flags.worker_count) +
                           " workers: the initializer needs --control and --data");
  }
  if (joins_a_cluster && (!initializer_control(flags) || !flags.my_control || !flags.my_data || !flags.name)) {
    throw core::UsageError(
        "join the cluster: a worker that is not the initializer needs --control or --join (the initializer's "
        "control address), --my-control, --my-data and --name");
  }
  const std::pair<const char*, const std::optional<std::string>*> addresses[] = {
      {"--metrics", &flags.metrics},   {"--control", &flags.control},       {"--data", &flags.data},
      {"--external", &flags.external}, {"--my-control", &flags.my_control}, {"--my-data", &flags.my_data},
      {"--join", &flags.join}};
  for (const auto& [flag, value] : addresses) {
    if (*value) {
      (void)core::parse_endpoint(**value, flag);
    }
  }
}

}  // namespace roo::cli
