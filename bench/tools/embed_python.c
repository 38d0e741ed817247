/* Runs a Python file in an embedded interpreter (program_name /usr/bin/python3, as Roo sets
 * it). bench/alphabet_one_worker.py builds it into bench/out/ two ways and runs its ceiling
 * loop under each, so the ceiling is measured with Roo's own libpython link as well as with
 * /usr/bin/python3:
 *
 *   shared, Debian's -fPIC libpython3.11.so:
 *     cc -O2 -o bench/out/embed_python_shared bench/tools/embed_python.c $(pkg-config --cflags --libs python3-embed)
 *   static, the non-PIC libpython3.11.a, as roo is linked with ROO_STATIC_LIBPYTHON (CMakeLists.txt):
 *     cc -O2 -no-pie -o bench/out/embed_python_static bench/tools/embed_python.c -I/usr/include/python3.11 \
 *        /usr/lib/python3.11/config-3.11-x86_64-linux-gnu/libpython3.11.a -Wl,--export-dynamic \
 *        -lexpat -lz -ldl -lm -lutil -lpthread
 *
 *   bench/out/embed_python_shared FILE.py [ARGS...]      # sys.argv == [FILE.py, ARGS...]
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdio.h>

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE.py [ARGS...]\n", argv[0]);
    return 2;
  }
  PyConfig config;
  PyConfig_InitPythonConfig(&config);
  config.parse_argv = 0;
  PyStatus status = PyConfig_SetBytesString(&config, &config.program_name, "/usr/bin/python3");
  if (!PyStatus_Exception(status)) {
    status = PyConfig_SetBytesArgv(&config, argc - 1, argv + 1);
  }
  if (!PyStatus_Exception(status)) {
    status = Py_InitializeFromConfig(&config);
  }
  PyConfig_Clear(&config);
  if (PyStatus_Exception(status)) {
    Py_ExitStatusException(status);
  }
  FILE* file = fopen(argv[1], "r");
  if (file == NULL) {
    perror(argv[1]);
    return 2;
  }
  int failed = PyRun_SimpleFileExFlags(file, argv[1], 1, NULL);
  if (Py_FinalizeEx() < 0) {
    return 120;
  }
  return failed ? 1 : 0;
}
