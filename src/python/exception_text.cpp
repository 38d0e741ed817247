#include "roo/python/exception_text.hpp"

#include <pybind11/embed.h>

namespace py = pybind11;

namespace roo::python {

std::string take_exception_text() {
  py::error_already_set error;  // fetches and clears the current exception
  try {
    std::string type_name = error.type() ? py::str(error.type().attr("__name__")).cast<std::string>() : "Exception";
    std::string message = py::str(error.value()).cast<std::string>();
    return message.empty() ? type_name : type_name + ": " + message;
  } catch (const py::error_already_set&) {
    return "<the exception could not be printed>";
  }
}

}  // namespace roo::python
