"""Growing and shrinking with checkpoints on (issue 16, criterion 4; docs/resilience.md, "Growing and shrinking").

Every checkpoint of a cluster records its layout (workers by index, who left, the owner of each key group) with the
mark that says it is complete, and a recovery forms the cluster that took it. After a rescale the next checkpoint is
taken at once, full on every worker, and a leaver exits only once it is complete: a crash recovers either the layout
before the rescale (the rescale is then as if it had not happened; a joiner started again joins again) or the one
after it.

Real workers, real sockets, kill -9. The app is cluster_apps/key_count.py (a count per key and an inline order
check). The initializer's TCP source is fed a fixed set of events; the crash comes once everything sent was
processed and checkpointed, so the oracle is exact: after the recovery the next events of each key are counted from
where the state was (`assert_exact_counts`: no GAP line, each key's counts 1..n once across both runs), and the key
groups are owned as the recovered layout says.

Env: ROO_RESCALE_ROUNDS (rounds of the crash-during-a-grow loop; CI default 1, more on demand).
"""
import re
import signal
import time

from conftest import wait_until
from test_ctl import run_roo
from test_rescale import (APP, EXIT_TIMEOUT, RESCALE_TIMEOUT, assert_exact_counts, assert_state_where_outputs_say,
                          assert_status, moves_logged, owners, rounds, send_fixed, shrink_out, wait_for_owners,
                          wait_mid_migration)

INTERVAL = "200ms"


def with_checkpoints(tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    return ["--checkpoint-dir", str(folder), "--checkpoint-interval", INTERVAL]


def complete_checkpoints(member, workers):
    """The ids of the checkpoints `member` (the initializer) logged complete on `workers` workers."""
    on = ":" if workers == 1 else " on %d workers:" % workers
    return [int(n) for n in re.findall(r"checkpoint (\d+) complete%s" % on, member.stderr())]


def wait_for_checkpoint_after(member, workers, seen):
    """Until `member` logs a checkpoint complete on `workers` workers that began after now: `seen` were complete by
    now, so the one after the next (the next may be in flight, its cut before now)."""
    above = max(seen or [0]) + 1
    assert wait_until(lambda: any(n > above for n in complete_checkpoints(member, workers)), 20, interval=0.05), \
        "no checkpoint on %d workers after %d\n%s" % (workers, above, member.stderr())


def wait_idle_checkpointed(member, quiet=1.0):
    """One worker takes no checkpoint of an idle stream: until one was taken and none came for `quiet` seconds (five
    intervals), so that the newest holds everything processed."""
    deadline = time.monotonic() + 20
    seen, since = complete_checkpoints(member, 1), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = complete_checkpoints(member, 1)
        if now != seen:
            seen, since = now, time.monotonic()
        elif seen and time.monotonic() - since >= quiet:
            return
    raise AssertionError("the checkpoints never settled: %s\n%s" % (seen, member.stderr()))


def wait_counted(out, sent):
    """Until the outputs of `sent` ({key: n}) arrived: each key counted up to its n."""
    total = sum(sent.values())
    assert out.wait_for(lambda r: len(r.lines()) >= total, timeout=30)


def kill(member):
    member.worker.send_signal(signal.SIGKILL)
    member.worker.wait()


def test_a_crash_after_a_grow_recovers_the_grown_layout(cluster, receiver, roo_bin, tmp_path):
    """1 → 2 workers, a checkpoint on both, then kill -9 of the joiner and the same command again: the cluster rolls
    back to that checkpoint, with the joiner at its index and the key groups where the grow put them."""
    out = receiver()
    c = cluster(APP, 1, out.address, sources=["Keys"], run_flags=with_checkpoints(tmp_path))
    wait_counted(out, send_fixed(c, 5))
    c.join("worker1")
    names = ["initializer", "worker1"]
    grown = wait_for_owners(c, names)
    wait_for_checkpoint_after(c[0], 2, [])
    kill(c[1])
    c.start_member(1)  # the same command: --join, the same name and ports
    assert c[0].wait_for_log("the cluster formed again after rollback 1", RESCALE_TIMEOUT), c.logs()
    assert wait_until(lambda: "Recovery COMPLETE" in c[1].stderr(), RESCALE_TIMEOUT), c.logs()
    assert owners(c[0]) == grown, c.logs()
    assert_status(roo_bin, c, names)
    counted = assert_exact_counts(out, send_fixed(c, 5, start=5), c.logs)
    assert_state_where_outputs_say(c, names, counted)
    c.stop(via=0)


def test_a_crash_during_a_grow_recovers_the_layout_before_it(cluster, receiver, roo_bin, tmp_path):
    """A joiner killed in the middle of the migration (key_count's save sleeps while the flag file exists): the
    cluster rolls back to the checkpoint before the grow, with the initializer alone; the joiner started again joins
    again, as a joiner, and the grow happens. Repeated ROO_RESCALE_ROUNDS times, one rollback each."""
    out = receiver()
    slow = tmp_path / "slow-saves"
    c = cluster(APP, 1, out.address, sources=["Keys"], run_flags=with_checkpoints(tmp_path),
                app_args=["--slow-save-ms", "20", "--slow-save-while", str(slow)])
    sent = send_fixed(c, 5)
    wait_counted(out, sent)
    wait_idle_checkpointed(c[0])
    slow.write_text("")
    moves = moves_logged(c[0])
    joiner = c.join("worker1")
    for round_ in range(1, rounds(1) + 1):
        wait_mid_migration(c, moves, joiner)
        kill(joiner)
        moves = moves_logged(c[0])
        assert c[0].wait_for_log("the cluster formed again after rollback %d" % round_, RESCALE_TIMEOUT), c.logs()
        assert owners(c[0]) == {"initializer": set(range(256))}, c.logs()
        c.start_member(1)  # a joiner again: it was not in the checkpoint's cluster
        wait_for_owners(c, ["initializer", "worker1"])
    slow.unlink()
    joins = c[0].stderr().count("cluster: worker 'worker1' joins the running cluster (2 workers)")
    assert joins == rounds(1) + 1, c.logs()  # each grow undone by its rollback, and the last one
    names = ["initializer", "worker1"]
    assert_status(roo_bin, c, names)
    counted = assert_exact_counts(out, send_fixed(c, 5, start=5), c.logs)
    assert_state_where_outputs_say(c, names, counted)
    c.stop(via=0)


def test_the_initializer_killed_during_a_grow_recovers_the_layout_before_it(cluster, receiver, roo_bin, tmp_path):
    """kill -9 of the initializer in the middle of the migration, then the same command again: it forms the cluster
    of its last checkpoint (itself alone, from before the grow) at once; the joiner, still running, rolls back and
    says hello again, joins as a joiner (it is not in that checkpoint), and the grow happens again."""
    out = receiver()
    slow = tmp_path / "slow-saves"
    c = cluster(APP, 1, out.address, sources=["Keys"], run_flags=with_checkpoints(tmp_path),
                app_args=["--slow-save-ms", "20", "--slow-save-while", str(slow)])
    wait_counted(out, send_fixed(c, 5))
    wait_idle_checkpointed(c[0])
    slow.write_text("")
    moves = moves_logged(c[0])
    joiner = c.join("worker1")
    wait_mid_migration(c, moves, joiner)
    kill(c[0])
    slow.unlink()
    c.start_member(0)
    c.wait_ready([c[0]])
    assert re.search(r"cluster: forms as checkpoint \d+ recorded it: 1 workers", c[0].stderr()), c.logs()
    assert joiner.wait_for_log("rolling back (rollback 1)", RESCALE_TIMEOUT), c.logs()
    names = ["initializer", "worker1"]
    wait_for_owners(c, names)
    assert joiner.proc.poll() is None, c.logs()
    assert_status(roo_bin, c, names)
    counted = assert_exact_counts(out, send_fixed(c, 5, start=5), c.logs)
    assert_state_where_outputs_say(c, names, counted)
    c.stop(via=0)


def test_a_crash_after_a_shrink_recovers_without_the_leaver(cluster, receiver, roo_bin, tmp_path):
    """2 → 1 worker: the leaver exits 0 once a checkpoint without it is complete. kill -9 of the initializer and the
    same command again: it forms the cluster of that checkpoint, alone (worker1 departed), without waiting for the
    worker its --worker-count still counts, and owns every key group with their state."""
    out = receiver()
    c = cluster(APP, 2, out.address, sources=["Keys"], run_flags=with_checkpoints(tmp_path))
    wait_counted(out, send_fixed(c, 5))
    wait_for_owners(c, ["initializer", "worker1"])
    shrink_out(roo_bin, c, 0, ["--workers", "worker1"], 1, ["initializer"])
    assert c[0].wait_for_log("cluster: worker 'worker1' leaves the cluster once a checkpoint without it is complete")
    seen = complete_checkpoints(c[0], 1)
    assert seen, "no checkpoint after the shrink\n%s" % c.logs()
    kill(c[0])
    c.start_member(0)
    c.wait_ready([c[0]])
    formed = re.findall(r"cluster: forms as checkpoint (\d+) recorded it: 1 workers", c[0].stderr())
    assert len(formed) == 1 and int(formed[0]) >= max(seen), c.logs()
    assert owners(c[0]) == {"initializer": set(range(256))}, c.logs()
    assert_status(roo_bin, c, ["initializer"])
    counted = assert_exact_counts(out, send_fixed(c, 5, start=5), c.logs)
    assert_state_where_outputs_say(c, ["initializer"], counted)
    c.stop(via=0)


def test_a_crash_during_a_shrink_recovers_the_layout_before_it(cluster, receiver, roo_bin, tmp_path):
    """kill -9 of the initializer while it restores the leaver's key groups (key_count's restore sleeps), then the same
    command again: its last checkpoint is from before the shrink, with worker1 a member. worker1 had handed its groups
    over; it cannot undo that in-process, says so in one line and stops; started again with its command it takes its
    place, restores its part, and the cluster is as before the shrink. Asked again, the shrink goes through."""
    out = receiver()
    c = cluster(APP, 2, out.address, sources=["Keys"], run_flags=with_checkpoints(tmp_path),
                app_args=["--slow-restore-ms", "20"], check_exit=False)
    names = ["initializer", "worker1"]
    before = wait_for_owners(c, names)
    wait_counted(out, send_fixed(c, 5))
    wait_for_checkpoint_after(c[0], 2, complete_checkpoints(c[0], 2))
    done = run_roo(roo_bin, "ctl", "shrink", "-e", c[0].external, "--workers", "worker1", timeout=60)
    assert done.returncode == 0, done.stderr
    assert wait_until(lambda: "key_count: restoring state" in c[0].stderr(), RESCALE_TIMEOUT), c.logs()
    kill(c[0])
    assert c[1].worker.wait(EXIT_TIMEOUT) == 1, c.logs()
    assert "the cluster rolls back to a checkpoint taken before this worker left: start this worker again with " \
        "the same command to take its place, then ask for the shrink again" in c[1].stderr(), c.logs()
    c.start_member(0)
    c.start_member(1)
    c.wait_ready()
    assert wait_until(lambda: owners(c[0]) == before, RESCALE_TIMEOUT), c.logs()
    assert_status(roo_bin, c, names)
    counted = assert_exact_counts(out, send_fixed(c, 5, start=5), c.logs)
    assert_state_where_outputs_say(c, names, counted)
    shrink_out(roo_bin, c, 0, ["--workers", "worker1"], 1, ["initializer"])
    c.stop(via=0)


def test_an_idle_lone_initializer_stops_at_once_and_continues_where_it_stopped(cluster, receiver, roo_bin, tmp_path):
    """A cluster of one worker that may grow checkpoints as a cluster (marks, a layout). Idle, a SIGTERM stops it at
    once (its newest checkpoint holds everything: no last one is needed, no drain deadline waited for); started
    again, it continues from that checkpoint."""
    out = receiver()
    c = cluster(APP, 1, out.address, sources=["Keys"], run_flags=with_checkpoints(tmp_path))
    wait_counted(out, send_fixed(c, 5))
    wait_idle_checkpointed(c[0])
    started = time.monotonic()
    c.stop(via=0)
    assert time.monotonic() - started < 3.0, c.logs()
    assert "timed out" not in c[0].stderr(), c.logs()
    c.stopped = False
    c.start_member(0)
    c.wait_ready()
    assert "Recovery COMPLETE" in c[0].stderr(), c.logs()
    counted = assert_exact_counts(out, send_fixed(c, 5, start=5), c.logs)
    assert_state_where_outputs_say(c, ["initializer"], counted)
    c.stop(via=0)
