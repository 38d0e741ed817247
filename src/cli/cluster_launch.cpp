#include "cluster_launch.hpp"

#include "send_errno.hpp"
#include "wallaroo_flags.hpp"

#include "roo/core/error.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace roo::cli {
namespace {

using Clock = std::chrono::steady_clock;

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
std::string shift_in_ports(const std::string& value, int index, const std::string& worker,
                           std::vector<std::string>& notes) {
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
    notes.push_back(worker + " listens for " + (name.empty() ? "its source" : "'" + name + "'") + " on " + new_address);
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
    int count = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), count);
    if (ec != std::errc() || end != value.data() + value.size() || count < 1) {
      throw core::UsageError("parse --workers '" + value + "': expected a whole number of at least 1");
    }
    workers = count;
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
                    "--log-level",
                    request.log_level,
                    "--drain-timeout",
                    seconds_arg(request.drain_timeout_seconds),
                    request.app};
    for (std::size_t i = 0; i < app_flags.size(); ++i) {
      const std::string& arg = app_flags[i];
      if (arg == "--in" && i + 1 < app_flags.size()) {
        command.argv.push_back(arg);
        command.argv.push_back(shift_in_ports(app_flags[++i], index, command.name, command.notes));
      } else if (arg.starts_with("--in=")) {
        command.argv.push_back("--in=" + shift_in_ports(arg.substr(5), index, command.name, command.notes));
      } else {
        command.argv.push_back(arg);
      }
    }
    if (index == 0) {
      initializer_control = loopback(take_port());
      std::string data = loopback(take_port());
      std::string external = user_external ? *user_external : loopback(take_port());
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

/// `count` loopback ports free right now: all bound at once (so they differ), then released for the workers.
std::vector<std::uint16_t> pick_free_ports(std::size_t count) {
  std::vector<int> sockets;
  std::vector<std::uint16_t> ports;
  for (std::size_t i = 0; i < count; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      int error = errno;
      for (int open : sockets) {
        ::close(open);
      }
      throw core::Error("pick free ports on 127.0.0.1 for the cluster: " + errno_text(error));
    }
    sockets.push_back(fd);
    ports.push_back(ntohs(address.sin_port));
  }
  for (int fd : sockets) {
    ::close(fd);
  }
  return ports;
}

/// One output stream of a child, re-printed line by line with the child's prefix.
struct Stream {
  int fd = -1;       ///< read end of the child's pipe; -1 once at end of file
  int target = 2;    ///< our stdout (1) or stderr (2)
  std::string held;  ///< an unfinished last line
};

struct Child {
  std::string name;
  pid_t pid = -1;
  Stream out;
  Stream err;
  bool exited = false;
  int code = 0;
};

void write_all(int fd, const std::string& text) {
  const char* data = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    ssize_t written = ::write(fd, data, left);
    if (written < 0 && errno == EINTR) {
      continue;
    }
    if (written <= 0) {
      return;
    }
    data += written;
    left -= static_cast<std::size_t>(written);
  }
}

void say(const std::string& line) { write_all(2, "roo run: " + line + "\n"); }

/// Reads what is there; prints every whole line (and, at end of file, the unfinished one) with the prefix.
void pump(Stream& stream, const std::string& prefix) {
  char chunk[65536];
  while (stream.fd >= 0) {
    ssize_t got = ::read(stream.fd, chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got < 0 && errno == EAGAIN) {
      return;
    }
    if (got <= 0) {
      ::close(stream.fd);
      stream.fd = -1;
      if (!stream.held.empty()) {
        write_all(stream.target, prefix + stream.held + "\n");
        stream.held.clear();
      }
      return;
    }
    stream.held.append(chunk, static_cast<std::size_t>(got));
    std::string lines;
    std::size_t start = 0;
    for (std::size_t newline; (newline = stream.held.find('\n', start)) != std::string::npos; start = newline + 1) {
      lines += prefix;
      lines.append(stream.held, start, newline + 1 - start);
    }
    stream.held.erase(0, start);
    if (stream.held.size() >= sizeof chunk) {  // a very long line: print it in pieces
      lines += prefix + stream.held + "\n";
      stream.held.clear();
    }
    write_all(stream.target, lines);
  }
}

/// fork + exec of this binary with `argv`; the child's stdout/stderr go to pipes, its stdin is /dev/null.
Child spawn(const WorkerCommand& command, const sigset_t& parent_mask) {
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    throw core::Error("start " + command.name + ": pipe: " + errno_text(errno));
  }
  std::vector<char*> argv;
  for (const auto& arg : command.argv) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    throw core::Error("start " + command.name + ": fork: " + errno_text(errno));
  }
  if (pid == 0) {
    // Own process group: a terminal's Ctrl-C reaches only the supervisor, which forwards one SIGTERM.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) {
      ::_exit(1);
    }
    ::sigprocmask(SIG_SETMASK, &parent_mask, nullptr);
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::execv("/proc/self/exe", argv.data());
    std::string message = "roo run: unable to start " + command.name + ": " + errno_text(errno) + "\n";
    write_all(2, message);
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  ::fcntl(out[0], F_SETFL, O_NONBLOCK);
  ::fcntl(err[0], F_SETFL, O_NONBLOCK);
  Child child;
  child.name = command.name;
  child.pid = pid;
  child.out.fd = out[0];
  child.out.target = 1;
  child.err.fd = err[0];
  return child;
}

void signal_all(std::vector<Child>& children, int signum) {
  for (auto& child : children) {
    if (!child.exited) {
      ::kill(child.pid, signum);
    }
  }
}

std::string describe_exit(int status, int& code) {
  if (WIFSIGNALED(status)) {
    code = 128 + WTERMSIG(status);
    const char* name = ::sigabbrev_np(WTERMSIG(status));
    return std::string("was killed by SIG") + (name ? name : std::to_string(WTERMSIG(status)).c_str());
  }
  code = WEXITSTATUS(status);
  return "exited with code " + std::to_string(code);
}

/// The supervisor's loop: output, signals, exits. Returns the cluster's exit code.
int supervise(std::vector<Child>& children, int signals, double drain_timeout_seconds) {
  bool stopping = false;
  bool killed = false;
  int first_failure = 0;
  std::optional<Clock::time_point> grace_end;  // after a worker stopped with 0 on its own
  auto grace = std::chrono::milliseconds(static_cast<long long>((drain_timeout_seconds + 5) * 1000));
  while (true) {
    std::vector<pollfd> fds{{signals, POLLIN, 0}};
    for (auto& child : children) {
      for (Stream* stream : {&child.out, &child.err}) {
        if (stream->fd >= 0) {
          fds.push_back({stream->fd, POLLIN, 0});
        }
      }
    }
    bool running = std::any_of(children.begin(), children.end(), [](const Child& c) { return !c.exited; });
    if (!running && fds.size() == 1) {
      return first_failure;
    }
    int wait_ms =
        grace_end ? static_cast<int>(std::max<long long>(
                        0, std::chrono::duration_cast<std::chrono::milliseconds>(*grace_end - Clock::now()).count()))
                  : -1;
    if (::poll(fds.data(), fds.size(), wait_ms) < 0 && errno != EINTR) {
      throw core::Error("supervise the workers: poll: " + errno_text(errno));
    }
    for (auto& child : children) {
      pump(child.out, "[" + child.name + "] ");
      pump(child.err, "[" + child.name + "] ");
    }
    signalfd_siginfo info{};
    while (::read(signals, &info, sizeof info) == sizeof info) {
      if (info.ssi_signo == SIGCHLD) {
        continue;
      }
      const char* name = info.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM";
      if (!stopping) {
        say(std::string("received ") + name + "; stopping every worker (SIGTERM)");
        stopping = true;
        signal_all(children, SIGTERM);
      } else if (!killed) {
        say(std::string("received ") + name + " again; killing every worker (SIGKILL)");
        killed = true;
        signal_all(children, SIGKILL);
      }
    }
    for (auto& child : children) {
      int status = 0;
      if (child.exited || ::waitpid(child.pid, &status, WNOHANG) != child.pid) {
        continue;
      }
      child.exited = true;
      pump(child.out, "[" + child.name + "] ");  // the dead child's last lines come before the verdict
      pump(child.err, "[" + child.name + "] ");
      std::string how = describe_exit(status, child.code);
      if (child.code != 0 && first_failure == 0) {
        first_failure = child.code;
      }
      if (stopping) {
        continue;
      }
      if (child.code != 0) {
        say(child.name + " " + how + "; stopping the other workers");
        stopping = true;
        signal_all(children, SIGTERM);
      } else if (!grace_end) {
        grace_end = Clock::now() + grace;  // a clean shutdown stops the others too; give them time
      }
    }
    if (grace_end && !stopping && Clock::now() >= *grace_end) {
      say("a worker stopped on its own and the others are still running; stopping them");
      stopping = true;
      signal_all(children, SIGTERM);
    }
  }
}

}  // namespace

int launch_cluster(const ClusterLaunchRequest& request) {
  std::vector<WorkerCommand> commands = plan_cluster(request, pick_free_ports(3 * request.workers));
  std::string external;
  for (std::size_t i = 0; i + 1 < commands[0].argv.size(); ++i) {
    if (commands[0].argv[i] == "--external") {
      external = commands[0].argv[i + 1];
    }
  }
  say("starting a cluster of " + std::to_string(request.workers) + " workers; talk to it with roo ctl --external " +
      external + " / roo shutdown --external " + external);
  for (const auto& command : commands) {
    for (const auto& note : command.notes) {
      say(note);
    }
  }
  // Signals arrive through a signalfd, blocked from now on so none is lost between the spawns and the loop.
  sigset_t handled;
  sigset_t previous;
  sigemptyset(&handled);
  sigaddset(&handled, SIGINT);
  sigaddset(&handled, SIGTERM);
  sigaddset(&handled, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &handled, &previous);
  int signals = ::signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signals < 0) {
    throw core::Error("watch for signals: signalfd: " + errno_text(errno));
  }
  std::vector<Child> children;
  try {
    for (const auto& command : commands) {
      children.push_back(spawn(command, previous));
    }
  } catch (const core::Error&) {
    signal_all(children, SIGTERM);
    for (auto& child : children) {
      ::waitpid(child.pid, nullptr, 0);
    }
    throw;
  }
  int code = supervise(children, signals, request.drain_timeout_seconds);
  ::close(signals);
  ::sigprocmask(SIG_SETMASK, &previous, nullptr);
  return code;
}

}  // namespace roo::cli
