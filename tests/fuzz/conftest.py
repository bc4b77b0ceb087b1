"""The fuzz suite's switch and its case counter.

``pytest tests/fuzz`` runs a small, derandomized budget (the same cases every run). The long
campaign: ``pytest tests/fuzz --fuzz-long`` (or ``JLOSS_FUZZ_LONG=1``); ``JLOSS_FUZZ_SEED=n``
draws fresh cases, ``JLOSS_FUZZ_SCALE=x`` scales the long budgets. At the end of the session the
cases run per component are printed, and written as JSON to ``$JLOSS_FUZZ_SUMMARY`` if set.
"""

from __future__ import annotations

import json
import os
import sys

# ``_strategies`` reads the switch at import time: the option must be seen before the test
# modules are collected, so it is turned into the environment variable here, at configure time.
sys.path.insert(0, os.path.dirname(__file__))


def pytest_addoption(parser):
    parser.addoption("--fuzz-long", action="store_true", default=False,
                     help="run the long differential fuzz campaign (>= 10,000 cases; tests/fuzz)")


def pytest_configure(config):
    if config.getoption("--fuzz-long", default=False):
        os.environ["JLOSS_FUZZ_LONG"] = "1"


def _summary() -> dict[str, dict[str, int]]:
    mod = sys.modules.get("_strategies")
    if mod is None:
        return {}
    return {k: dict(sorted(v.items())) for k, v in sorted(mod.COUNTS.items())}


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("JLOSS_FUZZ_SUMMARY")
    counts = _summary()
    if path and counts:
        total = sum(sum(v.values()) for v in counts.values())
        with open(path, "w") as f:
            json.dump({"long": os.environ.get("JLOSS_FUZZ_LONG", "") not in ("", "0"), "total": total,
                       "components": counts}, f, indent=1, sort_keys=True)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    counts = _summary()
    if not counts:
        return
    outcomes = sorted({o for v in counts.values() for o in v})
    tr = terminalreporter
    tr.section("jloss fuzz: cases per component")
    width = max(len(k) for k in counts)
    tr.write_line(f"{'component':<{width}}  {'total':>7}  " + "  ".join(f"{o:>10}" for o in outcomes))
    for comp, v in counts.items():
        tr.write_line(f"{comp:<{width}}  {sum(v.values()):>7}  " + "  ".join(f"{v.get(o, 0):>10}" for o in outcomes))
    total = sum(sum(v.values()) for v in counts.values())
    tr.write_line(f"{'all':<{width}}  {total:>7}")
