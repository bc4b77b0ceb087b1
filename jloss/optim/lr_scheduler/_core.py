"""Shared pieces of the torch-exact LR schedules.

Every family's formula is written once, over an arithmetic namespace: :data:`PY` (Python floats and
``math``, what torch's schedulers compute with) for the torch-named scheduler classes, and
:data:`JNP` (``jax.numpy`` in :func:`jloss.optim._base.scalar_dtype`, float64 under x64) for the
jit-safe schedule functions. ``select(cond, if_true, if_false)`` takes thunks so that the Python
path evaluates only the branch torch evaluates (no stray ``ZeroDivisionError``), while the jax path
evaluates both under ``jnp.where``. ``div`` is IEEE division in both (see :meth:`_JnpOps.div`).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._base import scalar_dtype


class _PyOps:
    """Python-float arithmetic: torch's schedulers compute with Python floats (IEEE float64)."""

    pi = math.pi
    cos = staticmethod(math.cos)
    floor = staticmethod(math.floor)
    log = staticmethod(math.log)
    minimum = staticmethod(min)
    maximum = staticmethod(max)

    @staticmethod
    def select(cond: Any, if_true: Callable[[], Any], if_false: Callable[[], Any]) -> Any:
        return if_true() if cond else if_false()

    @staticmethod
    def asfloat(x: Any) -> float:
        return float(x)

    @staticmethod
    def div(a: Any, b: Any) -> Any:
        return a / b


class _JnpOps:
    """``jax.numpy`` arithmetic in :func:`scalar_dtype` (traceable, broadcasting)."""

    pi = math.pi
    cos = staticmethod(jnp.cos)
    floor = staticmethod(jnp.floor)
    log = staticmethod(jnp.log)
    minimum = staticmethod(jnp.minimum)
    maximum = staticmethod(jnp.maximum)

    @staticmethod
    def select(cond: Any, if_true: Callable[[], Any], if_false: Callable[[], Any]) -> Any:
        return jnp.where(cond, if_true(), if_false())

    @staticmethod
    def asfloat(x: Any) -> jax.Array:
        return jnp.asarray(x, scalar_dtype())

    @staticmethod
    def div(a: Any, b: Any) -> jax.Array:
        """``a / b`` as IEEE division.

        Under ``jit`` XLA's algebraic simplifier turns a division by a constant or by a broadcast
        scalar into a multiplication by its reciprocal (``5 / 5`` becomes ``5 * 0.2 = 1 + 2**-52``),
        which moves values off torch's by an ulp and breaks exact zeros (``1 - k / T`` at
        ``k = T``). Giving the divisor ``a``'s (batched) shape behind an optimization barrier
        keeps the true division."""
        a = jnp.asarray(a)
        if not jnp.issubdtype(a.dtype, jnp.floating):
            a = a.astype(scalar_dtype())
        zero = jnp.where(jnp.isfinite(a), a * 0, 0)
        return a / lax.optimization_barrier(zero + jnp.asarray(b, a.dtype))


PY = _PyOps()
JNP = _JnpOps()


def is_traced(x: Any) -> bool:
    """True when ``x`` is a jax tracer (its value is unknown at trace time)."""
    return isinstance(x, jax.core.Tracer)


def as_step(fn: str, k: Any) -> jax.Array:
    """The step count ``k`` (int, float or array) as a float array of :func:`scalar_dtype`."""
    k = jnp.asarray(k)
    if not (jnp.issubdtype(k.dtype, jnp.integer) or jnp.issubdtype(k.dtype, jnp.floating)):
        raise TypeError(f"{fn}: the step count must be an integer or float, got dtype {k.dtype}")
    return k.astype(scalar_dtype())


def check_concrete_steps(fn: str, k: Any) -> None:
    """torch has no negative step: reject a concrete negative ``k`` (traced values are not checked)."""
    if not is_traced(k) and np.any(np.asarray(k) < 0):
        raise ValueError(f"{fn}: the step count k must be >= 0, got {np.asarray(k).min()}")


def map_scalar(f: Callable[[Any], Any], k: Any) -> Any:
    """``f`` (written for a scalar step) over every entry of ``k`` (loops need scalar bounds)."""
    k = jnp.asarray(k)
    if k.ndim == 0:
        return f(k)
    return jax.vmap(f)(k.ravel()).reshape(k.shape)


class TorchSchedule:
    """An optax schedule that mirrors a torch scheduler: ``schedule(k)`` is the learning rate after
    ``k`` calls of ``scheduler.step()`` (``k = 0``: right after construction), as
    ``scheduler.get_last_lr()`` of torch.

    It is an ordinary optax ``Schedule`` (a callable of the step count) and can be passed as ``lr``
    to any ``jloss.optim`` transform or optax optimizer; ``k`` may be a Python int, an array of
    steps, or a traced integer under ``jax.jit``.

    Attributes:
        name: the torch class it mirrors (``"StepLR"``, ...).
        lr: the base learning rate (``None`` for ``CyclicLR`` / ``OneCycleLR``, which set their own).
        momentum: for ``cyclic_lr`` / ``one_cycle_lr`` with ``cycle_momentum=True``, the schedule of
            the momentum (SGD's ``momentum``, or Adam's ``beta1``) that torch writes into the
            param groups at the same steps; else ``None``. See :func:`schedule_hyperparams`.
        factor: for torch's *chainable* schedulers (whose ``step()`` multiplies the current LR by a
            factor), ``factor(k)`` with ``schedule(k) == lr * factor(k)``; ``None`` otherwise.
        no_restart: why :func:`sequential_lr` cannot switch to this schedule at a milestone (torch
            fails there), or ``None``.
    """

    no_restart: str | None = None

    def __init__(self, name: str, fn: Callable[[Any], Any], *, lr: float | None = None,
                 momentum: Callable[[Any], Any] | None = None, factor: Callable[[Any], Any] | None = None,
                 resume: Callable[[Any, Any], Any] | None = None) -> None:
        self.name = name
        self.lr = lr
        self.momentum = momentum
        self.factor = factor
        self._fn = fn
        self._resume = resume

    def __call__(self, k: Any) -> jax.Array:
        return self._fn(k)

    def resume(self, j: Any, current: Any) -> jax.Array:
        """The LR ``j`` steps after :class:`SequentialLR` switched to this scheduler at a milestone,
        when the LR was ``current``. torch restarts a scheduler there with its closed form at 0
        (so the LR does not depend on ``current``), except ``MultiplicativeLR``, which multiplies
        the current LR."""
        return self._fn(j) if self._resume is None else self._resume(j, current)

    def __repr__(self) -> str:
        return f"TorchSchedule({self.name}, lr={self.lr})"


def per_update(schedule: Callable[[Any], Any], steps_per_epoch: int, *, fractional: bool = False) -> Any:
    """A per-epoch schedule as a per-update one: ``per_update(s, n)(count) == s(count // n)``.

    torch's schedulers are usually stepped once per epoch, while an optax optimizer evaluates its
    ``lr`` schedule at every update (``schedule(count)`` drives update ``count + 1``). With
    ``steps_per_epoch`` updates per epoch, ``optim.adam(lr=per_update(step_lr(1e-3, 5), n))`` uses
    the LR torch's ``StepLR`` gives during each epoch. ``fractional=True`` passes the fractional
    epoch ``count / n`` instead (torch's ``CosineAnnealingWarmRestarts.step(epoch + i / iters)``).
    The ``momentum`` schedule of a :class:`TorchSchedule` is converted the same way.
    """
    if isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, (int, np.integer)) or steps_per_epoch < 1:
        raise ValueError(f"per_update: steps_per_epoch must be a positive integer, got {steps_per_epoch!r}")
    n = int(steps_per_epoch)
    if not callable(schedule):
        raise TypeError(f"per_update: schedule must be callable, got {type(schedule).__name__}")

    def convert(s: Callable[[Any], Any]) -> Callable[[Any], Any]:
        if fractional:
            return lambda count: s(jnp.asarray(count).astype(scalar_dtype()) / n)
        return lambda count: s(operator.floordiv(jnp.asarray(count), n))

    if isinstance(schedule, TorchSchedule):
        mom = convert(schedule.momentum) if schedule.momentum is not None else None
        fac = convert(schedule.factor) if schedule.factor is not None and not fractional else None
        return TorchSchedule(schedule.name, convert(schedule), lr=schedule.lr, momentum=mom, factor=fac)
    return convert(schedule)


def schedule_hyperparams(tx: Any, **schedules: Callable[[Any], Any]) -> Any:
    """Drive injected hyperparameters of an optax transform by schedules of its update count.

    ``jloss.optim`` transforms (and ``optax.inject_hyperparams`` ones) keep ``momentum``, ``beta1``,
    ... in ``state.hyperparams``. Before each update this wrapper writes ``schedule(state.count)``
    there, exactly as a float-valued ``lr`` schedule is evaluated. It is how the momentum cycle of
    :func:`cyclic_lr` / :func:`one_cycle_lr` reaches an optimizer::

        sched = lr_scheduler.one_cycle_lr(max_lr=0.1, total_steps=1000)
        tx = lr_scheduler.schedule_hyperparams(optim.sgd(lr=sched, momentum=0.9), momentum=sched.momentum)
        tx = lr_scheduler.schedule_hyperparams(optim.adam(lr=sched), beta1=sched.momentum)
        # plain optax: optax.inject_hyperparams(optax.sgd)(learning_rate=sched, momentum=sched.momentum)
    """
    import optax  # noqa: PLC0415

    for name, s in schedules.items():
        if not callable(s):
            raise TypeError(f"schedule_hyperparams: {name} must be a schedule (callable), got {type(s).__name__}")

    def _set(state: Any) -> Any:
        if not hasattr(state, "hyperparams") or not hasattr(state, "count"):
            raise TypeError("schedule_hyperparams: the transform has no injected hyperparameters "
                            "(use a jloss.optim transform or optax.inject_hyperparams)")
        missing = sorted(set(schedules) - set(state.hyperparams))
        if missing:
            raise ValueError(f"schedule_hyperparams: {missing} not among the injected hyperparameters "
                             f"{sorted(state.hyperparams)}")
        hp = dict(state.hyperparams)
        for name, s in schedules.items():
            hp[name] = jnp.asarray(s(state.count), hp[name].dtype)
        return state._replace(hyperparams=hp)

    def init(params: Any) -> Any:
        return _set(tx.init(params))

    def update(updates: Any, state: Any, params: Any = None, **extra: Any) -> Any:
        return optax.with_extra_args_support(tx).update(updates, _set(state), params, **extra)

    return optax.GradientTransformationExtraArgs(init, update)


def check_int(fn: str, name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{fn}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_float(fn: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{fn}: {name} must be a number, got {type(value).__name__}")
    return float(value)
