"""The machine's memory bandwidth, measured in the same run: copy and triad probes, best of several.

* ``numpy_copy``: ``np.copyto(a, b)`` (reads ``b``, writes ``a``: 2 arrays of traffic).
* ``numpy_triad``: ``a = b + s * c`` as numpy does it, in two passes (``np.multiply(c, s, out=a)``
  then ``np.add(a, b, out=a)``): counted as the 5 arrays those passes really move.
* ``jax_triad``: ``jax.jit(lambda a, b, c: b + s * c, donate_argnums=0, keep_unused=True)``: one
  fused pass writing into the donated buffer (3 arrays, STREAM's count). ``keep_unused`` matters:
  without it JAX drops the unused ``a`` and the donation with it, and every call writes a fresh
  buffer (as the first sessions' probe did: its ``jax_triad`` was the fresh figure).
* ``jax_triad_fresh``: the same without donation (a fresh output buffer per call), for information:
  it shows what page-faulting new output buffers costs. It does not enter the reference figure.

The reference bandwidth (``gbs``) is the best of the first three: the most this process was seen to
move, which is what the workloads' achieved GB/s are compared with.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["probe"]


def _best(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm (compile, first touch of the pages)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _numpy(n: int, repeats: int) -> tuple[float, float]:
    s = np.float32(3.0)
    a, b, c = np.zeros(n, np.float32), np.ones(n, np.float32), np.full(n, 2.0, np.float32)

    def triad() -> None:
        np.multiply(c, s, out=a)
        np.add(a, b, out=a)

    return _best(lambda: np.copyto(a, b), repeats), _best(triad, repeats)


def _jax(n: int, repeats: int) -> tuple[float, float]:
    triad = jax.jit(lambda x, y, z: y + jnp.float32(3.0) * z, donate_argnums=0, keep_unused=True)
    fresh = jax.jit(lambda y, z: y + jnp.float32(3.0) * z)
    b, c = jnp.ones(n, jnp.float32), jnp.full(n, 2.0, jnp.float32)
    box = [jnp.zeros(n, jnp.float32)]

    def donated() -> None:
        box[0] = triad(box[0], b, c)
        box[0].block_until_ready()

    return _best(donated, repeats), _best(lambda: fresh(b, c).block_until_ready(), repeats)


def probe(n: int = 1 << 25, repeats: int = 7) -> dict[str, object]:
    """Measure copy / triad bandwidth on float32 arrays of ``n`` elements (default 32M: 128 MB each).

    Returns ``{"elements", "gbs", "best", "probes": {name: {"gbs", "seconds", "bytes"}}}``, GB/s
    being 1e9 bytes per second.
    """
    nb = 4 * n
    probes: dict[str, dict[str, float]] = {}
    timed = dict(zip(("numpy_copy", "numpy_triad"), _numpy(n, repeats), strict=True))
    timed |= dict(zip(("jax_triad", "jax_triad_fresh"), _jax(n, repeats), strict=True))
    arrays = {"numpy_copy": 2, "numpy_triad": 5, "jax_triad": 3, "jax_triad_fresh": 3}
    for name, seconds in timed.items():
        probes[name] = {"gbs": arrays[name] * nb / seconds / 1e9, "seconds": seconds, "bytes": arrays[name] * nb}
    best = max(("numpy_copy", "numpy_triad", "jax_triad"), key=lambda k: probes[k]["gbs"])
    return {"elements": n, "gbs": probes[best]["gbs"], "best": best, "probes": probes}
