#include "roo/core/logging.hpp"
#include "roo/core/printable.hpp"
#include "roo/python/call_watch.hpp"
#include "roo/python/interpreter.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <csignal>

namespace roo::python {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds sample_interval{100};
constexpr std::chrono::milliseconds interrupt_repeat{500};  // again, if the call caught the exception
constexpr std::size_t key_text_limit = 80;

// What the watchdog asks of the SIGUSR2 handler: interrupt call number `call` of `watch` (0: nothing asked, so a
// stray SIGUSR2 from elsewhere raises nothing). The handler raises only if the executor is still inside that very
// call: one that returned between the watchdog's sample and the signal has its event processed, and the next Python
// code to run (another call, or Roo's own) must not get the exception. Only then does it mark the watchdog's flags.
struct InterruptRequest {
  std::atomic<const CallWatch*> watch{nullptr};
  std::atomic<std::atomic<bool>*> interrupted{nullptr};
  std::atomic<std::atomic<bool>*> halted{nullptr};
  std::atomic<std::uint64_t> call{0};
};
InterruptRequest interrupt_request;
// The exception type raised in an interrupted call. Created once with the GIL held and kept for the life of the
// process (an exception type, never released: no destructor may run Python after the interpreter is gone).
PyObject* step_interrupted = nullptr;

PyObject* on_interrupt_signal(PyObject*, PyObject*) {
  std::uint64_t target = interrupt_request.call.exchange(0);
  const CallWatch* watch = interrupt_request.watch.load();
  if (target == 0 || watch == nullptr || watch->label() == nullptr || watch->calls() != target) {
    Py_RETURN_NONE;  // the call asked for has returned (its event was processed) or nothing was asked
  }
  if (std::atomic<bool>* halted = interrupt_request.halted.load()) {
    halted->store(true);
  }
  if (std::atomic<bool>* interrupted = interrupt_request.interrupted.load()) {
    interrupted->store(true);
  }
  PyErr_SetString(step_interrupted, "the worker is stopping and this call did not return in time");
  return nullptr;
}

PyMethodDef interrupt_handler_def{"_roo_interrupt_stuck_call", on_interrupt_signal, METH_VARARGS, nullptr};

// signal.signal(SIGUSR2, handler): CPython's own C handler then marks the signal and wakes a sleeping call, and the
// interpreter runs the handler in the executor's thread, inside the stuck call.
void install_interrupt_handler() {
  if (step_interrupted == nullptr) {
    step_interrupted = PyErr_NewException("roo.StepInterrupted", PyExc_BaseException, nullptr);
  }
  PyObject* handler = PyCFunction_New(&interrupt_handler_def, nullptr);
  PyObject* signal_module = PyImport_ImportModule("signal");
  PyObject* result = handler != nullptr && signal_module != nullptr
                         ? PyObject_CallMethod(signal_module, "signal", "iO", SIGUSR2, handler)
                         : nullptr;
  if (result == nullptr) {
    PyErr_Clear();
    core::module_logger("python")->warn("cannot install the SIGUSR2 handler: a stuck call cannot be interrupted");
  }
  Py_XDECREF(result);
  Py_XDECREF(signal_module);
  Py_XDECREF(handler);
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

CallWatchdog::CallWatchdog(const CallWatch& watch, std::chrono::milliseconds warn_after)
    : watch_(watch), warn_after_(warn_after), executor_(pthread_self()) {
  interrupt_request.call = 0;
  interrupt_request.watch = &watch_;
  interrupt_request.interrupted = &interrupted_;
  interrupt_request.halted = &halted_;
  install_interrupt_handler();
  thread_ = std::thread([this] { run(); });
}

CallWatchdog::~CallWatchdog() {
  if (thread_.joinable() || warner_.joinable()) {
    close();
  }
}

void CallWatchdog::stop(std::chrono::milliseconds patience, Clock::time_point halt_at, Clock::time_point exit_at) {
  std::lock_guard lock(mutex_);
  if (stopping_) {
    return;
  }
  stopping_ = true;
  patience_ = std::min(patience, warn_after_);
  halt_at_ = halt_at;
  exit_at_ = exit_at;
  wake_.notify_all();
}

void CallWatchdog::finished() { finished_ = true; }

std::string CallWatchdog::interrupted_step() const {
  std::lock_guard lock(mutex_);
  return interrupted_step_;
}

void CallWatchdog::close() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  wake_.notify_all();
  GilRelease release;  // a warning being printed needs the GIL to finish
  if (thread_.joinable()) {
    thread_.join();
  }
  if (warner_.joinable()) {
    warner_.join();
  }
  if (interrupt_request.watch == &watch_) {  // a late signal finds no request and no flags of a gone watchdog
    interrupt_request.call = 0;
    interrupt_request.watch = nullptr;
    interrupt_request.interrupted = nullptr;
    interrupt_request.halted = nullptr;
  }
}

void CallWatchdog::run() {
  std::unique_lock lock(mutex_);
  while (!closing_) {
    wake_.wait_for(lock, sample_interval);
    if (!closing_) {
      check(Clock::now());
    }
  }
}

void CallWatchdog::check(Clock::time_point now) {
  static auto log = core::module_logger("python");
  const std::string* label = watch_.label();
  std::uint64_t call = watch_.calls();
  if (label == nullptr) {
    in_call_ = false;
  } else if (!in_call_ || call != call_) {
    in_call_ = true;
    call_ = call;
    call_seen_ = now;
  }
  Clock::duration running = in_call_ ? now - call_seen_ : Clock::duration::zero();
  if (in_call_ && running >= warn_after_ && warned_call_ != call_) {
    warned_call_ = call_;
    start_warning(call_, running);
  }
  if (!stopping_ || finished_) {
    return;
  }
  if (now >= halt_at_) {
    halted_ = true;
  }
  if (in_call_ && running >= patience_ && now - last_interrupt_ >= interrupt_repeat) {
    if (interrupted_call_ != call_) {
      interrupted_call_ = call_;
      if (interrupted_step_.empty()) {
        interrupted_step_ = *label;
      }
      log->error("stopping: interrupting {}, which has been running for {:.1f} s", *label, seconds(running));
    }
    last_interrupt_ = now;
    interrupt_request.call = call_;  // the handler raises only if the executor is still in this call
    pthread_kill(executor_, SIGUSR2);
  }
  if (now >= exit_at_) {
    label = watch_.label();
    log->error("stopping: {} did not return; exiting without finishing the drain (exit status 1)",
               label != nullptr ? *label : std::string("the worker's executor"));
    log->flush();
    ::_exit(1);
  }
}

// The key is printed with the GIL held, by a thread of its own: a call stuck in C code that keeps the GIL would
// otherwise block the watchdog, and with it the forced exit at stop.
void CallWatchdog::start_warning(std::uint64_t call, Clock::duration running) {
  if (!warner_done_) {
    return;  // the last warning is still waiting for the GIL
  }
  if (warner_.joinable()) {
    warner_.join();
  }
  warner_done_ = false;
  warner_ = std::thread([this, call, running] {
    warn(call, running);
    warner_done_ = true;
  });
}

void CallWatchdog::warn(std::uint64_t call, Clock::duration running) {
  static auto log = core::module_logger("python");
  std::string label;
  std::string key_text = "(none)";
  PyGILState_STATE gil = PyGILState_Ensure();
  if (watch_.label() != nullptr && watch_.calls() == call) {  // still inside that call: its key is alive
    label = *watch_.label();
    if (PyObject* key = watch_.key()) {
      PyObject* repr = PyObject_Repr(key);
      const char* text = repr != nullptr ? PyUnicode_AsUTF8(repr) : nullptr;
      // the user's __repr__ may hold newlines: escaped, so it cannot forge log lines
      key_text = text != nullptr ? core::printable(text, key_text_limit) : "<unprintable>";
      Py_XDECREF(repr);
      PyErr_Clear();
    }
  }
  PyGILState_Release(gil);
  if (!label.empty()) {
    log->warn("{} has been running for {:.0f} s on key {} (--stuck-step-warning {} s); it may never return", label,
              seconds(running), key_text, seconds(warn_after_));
  }
}

}  // namespace roo::python
