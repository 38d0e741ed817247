#include "cluster_launch.hpp"

#include "cluster_supervisor.hpp"
#include "flag_values.hpp"
#include "send_errno.hpp"
#include "wallaroo_flags.hpp"

#include "roo/core/endpoint.hpp"
#include "roo/core/error.hpp"
#include "roo/core/shared_secret.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace roo::cli {
namespace {

/// Flags `roo run --workers` sets for every worker itself; the user may not give them.
void refuse_cluster_flags(const std::vector<std::string>& flags) {
  std::vector<std::string> app_args;
  WallarooFlags given = take_wallaroo_flags(flags, app_args);
  const std::pair<const char*, bool> owned[] = {
      {"--control", given.control.has_value()},
      {"--data", given.data.has_value()},
      {"--my-control", given.my_control.has_value()},
      {"--my-data", given.my_data.has_value()},
      {"--name", given.name.has_value()},
      {"--join", given.join.has_value()},
      {"--cluster-initializer", given.cluster_initializer},
      {"--worker-count", given.worker_count != 1},
  };
  for (const auto& [flag, present] : owned) {
    if (present) {
      throw core::UsageError("run a cluster with --workers: leave out " + std::string(flag) +
                             "; roo run --workers chooses it for every worker");
    }
  }
}

std::uint16_t parse_port(const std::string& text, const std::string& item) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > 65535) {
    throw core::UsageError("parse --in '" + item + "': expected name@host:port");
  }
  return static_cast<std::uint16_t>(value);
}

/// "A@h:7010,B@h:7020[:max]" for worker `index`: every port plus `index`; one note per source.
std::string shift_in_ports(const std::string& value, int index, WorkerCommand& command) {
  const std::string& worker = command.name;
  std::string result;
  std::size_t start = 0;
  while (start <= value.size()) {
    std::size_t comma = value.find(',', start);
    std::string item = value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    std::size_t at = item.rfind('@');
    std::string name = at == std::string::npos ? "" : item.substr(0, at);
    std::string address = at == std::string::npos ? item : item.substr(at + 1);
    // host:port[:max_size]; an IPv6 host is bracketed.
    std::size_t host_end = address.starts_with('[') ? address.find(']') : 0;
    std::size_t colon = address.find(':', host_end == std::string::npos ? 0 : host_end);
    if (colon == std::string::npos) {
      throw core::UsageError("parse --in '" + item + "': expected name@host:port");
    }
    std::size_t port_end = address.find(':', colon + 1);
    std::string host = address.substr(0, colon);
    std::string port_text = address.substr(colon + 1, port_end == std::string::npos ? port_end : port_end - colon - 1);
    std::string tail = port_end == std::string::npos ? "" : address.substr(port_end);
    unsigned port = parse_port(port_text, item);
    unsigned shifted = port == 0 ? 0 : port + static_cast<unsigned>(index);
    if (shifted > 65535) {
      throw core::UsageError("give " + worker + " a port for --in '" + item + "': " + std::to_string(port) + " + " +
                             std::to_string(index) + " is over 65535");
    }
    std::string new_address = host + ":" + std::to_string(shifted);
    command.fixed_ports.push_back(static_cast<std::uint16_t>(shifted));
    command.notes.push_back(worker + " listens for " + (name.empty() ? "its source" : "'" + name + "'") + " on " +
                            new_address);
    result += (result.empty() ? "" : ",") + (at == std::string::npos ? "" : name + "@") + new_address + tail;
    if (comma == std::string::npos) {
      break;
    }
    start = comma + 1;
  }
  return result;
}

std::string loopback(std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

std::string seconds_arg(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", seconds);
  return text;
}

}  // namespace

std::optional<int> take_workers_flag(std::vector<std::string>& flags) {
  std::optional<int> workers;
  for (std::size_t i = 0; i < flags.size();) {
    std::string value;
    std::size_t take = 0;
    if (flags[i] == "--workers" && i + 1 < flags.size()) {
      value = flags[i + 1];
      take = 2;
    } else if (flags[i].starts_with("--workers=")) {
      value = flags[i].substr(10);
      take = 1;
    } else {
      ++i;
      continue;
    }
    workers = parse_count("--workers", value);
    flags.erase(flags.begin() + static_cast<long>(i), flags.begin() + static_cast<long>(i + take));
  }
  return workers;
}

std::vector<WorkerCommand> plan_cluster(const ClusterLaunchRequest& request, const std::vector<std::uint16_t>& ports) {
  refuse_cluster_flags(request.flags);
  std::size_t next_port = 0;
  auto take_port = [&ports, &next_port] {
    if (next_port >= ports.size()) {
      throw core::Error("plan the cluster's addresses: too few free ports");
    }
    return ports[next_port++];
  };
  std::optional<std::string> user_external;
  std::vector<std::string> app_flags;  // the user's flags without --external
  for (std::size_t i = 0; i < request.flags.size(); ++i) {
    const std::string& arg = request.flags[i];
    if ((arg == "--external" || arg == "-e") && i + 1 < request.flags.size()) {
      user_external = request.flags[++i];
    } else if (arg.starts_with("--external=")) {
      user_external = arg.substr(11);
    } else {
      app_flags.push_back(arg);
    }
  }
  std::vector<WorkerCommand> commands;
  std::string initializer_control;
  for (int index = 0; index < request.workers; ++index) {
    WorkerCommand command;
    command.name = index == 0 ? "initializer" : "worker" + std::to_string(index);
    command.argv = {"roo",
                    "run",
                    "--supervised",
                    "--log-level",
                    request.log_level,
                    "--drain-timeout",
                    seconds_arg(request.drain_timeout_seconds),
                    "--source-idle-timeout",
                    seconds_arg(request.source_idle_timeout_seconds),
                    "--kafka-broker-wait",
                    seconds_arg(request.kafka_broker_wait_seconds),
                    "--stuck-step-warning",
                    seconds_arg(request.stuck_step_warning_seconds)};
    if (request.checkpoint_dir) {
      command.argv.insert(command.argv.end(), {"--checkpoint-dir", *request.checkpoint_dir, "--checkpoint-interval",
                                               request.checkpoint_interval});
    }
    if (request.no_metrics) {
      command.argv.push_back("--no-metrics");
    }
    if (request.metrics_http) {
      core::Endpoint http = core::parse_endpoint(*request.metrics_http, "--metrics-http");
      if (http.port != 0) {
        unsigned port = http.port + static_cast<unsigned>(index);
        if (port > 65535) {
          throw core::UsageError("use --metrics-http " + *request.metrics_http + " for " +
                                 std::to_string(request.workers) + " workers: worker " + std::to_string(index) +
                                 "'s port would pass 65535");
        }
        http.port = static_cast<std::uint16_t>(port);
        command.fixed_ports.push_back(http.port);
      }
      command.argv.insert(command.argv.end(), {"--metrics-http", http.host + ":" + std::to_string(http.port)});
      command.notes.push_back(command.name + " serves metrics on http://" + http.host + ":" + std::to_string(http.port) +
                              "/");
    }
    command.argv.push_back(request.app);
    for (std::size_t i = 0; i < app_flags.size(); ++i) {
      const std::string& arg = app_flags[i];
      if (arg == "--in" && i + 1 < app_flags.size()) {
        command.argv.push_back(arg);
        command.argv.push_back(shift_in_ports(app_flags[++i], index, command));
      } else if (arg.starts_with("--in=")) {
        command.argv.push_back("--in=" + shift_in_ports(arg.substr(5), index, command));
      } else {
        command.argv.push_back(arg);
      }
    }
    if (index == 0) {
      initializer_control = loopback(take_port());
      std::string data = loopback(take_port());
      std::string external = user_external ? *user_external : loopback(take_port());
      if (user_external) {
        command.fixed_ports.push_back(core::parse_endpoint(*user_external, "--external").port);
      }
      command.argv.insert(command.argv.end(),
                          {"--cluster-initializer", "--worker-count", std::to_string(request.workers), "--control",
                           initializer_control, "--data", data, "--external", external});
    } else {
      std::string my_control = loopback(take_port());
      std::string my_data = loopback(take_port());
      std::string external = loopback(take_port());
      command.argv.insert(command.argv.end(), {"--name", command.name, "--control", initializer_control, "--my-control",
                                               my_control, "--my-data", my_data, "--external", external});
    }
    commands.push_back(std::move(command));
  }
  return commands;
}

namespace {

/// `count` loopback ports free right now and not in `taken` (the sources' ports): all bound at once (so they
/// differ), then released for the workers.
std::vector<std::uint16_t> pick_free_ports(std::size_t count, const std::vector<std::uint16_t>& taken) {
  std::vector<int> sockets;
  std::vector<std::uint16_t> ports;
  auto release = [&sockets] {
    for (int fd : sockets) {
      ::close(fd);
    }
  };
  while (ports.size() < count) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      int error = errno;
      if (fd >= 0) {
        ::close(fd);
      }
      release();
      throw core::Error("pick free ports on 127.0.0.1 for the cluster: " + errno_text(error));
    }
    sockets.push_back(fd);  // held (even when skipped) so the next bind gets another port
    std::uint16_t port = ntohs(address.sin_port);
    if (std::find(taken.begin(), taken.end(), port) == taken.end()) {
      ports.push_back(port);
    }
  }
  release();
  return ports;
}

/// A fresh cluster secret in a file only this user can read (0600, in a private temporary folder), removed when
/// the cluster is gone: `roo run --workers` authenticates its own workers without the user setting anything up.
class TemporaryClusterSecret {
 public:
  TemporaryClusterSecret() {
    std::string pattern = (fs::temp_directory_path() / "roo-cluster-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw core::Error("make a folder for the cluster secret in " + fs::temp_directory_path().string() + ": " +
                        errno_text(errno));
    }
    folder_ = pattern;
    path_ = folder_ + "/cluster.secret";
    try {
      core::SharedSecret::generate().save(path_);
    } catch (...) {
      ::rmdir(folder_.c_str());
      throw;
    }
  }
  ~TemporaryClusterSecret() {
    ::unlink(path_.c_str());
    ::rmdir(folder_.c_str());
  }
  TemporaryClusterSecret(const TemporaryClusterSecret&) = delete;
  TemporaryClusterSecret& operator=(const TemporaryClusterSecret&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string folder_;
  std::string path_;
};

/// True when the user chose the cluster secret (the flag, or the environment the workers inherit).
bool user_gave_cluster_secret(const std::vector<std::string>& flags) {
  std::vector<std::string> app_args;
  if (take_wallaroo_flags(flags, app_args).cluster_secret_file) {
    return true;
  }
  const char* variable = std::getenv("ROO_CLUSTER_SECRET_FILE");
  return variable != nullptr && *variable != '\0';
}

}  // namespace

int launch_cluster(const ClusterLaunchRequest& request) {
  // A first plan (with port 0 for the picked addresses) tells which ports are spoken for already.
  auto count = static_cast<std::size_t>(3 * request.workers);
  std::vector<std::uint16_t> taken;
  for (const auto& draft : plan_cluster(request, std::vector<std::uint16_t>(count, 0))) {
    taken.insert(taken.end(), draft.fixed_ports.begin(), draft.fixed_ports.end());
  }
  std::vector<WorkerCommand> commands = plan_cluster(request, pick_free_ports(count, taken));
  std::string external;
  for (std::size_t i = 0; i + 1 < commands[0].argv.size(); ++i) {
    if (commands[0].argv[i] == "--external") {
      external = commands[0].argv[i + 1];
    }
  }
  say_line("starting a cluster of " + std::to_string(request.workers) +
           " workers; talk to it with roo ctl --external " + external + " / roo shutdown --external " + external);
  for (const auto& command : commands) {
    for (const auto& note : command.notes) {
      say_line(note);
    }
  }
  std::optional<TemporaryClusterSecret> secret;
  if (!user_gave_cluster_secret(request.flags)) {
    secret.emplace();
    for (auto& command : commands) {
      command.argv.insert(command.argv.end(), {"--cluster-secret-file", secret->path()});
    }
  }
  return supervise_workers(commands, request.drain_timeout_seconds, request.checkpoint_dir.has_value());
}

}  // namespace roo::cli
