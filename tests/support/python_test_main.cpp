// The main of every test binary that runs Python (runtime, graph): one interpreter for the whole binary, with Roo's
// python/ and the test fixtures on sys.path (pybind11's embedding tests do the same).
#include "roo/python/interpreter.hpp"

#include <gtest/gtest.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  roo::python::Interpreter interpreter(
      roo::python::InterpreterConfig{.leading_paths = {ROO_SOURCE_PYTHON_DIR, ROO_TEST_FIXTURES_DIR}, .argv = {""}});
  return RUN_ALL_TESTS();
}
