"""wallaroo.testing: apps run in-process over lists of input; every expected output here is worked out by hand (or,
for windowed_alerts, by the example's make_data.py, which computes the alerts from the readings on its own)."""

import os
import struct
import sys
import textwrap

import pytest

import wallaroo
import wallaroo.testing
from wallaroo.testing import StepError, run, unframe

EXAMPLES = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "examples"))


def example(name):
    return os.path.join(EXAMPLES, name, name + ".py")


def write_app(tmp_path, name, source):
    path = tmp_path / (name + ".py")
    path.write_text(textwrap.dedent(source))
    return str(path)


def vote(letter, count):
    return letter.encode("ascii") + struct.pack(">I", count)


# --- the examples ---------------------------------------------------------------------------------------------------

def test_alphabet_running_totals_per_letter():
    result = run(example("alphabet"), {"Alphabet": [vote("a", 1), vote("b", 2), vote("a", 3), vote("c", 0),
                                                    vote("b", 5)]})
    assert result.output == [b"a => 1\n", b"b => 2\n", b"a => 4\n", b"c => 0\n", b"b => 7\n"]
    assert list(result.sinks) == ["sink 0"]
    assert result.late == {} and result.errors == []


def test_alphabet_from_whole_frames_and_unframe():
    frames = [struct.pack(">I", 5) + vote("z", 9), struct.pack(">I", 5) + vote("z", 1)]
    assert run(example("alphabet"), {"Alphabet": frames}, framed=True).output == [b"z => 9\n", b"z => 10\n"]
    assert unframe(b"".join(frames)) == [vote("z", 9), vote("z", 1)]


def test_alphabet_decoded_events_and_objects_out():
    run(example("alphabet"), {"Alphabet": []})  # imports it, as `alphabet`
    module = sys.modules["alphabet"]
    result = run(module, {"Alphabet": [module.Votes("q", 4), module.Votes("q", 6)]}, decode=False, encode=False)
    assert [(v.letter, v.count) for v in result.output] == [("q", 4), ("q", 10)]


def test_word_count_splits_and_counts_each_word():
    result = run(example("word_count"), {"Split and Count": [b"The cat, the hat.", b"", b"HAT trick"]})
    assert b"".join(result.output) == (b"the => 1\ncat => 1\nthe => 2\nhat => 1\n"
                                       b"hat => 2\ntrick => 1\n")


def test_word_count_counts_from_zero_on_every_run():
    first = run(example("word_count"), {"Split and Count": [b"again"]})
    second = run(example("word_count"), {"Split and Count": [b"again"]})
    assert first.output == second.output == [b"again => 1\n"]


def test_windowed_alerts_fire_in_time_order_as_make_data_computed():
    with open(os.path.join(EXAMPLES, "windowed_alerts", "expected.txt"), encoding="utf-8") as f:
        expected = f.read().splitlines()
    result = run(example("windowed_alerts"))
    lines = b"".join(result.output).decode("ascii").splitlines()
    # One watermark per reading, 2 s of delay: each window fires once the readings pass its end + 2 s, so alerts
    # come in window order (no two alerting windows share a start); make_data.py writes them per sensor.
    assert lines == sorted(expected, key=lambda line: line.split()[2])
    assert lines[0] == "ALERT temp-1 10:00:10-10:00:20 average 77.0 max 80.3 over 10 readings"
    assert lines[-2:] == ["ALERT temp-4 10:02:10-10:02:20 average 85.6 max 99.3 over 10 readings",
                          "ALERT temp-3 10:02:30-10:02:40 average 75.8 max 77.3 over 10 readings"]
    assert result.late == {"range_windows over Temperature": 0}


def test_loyalty_g1_two_sources_share_one_state():
    customers = [b"1,Ada", b"2,Bob"]
    purchases = [b"1,600", b"2,999", b"1,400", b"1,5", b"2,1"]
    result = run(example("loyalty"), {"Customers": customers, "Transactions": purchases})
    # Each pipeline has its own to_sink: sink 0 gets the rewards of registrations, sink 1 those of purchases.
    assert result.sinks == {"sink 0": [], "sink 1": [b"reward: Ada (customer 1)\n", b"reward: Bob (customer 2)\n"]}
    late_registration = [("Transactions", b"3,1000"), ("Customers", b"3,Cy"), ("Transactions", b"3,1")]
    assert run(example("loyalty"), late_registration).sinks == {"sink 0": [b"reward: Cy (customer 3)\n"],
                                                                 "sink 1": []}


# --- windows, by hand -----------------------------------------------------------------------------------------------

WINDOWED_APP = """\
import wallaroo

class Total(wallaroo.Aggregation):
    def initial_accumulator(self):
        return 0
    def update(self, event, total):
        return total + event[2]
    def combine(self, a, b):
        return a + b
    def output(self, key, total):
        return "%s %d" % (key, total)

def application_setup(args):
    (name, host, port), = wallaroo.tcp_parse_input_addrs(args)
    (out_host, out_port), = wallaroo.tcp_parse_output_addrs(args)
    events = wallaroo.source("Events", wallaroo.TCPSourceConfig(name, host, port, decode))
    if "--ingest-time" not in args:
        events = events.with_event_time(lambda e: wallaroo.seconds(e[1]))
    windows = wallaroo.range_windows(wallaroo.seconds(10)).with_delay(wallaroo.seconds(1)).over(Total)
    pipeline = events.key_by(first).to(windows).to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode))
    return wallaroo.build_application("Totals", pipeline)

@wallaroo.key_extractor
def first(event):
    return event[0]

@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode(payload):
    key, second, value = payload.decode().split()
    return (key, int(second), int(value))

@wallaroo.encoder
def encode(line):
    return (line + "\\n").encode()
"""


def test_tumbling_windows_in_event_time_with_a_late_event(tmp_path):
    app = write_app(tmp_path, "totals_app", WINDOWED_APP)
    # Windows [0, 10) and [10, 20) s, each firing when the watermark (the largest time seen) reaches its end + 1 s.
    events = [b"a 1 5", b"b 2 7", b"a 9 1", b"a 10 2",   # watermark 10 < 10 + 1: [0, 10) still open
              b"b 8 3",                                   # reordered, but in time (the watermark stays 10)
              b"a 11 4",                                  # watermark 11: [0, 10) fires: a 5+1, b 7+3
              b"b 15 1",
              b"a 3 100"]                                 # every window it belongs to has fired: late, dropped
    result = run(app, {"Events": events})
    assert result.output == [b"a 6\n", b"b 10\n", b"a 6\n", b"b 1\n"]   # [10, 20) at the end of input
    assert result.late == {"range_windows over Total": 1}
    # The same events with b's 8 s reading after the 12 s one: [0, 10) fires at 12, and b 8 comes too late.
    events[3] = b"a 12 2"
    result = run(app, {"Events": events})
    assert result.output == [b"a 6\n", b"b 7\n", b"a 6\n", b"b 1\n"]
    assert result.late == {"range_windows over Total": 2}


def test_ingest_time_windows_with_a_given_clock(tmp_path):
    app = write_app(tmp_path, "ingest_totals_app", WINDOWED_APP)
    ticks = iter([wallaroo.seconds(s) for s in (0, 4, 11, 12, 30)])
    result = run(app, {"Events": [b"k 0 1", b"k 0 2", b"k 0 3", b"j 0 4", b"k 0 5"]}, ["--ingest-time"],
                 clock=lambda: next(ticks))
    # [0, 10): k 1+2 fires when the clock reaches 11 s; [10, 20): k 3, j 4 at 30 s; [30, 40): k 5 at the end.
    assert result.output == [b"k 3\n", b"k 3\n", b"j 4\n", b"k 5\n"]


def test_interleaved_inputs_keep_their_arrival_order(tmp_path):
    app = write_app(tmp_path, "merge_app", """\
        import wallaroo

        def application_setup(args):
            out = wallaroo.TCPSinkConfig("127.0.0.1", 7002, encode)
            a = wallaroo.source("A", wallaroo.TCPSourceConfig("A", "127.0.0.1", 7010, decode))
            b = wallaroo.source("B", wallaroo.TCPSourceConfig("B", "127.0.0.1", 7011, decode))
            return wallaroo.build_application("Merge", a.merge(b).to(shout).to_sink(out))

        @wallaroo.decoder(header_length=4, length_fmt=">I")
        def decode(payload):
            return payload.decode()

        @wallaroo.computation(name="shout")
        def shout(text):
            return text.upper() if text != "skip" else None

        @wallaroo.encoder
        def encode(text):
            return text.encode()
        """)
    pairs = [("B", b"1"), ("A", b"x"), ("B", b"skip"), ("A", b"y")]
    assert run(app, pairs).output == [b"1", b"X", b"Y"]
    assert run(app, {"A": [b"x", b"y"], "B": [b"1"]}).output == [b"X", b"Y", b"1"]


# --- errors ---------------------------------------------------------------------------------------------------------

RAISING_APP = """\
import wallaroo

def application_setup(args):
    (name, host, port), = wallaroo.tcp_parse_input_addrs(args)
    (out_host, out_port), = wallaroo.tcp_parse_output_addrs(args)
    src = wallaroo.source("In", wallaroo.TCPSourceConfig(name, host, port, decode))
    return wallaroo.build_application("Raises", src.to(parse).to_sink(wallaroo.TCPSinkConfig(out_host, out_port, encode)))

@wallaroo.decoder(header_length=4, length_fmt=">I")
def decode(payload):
    return payload.decode()

@wallaroo.computation(name="parse number")
def parse(text):
    return int(text)

@wallaroo.encoder
def encode(number):
    return b"%d\\n" % number
"""


def test_a_raising_step_is_one_line_naming_it(tmp_path):
    app = write_app(tmp_path, "raising_app", RAISING_APP)
    with pytest.raises(StepError) as caught:
        run(app, {"In": [b"1", b"two", b"3"]})
    assert str(caught.value) == ("computation 'parse number' raised ValueError: invalid literal for int() with "
                                 "base 10: 'two' (raising_app.py:15)")
    assert caught.value.step == "computation 'parse number'"
    assert isinstance(caught.value.__cause__, ValueError)


def test_on_error_skip_does_what_the_runtime_does(tmp_path):
    app = write_app(tmp_path, "skipping_app", RAISING_APP)
    result = run(app, {"In": [b"1", b"two", b"3"]}, on_error="skip")
    assert result.output == [b"1\n", b"3\n"]
    assert result.errors == ["computation 'parse number' raised ValueError: invalid literal for int() with "
                             "base 10: 'two' (skipping_app.py:15)"]


def test_input_mistakes_are_named(tmp_path):
    app = write_app(tmp_path, "mistakes_app", RAISING_APP)
    with pytest.raises(ValueError, match=r"^inputs name source 'Out', which the app does not have; its sources: "
                                         r"'In'$"):
        run(app, {"Out": [b"1"]}, ["--in", "In@127.0.0.1:7010"])
    with pytest.raises(ValueError, match=r"^source 'In': a frame's header says 9 bytes of payload, the frame has 1"):
        run(app, {"In": [struct.pack(">I", 9) + b"1"]}, framed=True)
    with pytest.raises(ValueError, match=r"^source 'Readings' is a generator"):
        run(example("windowed_alerts"), {"Readings": [b"x"]})
    with pytest.raises(ValueError, match=r"^the app has 2 sinks \('sink 0', 'sink 1'\)"):
        wallaroo.testing.Result({"sink 0": [], "sink 1": []}, {}, [], {}).output


def test_setup_mistakes_raise_as_under_roo_run(tmp_path):
    app = write_app(tmp_path, "setup_app", RAISING_APP)
    with pytest.raises(wallaroo.WallarooParameterError, match=r"^missing --in \(-i\)"):
        run(app)
    assert wallaroo._ARGS is None  # restored after the run
