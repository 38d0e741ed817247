"""Test app that imports fine but defines no application_setup."""


def setup(args):
    return None
