#include "roo/python/application.hpp"

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
  py::module_ app;
  try {
    app = py::module_::import(module_name.c_str());
  } catch (py::error_already_set& e) {
    throw core::UsageError("import application module '" + module_name + "': " + describe_exception(e));
  }
  if (!py::hasattr(app, "application_setup")) {
    throw core::UsageError("set up application '" + module_name + "': the module defines no application_setup(args)");
  }
  try {
    py::object result = app.attr("application_setup")(py::cast(app_args));
    py::object description =
        py::module_::import("wallaroo.description")
            .attr("describe")(result, py::arg("module") = app, py::arg("args") = py::cast(app_args));
    return PyRef::borrow(description.ptr());
  } catch (py::error_already_set& e) {
    throw core::UsageError("set up application '" + module_name + "': " + describe_exception(e));
  }
}

void freeze_setup_objects() {
  py::module_ gc = py::module_::import("gc");
  gc.attr("collect")();
  gc.attr("freeze")();
}

}  // namespace roo::python
