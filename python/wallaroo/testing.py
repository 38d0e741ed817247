"""Run an application's pipeline in-process over lists of input, and get what each sink would receive.

No sockets, no threads and no Roo binary: ``run`` imports the app, calls its ``application_setup(args)``, describes
the result exactly as the runtime does (wallaroo.description) and runs that description sequentially, as one worker
would, with the runtime's rules for keys, state, multi and filter returns, windows and encoders (docs/python-api.md,
"Testing an app without a cluster"). It is the reference the examples' expected outputs are checked against.

    import wallaroo.testing

    def test_counts_words():
        result = wallaroo.testing.run("word_count.py", {"Split and Count": [b"the cat", b"the end"]})
        assert result.output == [b"the => 1\\n", b"cat => 1\\n", b"the => 2\\n", b"end => 1\\n"]

Order: each event goes through the whole pipeline before the next is taken in. With ``inputs`` a mapping, each
source is read to its end in the mapping's order; a list of ``(source name, item)`` pairs gives any interleaving.
Generator sources run after the inputs, in the app's order, until they return None.
"""

import importlib
import importlib.util
import os
import struct
import sys
import time
import types
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import wallaroo
from wallaroo.description import describe

from ._offline_run import OfflineRun, StepError

__all__ = ["Result", "StepError", "run", "unframe"]
StepError.__module__ = __name__  # shown as wallaroo.testing.StepError

Inputs = Union[Mapping[str, Iterable[Any]], Iterable[Tuple[str, Any]], None]

# The addresses given to --in/--out when the caller's args have none; nothing listens on them.
_IN_HOST, _FIRST_IN_PORT, _OUT_ADDRESS = "127.0.0.1", 7010, "127.0.0.1:7002"


class Result(object):
    """What a run produced.

    ``sinks``: sink name → the list of what it received, in order, one entry per encoder call that returned
    something (``bytes`` for TCP sinks; a Kafka sink's value or tuple as its encoder returned it), or, with
    ``encode=False``, the objects that reached the sink. Sink names are the runtime's: ``"sink 0"``, ``"sink 1"``,
    ... in the order the app adds them (a connector sink: its config's name).
    ``late``: late events per window stage (by the stage's state id, e.g. ``"range_windows over Total"``).
    ``errors``: with ``on_error="skip"``, one line per event skipped, in the runtime's words.
    ``description``: the app's description (docs/description.md), as the runtime would read it.
    """

    def __init__(self, sinks, late, errors, description):
        self.sinks = sinks  # type: Dict[str, List[Any]]
        self.late = late  # type: Dict[str, int]
        self.errors = errors  # type: List[str]
        self.description = description  # type: Dict[str, Any]

    def __getitem__(self, sink: Union[int, str]) -> List[Any]:
        """One sink's outputs, by name (``"sink 0"``) or by index."""
        if isinstance(sink, int):
            return list(self.sinks.values())[sink]
        return self.sinks[sink]

    @property
    def output(self) -> List[Any]:
        """The outputs of the app's only sink (an app with several sinks: index the result instead)."""
        if len(self.sinks) != 1:
            raise ValueError("the app has {0} sinks ({1}): take one with result['sink 0'] or result[0]".format(
                len(self.sinks), ", ".join(repr(name) for name in self.sinks) or "none"))
        return next(iter(self.sinks.values()))

    def __repr__(self):
        return "Result(sinks={0!r}, late={1!r}, errors={2!r})".format(self.sinks, self.late, self.errors)


def run(app: Union[str, "os.PathLike[str]", types.ModuleType],
        inputs: Inputs = None,
        args: Optional[Sequence[str]] = None,
        *,
        decode: bool = True,
        framed: bool = False,
        encode: bool = True,
        clock: Optional[Callable[[], int]] = None,
        on_error: str = "raise",
        generator_limit: Optional[int] = 1000000) -> Result:
    """Run ``app`` over ``inputs``; return what each sink received.

    ``app``: a path to the app's ``.py`` file (its folder is importable while it runs, as under ``roo run``), an
    importable module name, or the module itself.

    ``inputs``: per source name (the name ``--in`` uses: the config's, else the pipeline's), the items it receives:
    a mapping ``{"Split and Count": [b"the cat", ...]}`` (sources one after the other, in the mapping's order), or a
    list of ``("Split and Count", b"the cat")`` pairs (exactly that arrival order). An item is what the source's
    decoder gets: a TCP or connector source's payload (the frame without its length header), a Kafka source's
    value, or ``(value, key)``. With ``framed=True`` TCP items are whole frames, header included, checked against
    the decoder's header format (recorded wire data). With ``decode=False`` items are events, already decoded.
    Generator sources make their own events and must not be named.

    ``args``: the app's flags, as ``application_setup(args)`` gets them. ``--in`` and ``--out`` are added when
    absent: ``--in <name>@127.0.0.1:<7010+i>,...`` for the sources named in ``inputs``, ``--out 127.0.0.1:7002``.
    ``wallaroo._ARGS`` is ``("roo", *args)`` during the run.

    ``encode``: True gives what each sink's encoder returned; False the objects that reached the sink.
    ``clock``: ingest time for sources without ``with_event_time(fn)``, int nanoseconds (default
    ``time.time_ns``); windows over ingest time need a deterministic clock here.
    ``on_error``: ``"raise"`` (default) raises ``StepError`` at the first failing user function, its message one
    line naming the step (``computation 'split' raised ValueError: ... (app.py:12)``); ``"skip"`` does what the
    runtime does (the event is skipped) and lists the lines in ``Result.errors``.
    ``generator_limit``: a generator making more events than this without returning None is an error (None: no
    limit).

    Setup mistakes raise as under ``roo run``: the app's own exception from ``application_setup``, or
    ``wallaroo.WallarooParameterError`` from describing it.
    """
    pairs = _input_pairs(inputs)
    names = []
    for name, _item in pairs:
        if name not in names:
            names.append(name)
    if isinstance(inputs, Mapping):
        names = [name for name in inputs if isinstance(name, str)]
    app_args = _with_addresses(list(args or ()), names)
    folder = _app_folder(app)
    previous_args = wallaroo._ARGS
    if folder:
        sys.path.insert(0, folder)
    try:
        module = _load(app)
        wallaroo._ARGS = tuple(["roo"] + app_args)
        description = describe(module.application_setup(app_args), module=module, args=app_args)
        offline = OfflineRun(description, encode=encode, on_error=on_error, clock=clock or time.time_ns,
                             framed=framed)
        ids = _source_ids(description)
        for name, item in pairs:
            offline.take_in(_input_source(description, ids, name), item, decoded=not decode)
        for source_id, source in enumerate(description["sources"]):
            if source["kind"] == "gen":
                offline.generate(source_id, generator_limit)
        offline.finish()
    finally:
        wallaroo._ARGS = previous_args
        if folder:
            sys.path.remove(folder)
    sinks = dict((sink["name"], outputs) for sink, outputs in zip(description["sinks"], offline.outputs))
    return Result(sinks, offline.late(), offline.errors, description)


def unframe(data: bytes, header_length: int = 4, length_fmt: str = ">I") -> List[bytes]:
    """The payloads of ``data``, a run of frames (``header_length`` bytes of length in ``length_fmt``, then the
    payload), e.g. a recorded file: ``run(app, {"in": unframe(open("votes.msg", "rb").read())})``."""
    payloads, at = [], 0
    while at < len(data):
        if at + header_length > len(data):
            raise ValueError("unframe: {0} bytes left at offset {1}, less than a {2}-byte header".format(
                len(data) - at, at, header_length))
        (length,) = struct.unpack(length_fmt, data[at:at + header_length])
        end = at + header_length + length
        if end > len(data):
            raise ValueError("unframe: the frame at offset {0} says {1} bytes of payload, {2} are left".format(
                at, length, len(data) - at - header_length))
        payloads.append(bytes(data[at + header_length:end]))
        at = end
    return payloads


def _input_pairs(inputs):
    if inputs is None:
        return []
    if isinstance(inputs, Mapping):
        return [(name, item) for name, items in inputs.items() for item in items]
    pairs = []
    for pair in inputs:
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)):
            raise TypeError("inputs: expected a mapping {{source name: [items]}} or (source name, item) pairs, "
                            "got the item {0!r}".format(pair))
        pairs.append(pair)
    return pairs


def _with_addresses(args, names):
    def given(short, long):
        return any(a in (short, long) or a.startswith(long + "=") for a in args)

    added = []
    if not given("-o", "--out"):
        added += ["--out", _OUT_ADDRESS]
    if names and not given("-i", "--in"):
        added += ["--in", ",".join("{0}@{1}:{2}".format(name, _IN_HOST, _FIRST_IN_PORT + i)
                                   for i, name in enumerate(names))]
    return added + args


def _source_ids(description):
    ids = {}
    for source_id, source in enumerate(description["sources"]):
        ids.setdefault(source["name"], []).append(source_id)
    return ids


def _input_source(description, ids, name):
    found = ids.get(name)
    if not found:
        raise ValueError("inputs name source {0!r}, which the app does not have; its sources: {1}".format(
            name, ", ".join(repr(n) for n in ids) or "none"))
    if len(found) > 1:
        raise ValueError("inputs name source {0!r}, which the app has {1} of".format(name, len(found)))
    if description["sources"][found[0]]["kind"] == "gen":
        raise ValueError("source {0!r} is a generator (GenSourceConfig): it makes its own events; leave it out "
                         "of inputs".format(name))
    return found[0]


def _app_folder(app):
    if isinstance(app, types.ModuleType):
        return None
    path = os.fspath(app)
    if _is_path(path):
        if not os.path.isfile(path):
            raise FileNotFoundError("no application file {0!r}".format(path))
        return os.path.dirname(os.path.abspath(path))
    return None


def _is_path(name):
    return name.endswith(".py") or os.sep in name


def _load(app):
    """The app module: given, imported by name, or imported from its file (its folder is on sys.path)."""
    if isinstance(app, types.ModuleType):
        return app
    path = os.fspath(app)
    if not _is_path(path):
        importlib.invalidate_caches()
        return importlib.import_module(path)
    path = os.path.abspath(path)
    name = os.path.splitext(os.path.basename(path))[0]
    existing = sys.modules.get(name)
    if existing is None:
        importlib.invalidate_caches()  # a file written just now (a test's tmp_path) is found
        return importlib.import_module(name)
    if os.path.abspath(getattr(existing, "__file__", None) or "") == path:
        return existing
    # Another module of that name is loaded already: load this file under the name anyway (as roo run would).
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
