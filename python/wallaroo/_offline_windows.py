"""Roo's window stages offline: what each window stage must output (wallaroo.testing runs them; the end-to-end
tests check the runtime against them through tests/e2e/window_reference.py).

Written from the semantics in docs/windows.md only (not from the C++). Pure Python, no Roo.

Input: the items one window stage sees, in arrival order:
  ("event", t, key, value)   an event with event time t (int ns since the epoch)
  ("watermark", w)           the stage's watermark reached w (it never goes back: a lower w changes nothing)
End with ("watermark", END_OF_TIME) to flush what is still open (a finished input, or a stop).
The watermark an event sees is the last one before it (START_OF_TIME before any): the caller models the
runtime's watermarks explicitly, so each test says which watermark each event met.

Output: Result(outputs, late): outputs are (key, output, time) in the order the stage emits them (windows due at
one watermark: by due time, then key in order of first arrival, then window start); late counts the events that
came after all their windows had fired, whatever the policy did with them.

Step by step (wallaroo.testing): make_stage(description entry) gives a stage; stage.push(item) takes one item and
returns the outputs it made, in the same (key, output, time) form.

Aggregations: the class (instantiated once) or an instance with initial_accumulator(), update(data, acc) (mutates
acc; a value it returns other than None replaces acc), combine(a, b), output(key, acc) (None: no output).
A range window's accumulator here is built by updating one accumulator per window in arrival order; the runtime
combines per-pane accumulators, which gives the same result for any aggregation whose result does not depend on
the order of its updates (sums, counts, min/max, sets, sorted lists): use such aggregations to compare outputs.
"""

import collections

END_OF_TIME = 2 ** 63 - 1
START_OF_TIME = -2 ** 63
POLICIES = ("drop", "fire-per-message", "place-in-oldest-window")

Result = collections.namedtuple("Result", "outputs late")


class _Aggregation(object):
    def __init__(self, aggregation):
        self.agg = aggregation() if isinstance(aggregation, type) else aggregation

    def fresh(self, value):
        return self.update(value, self.agg.initial_accumulator())

    def update(self, value, acc):
        replaced = self.agg.update(value, acc)
        return acc if replaced is None else replaced

    def combine(self, a, b):
        return self.agg.combine(a, b)

    def output(self, key, acc):
        return self.agg.output(key, acc)


class _Stage(object):
    """What every kind shares: the items loop, the key order, outputs and the late count."""

    def __init__(self, aggregation, policy="drop"):
        if policy not in POLICIES:
            raise ValueError("unknown late data policy {0!r}".format(policy))
        self.agg = _Aggregation(aggregation)
        self.policy = policy
        self.watermark = START_OF_TIME
        self.key_order = {}
        self.outputs = []
        self.late = 0

    def run(self, items):
        for item in items:
            self.step(item)
        return Result(self.outputs, self.late)

    def push(self, item):
        """Take one item; return the outputs it made (they are also kept in self.outputs)."""
        before = len(self.outputs)
        self.step(item)
        return self.outputs[before:]

    def step(self, item):
        if item[0] == "event":
            _, t, key, value = item
            self.key_order.setdefault(key, len(self.key_order))
            self.event(t, key, value)
        elif item[0] == "watermark":
            self.watermark = max(self.watermark, item[1])
            self.advance()
        else:
            raise ValueError("unknown item {0!r}".format(item))

    def emit(self, key, acc, time):
        out = self.agg.output(key, acc)
        if out is not None:
            self.outputs.append((key, out, time))

    def fire_per_message(self, key, value, t):
        self.emit(key, self.agg.fresh(value), t)


class _RangeWindows(_Stage):
    """Windows [k*slide, k*slide + range) for every integer k; fire at watermark >= end + delay."""

    def __init__(self, aggregation, wrange, slide, delay, policy):
        _Stage.__init__(self, aggregation, policy)
        self.range, self.slide, self.delay = wrange, slide, delay
        self.open = {}  # key -> {window start: acc}; only windows that have not fired

    def fired(self, start):
        return start + self.range + self.delay <= self.watermark

    def starts_containing(self, t):
        first = (t - self.range) // self.slide + 1
        last = t // self.slide
        return [k * self.slide for k in range(first, last + 1)]

    def add(self, key, start, value):
        windows = self.open.setdefault(key, {})
        if start not in windows:
            windows[start] = self.agg.agg.initial_accumulator()
        windows[start] = self.agg.update(value, windows[start])

    def event(self, t, key, value):
        unfired = [start for start in self.starts_containing(t) if not self.fired(start)]
        for start in unfired:
            self.add(key, start, value)
        if unfired:
            return
        self.late += 1
        if self.policy == "fire-per-message":
            self.fire_per_message(key, value, t)
        elif self.policy == "place-in-oldest-window":
            starts = self.open.get(key)
            if starts:
                self.add(key, min(starts), value)
            else:  # the stage's oldest window that has not fired: the first with end + delay > watermark
                k = (self.watermark - self.range - self.delay) // self.slide + 1
                self.add(key, k * self.slide, value)

    def advance(self):
        due = sorted((start + self.range, self.key_order[key], start, key)
                     for key, windows in self.open.items() for start in windows if self.fired(start))
        for end, _, start, key in due:
            self.emit(key, self.open[key].pop(start), end - 1)


class _CountWindows(_Stage):
    """Per key, an output at every `count` events; its time is the latest event time in it."""

    def __init__(self, aggregation, count, flush_partial_at_end):
        _Stage.__init__(self, aggregation)
        self.count = count
        self.flush_partial_at_end = flush_partial_at_end
        self.open = {}  # key -> [acc, events, latest time]

    def event(self, t, key, value):
        window = self.open.get(key)
        if window is None:
            window = self.open[key] = [self.agg.agg.initial_accumulator(), 0, t]
        window[0] = self.agg.update(value, window[0])
        window[1] += 1
        window[2] = max(window[2], t)
        if window[1] == self.count:
            del self.open[key]
            self.emit(key, window[0], window[2])

    def advance(self):
        if self.watermark == END_OF_TIME and self.flush_partial_at_end:
            for key in sorted(self.open, key=self.key_order.get):
                acc, _, latest = self.open.pop(key)
                self.emit(key, acc, latest)


class _SessionWindows(_Stage):
    """Per key, sessions of events less than `gap` apart; fire at watermark >= last + gap + delay."""

    def __init__(self, aggregation, gap, delay, policy):
        _Stage.__init__(self, aggregation, policy)
        self.gap, self.delay = gap, delay
        self.open = {}  # key -> [[start, last, acc], ...] (disjoint: more than gap apart)
        self.closed_until = {}  # key -> the largest last + gap of an emitted session

    def due(self, last):
        return last + self.gap + self.delay <= self.watermark

    def event(self, t, key, value):
        sessions = self.open.setdefault(key, [])
        if t >= self.closed_until.get(key, START_OF_TIME):
            joined = [s for s in sessions if s[0] - self.gap < t < s[1] + self.gap]
            if joined:  # the event bridges every session it joins: one session, the accumulators combined
                joined.sort(key=lambda s: s[0])
                acc = joined[0][2]
                for s in joined[1:]:
                    acc = self.agg.combine(acc, s[2])
                merged = [min(joined[0][0], t), max(joined[-1][1], t), self.agg.update(value, acc)]
                self.open[key] = [s for s in sessions if all(s is not j for j in joined)] + [merged]
                return
            if not self.due(t):
                sessions.append([t, t, self.agg.fresh(value)])
                return
        self.late += 1
        if self.policy == "place-in-oldest-window" and sessions:
            oldest = min(sessions, key=lambda s: s[0])
            oldest[2] = self.agg.update(value, oldest[2])  # its bounds (and so when it fires) do not change
        elif self.policy != "drop":
            self.fire_per_message(key, value, t)

    def advance(self):
        due = sorted((s[1] + self.gap, self.key_order[key], s[0], key)
                     for key, sessions in self.open.items() for s in sessions if self.due(s[1]))
        for closes, _, start, key in due:
            session = [s for s in self.open[key] if s[0] == start][0]
            self.open[key].remove(session)
            self.closed_until[key] = max(self.closed_until.get(key, START_OF_TIME), closes)
            self.emit(key, session[2], session[1])


def run_range(items, aggregation, wrange, slide=None, delay=0, late_data_policy="drop"):
    """`range_windows(wrange).with_slide(slide).with_delay(delay).with_late_data_policy(...)` over `aggregation`."""
    return _RangeWindows(aggregation, wrange, wrange if slide is None else slide, delay, late_data_policy).run(items)


def run_count(items, aggregation, count, flush_partial_at_end=True):
    """`count_windows(count)` over `aggregation`. The runtime outputs a partial window count_timeout (5 s) of wall
    clock after its first event; here partial windows come out at the END_OF_TIME watermark (if asked), which is
    what a run gives when every partial window is the key's last (its events came well within 5 s)."""
    return _CountWindows(aggregation, count, flush_partial_at_end).run(items)


def run_session(items, aggregation, gap, delay=0, late_data_policy="drop"):
    """`session_windows(gap).with_delay(delay).with_late_data_policy(...)` over `aggregation`."""
    return _SessionWindows(aggregation, gap, delay, late_data_policy).run(items)


def make_stage(stage, flush_partial_at_end=True):
    """A window stage for the window entry of an app's description (wallaroo.description.describe)."""
    agg, policy = stage["aggregation"], stage["late_data_policy"]
    if stage["window"] == "range":
        return _RangeWindows(agg, stage["range"], stage["slide"], stage["delay"], policy)
    if stage["window"] == "count":
        return _CountWindows(agg, stage["count"], flush_partial_at_end)
    if stage["window"] == "session":
        return _SessionWindows(agg, stage["gap"], stage["delay"], policy)
    raise ValueError("unknown window kind {0!r}".format(stage["window"]))


def run_stage(stage, items, flush_partial_at_end=True):
    """The window stage entry of an app's description (wallaroo.description.describe) run over `items`."""
    return make_stage(stage, flush_partial_at_end).run(items)
