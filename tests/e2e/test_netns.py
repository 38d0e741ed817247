"""A 2-worker cluster across two network namespaces joined by a veth pair.

The test makes its own namespaces roo-<random>-a and roo-<random>-b, a veth pair between them and the
addresses 10.231.<r>.1/24 (a) and 10.231.<r>.2/24 (b), which exist only inside those namespaces. The
initializer and the receiver run in a, worker1 and the sender in b (`ip netns exec`), so control, data and
sink traffic all cross the veth. The namespaces are deleted at teardown. Skipped where `ip netns add` is
not permitted or `ip` is missing.
"""
import os
import random
import shutil
import subprocess

import pytest

from conftest import wait_until
from test_cluster import KEYS, PID_APP, assert_pid_output

ROUNDS = 3


def ip_tool():
    for path in (shutil.which("ip"), "/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"):
        if path and os.access(path, os.X_OK):
            return path
    return None


def run(argv, check=True):
    done = subprocess.run(argv, capture_output=True, timeout=10)
    if check and done.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (" ".join(argv), done.returncode, done.stderr.decode()))
    return done


@pytest.fixture
def netns_pair():
    """(ip, [ns a, ns b], [address a, address b]): two fresh namespaces joined by a veth pair."""
    ip = ip_tool()
    if ip is None:
        pytest.skip("the `ip` tool (iproute2) is not installed")
    tag = "%06x" % random.getrandbits(24)
    names = ["roo-%s-a" % tag, "roo-%s-b" % tag]
    subnet = random.randint(1, 254)
    addresses = ["10.231.%d.1" % subnet, "10.231.%d.2" % subnet]
    made = []
    try:
        for name in names:
            done = run([ip, "netns", "add", name], check=False)
            if done.returncode != 0:
                pytest.skip("`ip netns add` is not permitted here: %s" % done.stderr.decode().strip())
            made.append(name)
        # The veth pair is created inside namespace a with its peer directly in b: nothing outside changes.
        run([ip, "-n", names[0], "link", "add", "veth0", "type", "veth", "peer", "name", "veth0", "netns",
             names[1]])
        for name, address in zip(names, addresses):
            run([ip, "-n", name, "addr", "add", address + "/24", "dev", "veth0"])
            run([ip, "-n", name, "link", "set", "veth0", "up"])
            run([ip, "-n", name, "link", "set", "lo", "up"])
        yield ip, names, addresses
    finally:
        for name in made:
            run([ip, "netns", "del", name], check=False)


def established(ip, ns):
    """[(local, peer)] of the established TCP connections in namespace `ns`."""
    done = run([ip, "netns", "exec", ns, "ss", "-tnH", "state", "established"])
    pairs = []
    for line in done.stdout.decode().splitlines():
        fields = line.split()
        if len(fields) >= 4:
            pairs.append((fields[-2], fields[-1]))
    return pairs


def test_cluster_across_two_network_namespaces(netns_pair, cluster, roo_bin, tmp_path):
    ip, names, addresses = netns_pair
    ns_a, ns_b = names
    in_a = [ip, "netns", "exec", ns_a]
    in_b = [ip, "netns", "exec", ns_b]
    out_address = "%s:%d" % (addresses[0], 7002)
    expected = ROUNDS * len(KEYS)

    received_path = str(tmp_path / "received.txt")
    with open(received_path, "wb") as received, open(str(tmp_path / "receive.stderr"), "wb") as receive_log:
        receive = subprocess.Popen(in_a + [roo_bin, "receive", "--listen", out_address, "--expect", str(expected)],
                                   stdout=received, stderr=receive_log)
    try:
        assert wait_until(lambda: "Listening on " + out_address in open(str(tmp_path / "receive.stderr")).read(),
                          5), open(str(tmp_path / "receive.stderr")).read()
        c = cluster(PID_APP, 2, out_address, sources=["Keys"], hosts=addresses, prefixes=[in_a, in_b])

        # Traffic really crosses: worker1 (in b) holds a control connection to the initializer's control address
        # and a data connection to or from the initializer, both over the veth.
        a_host = addresses[0]
        b_pairs = established(ip, ns_b)
        assert any(peer == c[0].control for _local, peer in b_pairs), b_pairs
        assert any((peer == c[0].data and local.startswith(addresses[1] + ":")) or
                   (local == c[1].data and peer.startswith(a_host + ":")) for local, peer in b_pairs), \
            (b_pairs, c[0].data, c[1].data)
        assert c[1].wait_for_log("cluster: data channels up")

        # The sender runs in b and spreads the keys over both workers' sources (a's across the veth).
        keys_file = tmp_path / "keys.txt"
        keys_file.write_text("".join("%s\n" % key for _ in range(ROUNDS) for key in KEYS))
        hosts = ",".join("%s:%d" % address for address in c.in_addresses("Keys"))
        send = subprocess.run(in_b + [roo_bin, "send", "--host", hosts, "--file", str(keys_file),
                                      "--interval", "0", "--no-write"],
                              capture_output=True, timeout=30, cwd=str(tmp_path))
        assert send.returncode == 0, send.stderr
        assert receive.wait(timeout=20) == 0, c.logs()
        with open(received_path, encoding="utf-8") as f:
            lines = f.read().split("\n")[:-1]
        owner = assert_pid_output(lines, ROUNDS, c.pids())
        # Both workers own keys, so keys read in one namespace were processed in the other.
        assert sorted(set(owner.values())) == sorted(c.pids())
        c.stop()
    finally:
        if receive.poll() is None:
            receive.kill()
            receive.wait()
