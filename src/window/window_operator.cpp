#include "roo/window/window_operator.hpp"

#include "count_windows.hpp"
#include "range_windows.hpp"
#include "session_windows.hpp"

namespace roo::window {

std::unique_ptr<WindowOperator> make_window_operator(const WindowSpec& spec, PyObject* aggregation,
                                                     state::KeyedStateTable& table, python::StepErrors& errors) {
  switch (spec.kind) {
    case WindowSpec::Kind::range:
      return std::make_unique<RangeWindows>(spec, aggregation, table, errors);
    case WindowSpec::Kind::count:
      return std::make_unique<CountWindows>(spec, aggregation, table, errors);
    case WindowSpec::Kind::session:
      return std::make_unique<SessionWindows>(spec, aggregation, table, errors);
  }
  return std::make_unique<CountWindows>(spec, aggregation, table, errors);
}

}  // namespace roo::window
