"""The package itself: pure-Python import, stream buffering, module-level defaults."""

import os
import pickle
import subprocess
import sys

import wallaroo

PYTHON_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "python"))


def _run(code):
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=30, check=True)


def test_imports_alone_with_stdlib_only():
    out = _run("import sys, wallaroo, wallaroo.description, wallaroo.experimental\n"
               "mods = sorted(m for m in sys.modules if m.startswith(('_roo', 'roo')))\n"
               "print(mods, wallaroo._ARGS)\n").stdout
    assert out == "[] None\n"


def test_streams_are_line_buffered_when_piped():
    out = _run("import sys\nbefore = sys.stdout.line_buffering\nimport wallaroo\n"
               "print(before, sys.stdout.line_buffering, sys.stderr.line_buffering)").stdout
    assert out == "False True True\n"


def test_import_survives_replaced_streams():
    out = _run("import io, sys\nreal = sys.stdout\nsys.stdout = io.StringIO()\n"
               "sys.stderr = None\nimport wallaroo\nreal.write('ok\\n')").stdout
    assert out == "ok\n"


def test_defaults():
    assert wallaroo._ARGS is None
    assert wallaroo.deserialize(wallaroo.serialize({"a": [1, 2]})) == {"a": [1, 2]}
    assert wallaroo.serialize(5) == pickle.dumps(5)
    assert issubclass(wallaroo.WallarooParameterError, Exception)
