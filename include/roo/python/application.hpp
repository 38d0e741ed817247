#pragma once

#include "roo/python/py_ref.hpp"

#include <string>
#include <vector>

namespace roo::python {

/// Imports the application module `module_name`, sets `wallaroo._ARGS` to `full_argv`, calls its
/// `application_setup(app_args)` and returns `wallaroo.description.describe(result, module)`: the plain
/// dict the runtime plans from (docs/description.md). Throws core::UsageError with one line saying what
/// went wrong and where (missing module, syntax error, no application_setup, an API error).
/// Call with the GIL held.
[[nodiscard]] PyRef load_application(const std::string& module_name, const std::vector<std::string>& app_args,
                                     const std::vector<std::string>& full_argv);

}  // namespace roo::python
