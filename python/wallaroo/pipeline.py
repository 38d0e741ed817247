"""The G2 fluent pipeline API: ``source(...)`` ... ``build_application``.

A pipeline is a tree: leaves start with ``("source", name, config_tuple)``,
merge nodes start empty and have exactly two children (left = the receiver's
tree, right = the merged tree). Stages are appended to the root node.
"""

import inspect

from .errors import WallarooParameterError
from .event_time import DEFAULT_IDLENESS, DEFAULT_MAX_AHEAD, event_time_entry
from .windows import WINDOWS_BUILDERS, Windows
from .wrapped import StateComputation

_SINK_STAGES = ("to_sink", "to_sinks")


def _sink_tuple(sink_config):
    if not hasattr(sink_config, "to_tuple"):
        raise WallarooParameterError(
            "expected a sink config (e.g. wallaroo.TCPSinkConfig), got {0!r}"
            .format(sink_config))
    return sink_config.to_tuple()


class Pipeline(object):
    """A partial pipeline. Every method returns a new Pipeline; the receiver is unchanged."""

    def __init__(self, vs, es, root_idx, closed):
        self._vs = vs
        self._es = es
        self._root_idx = root_idx
        self._closed = closed

    @classmethod
    def from_source(cls, name, source_config):
        if not hasattr(source_config, "to_tuple"):
            raise WallarooParameterError(
                "wallaroo.source({0!r}, config): expected a source config (e.g. "
                "wallaroo.TCPSourceConfig), got {1!r}".format(name, source_config))
        return cls([[("source", name, source_config.to_tuple())]], [[]], 0, False)

    def clone(self):
        return Pipeline([list(v) for v in self._vs], [list(e) for e in self._es],
                        self._root_idx, self._closed)

    def _with_stage(self, stage):
        if self._closed:
            raise WallarooParameterError("You can't add stages after to_sink/s.")
        p = self.clone()
        p._vs[p._root_idx].append(stage)
        p._closed = stage[0] in _SINK_STAGES
        return p

    def _ends_with_key_by(self, idx=None):
        idx = self._root_idx if idx is None else idx
        stages = [s for s in self._vs[idx] if s[0] not in ("source", "with_event_time")]
        if stages:
            return stages[-1][0] == "key_by"
        if self._es[idx]:
            return self._ends_with_key_by(self._es[idx][0])
        return False

    def with_event_time(self, fn=None, idleness=DEFAULT_IDLENESS, max_ahead=DEFAULT_MAX_AHEAD):
        """Roo's: how this source's events get their event time, and how its watermark moves.

        ``fn(event)`` returns the event's time as int nanoseconds since the epoch (None: ingest time, or a
        Kafka message's own time). An input that sends nothing for ``idleness`` ns no longer holds the
        watermark back; an event stamped more than ``max_ahead`` ns ahead of the wall clock does not move it
        (None: no cap). Only right after ``wallaroo.source(...)``. See docs/windows.md.
        """
        entry = event_time_entry(fn, idleness, max_ahead)
        leaf = self._vs[self._root_idx]
        if len(self._vs) != 1 or not leaf or leaf[0][0] != "source" or len(leaf) != 1:
            if len(self._vs) == 1 and len(leaf) == 2 and leaf[1][0] == "with_event_time":
                raise WallarooParameterError(
                    "Only call `with_event_time()` once per source (pipeline {0!r}).".format(leaf[0][1]))
            raise WallarooParameterError(
                "with_event_time() must come right after wallaroo.source(...), before any other stage or "
                "merge(): wallaroo.source(name, config).with_event_time(fn)")
        return self._with_stage(("with_event_time", entry["fn"], entry["idleness"], entry["max_ahead"]))

    def to(self, computation):
        """Add a computation, state computation or windows stage."""
        if isinstance(computation, Windows):
            return self._with_stage(computation.stage())
        if isinstance(computation, WINDOWS_BUILDERS):
            raise WallarooParameterError(
                "to(): {0}(...) needs .over(AggregationClass) to make the windows a stage".format(
                    computation.builder))
        if inspect.isclass(computation):
            raise WallarooParameterError(
                "to() expects a computation object (a decorated function), got the "
                "class {0}".format(computation.__name__))
        if isinstance(computation, StateComputation):
            if getattr(computation, "_roo_state_cls", None) is None:
                raise WallarooParameterError(
                    "to(): state computation {0!r} has no state class; with "
                    "wallaroo.source(...) pipelines write "
                    "@wallaroo.state_computation(name, StateClass)".format(
                        computation.name()))
            return self._with_stage(("to_state", computation))
        if not (hasattr(computation, "compute") or hasattr(computation, "compute_multi")):
            raise WallarooParameterError(
                "to() expects a computation (@wallaroo.computation...), a state "
                "computation or windows, got {0!r}".format(computation))
        return self._with_stage(("to", computation))

    def key_by(self, key_extractor):
        """Repartition by the key ``key_extractor`` returns."""
        if not (hasattr(key_extractor, "extract_key") or hasattr(key_extractor, "partition")):
            raise WallarooParameterError(
                "key_by() expects a key extractor (@wallaroo.key_extractor), got {0!r}"
                .format(key_extractor))
        return self._with_stage(("key_by", key_extractor))

    def collect(self):
        """Repartition everything to one constant key."""
        return self._with_stage(("collect", ""))

    def to_sink(self, sink_config):
        """Terminate the pipeline at one sink."""
        return self._with_stage(("to_sink", _sink_tuple(sink_config)))

    def to_sinks(self, sink_configs):
        """Terminate the pipeline; every output goes to every sink."""
        if not isinstance(sink_configs, (list, tuple)) or not sink_configs:
            raise WallarooParameterError(
                "to_sinks() expects a non-empty list of sink configs, got {0!r}"
                .format(sink_configs))
        return self._with_stage(("to_sinks", [_sink_tuple(c) for c in sink_configs]))

    def merge(self, pipeline):
        """Union of this pipeline and ``pipeline`` (messages interleave)."""
        if not isinstance(pipeline, Pipeline):
            raise WallarooParameterError(
                "merge() expects a pipeline from wallaroo.source(...), got {0!r}"
                .format(pipeline))
        if self._closed or pipeline._closed:
            raise WallarooParameterError("You can't merge with a terminated pipeline!")
        if self._ends_with_key_by() != pipeline._ends_with_key_by():
            raise WallarooParameterError(
                "A pipeline ending with key_by can only be merged with another!")
        p = self.clone()
        merge_idx = len(p._vs)
        p._vs.append([])
        p._es.append([p._root_idx])
        offset = len(p._vs)
        p._vs.extend(list(v) for v in pipeline._vs)
        p._es.extend([i + offset for i in e] for e in pipeline._es)
        p._es[merge_idx].append(pipeline._root_idx + offset)
        p._root_idx = merge_idx
        return p

    def _is_closed(self):
        return self._closed

    def __to_tuple__(self, app_name):
        return (app_name, self._root_idx, [list(v) for v in self._vs],
                [list(e) for e in self._es])


def source(name, source_config):
    """Start a pipeline at a source. ``name`` names the pipeline."""
    return Pipeline.from_source(name, source_config)


def build_application(app_name, pipeline):
    """Return ``(app_name, root_idx, vs, es)`` for a pipeline closed by to_sink/s."""
    if not isinstance(pipeline, Pipeline):
        raise WallarooParameterError(
            "build_application({0!r}, pipeline): expected a pipeline from "
            "wallaroo.source(...), got {1!r}".format(app_name, pipeline))
    if not pipeline._is_closed():
        raise WallarooParameterError("An application must end with to_sink/s.")
    return pipeline.__to_tuple__(app_name)
