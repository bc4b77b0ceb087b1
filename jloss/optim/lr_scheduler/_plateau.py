"""ReduceLROnPlateau: torch's decision logic, as an optax transform driven by a metric."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from .._base import scalar_dtype
from ._core import JNP, check_float, check_int

# ---- the decision logic (shared with the ReduceLROnPlateau class) -------------------------------


def check_plateau(fn: str, mode: str, factor: float, threshold_mode: str) -> float:
    """torch's checks (same messages); returns ``mode_worse`` (``inf`` for ``'min'``, ``-inf`` for ``'max'``)."""
    if factor >= 1.0:
        raise ValueError(f"{fn}: Factor should be < 1.0, got factor={factor}")
    if mode not in {"min", "max"}:
        raise ValueError(f"{fn}: mode {mode} is unknown! Expected 'min' or 'max'")
    if threshold_mode not in {"rel", "abs"}:
        raise ValueError(f"{fn}: threshold mode {threshold_mode} is unknown! Expected threshold_mode 'rel' or 'abs'")
    return math.inf if mode == "min" else -math.inf


def is_better(a: Any, best: Any, mode: str, threshold_mode: str, threshold: float) -> Any:
    """torch's ``ReduceLROnPlateau._is_better``."""
    if mode == "min" and threshold_mode == "rel":
        return a < best * (1.0 - threshold)
    if mode == "min" and threshold_mode == "abs":
        return a < best - threshold
    if mode == "max" and threshold_mode == "rel":
        return a > best * (threshold + 1.0)
    return a > best + threshold


def plateau_step(current: Any, best: Any, num_bad_epochs: Any, cooldown_counter: Any, *, mode: str,
                 threshold_mode: str, threshold: float, patience: int, cooldown: int,
                 xp: Any = JNP) -> tuple[Any, Any, Any, Any]:
    """One ``ReduceLROnPlateau.step(metric)`` decision: ``(best, num_bad_epochs, cooldown_counter, reduce)``.

    As torch: a metric not better than ``best`` (by ``threshold``) is a bad epoch; during a
    cooldown bad epochs are not counted; the LR is reduced when ``num_bad_epochs > patience``
    (strictly: optax's ``reduce_on_plateau`` reduces one epoch earlier), which restarts the cooldown.
    """
    better = is_better(current, best, mode, threshold_mode, threshold)
    best = xp.select(better, lambda: current, lambda: best)
    num_bad_epochs = xp.select(better, lambda: 0, lambda: num_bad_epochs + 1)
    in_cooldown = cooldown_counter > 0
    cooldown_counter = xp.select(in_cooldown, lambda: cooldown_counter - 1, lambda: cooldown_counter)
    num_bad_epochs = xp.select(in_cooldown, lambda: 0, lambda: num_bad_epochs)
    reduce = num_bad_epochs > patience
    cooldown_counter = xp.select(reduce, lambda: cooldown, lambda: cooldown_counter)
    num_bad_epochs = xp.select(reduce, lambda: 0, lambda: num_bad_epochs)
    return best, num_bad_epochs, cooldown_counter, reduce


def reduced_lr(old_lr: Any, factor: float, min_lr: Any, eps: float, xp: Any = JNP) -> Any:
    """torch's ``_reduce_lr`` for one group: ``max(lr * factor, min_lr)``, unless that changes the
    LR by no more than ``eps`` (then the LR is kept)."""
    new_lr = xp.maximum(old_lr * factor, min_lr)
    return xp.select(old_lr - new_lr > eps, lambda: new_lr, lambda: old_lr)


# ---- the transform -------------------------------------------------------------------------------


class ReduceLROnPlateauState(NamedTuple):
    """``lr``: torch's current LR; ``best``, ``num_bad_epochs``, ``cooldown_counter``,
    ``last_epoch``: torch's attributes of the same names (``last_epoch`` counts the decisions)."""

    lr: jax.Array
    best: jax.Array
    num_bad_epochs: jax.Array
    cooldown_counter: jax.Array
    last_epoch: jax.Array


def reduce_lr_on_plateau(lr: float, mode: str = "min", factor: float = 0.1, patience: int = 10,
                         threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                         min_lr: float = 0.0, eps: float = 1e-8) -> optax.GradientTransformationExtraArgs:
    r"""``torch.optim.lr_scheduler.ReduceLROnPlateau`` as an optax transform that scales updates.

    Chain it after an optimizer built with the same ``lr``; it multiplies the updates by
    ``state.lr / lr``, so the chain steps with the LR torch's scheduler would have set.
    ``update(updates, state, params, value=metric)`` first makes torch's ``step(metric)`` decision
    (a metric that is not better than the best one by ``threshold`` — relative or absolute,
    ``mode='min'`` or ``'max'`` — is a bad epoch; after more than ``patience`` bad epochs the LR
    becomes ``max(lr * factor, min_lr)`` unless that changes it by ``eps`` or less, and ``cooldown``
    epochs are not counted), then scales the updates. Without ``value`` (``None``) no decision is
    made, so a per-epoch metric is passed only at the first update of each epoch::

        tx = optax.chain(optim.sgd(lr=0.1), lr_scheduler.reduce_lr_on_plateau(0.1, patience=2))
        for epoch in range(epochs):
            for i, batch in enumerate(batches):
                grads = jax.grad(loss)(params, batch)
                extra = {"value": val_loss} if (i == 0 and epoch > 0) else {}
                updates, state = tx.update(grads, state, params, **extra)

    That is torch's ``optimizer.step()`` for the epoch's batches after ``scheduler.step(val_loss)``
    at the end of the previous epoch.

    .. warning:: ``optax.contrib.reduce_on_plateau`` reduces when ``plateau_count >= patience``,
       one epoch earlier than torch (``num_bad_epochs > patience``), and its ``min_scale`` is relative
       where torch's ``min_lr`` is absolute.
    """
    fn = "reduce_lr_on_plateau"
    lr = check_float(fn, "lr", lr)
    if not lr > 0:
        raise ValueError(f"{fn}: lr must be > 0 (the updates are scaled by current_lr / lr), got {lr}")
    factor = check_float(fn, "factor", factor)
    mode_worse = check_plateau(fn, mode, factor, threshold_mode)
    patience = check_int(fn, "patience", patience, 0)
    cooldown = check_int(fn, "cooldown", cooldown, 0)
    threshold, min_lr, eps = check_float(fn, "threshold", threshold), check_float(fn, "min_lr", min_lr), check_float(fn, "eps", eps)

    def init(params: Any) -> ReduceLROnPlateauState:
        del params
        dt = scalar_dtype()
        return ReduceLROnPlateauState(lr=jnp.asarray(lr, dt), best=jnp.asarray(mode_worse, dt),
                                      num_bad_epochs=jnp.zeros([], jnp.int32),
                                      cooldown_counter=jnp.zeros([], jnp.int32), last_epoch=jnp.zeros([], jnp.int32))

    def decide(state: ReduceLROnPlateauState, value: Any) -> ReduceLROnPlateauState:
        current = jnp.asarray(value, state.best.dtype)
        if current.ndim != 0:
            raise ValueError(f"{fn}: value must be a scalar metric, got shape {current.shape}")
        best, nbad, cd, reduce = plateau_step(current, state.best, state.num_bad_epochs, state.cooldown_counter,
                                              mode=mode, threshold_mode=threshold_mode, threshold=threshold,
                                              patience=patience, cooldown=cooldown)
        new_lr = jnp.where(reduce, reduced_lr(state.lr, factor, min_lr, eps), state.lr)
        i32 = jnp.int32
        return ReduceLROnPlateauState(lr=new_lr, best=best, num_bad_epochs=jnp.asarray(nbad, i32),
                                      cooldown_counter=jnp.asarray(cd, i32), last_epoch=state.last_epoch + 1)

    def update(updates: Any, state: ReduceLROnPlateauState, params: Any = None, *, value: Any = None,
               **extra: Any) -> tuple[Any, ReduceLROnPlateauState]:
        del params, extra
        if value is not None:
            state = decide(state, value)
        scale = state.lr / lr
        return jax.tree.map(lambda u: u * scale.astype(u.dtype), updates), state

    return optax.GradientTransformationExtraArgs(init, update)
