"""Composed schedules: SequentialLR and ChainedScheduler."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from .._base import scalar_dtype
from ._core import TorchSchedule, check_concrete_steps, check_float


def check_milestones(fn: str, n_schedulers: int, milestones: Sequence[int]) -> list[int]:
    """torch's SequentialLR checks, plus strictly increasing positive milestones.

    torch does not check the order (it bisects the list as given, so unsorted milestones switch
    schedulers at surprising steps) and a milestone 0 never runs the first scheduler; jloss refuses
    both with ``ValueError``.
    """
    if n_schedulers < 1:
        raise ValueError(f"{fn}: expects at least one scheduler, but got no scheduler.")
    ms = list(milestones)
    if len(ms) != n_schedulers - 1:
        raise ValueError(
            f"{fn}: Sequential Schedulers expects number of schedulers provided to be one more than the number "
            f"of milestone points, but got number of schedulers {n_schedulers} and the number of milestones "
            f"to be equal to {len(ms)}")
    for m in ms:
        if isinstance(m, bool) or not isinstance(m, int) or m < 1:
            raise ValueError(f"{fn}: milestones must be positive integers, got {ms}")
    if any(b <= a for a, b in zip(ms, ms[1:])):
        raise ValueError(f"{fn}: milestones must be strictly increasing, got {ms}")
    return ms


def _same_lr(fn: str, lr: float, s: Any, i: int) -> None:
    if isinstance(s, TorchSchedule) and s.lr is not None and s.lr != lr:
        raise ValueError(f"{fn}: scheduler {i} ({s.name}) was built with lr={s.lr}, but the schedulers of one "
                         f"optimizer share its lr={lr}")


def sequential_lr(lr: float, schedulers: Sequence[Callable[[Any], Any]], milestones: Sequence[int]) -> TorchSchedule:
    r"""``torch.optim.lr_scheduler.SequentialLR``: ``schedulers[i]`` from ``milestones[i-1]`` on,
    restarted at step 0 there: ``schedule(k) = schedulers[i](k - milestones[i-1])``.

    Members are schedules of this package built with the same ``lr`` (or any optax schedule,
    used as is). As in torch, a ``MultiplicativeLR`` switched in at a milestone multiplies the
    current LR (by ``lr_lambda(0)``, then on) instead of restarting from ``lr``.
    """
    fn = "sequential_lr"
    base = check_float(fn, "lr", lr)
    scheds = list(schedulers)
    ms = check_milestones(fn, len(scheds), milestones)
    for i, s in enumerate(scheds):
        if not callable(s):
            raise TypeError(f"{fn}: scheduler {i} must be a schedule (callable), got {type(s).__name__}")
        _same_lr(fn, base, s, i)
        if i > 0 and getattr(s, "no_restart", None):
            raise ValueError(f"{fn}: scheduler {i} ({s.name}) {s.no_restart}")
    dt = scalar_dtype
    starts = [0, *ms]

    def value(k: jax.Array, upto: int) -> jax.Array:
        """The LR of the sequence cut after ``schedulers[upto]``."""
        out = None
        for i in range(upto + 1):
            s, start = scheds[i], starts[i]
            j = jnp.maximum(k - start, 0)
            if i < upto:  # not active past the next milestone: keep inactive steps in range
                j = jnp.minimum(j, starts[i + 1] - start - 1)
            if i > 0 and isinstance(s, TorchSchedule):
                v = s.resume(j, value(jnp.asarray(start - 1), i - 1))
            else:
                v = s(j)
            v = jnp.asarray(v, dt())
            out = v if out is None else jnp.where(k >= start, v, out)
        return out

    def sched(k: Any) -> jax.Array:
        check_concrete_steps(fn, k)
        return value(jnp.asarray(k), len(scheds) - 1)

    return TorchSchedule("SequentialLR", sched, lr=base)


def chained_scheduler(lr: float, schedulers: Sequence[TorchSchedule]) -> TorchSchedule:
    r"""``torch.optim.lr_scheduler.ChainedScheduler``: every scheduler steps the same LR, so for
    torch's *chainable* schedulers (those whose ``step()`` multiplies the current LR:
    ``MultiplicativeLR``, ``StepLR``, ``MultiStepLR``, ``ConstantLR``, ``LinearLR``,
    ``ExponentialLR``, ``PolynomialLR``) the LR is ``lr * prod(factor_i(k))``.

    Other members (``LambdaLR``, ``CosineAnnealingLR``, the cyclic ones, ...) overwrite or rescale
    the LR in ways that are not a product; torch's result then depends on the order of every step.
    This function refuses them (``ValueError``); the :class:`ChainedScheduler` class reproduces any
    chain step by step.
    """
    fn = "chained_scheduler"
    base = check_float(fn, "lr", lr)
    scheds = list(schedulers)
    if not scheds:
        raise ValueError(f"{fn}: expects at least one scheduler to be chained, but got no scheduler.")
    for i, s in enumerate(scheds):
        if not isinstance(s, TorchSchedule):
            raise TypeError(f"{fn}: scheduler {i} must be a jloss.optim.lr_scheduler schedule, got {type(s).__name__}")
        if s.factor is None:
            raise ValueError(f"{fn}: scheduler {i} ({s.name}) is not chainable (its torch step is not a factor of "
                             "the current LR); use the ChainedScheduler class, which steps it exactly")
        _same_lr(fn, base, s, i)

    def sched(k: Any) -> jax.Array:
        check_concrete_steps(fn, k)
        v = jnp.asarray(base, scalar_dtype())
        for s in scheds:
            v = v * s.factor(k)
        return v

    def factor(k: Any) -> jax.Array:
        v = jnp.asarray(1.0, scalar_dtype())
        for s in scheds:
            v = v * s.factor(k)
        return v

    return TorchSchedule("ChainedScheduler", sched, lr=base, factor=factor)
