"""``describe(result, module, args)``: the canonical, plain-dict description of an app.

The C++ runtime reads only this dict (see docs/description.md). ``result`` is
what ``application_setup`` returned: the G2 ``build_application`` 4-tuple or the
G1/G0 ``ApplicationBuilder.build()`` action list. Both produce the same shape.
``args`` are the app's flags (what ``application_setup`` got): the Kafka forms
that read flags when described (``DefaultKafka*CLIParser``, ``--kafka-property``)
read them there.
"""

import sys

from . import serialization
from ._describe_g1 import describe_actions
from ._describe_g2 import describe_tree
from .errors import WallarooParameterError


class DescriptionBuilder(object):
    """Accumulates sources, stages, sinks and flows; ids are list indices."""

    def __init__(self, args=()):
        self.args = list(args)  # the app's flags
        self.sources = []
        self.stages = []
        self.sinks = []
        self.flows = []

    def add_source(self, entry):
        entry.setdefault("event_time", None)  # ingest time (or a Kafka message's own) unless with_event_time
        self.sources.append(entry)
        return len(self.sources) - 1

    def add_stage(self, entry):
        self.stages.append(entry)
        return len(self.stages) - 1

    def add_sink(self, entry):
        self.sinks.append(entry)
        return len(self.sinks) - 1

    def add_flow(self, source_id, stage_ids, sink_ids):
        flow = {"source": source_id, "stages": list(stage_ids), "sinks": list(sink_ids)}
        self.flows.append(flow)
        return flow


def _is_g2(result):
    return (isinstance(result, tuple) and len(result) == 4
            and isinstance(result[1], int) and isinstance(result[2], list))


def _is_g1(result):
    return (isinstance(result, list) and bool(result) and isinstance(result[0], tuple)
            and result[0][:1] == ("name",))


def _check_state_tables(stages):
    """Stages sharing a state_id share one table, so one state class."""
    factories = {}
    for stage in stages:
        if stage["kind"] != "state":
            continue
        state_id = stage["state_id"]
        factory = stage["state_factory"]
        factory = getattr(factory, "__func__", factory)  # G0 builders: same build()
        if state_id in factories and factories[state_id] is not factory:
            raise WallarooParameterError(
                "state {0!r} is used by stages with different state classes ({1!r} "
                "and {2!r}); give them different names".format(state_id, factories[state_id], factory))
        factories.setdefault(state_id, factory)


def _serializers(module):
    if module is None:
        return None, None
    namespace = vars(module)
    ser, de = namespace.get("serialize"), namespace.get("deserialize")
    if not (callable(ser) and callable(de)):
        return None, None
    if ser is serialization.serialize and de is serialization.deserialize:
        return None, None  # the app imported wallaroo's pickle defaults
    return ser, de


def _app_args(args):
    """The given args, else ``wallaroo._ARGS`` (the full argv, set by the runtime), else none."""
    if args is None:
        args = getattr(sys.modules.get("wallaroo"), "_ARGS", None) or ()
    if isinstance(args, str) or not all(isinstance(a, str) for a in args):
        raise WallarooParameterError(
            "describe(): args must be a list of str (the app's flags), got {0!r}".format(args))
    return args


def describe(result, module=None, args=None):
    """Return the canonical description dict of ``result`` (see module docstring)."""
    out = DescriptionBuilder(_app_args(args))
    if _is_g2(result):
        app_name = describe_tree(result, out)
    elif _is_g1(result):
        app_name = describe_actions(result, out)
    else:
        hint = ""
        if hasattr(result, "build"):
            hint = " (did you forget to call .build()?)"
        elif hasattr(result, "to_sink"):
            hint = " (did you forget wallaroo.build_application(app_name, pipeline)?)"
        raise WallarooParameterError(
            "application_setup must return wallaroo.build_application(...) or "
            "ApplicationBuilder.build(), got {0!r}{1}".format(type(result).__name__, hint))
    if not isinstance(app_name, str) or not app_name:
        raise WallarooParameterError(
            "the application name must be a non-empty str, got {0!r}".format(app_name))
    _check_state_tables(out.stages)
    ser, de = _serializers(module)
    return {"app_name": app_name, "sources": out.sources, "stages": out.stages,
            "sinks": out.sinks, "flows": out.flows, "serialize": ser, "deserialize": de}
