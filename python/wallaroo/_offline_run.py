"""OfflineRun: an application's description run by one worker, sequentially, in-process (wallaroo.testing's engine).

It reads the same description the runtime reads (wallaroo.description.describe, docs/description.md) and follows
the runtime's rules for it: initial keys, key_by (int_as_chr), collect, state per (state_id, key) made lazily by the
factory, multi and (output, persist) returns, window stages (_offline_windows), encoders per sink. Each event goes
through the whole flow, depth first, before the next one is taken in, so per-key order holds trivially.

Event time and watermarks, with no wall clock: an event's time is `with_event_time`'s fn(event), else `clock()`
(ingest time). After each event taken in, its source's watermark is the largest event time it delivered; a window
stage's watermark is the minimum over the sources feeding it that have delivered something (a source with nothing
yet holds nothing back), and never goes back. When every input is done, every window stage's watermark reaches the
end of time, so every open window (and partial count window) is output. `idleness` and `max_ahead` do not apply.
"""

import struct
import traceback

from ._offline_windows import END_OF_TIME, START_OF_TIME, make_stage

TCP_SOURCE_KEY = "tcp-source-key"
GEN_SOURCE_KEY = "gen-source-key"


class StepError(Exception):
    """A user function raised, or returned what the runtime refuses, while the pipeline ran offline.

    str(error) is one line in the runtime's words (docs/errors.md), e.g.
    ``state computation 'count word' raised KeyError: 'x' (word_count.py:41)``. ``step`` is the part naming the
    function (``state computation 'count word'``); the user's exception, if any, is ``__cause__``.
    """

    def __init__(self, step, what):
        Exception.__init__(self, "{0} {1}".format(step, what))
        self.step = step


class _Skip(Exception):
    """The event (or branch) is skipped: the error was recorded (on_error="skip")."""


def raised_text(error):
    """`raised ValueError: text (file.py:12)`: the exception and the innermost frame of its traceback."""
    text = "{0}: {1}".format(type(error).__name__, error) if str(error) else type(error).__name__
    frames = traceback.extract_tb(error.__traceback__)
    if frames:
        text += " ({0}:{1})".format(frames[-1].filename.rsplit("/", 1)[-1], frames[-1].lineno)
    return "raised " + text


def stage_label(stage):
    """The runtime's name for a stage in its error lines."""
    kind = stage["kind"]
    if kind == "computation":
        return "computation '{0}'".format(stage["name"])
    if kind == "key_by":
        return "key_by '{0}'".format(stage["name"])
    if kind == "state":
        return "state computation '{0}'".format(stage["name"])
    if kind == "window":
        return stage["name"]
    return kind


class OfflineRun(object):
    """One run: take_in(source id, item) per input item, generate(source id) per generator, then finish()."""

    def __init__(self, description, encode=True, on_error="raise", clock=None, framed=False):
        if on_error not in ("raise", "skip"):
            raise ValueError("on_error must be 'raise' or 'skip', got {0!r}".format(on_error))
        self.sources = description["sources"]
        self.stages = description["stages"]
        self.sinks = description["sinks"]
        self.flows = dict((flow["source"], flow) for flow in description["flows"])
        self.encode = encode
        self.on_error = on_error
        self.clock = clock
        self.framed = framed
        self.states = {}  # (state_id, key) -> state object
        self.outputs = [[] for _ in self.sinks]
        self.errors = []
        self.source_watermarks = {}  # source id -> the largest event time it delivered
        self.windows = {}  # stage id -> [window stage, first flow through it, position there, source ids]
        for flow in description["flows"]:
            for position, stage_id in enumerate(flow["stages"]):
                if self.stages[stage_id]["kind"] != "window":
                    continue
                if stage_id not in self.windows:
                    self.windows[stage_id] = [make_stage(self.stages[stage_id]), flow, position, set()]
                self.windows[stage_id][3].add(flow["source"])

    # --- calling user code -------------------------------------------------------------------------------------

    def fail(self, step, what, cause=None):
        if self.on_error == "skip":
            self.errors.append("{0} {1}".format(step, what))
            raise _Skip()
        raise StepError(step, what) from cause

    def call(self, step, fn, *args):
        try:
            return fn(*args)
        except Exception as error:  # the user's code: any exception is the step's failure
            self.fail(step, raised_text(error), error)

    # --- sources ------------------------------------------------------------------------------------------------

    def decode(self, source, item):
        label = "decoder of source '{0}'".format(source["name"])
        if source["kind"] == "kafka":
            value, key = item if isinstance(item, tuple) else (item, None)
            if source.get("decode_takes_key"):
                return self.call(label, source["decode"], value, key)
            return self.call(label, source["decode"], value)
        if self.framed:
            item = self.unframe(source, item)
        return self.call(label, source["decode"], item)

    def unframe(self, source, frame):
        header_length = source["header_length"]
        (length,) = struct.unpack(source["length_fmt"], bytes(frame[:header_length]))
        payload = frame[header_length:]
        if length != len(payload):
            raise ValueError("source '{0}': a frame's header says {1} bytes of payload, the frame has {2} "
                             "(framed=True: each item is one whole frame)".format(source["name"], length,
                                                                                  len(payload)))
        return payload

    def take_in(self, source_id, item, decoded=False):
        """One input item of a TCP, connector or Kafka source (raw unless `decoded`), through the whole flow."""
        source = self.sources[source_id]
        try:
            event = item if decoded else self.decode(source, item)
            if event is not None:
                self.start(source_id, event, TCP_SOURCE_KEY)
        except _Skip:
            pass

    def generate(self, source_id, limit):
        """Every event of a generator source, until it returns None."""
        source = self.sources[source_id]
        label = "generator of source '{0}'".format(source["name"])
        try:
            value = self.call(label, source["initial_value"])
        except _Skip:
            return
        count = 0
        while value is not None:
            count += 1
            if limit is not None and count > limit:
                raise ValueError("the generator of source '{0}' made more than {1} events without returning None "
                                 "(raise generator_limit, or make it stop)".format(source["name"], limit))
            try:
                self.start(source_id, value, GEN_SOURCE_KEY)
            except _Skip:
                pass
            try:
                value = self.call(label, source["apply"], value)
            except _Skip:
                return

    def start(self, source_id, event, key):
        time = self.event_time(self.sources[source_id], event)  # a failure here costs the event, as in the runtime
        try:
            self.process(self.flows[source_id], 0, key, event, time)
        except _Skip:
            pass
        if self.windows:
            if time > self.source_watermarks.get(source_id, START_OF_TIME):
                self.source_watermarks[source_id] = time
            self.advance_watermarks()

    def event_time(self, source, event):
        settings = source.get("event_time")
        if not settings or settings.get("fn") is None:
            return self.clock()
        label = "event time function of source '{0}'".format(source["name"])
        time = self.call(label, settings["fn"], event)
        if not isinstance(time, int) or isinstance(time, bool):
            self.fail(label, "returned {0}; expected an int (nanoseconds since the epoch)".format(
                type(time).__name__))
        return time

    # --- stages -------------------------------------------------------------------------------------------------

    def process(self, flow, position, key, data, time):
        """Push `data` (with `key`, at event time `time`) through the flow from `position`, depth first."""
        stage_ids = flow["stages"]
        while position < len(stage_ids):
            stage_id = stage_ids[position]
            stage = self.stages[stage_id]
            kind = stage["kind"]
            position += 1
            if kind == "collect":
                key = stage["key"]
                continue
            if kind == "key_by":
                key = self.call(stage_label(stage), stage["fn"], data)
                if stage.get("int_as_chr") and isinstance(key, int) and not isinstance(key, bool):
                    key = chr(key)
                self.check_hashable(stage, key)
                continue
            if kind == "window":
                self.into_window(stage_id, key, data, time)
                return
            if kind == "computation":
                result = self.call(stage_label(stage), stage["fn"], data)
            elif kind == "state":
                result = self.call(stage_label(stage), stage["fn"], data, self.state_for(stage, key))
                if stage.get("returns_persist"):
                    if not (isinstance(result, tuple) and len(result) == 2):
                        self.fail(stage_label(stage), "returned {0}; expected an (output, persist) tuple".format(
                            type(result).__name__))
                    result = result[0]
            else:
                raise ValueError("offline runs do not know stage kind {0!r}".format(kind))
            if stage.get("multi"):
                self.fan_out(flow, position, key, result, time, stage)
                return
            if result is None:  # a filter
                return
            data = result
        self.emit(flow, data)

    def fan_out(self, flow, position, key, result, time, stage):
        if result is None:
            return
        if not isinstance(result, list):
            self.fail(stage_label(stage), "returned {0}; a _multi computation must return a list or None".format(
                type(result).__name__))
        for item in list(result):
            if item is not None:
                try:
                    self.process(flow, position, key, item, time)
                except _Skip:
                    pass

    def check_hashable(self, stage, key):
        try:
            hash(key)
        except TypeError as error:
            self.fail(stage_label(stage), raised_text(error) + " (keys must be hashable: str or bytes)", error)

    def state_for(self, stage, key):
        slot = (stage["state_id"], key)
        state = self.states.get(slot)
        if state is None:
            state = self.call("state class of '{0}'".format(stage["name"]), stage["state_factory"])
            self.states[slot] = state
        return state

    # --- windows ------------------------------------------------------------------------------------------------

    def into_window(self, stage_id, key, data, time):
        window = self.windows[stage_id]
        outputs = self.window_call(stage_id, window[0].push, ("event", time, key, data))
        self.continue_after(window, outputs)

    def window_call(self, stage_id, push, item):
        try:
            return push(item)
        except Exception as error:  # the aggregation's code
            self.fail(stage_label(self.stages[stage_id]), raised_text(error), error)

    def continue_after(self, window, outputs):
        for key, output, time in outputs:
            try:
                self.process(window[1], window[2] + 1, key, output, time)
            except _Skip:
                pass

    def advance_watermarks(self):
        for stage_id in self.window_order():
            window = self.windows[stage_id]
            marks = [self.source_watermarks[s] for s in window[3] if s in self.source_watermarks]
            if marks and min(marks) > window[0].watermark:
                self.advance(stage_id, min(marks))

    def advance(self, stage_id, watermark):
        window = self.windows[stage_id]
        try:
            outputs = self.window_call(stage_id, window[0].push, ("watermark", watermark))
        except _Skip:
            return
        self.continue_after(window, outputs)

    def window_order(self):
        """Window stages upstream first (by their position in their first flow), so outputs reach later ones."""
        return sorted(self.windows, key=lambda s: (self.windows[s][2], s))

    def finish(self):
        """Every input is done: every window stage's watermark reaches the end of time."""
        for stage_id in self.window_order():
            self.advance(stage_id, END_OF_TIME)

    def late(self):
        """Late events per window stage, by the stage's state_id (its name, made unique)."""
        return dict((self.stages[s]["state_id"], self.windows[s][0].late) for s in sorted(self.windows))

    # --- sinks --------------------------------------------------------------------------------------------------

    def emit(self, flow, data):
        for sink_id in flow["sinks"]:
            sink = self.sinks[sink_id]
            if not self.encode:
                self.outputs[sink_id].append(data)
                continue
            label = "encoder of sink '{0}'".format(sink["name"])
            try:
                encoded = self.call(label, sink["encode"], data)
                if encoded is None:
                    continue
                if sink["kind"] != "kafka":
                    if isinstance(encoded, bytearray):
                        encoded = bytes(encoded)
                    if not isinstance(encoded, bytes):
                        self.fail(label, "returned {0}; expected bytes".format(type(encoded).__name__))
            except _Skip:
                continue
            self.outputs[sink_id].append(encoded)
