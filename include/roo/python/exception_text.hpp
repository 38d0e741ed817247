#pragma once

#include <string>

namespace roo::python {

/// Takes the Python exception currently set (clears it) and returns it as one line: "TypeError: cannot pickle
/// 'generator' object". Call with the GIL held and an exception set.
[[nodiscard]] std::string take_exception_text();

}  // namespace roo::python
