// CallWatchdog's interrupt at stop, with the real SIGUSR2 and the real Python handler: it raises only inside the
// call it was asked for. The test's thread plays the executor: it marks a call with CallWatch::enter() and runs no
// Python until it chooses to, so CPython's C handler only marks the signal and the Python handler runs at the
// PyErr_CheckSignals() below, after the call did or did not return.
#include "roo/python/call_watch.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

namespace roo::python {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Enters a call, stops the watchdog with no patience and waits (running no Python) until it has had time to sample
// the call and signal this thread at least once.
void stop_inside_a_call(CallWatch& watch, CallWatchdog& watchdog, const std::string& label) {
  watch.enter(&label, nullptr);
  auto far = Clock::now() + 1h;
  watchdog.stop(0ms, far, far);
  std::this_thread::sleep_for(400ms);  // the watchdog samples every 100 ms and signals at once
}

bool step_interrupted_raised() {
  if (PyErr_CheckSignals() == 0) {
    return false;
  }
  PyObject* type = PyErr_Occurred();
  bool raised = type != nullptr && std::string(reinterpret_cast<PyTypeObject*>(type)->tp_name).find(
                                       "StepInterrupted") != std::string::npos;
  PyErr_Clear();
  return raised;
}

TEST(CallWatchdog, InterruptsTheCallStillRunning) {
  CallWatch watch;
  CallWatchdog watchdog(watch, 1h);
  const std::string label = "computation 'spin'";
  stop_inside_a_call(watch, watchdog, label);
  EXPECT_TRUE(step_interrupted_raised());
  EXPECT_TRUE(watchdog.interrupted());
  EXPECT_TRUE(watchdog.halted());
  EXPECT_EQ(watchdog.interrupted_step(), label);
  watch.leave();
  watchdog.finished();
  watchdog.close();
}

// The call returned between the watchdog's sample and the signal: nothing is raised in the Python that runs next
// (Roo's own, or the next call), and the event counts as processed, not interrupted.
TEST(CallWatchdog, RaisesNothingOnceTheCallAskedForHasReturned) {
  CallWatch watch;
  CallWatchdog watchdog(watch, 1h);
  const std::string label = "computation 'slow'";
  stop_inside_a_call(watch, watchdog, label);
  watch.leave();  // the call returns before any Python (and so the handler) runs
  EXPECT_FALSE(step_interrupted_raised());
  EXPECT_FALSE(watchdog.interrupted());
  EXPECT_FALSE(watchdog.halted());
  watchdog.finished();
  watchdog.close();
}

TEST(CallWatchdog, RaisesNothingInTheNextCall) {
  CallWatch watch;
  CallWatchdog watchdog(watch, 1h);
  const std::string label = "computation 'slow'";
  stop_inside_a_call(watch, watchdog, label);
  watch.leave();
  watchdog.finished();  // no more interrupts: only the one already asked for is pending
  watch.enter(&label, nullptr);  // the next call starts before the handler runs
  EXPECT_FALSE(step_interrupted_raised());
  EXPECT_FALSE(watchdog.interrupted());
  watch.leave();
  watchdog.close();
}

}  // namespace
}  // namespace roo::python
