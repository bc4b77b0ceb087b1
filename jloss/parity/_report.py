"""Run the registry and print / write the parity table."""

from __future__ import annotations

import json
from collections.abc import Sequence

from ._harness import Report
from ._registry import components


def run_all(names: Sequence[str] | None = None, family: str | None = None) -> list[Report]:
    comps = components(family)
    if names:
        wanted = set(names)
        comps = [c for c in comps if c.name in wanted or c.family in wanted]
    return [c.run() for c in comps]


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.1e}"


def table(reports: Sequence[Report]) -> str:
    """A Markdown table: component, cases, worst f64 error, worst f32 error, verdict."""
    rows = ["| component | cases | worst f64 | worst f32 | verdict |", "|---|---:|---:|---:|---|"]
    for r in reports:
        rows.append(
            f"| {r.name} | {len(r.results)} | {_fmt(r.worst('float64'))} | {_fmt(r.worst('float32'))} "
            f"| {'ok' if r.passed else 'MISMATCH'} |"
        )
    return "\n".join(rows)


def to_json(reports: Sequence[Report]) -> str:
    return json.dumps(
        [
            {
                "component": r.name,
                "cases": len(r.results),
                "worst_float64": r.worst("float64"),
                "worst_float32": r.worst("float32"),
                "passed": r.passed,
                "failures": [
                    {"case": f.name, "dtype": f.dtype, "value_err": _j(f.value_err),
                     "grad_err": _j(f.grad_err), "message": f.message}
                    for f in r.failures()
                ],
            }
            for r in reports
        ],
        indent=2,
    )


def _j(x: float) -> float | str:
    return x if x == x and x not in (float("inf"), -float("inf")) else str(x)
