"""Test app whose set-up never finishes. It first writes the file named by STUCK_SETUP_MARKER (so a test knows the
stuck code runs), then hangs where STUCK_SETUP_WHERE says (`import`: at module level; anything else: inside
application_setup) the way STUCK_SETUP_HOW says (`sleep`: time.sleep(1000); `spin`: `while True: pass`).
"""
import os
import time

import wallaroo  # noqa: F401  (an app imports it; this one never gets to use it)


def _hang():
    with open(os.environ["STUCK_SETUP_MARKER"], "w") as marker:
        marker.write("stuck\n")
    if os.environ["STUCK_SETUP_HOW"] == "sleep":
        time.sleep(1000)
    while True:
        pass


if os.environ.get("STUCK_SETUP_WHERE") == "import":
    _hang()


def application_setup(args):
    _hang()
