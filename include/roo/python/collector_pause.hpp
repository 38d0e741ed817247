#pragma once

#include <Python.h>

namespace roo::python {

/// Python's cyclic garbage collector is off while this lives, and back to what it was afterwards: an app that turned
/// it off keeps it off. For stretches that allocate many objects the collector would walk again and again (a
/// recovery), or that must not pause in the middle (a window firing). Hold the GIL.
class CollectorPause {
 public:
  CollectorPause() : was_enabled_(PyGC_Disable() == 1) {}
  ~CollectorPause() {
    if (was_enabled_) {
      PyGC_Enable();
    }
  }
  CollectorPause(const CollectorPause&) = delete;
  CollectorPause& operator=(const CollectorPause&) = delete;

 private:
  bool was_enabled_;
};

}  // namespace roo::python
