#pragma once

#include "cluster_launch.hpp"

#include <string>
#include <vector>

namespace roo::cli {

/// Starts every command as a child process of this binary (`/proc/self/exe`, in its own process group, stdin
/// /dev/null, SIGTERM if this process dies) and supervises them until all have exited. Their stdout and stderr
/// lines are re-printed on ours, prefixed with `[name] `. SIGINT/SIGTERM here sends SIGTERM to every worker; a
/// second one (a second or more later) sends SIGKILL. A worker that exits non-zero on its own is reported and
/// the others get SIGTERM; one that exits 0 on its own gives the others `drain_timeout_seconds` + 5 s to follow.
/// Returns 0 if every worker exited 0, else the first non-zero code (128 + signal for a killed worker).
/// With `restart_failed` (checkpoints on), a worker that fails is started again with the same command instead, as
/// Kubernetes restarts a pod, and the cluster rolls back to its last complete checkpoint; one that fails more than
/// 5 times within a minute stops the others as above.
[[nodiscard]] int supervise_workers(const std::vector<WorkerCommand>& commands, double drain_timeout_seconds,
                                    bool restart_failed = false);

/// One `roo run: <line>` on stderr, written whole.
void say_line(const std::string& line);

}  // namespace roo::cli
