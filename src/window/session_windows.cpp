#include "session_windows.hpp"


#include <algorithm>

namespace roo::window {
namespace {

constexpr Py_ssize_t closed_until_item = 0;
constexpr Py_ssize_t sessions_item = 1;
constexpr Py_ssize_t start_item = 0;
constexpr Py_ssize_t last_item = 1;
constexpr Py_ssize_t acc_item = 2;

bool later(const auto& a, const auto& b) { return a.at > b.at || (a.at == b.at && a.order > b.order); }

// A fresh key state: [closed_until, []].
PyObject* fresh_state(PyObject* closed_until) {
  PyObject* sessions = PyList_New(0);
  PyObject* state = sessions != nullptr ? PyList_New(2) : nullptr;
  if (state == nullptr) {
    Py_XDECREF(sessions);
    return nullptr;
  }
  Py_INCREF(closed_until);
  PyList_SET_ITEM(state, closed_until_item, closed_until);
  PyList_SET_ITEM(state, sessions_item, sessions);
  return state;
}

PyObject* new_session(EventTime time, PyObject* acc) {
  return Py_BuildValue("[LLO]", static_cast<long long>(time), static_cast<long long>(time), acc);
}

bool well_formed(PyObject* state) {
  if (!PyList_CheckExact(state) || PyList_GET_SIZE(state) != 2 || !PyLong_Check(PyList_GET_ITEM(state, 0)) ||
      !PyList_CheckExact(PyList_GET_ITEM(state, 1))) {
    return false;
  }
  PyObject* sessions = PyList_GET_ITEM(state, 1);
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(sessions); ++i) {
    PyObject* session = PyList_GET_ITEM(sessions, i);
    if (!PyList_CheckExact(session) || PyList_GET_SIZE(session) != 3 || !PyLong_Check(PyList_GET_ITEM(session, 0)) ||
        !PyLong_Check(PyList_GET_ITEM(session, 1))) {
      return false;
    }
  }
  return true;
}

}  // namespace

SessionWindows::SessionWindows(const WindowSpec& spec, PyObject* aggregation, state::KeyedStateTable& table,
                               python::StepErrors& errors)
    : gap_(spec.gap),
      delay_(spec.delay),
      policy_(spec.late_policy),
      calls_(aggregation, errors.label()),
      states_(table, errors),
      late_(errors.label(), spec.late_policy),
      no_close_(python::PyRef::steal(PyLong_FromLongLong(start_of_time))) {}

EventTime SessionWindows::due_of(PyObject* session) const {
  return saturating_add(int_item(session, last_item), saturating_add(gap_, delay_));
}

void SessionWindows::add(PyObject* key, PyObject* data, EventTime time, EventTime watermark, WindowOutput& out) {
  if (watermark > watermark_) {
    advance(watermark, out);
  }
  bool failed = false;
  PyObject* state = states_.find(key, failed);
  if (failed) {
    return;
  }
  EventTime closed_until = state != nullptr ? int_item(state, closed_until_item) : start_of_time;
  // Too old for a session of its own: late, unless it joins a session still open.
  const bool only_joins = saturating_add(time, saturating_add(gap_, delay_)) <= watermark_;
  if (time < closed_until || (only_joins && state == nullptr)) {
    add_late(key, data, state, time, out);
    return;
  }
  if (state == nullptr && (state = states_.add(key, fresh_state(no_close_.get()))) == nullptr) {
    return;
  }
  switch (join(key, state, data, time, only_joins)) {
    case Joined::yes:
      states_.touch(key, state);
      break;
    case Joined::late:
      add_late(key, data, state, time, out);
      break;
    case Joined::lost:
      break;
  }
}

SessionWindows::Joined SessionWindows::join(PyObject* key, PyObject* state, PyObject* data, EventTime time,
                                            bool only_joins) {
  PyObject* sessions = PyList_GET_ITEM(state, sessions_item);
  Py_ssize_t count = PyList_GET_SIZE(sessions);
  // Sessions j..k-1 are within `gap` of the event: those ending (last + gap) after it and starting at most `gap`
  // after it.
  Py_ssize_t j = 0;
  while (j < count && time >= saturating_add(int_item(PyList_GET_ITEM(sessions, j), last_item), gap_)) {
    ++j;
  }
  Py_ssize_t k = j;
  while (k < count && time >= saturating_sub(int_item(PyList_GET_ITEM(sessions, k), start_item), gap_)) {
    ++k;
  }
  if (k == j && only_joins) {
    return Joined::late;
  }
  python::PyRef acc;
  if (k == j) {
    acc = python::PyRef::steal(calls_.initial_accumulator());
    if (!acc) {
      states_.errors().report_exception("raised in initial_accumulator():");
      return Joined::lost;
    }
  } else {
    acc = python::PyRef::borrow(PyList_GET_ITEM(PyList_GET_ITEM(sessions, j), acc_item));
    for (Py_ssize_t i = j + 1; i < k; ++i) {  // the event bridges sessions: they merge
      acc = python::PyRef::steal(calls_.combine(acc.get(), PyList_GET_ITEM(PyList_GET_ITEM(sessions, i), acc_item)));
      if (!acc) {
        states_.errors().report_exception("raised in combine():");
        return Joined::lost;
      }
    }
  }
  python::PyRef result = python::PyRef::steal(calls_.update(data, acc.get()));
  if (!result) {
    states_.errors().report_exception("raised in update():");
    return Joined::lost;
  }
  if (result.get() != Py_None) {
    acc = result;
  }
  if (k == j) {
    python::PyRef session = python::PyRef::steal(new_session(time, acc.get()));
    if (!session || PyList_Insert(sessions, j, session.get()) != 0) {
      states_.errors().report_exception("could not open a session:");
      return Joined::lost;
    }
    if (j == 0) {
      schedule(key, state);
    }
    return Joined::yes;
  }
  PyObject* first = PyList_GET_ITEM(sessions, j);
  EventTime start = std::min(int_item(first, start_item), time);
  EventTime last = std::max(int_item(PyList_GET_ITEM(sessions, k - 1), last_item), time);
  if (k - j == 1) {
    if (acc.get() != PyList_GET_ITEM(first, acc_item)) {
      set_item(first, acc_item, acc.release());
    }
    if (start != int_item(first, start_item)) {
      set_item(first, start_item, PyLong_FromLongLong(start));
    }
    if (last != int_item(first, last_item)) {
      set_item(first, last_item, PyLong_FromLongLong(last));
    }
    return Joined::yes;
  }
  python::PyRef merged = python::PyRef::steal(
      Py_BuildValue("[[LLO]]", static_cast<long long>(start), static_cast<long long>(last), acc.get()));
  if (!merged || PyList_SetSlice(sessions, j, k, merged.get()) != 0) {
    states_.errors().report_exception("could not merge sessions:");
    return Joined::lost;
  }
  return Joined::yes;  // the first session only grew: its heap entry moves when it reaches the top
}

void SessionWindows::add_late(PyObject* key, PyObject* data, PyObject* state, EventTime time, WindowOutput& out) {
  late_.count();
  if (policy_ == graph::LatePolicy::drop) {
    return;
  }
  if (policy_ == graph::LatePolicy::place_in_oldest_window && state != nullptr &&
      PyList_GET_SIZE(PyList_GET_ITEM(state, sessions_item)) > 0) {
    // Into the key's oldest open session, which keeps its bounds: it must not reach into one already output.
    PyObject* session = PyList_GET_ITEM(PyList_GET_ITEM(state, sessions_item), 0);
    PyObject* acc = PyList_GET_ITEM(session, acc_item);
    PyObject* result = calls_.update(data, acc);
    if (result == nullptr) {
      states_.errors().report_exception("raised in update():");
      return;
    }
    if (result != Py_None && result != acc) {
      Py_INCREF(result);
      set_item(session, acc_item, result);
    }
    Py_DECREF(result);
    states_.touch(key, state);
    return;
  }
  python::PyRef output = python::PyRef::steal(calls_.output_alone(key, data));
  if (!output) {
    states_.errors().report_exception();
  } else if (output.get() != Py_None) {
    out.emit(key, output.get(), time);
  }
}

void SessionWindows::schedule(PyObject* key, PyObject* state) const {
  PyObject* sessions = PyList_GET_ITEM(state, sessions_item);
  if (PyList_GET_SIZE(sessions) == 0) {
    scheduled_.erase(state);
    return;
  }
  EventTime due = due_of(PyList_GET_ITEM(sessions, 0));
  auto [at, added] = scheduled_.try_emplace(state, due);
  if (!added && at->second <= due) {
    return;  // the current entry is earlier: it moves when it reaches the top
  }
  at->second = due;
  heap_.push_back(Due{due, order_++, python::PyRef::borrow(key), python::PyRef::borrow(state)});
  std::push_heap(heap_.begin(), heap_.end(), [](const Due& a, const Due& b) { return later(a, b); });
}

void SessionWindows::pop() const {
  std::pop_heap(heap_.begin(), heap_.end(), [](const Due& a, const Due& b) { return later(a, b); });
  heap_.pop_back();
}

void SessionWindows::settle() const {
  while (!heap_.empty()) {
    const Due& top = heap_.front();
    auto current = scheduled_.find(top.state.get());
    if (current == scheduled_.end() || current->second != top.at) {
      pop();  // replaced by an earlier entry of its key
      continue;
    }
    PyObject* sessions = PyList_GET_ITEM(top.state.get(), sessions_item);
    if (PyList_GET_SIZE(sessions) == 0) {
      scheduled_.erase(current);
      pop();
      continue;
    }
    EventTime due = due_of(PyList_GET_ITEM(sessions, 0));
    if (due == top.at) {
      return;
    }
    Due moved{due, order_++, top.key, top.state};  // the session grew since
    current->second = due;
    pop();
    heap_.push_back(std::move(moved));
    std::push_heap(heap_.begin(), heap_.end(), [](const Due& a, const Due& b) { return later(a, b); });
  }
}

EventTime SessionWindows::next_due() const {
  settle();
  return heap_.empty() ? end_of_time : heap_.front().at;
}

void SessionWindows::advance(EventTime watermark, WindowOutput& out) {
  if (watermark <= watermark_) {
    return;
  }
  watermark_ = watermark;
  for (settle(); !heap_.empty() && heap_.front().at <= watermark; settle()) {
    Due top = heap_.front();
    pop();
    scheduled_.erase(top.state.get());
    fire_first(top.key.get(), top.state.get(), out);
    schedule(top.key.get(), top.state.get());
  }
}

void SessionWindows::fire_first(PyObject* key, PyObject* state, WindowOutput& out) {
  PyObject* sessions = PyList_GET_ITEM(state, sessions_item);
  python::PyRef session = python::PyRef::borrow(PyList_GET_ITEM(sessions, 0));
  EventTime last = int_item(session.get(), last_item);
  EventTime closes = saturating_add(last, gap_);
  if (closes > int_item(state, closed_until_item)) {
    set_item(state, closed_until_item, PyLong_FromLongLong(closes));
  }
  if (PyList_SetSlice(sessions, 0, 1, nullptr) != 0) {
    PyErr_Clear();
  }
  states_.touch(key, state);
  out.firing(key);
  python::PyRef output = python::PyRef::steal(calls_.output(key, PyList_GET_ITEM(session.get(), acc_item)));
  if (!output) {
    states_.errors().report_exception("raised in output():");
  } else if (output.get() != Py_None) {
    out.emit(key, output.get(), last);
  }
}

void SessionWindows::restored() {
  heap_.clear();
  scheduled_.clear();
  watermark_ = start_of_time;
  states_.restore_each("session", well_formed, [this] { return fresh_state(no_close_.get()); },
                       [this](PyObject* key, PyObject* state) { schedule(key, state); });
}

}  // namespace roo::window
