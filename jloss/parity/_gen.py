"""Helpers that case modules use to generate inputs: seeded RNGs, dtype fan-out, shape sets."""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Iterable, Iterator

import numpy as np

from ._harness import Case

# Several shapes, including unbatched (scalar / 1-D) and K-dimensional ones.
POINTWISE_SHAPES: tuple[tuple[int, ...], ...] = ((), (7,), (4, 5), (2, 3, 4, 2))
REDUCTIONS = ("none", "mean", "sum")
DTYPES = ("float64", "float32")


def rng(*key: object) -> np.random.Generator:
    """A generator seeded from ``key`` (stable across runs and processes)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def with_dtypes(cases: Iterable[Case], dtypes: Iterable[str] = DTYPES) -> Iterator[Case]:
    """Each case once per dtype (the numpy inputs are cast by the harness)."""
    dtypes = tuple(dtypes)
    for c in cases:
        for dt in dtypes:
            yield dataclasses.replace(c, dtype=dt)


def shape_name(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) or "scalar"
