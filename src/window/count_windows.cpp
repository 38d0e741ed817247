#include "count_windows.hpp"

#include "time_arithmetic.hpp"


#include <algorithm>
#include <chrono>

namespace roo::window {
namespace {

constexpr Py_ssize_t events_item = 0;
constexpr Py_ssize_t acc_item = 1;
constexpr Py_ssize_t deadline_item = 2;
constexpr Py_ssize_t last_time_item = 3;

std::int64_t wall_now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// An empty window: [0, None, 0, 0].
void empty(PyObject* state) {
  set_item(state, events_item, PyLong_FromLong(0));
  Py_INCREF(Py_None);
  set_item(state, acc_item, Py_None);
  set_item(state, deadline_item, PyLong_FromLong(0));
  set_item(state, last_time_item, PyLong_FromLong(0));
}

PyObject* fresh_state() {
  PyObject* state = PyList_New(4);
  if (state != nullptr) {
    for (Py_ssize_t i = 0; i < 4; ++i) {
      Py_INCREF(Py_None);
      PyList_SET_ITEM(state, i, Py_None);
    }
    empty(state);
  }
  return state;
}

bool well_formed(PyObject* state) {
  return PyList_CheckExact(state) && PyList_GET_SIZE(state) == 4 && PyLong_Check(PyList_GET_ITEM(state, 0)) &&
         PyLong_Check(PyList_GET_ITEM(state, 2)) && PyLong_Check(PyList_GET_ITEM(state, 3));
}

}  // namespace

CountWindows::CountWindows(const WindowSpec& spec, PyObject* aggregation, state::KeyedStateTable& table,
                           python::StepErrors& errors)
    : count_(spec.count),
      timeout_(spec.count_timeout_ns),
      calls_(aggregation, errors.label()),
      states_(table, errors) {}

void CountWindows::add(PyObject* key, PyObject* data, EventTime time, EventTime /*watermark*/, WindowOutput& out) {
  PyObject* state = states_.find_or_add(key, fresh_state);
  if (state == nullptr) {
    return;
  }
  std::int64_t events = int_item(state, events_item);
  PyObject* acc = PyList_GET_ITEM(state, acc_item);
  python::PyRef fresh;
  if (events == 0) {
    fresh = python::PyRef::steal(calls_.initial_accumulator());
    if (!fresh) {
      states_.errors().report_exception("raised in initial_accumulator():");
      return;
    }
    acc = fresh.get();
  }
  PyObject* result = calls_.update(data, acc);
  if (result == nullptr) {
    states_.errors().report_exception("raised in update():");
    return;
  }
  if (result != Py_None) {
    acc = result;  // the new accumulator (or acc itself)
  }
  Py_INCREF(acc);
  set_item(state, acc_item, acc);
  Py_DECREF(result);
  ++events;
  if (static_cast<std::uint64_t>(events) >= count_) {
    output(key, state, time, out);
    return;
  }
  set_item(state, events_item, PyLong_FromLongLong(events));
  set_item(state, last_time_item, PyLong_FromLongLong(time));
  if (events == 1) {
    // Unique deadlines: a queued one is current exactly when the key's state still holds it.
    std::int64_t deadline = std::max(saturating_add(wall_now(), timeout_), last_deadline_ + 1);
    last_deadline_ = deadline;
    set_item(state, deadline_item, PyLong_FromLongLong(deadline));
    deadlines_.push_back(Deadline{deadline, python::PyRef::borrow(key), python::PyRef::borrow(state)});
  }
  states_.touch(key, state);
}

void CountWindows::output(PyObject* key, PyObject* state, EventTime time, WindowOutput& out) {
  python::PyRef acc = python::PyRef::borrow(PyList_GET_ITEM(state, acc_item));
  empty(state);
  states_.touch(key, state);
  out.firing(key);
  python::PyRef result = python::PyRef::steal(calls_.output(key, acc.get()));
  if (!result) {
    states_.errors().report_exception("raised in output():");
  } else if (result.get() != Py_None) {
    out.emit(key, result.get(), time);
  }
}

void CountWindows::drop_stale() const {
  while (!deadlines_.empty()) {
    PyObject* state = deadlines_.front().state.get();
    if (int_item(state, events_item) > 0 && int_item(state, deadline_item) == deadlines_.front().at) {
      return;
    }
    deadlines_.pop_front();
  }
}

void CountWindows::tick(std::int64_t wall_now_ns, WindowOutput& out) {
  for (drop_stale(); !deadlines_.empty() && deadlines_.front().at <= wall_now_ns; drop_stale()) {
    Deadline due = std::move(deadlines_.front());
    deadlines_.pop_front();
    output(due.key.get(), due.state.get(), int_item(due.state.get(), last_time_item), out);
  }
}

std::int64_t CountWindows::next_tick() const {
  drop_stale();
  return deadlines_.empty() ? end_of_time : deadlines_.front().at;
}

void CountWindows::restored() {
  deadlines_.clear();
  states_.restore_each(
      "count", well_formed, fresh_state,
      [this](PyObject* key, PyObject* state) {
        if (int_item(state, events_item) > 0) {
          std::int64_t deadline = int_item(state, deadline_item);
          last_deadline_ = std::max(last_deadline_, deadline);
          deadlines_.push_back(Deadline{deadline, python::PyRef::borrow(key), python::PyRef::borrow(state)});
        }
      });
  std::stable_sort(deadlines_.begin(), deadlines_.end(),
                   [](const Deadline& a, const Deadline& b) { return a.at < b.at; });
}

}  // namespace roo::window
