"""``parse_connector_args(args, required, optional)``: the flags of a connector script (spec §1.4)."""

import argparse


def parse_connector_args(args, required_params=(), optional_params=()):
    """Parse ``--application-module M --connector NAME`` and the connector's own ``--NAME-<param>`` flags.

    Returns an ``argparse.Namespace`` with ``application`` (the module), ``connector_name`` and one attribute per
    parameter (``-`` becomes ``_``; optional ones default to ``None``). A missing flag exits like argparse does.
    """
    base = argparse.ArgumentParser(add_help=False)
    base.add_argument("--application-module", dest="application", required=True)
    base.add_argument("--connector", dest="connector_name", required=True)
    known, _ = base.parse_known_args(args)
    parser = argparse.ArgumentParser(prog=known.connector_name)
    parser.add_argument("--application-module", dest="application", required=True)
    parser.add_argument("--connector", dest="connector_name", required=True)
    for param in required_params:
        parser.add_argument("--{0}-{1}".format(known.connector_name, param), dest=param.replace("-", "_"),
                            required=True)
    for param in optional_params:
        parser.add_argument("--{0}-{1}".format(known.connector_name, param), dest=param.replace("-", "_"))
    params, _ = parser.parse_known_args(args)
    return params
