#include "setup_stop_signals.hpp"

#include "roo/core/logging.hpp"

#include <csignal>

namespace roo::python {
namespace {

// The exception type, created once with the GIL held and kept for the life of the process (never released: no
// destructor may run Python after the interpreter is gone).
PyObject* setup_interrupted = nullptr;
// Set by the handler, which Python runs in the main thread with the GIL held: no atomic needed.
const char* received_signal = nullptr;

const char* signal_name(long number) { return number == SIGINT ? "SIGINT" : "SIGTERM"; }

PyObject* on_stop_signal(PyObject*, PyObject* args) {
  long number = SIGTERM;
  PyObject* frame = nullptr;
  if (!PyArg_ParseTuple(args, "l|O", &number, &frame)) {
    return nullptr;
  }
  received_signal = signal_name(number);
  PyErr_Format(setup_interrupted, "stopped by %s", received_signal);
  return nullptr;
}

PyMethodDef stop_handler_def{"_roo_stop_during_setup", on_stop_signal, METH_VARARGS, nullptr};

// signal.signal(number, handler): false (no exception left set) when Python refuses.
bool set_handler(int number, PyObject* handler) {
  PyObject* signal_module = PyImport_ImportModule("signal");
  PyObject* result =
      signal_module != nullptr ? PyObject_CallMethod(signal_module, "signal", "iO", number, handler) : nullptr;
  Py_XDECREF(signal_module);
  Py_XDECREF(result);
  if (result == nullptr) {
    PyErr_Clear();
    return false;
  }
  return true;
}

bool set_default(int number) {
  PyObject* signal_module = PyImport_ImportModule("signal");
  PyObject* fallback = signal_module != nullptr ? PyObject_GetAttrString(signal_module, "SIG_DFL") : nullptr;
  bool done = fallback != nullptr && set_handler(number, fallback);
  Py_XDECREF(fallback);
  Py_XDECREF(signal_module);
  PyErr_Clear();
  return done;
}

}  // namespace

SetupStopSignals::SetupStopSignals() {
  if (setup_interrupted == nullptr) {
    setup_interrupted = PyErr_NewException("roo.SetupInterrupted", PyExc_BaseException, nullptr);
  }
  received_signal = nullptr;
  PyObject* handler = PyCFunction_New(&stop_handler_def, nullptr);
  bool installed = handler != nullptr && set_handler(SIGINT, handler) && set_handler(SIGTERM, handler);
  Py_XDECREF(handler);
  if (!installed) {
    PyErr_Clear();
    core::module_logger("python")->debug("cannot catch SIGINT/SIGTERM during set-up: they end the process at once");
  }
}

SetupStopSignals::~SetupStopSignals() { close(); }

void SetupStopSignals::close() {
  if (closed_) {
    return;
  }
  closed_ = true;
  PyObject* pending_type = nullptr;
  PyObject* pending_value = nullptr;
  PyObject* pending_trace = nullptr;
  PyErr_Fetch(&pending_type, &pending_value, &pending_trace);  // keep an exception being reported
  if (PyErr_CheckSignals() < 0) {  // a signal caught after the last bytecode: received() says so
    PyErr_Clear();
  }
  set_default(SIGINT);
  set_default(SIGTERM);
  PyErr_Restore(pending_type, pending_value, pending_trace);
}

const char* SetupStopSignals::received() const { return received_signal; }

}  // namespace roo::python
