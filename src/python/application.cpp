#include "roo/python/application.hpp"

#include "setup_stop_signals.hpp"

#include "roo/core/error.hpp"

#include <pybind11/embed.h>
#include <pybind11/stl.h>

namespace py = pybind11;

namespace roo::python {
namespace {

/// "Type: message (file.py:12)" for the exception held by `error`; the innermost frame is the user's.
std::string describe_exception(const py::error_already_set& error) {
  std::string type_name = py::str(error.type().attr("__name__")).cast<std::string>();
  std::string text = type_name + ": " + py::str(error.value()).cast<std::string>();
  if (error.trace() && !error.matches(PyExc_SyntaxError)) {
    py::list frames = py::module_::import("traceback").attr("extract_tb")(error.trace());
    if (!frames.empty()) {
      py::object last = frames[frames.size() - 1];
      std::string file = py::str(last.attr("filename")).cast<std::string>();
      if (file.find("/python/wallaroo/") == std::string::npos && file.find("<frozen") == std::string::npos) {
        auto slash = file.rfind('/');
        text += " (" + (slash == std::string::npos ? file : file.substr(slash + 1)) + ":" +
                py::str(last.attr("lineno")).cast<std::string>() + ")";
      }
    }
  }
  return text;
}

/// The error for `error`, raised while `action` ran (`during`: what the user's code was doing). A stop signal is a
/// failure at run time (exit 1), anything else the application's mistake (a usage error, exit 2).
[[noreturn]] void throw_setup_error(const std::string& action, const char* during, const py::error_already_set& error,
                                    const SetupStopSignals& stop_signals) {
  std::string text = describe_exception(error);
  if (stop_signals.received() != nullptr) {
    // "SetupInterrupted: stopped by SIGTERM (app.py:7)": keep the place, say what was interrupted
    auto place = text.rfind(" (");
    throw core::Error(action + ": stopped by " + stop_signals.received() + " while " + during +
                      (place == std::string::npos ? std::string() : text.substr(place)));
  }
  throw core::UsageError(action + ": " + text);
}

}  // namespace

PyRef load_application(const std::string& module_name, const std::vector<std::string>& app_args,
                       const std::vector<std::string>& full_argv) {
  py::module_ wallaroo;
  try {
    wallaroo = py::module_::import("wallaroo");
    wallaroo.attr("_ARGS") = py::tuple(py::cast(full_argv));
  } catch (py::error_already_set& e) {
    throw core::Error("import Roo's wallaroo package: " + describe_exception(e));
  }
  SetupStopSignals stop_signals;
  py::module_ app;
  try {
    app = py::module_::import(module_name.c_str());
  } catch (py::error_already_set& e) {
    throw_setup_error("import application module '" + module_name + "'", "it was being imported", e, stop_signals);
  }
  if (!py::hasattr(app, "application_setup")) {
    throw core::UsageError("set up application '" + module_name + "': the module defines no application_setup(args)");
  }
  try {
    py::object result = app.attr("application_setup")(py::cast(app_args));
    py::object description =
        py::module_::import("wallaroo.description")
            .attr("describe")(result, py::arg("module") = app, py::arg("args") = py::cast(app_args));
    stop_signals.close();
    if (stop_signals.received() != nullptr) {
      throw core::Error("set up application '" + module_name + "': stopped by " + stop_signals.received() +
                        " as application_setup returned");
    }
    return PyRef::borrow(description.ptr());
  } catch (py::error_already_set& e) {
    throw_setup_error("set up application '" + module_name + "'", "application_setup was running", e, stop_signals);
  }
}

void freeze_setup_objects() {
  py::module_ gc = py::module_::import("gc");
  gc.attr("collect")();
  gc.attr("freeze")();
}

}  // namespace roo::python
