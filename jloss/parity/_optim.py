"""Parity runner for optimizers: the same gradients fed to torch.optim and to a jloss transform.

float64: parameters after every one of ``steps`` (default 100) updates within 1e-10 of torch's.
float32: the first update within 1e-6 and 20 updates within 1e-5 (SPEC.md; torch's own fused and
foreach paths drift apart further over long float32 runs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._gen import rng
from ._harness import CaseResult, Report, rel_error
from ._registry import Component

#: a pytree of several shapes (a matrix, a vector, a 3-D kernel, a scalar).
PARAM_SHAPES: dict[str, tuple[int, ...]] = {"w": (4, 3), "b": (3,), "k": (2, 3, 2), "s": ()}


@dataclasses.dataclass(frozen=True)
class OptCase:
    """One optimizer configuration: jloss kwargs, and torch kwargs when they differ."""

    name: str
    kwargs: Mapping[str, Any]
    torch_kwargs: Mapping[str, Any] | None = None
    shapes: Mapping[str, tuple[int, ...]] = dataclasses.field(default_factory=lambda: dict(PARAM_SHAPES))
    steps: int = 100
    grad_scale: float = 1.0
    #: ``feed(grads, dtype) -> (jax_grads, torch_grads, update_kwargs)``: what each framework gets for
    #: one step's generated numpy gradients (default :func:`dense_feed`; e.g. torch sparse tensors).
    feed: Callable[[dict[str, np.ndarray], np.dtype], tuple[Any, Any, dict[str, Any]]] | None = None


def dense_feed(grads: dict[str, np.ndarray], dtype: np.dtype) -> tuple[Any, Any, dict[str, Any]]:
    """The default :attr:`OptCase.feed`: the same dense gradients to both, no extra update arguments."""
    import torch  # noqa: PLC0415

    return ({k: jnp.asarray(v.astype(dtype)) for k, v in grads.items()},
            {k: torch.tensor(v.astype(dtype)) for k, v in grads.items()}, {})


def _trajectories(jax_factory, torch_cls, case: OptCase, dtype: str, steps: int):
    import torch  # noqa: PLC0415

    r = rng(case.name, dtype)
    names = sorted(case.shapes)  # jax.tree_util orders dict keys sorted: keep torch's list the same
    p0 = {k: np.asarray(r.standard_normal(case.shapes[k])) for k in names}
    grads = [{k: np.asarray(r.standard_normal(case.shapes[k])) * case.grad_scale for k in names} for _ in range(steps)]
    npdt = np.dtype(dtype)

    tparams = [torch.tensor(p0[k].astype(npdt), requires_grad=True) for k in names]
    topt = torch_cls(tparams, **dict(case.torch_kwargs if case.torch_kwargs is not None else case.kwargs))
    tx = jax_factory(**case.kwargs)
    params = {k: jnp.asarray(p0[k].astype(npdt)) for k in names}
    state = tx.init(params)

    @jax.jit
    def step(params, state, g, extra):
        updates, state = tx.update(g, state, params, **extra)
        return jax.tree.map(lambda p, u: (p + u).astype(p.dtype), params, updates), state

    out = []
    for g in grads:
        jg, tg, extra = (case.feed or dense_feed)(g, npdt)
        for t, k in zip(tparams, names, strict=True):
            t.grad = tg[k]
        topt.step()
        params, state = step(params, state, jg, extra)
        out.append(({k: np.asarray(params[k]) for k in names}, {k: t.detach().numpy().copy() for k, t in zip(names, tparams, strict=True)}))
    return out


def _err(pair, dtype):
    ours, theirs = pair
    return max(rel_error(ours[k].astype(np.float64), theirs[k].astype(np.float64), dtype) for k in ours)


def run_optimizer(jax_factory: Callable[..., Any], torch_name: str, cases: Sequence[OptCase], name: str) -> Report:
    import torch  # noqa: PLC0415

    torch_cls = getattr(torch.optim, torch_name)
    results = []
    for c in cases:
        traj = _trajectories(jax_factory, torch_cls, c, "float64", c.steps)
        e = max(_err(p, "float64") for p in traj)
        results.append(CaseResult(f"{c.name}-{c.steps}steps", "float64", e, 0.0, 1e-10, e <= 1e-10))
        traj = _trajectories(jax_factory, torch_cls, c, "float32", min(20, c.steps))
        e1 = _err(traj[0], "float32")
        e20 = max(_err(p, "float32") for p in traj)
        results.append(CaseResult(f"{c.name}-1step", "float32", e1, 0.0, 1e-6, e1 <= 1e-6))
        results.append(CaseResult(f"{c.name}-{len(traj)}steps", "float32", e20, 0.0, 1e-5, e20 <= 1e-5))
    return Report(name, results)


def optimizer_component(name: str, jax_factory: Callable[..., Any], torch_name: str,
                        cases: Callable[[], Sequence[OptCase]]) -> Component:
    """A registry entry for an optimizer compared by :func:`run_optimizer`."""
    return Component(
        name=name, family="optim", jax_fn=jax_factory, torch_fn=None, cases=cases,
        runner=lambda comp: run_optimizer(jax_factory, torch_name, comp.cases(), comp.name),
    )
