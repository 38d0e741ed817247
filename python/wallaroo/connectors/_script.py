"""What every shipped connector script shares: its flags, its app's config, and one clear line when it fails."""

import sys

from ..experimental.app_connector_configs import find_connector_config
from ..experimental.connector_args import parse_connector_args
from ..experimental.connector_errors import ConnectorError


class ScriptSettings(object):
    """A script's parsed flags (``params``: one attribute per ``--NAME-<param>``) and its app's config tuple."""

    def __init__(self, kind, argv, required, optional):
        self.argv = list(argv)
        self.params = parse_connector_args(self.argv, required, optional)
        self.config = find_connector_config(self.params.application, kind, self.params.connector_name,
                                            self.argv)
        self.host = self.config[2]
        self.port = int(self.config[3])

    def flag(self, param):
        return "--{0}-{1}".format(self.params.connector_name, param)


def fail(program, message, status=1):
    """One line on stderr naming the connector, then exit."""
    sys.stderr.write("{0}: {1}\n".format(program, message))
    sys.stderr.flush()
    raise SystemExit(status)


def number(settings, param, default, kind=int):
    """The optional numeric ``--NAME-<param>`` (``default`` when absent); a bad value is one ``ConnectorError``."""
    text = getattr(settings.params, param.replace("-", "_"))
    if text is None:
        return default
    try:
        return kind(text)
    except ValueError:
        raise ConnectorError("{0} must be a {1}, got {2!r}".format(settings.flag(param), kind.__name__, text))


def choice(settings, param, default, allowed):
    text = getattr(settings.params, param.replace("-", "_")) or default
    if text not in allowed:
        raise ConnectorError("{0} must be one of {1}, got {2!r}".format(
            settings.flag(param), ", ".join(allowed), text))
    return text
