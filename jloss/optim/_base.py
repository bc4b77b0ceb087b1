"""Shared pieces of the torch-exact optimizers.

Every ``jloss.optim`` alias returns ``optax.inject_hyperparams(<family factory>)(...)``: the numeric
hyperparameters (``lr``, ``momentum``, ``beta1`` / ``beta2``, ``weight_decay``, ...) live in
``state.hyperparams`` so the torch-named optimizer objects and schedulers can change them between
steps without recompiling, and ``lr`` may be any optax schedule (evaluated at the update count, so
``schedule(k)`` drives the (k+1)-th update). Each family's inner state is a ``NamedTuple`` whose field
names are torch's per-parameter state entries (``step``, ``exp_avg``, ``momentum_buffer``, ...): that is
what makes ``state_dict()`` a renaming, not a translation.

Precision: torch computes per-step scalars (bias corrections, ...) in Python float64 and rounds once
when it applies them to a tensor. Hyperparameters are therefore kept in float64 when x64 is on
(:func:`scalar_dtype`); without x64 the scalar formulas use ``expm1`` / ``log1p`` forms. Scalars are
cast to the parameter dtype exactly where torch combines them with a tensor (:func:`cast_like`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

ScalarOrSchedule = float | Callable[[Any], Any]


def scalar_dtype() -> Any:
    """float64 when x64 is enabled, else float32: the dtype of hyperparameters and step scalars."""
    return jax.dtypes.canonicalize_dtype(np.float64)


def inject(factory: Callable[..., optax.GradientTransformation], static_args: tuple[str, ...] = (), **hyper: Any):
    """``optax.inject_hyperparams(factory)(**hyper)`` with hyperparameters kept in :func:`scalar_dtype`,
    and an ``update`` that checks ``grads`` against ``params`` (see :func:`check_grads`)."""
    tx = optax.inject_hyperparams(factory, static_args=static_args, hyperparam_dtype=scalar_dtype())(**hyper)
    name = factory.__name__.removeprefix("scale_by_torch_")

    def update(updates: Any, state: Any, params: Any = None, **extra: Any) -> Any:
        check_grads(name, updates, params)
        return tx.update(updates, state, params, **extra)

    return optax.GradientTransformationExtraArgs(tx.init, update)


def check_grads(fn: str, grads: Any, params: Any) -> None:
    """``grads`` must have the pytree structure and leaf shapes of ``params`` (when given): a
    ValueError naming them, rather than a pytree or broadcasting error from inside the update."""
    if params is None:
        return
    gs, ps = jax.tree.structure(grads), jax.tree.structure(params)
    if gs != ps:
        raise ValueError(f"{fn}: update(grads, state, params): grads must have the pytree structure of params "
                         f"{ps}, got {gs}")
    for path, g, p in zip(jax.tree_util.tree_leaves_with_path(params), jax.tree.leaves(grads), jax.tree.leaves(params),
                          strict=True):
        if np.shape(g) != np.shape(p):
            raise ValueError(f"{fn}: update(grads, state, params): grads{jax.tree_util.keystr(path[0])} has shape "
                             f"{np.shape(g)}, its parameter {np.shape(p)}")


def cast_like(s: Any, x: jax.Array) -> jax.Array:
    """A scalar as ``x``'s dtype: the single rounding torch applies when a Python float meets a tensor."""
    return jnp.asarray(s).astype(x.dtype)


def one_minus_pow(beta: Any, t: Any) -> jax.Array:
    """``1 - beta**t`` accurately (torch computes it in float64): ``-expm1(t * log(beta))``."""
    beta = jnp.asarray(beta, scalar_dtype())
    t = jnp.asarray(t, beta.dtype)
    # beta == 0 -> 1 (log(0) = -inf, expm1(-inf) = -1); t == 0 -> 0.
    return -jnp.expm1(t * jnp.log(beta))


def next_count(count: jax.Array) -> jax.Array:
    """The torch step number of the update being made (1 for the first update)."""
    return optax.safe_increment(count) if hasattr(optax, "safe_increment") else count + 1


def tree_zeros_like(params: Any) -> Any:
    return jax.tree.map(jnp.zeros_like, params)


def check_lr(fn: str, lr: Any) -> None:
    """torch's lr check: a float >= 0, or a schedule (callable)."""
    if callable(lr):
        return
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating, np.integer)) and not (
        isinstance(lr, (jax.Array, np.ndarray)) and np.ndim(lr) == 0
    ):
        raise TypeError(f"{fn}: lr must be a float or an optax schedule, got {type(lr).__name__}")
    if not float(lr) >= 0.0:
        raise ValueError(f"{fn}: Invalid learning rate: lr must be >= 0, got {lr}")


def check_nonneg(fn: str, name: str, value: Any) -> None:
    if not float(value) >= 0.0:
        raise ValueError(f"{fn}: Invalid {name} value: {name} must be >= 0, got {value}")


def check_beta(fn: str, name: str, value: Any) -> None:
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{fn}: Invalid {name}: must be in [0, 1), got {value}")


def sign(x: jax.Array) -> jax.Array:
    """``torch.sign``: -1, 0 or 1, and 0 at NaN (``jnp.sign`` is NaN there)."""
    return jnp.where(jnp.isnan(x), jnp.zeros((), x.dtype), jnp.sign(x))


def py_max(a: Any, b: Any) -> jax.Array:
    """Python's ``max(a, b)`` (torch's scalar formulas): ``b`` only if ``b > a``, so a NaN ``b``
    gives ``a`` (``jnp.maximum`` would give NaN)."""
    a, b = jnp.asarray(a), jnp.asarray(b)
    return jnp.where(b > a, b, a)


def py_min(a: Any, b: Any) -> jax.Array:
    """Python's ``min(a, b)``: ``b`` only if ``b < a`` (a NaN ``b`` gives ``a``)."""
    a, b = jnp.asarray(a), jnp.asarray(b)
    return jnp.where(b < a, b, a)


def maybe_negate(grads: Any, maximize: bool) -> Any:
    return jax.tree.map(jnp.negative, grads) if maximize else grads


def add_l2(grads: Any, params: Any, weight_decay: Any, decay: bool) -> Any:
    """torch's coupled weight decay: ``grad.add(param, alpha=weight_decay)``."""
    if not decay:
        return grads
    if params is None:
        raise ValueError("weight_decay needs params: call update(grads, state, params)")
    return jax.tree.map(lambda g, p: g + cast_like(weight_decay, p) * p, grads, params)


def needs_params(fn: str, params: Any) -> None:
    if params is None:
        raise ValueError(f"{fn}: update(grads, state, params) needs params")


def lerp(start: jax.Array, end: jax.Array, weight: Any) -> jax.Array:
    """``start.lerp_(end, weight)`` with a Python-float weight, as torch's CPU kernel computes it.

    torch casts ``weight`` to the tensor dtype and evaluates ``start + w*(end - start)`` when
    ``|w| < 0.5``, else ``end + (w - 1)*(end - start)``, as one fused multiply-add (XLA fuses it
    the same way under ``jit``); the second form makes ``w = 1`` return ``end`` exactly. Half
    precision is computed in float32 and rounded once, as torch's ``opmath``.
    """
    dtype = start.dtype
    op = jnp.promote_types(dtype, jnp.float32)
    start, end = start.astype(op), end.astype(op)
    w = cast_like(weight, start)
    small = jnp.abs(w) < 0.5
    return (jnp.where(small, start, end) + jnp.where(small, w, w - 1) * (end - start)).astype(dtype)


def weight_decay(fn: str, grads: Any, params: Any, lr: Any, weight_decay: Any, *, has_decay: bool,
                 decoupled: bool) -> tuple[Any, Any]:
    """torch's two weight decays, for the Adam family.

    Returns ``(grads, decay_factor)``: coupled L2 adds ``weight_decay * param`` to the gradient
    (``decay_factor`` None); decoupled leaves the gradient and returns ``1 - lr * weight_decay``, the
    factor torch multiplies the parameter by before the step (``param.mul_(1 - lr * wd)``).
    """
    if not has_decay:
        return grads, None
    needs_params(fn, params)
    if decoupled:
        return grads, 1 - lr * weight_decay
    return add_l2(grads, params, weight_decay, True), None


def check_adam_args(fn: str, lr: Any, betas: Any, eps: Any, weight_decay: Any) -> None:
    """torch's ``__init__`` checks shared by the Adam family (lr, eps, betas in [0, 1), weight_decay)."""
    check_lr(fn, lr)
    check_nonneg(fn, "epsilon", eps)
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise TypeError(f"{fn}: betas must be a pair (beta1, beta2), got {betas!r}")
    check_beta(fn, "beta parameter at index 0", betas[0])
    check_beta(fn, "beta parameter at index 1", betas[1])
    check_nonneg(fn, "weight_decay", weight_decay)
