"""The G1/G0 ``ApplicationBuilder``: an action list with 0.5.x validation.

G1 passes decorated objects; G0 passes user classes (``to``/``to_parallel``
take a computation class, state steps take a state-builder instance with
``build()``). Classes given where an object is expected are instantiated.
"""

import inspect

from .errors import WallarooParameterError


class StateBuilder(object):
    """Wraps a state class; ``build()`` makes one state object."""

    def __init__(self, name, state_cls):
        self.state_name = name
        self.state_cls = state_cls

    def build(self):
        return self.state_cls()

    def name(self):
        return self.state_name


def _instance(obj):
    return obj() if inspect.isclass(obj) else obj


def _state_builder(state_name, state):
    if inspect.isclass(state):
        return StateBuilder(state_name, state)
    if isinstance(state, StateBuilder) or callable(getattr(state, "build", None)):
        return state  # G0: a state-builder instance
    raise WallarooParameterError(
        "state {0!r}: expected a state class (or a G0 state builder with build()), "
        "got {1!r}".format(state_name, state))


class ApplicationBuilder(object):
    """``ApplicationBuilder(app_name)``; chain calls and ``return ab.build()``."""

    def __init__(self, name):
        self._actions = [("name", name)]

    def new_pipeline(self, name, source_config):
        if not hasattr(source_config, "to_tuple"):
            raise WallarooParameterError(
                "new_pipeline({0!r}, config): expected a source config, got {1!r}"
                .format(name, source_config))
        self._actions.append(("new_pipeline", name, source_config.to_tuple()))
        return self

    def to(self, computation):
        self._actions.append(("to", _instance(computation)))
        return self

    def to_parallel(self, computation):
        self._actions.append(("to_parallel", _instance(computation)))
        return self

    def to_stateful(self, computation, state_class, state_name):
        self._actions.append(("to_stateful", _instance(computation),
                              _state_builder(state_name, state_class), state_name))
        return self

    def to_state_partition(self, computation, state_class, state_name,
                           partition_function, partition_keys=None):
        keys = [] if partition_keys is None else partition_keys
        self._actions.append(("to_state_partition", _instance(computation),
                              _state_builder(state_name, state_class), state_name,
                              _instance(partition_function), keys))
        return self

    def to_sink(self, sink_config):
        if not hasattr(sink_config, "to_tuple"):
            raise WallarooParameterError(
                "to_sink(): expected a sink config, got {0!r}".format(sink_config))
        self._actions.append(("to_sink", sink_config.to_tuple()))
        return self

    def to_sinks(self, sink_configs):
        if not isinstance(sink_configs, (list, tuple)) or not sink_configs:
            raise WallarooParameterError(
                "to_sinks() expects a non-empty list of sink configs, got {0!r}"
                .format(sink_configs))
        self._actions.append(("to_sinks", [c.to_tuple() for c in sink_configs]))
        return self

    def done(self):
        self._actions.append(("done",))
        return self

    def build(self):
        validate_actions(self._actions)
        return list(self._actions)


def _state_key(builder):
    if isinstance(builder, StateBuilder):
        return builder.state_cls
    return type(builder)


def validate_actions(actions):
    """0.5.x rules: steps only inside a pipeline, unique pipeline names,
    consistent state definitions, partition functions, at least one sink."""
    if not isinstance(actions, list) or not actions or actions[0][0] != "name":
        raise WallarooParameterError(
            "an ApplicationBuilder action list must start with ('name', app_name)")
    pipelines = set()
    states = {}
    in_pipeline = False
    last = None
    has_sink = False
    for action in actions[1:]:
        kind = action[0]
        if kind.startswith("to") and not in_pipeline:
            if last in ("to_sink", "to_sinks"):
                raise WallarooParameterError(
                    "Unable to add a computation step after a sink. "
                    "Please declare a new pipeline first.")
            raise WallarooParameterError(
                "Please declare a new pipeline before adding computation steps.")
        if kind == "new_pipeline":
            if action[1] in pipelines:
                raise WallarooParameterError(
                    "A pipeline named {0!r} is defined more than once. "
                    "Please use unique names for your pipelines.".format(action[1]))
            pipelines.add(action[1])
            in_pipeline = True
        elif kind in ("to_stateful", "to_state_partition"):
            state_name = action[3]
            partitioned = kind == "to_state_partition"
            if partitioned:
                keys = action[5]
                if not isinstance(keys, list):
                    raise WallarooParameterError(
                        "Partitions lists should be of type list. Got a {0} instead."
                        .format(type(keys)))
                if not (hasattr(action[4], "partition") or hasattr(action[4], "extract_key")):
                    raise WallarooParameterError(
                        "Partition function is missing partition method. Did you "
                        "forget to use the @wallaroo.partition decorator?")
            key = _state_key(action[2])
            if state_name in states:
                other_key, other_partitioned = states[state_name]
                if other_key is not key:
                    raise WallarooParameterError(
                        "A state with the name {0!r} has already been defined with "
                        "a different type {1}, instead of {2}.".format(
                            state_name, other_key, key))
                if other_partitioned != partitioned:
                    raise WallarooParameterError(
                        "A state with the name {0!r} is used both by to_stateful "
                        "and by to_state_partition.".format(state_name))
            else:
                states[state_name] = (key, partitioned)
        elif kind in ("to_sink", "to_sinks"):
            has_sink = True
            in_pipeline = False
        elif kind == "done":
            in_pipeline = False
        elif kind not in ("to", "to_parallel"):
            raise WallarooParameterError(
                "unknown ApplicationBuilder action {0!r}".format(kind))
        last = kind
    if not has_sink:
        raise WallarooParameterError("At least one pipeline must define a sink")
