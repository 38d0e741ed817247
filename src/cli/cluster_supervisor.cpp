#include "cluster_supervisor.hpp"

#include "send_errno.hpp"

#include "roo/core/error.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

namespace roo::cli {
namespace {

using Clock = std::chrono::steady_clock;

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

/// Watches the workers until all have exited: re-prints their output, forwards stop signals, stops the
/// cluster when one fails. Single-threaded; owns nothing but its bookkeeping.
class Supervisor {
 public:
  Supervisor(std::vector<Child>& children, double drain_timeout_seconds, const std::vector<WorkerCommand>& commands,
             const sigset_t& child_mask, bool restart_failed)
      : children_(children),
        grace_(std::chrono::milliseconds(static_cast<long long>((drain_timeout_seconds + 5) * 1000))),
        commands_(commands),
        child_mask_(child_mask),
        restart_failed_(restart_failed),
        restarts_(children.size()) {}

  /// Returns the cluster's exit code.
  int run(int signals) {
    while (true) {
      std::vector<pollfd> fds{{signals, POLLIN, 0}};
      bool running = false;
      for (auto& child : children_) {
        running = running || !child.exited;
        for (Stream* stream : {&child.out, &child.err}) {
          if (stream->fd >= 0) {
            fds.push_back({stream->fd, POLLIN, 0});
          }
        }
      }
      if (!running && fds.size() == 1) {
        return first_failure_;
      }
      if (::poll(fds.data(), fds.size(), wait_ms()) < 0 && errno != EINTR) {
        throw core::Error("supervise the workers: poll: " + errno_text(errno));
      }
      for (auto& child : children_) {
        pump_output(child);
      }
      signalfd_siginfo info{};
      while (::read(signals, &info, sizeof info) == sizeof info) {
        if (info.ssi_signo != SIGCHLD) {
          on_stop_signal(info.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
        }
      }
      reap();
      if (grace_end_ && !stopping_ && Clock::now() >= *grace_end_) {
        stop_all("a worker stopped on its own and the others are still running; stopping them");
      }
    }
  }

 private:
  static void pump_output(Child& child) {
    pump(child.out, "[" + child.name + "] ");
    pump(child.err, "[" + child.name + "] ");
  }

  int wait_ms() const {
    if (!grace_end_ || stopping_) {
      return -1;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*grace_end_ - Clock::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, 1 << 30));
  }

  void stop_all(const std::string& why) {
    say(why);
    stopping_ = true;
    stop_sent_ = Clock::now();
    signal_all(children_, SIGTERM);
  }

  // A second signal kills, unless it comes within a second of the first: `timeout` and shells signal the
  // process and then its whole group, so one stop request can arrive twice.
  void on_stop_signal(const char* name) {
    if (!stopping_) {
      stop_all(std::string("received ") + name + "; stopping every worker (SIGTERM)");
    } else if (!killed_ && Clock::now() - stop_sent_ >= std::chrono::seconds(1)) {
      say(std::string("received ") + name + " again; killing every worker (SIGKILL)");
      killed_ = true;
      signal_all(children_, SIGKILL);
    }
  }

  void reap() {
    for (auto& child : children_) {
      int status = 0;
      if (child.exited || ::waitpid(child.pid, &status, WNOHANG) != child.pid) {
        continue;
      }
      child.exited = true;
      pump_output(child);  // the dead worker's last lines come before the verdict
      std::string how = describe_exit(status, child.code);
      if (!stopping_ && child.code != 0 && restart_failed_ &&
          may_restart(static_cast<std::size_t>(&child - children_.data()))) {
        say(child.name + " " + how + "; starting it again (checkpoints are on: the cluster rolls back to its last "
                                     "complete checkpoint)");
        restart(child);
        continue;
      }
      if (child.code != 0 && first_failure_ == 0) {
        first_failure_ = child.code;
      }
      if (stopping_) {
        continue;
      }
      if (child.code != 0) {
        stop_all(child.name + " " + how + "; stopping the other workers");
      } else if (!grace_end_) {
        grace_end_ = Clock::now() + grace_;  // a clean shutdown stops the others too; give them the time
      }
    }
  }

  // At most max_restarts of one worker within restart_window: a worker that cannot stay up stops the cluster.
  bool may_restart(std::size_t index) {
    auto now = Clock::now();
    auto& times = restarts_[index];
    std::erase_if(times, [&](Clock::time_point at) { return now - at > restart_window; });
    if (times.size() >= max_restarts) {
      return false;
    }
    times.push_back(now);
    return true;
  }

  void restart(Child& child) {
    std::size_t index = static_cast<std::size_t>(&child - children_.data());
    for (Stream* stream : {&child.out, &child.err}) {
      if (stream->fd >= 0) {
        ::close(stream->fd);
      }
    }
    child = spawn(commands_[index], child_mask_);
  }

  static constexpr std::size_t max_restarts = 5;
  static constexpr std::chrono::seconds restart_window{60};

  std::vector<Child>& children_;
  std::chrono::milliseconds grace_;
  const std::vector<WorkerCommand>& commands_;
  sigset_t child_mask_;
  bool restart_failed_;
  std::vector<std::vector<Clock::time_point>> restarts_;
  bool stopping_ = false;
  bool killed_ = false;
  Clock::time_point stop_sent_;
  int first_failure_ = 0;
  std::optional<Clock::time_point> grace_end_;  ///< set when a worker exits 0 on its own
};

}  // namespace

void say_line(const std::string& line) { say(line); }

int supervise_workers(const std::vector<WorkerCommand>& commands, double drain_timeout_seconds, bool restart_failed) {
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
  int code = Supervisor(children, drain_timeout_seconds, commands, previous, restart_failed).run(signals);
  ::close(signals);
  ::sigprocmask(SIG_SETMASK, &previous, nullptr);
  return code;
}

}  // namespace roo::cli
