"""Free loopback ports for the processes a test starts (roo workers, the Kafka test broker).

Used by conftest.py (which re-exports `free_port`) and by tests/kafka/broker_fixture.py (ctest's broker).
"""
import os
import random
import socket
import time


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


# Ports are picked below the kernel's ephemeral range, where no outgoing connection can take
# them between the check and the worker's bind (`roo run --workers N` also uses port+1...).
_PORT_RANGE = (10000, max(10100, min(_ephemeral_low(), 65536) - 64))
_port_rng = random.Random(os.getpid() ^ int(time.time()))
_ports_given = set()


def _bindable(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port(span=1):
    """A loopback port P with P .. P+span-1 all free a moment ago and never handed out before."""
    for _ in range(1000):
        port = _port_rng.randrange(_PORT_RANGE[0], _PORT_RANGE[1] - span)
        wanted = range(port, port + span)
        if any(p in _ports_given for p in wanted) or not all(_bindable(p) for p in wanted):
            continue
        _ports_given.update(wanted)
        return port
    raise RuntimeError("no free port found in %d..%d" % _PORT_RANGE)
