"""The offline window reference (window_reference.py) on small cases worked out by hand.

Each expected list was computed on paper from WINDOWS.md's rules before running the reference; the comments
show the working. Items: E(t, key, value) is an event, W(w) a watermark, END the final flush.
"""

import pytest

import wallaroo
from wallaroo.description import describe
from window_reference import (END_OF_TIME, START_OF_TIME, Result, run_count, run_range, run_session,
                              run_stage)


def E(t, key, value):
    return ("event", t, key, value)


def W(w):
    return ("watermark", w)


END = W(END_OF_TIME)


class Sum(wallaroo.Aggregation):
    """An int accumulator: update returns the new one (Roo's extension)."""

    def initial_accumulator(self):
        return 0

    def update(self, data, acc):
        return acc + data

    def combine(self, a, b):
        return a + b

    def output(self, key, acc):
        return acc


class Collect(wallaroo.Aggregation):
    """A list accumulator mutated in place (update returns None, as in Wallaroo); output sorted."""

    def initial_accumulator(self):
        return []

    def update(self, data, acc):
        acc.append(data)

    def combine(self, a, b):
        return a + b

    def output(self, key, acc):
        return tuple(sorted(acc))


class SkipZero(Sum):
    def output(self, key, acc):
        return None if acc == 0 else "{0}={1}".format(key, acc)


# ---- range windows -------------------------------------------------------------------------------------------------

def test_tumbling_windows_fire_at_their_end_and_drop_late_events():
    # [0,10): a 1+2, b 10 -> due at W(10), time 9. E(7) after W(10): its only window fired -> late, dropped.
    # [10,20): a 3+4 -> at END, time 19.
    items = [E(1, "a", 1), E(5, "a", 2), E(12, "a", 3), E(3, "b", 10), W(9), W(10), E(7, "a", 100),
             E(15, "a", 4), END]
    assert run_range(items, Sum, 10) == Result([("a", 3, 9), ("b", 10, 9), ("a", 7, 19)], 1)


def test_a_window_is_due_exactly_at_end_plus_delay():
    # range 10, delay 5: [0,10) is due at W(15), not at W(14). E(8) at W(12) is in time; E(9) at W(15) is late.
    items = [E(2, "a", 1), W(12), E(8, "a", 2), W(14), E(9, "a", 4), W(15), E(9, "a", 8), END]
    assert run_range(items, Sum, 10, delay=5) == Result([("a", 7, 9)], 1)


def test_sliding_windows_are_aligned_to_the_epoch_also_before_it():
    # range 10, slide 5. t=-3 is in [-10,0) and [-5,5); t=7 in [0,10) and [5,15); t=4 in [-5,5) and [0,10).
    # W(5): [-10,0) -> 1 (time -1); [-5,5) -> 1+4 (time 4).
    # E(3): [-5,5) fired but [0,10) open -> only there, not late. E(-1): [-10,0), [-5,5) both fired -> late.
    # END: [0,10) -> 2+4+8 (time 9); [5,15) -> 2 (time 14).
    items = [E(-3, "a", 1), E(7, "a", 2), E(4, "a", 4), W(5), E(3, "a", 8), E(-1, "a", 16), END]
    assert run_range(items, Sum, 10, slide=5) == Result([("a", 1, -1), ("a", 5, 4), ("a", 14, 9), ("a", 2, 14)], 1)


def test_sliding_windows_whose_slide_does_not_divide_the_range():
    # range 10, slide 4: windows start at ..., -8, -4, 0, 4, 8. t=9 is in [0,10), [4,14), [8,18).
    # t=1 is in [-8,2), [-4,6), [0,10). Fired in end order at END: [-8,2) 1 (1), [-4,6) 1 (5), [0,10) 1+9 (9),
    # [4,14) 9 (13), [8,18) 9 (17).
    items = [E(9, "k", 9), E(1, "k", 1), END]
    assert run_range(items, Collect, 10, slide=4).outputs == [
        ("k", (1,), 1), ("k", (1,), 5), ("k", (1, 9), 9), ("k", (9,), 13), ("k", (9,), 17)]


def test_a_sliding_alignment_far_in_the_past_makes_nothing_late():
    # Event times near 1.7e18 ns (2023): windows of 1 h sliding by 1 min, one event, watermark just below its
    # first window's end. 60 windows hold it; none fired, so not late.
    t = 1_700_000_000_123_456_789
    hour, minute = wallaroo.hours(1), wallaroo.minutes(1)
    first_start = (t // minute) * minute - hour + minute  # the earliest window holding t: 59 slides before t's
    first_end = first_start + hour
    items = [W(first_end - 1), E(t, "k", 1), END]
    result = run_range(items, Sum, hour, slide=minute)
    assert result.late == 0 and len(result.outputs) == 60
    assert result.outputs[0] == ("k", 1, first_end - 1)
    assert result.outputs[-1] == ("k", 1, (t // minute) * minute + hour - 1)


def test_keys_have_their_own_windows_and_due_windows_come_by_end_then_key_order():
    # Tumbling 10. b arrives first, so at one due time b's window comes before a's.
    items = [E(11, "b", 1), E(2, "a", 2), E(3, "b", 4), E(14, "a", 8), W(20)]
    assert run_range(items, Sum, 10).outputs == [("b", 4, 9), ("a", 2, 9), ("b", 1, 19), ("a", 8, 19)]


def test_fire_per_message_outputs_a_late_event_alone_at_its_time():
    # [0,10) fires at W(10). E(3, 5) is late: output(update(5, initial)) = 5 at time 3, at once.
    items = [E(1, "a", 1), W(10), E(3, "a", 5), E(12, "a", 2), END]
    assert run_range(items, Sum, 10, late_data_policy="fire-per-message") == Result(
        [("a", 1, 9), ("a", 5, 3), ("a", 2, 19)], 1)


def test_place_in_oldest_window_uses_the_keys_oldest_open_window_else_the_stages():
    # W(10) fires a's [0,10). E(3, a) is late: a's oldest open window is [20,30) (from t=25) -> 2+4.
    # E(5, b) is late and b has no window: the stage's oldest unfired window, the first whose end > 10: [10,20).
    items = [E(1, "a", 1), E(25, "a", 2), W(10), E(3, "a", 4), E(5, "b", 7), END]
    assert run_range(items, Sum, 10, late_data_policy="place-in-oldest-window") == Result(
        [("a", 1, 9), ("b", 7, 19), ("a", 6, 29)], 2)


def test_place_in_oldest_window_with_a_delay_and_slide():
    # range 10, slide 5, delay 3, W(20): windows with end + 3 <= 20 fired (ends <= 17: [0,10), [5,15)).
    # E(4) is late (its windows [-5,5), [0,10) fired). The first unfired window: end + 3 > 20 -> [10,20).
    items = [W(20), E(4, "a", 1), END]
    assert run_range(items, Sum, 10, slide=5, delay=3, late_data_policy="place-in-oldest-window") == Result(
        [("a", 1, 19)], 1)


def test_none_output_is_no_output_and_a_late_fire_per_message_none_too():
    items = [E(1, "a", 0), E(2, "b", 3), W(10), E(4, "a", 0), E(5, "b", 1), END]
    assert run_range(items, SkipZero, 10, late_data_policy="fire-per-message") == Result(
        [("b", "b=3", 9), ("b", "b=1", 5)], 2)


def test_the_watermark_never_goes_back():
    items = [E(1, "a", 1), W(10), W(3), E(2, "a", 1), END]
    assert run_range(items, Sum, 10) == Result([("a", 1, 9)], 1)


def test_accumulators_mutated_in_place_are_one_per_window():
    items = [E(1, "a", "x"), E(6, "a", "y"), E(3, "a", "z"), END]
    assert run_range(items, Collect, 10, slide=5).outputs == [
        ("a", ("x", "z"), 4), ("a", ("x", "y", "z"), 9), ("a", ("y",), 14)]


# ---- count windows -------------------------------------------------------------------------------------------------

def test_count_windows_output_every_n_events_per_key_at_their_latest_time():
    # count 2. a: 1+2 (times 1, 9 -> 9); b: 10+20 (times 2, 3 -> 3); c: 1+1 (times 9, 4 -> 9, not the last).
    # Watermarks change nothing. END flushes the partial windows in key order: a 4 (4), b 1 (5).
    items = [E(1, "a", 1), E(2, "b", 10), W(100), E(9, "a", 2), E(4, "a", 4), E(3, "b", 20), E(9, "c", 1),
             E(4, "c", 1), E(5, "b", 1), END]
    assert run_count(items, Sum, 2) == Result([("a", 3, 9), ("b", 30, 3), ("c", 2, 9), ("a", 4, 4), ("b", 1, 5)], 0)


def test_count_windows_without_the_final_flush():
    items = [E(1, "a", 1), E(2, "a", 2), E(3, "a", 4), END]
    assert run_count(items, Sum, 2, flush_partial_at_end=False) == Result([("a", 3, 2)], 0)


def test_count_windows_of_one():
    assert run_count([E(5, "a", "x"), E(1, "a", "y")], Collect, 1).outputs == [("a", ("x",), 5), ("a", ("y",), 1)]


# ---- session windows -----------------------------------------------------------------------------------------------

def test_sessions_merge_fire_at_last_plus_gap_and_never_overlap_an_emitted_one():
    # gap 10. [0,5] (1+2). E(15) is exactly last + gap: a new session [15,15]. E(10) joins both (10 < 5+10,
    # 10 > 15-10): one session [0,15] = 3+4+8. Due at 15+10: not at W(24), at W(25), time 15; closed_until 25.
    # E(24) < 25: late, dropped. E(30): a new session [30,30], out at END.
    items = [E(0, "a", 1), E(5, "a", 2), E(15, "a", 4), E(10, "a", 8), W(24), W(25), E(24, "a", 16), E(30, "a", 32),
             END]
    assert run_session(items, Sum, 10) == Result([("a", 15, 15), ("a", 32, 30)], 1)


def test_events_exactly_gap_apart_are_two_sessions_whatever_their_order():
    items = [E(20, "b", 1), E(10, "b", 2), E(10, "c", 2), E(20, "c", 1), END]
    assert run_session(items, Collect, 10).outputs == [("b", (2,), 10), ("c", (2,), 10), ("b", (1,), 20),
                                                      ("c", (1,), 20)]


def test_session_delay():
    # gap 10, delay 5: [0,3] is due at 3 + 15 = 18.
    items = [E(0, "a", 1), E(3, "a", 1), W(17), E(12, "a", 1), W(27), W(28)]
    assert run_session(items, Sum, 10, delay=5) == Result([("a", 3, 12)], 0)


def test_an_event_inside_an_open_session_joins_it_even_if_alone_it_would_be_late():
    # gap 10: [100,140] in steps of 5 is due at 150. At W(125), E(110) alone would be due (110+10 <= 125),
    # but its session is open, so it joins: not late.
    items = [E(t, "a", 1) for t in range(100, 145, 5)] + [W(125), E(110, "a", 1), W(150)]
    assert run_session(items, Sum, 10) == Result([("a", 10, 140)], 0)


@pytest.mark.parametrize("policy,outputs", [
    ("drop", [("a", 3, 0), ("b", 4, 200)]),
    ("fire-per-message", [("a", 3, 0), ("a", 8, 5), ("b", 16, 50), ("b", 32, 120), ("b", 4, 200)]),
    # a: no open session when E(5) comes -> fired per message. b: E(50) comes before b has a session -> per
    # message; E(120) is late (120 + 10 <= 150, too far from [200,200] to join) -> into b's oldest open session.
    ("place-in-oldest-window", [("a", 3, 0), ("a", 8, 5), ("b", 16, 50), ("b", 36, 200)]),
])
def test_session_late_policies(policy, outputs):
    # gap 10. a: [0,0] = 3 emitted at W(100) (closed_until 10); E(5) < 10 is late.
    # b: E(50) + 10 <= W(100) and b has no session: late. [200,200] opens; E(120) at W(150) is late.
    items = [E(0, "a", 3), W(100), E(5, "a", 8), E(50, "b", 16), E(200, "b", 4), W(150), E(120, "b", 32), END]
    assert run_session(items, Sum, 10, late_data_policy=policy) == Result(outputs, 3)


def test_a_bridging_event_combines_the_sessions_in_time_order():
    class Ordered(Collect):
        def combine(self, a, b):
            return a + ["|"] + b

        def output(self, key, acc):
            return tuple(acc)
    # gap 10: [0,0] and [30,30], then [15,15] is 15 from each: three sessions; E(8) bridges [0,0] and [15,15]:
    # combine(["a"], ["c"]) then update with "d".
    items = [E(0, "k", "a"), E(30, "k", "b"), E(15, "k", "c"), E(8, "k", "d"), END]
    assert run_session(items, Ordered, 10).outputs == [("k", ("a", "|", "c", "d"), 15), ("k", ("b",), 30)]


# ---- a described stage ---------------------------------------------------------------------------------------------

def _stage(windows):
    src = wallaroo.TCPSourceConfig("in", "127.0.0.1", 1, wallaroo.decoder(4, ">I")(lambda b: b))
    sink = wallaroo.TCPSinkConfig("127.0.0.1", 2, wallaroo.encoder(lambda d: b""))
    return describe(wallaroo.build_application("a", wallaroo.source("P", src).to(windows).to_sink(sink)))["stages"][0]


def test_run_stage_reads_a_described_window_stage():
    items = [E(1, "a", 1), E(6, "a", 2), W(10), E(2, "a", 4), END]
    sliding = _stage(wallaroo.range_windows(10).with_slide(5).with_late_data_policy("fire-per-message").over(Sum))
    assert run_stage(sliding, items) == Result([("a", 1, 4), ("a", 3, 9), ("a", 4, 2), ("a", 2, 14)], 1)
    assert run_stage(_stage(wallaroo.count_windows(2).over(Sum)), items) == Result([("a", 3, 6), ("a", 4, 2)], 0)
    # Sessions of gap 3: [1,1] and [6,6] close at W(10) (closed_until 9), so E(2) is late and dropped.
    assert run_stage(_stage(wallaroo.session_windows(3).over(Sum)), items) == Result([("a", 1, 1), ("a", 2, 6)], 1)


def test_bounds():
    assert (START_OF_TIME, END_OF_TIME) == (-2 ** 63, 2 ** 63 - 1)
    with pytest.raises(ValueError):
        run_range([("tick",)], Sum, 10)
    with pytest.raises(ValueError):
        run_range([], Sum, 10, late_data_policy="keep")
