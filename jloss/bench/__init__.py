"""jloss.bench: jloss against torch eager, ``torch.compile`` and optax on the same machine.

    >>> from jloss import bench
    >>> result = bench.run(only=["cross_entropy"], quick=True)   # a dict; bench.text(result) prints it

Each workload (a loss forward / forward + gradient, an optimizer step, a training step) runs every
peer in the same process in interleaved rounds (medians, quartiles, min / max), JAX results
blocked on and compile time reported apart; ratios are jloss / peer (times: < 1 means jloss is
faster). A copy / triad probe measures the memory bandwidth in the same run, and each workload's
achieved GB/s is compared with it. torch is optional: without it jloss and optax run alone. The
``jloss bench`` command prints the report; ``benchmarks/README.md`` explains how to read it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable
from typing import Any, TextIO

from . import _losses, _optim, _train
from ._probe import probe as probe
from ._report import targets as targets
from ._report import text as text
from ._report import to_json as to_json
from ._timing import measure as measure
from ._workload import Case as Case
from ._workload import Context as Context
from ._workload import Workload as Workload

__all__ = ["SCHEMA", "Case", "Context", "Workload", "measure", "probe", "run", "select", "targets", "text",
           "to_json", "workloads"]

#: the version of the JSON layout :func:`run` returns
SCHEMA = 1
FAMILIES = ("losses", "optim", "train")


def workloads() -> list[Workload]:
    """Every workload, losses first, then optimizers, then training steps."""
    return [*_losses.workloads(), *_optim.workloads(), *_train.workloads()]


def select(only: Iterable[str] | None = None) -> list[Workload]:
    """The workloads matching any of ``only`` (a workload name such as ``cross_entropy:4096x32000``,
    a family ``losses`` / ``optim`` / ``train``, or a component such as ``adam``); all if None.

    Raises:
        ValueError: a name that matches nothing.
    """
    every = workloads()
    if only is None:
        return every
    keys = list(only)
    unknown = [k for k in keys if not any(w.matches(k) for w in every)]
    for k in unknown:
        if k in _optim.SKIPPED:
            raise ValueError(f"select: {k} is not benchmarked: {_optim.SKIPPED[k]}")
    if unknown:
        known = sorted({w.component for w in every} | {w.name for w in every})
        raise ValueError(f"select: no workload matches {unknown}; families {list(FAMILIES)}, "
                         f"components and names: {', '.join(known)}")
    return [w for w in every if any(w.matches(k) for k in keys)]


def _import_torch(threads: int | None) -> Any:
    try:
        import torch  # noqa: PLC0415
    except ImportError:
        return None
    torch.set_num_threads(threads or os.cpu_count() or 1)
    return torch


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover - not available
        return None


def _row(w: Workload, case: Case, stats: dict[str, dict], bandwidth: float) -> dict[str, Any]:
    med = stats.get("jloss", {}).get("median_s")
    ratios = {k: med / v["median_s"] for k, v in stats.items()
              if k != "jloss" and med and v.get("median_s")}
    gbs = case.nbytes / med / 1e9 if (case.nbytes and med) else None
    return {"name": w.name, "family": w.family, "component": w.component, "size": w.size,
            "variant": case.variant, "shape": case.shape, "bytes": case.nbytes, "peers": stats, "ratios": ratios,
            "jloss_gbs": gbs, "bw_fraction": gbs / bandwidth if gbs and bandwidth else None,
            "skipped": case.skipped, "note": case.note}


def run(only: Iterable[str] | None = None, quick: bool = False, repeats: int | None = None, *,
        min_time: float | None = None, compile: bool = True, torch_threads: int | None = None,
        progress: TextIO | None = sys.stderr) -> dict[str, Any]:
    """Run the benchmark and return the whole result as a JSON-ready dict.

    Args:
        only: workload names, families or components to run (see :func:`select`); all if None.
        quick: shrink every size ~100x and time briefly (smoke tests; the figures mean little).
        repeats: interleaved rounds per measurement (default 5, quick 3).
        min_time: seconds one measurement lasts at least (default 0.05, quick 0.002).
        compile: build the ``torch.compile`` peers (their first compiles take seconds each).
        torch_threads: ``torch.set_num_threads`` (default ``os.cpu_count()``).
        progress: where to print one line per measurement (None: silent).

    Returns:
        ``{"schema", "settings", "machine", "probe", "results": [row, ...], "targets", "skipped",
        "elapsed_s"}``; a row holds the workload's ``name``, ``family``, ``component``, ``size``,
        ``variant``, ``shape``, ``bytes``, per peer the timing statistics of :func:`measure` (or
        its ``error``), ``ratios`` (jloss / peer), ``jloss_gbs``, ``bw_fraction`` and ``skipped``.
    """
    only = [only] if isinstance(only, str) else (None if only is None else list(only))
    chosen = select(only)
    repeats = (3 if quick else 5) if repeats is None else repeats
    if not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"run: repeats must be an int >= 1, got {repeats!r}")
    min_time = (0.002 if quick else 0.05) if min_time is None else min_time
    t_start = time.perf_counter()

    def say(msg: str) -> None:
        if progress is not None:
            print(f"[{time.perf_counter() - t_start:6.0f} s] {msg}", file=progress, flush=True)

    torch = _import_torch(torch_threads)
    load_start = _load()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if load_start and load_start[0] > cores:
        say(f"warning: the load average {load_start[0]} exceeds the {cores} cores: other processes compete, "
            "multi-threaded peers (torch's OpenMP above all) will be slowed unevenly; run on a quiet machine")
    ctx = Context(quick=quick, torch=torch, compile=compile)
    from ._report import machine  # noqa: PLC0415

    mach = machine(torch is not None)
    say("memory bandwidth probe")
    pr = probe(n=1 << 18, repeats=3) if quick else probe()
    say(f"probe: {pr['gbs']:.1f} GB/s ({pr['best']})")
    rows: list[dict[str, Any]] = []
    for i, w in enumerate(chosen, 1):
        t_case = time.perf_counter()
        for case in w.setup(ctx):
            stats = measure(case.peers, repeats=repeats, min_time=min_time)
            row = _row(w, case, stats, pr["gbs"])
            row["elapsed_s"] = time.perf_counter() - t_case  # setup, warm-up (compiles) and rounds
            rows.append(row)
            rat = ", ".join(f"/{k} {v:.2f}x" for k, v in row["ratios"].items())
            err = [k for k, v in stats.items() if "error" in v]
            say(f"({i}/{len(chosen)}) {w.name} {case.variant}: jloss "
                f"{1e3 * stats['jloss']['median_s'] if 'median_s' in stats.get('jloss', {}) else float('nan'):.2f} ms"
                f"{'; ' + rat if rat else ''}{'; errors: ' + ', '.join(err) if err else ''}")
            t_case = time.perf_counter()
    skipped = {f"{k} (optim)": v for k, v in _optim.SKIPPED.items()
               if only is None or any(key in (k, "optim") for key in only)}
    settings = {"quick": quick, "repeats": repeats, "min_time_s": min_time, "torch_compile": compile,
                "only": only, "torch_threads": torch.get_num_threads() if torch else None,
                "load_average_start": load_start, "load_average_end": _load()}
    return {"schema": SCHEMA, "settings": settings,
            "machine": mach, "probe": pr, "results": rows, "targets": targets(rows, mach["jax_backend"]),
            "skipped": skipped, "elapsed_s": time.perf_counter() - t_start}
