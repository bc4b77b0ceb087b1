"""Parity cases: margin_ranking_loss, hinge_embedding_loss, soft_margin_loss,
multilabel_soft_margin_loss, multi_margin_loss, multilabel_margin_loss.

Random inputs are continuous, so hinge arguments are never exactly 0 by accident; each component
also has a deliberate kink case (argument exactly 0 in both float64 and float32), where torch's
gradient convention is matched: ``clamp_min`` passes the gradient (margin_ranking, hinge_embedding),
the C++ kernels' ``z > 0`` does not (multi_margin, multilabel_margin). torch's CPU kernels of
multi_margin / multilabel_margin have no bfloat16, so only the other four get bfloat16 cases.
"""

from __future__ import annotations

import numpy as np

from ...losses._margin import (
    hinge_embedding_loss,
    margin_ranking_loss,
    multi_margin_loss,
    multilabel_margin_loss,
    multilabel_soft_margin_loss,
    soft_margin_loss,
)
from .._gen import REDUCTIONS, rng, shape_name, with_dtypes
from .._harness import Case
from .._registry import Component, register


def _pm1(r, shape):
    return np.asarray(np.where(r.uniform(size=shape) < 0.5, -1.0, 1.0))


def _with_bf16(out, names):
    return list(with_dtypes(out)) + list(with_dtypes([c for c in out if c.name in names], ("bfloat16",)))


# ---- margin_ranking_loss -------------------------------------------------------------------


def _margin_ranking_cases():
    out = []
    for shape in ((), (7,), (4, 5)):
        r = rng("margin_ranking_loss", shape)
        s = shape_name(shape)
        x1, x2 = np.asarray(r.standard_normal(shape)), np.asarray(r.standard_normal(shape))
        y = _pm1(r, shape)
        for red in REDUCTIONS:
            out.append(Case(f"{s}-{red}", (x1, x2, y), {"reduction": red}, grad=(0, 1, 2)))
        for margin in (0.5, -0.3):
            out.append(Case(f"{s}-margin={margin}", (x1, x2, y), {"margin": margin, "reduction": "sum"}, grad=(0, 1, 2)))
    r = rng("margin_ranking_loss", "misc")
    x1, x2 = np.asarray(r.standard_normal((3, 4))), np.asarray(r.standard_normal((3, 4)))
    soft = np.asarray(r.uniform(-2, 2, (3, 4)))
    out.append(Case("soft-target-margin=0.2", (x1, x2, soft), {"margin": 0.2, "reduction": "none"}, grad=(0, 1, 2)))
    out.append(Case("int-target", (x1, x2, np.asarray(r.choice([-1, 0, 1], (3, 4)))), {"margin": 0.1}, grad=(0, 1)))
    out.append(Case("broadcast", (x1[:, :1], x2[:1, :], _pm1(r, (3, 4))), {"reduction": "none"}, grad=(0, 1, 2)))
    out.append(Case("positional-margin-red", (x1, x2, soft, 0.4, None, None, "sum"), {}, grad=(0, 1, 2)))
    out.append(Case("legacy-size_average=False", (x1, x2, soft), {"size_average": False}, grad=(0,)))
    out.append(Case("legacy-reduce=False", (x1, x2, soft), {"reduce": False}, grad=(0,)))
    out.append(Case("empty-mean", (np.zeros(0), np.zeros(0), np.zeros(0)), {}, grad=(0,)))
    # kink: x1 == x2 and margin 0 (and target 0 with margin 0): clamp_min passes the gradient
    tie = np.asarray(np.array([0.5, -1.0, 2.0, 0.25]))
    out.append(Case("kink-ties", (tie, tie.copy(), np.asarray(np.array([1.0, -1.0, 0.0, 1.0]))), {"reduction": "sum"}, grad=(0, 1, 2)))
    out.append(Case("error-ranks-differ", (x1, x2[0], soft), {}, grad=()))
    out.append(Case("error-not-broadcastable", (x1, np.asarray(r.standard_normal((3, 5))), soft), {}, grad=()))
    out.append(Case("error-reduction", (x1, x2, soft), {"reduction": "avg"}, grad=()))
    return _with_bf16(out, {"4x5-mean", "broadcast"})


# ---- hinge_embedding_loss ------------------------------------------------------------------


def _hinge_embedding_cases():
    out = []
    for shape in ((), (7,), (4, 5), (2, 3, 4)):
        r = rng("hinge_embedding_loss", shape)
        s = shape_name(shape)
        x = np.asarray(r.standard_normal(shape) * 1.5)
        y = _pm1(r, shape)
        for red in REDUCTIONS:
            out.append(Case(f"{s}-{red}", (x, y), {"reduction": red}, grad=(0,)))
        if shape == (4, 5):
            for margin in (0.0, -0.5, 2.0):
                out.append(Case(f"{s}-margin={margin}", (x, y), {"margin": margin, "reduction": "sum"}, grad=(0,)))
    r = rng("hinge_embedding_loss", "misc")
    x = np.asarray(r.standard_normal((3, 4)) * 1.5)
    other = np.asarray(r.choice([-1.0, 1.0, 0.0, 2.0, 0.5], (3, 4)))
    out.append(Case("other-target-values", (x, other), {"reduction": "none", "margin": 0.7}, grad=(0,)))
    out.append(Case("int-target", (x, np.asarray(r.choice([-1, 1, 0], (3, 4)))), {}, grad=(0,)))
    out.append(Case("target-broadcasts-up", (x[0], _pm1(r, (3, 4))), {"reduction": "none"}, grad=(0,)))
    out.append(Case("target-broadcasts-down", (x, _pm1(r, (4,))), {"reduction": "sum"}, grad=(0,)))
    out.append(Case("positional-margin-red", (x, other, 0.3, None, None, "sum"), {}, grad=(0,)))
    out.append(Case("legacy-size_average=False", (x, other), {"size_average": False}, grad=(0,)))
    out.append(Case("legacy-reduce=False", (x, other), {"reduce": False}, grad=(0,)))
    # kink: margin - x == 0 with y = -1; clamp_min passes the gradient (-1)
    kx = np.asarray(np.array([1.0, 0.5, 1.0, 0.25]))
    out.append(Case("kink", (kx, np.asarray(np.array([-1.0, -1.0, 0.0, 1.0]))), {"reduction": "sum"}, grad=(0,)))
    out.append(Case("error-not-broadcastable", (x, _pm1(r, (5,))), {}, grad=()))
    return _with_bf16(out, {"4x5-mean", "other-target-values"})


# ---- soft_margin_loss ----------------------------------------------------------------------


def _soft_margin_cases():
    out = []
    for shape in ((), (7,), (4, 5), (2, 3, 4)):
        r = rng("soft_margin_loss", shape)
        s = shape_name(shape)
        x = np.asarray(r.standard_normal(shape) * 2)
        y = _pm1(r, shape)
        for red in REDUCTIONS:
            out.append(Case(f"{s}-{red}", (x, y), {"reduction": red}, grad=(0,)))
    r = rng("soft_margin_loss", "misc")
    x = np.asarray(r.standard_normal((3, 4)) * 2)
    # moderately large |x y| (log1p(exp(z)) and the stable form agree where torch is finite)
    wide = np.asarray(np.array([-30.0, -12.0, -3.0, 0.0, 3.0, 12.0, 30.0]))
    out.append(Case("wide", (wide, _pm1(r, (7,))), {"reduction": "none"}, grad=(0,)))
    out.append(Case("soft-target", (x, np.asarray(r.uniform(-2, 2, (3, 4)))), {"reduction": "none"}, grad=(0,)))
    out.append(Case("int-target", (x, np.asarray(r.choice([-1, 1], (3, 4)))), {}, grad=(0,)))
    out.append(Case("target-broadcasts-to-input", (x, _pm1(r, (4,))), {"reduction": "none"}, grad=(0,)))
    out.append(Case("positional-red", (x, _pm1(r, (3, 4)), None, None, "sum"), {}, grad=(0,)))
    out.append(Case("legacy-size_average=False", (x, _pm1(r, (3, 4))), {"size_average": False}, grad=(0,)))
    out.append(Case("legacy-reduce=False", (x, _pm1(r, (3, 4))), {"reduce": False}, grad=(0,)))
    out.append(Case("error-target-larger", (x[0], _pm1(r, (3, 4))), {}, grad=()))
    return _with_bf16(out, {"4x5-mean", "wide"})


# ---- multilabel_soft_margin_loss -----------------------------------------------------------


def _multilabel_soft_margin_cases():
    out = []
    for shape in ((5,), (4, 5), (2, 3, 4)):
        r = rng("multilabel_soft_margin_loss", shape)
        s = shape_name(shape)
        x = np.asarray(r.standard_normal(shape) * 2)
        y = np.asarray((r.uniform(size=shape) < 0.4).astype(np.float64))
        w = np.asarray(r.uniform(0.2, 2.0, shape[-1]))
        for red in REDUCTIONS if shape == (4, 5) else ("none",) if shape == (5,) else ():
            out.append(Case(f"{s}-{red}", (x, y), {"reduction": red}, grad=(0, 1)))
        for red in REDUCTIONS if shape == (4, 5) else ("mean",):
            out.append(Case(f"{s}-{red}-weight", (x, y), {"weight": w, "reduction": red}, grad=(0, 1, "weight")))
    r = rng("multilabel_soft_margin_loss", "misc")
    x = np.asarray(r.standard_normal((3, 4)) * 2)
    y = np.asarray((r.uniform(size=(3, 4)) < 0.5).astype(np.float64))
    out.append(Case("soft-target", (x, np.asarray(r.uniform(size=(3, 4)))), {"reduction": "none"}, grad=(0, 1)))
    wide = np.asarray(np.array([[-30.0, -12.0, -3.0, 0.0], [3.0, 12.0, 30.0, 0.0]]))
    out.append(Case("wide", (wide, np.asarray(np.array([[1.0, 0, 1, 0], [0, 1, 0, 1]]))), {"reduction": "none"}, grad=(0, 1)))
    out.append(Case("int-target", (x, y.astype(np.int64)), {}, grad=(0,)))
    out.append(Case("weight-NxC", (x, y), {"weight": np.asarray(r.uniform(0.2, 2, (3, 4))), "reduction": "none"}, grad=(0, 1, "weight")))
    out.append(Case("weight-raises-rank", (x, y), {"weight": np.asarray(r.uniform(0.2, 2, (2, 3, 4))), "reduction": "none"}, grad=(0, 1, "weight")))
    # a target of higher rank than the input: torch still sums over axis input.dim()-1 of the loss
    out.append(Case("target-raises-rank", (x[0], y), {"reduction": "none"}, grad=(0, 1)))
    out.append(Case("positional-weight-red", (x, y, np.asarray(r.uniform(0.2, 2, 4)), None, None, "sum"), {}, grad=(0, 1, 2)))
    out.append(Case("legacy-reduce=False", (x, y), {"reduce": False}, grad=(0,)))
    out.append(Case("empty-batch", (np.zeros((0, 4)), np.zeros((0, 4))), {}, grad=(0,)))
    out.append(Case("error-0d-input", (np.asarray(0.5), np.asarray(1.0)), {}, grad=()))
    out.append(Case("error-elementwise_mean", (x, y), {"reduction": "elementwise_mean"}, grad=()))
    return _with_bf16(out, {"4x5-mean", "4x5-sum-weight"})


# ---- multi_margin_loss ---------------------------------------------------------------------


def _multi_margin_cases():
    out = []
    n_classes = 5
    for shape, tshape in (((4, n_classes), (4,)), ((n_classes,), ()), ((n_classes,), (1,)), ((1, n_classes), ())):
        r = rng("multi_margin_loss", shape, tshape)
        s = f"{shape_name(shape)}-t{shape_name(tshape)}"
        x = np.asarray(r.standard_normal(shape))
        y = np.asarray(r.integers(0, n_classes, tshape))
        w = np.asarray(r.uniform(0.2, 2.0, n_classes))
        if tshape == (4,):  # the batch: every reduction and p, and a weight
            combos = [(red, p) for red in REDUCTIONS for p in (1, 2)]
            out.append(Case(f"{s}-weight", (x, y), {"weight": w, "reduction": "none"}, grad=(0,)))
        elif tshape == ():  # the unbatched forms: 'none' fixes the output shape
            combos = [("none", 1), ("mean", 2)]
        else:
            combos = [("none", 2)]
        for red, p in combos:
            out.append(Case(f"{s}-{red}-p={p}", (x, y), {"p": p, "reduction": red}, grad=(0,)))
    r = rng("multi_margin_loss", "misc")
    x = np.asarray(r.standard_normal((6, n_classes)))
    y = np.asarray(r.integers(0, n_classes, 6))
    w = np.asarray(r.uniform(0.2, 2.0, n_classes))
    for margin, p in ((0.0, 1), (-0.5, 2), (2.5, 1)):
        out.append(Case(f"margin={margin}-p={p}-weight", (x, y), {"margin": margin, "p": p, "weight": w}, grad=(0,)))
    out.append(Case("p=2.0-float", (x, y), {"p": 2.0, "reduction": "sum"}, grad=(0,)))
    out.append(Case("0d-input", (np.asarray(0.3), np.asarray(0)), {"reduction": "none"}, grad=(0,)))
    out.append(Case("positional-all", (x, y, 2, 0.8, w, None, None, "sum"), {}, grad=(0,)))
    out.append(Case("legacy-reduce=False", (x, y), {"reduce": False}, grad=(0,)))
    # kink: margin - x_y + x_0 == 0 exactly; the kernel's `z > 0` gives no gradient there
    kx = np.asarray(np.array([[0.0, 1.0, 0.5, -2.0], [0.5, 0.5, 0.25, 0.0]]))
    for p in (1, 2):
        out.append(Case(f"kink-p={p}", (kx, np.asarray(np.array([1, 0]))), {"p": p, "reduction": "none"}, grad=(0,)))
    bad = y.copy()
    bad[2] = n_classes
    out.append(Case("error-target-too-large", (x, bad), {}, grad=()))
    neg = y.copy()
    neg[0] = -1
    out.append(Case("error-target-negative", (x, neg), {}, grad=()))
    out.append(Case("error-p=3", (x, y), {"p": 3}, grad=()))
    out.append(Case("error-target-2d", (x, y[:, None]), {}, grad=()))
    out.append(Case("error-target-size", (x, y[:4]), {}, grad=()))
    out.append(Case("error-input-3d", (x.reshape(6, n_classes, 1), y), {}, grad=()))
    out.append(Case("error-no-classes", (np.zeros((6, 0)), y), {}, grad=()))
    out.append(Case("error-weight-2d", (x, y), {"weight": w[None]}, grad=()))
    out.append(Case("error-weight-size", (x, y), {"weight": w[:3]}, grad=()))
    out.append(Case("error-float-target", (x, y.astype(np.float64)), {}, grad=()))
    return list(with_dtypes(out))


# ---- multilabel_margin_loss ----------------------------------------------------------------


def _label_lists(r, n, n_classes):
    """Rows of class lists ended by -1, with in-range garbage after the -1 (which torch ignores)."""
    rows = []
    for i in range(n):
        k = i % (n_classes + 1)  # 0 (empty list) .. n_classes (every class, no -1)
        row = list(r.permutation(n_classes)[:k])
        if k < n_classes:
            row.append(-1)
            row += list(r.integers(-1, n_classes, n_classes - len(row)))
        rows.append(row)
    return np.asarray(np.array(rows, dtype=np.int64))


def _multilabel_margin_cases():
    out = []
    n_classes = 5
    for n in (7, None):
        r = rng("multilabel_margin_loss", n)
        shape = (n, n_classes) if n else (n_classes,)
        s = shape_name(shape)
        x = np.asarray(r.standard_normal(shape))
        t = _label_lists(r, n or 1, n_classes).reshape(shape)
        if n is None:
            t = np.asarray(np.array([3, 0, -1, 4, -1]))
        for red in REDUCTIONS:
            out.append(Case(f"{s}-{red}", (x, t), {"reduction": red}, grad=(0,)))
    r = rng("multilabel_margin_loss", "misc")
    x = np.asarray(r.standard_normal((3, n_classes)))
    dup = np.asarray(np.array([[1, 1, 3, -1, 0], [2, 4, 2, 2, -1], [0, -1, -1, -1, -1]]))
    out.append(Case("duplicate-labels", (x, dup), {"reduction": "none"}, grad=(0,)))
    out.append(Case("0d-input", (np.asarray(0.3), np.asarray(0)), {"reduction": "none"}, grad=(0,)))
    out.append(Case("0d-input-t1", (np.asarray(0.3), np.asarray(np.array([-1]))), {}, grad=(0,)))
    out.append(Case("1-row", (x[:1], dup[:1]), {"reduction": "none"}, grad=(0,)))
    out.append(Case("positional-red", (x, dup, None, None, "sum"), {}, grad=(0,)))
    out.append(Case("legacy-size_average=False", (x, dup), {"size_average": False}, grad=(0,)))
    out.append(Case("legacy-reduce=False", (x, dup), {"reduce": False}, grad=(0,)))
    # kink: 1 - x_1 + x_0 == 0 exactly; the kernel's `z > 0` gives no gradient there
    kx = np.asarray(np.array([[0.0, 1.0, 0.5, -2.0]]))
    out.append(Case("kink", (kx, np.asarray(np.array([[1, -1, 0, 0]]))), {"reduction": "sum"}, grad=(0,)))
    oor = dup.copy()
    oor[2, 3] = n_classes  # after the -1: torch still checks it
    out.append(Case("error-out-of-range-after-end", (x, oor), {}, grad=()))
    low = dup.copy()
    low[0, 0] = -2
    out.append(Case("error-below-minus-one", (x, low), {}, grad=()))
    out.append(Case("error-target-shape", (x, dup[:, :4]), {}, grad=()))
    out.append(Case("error-1d-input-2d-target", (x[0], dup[:1]), {}, grad=()))
    out.append(Case("error-input-3d", (x[None], dup[None]), {}, grad=()))
    out.append(Case("error-float-target", (x, dup.astype(np.float64)), {}, grad=()))
    return list(with_dtypes(out))


for _name, _fn, _cases in (
    ("margin_ranking_loss", margin_ranking_loss, _margin_ranking_cases),
    ("hinge_embedding_loss", hinge_embedding_loss, _hinge_embedding_cases),
    ("soft_margin_loss", soft_margin_loss, _soft_margin_cases),
    ("multilabel_soft_margin_loss", multilabel_soft_margin_loss, _multilabel_soft_margin_cases),
    ("multi_margin_loss", multi_margin_loss, _multi_margin_cases),
    ("multilabel_margin_loss", multilabel_margin_loss, _multilabel_margin_cases),
):
    register(
        Component(
            name=f"functional.{_name}",
            family="losses",
            jax_fn=_fn,
            torch_fn=lambda torch, _n=_name: getattr(torch.nn.functional, _n),
            cases=_cases,
        )
    )
