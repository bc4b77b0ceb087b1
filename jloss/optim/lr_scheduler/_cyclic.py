"""Cyclical schedules: CyclicLR and OneCycleLR, with their momentum (or Adam ``beta1``) cycles."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._base import scalar_dtype
from ._core import JNP, TorchSchedule, check_concrete_steps, check_float, is_traced

CYCLIC_MODES = ("triangular", "triangular2", "exp_range")

# ---- the per-family formulas (shared with the scheduler classes) --------------------------------


def cyclic_scale_fn(mode: str, gamma: float, scale_fn: Callable[[Any], Any] | None,
                    scale_mode: str) -> tuple[Callable[[Any], Any], str]:
    """torch's ``CyclicLR._init_scale_fn``: the scale function and the ``scale_mode`` it uses (a
    built-in ``mode`` forces ``'cycle'`` or ``'iterations'``; a custom ``scale_fn`` keeps ``scale_mode``)."""
    if scale_fn is not None:
        return scale_fn, scale_mode
    if mode == "triangular":
        return (lambda x: 1.0), "cycle"
    if mode == "triangular2":
        return (lambda x: 1 / (2.0 ** (x - 1))), "cycle"
    return (lambda x: gamma**x), "iterations"


def cyclic_factor(k: Any, total_size: float, step_ratio: float, xp: Any = JNP) -> tuple[Any, Any]:
    """``(cycle, scale_factor)`` of torch's ``CyclicLR.get_lr`` at step ``k`` (the triangle's height in [0, 1])."""
    cycle = xp.floor(1 + xp.div(k, total_size))
    x = 1.0 + xp.div(k, total_size) - cycle
    scale_factor = xp.select(x <= step_ratio, lambda: xp.div(x, step_ratio), lambda: xp.div(x - 1, step_ratio - 1))
    return cycle, scale_factor


def cyclic_lr_value(base_lr: Any, max_lr: Any, scale_factor: Any, scale: Any) -> Any:
    """``base_lr + (max_lr - base_lr) * scale_factor * scale_fn(...)`` in torch's order."""
    return base_lr + (max_lr - base_lr) * scale_factor * scale


def cyclic_momentum_value(base_m: Any, max_m: Any, scale_factor: Any, scale: Any) -> Any:
    """``max_momentum - (max_momentum - base_momentum) * scale_factor * scale_fn(...)`` (inverse to the LR)."""
    return max_m - (max_m - base_m) * scale_factor * scale


def one_cycle_phases(total_steps: int, pct_start: float, three_phase: bool) -> list[dict[str, Any]]:
    """torch's ``OneCycleLR._schedule_phases`` (phases end at ``float(pct_start * total_steps) - 1``
    and ``total_steps - 1``, one step earlier than optax's one-cycle schedules)."""
    if three_phase:
        return [
            {"end_step": float(pct_start * total_steps) - 1, "start_lr": "initial_lr", "end_lr": "max_lr",
             "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
            {"end_step": float(2 * pct_start * total_steps) - 2, "start_lr": "max_lr", "end_lr": "initial_lr",
             "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
            {"end_step": total_steps - 1, "start_lr": "initial_lr", "end_lr": "min_lr",
             "start_momentum": "max_momentum", "end_momentum": "max_momentum"},
        ]
    return [
        {"end_step": float(pct_start * total_steps) - 1, "start_lr": "initial_lr", "end_lr": "max_lr",
         "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
        {"end_step": total_steps - 1, "start_lr": "max_lr", "end_lr": "min_lr",
         "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
    ]


def anneal(strategy: str, start: Any, end: Any, pct: Any, xp: Any = JNP) -> Any:
    """OneCycleLR's ``_annealing_cos`` / ``_annealing_linear`` from ``start`` to ``end`` at ``pct`` in [0, 1]."""
    if strategy == "cos":
        return end + (start - end) / 2.0 * (xp.cos(xp.pi * pct) + 1)
    return (end - start) * pct + start


def one_cycle_value(k: Any, phases: list[dict[str, Any]], values: dict[str, Any], strategy: str,
                    which: str, xp: Any = JNP) -> Any:
    """torch's ``OneCycleLR.get_lr`` phase walk for one group: ``which`` is ``"lr"`` or ``"momentum"``;
    ``values`` holds the group's ``initial_lr``, ``max_lr``, ``min_lr``, ``max_momentum``, ``base_momentum``."""
    start_key, end_key = f"start_{which}", f"end_{which}"
    last = len(phases) - 1
    if xp is not JNP:
        start_step = 0.0
        for i, phase in enumerate(phases):
            end_step = phase["end_step"]
            if k <= end_step or i == last:
                pct = xp.div(k - start_step, end_step - start_step)
                return anneal(strategy, values[phase[start_key]], values[phase[end_key]], pct, xp)
            start_step = phase["end_step"]
    starts = [0.0] + [p["end_step"] for p in phases[:-1]]
    out = None
    for i in range(last, -1, -1):
        phase, start_step = phases[i], starts[i]
        pct = xp.div(k - start_step, phase["end_step"] - start_step)
        v = anneal(strategy, values[phase[start_key]], values[phase[end_key]], pct, xp)
        out = v if out is None else jnp.where(k <= phase["end_step"], v, out)
    return out


def check_cyclic(fn: str, step_size_up: Any, step_size_down: Any, mode: str, scale_fn: Any,
                 scale_mode: str) -> tuple[float, float]:
    up = float(step_size_up)
    down = float(step_size_down) if step_size_down is not None else up
    if not up > 0:
        raise ValueError(f"{fn}: step_size_up must be > 0, got {step_size_up} (torch divides by it)")
    if not down >= 0:
        raise ValueError(f"{fn}: step_size_down must be >= 0, got {step_size_down}")
    if mode not in CYCLIC_MODES and scale_fn is None:
        raise ValueError(f"{fn}: mode is invalid and scale_fn is None: mode={mode!r}, expected one of {CYCLIC_MODES}")
    if scale_fn is not None and scale_mode not in ("cycle", "iterations"):
        raise ValueError(f"{fn}: scale_mode must be 'cycle' or 'iterations', got {scale_mode!r}")
    return up, down


def check_one_cycle(fn: str, total_steps: Any, epochs: Any, steps_per_epoch: Any, pct_start: Any,
                    anneal_strategy: str) -> int:
    if total_steps is not None:
        if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps <= 0:
            raise ValueError(f"{fn}: Expected positive integer total_steps, but got {total_steps}")
        n = total_steps
    elif epochs is not None and steps_per_epoch is not None:
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs <= 0:
            raise ValueError(f"{fn}: Expected positive integer epochs, but got {epochs}")
        if isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
            raise ValueError(f"{fn}: Expected positive integer steps_per_epoch, but got {steps_per_epoch}")
        n = epochs * steps_per_epoch
    else:
        raise ValueError(f"{fn}: You must define either total_steps OR (epochs AND steps_per_epoch)")
    if not isinstance(pct_start, float) or pct_start < 0 or pct_start > 1:
        raise ValueError(f"{fn}: Expected float between 0 and 1 pct_start, but got {pct_start}")
    if anneal_strategy not in ("cos", "linear"):
        raise ValueError(f"{fn}: anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
    if float(pct_start * n) - 1 == 0:
        # the warm-up phase would start and end at step 0: torch divides by its length, 0, at
        # construction (ZeroDivisionError)
        raise ValueError(f"{fn}: pct_start * total_steps must not be 1 (an empty warm-up phase), got pct_start="
                         f"{pct_start} with total_steps={n}")
    return n


def _scalar(fn: str, name: str, v: Any) -> float:
    if isinstance(v, (list, tuple)):
        raise TypeError(f"{fn}: {name} must be a number (make one schedule per param group), got a {type(v).__name__}")
    return check_float(fn, name, v)


# ---- the schedules ------------------------------------------------------------------------------


def cyclic_lr(base_lr: float, max_lr: float, step_size_up: int = 2000, step_size_down: int | None = None,
              mode: str = "triangular", gamma: float = 1.0, scale_fn: Callable[[Any], Any] | None = None,
              scale_mode: str = "cycle", cycle_momentum: bool = True, base_momentum: float = 0.8,
              max_momentum: float = 0.9) -> TorchSchedule:
    r"""``torch.optim.lr_scheduler.CyclicLR``: the LR cycles between ``base_lr`` and ``max_lr``
    (``step_size_up`` steps up, ``step_size_down`` down), scaled per cycle or per step by ``mode``
    (``'triangular'``, ``'triangular2'``, ``'exp_range'`` with ``gamma``) or a custom ``scale_fn``.

    torch's arguments minus the optimizer (whose LR CyclicLR overwrites with ``base_lr``). With
    ``cycle_momentum=True`` the returned schedule's ``.momentum`` is torch's inverse momentum cycle
    between ``max_momentum`` and ``base_momentum`` (torch writes it to SGD's ``momentum`` or, for
    Adam-like optimizers, ``betas[0]``); apply it with :func:`schedule_hyperparams`.

    A custom ``scale_fn`` is called with the cycle number (a float array) or the step, and must be
    written with ``jnp`` / operators to run under ``jit``.
    """
    fn = "cyclic_lr"
    b, m = _scalar(fn, "base_lr", base_lr), _scalar(fn, "max_lr", max_lr)
    up, down = check_cyclic(fn, step_size_up, step_size_down, mode, scale_fn, scale_mode)
    total_size = up + down
    step_ratio = up / total_size
    sfn, smode = cyclic_scale_fn(mode, float(gamma), scale_fn, scale_mode)
    dt = scalar_dtype

    def parts(k: Any) -> tuple[Any, Any]:
        check_concrete_steps(fn, k)
        k = jnp.asarray(k)
        cycle, sf = cyclic_factor(k.astype(dt()), total_size, step_ratio)
        return sf, sfn(cycle) if smode == "cycle" else sfn(k)

    def sched(k: Any) -> jax.Array:
        sf, s = parts(k)
        return jnp.asarray(cyclic_lr_value(jnp.asarray(b, dt()), m, sf, s), dt())

    momentum = None
    if cycle_momentum:
        bm, mm = _scalar(fn, "base_momentum", base_momentum), _scalar(fn, "max_momentum", max_momentum)

        def momentum(k: Any) -> jax.Array:
            sf, s = parts(k)
            return jnp.asarray(cyclic_momentum_value(bm, jnp.asarray(mm, dt()), sf, s), dt())

    return TorchSchedule("CyclicLR", sched, momentum=momentum)


def one_cycle_lr(max_lr: float, total_steps: int | None = None, epochs: int | None = None,
                 steps_per_epoch: int | None = None, pct_start: float = 0.3, anneal_strategy: str = "cos",
                 cycle_momentum: bool = True, base_momentum: float = 0.85, max_momentum: float = 0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4, three_phase: bool = False) -> TorchSchedule:
    r"""``torch.optim.lr_scheduler.OneCycleLR``: from ``max_lr / div_factor`` up to ``max_lr`` over
    ``pct_start`` of ``total_steps``, then down to ``max_lr / div_factor / final_div_factor``
    (``three_phase``: back to the initial LR first), with cosine or linear annealing.

    The phases end at ``float(pct_start * total_steps) - 1`` and ``total_steps - 1`` as in torch
    (``optax.cosine_onecycle_schedule`` ends them one step later). ``schedule(k)`` for
    ``k > total_steps`` raises ``ValueError`` like torch's ``step()`` (under ``jit``, where ``k`` is
    unknown, the schedule returns NaN there). With ``cycle_momentum=True``, ``.momentum`` is the
    inverse cycle between ``max_momentum`` and ``base_momentum`` (SGD ``momentum`` / Adam ``beta1``;
    see :func:`schedule_hyperparams`).
    """
    fn = "one_cycle_lr"
    mx = _scalar(fn, "max_lr", max_lr)
    n = check_one_cycle(fn, total_steps, epochs, steps_per_epoch, pct_start, anneal_strategy)
    phases = one_cycle_phases(n, pct_start, three_phase)
    initial = mx / div_factor
    values: dict[str, Any] = {"initial_lr": initial, "max_lr": mx, "min_lr": initial / final_div_factor}
    if cycle_momentum:
        values["max_momentum"] = _scalar(fn, "max_momentum", max_momentum)
        values["base_momentum"] = _scalar(fn, "base_momentum", base_momentum)
    dt = scalar_dtype

    def value(k: Any, which: str) -> jax.Array:
        check_concrete_steps(fn, k)
        if not is_traced(k) and np.any(np.asarray(k) > n):
            raise ValueError(f"{fn}: Tried to step {int(np.max(np.asarray(k)))} times. "
                             f"The specified number of total steps is {n}")
        kf = jnp.asarray(k).astype(dt())
        vals = {key: jnp.asarray(v, dt()) for key, v in values.items()}
        out = one_cycle_value(kf, phases, vals, anneal_strategy, which)
        return jnp.where(kf > n, jnp.nan, out).astype(dt())

    momentum = (lambda k: value(k, "momentum")) if cycle_momentum else None
    return TorchSchedule("OneCycleLR", lambda k: value(k, "lr"), momentum=momentum)

