"""`roo connector`: lists the connector scripts Roo ships and runs one (python3 -m wallaroo.connectors.<name>) with
Roo's python folder on PYTHONPATH; an unknown name is one line naming what there is, exit 2."""
import os
import struct
import subprocess
import sys

from conftest import REPO

sys.path.insert(0, os.path.join(REPO, "tests", "connectors"))
from protocol_worker import ProtocolWorker  # noqa: E402

CONNECTORS_DIR = os.path.join(REPO, "python", "wallaroo", "connectors")


def shipped():
    return sorted(f[:-3].replace("_", "-") for f in os.listdir(CONNECTORS_DIR)
                  if f.endswith(".py") and not f.startswith("_"))


def run(roo_bin, *args, env=None, cwd=None):
    return subprocess.run([roo_bin, "connector"] + [str(a) for a in args], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=60, env=env, cwd=cwd)


def test_list_prints_every_shipped_connector(roo_bin):
    result = run(roo_bin, "--list")
    assert (result.returncode, result.stderr) == (0, b"")
    names = result.stdout.decode().splitlines()
    assert names == shipped()
    for name in ("file-source", "file-sink", "udp-source", "udp-sink", "kafka-source", "kafka-sink", "redis-source",
                 "redis-sink", "postgres-source", "postgres-sink", "rabbitmq-source"):
        assert name in names


def test_an_unknown_connector_is_one_line_with_the_list(roo_bin):
    result = run(roo_bin, "nope", "--application-module", "x")
    assert result.returncode == 2
    assert result.stdout == b""
    assert result.stderr.decode() == ("roo connector: unable to run connector 'nope': there is no such connector; "
                                      "Roo ships %s\n" % ", ".join(shipped()))
    nameless = run(roo_bin)
    assert nameless.returncode == 2
    assert nameless.stderr.decode() == ("roo connector: unable to run a connector: name one (roo connector NAME ...); "
                                        "Roo ships %s\n" % ", ".join(shipped()))


def test_a_connector_runs_with_its_arguments(roo_bin, tmp_path):
    worker = ProtocolWorker()
    (tmp_path / "cli_app.py").write_text(
        "import wallaroo, wallaroo.experimental as x\n"
        "@x.octet_message_decoder\n"
        "def dec(b):\n"
        "    return b\n"
        "@x.octet_message_encoder\n"
        "def enc(b):\n"
        "    return b\n"
        "def application_setup(args):\n"
        "    src = x.SourceConnectorConfig('in', enc, dec, %d, 'cookie', 100, 50)\n"
        "    return wallaroo.build_application('a', wallaroo.source('P', src).to_sink(\n"
        "        x.SinkConnectorConfig('out', enc, dec, 1, 'cookie')))\n" % worker.port)
    records = tmp_path / "in.bin"
    records.write_bytes(struct.pack(">I", 2) + b"hi" + struct.pack(">I", 3) + b"you")
    env = dict(os.environ, PYTHONPATH=str(tmp_path))  # the app's folder; roo puts its own python folder first
    result = run(roo_bin, "file-source", "--application-module", "cli_app", "--connector", "in", "--in-path", records,
                 env=env, cwd=str(tmp_path))
    assert (result.returncode, result.stderr) == (0, b""), result.stderr
    assert [(m[1], m[3]) for m in worker.messages] == [(6, b"hi"), (13, b"you")]
    worker.close()
