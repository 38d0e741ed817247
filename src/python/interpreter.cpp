#include "roo/python/interpreter.hpp"

#include "virtualenv.hpp"

#include "roo/core/error.hpp"
#include "roo/core/logging.hpp"

#include <pybind11/embed.h>

#include <optional>
#include <string>

namespace py = pybind11;

namespace roo::python {

struct __attribute__((visibility("hidden"))) Interpreter::Guard {
  explicit Guard(PyConfig* config) : interpreter(config, 0, nullptr, /*add_program_dir_to_path=*/false) {}
  py::scoped_interpreter interpreter;
};

namespace {

void put_paths_first(const std::vector<std::string>& paths) {
  py::list sys_path = py::module_::import("sys").attr("path");
  for (auto it = paths.rbegin(); it != paths.rend(); ++it) {
    if (!it->empty()) {  // an empty entry would mean the working directory
      sys_path.insert(0, py::str(*it));
    }
  }
}

void add_site_dir(const std::optional<std::string>& site_packages) {
  if (site_packages) {
    py::module_::import("site").attr("addsitedir")(*site_packages);
  }
}

}  // namespace

Interpreter::Interpreter(const InterpreterConfig& config) {
  std::optional<std::string> site_packages = virtualenv_site_packages();  // refuses a foreign one before starting
  PyConfig py_config;
  PyConfig_InitPythonConfig(&py_config);
  py_config.install_signal_handlers = 0;
  py_config.parse_argv = 0;
  PyConfig_SetBytesString(&py_config, &py_config.program_name, "/usr/bin/python3");
  std::vector<wchar_t*> wide_argv;
  for (const auto& arg : config.argv) {
    wide_argv.push_back(Py_DecodeLocale(arg.c_str(), nullptr));
  }
  PyConfig_SetArgv(&py_config, static_cast<Py_ssize_t>(wide_argv.size()), wide_argv.data());
  for (auto* arg : wide_argv) {
    PyMem_RawFree(arg);
  }
  try {
    guard_ = std::make_unique<Guard>(&py_config);
    put_paths_first(config.leading_paths);
    add_site_dir(site_packages);
  } catch (const std::exception& e) {
    throw core::Error(std::string("start the embedded Python interpreter: ") + e.what());
  }
  auto log = core::module_logger("python");
  log->debug("python {} embedded; sys.path = {}", Py_GetVersion(),
             py::str(py::module_::import("sys").attr("path")).cast<std::string>());
}

Interpreter::~Interpreter() = default;

GilRelease::GilRelease() : state_(PyEval_SaveThread()) {}
GilRelease::~GilRelease() { PyEval_RestoreThread(static_cast<PyThreadState*>(state_)); }

}  // namespace roo::python
