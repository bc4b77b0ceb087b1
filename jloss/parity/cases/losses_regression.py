"""Parity cases: l1_loss, mse_loss, huber_loss, smooth_l1_loss, poisson_nll_loss, gaussian_nll_loss."""

from __future__ import annotations

import numpy as np

from ... import functional as F
from .._gen import POINTWISE_SHAPES, REDUCTIONS, rng, shape_name, with_dtypes
from .._harness import Case
from .._registry import Component, register


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
                out.append(Case(f"{s}-{red}-weight", (x, y), {"reduction": red, "weight": w}, grad=wgrad))
            out.append(Case(f"{s}-legacy-size_average=False", (x, y), {"size_average": False}, grad=(0,)))
            out.append(Case(f"{s}-legacy-reduce=False", (x, y), {"reduce": False}, grad=(0,)))
        return list(with_dtypes(out))

    return cases


for _name in ("l1_loss", "mse_loss"):
    register(
        Component(
            name=f"functional.{_name}",
            family="losses",
            jax_fn=getattr(F, _name),
            torch_fn=lambda torch, _n=_name: getattr(torch.nn.functional, _n),
            cases=_l1_mse_cases(_name),
        )
    )
