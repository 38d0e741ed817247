#pragma once

namespace roo::cluster {

/// Where one worker's cluster side is in its life. Every protocol reads it; formation, drain and stop() move it on.
enum class Phase { idle, joining, forming, running, stopping, exited, closed };

/// The lifecycle state every protocol of one ClusterCore shares, owned by the core and touched only on its strand.
struct Lifecycle {
  Phase phase = Phase::idle;
  bool form_called = false;     // begin_forming() ran (on the caller's thread, before anything is posted)
  bool formed = false;          // the formation promise is settled (go, or failed)
  bool stop_requested = false;  // request_stop(), or a worker's stop-request: go() carries it on if not yet formed
};

}  // namespace roo::cluster
