"""Cosine schedules: CosineAnnealingLR and CosineAnnealingWarmRestarts (SGDR)."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from .._base import scalar_dtype
from ._core import JNP, PY, TorchSchedule, check_concrete_steps, check_float, check_int

# ---- the per-family formulas (shared with the scheduler classes) --------------------------------


def closed_cosine(k: Any, base: Any, T_max: int, eta_min: float, xp: Any = JNP) -> Any:
    r"""CosineAnnealingLR's closed form: :math:`\eta_{min} + (\eta_0 - \eta_{min})(1 + \cos(\pi k / T_{max}))/2`.

    It is periodic with period :math:`2T_{max}`, as torch's recursive ``step()`` is: past
    ``T_max`` the LR climbs back to :math:`\eta_0` (``optax.cosine_decay_schedule`` stays at the
    minimum instead)."""
    return eta_min + (base - eta_min) * (1 + xp.cos(xp.div(xp.pi * k, T_max))) / 2


def cosine_recursive(lr: float, base: float, last_epoch: int, T_max: int, eta_min: float,
                     step_count: int, is_initial: bool) -> float:
    """torch's ``CosineAnnealingLR.get_lr`` for one group: the LR after the step to ``last_epoch``,
    given the current ``lr`` (Python floats)."""
    if is_initial:
        return lr
    if step_count == 1 and last_epoch > 0:
        return eta_min + (base - eta_min) * (1 + math.cos(last_epoch * math.pi / T_max)) / 2
    if (last_epoch - 1 - T_max) % (2 * T_max) == 0:
        return lr + (base - eta_min) * (1 - math.cos(math.pi / T_max)) / 2
    return ((1 + math.cos(math.pi * last_epoch / T_max)) / (1 + math.cos(math.pi * (last_epoch - 1) / T_max))
            * (lr - eta_min) + eta_min)


def sgdr_lr(T_cur: Any, T_i: Any, base: Any, eta_min: float, xp: Any = JNP) -> Any:
    r"""CosineAnnealingWarmRestarts: :math:`\eta_{min} + (\eta_0 - \eta_{min})(1 + \cos(\pi T_{cur}/T_i))/2`."""
    return eta_min + (base - eta_min) * (1 + xp.cos(xp.div(xp.pi * T_cur, T_i))) / 2


def sgdr_epoch(epoch: Any, T_0: int, T_mult: int, xp: Any = PY) -> tuple[Any, Any]:
    """``(T_cur, T_i)`` at a (fractional) ``epoch``: torch's ``CosineAnnealingWarmRestarts.step(epoch)``."""
    if T_mult == 1:
        return xp.select(epoch >= T_0, lambda: epoch % T_0, lambda: epoch), T_0
    if xp is PY:
        if epoch >= T_0:
            n = int(math.log(epoch / T_0 * (T_mult - 1) + 1, T_mult))
            return epoch - T_0 * (T_mult**n - 1) / (T_mult - 1), T_0 * T_mult**n
        return epoch, T_0
    ep = jnp.asarray(epoch, scalar_dtype())
    d = JNP.div
    n = jnp.floor(d(jnp.log(d(jnp.maximum(ep, T_0), T_0) * (T_mult - 1) + 1), math.log(T_mult)))
    after_cur = ep - d(T_0 * (T_mult**n - 1), T_mult - 1)
    return jnp.where(ep >= T_0, after_cur, ep), jnp.where(ep >= T_0, T_0 * T_mult**n, T_0)


def sgdr_cycles(k: jax.Array, T_0: int, T_mult: int) -> tuple[jax.Array, jax.Array]:
    """``(T_cur, T_i)`` after ``k`` (integer) ``step()`` calls: torch's incremental counters, exactly."""
    if T_mult == 1:
        return k % T_0, jnp.full_like(k, T_0)
    limit = 2**62 if k.dtype.itemsize == 8 else 2**31 - 1
    start, length = 0, T_0
    T_cur, T_i = k, jnp.full_like(k, T_0)
    while True:  # cycle n starts at T_0 (T_mult**n - 1)/(T_mult - 1) and lasts T_0 T_mult**n
        start, length = start + length, length * T_mult
        if start > limit:
            return T_cur, T_i
        inside = k >= start
        T_cur = jnp.where(inside, k - start, T_cur)
        T_i = jnp.where(inside, length if length <= limit else limit, T_i)


def check_warm_restarts(fn: str, T_0: Any, T_mult: Any, eta_min: Any) -> None:
    if isinstance(T_0, bool) or not isinstance(T_0, int) or T_0 <= 0:
        raise ValueError(f"{fn}: Expected positive integer T_0, but got {T_0}")
    if isinstance(T_mult, bool) or not isinstance(T_mult, int) or T_mult < 1:
        raise ValueError(f"{fn}: Expected integer T_mult >= 1, but got {T_mult}")
    if isinstance(eta_min, bool) or not isinstance(eta_min, (float, int)):
        raise ValueError(f"{fn}: Expected float or int eta_min, but got {eta_min} of type {type(eta_min)}")


# ---- the schedules ------------------------------------------------------------------------------


def cosine_annealing_lr(lr: float, T_max: int, eta_min: float = 0.0) -> TorchSchedule:
    r"""``torch.optim.lr_scheduler.CosineAnnealingLR``:
    :math:`\eta_k = \eta_{min} + (\eta_0 - \eta_{min})\frac{1 + \cos(\pi k / T_{max})}{2}`.

    .. warning:: Past ``T_max`` torch's LR rises again (period ``2 * T_max``); so does this schedule.
       ``optax.cosine_decay_schedule`` holds the minimum instead.

    .. note:: torch's ``T_max=0`` fails with ``ZeroDivisionError`` at the first step; jloss raises
       ``ValueError``.
    """
    fn = "cosine_annealing_lr"
    base = check_float(fn, "lr", lr)
    T_max = check_int(fn, "T_max", T_max, 1)
    eta_min = check_float(fn, "eta_min", eta_min)
    dt = scalar_dtype

    def sched(k: Any) -> jax.Array:
        check_concrete_steps(fn, k)
        return jnp.asarray(closed_cosine(jnp.asarray(k), jnp.asarray(base, dt()), T_max, eta_min), dt())

    return TorchSchedule("CosineAnnealingLR", sched, lr=base)


def cosine_annealing_warm_restarts(lr: float, T_0: int, T_mult: int = 1, eta_min: float = 0.0) -> TorchSchedule:
    r"""``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts`` (SGDR):
    :math:`\eta = \eta_{min} + (\eta_0 - \eta_{min})\frac{1 + \cos(\pi T_{cur}/T_i)}{2}`, where the
    cycle length :math:`T_i` starts at ``T_0`` and is multiplied by ``T_mult`` at each restart.

    An integer ``k`` gives the LR after ``k`` calls of ``step()`` (torch's exact integer counters);
    a floating ``k`` is a fractional epoch, as torch's ``step(epoch)`` (its logarithm formula):
    ``per_update(schedule, iters, fractional=True)`` is torch's ``step(epoch + i / iters)``.
    """
    fn = "cosine_annealing_warm_restarts"
    base = check_float(fn, "lr", lr)
    check_warm_restarts(fn, T_0, T_mult, eta_min)
    eta_min = float(eta_min)
    dt = scalar_dtype

    def sched(k: Any) -> jax.Array:
        check_concrete_steps(fn, k)
        k = jnp.asarray(k)
        if jnp.issubdtype(k.dtype, jnp.integer):
            T_cur, T_i = sgdr_cycles(k, T_0, T_mult)
        else:
            T_cur, T_i = sgdr_epoch(k.astype(dt()), T_0, T_mult, JNP)
        return jnp.asarray(sgdr_lr(jnp.asarray(T_cur, dt()), jnp.asarray(T_i, dt()), jnp.asarray(base, dt()), eta_min), dt())

    return TorchSchedule("CosineAnnealingWarmRestarts", sched, lr=base)
