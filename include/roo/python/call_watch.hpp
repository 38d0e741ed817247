#pragma once

#include <Python.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace roo::python {

/// Which user call the Python executor is in right now, for the CallWatchdog. The executor marks each user call
/// with enter()/leave(): a few relaxed stores, no lock, no clock read. Another thread samples it: a call is stuck
/// when the executor is inside one and the call number has not moved.
class CallWatch {
 public:
  /// The executor calls user code of step `label` (e.g. "computation 'double'") on `key` (borrowed, may be null).
  /// `label` must outlive the call.
  void enter(const std::string* label, PyObject* key) {
    key_.store(key, std::memory_order_relaxed);
    calls_.store(calls_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    label_.store(label, std::memory_order_relaxed);
  }
  void leave() { label_.store(nullptr, std::memory_order_relaxed); }

  /// Any thread: the step being called now (null between calls) and the number of its call.
  [[nodiscard]] const std::string* label() const { return label_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t calls() const { return calls_.load(std::memory_order_relaxed); }
  /// The key of the current call. Read it only while holding the GIL and after checking that label() and calls()
  /// still show the same call: the executor is then inside that call, which keeps the key alive.
  [[nodiscard]] PyObject* key() const { return key_.load(std::memory_order_relaxed); }

 private:
  std::atomic<const std::string*> label_{nullptr};
  std::atomic<std::uint64_t> calls_{0};
  std::atomic<PyObject*> key_{nullptr};
};

/// Watches a CallWatch from a thread of its own (a sample every 100 ms):
/// - a call that has not returned after `warn_after` is logged once, with its step and key (the key is printed
///   from a short-lived thread that takes the GIL, so a call that never gives the GIL up cannot block the watchdog);
/// - after stop(), a call that has run longer than `patience` (or than `warn_after`, if less) is interrupted: the
///   StepInterrupted exception (a BaseException, so `except Exception` does not swallow it) is raised inside it,
///   through a Python handler for SIGUSR2 sent to the executor's thread (that also ends a time.sleep()). The handler
///   raises only if the executor is still inside the call the watchdog asked for: a call that returned in between
///   keeps its result, and nothing is raised in the Python that runs next;
/// - from `halt_at` (the drain deadline) on, halted() is true: the executor takes no further event;
/// - if the executor has not called finished() by `exit_at`, the process exits with status 1 at once (`_exit`),
///   after one error line naming the step still running.
/// Construct and destroy on the executor (the main thread, which must hold the GIL: the constructor installs the
/// SIGUSR2 handler); close() must be called before the interpreter goes, with the GIL held.
class CallWatchdog {
 public:
  CallWatchdog(const CallWatch& watch, std::chrono::milliseconds warn_after);
  ~CallWatchdog();
  CallWatchdog(const CallWatchdog&) = delete;
  CallWatchdog& operator=(const CallWatchdog&) = delete;

  /// Any thread, once: the worker is stopping (see the class comment). Later calls change nothing.
  void stop(std::chrono::milliseconds patience, std::chrono::steady_clock::time_point halt_at,
            std::chrono::steady_clock::time_point exit_at);
  /// Any thread: the worker has finished draining; no more interrupts or forced exits.
  void finished();
  /// True once StepInterrupted was raised in a call: the executor should take no more input.
  [[nodiscard]] bool interrupted() const { return interrupted_.load(); }
  /// True once a call was interrupted or the drain deadline passed: the executor takes no further event (one
  /// relaxed load; checked per event).
  [[nodiscard]] bool halted() const { return halted_.load(std::memory_order_relaxed); }
  /// The step of the first interrupted call (e.g. "computation 'spin'"); empty before one was.
  [[nodiscard]] std::string interrupted_step() const;
  /// Stops the thread (releases the GIL while it joins). Idempotent.
  void close();

 private:
  void run();
  void check(std::chrono::steady_clock::time_point now);
  void start_warning(std::uint64_t call, std::chrono::steady_clock::duration running);
  void warn(std::uint64_t call, std::chrono::steady_clock::duration running);

  const CallWatch& watch_;
  std::chrono::milliseconds warn_after_;
  pthread_t executor_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool closing_ = false;
  bool stopping_ = false;
  std::chrono::milliseconds patience_{};
  std::chrono::steady_clock::time_point halt_at_{};
  std::chrono::steady_clock::time_point exit_at_{};
  std::atomic<bool> finished_{false};
  std::atomic<bool> interrupted_{false};
  std::atomic<bool> halted_{false};
  // the watchdog thread's own view of the current call
  bool in_call_ = false;
  std::uint64_t call_ = 0;
  std::chrono::steady_clock::time_point call_seen_{};
  std::uint64_t warned_call_ = 0;
  std::uint64_t interrupted_call_ = 0;
  std::string interrupted_step_;  ///< guarded by mutex_
  std::chrono::steady_clock::time_point last_interrupt_{};
  std::thread warner_;  ///< prints one warning's key with the GIL held
  std::atomic<bool> warner_done_{true};
  std::thread thread_;
};

}  // namespace roo::python
