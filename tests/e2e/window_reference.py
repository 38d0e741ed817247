"""The offline reference of Roo's window stages, for the end-to-end tests: what each window stage must output.

It lives in the `wallaroo` package (python/wallaroo/_offline_windows.py), where wallaroo.testing runs it too, so
there is one reference; this module keeps the name the tests import. Written from docs/windows.md only (not from
the C++); its docstring describes the items, the outputs and the aggregations.
"""

from wallaroo._offline_windows import (END_OF_TIME, POLICIES, START_OF_TIME, Result, make_stage,  # noqa: F401
                                       run_count, run_range, run_session, run_stage)
