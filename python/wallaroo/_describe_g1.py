"""Turns a G1/G0 ``ApplicationBuilder.build()`` action list into flows."""

from . import _describe_objects as objects
from .application_builder import StateBuilder, validate_actions
from .errors import WallarooParameterError


def _state_factory(builder):
    if isinstance(builder, StateBuilder):
        return builder.state_cls
    return builder.build  # G0 state builder instance


def describe_actions(actions, out):
    """Fill ``out`` (a DescriptionBuilder) from a G1 action list; return the app name."""
    validate_actions(actions)
    flow = None
    pipeline = None
    for action in actions[1:]:
        kind = action[0]
        if kind == "new_pipeline":
            pipeline = action[1]
            where = "pipeline {0!r}".format(pipeline)
            source_id = out.add_source(
                objects.source_entry(action[2], pipeline, False, where, out.args))
            flow = out.add_flow(source_id, [], [])
            continue
        if kind == "done":
            flow = None
            continue
        here = "pipeline {0!r}, {1}".format(pipeline, kind)
        if kind in ("to", "to_parallel"):
            flow["stages"].append(out.add_stage(objects.computation_stage(action[1], here)))
        elif kind == "to_stateful":
            _, comp, builder, state_name = action
            flow["stages"].append(out.add_stage(
                objects.collect_stage("stateful-{0}".format(state_name))))
            flow["stages"].append(out.add_stage(objects.state_stage(
                comp, state_name, _state_factory(builder), True, here)))
        elif kind == "to_state_partition":
            _, comp, builder, state_name, partition_fn, _keys = action
            flow["stages"].append(out.add_stage(objects.key_by_stage(partition_fn, here)))
            flow["stages"].append(out.add_stage(objects.state_stage(
                comp, state_name, _state_factory(builder), True, here)))
        elif kind in ("to_sink", "to_sinks"):
            configs = [action[1]] if kind == "to_sink" else list(action[1])
            for config in configs:
                flow["sinks"].append(out.add_sink(
                    objects.sink_entry(config, len(out.sinks), here, out.args)))
        else:
            raise WallarooParameterError("{0}: unknown action".format(here))
    return actions[0][1]
