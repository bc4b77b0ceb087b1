"""Parity cases: l1_loss, mse_loss, huber_loss, smooth_l1_loss, poisson_nll_loss, gaussian_nll_loss."""

from __future__ import annotations

import dataclasses

import numpy as np

from ...losses import _regression as reg
from .._gen import POINTWISE_SHAPES, REDUCTIONS, rng, shape_name, with_dtypes
from .._harness import Case
from .._registry import Component, register


def _bf16(cases: list[Case], names: tuple[str, ...]) -> list[Case]:
    """A few bfloat16 copies (of float64 cases with the given names)."""
    return [
        dataclasses.replace(c, dtype="bfloat16")
        for c in cases
        if c.name in names and c.dtype == "float64"
    ]


def _l1_mse_cases(name):
    def cases():
        out = []
        for shape in POINTWISE_SHAPES:
            r = rng(name, shape)
            x, y = np.asarray(r.standard_normal(shape)), np.asarray(r.standard_normal(shape))
            w = np.asarray(r.uniform(0.1, 2.0, shape))
            for red in REDUCTIONS:
                s = shape_name(shape)
                out.append(Case(f"{s}-{red}", (x, y), {"reduction": red}, grad=(0, 1)))
                # For a single element the weighted mean is w*e/w: d/dw is 0 up to rounding noise
                # in both frameworks, so the weight gradient is compared on arrays only.
                wgrad = (0, 1, "weight") if shape else (0, 1)
                out.append(
                    Case(f"{s}-{red}-weight", (x, y), {"reduction": red, "weight": w}, grad=wgrad)
                )
            out.append(
                Case(f"{s}-legacy-size_average=False", (x, y), {"size_average": False}, grad=(0,))
            )
            out.append(Case(f"{s}-legacy-reduce=False", (x, y), {"reduce": False}, grad=(0,)))
        # a target that broadcasts the input up (torch warns): the weighted mean still divides by
        # the sum of the input-shaped weight
        r = rng(name, "broadcast")
        x, y, w = r.standard_normal(5), r.standard_normal((3, 5)), r.uniform(0.1, 2.0, 5)
        out.append(Case("5-vs-3x5-mean-weight", (x, y), {"weight": w}, grad=(0, 1, "weight")))
        # equal entries: torch's gradient of |x - y| is sgn(x - y), 0 there
        bx, by = np.array([1.5, 0.0, 2.0, -3.0]), np.array([0.5, 0.0, 2.0, 0.0])
        out.append(Case("zero-difference-none", (bx, by), {"reduction": "none"}, grad=(0, 1)))
        out.append(Case("bad-weight-shape", (x, x), {"weight": w[:4]}))
        out.append(Case("bad-reduction", (x, x), {"reduction": "batchmean"}))
        out = list(with_dtypes(out))
        return out + _bf16(out, ("4x5-mean", "2x3x4x2-sum-weight"))

    return cases


def _huber_cases():
    name = "huber_loss"
    out = []
    for shape in POINTWISE_SHAPES:
        r = rng(name, shape)
        s = shape_name(shape)
        # spread 1.5 so that both the squared and the linear region are hit
        x, y = (
            np.asarray(1.5 * r.standard_normal(shape)),
            np.asarray(1.5 * r.standard_normal(shape)),
        )
        w = np.asarray(r.uniform(0.1, 2.0, shape))
        for red in REDUCTIONS:
            out.append(Case(f"{s}-{red}", (x, y), {"reduction": red}, grad=(0, 1)))
            if shape in ((), (4, 5)) or red == "sum":
                # torch's weighted huber 'mean' is mean(w * l): d/dw = l / N, also for one element
                out.append(
                    Case(
                        f"{s}-{red}-weight",
                        (x, y),
                        {"reduction": red, "weight": w},
                        grad=(0, 1, "weight"),
                    )
                )
    r = rng(name, "options")
    x, y, w = (
        1.5 * r.standard_normal((4, 5)),
        1.5 * r.standard_normal((4, 5)),
        r.uniform(0.1, 2.0, (4, 5)),
    )
    for delta in (0.5, 2.5):
        out.append(
            Case(
                f"4x5-delta={delta}-none",
                (x, y),
                {"reduction": "none", "delta": delta},
                grad=(0, 1),
            )
        )
        out.append(
            Case(
                f"4x5-delta={delta}-mean-weight",
                (x, y),
                {"delta": delta, "weight": w},
                grad=(0, 1, "weight"),
            )
        )
    # |x - y| exactly 0, = delta (the linear branch in torch), either side of it
    bx, by = (
        np.array([1.5, 0.5, 0.0, 2.0, -3.0, 0.25, 0.75]),
        np.array([0.5, 1.5, 0.0, 2.0, 0.0, 0.75, 0.0]),
    )
    out.append(Case("boundaries-none", (bx, by), {"reduction": "none"}, grad=(0, 1)))
    out.append(
        Case("boundaries-delta=0.5-sum", (bx, by), {"reduction": "sum", "delta": 0.5}, grad=(0, 1))
    )
    # target broadcasting (torch warns), weight of the input's shape
    out.append(Case("4x5-vs-5-mean-weight", (x, y[0]), {"weight": w}, grad=(0, 1, "weight")))
    out.append(Case("5-vs-4x5-mean-weight", (x[0], y), {"weight": w[0]}, grad=(0, 1, "weight")))
    out.append(Case("delta=0", (x, y), {"delta": 0.0}))
    out.append(Case("delta=-1", (x, y), {"delta": -1.0}))
    out.append(Case("bad-weight-shape", (x, y), {"weight": w[0]}))
    out.append(Case("bad-reduction", (x, y), {"reduction": "batchmean"}))
    out = list(with_dtypes(out))
    return out + _bf16(out, ("4x5-mean", "2x3x4x2-sum-weight", "boundaries-none"))


def _smooth_l1_cases():
    name = "smooth_l1_loss"
    out = []
    for shape in POINTWISE_SHAPES:
        r = rng(name, shape)
        s = shape_name(shape)
        x, y = (
            np.asarray(1.5 * r.standard_normal(shape)),
            np.asarray(1.5 * r.standard_normal(shape)),
        )
        for red in REDUCTIONS:
            out.append(Case(f"{s}-{red}", (x, y), {"reduction": red}, grad=(0, 1)))
    r = rng(name, "options")
    x, y = 1.5 * r.standard_normal((4, 5)), 1.5 * r.standard_normal((4, 5))
    for red in REDUCTIONS:  # beta = 0 is l1_loss
        out.append(Case(f"4x5-beta=0-{red}", (x, y), {"reduction": red, "beta": 0.0}, grad=(0, 1)))
    for beta in (0.5, 2.5):
        out.append(
            Case(f"4x5-beta={beta}-none", (x, y), {"reduction": "none", "beta": beta}, grad=(0, 1))
        )
        out.append(Case(f"4x5-beta={beta}-mean", (x, y), {"beta": beta}, grad=(0, 1)))
    bx, by = (
        np.array([1.5, 0.5, 0.0, 2.0, -3.0, 0.25, 0.75]),
        np.array([0.5, 1.5, 0.0, 2.0, 0.0, 0.75, 0.0]),
    )
    out.append(Case("boundaries-none", (bx, by), {"reduction": "none"}, grad=(0, 1)))
    out.append(
        Case("boundaries-beta=0.5-sum", (bx, by), {"reduction": "sum", "beta": 0.5}, grad=(0, 1))
    )
    out.append(
        Case("boundaries-beta=0-none", (bx, by), {"reduction": "none", "beta": 0.0}, grad=(0, 1))
    )
    out.append(Case("legacy-size_average=False", (x, y), {"size_average": False}, grad=(0, 1)))
    out.append(
        Case("legacy-reduce=False", (x, y), {"reduce": False, "reduction": "sum"}, grad=(0, 1))
    )
    out.append(Case("4x5-vs-5-mean", (x, y[0]), {}, grad=(0, 1)))
    out.append(Case("beta=-1", (x, y), {"beta": -1.0}))
    out.append(Case("bad-reduction", (x, y), {"reduction": "batchmean"}))
    out = list(with_dtypes(out))
    return out + _bf16(out, ("4x5-mean", "boundaries-none"))


def _poisson_cases():
    name = "poisson_nll_loss"
    out = []
    for shape in POINTWISE_SHAPES:
        r = rng(name, shape)
        s = shape_name(shape)
        x = np.asarray(r.standard_normal(shape))  # log-rates
        y = np.asarray(r.poisson(np.exp(x) * 2.0), dtype=np.float64)  # counts: 0, 1 and above
        for red in REDUCTIONS:
            out.append(Case(f"{s}-{red}", (x, y), {"reduction": red}, grad=(0, 1)))
    r = rng(name, "options")
    lx = r.standard_normal((4, 5))
    y = r.poisson(np.exp(lx) * 2.0).astype(np.float64)
    rate = r.uniform(0.1, 3.0, (4, 5))
    for red in REDUCTIONS:
        out.append(
            Case(f"4x5-rate-{red}", (rate, y), {"reduction": red, "log_input": False}, grad=(0, 1))
        )
    for red in ("none", "mean"):
        out.append(Case(f"4x5-full-{red}", (lx, y), {"reduction": red, "full": True}, grad=(0, 1)))
        out.append(
            Case(
                f"4x5-rate-full-{red}",
                (rate, y),
                {"reduction": red, "full": True, "log_input": False},
                grad=(0, 1),
            )
        )
    # targets on both sides of the Stirling mask (<= 1), a zero rate (eps keeps the log finite);
    # torch's (and our) gradient w.r.t. target is NaN at target 0 with full=True
    ty = np.array([0.0, 1.0, 2.0, 0.5, 1.5, 3.0, 7.0])
    tx = np.array([0.0, 0.5, 1.0, 2.0, 0.3, 4.0, 6.0])
    out.append(
        Case(
            "mask-rate-full-none",
            (tx, ty),
            {"reduction": "none", "full": True, "log_input": False},
            grad=(0, 1),
        )
    )
    out.append(
        Case(
            "mask-rate-full-eps=1e-3-sum",
            (tx, ty),
            {"reduction": "sum", "full": True, "log_input": False, "eps": 1e-3},
            grad=(0, 1),
        )
    )
    out.append(
        Case("mask-full-sum", (tx - 1.0, ty), {"reduction": "sum", "full": True}, grad=(0, 1))
    )
    out.append(Case("legacy-size_average=False", (lx, y), {"size_average": False}, grad=(0, 1)))
    out.append(Case("legacy-reduce=False", (lx, y), {"reduce": False}, grad=(0, 1)))
    out.append(Case("4x5-vs-5-mean", (lx, y[0]), {}, grad=(0, 1)))
    out.append(Case("bad-reduction", (lx, y), {"reduction": "batchmean"}))
    out = list(with_dtypes(out))
    return out + _bf16(out, ("4x5-mean", "4x5-rate-full-none"))


def _gaussian_cases():
    name = "gaussian_nll_loss"
    out = []
    r = rng(name, "main")
    x, y, v = r.standard_normal((4, 3)), r.standard_normal((4, 3)), r.uniform(0.2, 2.0, (4, 3))
    g3 = (0, 1, 2)
    for red in REDUCTIONS:
        out.append(Case(f"4x3-var-4x3-{red}", (x, y, v), {"reduction": red}, grad=g3))
        out.append(
            Case(f"4x3-var-4x3-full-{red}", (x, y, v), {"reduction": red, "full": True}, grad=g3)
        )
    # homoscedastic forms of var: one dim short, a dimension of size 1, a Python float
    out.append(Case("4x3-var-4-none", (x, y, v[:, 0]), {"reduction": "none"}, grad=g3))
    out.append(Case("4x3-var-4-mean", (x, y, v[:, 0]), {}, grad=g3))
    out.append(Case("4x3-var-4x1-mean", (x, y, v[:, :1]), {}, grad=g3))
    out.append(Case("4x3-var-1x3-sum", (x, y, v[:1]), {"reduction": "sum"}, grad=g3))
    out.append(Case("4x3-var-float-mean", (x, y, 0.7), {}, grad=(0, 1)))
    out.append(
        Case(
            "4x3-var-float-full-none", (x, y, 1.3), {"reduction": "none", "full": True}, grad=(0, 1)
        )
    )
    x3, y3, v3 = (
        r.standard_normal((2, 3, 4)),
        r.standard_normal((2, 3, 4)),
        r.uniform(0.2, 2.0, (2, 3, 4)),
    )
    out.append(Case("2x3x4-var-2x1x4-none", (x3, y3, v3[:, :1]), {"reduction": "none"}, grad=g3))
    out.append(Case("2x3x4-var-2x3-mean", (x3, y3, v3[..., 0]), {}, grad=g3))
    x1, y1, v1 = r.standard_normal(5), r.standard_normal(5), r.uniform(0.2, 2.0, 5)
    out.append(Case("5-var-5-sum", (x1, y1, v1), {"reduction": "sum"}, grad=g3))
    out.append(
        Case("5-var-0d-mean", (x1, y1, np.asarray(v1[0])), {}, grad=g3)
    )  # one dim short of (5,)
    out.append(Case("5-var-1-none", (x1, y1, v1[:1]), {"reduction": "none"}, grad=g3))
    out.append(
        Case("scalar", (np.asarray(x1[0]), np.asarray(y1[0]), np.asarray(v1[0])), {}, grad=g3)
    )
    out.append(Case("4x3-target-3-var-4-none", (x, y[0], v[:, 0]), {"reduction": "none"}, grad=g3))
    # the eps clamp: entries at / below eps (0 included) clamp, the gradient passes straight through
    vc = v.copy()
    vc[0, :] = [0.0, 1e-8, 5e-7]
    vc[1, 0] = 1e-6
    out.append(Case("4x3-var-clamped-none", (x, y, vc), {"reduction": "none"}, grad=g3))
    out.append(Case("4x3-var-clamped-eps=0.5-mean", (x, y, v), {"eps": 0.5}, grad=g3))
    # torch refuses: var of a wrong size, negative var (array or float), a bad reduction
    out.append(Case("4x3-var-3", (x, y, v[0])))
    out.append(Case("4x3-var-2x3", (x, y, v[:2])))
    out.append(Case("4x3-var-1x1", (x, y, v[:1, :1])))
    out.append(Case("4x3-var-negative", (x, y, -v)))
    out.append(Case("4x3-var-negative-float", (x, y, -1.0)))
    out.append(Case("bad-reduction", (x, y, v), {"reduction": "batchmean"}))
    out = list(with_dtypes(out))
    return out + _bf16(out, ("4x3-var-4x3-mean", "4x3-var-4-none"))


for _name in ("l1_loss", "mse_loss"):
    register(
        Component(
            name=f"functional.{_name}",
            family="losses",
            jax_fn=getattr(reg, _name),
            torch_fn=lambda torch, _n=_name: getattr(torch.nn.functional, _n),
            cases=_l1_mse_cases(_name),
        )
    )

for _name, _cases in (
    ("huber_loss", _huber_cases),
    ("smooth_l1_loss", _smooth_l1_cases),
    ("poisson_nll_loss", _poisson_cases),
    ("gaussian_nll_loss", _gaussian_cases),
):
    register(
        Component(
            name=f"functional.{_name}",
            family="losses",
            jax_fn=getattr(reg, _name),
            torch_fn=lambda torch, _n=_name: getattr(torch.nn.functional, _n),
            cases=_cases,
        )
    )
