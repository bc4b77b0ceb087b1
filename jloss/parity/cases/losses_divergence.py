"""Parity cases: kl_div."""

from __future__ import annotations

import dataclasses

import numpy as np

from ...losses._divergence import kl_div
from .._gen import POINTWISE_SHAPES, rng, shape_name, with_dtypes
from .._harness import Case
from .._registry import Component, register

_REDUCTIONS = ("none", "mean", "sum", "batchmean")


def _log_softmax(z: np.ndarray) -> np.ndarray:
    if z.ndim == 0:
        return np.asarray(np.log(0.3))
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _kl_div_cases():
    out = []
    for shape in POINTWISE_SHAPES:
        r = rng("kl_div", shape)
        s = shape_name(shape)
        x = _log_softmax(r.standard_normal(shape))  # log q
        y = np.exp(_log_softmax(r.standard_normal(shape)))  # p
        for red in _REDUCTIONS:
            out.append(Case(f"{s}-{red}", (x, y), {"reduction": red}, grad=(0, 1)))
    r = rng("kl_div", "options")
    x = _log_softmax(r.standard_normal((4, 5)))
    ly = _log_softmax(r.standard_normal((4, 5)))
    for red in _REDUCTIONS:
        out.append(
            Case(
                f"4x5-log_target-{red}",
                (x, ly),
                {"reduction": red, "log_target": True},
                grad=(0, 1),
            )
        )
    # zero probabilities contribute 0; their target gradient is NaN in torch (0/0 in xlogy's
    # backward) and here
    y0 = np.exp(ly)
    y0[:, 0] = 0.0
    y0[2, 1:3] = 0.0
    out.append(Case("4x5-target-zeros-none", (x, y0), {"reduction": "none"}, grad=(0, 1)))
    out.append(Case("4x5-target-zeros-batchmean", (x, y0), {"reduction": "batchmean"}, grad=(0, 1)))
    y = np.exp(ly)
    # legacy arguments; with reduction='batchmean' beside them torch still divides by size(0)
    out.append(Case("legacy-size_average=False", (x, y), {"size_average": False}, grad=(0, 1)))
    out.append(Case("legacy-reduce=False", (x, y), {"reduce": False}, grad=(0, 1)))
    out.append(
        Case(
            "legacy-size_average=False-batchmean",
            (x, y),
            {"size_average": False, "reduction": "batchmean"},
            grad=(0, 1),
        )
    )
    out.append(
        Case(
            "legacy-reduce=False-batchmean",
            (x, y),
            {"reduce": False, "reduction": "batchmean"},
            grad=(0, 1),
        )
    )
    out.append(
        Case(
            "legacy-size_average=True-batchmean",
            (x, y),
            {"size_average": True, "reduction": "batchmean"},
            grad=(0, 1),
        )
    )
    # broadcasting (silent in torch): 'batchmean' divides by input.size(0)
    out.append(Case("5-vs-4x5-batchmean", (x[0], y), {"reduction": "batchmean"}, grad=(0, 1)))
    out.append(Case("4x5-vs-5-sum", (x, y[0]), {"reduction": "sum"}, grad=(0, 1)))
    out.append(Case("bad-reduction", (x, y), {"reduction": "elementwise_sum"}))
    out = list(with_dtypes(out))
    bf16 = ("4x5-batchmean", "4x5-log_target-sum")
    return out + [
        dataclasses.replace(c, dtype="bfloat16")
        for c in out
        if c.name in bf16 and c.dtype == "float64"
    ]


register(
    Component(
        name="functional.kl_div",
        family="losses",
        jax_fn=kl_div,
        torch_fn=lambda torch: torch.nn.functional.kl_div,
        cases=_kl_div_cases,
    )
)
