#pragma once

#include <memory>
#include <string>
#include <vector>

namespace roo::python {

struct InterpreterConfig {
  /// Folders put first on sys.path, in order (Roo's own `python/` folder, then the app's folder).
  std::vector<std::string> leading_paths;
  /// sys.argv inside Python (Wallaroo's machida leaves it as ['']).
  std::vector<std::string> argv{""};
};

/// The one embedded CPython interpreter of a worker process, alive from construction to destruction and
/// never restarted. Python's own signal handlers are not installed (the runtime handles SIGINT/SIGTERM),
/// sys.executable is Debian's /usr/bin/python3 (not a pyenv shim found on PATH), the working directory is
/// not put on sys.path, `PYTHONPATH` is honoured and an active virtualenv (`VIRTUAL_ENV`) is added as a
/// site directory; one made from another Python version is refused first (core::UsageError naming both
/// versions). The constructing thread holds the GIL afterwards.
class Interpreter {
 public:
  explicit Interpreter(const InterpreterConfig& config);
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

 private:
  struct Guard;
  std::unique_ptr<Guard> guard_;
};

/// Releases the GIL for the lifetime of the object (while the Python executor waits for work).
class GilRelease {
 public:
  GilRelease();
  ~GilRelease();
  GilRelease(const GilRelease&) = delete;
  GilRelease& operator=(const GilRelease&) = delete;

 private:
  void* state_;
};

}  // namespace roo::python
