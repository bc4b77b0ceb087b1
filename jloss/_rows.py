"""Row-block evaluation: a function of row-aligned arrays computed a few rows at a time.

XLA allocates one temporary buffer per execution for all of a program's intermediates (the largest
branch of every ``cond`` / ``switch`` included). When that buffer is large it is a fresh ``mmap``
each call on CPU, and every page of it faults on first touch (~10 GB/s here against ~35 GB/s for
reused memory); on an accelerator it is device memory that must fit. Computing a row-wise function
over blocks of rows bounds the intermediates by one block.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["BLOCK", "map_rows"]

#: elements a block of intermediates holds (1 MB of float32): the size the row-block forms
#: (multilabel_margin_loss, pairwise_distance, Adafactor's update norm) divide into rows; read at
#: trace time
BLOCK = 1 << 18


def map_rows(fn: Callable[..., Any], rows: int, *arrays: jax.Array) -> Any:
    """``fn(*arrays)`` for a row-wise ``fn``, computed ``rows`` rows at a time.

    Every array has the same leading (row) dimension, and so has every output of ``fn`` (a pytree);
    row ``i`` of the outputs may depend on row ``i`` of the inputs only. A ``fori_loop`` writes each
    block's outputs into place; a last partial block is computed as the last ``rows`` rows (it
    overlaps the block before it, whose shared rows are computed again). One block when ``rows``
    covers them all. The numbers are ``fn``'s on the whole batch up to the rounding of reductions
    inside ``fn``, whose summation order XLA may choose by the block's shape.
    """
    n = arrays[0].shape[0]
    if any(a.shape[0] != n for a in arrays):
        raise ValueError(f"map_rows: every array needs {n} rows, got {[a.shape[0] for a in arrays]}")
    rows = max(1, int(rows))
    if rows >= n:
        return fn(*arrays)
    shapes = jax.eval_shape(fn, *(a[:rows] for a in arrays))
    out = jax.tree.map(lambda s: jnp.zeros((n, *s.shape[1:]), s.dtype), shapes)

    def block(i: jax.Array, out: Any) -> Any:
        start = jnp.minimum(i * rows, n - rows)
        got = fn(*(lax.dynamic_slice_in_dim(a, start, rows) for a in arrays))
        return jax.tree.map(lambda o, g: lax.dynamic_update_slice_in_dim(o, g, start, 0), out, got)

    return lax.fori_loop(0, -(-n // rows), block, out)
