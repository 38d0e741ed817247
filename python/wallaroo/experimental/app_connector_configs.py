"""Where a connector script finds its settings: the app's ``SourceConnectorConfig``/``SinkConnectorConfig`` named
by ``--connector`` (spec §1.4: the script imports ``--application-module`` and calls its
``application_setup(argv)``)."""

import importlib

from .connector_errors import ConnectorError

# The config tuples' first element (connector_configs.py) and the pipeline stages that carry them.
SOURCE = "source_connector"
SINK = "sink_connector"
_SOURCE_STAGES = ("source", "new_pipeline")


def _stages(result):
    """Every stage tuple of what ``application_setup`` returned (a G2 topology or a G1 action list)."""
    if isinstance(result, tuple) and len(result) == 4:
        return [stage for node in result[2] for stage in node]
    return list(result)


def _config_tuples(result):
    for stage in _stages(result):
        if not isinstance(stage, tuple) or not stage:
            continue
        if stage[0] in _SOURCE_STAGES:
            yield stage[-1]
        elif stage[0] == "to_sink":
            yield stage[1]
        elif stage[0] == "to_sinks":
            for config in stage[1]:
                yield config


def find_connector_config(application, kind, connector_name, args):
    """The config tuple of ``kind`` (``SOURCE`` or ``SINK``) named ``connector_name`` in the app module
    ``application``; ``ConnectorError`` when there is none."""
    module = importlib.import_module(application)
    for config in _config_tuples(module.application_setup(args)):
        if isinstance(config, tuple) and config[:2] == (kind, connector_name):
            return config
    what = "source" if kind == SOURCE else "sink"
    raise ConnectorError("application {0!r} has no {1} connector named {2!r}".format(
        application, what, connector_name))
