#pragma once

#include "roo/python/py_ref.hpp"

#include <string>
#include <vector>

namespace roo::python {

/// Imports the application module `module_name`, sets `wallaroo._ARGS` to `full_argv`, calls its
/// `application_setup(app_args)` and returns `wallaroo.description.describe(result, module, app_args)`: the plain
/// dict the runtime plans from (docs/description.md). Throws core::UsageError with one line saying what
/// went wrong and where (missing module, syntax error, no application_setup, an API error).
/// Call with the GIL held.
[[nodiscard]] PyRef load_application(const std::string& module_name, const std::vector<std::string>& app_args,
                                     const std::vector<std::string>& full_argv);

/// Takes every object alive after set-up (imported modules, the app's functions and classes, the description)
/// out of the cyclic collector's reach (gc.collect(), then gc.freeze()): a full collection then walks only what the
/// stream itself keeps, so its pause no longer grows with the app's imports (0.74 ms for word_count's ~10,000
/// objects, tens of ms for apps importing large libraries). Call once, after load_application.
void freeze_setup_objects();

}  // namespace roo::python
