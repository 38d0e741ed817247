#include "roo/window/window_operator.hpp"

#include "roo/core/error.hpp"

namespace roo::window {

std::unique_ptr<WindowOperator> make_window_operator(const WindowSpec& /*spec*/, PyObject* /*aggregation*/,
                                                     state::KeyedStateTable& /*table*/,
                                                     python::StepErrors& errors) {
  throw core::Error(errors.label() + ": windows are not built yet");
}

}  // namespace roo::window
