"""Test app with a syntax error on line 3 (a def without its colon)."""

def application_setup(args)
    return None
