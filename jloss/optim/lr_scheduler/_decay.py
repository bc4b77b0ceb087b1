"""The decaying schedules: LambdaLR, MultiplicativeLR, StepLR, MultiStepLR, ConstantLR, LinearLR,
ExponentialLR, PolynomialLR.

Each ``closed_*`` helper is torch's ``_get_closed_form_lr`` for one parameter group, written over an
arithmetic namespace (:data:`~._core.PY` in the scheduler classes, :data:`~._core.JNP` in the
schedules). torch's ``step()`` instead applies the recursive ``get_lr`` (the current LR times a
factor); the closed forms equal it to rounding (a few ulps after 1,000 steps), which is what the
parity suite checks. ``*_factor`` helpers are the recursive factors the classes apply.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from .._base import scalar_dtype
from ._core import (
    JNP,
    PY,
    TorchSchedule,
    check_concrete_steps,
    check_float,
    check_int,
    is_traced,
    map_scalar,
)

# ---- the per-family formulas (shared with the scheduler classes) --------------------------------


def closed_step(k: Any, base: Any, step_size: int, gamma: float, xp: Any = JNP) -> Any:
    r"""StepLR: :math:`\eta_k = \eta_0\,\gamma^{\lfloor k / s\rfloor}`."""
    return base * gamma ** (k // step_size)


def closed_multi_step(k: Any, base: Any, milestones: Counter, gamma: float, xp: Any = JNP) -> Any:
    r"""MultiStepLR: :math:`\eta_k = \eta_0\,\gamma^{\#\{m \le k\}}` (a repeated milestone counts twice)."""
    n = 0
    for m in sorted(milestones.elements()):
        n = n + xp.select(k >= m, lambda: 1, lambda: 0)
    return base * gamma ** n


def closed_constant(k: Any, base: Any, factor: float, total_iters: int, xp: Any = JNP) -> Any:
    r"""ConstantLR: :math:`\eta_0 f` before ``total_iters``, then :math:`\eta_0`."""
    return base * (factor + xp.select(k >= total_iters, lambda: 1.0, lambda: 0.0) * (1 - factor))


def closed_linear(k: Any, base: Any, start_factor: float, end_factor: float, total_iters: int, xp: Any = JNP) -> Any:
    r"""LinearLR: :math:`\eta_0 (s + (e - s)\min(T, k)/T)`."""
    return base * (start_factor + xp.div((end_factor - start_factor) * xp.minimum(total_iters, k), total_iters))


def closed_exponential(k: Any, base: Any, gamma: float, xp: Any = JNP) -> Any:
    r"""ExponentialLR: :math:`\eta_0\gamma^k`."""
    return base * gamma ** k


def closed_polynomial(k: Any, base: Any, total_iters: int, power: float, xp: Any = JNP) -> Any:
    r"""PolynomialLR: :math:`\eta_0 (1 - \min(T, k)/T)^p`."""
    return base * (1.0 - xp.div(xp.minimum(total_iters, k), total_iters)) ** power


def linear_factor(k: int, start_factor: float, end_factor: float, total_iters: int) -> float:
    """LinearLR's recursive factor at step ``1 <= k <= total_iters`` (torch's ``get_lr``)."""
    return 1.0 + (end_factor - start_factor) / (
        total_iters * start_factor + (k - 1) * (end_factor - start_factor))


def polynomial_factor(k: int, total_iters: int, power: float) -> float:
    """PolynomialLR's recursive factor at step ``1 <= k <= total_iters`` (torch's ``get_lr``)."""
    return ((1.0 - k / total_iters) / (1.0 - (k - 1) / total_iters)) ** power


# ---- validation (shared with the classes) -------------------------------------------------------


def check_constant(fn: str, factor: float, total_iters: int) -> None:
    if factor > 1.0 or factor < 0:
        raise ValueError(f"{fn}: Constant multiplicative factor expected to be between 0 and 1, got {factor}")
    check_int(fn, "total_iters", total_iters, 0)
    if factor == 0 and total_iters > 0:
        raise ValueError(f"{fn}: factor=0 with total_iters={total_iters} > 0: torch divides the LR by the factor "
                         "at step total_iters (ZeroDivisionError)")


def check_linear(fn: str, start_factor: float, end_factor: float, total_iters: int) -> None:
    if start_factor > 1.0 or start_factor <= 0:
        raise ValueError(f"{fn}: Starting multiplicative factor expected to be greater than 0 and less or equal "
                         f"to 1, got start_factor={start_factor}")
    if end_factor > 1.0 or end_factor < 0:
        raise ValueError(f"{fn}: Ending multiplicative factor expected to be between 0 and 1, got end_factor={end_factor}")
    check_int(fn, "total_iters", total_iters, 0)


def milestone_counter(fn: str, milestones: Iterable[int]) -> Counter:
    try:
        ms = list(milestones)
    except TypeError:
        raise TypeError(f"{fn}: milestones must be an iterable of integers, got {type(milestones).__name__}") from None
    for m in ms:
        if isinstance(m, bool) or not isinstance(m, int):
            raise TypeError(f"{fn}: milestones must be integers, got {m!r}")
    return Counter(ms)


# ---- the schedules ------------------------------------------------------------------------------


def _base(fn: str, lr: Any) -> float:
    lr = check_float(fn, "lr", lr)
    return lr


#: torch's SequentialLR restarts a member at its milestone with the closed form, which divides by
#: ``total_iters`` for LinearLR and PolynomialLR.
NO_RESTART = ("has total_iters=0: torch's SequentialLR restarts it at its milestone with the closed form, "
              "which divides by total_iters (ZeroDivisionError)")


def _no_restart(s: TorchSchedule) -> TorchSchedule:
    s.no_restart = NO_RESTART
    return s


def _schedule(name: str, lr: float, closed: Callable[[Any, Any], Any], *, chainable: bool = True) -> TorchSchedule:
    """A schedule ``k -> closed(k, lr)`` in :func:`scalar_dtype`."""
    fname = name

    def fn(k: Any) -> jax.Array:
        check_concrete_steps(fname, k)
        return jnp.asarray(closed(jnp.asarray(k), jnp.asarray(lr, scalar_dtype())), scalar_dtype())

    def factor(k: Any) -> jax.Array:
        return jnp.asarray(closed(jnp.asarray(k), jnp.asarray(1.0, scalar_dtype())), scalar_dtype())

    return TorchSchedule(name, fn, lr=lr, factor=factor if chainable else None)


def lambda_lr(lr: float, lr_lambda: Callable[[Any], Any]) -> TorchSchedule:
    r"""``torch.optim.lr_scheduler.LambdaLR``: :math:`\eta_k = \eta_0\,\lambda(k)`.

    ``lr_lambda(k)`` is called with the step as given (a Python int, or a traced integer under
    ``jit``: write it with operators or ``jnp`` functions, e.g. ``lambda e: 0.95 ** e`` or
    ``lambda e: 0.5 ** (e // 10)``). For several param groups, make one schedule per group.
    Not chainable (torch's ``get_lr`` restarts from the base LR).
    """
    fn = "lambda_lr"
    base = _base(fn, lr)
    if not callable(lr_lambda):
        raise TypeError(f"{fn}: lr_lambda should be a function, but got {type(lr_lambda).__name__}")

    def sched(k: Any) -> jax.Array:
        check_concrete_steps(fn, k)
        return jnp.asarray(base * lr_lambda(k), scalar_dtype())

    return TorchSchedule("LambdaLR", sched, lr=base)


def multiplicative_lr(lr: float, lr_lambda: Callable[[Any], Any]) -> TorchSchedule:
    r"""``torch.optim.lr_scheduler.MultiplicativeLR``: :math:`\eta_k = \eta_{k-1}\,\lambda(k)`, :math:`\eta_0` = ``lr``.

    The product is accumulated in torch's order. For a concrete ``k`` the loop runs in Python (any
    ``lr_lambda`` works); under ``jit`` it is a ``lax.fori_loop`` of ``k`` iterations calling
    ``lr_lambda`` with a traced integer, so the cost grows with ``k`` (for a constant factor,
    :func:`exponential_lr` is the closed form).
    """
    fn = "multiplicative_lr"
    base = _base(fn, lr)
    if not callable(lr_lambda):
        raise TypeError(f"{fn}: lr_lambda should be a function, but got {type(lr_lambda).__name__}")
    dt = scalar_dtype

    def fold(start: Any, k: Any, first: int) -> jax.Array:
        if not is_traced(k) and jnp.ndim(k) == 0:
            v = start
            for t in range(first, int(k) + 1):
                v = v * lr_lambda(t)
            return jnp.asarray(v, dt())

        def one(kk: Any) -> jax.Array:
            return lax.fori_loop(first, kk.astype(jnp.int32) + 1,
                                 lambda t, v: (v * lr_lambda(t)).astype(dt()), jnp.asarray(start, dt()))

        return map_scalar(one, k)

    def sched(k: Any) -> jax.Array:
        check_concrete_steps(fn, k)
        return fold(base, k, 1)

    def factor(k: Any) -> jax.Array:
        return fold(1.0, k, 1)

    def resume(j: Any, current: Any) -> jax.Array:
        # torch's SequentialLR switches to it with ``_update_lr(0)``: current * lr_lambda(0), then on.
        return fold(current, j, 0)

    return TorchSchedule("MultiplicativeLR", sched, lr=base, factor=factor, resume=resume)


def step_lr(lr: float, step_size: int, gamma: float = 0.1) -> TorchSchedule:
    r"""``torch.optim.lr_scheduler.StepLR``: :math:`\eta_k = \eta_0\,\gamma^{\lfloor k/\text{step\_size}\rfloor}`.

    .. note:: torch accepts a non-positive ``step_size`` (``0`` fails with ``ZeroDivisionError`` at the
       first step, a negative one decays at every step); jloss raises ``ValueError``.
    """
    fn = "step_lr"
    base = _base(fn, lr)
    step_size = check_int(fn, "step_size", step_size, 1)
    gamma = check_float(fn, "gamma", gamma)
    return _schedule("StepLR", base, lambda k, b: closed_step(k, b, step_size, gamma))


def multi_step_lr(lr: float, milestones: Iterable[int], gamma: float = 0.1) -> TorchSchedule:
    r"""``torch.optim.lr_scheduler.MultiStepLR``: the LR times :math:`\gamma` at each milestone.

    Like torch, ``milestones`` need not be sorted and a repeated milestone applies :math:`\gamma`
    once per occurrence.
    """
    fn = "multi_step_lr"
    base = _base(fn, lr)
    ms = milestone_counter(fn, milestones)
    gamma = check_float(fn, "gamma", gamma)
    return _schedule("MultiStepLR", base, lambda k, b: closed_multi_step(k, b, ms, gamma))


def constant_lr(lr: float, factor: float = 1.0 / 3, total_iters: int = 5) -> TorchSchedule:
    r"""``torch.optim.lr_scheduler.ConstantLR``: :math:`\eta_0 f` for ``k < total_iters``, then :math:`\eta_0`.

    ``total_iters=0`` keeps :math:`\eta_0 f` for ever, as torch's ``step()`` does.
    """
    fn = "constant_lr"
    base = _base(fn, lr)
    factor = check_float(fn, "factor", factor)
    check_constant(fn, factor, total_iters)
    if total_iters == 0:
        s = _schedule("ConstantLR", base, lambda k, b: b * factor + 0.0 * k)
        # switched in by SequentialLR at a milestone, torch restarts it with the closed form at 0, which
        # for total_iters=0 is the full LR (k >= total_iters), and its recursive step keeps that
        s._resume = lambda j, current: jnp.asarray(closed_constant(0, base, factor, 0, PY) + 0.0 * jnp.asarray(j),
                                                   scalar_dtype())
        return s
    return _schedule("ConstantLR", base, lambda k, b: closed_constant(k, b, factor, total_iters))


def linear_lr(lr: float, start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5) -> TorchSchedule:
    r"""``torch.optim.lr_scheduler.LinearLR``: the factor goes linearly from ``start_factor`` to
    ``end_factor`` over ``total_iters`` steps, then stays. ``total_iters=0`` keeps
    :math:`\eta_0 \cdot` ``start_factor``, as torch's ``step()`` does."""
    fn = "linear_lr"
    base = _base(fn, lr)
    start_factor = check_float(fn, "start_factor", start_factor)
    end_factor = check_float(fn, "end_factor", end_factor)
    check_linear(fn, start_factor, end_factor, total_iters)
    if total_iters == 0:
        return _no_restart(_schedule("LinearLR", base, lambda k, b: b * start_factor + 0.0 * k))
    return _schedule("LinearLR", base, lambda k, b: closed_linear(k, b, start_factor, end_factor, total_iters))


def exponential_lr(lr: float, gamma: float) -> TorchSchedule:
    r"""``torch.optim.lr_scheduler.ExponentialLR``: :math:`\eta_k = \eta_0\gamma^k` (float64 under x64;
    ``optax.exponential_decay`` returns float32)."""
    fn = "exponential_lr"
    base = _base(fn, lr)
    gamma = check_float(fn, "gamma", gamma)
    return _schedule("ExponentialLR", base, lambda k, b: closed_exponential(k, b, gamma))


def polynomial_lr(lr: float, total_iters: int = 5, power: float = 1.0) -> TorchSchedule:
    r"""``torch.optim.lr_scheduler.PolynomialLR``: :math:`\eta_0 (1 - \min(T, k)/T)^p`
    (``total_iters=0`` keeps :math:`\eta_0`, as torch's ``step()`` does)."""
    fn = "polynomial_lr"
    base = _base(fn, lr)
    total_iters = check_int(fn, "total_iters", total_iters, 0)
    power = check_float(fn, "power", power)
    if total_iters == 0:
        return _no_restart(_schedule("PolynomialLR", base, lambda k, b: b + 0.0 * k))
    return _schedule("PolynomialLR", base, lambda k, b: closed_polynomial(k, b, total_iters, power))
