"""Which stages share state: every G2 `.to(state computation)` has its own state, even when the same state
computation appears twice (as in Wallaroo, where every step has its own state); G1 stages naming the same state
partition share it (the joining-streams pattern; examples/loyalty joins two pipelines that way).

tests/e2e/apps/count_twice.py keys words and applies one counter twice. 1 and 2 workers; every frame goes to the
initializer's source, so each key's lines come in input order.
"""
import os

import pytest

from conftest import EXTERNAL_CLUSTER_STATE_ENTITY_COUNT_QUERY, external_query, frame, send_frames

APP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "apps", "count_twice.py")
KEYS = ["k%d" % i for i in range(10)]
ROUNDS = 3


def run_count_twice(cluster, receiver, size, app_args=()):
    out = receiver()
    c = cluster(APP, size, out.address, sources=["Words"], app_args=app_args)
    words = [key for _ in range(ROUNDS) for key in KEYS]
    send_frames(c.in_addresses("Words")[0][1], [frame(w.encode()) for w in words])
    assert out.wait_for(lambda r: len(r.lines()) >= len(words), timeout=20), c.logs()
    out.wait_quiet(0.3)
    lines = out.lines()
    per_key = dict((key, [line for line in lines if line.split(" ")[0] == key]) for key in KEYS)
    counts = external_query(c.initializer.external, EXTERNAL_CLUSTER_STATE_ENTITY_COUNT_QUERY)
    c.stop()
    assert len(lines) == len(words), lines
    return per_key, counts


@pytest.mark.parametrize("size", [1, 2])
def test_the_same_state_computation_twice_in_g2_has_two_states(cluster, receiver, size):
    per_key, counts = run_count_twice(cluster, receiver, size)
    assert per_key == dict((key, ["%s %d %d" % (key, n, n) for n in range(1, ROUNDS + 1)]) for key in KEYS)
    # Two state tables, named after the computation; the second stage's is "count (2)". A key lives on one
    # worker for both stages.
    assert sorted(counts) == ["initializer", "worker1"][:size]
    for worker, tables in counts.items():
        assert sorted(tables) == ["count", "count (2)"], counts
        assert tables["count"] == tables["count (2)"], counts
    assert sum(tables["count"] for tables in counts.values()) == len(KEYS)


@pytest.mark.parametrize("size", [1, 2])
def test_g1_stages_naming_one_partition_share_its_state(cluster, receiver, size):
    per_key, counts = run_count_twice(cluster, receiver, size, app_args=["--g1"])
    assert per_key == dict((key, ["%s %d %d" % (key, 2 * n - 1, 2 * n) for n in range(1, ROUNDS + 1)])
                           for key in KEYS)
    assert sorted(counts) == ["initializer", "worker1"][:size]
    assert all(sorted(tables) == ["counts"] for tables in counts.values()), counts
    assert sum(tables["counts"] for tables in counts.values()) == len(KEYS)
