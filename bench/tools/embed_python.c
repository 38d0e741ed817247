/* Runs a Python file in an interpreter embedded the way Roo embeds it: linked against
 * Debian's shared libpython3.11.so (pkg-config python3-embed), program_name set to
 * /usr/bin/python3. bench/alphabet_one_worker.py builds it into bench/out/ and runs its
 * ceiling loop under it, so the ceiling is measured with the same interpreter build Roo
 * uses as well as with /usr/bin/python3 (which links libpython statically).
 *
 *   cc -O2 -o bench/out/embed_python bench/tools/embed_python.c $(pkg-config --cflags --libs python3-embed)
 *   bench/out/embed_python FILE.py [ARGS...]      # sys.argv == [FILE.py, ARGS...]
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
