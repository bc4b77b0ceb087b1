"""Differential fuzzing of the regression, classification and divergence losses against torch.

Each strategy draws a whole call (shapes incl. empty batches, size-1 dims, unbatched and
K-dimensional inputs; dtypes f64 / f32 / bf16 / f16; every option; edge values) as a parity
:class:`~jloss.parity._harness.Case`; :func:`_strategies.compare` runs it through jloss and torch:
same value, same gradient, or both raise (and then ``jloss.checked`` raises too).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _strategies import (
    DIM,
    DTYPES,
    JIT,
    REDUCTIONS,
    SEEDS,
    VALUE_KINDS,
    Drawn,
    compare,
    fuzz,
    log,
    probs,
    shapes,
    values,
)
from hypothesis import given
from hypothesis import strategies as st

import jloss.functional as F
from jloss.parity._harness import Case

TF = torch.nn.functional
INT_DTYPES = st.sampled_from([np.int64, np.int64, np.int32, np.int16])


def _legacy(draw, kwargs: dict) -> dict:
    """Sometimes torch's deprecated size_average / reduce instead of reduction."""
    if draw(st.integers(0, 7)) == 0:
        kwargs.pop("reduction", None)
        kwargs["size_average"] = draw(st.sampled_from([None, True, False]))
        kwargs["reduce"] = draw(st.sampled_from([None, True, False]))
    return kwargs


def _inner_shape(draw, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts to ``shape`` without growing it (trailing dims, some set to 1)."""
    tail = shape[draw(st.integers(0, len(shape))):]
    return tuple(1 if draw(st.booleans()) else d for d in tail)


def _bcast_shape(draw, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts with ``shape``: the same, trailing dims, size-1 dims, or bigger."""
    kind = draw(st.sampled_from(["same", "same", "same", "trailing", "ones", "bigger"]))
    if kind == "trailing" and shape:
        return shape[draw(st.integers(1, len(shape))):]
    if kind == "ones" and shape:
        return tuple(1 if draw(st.booleans()) else d for d in shape)
    if kind == "bigger":
        return (draw(DIM), *shape)
    return shape


# ---- regression ---------------------------------------------------------------------------------


@st.composite
def pointwise(draw, name: str):
    r = np.random.default_rng(draw(SEEDS))
    shape = draw(shapes(0, 4))
    x = values(r, shape, draw(VALUE_KINDS))
    y = values(r, _bcast_shape(draw, shape), draw(VALUE_KINDS))
    kw: dict = {"reduction": draw(REDUCTIONS)}
    grad: tuple = (0, 1)
    if name in ("l1_loss", "mse_loss", "huber_loss") and draw(st.booleans()):
        kw["weight"] = np.abs(values(r, shape)) * draw(st.sampled_from([1.0, 0.0]))
        grad += ("weight",)
    if name == "huber_loss":
        kw["delta"] = draw(st.sampled_from([1.0, 0.5, 2.0, 1e-3, 0.0, -1.0]))
    elif name == "smooth_l1_loss":
        kw["beta"] = draw(st.sampled_from([1.0, 0.5, 2.0, 0.0, -1.0]))
    if name != "huber_loss":
        kw = _legacy(draw, kw)
    return Drawn(Case(name, (x, y), kw, grad=grad, dtype=draw(DTYPES)), draw(JIT))


@st.composite
def poisson(draw):
    r = np.random.default_rng(draw(SEEDS))
    shape = draw(shapes(0, 3))
    log_input = draw(st.booleans())
    yshape = _bcast_shape(draw, shape)
    kind = draw(VALUE_KINDS)
    if 0 in np.broadcast_shapes(shape, yshape) and (math.prod(shape) or math.prod(yshape)):
        # an empty broadcast of a non-empty operand: torch's gradient for it is (an empty sum, 0)
        # times the derivative, NaN where that is infinite (exp(x) overflowed; the Stirling term's
        # log at target 0); jloss's is 0. inf arithmetic, not a loss difference
        yshape = shape
    x = values(r, shape, kind)
    if not log_input:
        x = np.abs(x) if draw(st.integers(0, 2)) else np.zeros(shape)
    y = r.poisson(draw(st.sampled_from([0.5, 3.0])), yshape).astype(np.float64)
    kw = {"log_input": log_input, "full": draw(st.booleans()), "eps": draw(st.sampled_from([1e-8, 1e-3, 0.5])),
          "reduction": draw(REDUCTIONS)}
    return Drawn(Case("poisson_nll_loss", (x, y), _legacy(draw, kw), grad=(0, 1), dtype=draw(DTYPES)), draw(JIT))


@st.composite
def gaussian(draw):
    r = np.random.default_rng(draw(SEEDS))
    shape = draw(shapes(1, 3))
    x, y = values(r, shape, draw(VALUE_KINDS)), values(r, shape, draw(VALUE_KINDS))
    vkind = draw(st.sampled_from(["same", "same", "last1", "nolast", "float", "bad"]))
    vshape = {"last1": (*shape[:-1], 1), "nolast": shape[:-1], "bad": (*shape, 2)}.get(vkind, shape)
    var = np.abs(values(r, vshape)) * draw(st.sampled_from([1.0, 1.0, 1e-8, 0.0]))
    if draw(st.integers(0, 5)) == 0 and var.size:
        var.reshape(-1)[0] = -1.0  # torch: "var has negative entry/entries"
    grad: tuple = (0, 1)
    if vkind == "float":
        var = float(draw(st.sampled_from([1.0, 0.5, 1e-9])))
    else:
        grad += (2,)
    kw = {"full": draw(st.booleans()), "eps": draw(st.sampled_from([1e-6, 1e-2])), "reduction": draw(REDUCTIONS)}
    return Drawn(Case("gaussian_nll_loss", (x, y, var), kw, grad=grad, dtype=draw(DTYPES)), draw(JIT))


@st.composite
def kl(draw):
    r = np.random.default_rng(draw(SEEDS))
    shape = draw(shapes(0, 3))
    log_target = draw(st.booleans())
    if shape:
        x = log(probs(r, shape, -1, hard=draw(st.booleans())))
        y = probs(r, shape, -1, hard=draw(st.booleans()))
    else:
        x, y = values(r, shape) - 1, np.asarray(r.uniform())
    kind = draw(VALUE_KINDS)
    if kind != "normal":
        x = values(r, shape, kind)
    if log_target:
        y = log(y)
    kw = {"reduction": draw(st.sampled_from(["none", "mean", "sum", "batchmean"])), "log_target": log_target}
    return Drawn(Case("kl_div", (x, y), _legacy(draw, kw), grad=(0, 1), dtype=draw(DTYPES)), draw(JIT))


# ---- classification -----------------------------------------------------------------------------


def _class_targets(draw, r, shape, n_classes: int, ignore_index: int):
    dt = draw(INT_DTYPES)
    t = r.integers(0, max(n_classes, 1), shape)
    mode = draw(st.sampled_from(["plain", "plain", "some-ignored", "all-ignored", "out-of-range"]))
    flat = t.reshape(-1)
    if flat.size and mode == "some-ignored":
        flat[r.random(flat.size) < 0.4] = ignore_index
    elif mode == "all-ignored":
        flat[:] = ignore_index
    elif flat.size and mode == "out-of-range":
        flat[r.integers(0, flat.size)] = draw(st.sampled_from([n_classes, -1, n_classes + 3, -7]))
    return t.reshape(shape).astype(dt)


def _class_shape(draw) -> tuple[int, ...]:
    c = draw(st.sampled_from([1, 2, 3, 5]))
    kind = draw(st.sampled_from(["unbatched", "batched", "batched", "kdim"]))
    if kind == "unbatched":
        return (c,)
    if kind == "batched":
        return (draw(DIM), c)
    return (draw(DIM), c, *draw(shapes(1, 2)))


def _logits(draw, r, shape):
    kind = draw(st.sampled_from(["normal", "normal", "large", "zeros", "nonfinite", "huge"]))
    if kind == "huge":  # logits of +-1e4: saturated softmax, exact probabilities 0 and 1
        return np.where(r.random(shape) < 0.5, -1e4, 1e4) * r.uniform(0.5, 1, shape)
    return values(r, shape, kind, scale=2.0)


@st.composite
def cross_entropy(draw, name: str = "cross_entropy"):
    r = np.random.default_rng(draw(SEEDS))
    shape = _class_shape(draw)
    c = shape[0] if len(shape) == 1 else shape[1]
    x = _logits(draw, r, shape)
    if name == "nll_loss" and draw(st.booleans()):
        x = log(probs(r, shape, 0 if len(shape) == 1 else 1, hard=draw(st.booleans())))
    ignore_index = draw(st.sampled_from([-100, -100, 0, 1, -1]))
    kw: dict = {"reduction": draw(REDUCTIONS), "ignore_index": ignore_index}
    grad: tuple = (0,)
    prob = name == "cross_entropy" and draw(st.integers(0, 3)) == 0
    if prob:
        y = probs(r, shape, 0 if len(shape) == 1 else 1, hard=draw(st.booleans()))
        if draw(st.integers(0, 4)):
            kw["ignore_index"] = -100  # torch refuses a non-negative ignore_index here
        grad += (1,)
    else:
        tshape = () if len(shape) == 1 else (shape[0], *shape[2:])
        y = _class_targets(draw, r, tshape, c, ignore_index)
    if draw(st.booleans()):
        kw["weight"] = r.uniform(0.0, 3.0, c) * draw(st.sampled_from([1.0, 1.0, 0.0]))
        if prob:
            grad += ("weight",)
    if name == "cross_entropy":
        kw["label_smoothing"] = draw(st.sampled_from([0.0, 0.0, 0.1, 0.5, 1.0]))
    return Drawn(Case(name, (x, y), _legacy(draw, kw), grad=grad, dtype=draw(DTYPES)), draw(JIT))


def _unit_interval(draw, r, shape):
    kind = draw(st.sampled_from(["uniform", "uniform", "hard", "edges", "outside", "nonfinite"]))
    x = r.uniform(0, 1, shape)
    if kind == "hard":
        x = np.round(x)
    elif kind == "edges" and x.size:
        x.reshape(-1)[r.random(x.size) < 0.5] = r.choice([0.0, 1.0])
    elif kind == "outside" and x.size:
        x.reshape(-1)[0] = draw(st.sampled_from([-0.5, 1.5]))
    elif kind == "nonfinite" and x.size:
        x.reshape(-1)[0] = np.nan
    return np.asarray(x, np.float64)


@st.composite
def bce(draw, name: str):
    r = np.random.default_rng(draw(SEEDS))
    shape = draw(shapes(0, 3))
    if name == "binary_cross_entropy":
        x = _unit_interval(draw, r, shape)
    else:
        x = _logits(draw, r, shape)
    y = _unit_interval(draw, r, shape) if name == "binary_cross_entropy" else r.uniform(0, 1, shape)
    if name != "binary_cross_entropy" and draw(st.booleans()):
        y = np.round(y)
    kw: dict = {"reduction": draw(REDUCTIONS)}
    if draw(st.booleans()):
        kw["weight"] = r.uniform(0, 2, _inner_shape(draw, shape))
    if name != "binary_cross_entropy" and draw(st.booleans()):
        kw["pos_weight"] = r.uniform(0, 3, _inner_shape(draw, shape))
    return Drawn(Case(name, (x, y), _legacy(draw, kw), grad=(0, 1), dtype=draw(DTYPES)), draw(JIT))


# ---- the table ----------------------------------------------------------------------------------

LOSSES = {
    "l1_loss": (pointwise("l1_loss"), F.l1_loss, TF.l1_loss),
    "mse_loss": (pointwise("mse_loss"), F.mse_loss, TF.mse_loss),
    "huber_loss": (pointwise("huber_loss"), F.huber_loss, TF.huber_loss),
    "smooth_l1_loss": (pointwise("smooth_l1_loss"), F.smooth_l1_loss, TF.smooth_l1_loss),
    "poisson_nll_loss": (poisson(), F.poisson_nll_loss, TF.poisson_nll_loss),
    "gaussian_nll_loss": (gaussian(), F.gaussian_nll_loss, TF.gaussian_nll_loss),
    "kl_div": (kl(), F.kl_div, TF.kl_div),
    "cross_entropy": (cross_entropy(), F.cross_entropy, TF.cross_entropy),
    "nll_loss": (cross_entropy("nll_loss"), F.nll_loss, TF.nll_loss),
    "binary_cross_entropy": (bce("binary_cross_entropy"), F.binary_cross_entropy, TF.binary_cross_entropy),
    "binary_cross_entropy_with_logits": (bce("binary_cross_entropy_with_logits"),
                                         F.binary_cross_entropy_with_logits,
                                         TF.binary_cross_entropy_with_logits),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
@fuzz(default=3, long=300)
@given(data=st.data())
def test_fuzz_loss(name, data):
    strategy, jfn, tfn = LOSSES[name]
    d = data.draw(strategy)
    compare(name, jfn, tfn, d.case, jit=d.jit)
