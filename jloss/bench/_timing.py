"""Timing: peers of one measurement run in interleaved rounds, medians, compile time apart.

Every peer is a zero-argument callable that runs one iteration and returns what it computed (JAX
arrays are blocked on with ``jax.block_until_ready``; torch is synchronous on CPU). Each peer is
warmed first (its first call, which compiles, is timed separately), then ``repeats`` rounds run
every peer in turn (the order rotates from round to round), each peer ``k`` iterations per round
with ``k`` chosen so that one measurement lasts at least ``min_time`` seconds.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable
from typing import Any

import jax

__all__ = ["block", "measure", "summarize"]

#: peers whose first call compiles: their compile time (first call minus the steady median) is reported
COMPILING = ("jloss", "optax", "flax", "torch.compile")


def block(out: Any) -> Any:
    """Wait for every JAX array in ``out`` (a pytree; anything else passes through)."""
    if out is not None:
        jax.block_until_ready(out)
    return out


def _once(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    block(fn())
    return time.perf_counter() - t0


def summarize(times: list[float]) -> dict[str, float]:
    """Median, min, max and quartiles (seconds per iteration) of a list of measurements."""
    ts = sorted(times)
    if len(ts) >= 2:
        q1, _, q3 = statistics.quantiles(ts, n=4, method="inclusive")
    else:
        q1 = q3 = ts[0]
    return {"median_s": statistics.median(ts), "min_s": ts[0], "max_s": ts[-1], "q1_s": q1, "q3_s": q3}


def measure(peers: dict[str, Callable[[], Any]], *, repeats: int = 5, min_time: float = 0.05,
            max_iters: int = 100_000) -> dict[str, dict[str, Any]]:
    """Time each peer's iteration: warm-up, then ``repeats`` interleaved rounds.

    Returns, per peer, ``{"median_s", "min_s", "max_s", "q1_s", "q3_s", "times_s", "iters",
    "first_call_s", "compile_s"}`` (seconds per iteration; ``compile_s`` is the first call minus
    the steady median, for the peers that compile), or ``{"error": message}`` for a peer whose
    warm-up raised (it is left out of the rounds; the others go on).
    """
    out: dict[str, dict[str, Any]] = {}
    live: dict[str, Callable[[], Any]] = {}
    iters: dict[str, int] = {}
    for name, fn in peers.items():
        try:
            first = _once(fn)
            est = _once(fn)
            if est < min_time / 4:  # a better estimate of a short iteration: a few in a row
                n = max(2, min(max_iters, math.ceil(min_time / 4 / max(est, 1e-7))))
                t0 = time.perf_counter()
                for _ in range(n):
                    block(fn())
                est = (time.perf_counter() - t0) / n
        except Exception as e:  # noqa: BLE001 - a peer that fails is reported, not fatal
            out[name] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:300]}
            continue
        live[name] = fn
        iters[name] = max(1, min(max_iters, math.ceil(min_time / max(est, 1e-7))))
        out[name] = {"first_call_s": first}
    times: dict[str, list[float]] = {name: [] for name in live}
    names = list(live)
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(repeats):
            order = names[r % len(names):] + names[: r % len(names)] if names else []
            for name in order:
                fn, k = live[name], iters[name]
                t0 = time.perf_counter()
                for _ in range(k):
                    block(fn())
                times[name].append((time.perf_counter() - t0) / k)
    finally:
        if was_enabled:
            gc.enable()
    for name in names:
        stats = summarize(times[name])
        first = out[name]["first_call_s"]
        out[name].update(stats, times_s=times[name], iters=iters[name],
                         compile_s=max(0.0, first - stats["median_s"]) if name in COMPILING else None)
    return out
