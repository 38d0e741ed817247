#include "late_events.hpp"

#include "roo/core/logging.hpp"

namespace roo::window {
namespace {

const char* what_happened(graph::LatePolicy policy) {
  switch (policy) {
    case graph::LatePolicy::drop:
      return "dropped";
    case graph::LatePolicy::fire_per_message:
      return "fired one by one";
    case graph::LatePolicy::place_in_oldest_window:
      return "placed in the oldest open window";
  }
  return "dropped";
}

}  // namespace

void LateEvents::log_line() const {
  static auto log = core::module_logger("window");
  log->warn("{}: {} late {} {} so far", label_, count_, count_ == 1 ? "event" : "events", what_happened(policy_));
}

}  // namespace roo::window
