"""Parity cases: every torch LR scheduler (and SWALR) against jloss, 1,000 steps, float64.

A case is one builder, ``build(M, optimizer)``, written once for both frameworks: ``M`` is torch's
``lr_scheduler`` module (plus ``SWALR``) or jloss's, and the same call builds either scheduler
(the names and arguments are torch's). The runner steps torch's scheduler on a torch optimizer and
compares, after every step, ``get_last_lr()`` and the momentum / ``betas[0]`` of every group with

* (a) jloss's schedule functions, ``schedule(k)`` for ``k = 0 .. 1000`` under ``jax.jit`` with a
  traced ``k`` (and at a few concrete ``k``), one schedule per group (``fns``), and
* (b) jloss's scheduler class driving a jloss optimizer object (``SGD`` / ``Adam``).

LRs agree within 1e-12 (relative; near 0, relative to the largest LR of the run); momenta exactly
to 1e-12 likewise. ReduceLROnPlateau is driven by a seeded metric sequence and also checked through
the ``reduce_lr_on_plateau`` transform.
"""

from __future__ import annotations

import dataclasses
import types
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._gen import rng
from .._harness import CaseResult, Report
from .._registry import Component

STEPS = 1000
TOL = 1e-12
#: Below this fraction of the run's largest LR, errors are measured against that largest LR.
FLOOR = 1e-6


@dataclasses.dataclass(frozen=True)
class SchedCase:
    """``build(M, opt)`` builds the scheduler in either framework. ``fns(lr, group)`` returns
    jloss's schedule function for param group ``group`` (base LR ``lr``), or ``None`` when the
    scheduler has no function form for this configuration. ``optimizer``: ``"SGD"`` (momentum
    0.9) or ``"Adam"``; ``lrs``: one param group per entry. ``metrics``: feed ``step(metric)``."""

    name: str
    build: Callable[[Any, Any], Any]
    fns: Callable[[float, int], Any] | None
    optimizer: str = "SGD"
    lrs: tuple[float, ...] = (0.1,)
    steps: int = STEPS
    metrics: bool = False


def lr_error(ours: np.ndarray, theirs: np.ndarray) -> float:
    """Max relative error; entries below ``FLOOR`` x the run's largest |LR| use that floor."""
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    if ours.shape != theirs.shape:
        return float("inf")
    same = (ours == theirs) | (np.isnan(ours) & np.isnan(theirs))
    if same.all():
        return 0.0
    scale = np.max(np.abs(theirs[np.isfinite(theirs)])) if np.isfinite(theirs).any() else 1.0
    denom = np.maximum(np.abs(theirs), FLOOR * max(scale, 1e-300))
    with np.errstate(invalid="ignore"):
        err = np.where(same, 0.0, np.abs(ours - theirs) / denom)
    return float(np.max(np.where(np.isnan(err), np.inf, err)))


def metric_sequence(name: str, n: int) -> list[float]:
    """A noisy, plateauing loss curve with exact repeats (so ties with ``best`` occur)."""
    r = rng(name, "metrics")
    x = np.arange(n)
    base = 1.0 / (1.0 + 0.02 * x) + 0.05 * (np.floor(x / 97) % 2)
    vals = base + 0.02 * r.standard_normal(n)
    reps = r.random(n) < 0.1
    vals[1:][reps[1:]] = vals[:-1][reps[1:]]
    return [float(v) for v in vals]


def _momentum(group: dict[str, Any]) -> float:
    if "betas" in group:
        return float(group["betas"][0])
    return float(group.get("momentum", float("nan")))


def _torch_module():
    import torch  # noqa: PLC0415

    return types.SimpleNamespace(**{k: getattr(torch.optim.lr_scheduler, k) for k in dir(torch.optim.lr_scheduler)},
                                 SWALR=torch.optim.swa_utils.SWALR)


def _jloss_module():
    from ...optim import lr_scheduler, swa_utils  # noqa: PLC0415

    return types.SimpleNamespace(**{k: getattr(lr_scheduler, k) for k in lr_scheduler.__all__}, SWALR=swa_utils.SWALR)


def _run_class(case: SchedCase, M: Any, make_opt: Callable[[], Any], metrics: Sequence[float] | None):
    """(lrs, momenta) of every group after construction and after each step: arrays (steps+1, groups)."""
    opt = make_opt()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns that optimizer.step() was not called first
        sched = case.build(M, opt)
        lrs, moms = [list(sched.get_last_lr())], [[_momentum(g) for g in opt.param_groups]]
        for i in range(case.steps):
            if metrics is not None:
                sched.step(metrics[i])
            else:
                sched.step()
            lrs.append([float(v) for v in sched.get_last_lr()])
            moms.append([_momentum(g) for g in opt.param_groups])
    return np.asarray(lrs, np.float64), np.asarray(moms, np.float64), sched


def torch_optimizer(kind: str, lrs: Sequence[float]):
    import torch  # noqa: PLC0415

    groups = [{"params": [torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))], "lr": lr} for lr in lrs]
    if kind == "SGD":
        return torch.optim.SGD(groups, lr=lrs[0], momentum=0.9)
    return torch.optim.Adam(groups, lr=lrs[0])


def jloss_optimizer(kind: str, lrs: Sequence[float]):
    import jax.numpy as jnp  # noqa: PLC0415

    from ...optim import _stateful  # noqa: PLC0415

    groups = [{"params": {"w": jnp.zeros(3, jnp.float64)}, "lr": lr} for lr in lrs]
    if kind == "SGD":
        return _stateful.SGD(groups, lr=lrs[0], momentum=0.9)
    return _stateful.Adam(groups, lr=lrs[0])


def _function_values(sched: Any, steps: int, which: str) -> tuple[np.ndarray, float]:
    """``schedule(k)`` for every k under jit (traced), and the worst error of concrete calls against it."""
    import jax  # noqa: PLC0415
    import jax.numpy as jnp  # noqa: PLC0415

    fn = sched if which == "lr" else sched.momentum
    ks = jnp.arange(steps + 1)
    traced = np.asarray(jax.jit(jax.vmap(fn))(ks), np.float64)
    conc = [float(fn(k)) for k in (0, 1, steps // 3, steps)]
    return traced, lr_error(np.asarray(conc), traced[[0, 1, steps // 3, steps]])


def run_schedulers(cases: Sequence[SchedCase], name: str) -> Report:
    import jax  # noqa: PLC0415

    if not jax.config.jax_enable_x64:
        raise RuntimeError("lr_scheduler parity needs jax_enable_x64 (float64 learning rates)")
    TM, JM = _torch_module(), _jloss_module()
    results = []
    for c in cases:
        metrics = metric_sequence(c.name, c.steps) if c.metrics else None
        t_lr, t_m, _ = _run_class(c, TM, lambda c=c: torch_optimizer(c.optimizer, c.lrs), metrics)
        try:
            j_lr, j_m, _ = _run_class(c, JM, lambda c=c: jloss_optimizer(c.optimizer, c.lrs), metrics)
            e_lr, e_m = lr_error(j_lr, t_lr), lr_error(j_m, t_m)
            msg = f"momentum {e_m:.2g}" if e_m else ""
            results.append(CaseResult(f"{c.name}-class", "float64", max(e_lr, e_m), 0.0, TOL, max(e_lr, e_m) <= TOL, msg))
        except Exception as e:  # a crash is a mismatch, reported with its message
            results.append(CaseResult(f"{c.name}-class", "float64", float("inf"), 0.0, TOL, False, repr(e)))
        if c.fns is None:
            continue
        try:
            errs = []
            for g, lr in enumerate(c.lrs):
                s = c.fns(lr, g)
                vals, e_conc = _function_values(s, c.steps, "lr")
                errs += [lr_error(vals, t_lr[:, g]), e_conc]
                if s.momentum is not None:
                    mv, e_mc = _function_values(s, c.steps, "momentum")
                    errs += [lr_error(mv, t_m[:, g]), e_mc]
            e = max(errs)
            results.append(CaseResult(f"{c.name}-function", "float64", e, 0.0, TOL, e <= TOL))
        except Exception as e:
            results.append(CaseResult(f"{c.name}-function", "float64", float("inf"), 0.0, TOL, False, repr(e)))
    return Report(name, results)


def run_plateau_transform(cases: Sequence[SchedCase], name: str) -> Report:
    """``reduce_lr_on_plateau``: ``state.lr`` after each ``update(..., value=metric)`` vs torch's LR,
    and the updates scaled by ``state.lr / lr`` (one param group per case)."""
    import jax  # noqa: PLC0415
    import jax.numpy as jnp  # noqa: PLC0415

    TM = _torch_module()
    results = []
    for c in cases:
        metrics = metric_sequence(c.name, c.steps)
        t_lr, _, tsched = _run_class(c, TM, lambda c=c: torch_optimizer(c.optimizer, c.lrs[:1]), metrics)
        kw = {k: getattr(tsched, k) for k in ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "eps")}
        kw["min_lr"] = tsched.min_lrs[0]
        from ...optim.lr_scheduler import reduce_lr_on_plateau  # noqa: PLC0415

        lr0 = c.lrs[0]
        tx = reduce_lr_on_plateau(lr0, **kw)
        params = {"w": jnp.ones(2)}
        state = tx.init(params)
        step = jax.jit(lambda u, s, v, tx=tx, params=params: tx.update(u, s, params, value=v))
        lrs, scaled = [float(state.lr)], [lr0]
        for v in metrics:
            u, state = step({"w": jnp.full(2, lr0)}, state, v)
            lrs.append(float(state.lr))
            scaled.append(float(u["w"][0]))
        e = max(lr_error(np.asarray(lrs), t_lr[:, 0]), lr_error(np.asarray(scaled), t_lr[:, 0]))
        results.append(CaseResult(f"{c.name}-transform", "float64", e, 0.0, TOL, e <= TOL))
    return Report(name, results)


def component(name: str, cases: Callable[[], Sequence[SchedCase]],
              runner: Callable[[Sequence[SchedCase], str], Report] = run_schedulers) -> Component:
    return Component(name=name, family="lr_scheduler", jax_fn=None, torch_fn=None, cases=cases,
                     runner=lambda comp: runner(comp.cases(), comp.name))
