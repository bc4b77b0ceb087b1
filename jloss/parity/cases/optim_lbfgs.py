"""Parity cases: LBFGS, one torch ``step(closure)`` per jloss ``update`` on a deterministic objective.

LBFGS needs a loss, not just gradients, so it has its own runner: the same objective written for
both frameworks (a 28-dimensional Rosenbrock function and a coupled convex quartic), the same start
(1 + 0.5 N(0, 1)), a few steps. After each step the parameters must agree (float64 <= 1e-10;
float32 first step <= 1e-6, every step <= 1e-5) and, in float64, so must torch's ``n_iter`` and
``func_evals`` counters (exactly).

float32: torch is not reproducible to 1e-6 over a long inner loop even against itself. The
gradients here agree bit for bit, but torch's ``dot`` (MKL) sums in an order nobody else
reproduces, and an L-BFGS step of 20 iterations amplifies those last-bit differences: torch
against torch, with only its parameter list reversed (the same math, other dot orders), differs
by 3.7e-6 after one ``defaults`` step (lr=1, no line search, 20 iterations) on this Rosenbrock
problem, by up to 1e-4 on a converging quartic (its stopping tests tie at rounding level) and by
0.1 when the line search extrapolates to ``max_ls``. So the float32 comparisons use configurations
where torch agrees with itself to well within the tolerance; the others (``float32=False``) are
compared in float64 only, where every case must agree to 1e-10 with the same counters.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

import numpy as np

from ...optim._lbfgs import lbfgs
from .._gen import rng
from .._harness import CaseResult, Report, rel_error
from .._optim import PARAM_SHAPES
from .._registry import Component, register


@dataclasses.dataclass(frozen=True)
class LBFGSCase:
    name: str
    kwargs: Mapping[str, Any]
    objective: str = "rosenbrock"
    steps: int = 4
    float32: bool = True  # see the module docstring


def _objective(name: str, x: Any, lib: Any) -> Any:
    """The objective of the flat parameter vector ``x``, with ``lib`` = ``torch`` or ``jax.numpy``."""
    if name == "rosenbrock":
        return lib.sum(10.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    if name == "quartic":  # convex: weighted squares, a tridiagonal coupling, a quartic term
        w = 1.0 + 0.1 * lib.arange(x.shape[0], dtype=x.dtype)
        return lib.sum(w * (x - 2.0) ** 2) + 0.3 * lib.sum(x[1:] * x[:-1]) + 0.05 * lib.sum((x - 1.0) ** 4)
    raise ValueError(f"unknown objective {name!r}")


def _cases() -> list[LBFGSCase]:
    sw = {"line_search_fn": "strong_wolfe"}
    return [
        LBFGSCase("defaults", {}, float32=False),
        LBFGSCase("strong_wolfe", sw),
        LBFGSCase("lr-max_iter", {"lr": 0.05, "max_iter": 5}),
        LBFGSCase("lr-strong_wolfe", {**sw, "lr": 0.5, "max_iter": 5}),
        LBFGSCase("max_eval", {**sw, "max_iter": 10, "max_eval": 6}),
        # line searches that overshoot and zoom / extrapolate until max_ls; float32: torch against
        # itself (parameter list reversed) differs by 1e-4 and 0.1 here
        LBFGSCase("lr=20-zoom", {**sw, "lr": 20, "tolerance_change": 1e-2}, float32=False),
        LBFGSCase("lr=0.01-max_ls", {**sw, "lr": 0.01, "max_iter": 4, "max_eval": 5}, float32=False),
        LBFGSCase("history_size=2", {**sw, "history_size": 2, "max_iter": 5}),
        LBFGSCase("history_size=3-no-line-search", {"lr": 0.5, "history_size": 3, "max_iter": 4}, "quartic", 3),
        LBFGSCase("tolerance_grad", {"tolerance_grad": 1e-2}, "quartic", 3),
        LBFGSCase("tolerance_change", {"tolerance_change": 1e-3, "max_iter": 50}, "quartic", 3),
        LBFGSCase("tolerance_change-step", {"lr": 1e-4, "tolerance_change": 1e-3}, steps=2),  # tiny steps stop
    ]


@functools.cache
def _jitted_step(objective: str, history_size: int, line_search_fn: str | None):
    """One compiled ``step(params, state)`` per static configuration: the numeric hyperparameters
    (``lr``, ``max_iter``, ...) are read from the injected state, so cases share the compilation."""
    import jax  # noqa: PLC0415
    import jax.numpy as jnp  # noqa: PLC0415
    from jax.flatten_util import ravel_pytree  # noqa: PLC0415

    def value_fn(params):
        return _objective(objective, ravel_pytree(params)[0], jnp)

    tx = lbfgs(history_size=history_size, line_search_fn=line_search_fn)

    @jax.jit
    def step(params, state):
        value, grads = jax.value_and_grad(value_fn)(params)
        updates, state = tx.update(grads, state, params, value_fn=value_fn, value=value)
        return jax.tree.map(lambda p, u: p + u, params, updates), state

    return step


def _trajectory(case: LBFGSCase, dtype: str, steps: int):
    """Per step: (jloss params, torch params, jloss (n_iter, func_evals), torch's)."""
    import jax.numpy as jnp  # noqa: PLC0415
    import torch  # noqa: PLC0415

    r = rng("lbfgs", case.name)
    names = sorted(PARAM_SHAPES)  # jax's order for a dict; torch gets the same list
    p0 = {k: np.asarray(1.0 + 0.5 * r.standard_normal(PARAM_SHAPES[k])).astype(dtype) for k in names}

    tparams = [torch.tensor(p0[k], requires_grad=True) for k in names]
    topt = torch.optim.LBFGS(tparams, **case.kwargs)

    def closure():
        topt.zero_grad()
        loss = _objective(case.objective, torch.cat([p.reshape(-1) for p in tparams]), torch)
        loss.backward()
        return loss

    tx = lbfgs(**case.kwargs)
    step = _jitted_step(case.objective, case.kwargs.get("history_size", 100), case.kwargs.get("line_search_fn"))
    params = {k: jnp.asarray(p0[k]) for k in names}
    state = tx.init(params)

    out = []
    for _ in range(steps):
        topt.step(closure)
        params, state = step(params, state)
        tstate = topt.state[tparams[0]]
        inner = state.inner_state
        out.append((
            {k: np.asarray(params[k]) for k in names},
            {k: t.detach().numpy().copy() for k, t in zip(names, tparams, strict=True)},
            (int(inner.n_iter), int(inner.func_evals)),
            (int(tstate["n_iter"]), int(tstate["func_evals"])),
        ))
    return out


def _err(step, dtype):
    ours, theirs = step[0], step[1]
    return max(rel_error(ours[k].astype(np.float64), theirs[k].astype(np.float64), dtype) for k in ours)


def _result(name, dtype, steps, tol) -> CaseResult:
    err = max(_err(s, dtype) for s in steps)
    # the counters must match in float64; in float32 a stopping test can tie at rounding level
    counters = [(s[2], s[3]) for s in steps if s[2] != s[3] and dtype == "float64"]
    msg = "" if not counters else f"(n_iter, func_evals) jloss {counters[0][0]} != torch {counters[0][1]}"
    return CaseResult(name, dtype, err, 0.0, tol, err <= tol and not counters, msg)


def run_lbfgs(comp: Component) -> Report:
    results = []
    for c in comp.cases():
        traj = _trajectory(c, "float64", c.steps)
        results.append(_result(f"{c.name}-{c.steps}steps", "float64", traj, 1e-10))
        if not c.float32:
            continue
        traj = _trajectory(c, "float32", c.steps)
        results.append(_result(f"{c.name}-1step", "float32", traj[:1], 1e-6))
        results.append(_result(f"{c.name}-{c.steps}steps", "float32", traj, 1e-5))
    return Report(comp.name, results)


register(Component(name="optim.lbfgs", family="optim", jax_fn=lbfgs, torch_fn=None, cases=_cases, runner=run_lbfgs))
