#include "range_windows.hpp"

#include <algorithm>
#include <numeric>
#include <utility>
#include <vector>

namespace roo::window {
namespace {

// A fresh key state: [u, {}].
PyObject* fresh_state(PyObject* unfired) {
  PyObject* panes = PyDict_New();
  PyObject* state = panes != nullptr ? PyList_New(2) : nullptr;
  if (state == nullptr) {
    Py_XDECREF(panes);
    return nullptr;
  }
  Py_INCREF(unfired);
  PyList_SET_ITEM(state, 0, unfired);
  PyList_SET_ITEM(state, 1, panes);
  return state;
}

bool well_formed(PyObject* state) {
  return PyList_CheckExact(state) && PyList_GET_SIZE(state) == 2 && PyLong_Check(PyList_GET_ITEM(state, 0)) &&
         PyDict_CheckExact(PyList_GET_ITEM(state, 1));
}

}  // namespace

RangeWindows::RangeWindows(const WindowSpec& spec, PyObject* aggregation, state::KeyedStateTable& table,
                           python::StepErrors& errors)
    : range_(spec.range),
      slide_(spec.slide),
      delay_(spec.delay),
      pane_(std::gcd(spec.range, spec.slide)),
      sliding_(spec.range > pane_),
      policy_(spec.late_policy),
      calls_(aggregation, errors.label()),
      states_(table, errors),
      late_(errors.label(), spec.late_policy),
      unfired_(unfired_at(start_of_time)),
      unfired_object_(python::PyRef::steal(PyLong_FromLongLong(unfired_))),
      panes_per_window_(static_cast<std::size_t>(spec.range / pane_)) {}

RangeWindows::Pane& RangeWindows::pane_at(EventTime start) {
  if (last_pane_ != nullptr && last_pane_start_ == start) {
    return *last_pane_;
  }
  auto [at, added] = panes_.try_emplace(start);
  if (added || !at->second.start) {
    at->second.start = python::PyRef::steal(PyLong_FromLongLong(start));
  }
  last_pane_ = &at->second;
  last_pane_start_ = start;
  last_pane_last_window_ = align_down(start, slide_);
  return at->second;
}

void RangeWindows::add(PyObject* key, PyObject* data, EventTime time, EventTime watermark, WindowOutput& out) {
  if (tidy_pending_) {
    tidy(out);        // before anything changes a pane (window_members_ point into them)
    out.firing(key);  // the calls from here on are for this event's key again
  }
  if (watermark > watermark_) {
    advance(watermark, out);
  }
  // Most events fall into the pane of the one before: no division, no new int.
  EventTime start = last_pane_start_;
  EventTime last_window = last_pane_last_window_;
  if (last_pane_ == nullptr ||
      static_cast<std::uint64_t>(time) - static_cast<std::uint64_t>(start) >= static_cast<std::uint64_t>(pane_)) {
    start = align_down(time, pane_);
    last_window = align_down(start, slide_);
  }
  if (last_window < unfired_) {  // its last window has fired
    add_late(key, data, time, out);
    return;
  }
  PyObject* state = states_.find_or_add(key, [this] { return fresh_state(unfired_object_.get()); });
  if (state == nullptr) {
    return;
  }
  if (last_window < unfired_ahead(state)) [[unlikely]] {  // fired on the worker the key came from
    add_late(key, data, time, out);
    return;
  }
  mark_unfired(state);
  pane_changed(state, start);
  accumulate(key, state, pane_at(start), data);
}

void RangeWindows::set_unfired(EventTime window) {
  if (window != unfired_) {
    unfired_ = window;
    if (PyObject* object = PyLong_FromLongLong(window)) {
      unfired_object_ = python::PyRef::steal(object);
    } else {
      PyErr_Clear();
    }
  }
}

void RangeWindows::accumulate(PyObject* key, PyObject* state, Pane& pane, PyObject* data) {
  PyObject* panes = PyList_GET_ITEM(state, 1);
  PyObject* acc = PyDict_GetItemWithError(panes, pane.start.get());  // borrowed; an int key cannot fail
  bool created = false;
  if (acc == nullptr) {
    PyObject* fresh = calls_.initial_accumulator();
    if (fresh == nullptr || PyDict_SetItem(panes, pane.start.get(), fresh) != 0) {
      Py_XDECREF(fresh);
      states_.errors().report_exception(fresh == nullptr ? "raised in initial_accumulator():" : "raised");
      return;
    }
    Py_DECREF(fresh);  // the dict holds it
    acc = fresh;
    created = true;
    pane.members.push_back(Member{python::PyRef::borrow(key), python::PyRef::borrow(state)});
  }
  PyObject* result = calls_.update(data, acc);
  if (result == nullptr) {
    states_.errors().report_exception("raised in update():");
    if (created) {  // the event is lost: no window of this key that holds nothing
      pane.members.pop_back();
      if (PyDict_DelItem(panes, pane.start.get()) != 0) {
        PyErr_Clear();
      }
      if (pane.members.empty()) {  // nor a pane that would make next_due() early
        forget_pane(pane);
      }
    }
    return;
  }
  if (result != Py_None && result != acc && PyDict_SetItem(panes, pane.start.get(), result) != 0) {
    PyErr_Clear();
  }
  Py_DECREF(result);
  states_.touch(key, state);
}

// All the windows of the event have fired: the late policy.
void RangeWindows::add_late(PyObject* key, PyObject* data, EventTime time, WindowOutput& out) {
  late_.count();
  if (policy_ == graph::LatePolicy::drop) {
    return;
  }
  if (policy_ == graph::LatePolicy::fire_per_message) {
    python::PyRef output = python::PyRef::steal(calls_.output_alone(key, data));
    if (!output) {
      states_.errors().report_exception();
    } else if (output.get() != Py_None) {
      out.emit(key, output.get(), time);
    }
    return;
  }
  // place-in-oldest-window: the key's oldest window that has not fired, else the stage's. Its first pane belongs to
  // no other unfired window.
  PyObject* state = states_.find_or_add(key, [this] { return fresh_state(unfired_object_.get()); });
  if (state == nullptr) {
    return;
  }
  EventTime window = std::max(unfired_, unfired_ahead(state));
  PyObject* panes = PyList_GET_ITEM(state, 1);
  if (PyDict_GET_SIZE(panes) > 0) {
    EventTime oldest = end_of_time;
    Py_ssize_t position = 0;
    PyObject* start = nullptr;
    PyObject* acc = nullptr;
    while (PyDict_Next(panes, &position, &start, &acc)) {
      oldest = std::min(oldest, static_cast<EventTime>(PyLong_AsLongLong(start)));
    }
    window = std::max(window, first_window_of(oldest));
  }
  mark_unfired(state);
  pane_changed(state, window);
  accumulate(key, state, pane_at(window), data);
}

void RangeWindows::advance(EventTime watermark, WindowOutput& out) {
  if (watermark <= watermark_) {
    return;
  }
  tidy(out);
  watermark_ = watermark;
  // Every key a window fires for gets u = the first window not fired once this call returns.
  set_unfired(std::max(unfired_, unfired_at(watermark)));
  while (!panes_.empty()) {
    EventTime window = std::max(next_window_, first_window_of(panes_.begin()->first));
    if (due(window) > watermark) {
      break;
    }
    tidy(out);  // windows due together (a catch-up): each fires from tidied panes
    fire(window, out);
    fired_window_ = window;
    next_window_ = saturating_add(window, slide_);
    tidy_pending_ = true;
    if (next_window_ == end_of_time) {
      break;
    }
  }
  next_window_ = std::max(next_window_, unfired_);
  if (!moved_unfired_.empty() && next_window_ >= moved_unfired_until_) {
    moved_unfired_.clear();
  }
}

void RangeWindows::tidy(WindowOutput& out) {
  if (!tidy_pending_) {
    return;
  }
  tidy_pending_ = false;
  if (sliding_) {
    // Each key of the window that fired takes its panes (window_panes_), drops those before the next window and
    // prepares it: that firing then calls combine() once per key.
    for (const Member* member : window_members_) {
      auto at = aggregates_.find(member->state.get());
      if (at == aggregates_.end()) {
        continue;
      }
      SlidingAggregate& aggregate = at->second;
      out.firing(member->key.get());
      if (!take_panes(aggregate, PyList_GET_ITEM(member->state.get(), 1), fired_window_) ||
          !aggregate.drop_before(next_window_, calls_) || !aggregate.prepare(next_window_, calls_)) {
        // combine() raised: the next window of this key combines its panes afresh and reports the error if it
        // raises again (then that window is lost and counted), so it is not counted here.
        PyErr_Clear();
        aggregate.clear();
      }
    }
  }
  prune_before(next_window_);
}

void RangeWindows::fire(EventTime window, WindowOutput& out) {
  EventTime end = saturating_add(window, range_);
  window_panes_.clear();
  for (auto at = panes_.lower_bound(window); at != panes_.end() && at->first < end; ++at) {
    window_panes_.emplace_back(at->first, &at->second);
  }
  collect_members();
  for (const Member* member : window_members_) {
    output_window(*member, window, out);
  }
}

void RangeWindows::collect_members() {
  window_members_.clear();
  for (const auto& [start, pane] : window_panes_) {
    for (const Member& member : pane->members) {
      window_members_.push_back(&member);
    }
  }
  if (window_panes_.size() < 2) {
    return;  // a key is in a pane once
  }
  // Each key once, where it first appears: an open-addressing set of the state objects seen (reused).
  std::size_t slots = 16;
  while (slots < 2 * window_members_.size()) {
    slots *= 2;
  }
  seen_.assign(slots, nullptr);
  std::size_t kept = 0;
  for (const Member* member : window_members_) {
    PyObject* state = member->state.get();
    auto bits = reinterpret_cast<std::uintptr_t>(state) >> 4;
    for (std::size_t i = static_cast<std::size_t>(bits * 0x9e3779b97f4a7c15ULL >> 20) & (slots - 1);;
         i = (i + 1) & (slots - 1)) {
      if (seen_[i] == state) {
        break;
      }
      if (seen_[i] == nullptr) {
        seen_[i] = state;
        window_members_[kept++] = member;
        break;
      }
    }
  }
  window_members_.resize(kept);
}

void RangeWindows::output_window(const Member& member, EventTime window, WindowOutput& out) {
  PyObject* state = member.state.get();
  if (window < moved_unfired(state)) [[unlikely]] {
    return;  // it fired with this key on the worker the key came from, or here
  }
  out.firing(member.key.get());
  python::PyRef acc = sliding_ ? slide_panes(state, window) : combine_panes(state, window);
  if (!acc && PyErr_Occurred() != nullptr) {
    states_.errors().report_exception("raised in combine():");
  } else if (acc) {
    python::PyRef output = python::PyRef::steal(calls_.output(member.key.get(), acc.get()));
    if (!output) {
      states_.errors().report_exception("raised in output():");
    } else if (output.get() != Py_None) {
      out.emit(member.key.get(), output.get(), saturating_add(window, range_ - 1));
    }
  }
  mark_unfired(state);
  states_.touch(member.key.get(), state);
}

python::PyRef RangeWindows::combine_panes(PyObject* state, EventTime /*window*/) {
  PyObject* panes = PyList_GET_ITEM(state, 1);
  python::PyRef acc;
  for (const auto& [start, pane] : window_panes_) {
    PyObject* part = PyDict_GetItemWithError(panes, pane->start.get());
    if (part == nullptr) {
      continue;
    }
    acc = acc ? python::PyRef::steal(calls_.combine(acc.get(), part)) : python::PyRef::borrow(part);
    if (!acc) {
      break;
    }
  }
  return acc;
}

python::PyRef RangeWindows::slide_panes(PyObject* state, EventTime window) {
  auto [at, created] = aggregates_.try_emplace(state, staggers_ % panes_per_window_ + 1);
  staggers_ += created ? 1 : 0;  // keys in order of their first window: refills spread evenly (SlidingAggregate)
  SlidingAggregate& aggregate = at->second;
  PyObject* panes = PyList_GET_ITEM(state, 1);
  if (PyObject* prepared = aggregate.prepared(window)) {
    // The last tidy() prepared this window: its newer panes onto that, the aggregate takes them in the next one.
    python::PyRef acc = python::PyRef::borrow(prepared);
    for (const auto& [start, pane] : window_panes_) {
      if (start < aggregate.until()) {
        continue;
      }
      if (PyObject* part = PyDict_GetItemWithError(panes, pane->start.get())) {
        acc = python::PyRef::steal(calls_.combine(acc.get(), part));
        if (!acc) {
          break;
        }
      }
    }
    return acc;
  }
  bool combined = aggregate.drop_before(window, calls_) && take_panes(aggregate, panes, window);
  python::PyRef acc;
  if (combined) {
    acc = aggregate.value(calls_);
  }
  if (!acc && PyErr_Occurred() != nullptr) {
    aggregate.clear();  // the window is lost; the next one starts afresh
  }
  return acc;
}

bool RangeWindows::take_panes(SlidingAggregate& aggregate, PyObject* panes, EventTime window) {
  for (const auto& [start, pane] : window_panes_) {
    if (start < aggregate.until()) {
      continue;  // appended for an earlier window
    }
    if (PyObject* part = PyDict_GetItemWithError(panes, pane->start.get())) {
      if (!aggregate.append(start, part, calls_)) {
        return false;
      }
    }
  }
  aggregate.set_until(saturating_add(window, range_));
  return true;
}

void RangeWindows::forget_pane(Pane& pane) {
  auto at = panes_.find(static_cast<EventTime>(PyLong_AsLongLong(pane.start.get())));
  if (at != panes_.end() && &at->second == &pane) {
    if (last_pane_ == &pane) {
      last_pane_ = nullptr;
    }
    panes_.erase(at);
  }
}

void RangeWindows::prune_before(EventTime start) {
  while (!panes_.empty() && panes_.begin()->first < start) {
    Pane& pane = panes_.begin()->second;
    for (const Member& member : pane.members) {
      PyObject* panes = PyList_GET_ITEM(member.state.get(), 1);
      if (PyDict_DelItem(panes, pane.start.get()) != 0) {
        PyErr_Clear();
      }
      if (sliding_ && PyDict_GET_SIZE(panes) == 0) {
        aggregates_.erase(member.state.get());  // nothing left to slide over
      }
      states_.touch(member.key.get(), member.state.get());
    }
    if (last_pane_ == &pane) {
      last_pane_ = nullptr;
    }
    panes_.erase(panes_.begin());
  }
}

EventTime RangeWindows::next_due() const {
  if (panes_.empty()) {
    return end_of_time;
  }
  return due(std::max(next_window_, first_window_of(panes_.begin()->first)));
}

void RangeWindows::index_table(const std::function<void(PyObject* state, EventTime u)>& seen) {
  tidy_pending_ = false;  // the panes it would tidy are gone
  panes_.clear();
  aggregates_.clear();
  last_pane_ = nullptr;
  watermark_ = start_of_time;
  states_.restore_each(
      "range", well_formed, [this] { return fresh_state(unfired_object_.get()); },
      [&](PyObject* key, PyObject* state) {
        seen(state, int_item(state, 0));
        Py_ssize_t pane_position = 0;
        PyObject* start = nullptr;
        PyObject* acc = nullptr;
        while (PyDict_Next(PyList_GET_ITEM(state, 1), &pane_position, &start, &acc)) {
          long long value = PyLong_AsLongLong(start);
          if (value == -1 && PyErr_Occurred() != nullptr) {
            PyErr_Clear();
            continue;
          }
          Pane& pane = panes_[value];
          if (!pane.start) {
            pane.start = python::PyRef::borrow(start);
          }
          pane.members.push_back(Member{python::PyRef::borrow(key), python::PyRef::borrow(state)});
        }
      });
}

void RangeWindows::restored() {
  moved_unfired_.clear();
  next_window_ = start_of_time;
  // No window before the largest u had fired with data of any key whose u is smaller (it would have moved its u),
  // so every window from there on that holds a pane is still to fire.
  index_table([this](PyObject*, EventTime u) { next_window_ = std::max(next_window_, u); });
}

// The table holds keys of two histories (or more): each key's u says which of its windows fired. next_window_ goes
// back to the smallest u, so that the windows of keys from a worker behind this one fire here; a key whose u is
// further is left out of the windows before it (moved_unfired_), which fired with it already. A key that came in an
// earlier rescale and is still ahead keeps the larger of its two u.
void RangeWindows::keys_moved() {
  EventTime frontier = next_window_;
  EventTime lowest = end_of_time;
  auto earlier = std::exchange(moved_unfired_, {});
  std::vector<std::pair<PyObject*, EventTime>> unfired;
  index_table([&](PyObject* state, EventTime u) {
    if (auto at = earlier.find(state); at != earlier.end()) {
      u = std::max(u, at->second);
    }
    lowest = std::min(lowest, u);
    unfired.emplace_back(state, u);
  });
  next_window_ = std::min(frontier, lowest);
  moved_unfired_until_ = next_window_;
  for (const auto& [state, u] : unfired) {
    if (u > next_window_) {
      moved_unfired_.emplace(state, u);
      moved_unfired_until_ = std::max(moved_unfired_until_, u);
    }
  }
}

}  // namespace roo::window
