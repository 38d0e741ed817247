#include "sliding_aggregate.hpp"

namespace roo::window {

bool SlidingAggregate::drop_before(graph::EventTime start, const AggregationCalls& calls) {
  while (!front_.empty() && front_.back().start < start) {
    front_.pop_back();
    prefix_ = {};
  }
  if (!front_.empty() || back_.empty()) {
    return true;
  }
  // The first refill comes early, once the back holds `stagger_` panes: from then on this key refills every
  // `range / pane` windows at its own phase.
  bool early = !refilled_ && stagger_ > 0 && back_.size() >= stagger_;
  if (back_.front().start >= start && !early) {
    return true;
  }
  refilled_ = true;
  prefix_ = {};
  // The front is empty: the back's panes from `start` on move to the front, newest first, each with the
  // accumulator from it to the newest; older ones go.
  for (auto pane = back_.rbegin(); pane != back_.rend(); ++pane) {
    if (pane->start < start) {
      break;  // it and every older pane go
    }
    python::PyRef value = front_.empty() ? pane->value
                                         : python::PyRef::steal(calls.combine(pane->value.get(), front_.back().value.get()));
    if (!value) {
      return false;
    }
    front_.push_back(Entry{pane->start, std::move(value)});
  }
  back_.clear();
  back_value_ = {};
  return true;
}

bool SlidingAggregate::append(graph::EventTime start, PyObject* acc, const AggregationCalls& calls) {
  python::PyRef value =
      back_value_ ? python::PyRef::steal(calls.combine(back_value_.get(), acc)) : python::PyRef::borrow(acc);
  if (!value) {
    return false;
  }
  back_.push_back(Entry{start, python::PyRef::borrow(acc)});
  back_value_ = std::move(value);
  prefix_ = {};
  return true;
}

bool SlidingAggregate::prepare(graph::EventTime window, const AggregationCalls& calls) {
  prefix_ = value(calls);
  prefix_window_ = window;
  return prefix_ || PyErr_Occurred() == nullptr;
}

python::PyRef SlidingAggregate::value(const AggregationCalls& calls) const {
  if (front_.empty()) {
    return back_value_;
  }
  if (!back_value_) {
    return front_.back().value;
  }
  return python::PyRef::steal(calls.combine(front_.back().value.get(), back_value_.get()));
}

}  // namespace roo::window
