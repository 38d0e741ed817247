#include "state_codecs.hpp"

#include "roo/core/error.hpp"
#include "roo/python/exception_text.hpp"

#include <fmt/format.h>

#include <memory>

namespace roo::runtime {
namespace {

python::PyRef pickle_function(const char* name) {
  python::PyRef pickle = python::PyRef::steal(PyImport_ImportModule("pickle"));
  python::PyRef function = python::PyRef::steal(pickle ? PyObject_GetAttrString(pickle.get(), name) : nullptr);
  if (!function) {
    throw core::Error(fmt::format("serialize state: pickle.{} is not there: {}", name, python::take_exception_text()));
  }
  return function;
}

}  // namespace

StateCodecs::StateCodecs(const graph::Plan& plan) {
  python::PyRef dumps = pickle_function("dumps");
  python::PyRef loads = pickle_function("loads");
  auto plain = std::make_shared<state::PlainObjectCodec>(dumps, loads);
  application_.dump_key = dumps;
  application_.load_key = loads;
  application_.dump_state = plan.serialize ? plan.serialize : dumps;
  application_.load_state = plan.deserialize ? plan.deserialize : loads;
  if (!plan.serialize) {
    application_.plain = plain;
  }
  window_ = state::StateCodec{dumps, loads, dumps, loads, plain};
  for (const auto& table : plan.state_tables) {
    window_tables_.push_back(table.window);
  }
}

}  // namespace roo::runtime
