"""Flattens a G2 ``build_application`` tree into one flow per source."""

from . import _describe_objects as objects
from .errors import WallarooParameterError
from .event_time import event_time_entry
from .windows import windows_of_stage

_SINKS = ("to_sink", "to_sinks")


def _check_shape(root_idx, vs, es):
    if not isinstance(vs, list) or not isinstance(es, list) or len(vs) != len(es):
        raise WallarooParameterError(
            "build_application result: vs and es must be lists of the same length")
    if not isinstance(root_idx, int) or not 0 <= root_idx < len(vs):
        raise WallarooParameterError(
            "build_application result: root index {0!r} out of range".format(root_idx))


def describe_tree(result, out):
    """Fill ``out`` (a DescriptionBuilder) from ``(app_name, root_idx, vs, es)``."""
    app_name, root_idx, vs, es = result
    _check_shape(root_idx, vs, es)
    leaves = []  # (source id, [node indices from leaf up to root])
    node_stage_ids = {}
    visiting = set()

    def visit(idx, path):
        if not isinstance(idx, int) or not 0 <= idx < len(vs) or idx in visiting:
            raise WallarooParameterError(
                "build_application result: bad or cyclic node index {0!r}".format(idx))
        visiting.add(idx)
        children = es[idx]
        stages = list(vs[idx])
        if children:
            if len(children) != 2:
                raise WallarooParameterError(
                    "build_application result: merge node {0} must have 2 children, has {1}"
                    .format(idx, len(children)))
            for child in children:
                visit(child, [idx] + path)
            where = "merged pipeline"
        else:
            if not stages or not isinstance(stages[0], tuple) or stages[0][0] != "source":
                raise WallarooParameterError(
                    "build_application result: leaf node {0} must start with a source"
                    .format(idx))
            _, pipeline_name, config = stages.pop(0)
            where = "pipeline {0!r}".format(pipeline_name)
            entry = objects.source_entry(config, pipeline_name, True, where, out.args)
            if stages and isinstance(stages[0], tuple) and stages[0][:1] == ("with_event_time",):
                entry["event_time"] = _event_time(stages.pop(0), where)
            source_id = out.add_source(entry)
            leaves.append((source_id, [idx] + path))
        node_stage_ids[idx] = _add_stages(stages, idx == root_idx, where, out)

    visit(root_idx, [])
    if not out.sinks:
        raise WallarooParameterError("An application must end with to_sink/s.")
    sink_ids = list(range(len(out.sinks)))
    for source_id, path in sorted(leaves):
        ids = [sid for node in path for sid in node_stage_ids[node]]
        out.add_flow(source_id, ids, sink_ids)
    return app_name


def _event_time(stage, where):
    """The source entry's "event_time" from ``("with_event_time", fn, idleness, max_ahead)``."""
    if len(stage) != 4:
        raise WallarooParameterError("{0}: bad with_event_time stage {1!r}".format(where, stage))
    try:
        return event_time_entry(*stage[1:])
    except WallarooParameterError as e:
        raise WallarooParameterError("{0}: {1}".format(where, e))


def _own_state_id(state_name, stages):
    """A state id no earlier stage has: every G2 state or window stage has its own state (as in Wallaroo).

    The first stage using a name gets the name itself; later ones get "<name> (2)", "<name> (3)", ...
    """
    taken = set(s["state_id"] for s in stages if s["kind"] in ("state", "window"))
    state_id, n = state_name, 1
    while state_id in taken:
        n += 1
        state_id = "{0} ({1})".format(state_name, n)
    return state_id


def _add_stages(stages, is_root, where, out):
    ids = []
    for position, stage in enumerate(stages):
        here = "{0}, stage {1} ({2})".format(where, position + 1,
                                           stage[0] if isinstance(stage, tuple) and stage else "?")
        if not isinstance(stage, tuple) or not stage:
            raise WallarooParameterError("{0}: bad stage {1!r}".format(here, stage))
        kind = stage[0]
        if kind in _SINKS:
            if not is_root or position != len(stages) - 1:
                raise WallarooParameterError(
                    "{0}: You can't add stages after to_sink/s.".format(here))
            configs = [stage[1]] if kind == "to_sink" else list(stage[1])
            for config in configs:
                out.add_sink(objects.sink_entry(config, len(out.sinks), here, out.args))
        elif kind == "to":
            ids.append(out.add_stage(objects.computation_stage(stage[1], here)))
        elif kind == "to_state":
            entry = objects.state_stage(stage[1], None, None, False, here)
            entry["state_id"] = _own_state_id(entry["state_name"], out.stages)
            ids.append(out.add_stage(entry))
        elif kind == "key_by":
            ids.append(out.add_stage(objects.key_by_stage(stage[1], here)))
        elif kind == "collect":
            ids.append(out.add_stage(objects.collect_stage(
                "collect-key-{0}".format(len(out.stages)))))
        elif kind in ("to_range_windows", "to_count_windows", "to_session_windows"):
            try:
                entry = objects.window_stage(windows_of_stage(stage))
            except WallarooParameterError as e:
                raise WallarooParameterError("{0}: {1}".format(here, e))
            entry["state_id"] = _own_state_id(entry["name"], out.stages)
            ids.append(out.add_stage(entry))
        elif kind == "with_event_time":
            raise WallarooParameterError(
                "{0}: with_event_time() must come right after wallaroo.source(...)".format(here))
        else:
            raise WallarooParameterError("{0}: unknown stage kind {1!r}".format(here, kind))
    return ids
