#pragma once

#include <Python.h>

namespace roo::python {

/// While an application is imported and set up, SIGINT and SIGTERM raise `roo.SetupInterrupted` (a BaseException)
/// in its Python code. A stop during a slow or stuck `application_setup` then ends in one line naming it, where the
/// signals' default action would end the process with status 143 and no word. The worker's own stop handling (a
/// drain) starts after set-up, when these handlers are gone.
/// Main thread only, with the GIL held (Python runs signal handlers there); one at a time.
class SetupStopSignals {
 public:
  SetupStopSignals();   ///< SIGINT and SIGTERM now raise SetupInterrupted in Python code
  ~SetupStopSignals();  ///< close()
  SetupStopSignals(const SetupStopSignals&) = delete;
  SetupStopSignals& operator=(const SetupStopSignals&) = delete;

  /// Runs the handler of a signal that arrived after the last Python code (it would otherwise be dropped once the
  /// default action is back), then gives both signals their default action. Idempotent.
  void close();

  /// "SIGTERM" or "SIGINT" once one arrived during the set-up; null before.
  [[nodiscard]] const char* received() const;

 private:
  bool closed_ = false;
};

}  // namespace roo::python
