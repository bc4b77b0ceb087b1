"""Parity cases: pairwise_distance, cosine_similarity, cosine_embedding_loss, triplet_margin_loss,
triplet_margin_with_distance_loss.

Besides random inputs, every component has cases at the points where torch's gradient is not
autodiff of the obvious formula: zero vectors / zero distances (gradient 0, not NaN), zero
entries of a fractional-p difference, tied maxima of the inf-norm, norms below cosine_similarity's
eps (straight-through clamp), clamp ties (``cos - margin == 0``) and swap ties (``a == p``).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ...losses._embedding import (
    cosine_embedding_loss,
    cosine_similarity,
    pairwise_distance,
    triplet_margin_loss,
    triplet_margin_with_distance_loss,
)
from .._gen import REDUCTIONS, rng, shape_name, with_dtypes
from .._harness import Case, Pair
from .._registry import Component, register

_PS = (2.0, 1.0, 3.0, 0.5, 1.5, math.inf, -math.inf, 0.0, -1.5)


def _n(r, *shape, scale=1.0):
    return np.asarray(scale * r.standard_normal(shape))


def _dtypes(f64_only, both, bf16=()):
    """Every case in float64; the ``both`` ones in float32 too; ``bf16`` (names) in bfloat16.

    Compilation dominates the run time (two jits per case), so the float32 / bfloat16 sweeps
    take the representative cases and the float64 sweep takes every option.
    """
    out = list(with_dtypes(both)) + list(with_dtypes(f64_only, ("float64",)))
    return out + [
        dataclasses.replace(c, dtype="bfloat16") for c in both + f64_only if c.name in bf16
    ]


# ---- pairwise_distance --------------------------------------------------------------------------


def _pairwise_cases():
    r = rng("pairwise_distance")
    both, f64 = [], []
    x1, x2 = _n(r, 4, 5), _n(r, 4, 5)
    for p in _PS:
        (both if p in (2.0, 1.0, 3.0, math.inf) else f64).append(
            Case(f"4x5-p={p}", (x1, x2), {"p": p}, grad=(0, 1))
        )
    for s1, s2, p in (
        ((5,), (5,), 2.0),
        ((), (), 2.0),
        ((3, 1, 4), (2, 4), 2.0),
        ((4, 5), (5,), 1.0),
        ((5,), (3, 5), math.inf),
    ):
        name = f"{shape_name(s1)}-{shape_name(s2)}-p={p}"
        (both if s1 == (3, 1, 4) else f64).append(
            Case(name, (_n(r, *s1), _n(r, *s2)), {"p": p}, grad=(0, 1))
        )
    for s in ((4, 5), ()):
        f64.append(
            Case(f"{shape_name(s)}-keepdim", (_n(r, *s), _n(r, *s)), {"keepdim": True}, grad=(0, 1))
        )
    f64.append(Case("4x5-eps=0", (x1, x2), {"eps": 0.0}, grad=(0, 1)))
    f64.append(Case("4x5-eps=1e-2-p=3", (x1, x2), {"eps": 1e-2, "p": 3.0}, grad=(0, 1)))
    # Degenerate rows (eps = 0, so the differences are exact): a zero difference (gradient 0
    # for every p), a zero entry (p < 1 masks |d|^(p-1) there), tied maxima / minima of |d|
    # (the inf-norms share the gradient among them).
    deg = np.array([[0.3, -0.2, 0.1], [0.5, -0.5, 0.25], [0.25, -0.75, 0.25], [0.3, 0.0, -0.3]])
    deg2 = np.zeros_like(deg)
    deg2[0] = deg[0]
    for p in _PS:
        (both if p in (2.0, 0.5, math.inf) else f64).append(
            Case(f"degenerate-eps=0-p={p}", (deg, deg2), {"p": p, "eps": 0.0}, grad=(0, 1))
        )
    # With the default eps, x1 - x2 + eps == 0 exactly (0 - eps + eps): gradient 0, not NaN.
    both.append(Case("zero-distance", (np.zeros((2, 3)), np.full((2, 3), 1e-6)), {}, grad=(0, 1)))
    f64.append(Case("empty-last-dim", (np.zeros((2, 0)), np.zeros((2, 0))), {}, grad=(0, 1)))
    f64.append(
        Case("empty-last-dim-p=inf-raises", (np.zeros((2, 0)), np.zeros((2, 0))), {"p": math.inf})
    )
    f64.append(Case("not-broadcastable-raises", (_n(r, 2, 4), _n(r, 3, 4)), {}))
    return _dtypes(f64, both, {"4x5-p=2.0", "4x5-p=1.0", "zero-distance"})


register(
    Component(
        name="functional.pairwise_distance",
        family="losses",
        jax_fn=pairwise_distance,
        torch_fn=lambda torch: torch.nn.functional.pairwise_distance,
        cases=_pairwise_cases,
    )
)


# ---- cosine_similarity --------------------------------------------------------------------------


def _cosine_similarity_cases():
    r = rng("cosine_similarity")
    both, f64 = [], []
    x1, x2 = _n(r, 4, 5), _n(r, 4, 5)
    both.append(Case("4x5", (x1, x2), {}, grad=(0, 1)))
    for s1, s2, dim in (
        ((5,), (5,), 0),
        ((5,), (5,), -1),
        ((2, 3, 4), (2, 3, 4), 0),
        ((2, 3, 4), (3, 4), -1),
        ((4, 1), (1, 5), 0),
        ((), (), 0),
    ):
        name = f"{shape_name(s1)}-{shape_name(s2)}-dim={dim}"
        (both if s2 == (3, 4) else f64).append(
            Case(name, (_n(r, *s1), _n(r, *s2)), {"dim": dim}, grad=(0, 1))
        )
    f64.append(Case("4x5-eps=0", (x1, x2), {"eps": 0.0}, grad=(0, 1)))
    # Norms below eps (the clamp is active and straight-through), and exact zero vectors (the
    # norm's gradient is 0 there): rows of x1 tiny / zero, a row of x2 zero.
    tiny = np.concatenate([_n(r, 2, 5, scale=1e-9), np.zeros((1, 5)), _n(r, 1, 5)])
    other = np.concatenate([_n(r, 3, 5), np.zeros((1, 5))])
    both.append(Case("below-eps-and-zero-rows", (tiny, other), {}, grad=(0, 1)))
    f64.append(Case("eps=1e-3-clamps-small-norms", (tiny * 1e6, other), {"eps": 1e-3}, grad=(0, 1)))
    f64.append(Case("1d-dim=1-raises", (_n(r, 5), _n(r, 5)), {}))
    f64.append(Case("negative-eps-raises", (x1, x2), {"eps": -1.0}))
    return _dtypes(f64, both, {"4x5", "2x3x4-3x4-dim=-1"})


register(
    Component(
        name="functional.cosine_similarity",
        family="losses",
        jax_fn=cosine_similarity,
        torch_fn=lambda torch: torch.nn.functional.cosine_similarity,
        cases=_cosine_similarity_cases,
    )
)


# ---- cosine_embedding_loss ----------------------------------------------------------------------


def _cosine_embedding_cases():
    r = rng("cosine_embedding_loss")
    both, f64 = [], []
    x1, x2 = _n(r, 6, 5), _n(r, 6, 5)
    y = np.array([1.0, -1.0, 1.0, -1.0, -1.0, 1.0])
    g = (0, 1)
    for red in REDUCTIONS:
        (both if red == "mean" else f64).append(
            Case(f"6x5-{red}", (x1, x2, y), {"reduction": red}, grad=g)
        )
    both.append(
        Case("6x5-none-margin=0.3", (x1, x2, y), {"margin": 0.3, "reduction": "none"}, grad=g)
    )
    f64.append(
        Case("6x5-sum-margin=-0.2", (x1, x2, y), {"margin": -0.2, "reduction": "sum"}, grad=g)
    )
    both.append(
        Case("unbatched-y=1-none", (x1[0], x2[0], np.asarray(1.0)), {"reduction": "none"}, grad=g)
    )
    f64.append(Case("unbatched-y=-1-mean", (x1[1], x2[1], np.asarray(-1.0)), {}, grad=g))
    f64.append(Case("int-target", (x1, x2, y.astype(np.int64)), {"reduction": "none"}, grad=g))
    f64.append(Case("target-grad-is-zero", (x1, x2, y), {"reduction": "sum"}, grad=(0, 1, 2)))
    f64.append(
        Case(
            "target-0-and-2",
            (x1, x2, np.array([1.0, 0.0, 2.0, -1.0, 0.0, 1.0])),
            {"reduction": "none"},
            grad=g,
        )
    )
    f64.append(Case("broadcast-input2", (x1, x2[:1], y), {"reduction": "none"}, grad=g))
    f64.append(Case("broadcast-target", (x1, x2, y[:1]), {"reduction": "none"}, grad=g))
    # Zero vectors: cos = 0 and a gradient ~1e6 (ATen's EPSILON, float32(1e-12), matters here);
    # with y = -1 and margin 0, cos - margin == 0 is a clamp tie through which torch passes it.
    z1 = x1.copy()
    z1[:3] = 0.0
    z2 = x2.copy()
    z2[2] = 0.0
    both.append(Case("zero-vectors", (z1, z2, y), {"reduction": "none"}, grad=g))
    f64.append(
        Case("empty-batch-mean", (np.zeros((0, 5)), np.zeros((0, 5)), np.zeros((0,))), {}, grad=g)
    )
    f64.append(Case("legacy-size_average=False", (x1, x2, y), {"size_average": False}, grad=g))
    f64.append(Case("legacy-reduce=False", (x1, x2, y), {"reduce": False}, grad=g))
    f64.append(Case("2d-target-raises", (x1, x2, y[None]), {}))
    f64.append(Case("1d-target-1d-inputs-raises", (x1[0], x2[0], y[:1]), {}))
    f64.append(Case("bad-reduction-raises", (x1, x2, y), {"reduction": "avg"}))
    return _dtypes(f64, both, {"6x5-mean", "zero-vectors"})


register(
    Component(
        name="functional.cosine_embedding_loss",
        family="losses",
        jax_fn=cosine_embedding_loss,
        torch_fn=lambda torch: torch.nn.functional.cosine_embedding_loss,
        cases=_cosine_embedding_cases,
    )
)


# ---- triplet_margin_loss ------------------------------------------------------------------------


def _triplets(r, *shape):
    a = _n(r, *shape)
    # positives near the anchor, negatives sometimes nearer the positive (so swap matters)
    return a, a + _n(r, *shape, scale=0.5), a + _n(r, *shape)


def _triplet_cases():
    r = rng("triplet_margin_loss")
    both, f64 = [], []
    a, p, n = _triplets(r, 6, 5)
    g = (0, 1, 2)
    for red in REDUCTIONS:
        (both if red == "mean" else f64).append(
            Case(f"6x5-{red}", (a, p, n), {"reduction": red}, grad=g)
        )
    both.append(Case("6x5-swap-none", (a, p, n), {"swap": True, "reduction": "none"}, grad=g))
    f64.append(Case("unbatched-mean", (a[0], p[0], n[0]), {}, grad=g))
    for pn, swap in ((1.0, True), (3.0, False), (0.5, False), (math.inf, True)):
        (both if pn == 1.0 else f64).append(
            Case(
                f"6x5-p={pn}-swap={swap}",
                (a, p, n),
                {"p": pn, "swap": swap, "reduction": "none"},
                grad=g,
            )
        )
    f64.append(Case("6x5-margin=2", (a, p, n), {"margin": 2.0, "reduction": "none"}, grad=g))
    f64.append(Case("6x5-eps=1e-2", (a, p, n), {"eps": 1e-2, "reduction": "none"}, grad=g))
    f64.append(Case("broadcast-positive", (a, p[:1], n), {"reduction": "none"}, grad=g))
    a3, p3, n3 = _triplets(r, 2, 3, 4)
    f64.append(Case("2x3x4", (a3, p3, n3), {"reduction": "none"}, grad=g))
    f64.append(Case("scalars", (a[0, 0], p[0, 0], n[0, 0]), {"reduction": "none"}, grad=g))
    # Degenerate: everything zero (distances eps*sqrt(D), loss = margin; swap ties d(a,n) with
    # d(p,n), whose gradient torch splits in halves); anchor == positive with eps = 0 (a zero
    # distance: gradient 0, not NaN).
    zeros = np.zeros((3, 4))
    both.append(
        Case("all-zero-swap", (zeros, zeros, zeros), {"swap": True, "reduction": "none"}, grad=g)
    )
    f64.append(
        Case(
            "a==p-eps=0-swap",
            (a, a.copy(), n),
            {"eps": 0.0, "swap": True, "reduction": "none"},
            grad=g,
        )
    )
    f64.append(Case("legacy-size_average=False", (a, p, n), {"size_average": False}, grad=g))
    f64.append(Case("legacy-reduce=False", (a, p, n), {"reduce": False}, grad=g))
    f64.append(Case("margin=0-raises", (a, p, n), {"margin": 0.0}))
    f64.append(Case("margin<0-raises", (a, p, n), {"margin": -1.0}))
    f64.append(Case("ndim-mismatch-raises", (a, p[0], n), {}))
    return _dtypes(f64, both, {"6x5-mean", "6x5-swap-none", "all-zero-swap"})


register(
    Component(
        name="functional.triplet_margin_loss",
        family="losses",
        jax_fn=triplet_margin_loss,
        torch_fn=lambda torch: torch.nn.functional.triplet_margin_loss,
        cases=_triplet_cases,
    )
)


# ---- triplet_margin_with_distance_loss ----------------------------------------------------------


def _torch_cosine_distance(x1, x2):
    import torch  # noqa: PLC0415  (the torch side of a Pair runs only inside a comparison)

    return 1.0 - torch.nn.functional.cosine_similarity(x1, x2, dim=-1)


_COSINE_DISTANCE = Pair(
    lambda x1, x2: 1.0 - cosine_similarity(x1, x2, dim=-1), _torch_cosine_distance
)


def _l1_distance(x1, x2):  # array methods both frameworks share
    return abs(x1 - x2).sum(-1)


def _triplet_distance_cases():
    r = rng("triplet_margin_with_distance_loss")
    both, f64 = [], []
    a, p, n = _triplets(r, 6, 5)
    g = (0, 1, 2)
    kw_cos = {"distance_function": _COSINE_DISTANCE, "reduction": "none"}
    both.append(Case("default-mean", (a, p, n), {}, grad=g))
    f64.append(Case("default-swap-none", (a, p, n), {"swap": True, "reduction": "none"}, grad=g))
    f64.append(Case("default-margin=2-sum", (a, p, n), {"margin": 2.0, "reduction": "sum"}, grad=g))
    both.append(Case("cosine-none", (a, p, n), kw_cos, grad=g))
    f64.append(Case("cosine-mean", (a, p, n), {**kw_cos, "reduction": "mean"}, grad=g))
    both.append(
        Case("cosine-swap-margin=0.2", (a, p, n), {**kw_cos, "swap": True, "margin": 0.2}, grad=g)
    )
    f64.append(
        Case(
            "l1-swap-sum",
            (a, p, n),
            {"distance_function": _l1_distance, "swap": True, "reduction": "sum"},
            grad=g,
        )
    )
    f64.append(Case("unbatched-default", (a[0], p[0], n[0]), {}, grad=g))
    f64.append(
        Case(
            "unbatched-cosine", (a[0], p[0], n[0]), {"distance_function": _COSINE_DISTANCE}, grad=g
        )
    )
    zeros = np.zeros((3, 4))
    f64.append(
        Case("all-zero-swap", (zeros, zeros, zeros), {"swap": True, "reduction": "none"}, grad=g)
    )
    f64.append(Case("cosine-zero-anchor", (zeros, p[:3, :4], n[:3, :4]), kw_cos, grad=g))
    f64.append(Case("margin=0-raises", (a, p, n), {"margin": 0.0}))
    f64.append(Case("legacy-reduction-name-raises", (a, p, n), {"reduction": "elementwise_mean"}))
    f64.append(Case("ndim-mismatch-raises", (a, p, n[0]), {}))
    return _dtypes(f64, both, {"default-mean", "cosine-none"})


register(
    Component(
        name="functional.triplet_margin_with_distance_loss",
        family="losses",
        jax_fn=triplet_margin_with_distance_loss,
        torch_fn=lambda torch: torch.nn.functional.triplet_margin_with_distance_loss,
        cases=_triplet_distance_cases,
    )
)
