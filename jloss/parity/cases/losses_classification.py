"""Parity cases: cross_entropy, nll_loss, binary_cross_entropy, binary_cross_entropy_with_logits,
linear_cross_entropy.

Gradients are compared w.r.t. ``input`` everywhere, w.r.t. ``target`` where torch differentiates it
(probability targets, BCE targets) and w.r.t. ``weight`` only with probability targets: torch's
``nll_loss`` (hence every class-index cross entropy) and both BCEs refuse a ``weight`` that
requires grad.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ...losses._classification import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    nll_loss,
)
from ...losses._linear_ce import LinearCrossEntropyOptions, linear_cross_entropy
from .._gen import REDUCTIONS, rng, with_dtypes
from .._harness import Case
from .._registry import Component, register


def _targets(r, shape, n_classes, ignored=0, ignore_index=-100):
    t = r.integers(0, n_classes, shape)
    flat = t.reshape(-1)
    flat[: min(ignored, flat.size)] = ignore_index
    return np.asarray(t)


def _probs(r, shape):
    z = r.standard_normal(shape)
    axis = 0 if len(shape) == 1 else 1
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return np.asarray(e / e.sum(axis=axis, keepdims=True))


def _log_probs(r, shape):
    return np.asarray(np.log(_probs(r, shape)))


def _bf16(cases, names):
    """bfloat16 copies of the named cases (loose tolerance; finite where torch is finite)."""
    picked = [c for c in cases if c.name in names]
    assert len(picked) == len(names), f"unknown case names in {names}"
    return [dataclasses.replace(c, dtype="bfloat16") for c in picked]


# ---- cross_entropy -----------------------------------------------------------------------------


def _ce_cases():
    r = rng("cross_entropy")
    out = []
    n, c = 6, 4
    x = np.asarray(r.standard_normal((n, c)) * 2)
    w = np.asarray(r.uniform(0.2, 3.0, c))
    t = _targets(r, (n,), c, ignored=2)
    p = _probs(r, (n, c))
    # every option under 'mean'; a spread of them under 'none' / 'sum' (kept lean: compile time)
    per_reduction = {
        "mean": ("plain", "weight-ignore", "ls", "ls-weight-ignore", "prob-weight", "prob-ls"),
        "none": ("plain", "ls-weight-ignore", "prob-weight"),
        "sum": ("weight-ignore", "prob-ls"),
    }
    for red, kinds in per_reduction.items():
        options = {
            "plain": ((x, _targets(r, (n,), c)), {}, (0,)),
            "weight-ignore": ((x, t), {"weight": w}, (0,)),
            "ls": ((x, t), {"label_smoothing": 0.2}, (0,)),
            "ls-weight-ignore": ((x, t), {"weight": w, "label_smoothing": 0.35}, (0,)),
            "prob-weight": ((x, p), {"weight": w}, (0, 1, "weight")),
            "prob-ls": ((x, p), {"label_smoothing": 0.1}, (0, 1)),
        }
        for kind in kinds:
            args, kw, grad = options[kind]
            out.append(Case(f"6x4-{red}-{kind}", args, {"reduction": red, **kw}, grad=grad))
    allign = np.full((n,), -100)
    out += [
        Case("6x4-all-ignored-mean", (x, allign), {"weight": w}, grad=(0,)),
        Case("6x4-all-ignored-sum", (x, allign), {"reduction": "sum"}, grad=(0,)),
        Case("6x4-all-ignored-ls-weight-mean", (x, allign), {"weight": w, "label_smoothing": 0.3}, grad=(0,)),
        # every target has weight 0: total weight 0, so torch's loss and input gradient are NaN
        Case("6x4-zero-target-weights", (x, np.zeros((n,), np.int64)),
             {"weight": np.asarray([0.0, 1.0, 1.0, 1.0])}, grad=(0,)),
        Case("6x4-ignore_index=1", (x, t), {"ignore_index": 1, "reduction": "none"}, grad=(0,)),
        Case("6x4-ls=1", (x, t), {"label_smoothing": 1.0, "weight": w}, grad=(0,)),
        Case("6x4-large-logits", (x * 200, t), {"reduction": "sum"}, grad=(0,)),
        Case("legacy-size_average=False", (x, t), {"size_average": False}, grad=(0,)),
        Case("legacy-reduce=False", (x, t), {"reduce": False, "weight": w}, grad=(0,)),
    ]
    # unbatched (C,)
    xu = np.asarray(r.standard_normal(5))
    out += [
        Case("5-none-ls-weight", (xu, np.asarray(1)),
             {"reduction": "none", "label_smoothing": 0.25, "weight": np.asarray(r.uniform(0.5, 2, 5))},
             grad=(0,)),
        Case("5-ignored-mean", (xu, np.asarray(-100)), {}, grad=(0,)),
        Case("5-prob-sum-weight", (xu, _probs(r, (5,))),
             {"reduction": "sum", "weight": np.asarray(r.uniform(0.5, 2, 5))}, grad=(0, 1, "weight")),
    ]
    # K-dimensional (N, C, d1) and (N, C, d1, d2)
    xk = np.asarray(r.standard_normal((2, 3, 4)))
    wk = np.asarray(r.uniform(0.2, 3.0, 3))
    tk = _targets(r, (2, 4), 3, ignored=3)
    xk2 = np.asarray(r.standard_normal((2, 3, 2, 3)))
    tk2 = _targets(r, (2, 2, 3), 3, ignored=2)
    out += [
        Case("2x3x4-mean-weight-ignore", (xk, tk), {"weight": wk}, grad=(0,)),
        Case("2x3x4-none-ls-weight", (xk, tk), {"reduction": "none", "weight": wk, "label_smoothing": 0.15},
             grad=(0,)),
        Case("2x3x4-mean-prob-ls-weight", (xk, _probs(r, (2, 3, 4))),
             {"weight": wk, "label_smoothing": 0.2}, grad=(0, 1, "weight")),
        Case("2x3x2x3-sum-ls-weight-ignore", (xk2, tk2),
             {"reduction": "sum", "weight": wk, "label_smoothing": 0.3}, grad=(0,)),
    ]
    # torch refuses: jloss must refuse too
    out += [
        Case("error-target-out-of-range", (x, np.asarray([0, 1, 4, 2, 3, 0])), {}),
        Case("error-target-negative", (x, np.asarray([0, 1, -1, 2, 3, 0])), {"reduction": "none"}),
        Case("error-prob-with-ignore_index", (x, p), {"ignore_index": 0}),
        Case("error-weight-size", (x, t), {"weight": np.ones(5)}),
        Case("error-ls>1", (x, t), {"label_smoothing": 1.5}),
        Case("error-batch-mismatch", (x, t[:5]), {}),
        Case("error-kdim-target", (xk, tk[:, :3]), {}),
    ]
    cases = list(with_dtypes(out))
    cases += _bf16(out, ["6x4-mean-weight-ignore", "6x4-mean-ls-weight-ignore", "6x4-none-prob-weight", "2x3x4-none-ls-weight"])
    return cases


register(
    Component(
        name="functional.cross_entropy",
        family="losses",
        jax_fn=cross_entropy,
        torch_fn=lambda torch: torch.nn.functional.cross_entropy,
        cases=_ce_cases,
    )
)


# ---- nll_loss ----------------------------------------------------------------------------------


def _nll_cases():
    r = rng("nll_loss")
    n, c = 6, 4
    x = _log_probs(r, (n, c))
    w = np.asarray(r.uniform(0.2, 3.0, c))
    t = _targets(r, (n,), c, ignored=2)
    out = []
    for red in REDUCTIONS:
        out += [
            Case(f"6x4-{red}", (x, _targets(r, (n,), c)), {"reduction": red}, grad=(0,)),
            Case(f"6x4-{red}-weight-ignore", (x, t), {"reduction": red, "weight": w}, grad=(0,)),
        ]
    xk = _log_probs(r, (2, 3, 4))
    xk2 = _log_probs(r, (2, 3, 2, 2))
    out += [
        # raw scores (not log-probabilities) are accepted as is
        Case("6x4-raw-mean-weight", (np.asarray(r.standard_normal((n, c))), t), {"weight": w}, grad=(0,)),
        Case("6x4-all-ignored-mean", (x, np.full((n,), -100)), {"weight": w}, grad=(0,)),
        Case("6x4-ignore_index=2-sum", (x, t), {"ignore_index": 2, "reduction": "sum"}, grad=(0,)),
        Case("2x3x4-mean-weight-ignore", (xk, _targets(r, (2, 4), 3, ignored=2)),
             {"weight": np.asarray(r.uniform(0.5, 2, 3))}, grad=(0,)),
        Case("2x3x2x2-none", (xk2, _targets(r, (2, 2, 2), 3, ignored=1)), {"reduction": "none"}, grad=(0,)),
        Case("4-none", (_log_probs(r, (4,)), np.asarray(2)), {"reduction": "none"}, grad=(0,)),
        Case("4-ignored-mean", (_log_probs(r, (4,)), np.asarray(-100)), {}, grad=(0,)),
        Case("legacy-size_average=False", (x, t), {"size_average": False, "weight": w}, grad=(0,)),
        Case("legacy-reduce=False", (x, t), {"reduce": False}, grad=(0,)),
        Case("legacy-size_average=True-reduce=True", (x, t), {"size_average": True, "reduce": True}, grad=(0,)),
        Case("error-target-out-of-range", (x, np.asarray([0, 1, 4, 2, 3, 0])), {}),
        Case("error-float-target", (x, np.zeros((n,))), {}),
    ]
    cases = list(with_dtypes(out))
    cases += _bf16(out, ["6x4-mean-weight-ignore", "2x3x4-mean-weight-ignore"])
    return cases


register(
    Component(
        name="functional.nll_loss",
        family="losses",
        jax_fn=nll_loss,
        torch_fn=lambda torch: torch.nn.functional.nll_loss,
        cases=_nll_cases,
    )
)


# ---- binary_cross_entropy ----------------------------------------------------------------------


def _bce_cases():
    r = rng("binary_cross_entropy")
    out = []
    for shape in ((7,), (4, 5), (2, 3, 4)):
        s = "x".join(map(str, shape))
        x = np.asarray(r.uniform(0.02, 0.98, shape))
        y = np.asarray(r.uniform(0.0, 1.0, shape))
        yh = np.asarray(r.integers(0, 2, shape).astype(np.float64))
        w = np.asarray(r.uniform(0.2, 2.0, shape[-1:]))
        for red in REDUCTIONS:
            out.append(Case(f"{s}-{red}-soft", (x, y), {"reduction": red}, grad=(0, 1)))
        out.append(Case(f"{s}-mean-hard-weight-lastdim", (x, yh), {"weight": w}, grad=(0, 1)))
    xe = np.asarray([0.0, 1.0, 0.0, 1.0, 1e-30, 0.5, 1.0 - 1e-7])
    ye = np.asarray([1.0, 0.0, 0.0, 1.0, 1.0, 0.5, 0.25])
    out += [
        # log clamped at -100; input gradient (x - y) / max(x (1 - x), 1e-12) = +-1e12 at 0 / 1;
        # target gradient -logit(x) = +-inf there
        Case("edge-probabilities-none", (xe, ye), {"reduction": "none"}, grad=(0, 1)),
        Case("edge-probabilities-mean", (xe, ye), {}, grad=(0, 1)),
        Case("4x5-sum-weight-2d", (np.asarray(r.uniform(0.05, 0.95, (4, 5))), np.asarray(r.uniform(0, 1, (4, 5)))),
             {"reduction": "sum", "weight": np.asarray(r.uniform(0.2, 2.0, (4, 1)))}, grad=(0, 1)),
        Case("legacy-size_average=False", (xe, ye), {"size_average": False}, grad=(0,)),
        Case("legacy-reduce=False", (xe, ye), {"reduce": False}, grad=(0,)),
        Case("error-input-out-of-range", (np.asarray([0.5, 1.5]), np.asarray([0.0, 1.0])), {}),
        Case("error-target-out-of-range", (np.asarray([0.5, 0.5]), np.asarray([0.0, -0.5])), {}),
        Case("error-shape", (np.asarray([0.5, 0.5]), np.asarray([0.0])), {}),
        Case("error-weight-shape", (np.asarray([0.5, 0.5]), np.asarray([0.0, 1.0])), {"weight": np.ones((2, 2))}),
    ]
    cases = list(with_dtypes(out))
    cases += _bf16(out, ["7-mean-soft", "4x5-mean-hard-weight-lastdim", "edge-probabilities-mean"])
    return cases


register(
    Component(
        name="functional.binary_cross_entropy",
        family="losses",
        jax_fn=binary_cross_entropy,
        torch_fn=lambda torch: torch.nn.functional.binary_cross_entropy,
        cases=_bce_cases,
    )
)


# ---- binary_cross_entropy_with_logits ----------------------------------------------------------


def _bcel_cases():
    r = rng("binary_cross_entropy_with_logits")
    out = []
    for shape in ((7,), (4, 5), (2, 3, 4)):
        s = "x".join(map(str, shape))
        x = np.asarray(r.standard_normal(shape) * 3)
        y = np.asarray(r.uniform(0.0, 1.0, shape))
        pw = np.asarray(r.uniform(0.5, 4.0, shape[-1:]))
        w = np.asarray(r.uniform(0.2, 2.0, shape[-1:]))
        for red in REDUCTIONS:
            out.append(Case(f"{s}-{red}", (x, y), {"reduction": red}, grad=(0, 1)))
        out.append(Case(f"{s}-none-pos_weight", (x, y), {"reduction": "none", "pos_weight": pw}, grad=(0, 1)))
        out.append(Case(f"{s}-mean-weight-pos_weight", (x, y), {"weight": w, "pos_weight": pw}, grad=(0, 1)))
    xs = np.asarray([1e4, -1e4, 1e4, -1e4, 1e4, -1e4, 0.0, 30.0, -30.0])
    ys = np.asarray([1.0, 1.0, 0.0, 0.0, 0.3, 0.3, 1.0, 0.0, 1.0])
    x2 = np.asarray(r.standard_normal((4, 5)))
    y2 = np.asarray(r.integers(0, 2, (4, 5)).astype(np.float64))
    out += [
        Case("logits+-1e4-none", (xs, ys), {"reduction": "none"}, grad=(0, 1)),
        Case("logits+-1e4-sum-pos_weight", (xs, ys), {"reduction": "sum", "pos_weight": np.asarray([3.0])},
             grad=(0, 1)),
        Case("4x5-sum-weight-col-pos_weight-full", (x2, y2),
             {"reduction": "sum", "weight": np.asarray(r.uniform(0.2, 2.0, (4, 1))),
              "pos_weight": np.asarray(r.uniform(0.5, 3.0, (4, 5)))}, grad=(0, 1)),
        Case("legacy-size_average=False", (x2, y2), {"size_average": False}, grad=(0,)),
        Case("legacy-reduce=False", (x2, y2), {"reduce": False}, grad=(0,)),
        Case("error-shape", (x2, y2[:, :4]), {}),
        Case("error-weight-grows", (x2[0], y2[0]), {"weight": np.ones((2, 5))}),
        Case("error-pos_weight-shape", (x2, y2), {"pos_weight": np.ones(4)}),
    ]
    cases = list(with_dtypes(out))
    cases += _bf16(out, ["7-mean-weight-pos_weight", "logits+-1e4-none", "logits+-1e4-sum-pos_weight"])
    return cases


register(
    Component(
        name="functional.binary_cross_entropy_with_logits",
        family="losses",
        jax_fn=binary_cross_entropy_with_logits,
        torch_fn=lambda torch: torch.nn.functional.binary_cross_entropy_with_logits,
        cases=_bcel_cases,
    )
)


# ---- linear_cross_entropy ----------------------------------------------------------------------


def _torch_linear_ce(torch):
    """torch's ``linear_cross_entropy``; a jloss options object becomes torch's own options."""

    def f(*args, options=None, **kwargs):
        if options is not None:
            options = torch.nn.LinearCrossEntropyOptions(
                batch_chunk_size=options.batch_chunk_size, chunking_method=options.chunking_method
            )
        return torch.nn.functional.linear_cross_entropy(*args, options=options, **kwargs)

    return f


def _lce_cases():
    r = rng("linear_cross_entropy")
    n, fin, c = 7, 3, 5
    h = np.asarray(r.standard_normal((n, fin)))
    lw = np.asarray(r.standard_normal((c, fin)))
    lb = np.asarray(r.standard_normal(c))
    w = np.asarray(r.uniform(0.2, 3.0, c))
    t = _targets(r, (n,), c, ignored=2)
    lwk = np.asarray(r.standard_normal((4, 2, fin)))
    lbk = np.asarray(r.standard_normal((4, 2)))
    tk = _targets(r, (n, 2), 4, ignored=3)
    opts = LinearCrossEntropyOptions(batch_chunk_size=3, chunking_method=None)
    g3 = (0, 1, "linear_bias")
    out = [
        Case("7x3-5-sum-bias-weight-ignore", (h, lw, t), {"linear_bias": lb, "weight": w, "reduction": "sum"},
             grad=g3),
        Case("7x3-5-none-bias-ls", (h, lw, t), {"linear_bias": lb, "label_smoothing": 0.2, "reduction": "none"},
             grad=g3),
        Case("7x3-5-mean-ls-weight-ignore_index=0", (h, lw, np.where(t < 0, 0, t)),
             {"weight": w, "label_smoothing": 0.3, "ignore_index": 0}, grad=(0, 1)),
        Case("7x3-5-mean-prob-weight-ls", (h, lw, _probs(r, (n, c))),
             {"linear_bias": lb, "weight": w, "label_smoothing": 0.1}, grad=g3 + (2, "weight")),
        Case("7x3-5-all-ignored-mean", (h, lw, np.full((n,), -100)), {"linear_bias": lb}, grad=g3),
        Case("7x3-5-mean-options-chunk3", (h, lw, t), {"linear_bias": lb, "options": opts}, grad=g3),
        Case("7x3-4x2-mean-kdim-bias-weight", (h, lwk, tk),
             {"linear_bias": lbk, "weight": np.asarray(r.uniform(0.2, 3.0, 4))}, grad=g3),
        Case("7x3-4x2-none-kdim-prob", (h, lwk, _probs(r, (n, 4, 2))), {"reduction": "none"}, grad=(0, 1, 2)),
        Case("3-5-unbatched-mean-bias", (h[0], lw, np.asarray(4)), {"linear_bias": lb}, grad=g3),
        Case("error-target-out-of-range", (h, lw, np.asarray([0, 1, 5, 2, 3, 0, 1])), {}),
        Case("error-in_features", (h, lw[:, :2], t), {}),
        Case("error-bias-shape", (h, lw, t), {"linear_bias": lb[:4]}),
        Case("error-prob-with-ignore_index", (h, lw, _probs(r, (n, c))), {"ignore_index": -100}),
        Case("error-kdim-unbatched", (h[0], lwk, np.asarray(0)), {}),
    ]
    cases = list(with_dtypes(out))
    cases += _bf16(out, ["7x3-5-sum-bias-weight-ignore", "7x3-5-mean-prob-weight-ls"])
    return cases


register(
    Component(
        name="functional.linear_cross_entropy",
        family="losses",
        jax_fn=linear_cross_entropy,
        torch_fn=_torch_linear_ce,
        cases=_lce_cases,
    )
)
