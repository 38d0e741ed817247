#include "roo/window/window_operator.hpp"

#include "count_windows.hpp"
#include "range_windows.hpp"
#include "session_windows.hpp"

#include "roo/core/error.hpp"

#include <fmt/format.h>

namespace roo::window {

std::unique_ptr<WindowOperator> make_window_operator(const WindowSpec& spec, PyObject* aggregation,
                                                     state::KeyedStateTable& table, python::StepErrors& errors) {
  switch (spec.kind) {
    case WindowSpec::Kind::range:
      if (spec.range <= 0 || spec.slide <= 0 || spec.slide > spec.range) {
        throw core::Error(fmt::format("set up '{}': a range of {} ns sliding by {} ns (both must be above 0, the "
                                      "slide at most the range)",
                                      errors.label(), spec.range, spec.slide));
      }
      return std::make_unique<RangeWindows>(spec, aggregation, table, errors);
    case WindowSpec::Kind::count:
      return std::make_unique<CountWindows>(spec, aggregation, table, errors);
    case WindowSpec::Kind::session:
      return std::make_unique<SessionWindows>(spec, aggregation, table, errors);
  }
  return std::make_unique<CountWindows>(spec, aggregation, table, errors);
}

}  // namespace roo::window
