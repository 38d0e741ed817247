"""`pip install python/` works offline into a fresh virtualenv, and the installed package runs an app's test
without the repository: cwd outside it, PYTHONPATH unset (docs/python-api.md, "Installing the package")."""

import os
import shutil
import subprocess
import textwrap

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's: python3-venv, python3-setuptools and python3-wheel (tools/setup)

APP = """\
import wallaroo

def application_setup(args):
    (name, host, port), = wallaroo.tcp_parse_input_addrs(args)
    (out_host, out_port), = wallaroo.tcp_parse_output_addrs(args)
    lines = wallaroo.source("Lines", wallaroo.TCPSourceConfig(name, host, port, decode))
    return wallaroo.build_application("Tally", lines.key_by(word).to(tally).to_sink(
        wallaroo.TCPSinkConfig(out_host, out_port, encode)))

@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode(payload):
    return payload.decode()

@wallaroo.key_extractor
def word(text):
    return text

class Count(object):
    def __init__(self):
        self.n = 0

@wallaroo.state_computation(name="tally", state=Count)
def tally(text, count):
    count.n += 1
    return "%s %d" % (text, count.n)

@wallaroo.encoder
def encode(line):
    return (line + "\\n").encode()
"""

CHECK = """\
import importlib.metadata, os, sys
import wallaroo, wallaroo.testing, wallaroo.experimental, wallaroo.connectors.kafka_source
result = wallaroo.testing.run("tally_app.py", {"Lines": [b"x", b"y", b"x"]})
assert result.output == [b"x 1\\n", b"y 1\\n", b"x 2\\n"], result
typed = os.path.isfile(os.path.join(os.path.dirname(wallaroo.__file__), "py.typed"))
print(wallaroo.__file__, importlib.metadata.version("roo-wallaroo"), typed)
"""


def test_pip_install_offline_into_a_fresh_venv_then_test_an_app_outside_the_repo(tmp_path):
    # Build from a copy, so the build's own files (build/, *.egg-info) never land in the repository.
    source = tmp_path / "python"
    shutil.copytree(os.path.join(REPO, "python"), str(source),
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    venv = tmp_path / "venv"

    def check(cmd, cwd):
        done = subprocess.run(cmd, cwd=str(cwd), env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, "{0} failed:\n{1}{2}".format(" ".join(cmd), done.stdout, done.stderr)
        return done.stdout

    # --system-site-packages: the offline build takes setuptools and wheel from Debian's packages.
    check([SYSTEM_PYTHON, "-m", "venv", "--system-site-packages", str(venv)], tmp_path)
    python = str(venv / "bin" / "python")
    check([python, "-m", "pip", "install", "--no-build-isolation", "--no-index", "--no-deps", "-q", str(source)],
          tmp_path)
    work = tmp_path / "app"
    work.mkdir()
    (work / "tally_app.py").write_text(APP)
    (work / "check.py").write_text(textwrap.dedent(CHECK))
    out = check([python, "check.py"], work).split()
    assert out[0].startswith(str(venv) + "/lib/") and out[0].endswith("/site-packages/wallaroo/__init__.py")
    assert out[1:] == ["0.1.0", "True"]

