"""Adagrad, as ``torch.optim.Adagrad`` (lr_decay, initial_accumulator_value, eps outside the sqrt, L2 decay)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from . import _base as B


class AdagradState(NamedTuple):
    """torch's per-parameter entries: ``step`` and ``sum`` (the running sum of squared gradients)."""

    step: jax.Array
    sum: Any


TORCH_STATE_KEYS = ("step", "sum")


def scale_by_torch_adagrad(
    lr: Any, lr_decay: Any, weight_decay: Any, initial_accumulator_value: Any, eps: Any, *,
    maximize: bool, has_decay: bool,
) -> optax.GradientTransformation:
    """One torch Adagrad step (single-tensor path, dense gradients), lr and its decay included."""

    def init(params):
        acc = jax.tree.map(lambda p: jnp.full_like(p, B.cast_like(initial_accumulator_value, p)), params)
        return AdagradState(step=jnp.zeros([], jnp.int32), sum=acc)

    def update(grads, state, params=None):
        step = B.next_count(state.step)
        g = B.maybe_negate(grads, maximize)
        g = B.add_l2(g, params, weight_decay, has_decay)
        # clr = lr / (1 + (step - 1) * lr_decay), a Python float in torch
        clr = lr / (1 + (jnp.asarray(step, B.scalar_dtype()) - 1) * lr_decay)
        acc = jax.tree.map(lambda s, gi: s + gi * gi, state.sum, g)
        updates = jax.tree.map(
            lambda gi, s: B.cast_like(-clr, gi) * gi / (jnp.sqrt(s) + B.cast_like(eps, s)), g, acc)
        return updates, AdagradState(step, acc)

    return optax.GradientTransformation(init, update)


def adagrad(
    lr: B.ScalarOrSchedule = 1e-2,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    initial_accumulator_value: float = 0.0,
    eps: float = 1e-10,
    *,
    maximize: bool = False,
) -> optax.GradientTransformation:
    r"""Adagrad, as ``torch.optim.Adagrad``.

    .. math::
        g_t = \pm\nabla_\theta + \lambda\theta_{t-1};\quad
        \tilde\gamma_t = \frac{\gamma}{1 + (t-1)\,\eta};\quad
        s_t = s_{t-1} + g_t^2 \ (s_0 = \text{initial\_accumulator\_value});\quad
        \theta_t = \theta_{t-1} - \tilde\gamma_t\, \frac{g_t}{\sqrt{s_t} + \epsilon}

    .. warning:: ``optax.adagrad`` starts the accumulator at 0.1 and adds ``eps=1e-7`` inside the
       square root; torch starts at 0 and uses ``sqrt(s) + 1e-10``. optax has no ``lr_decay``.

    ``lr``, ``lr_decay``, ``weight_decay``, ``initial_accumulator_value`` (read by ``init`` only, as
    torch reads it once) and ``eps`` are injected hyperparameters (``state.hyperparams``).
    """
    fn = "adagrad"
    B.check_lr(fn, lr)
    B.check_nonneg(fn, "lr_decay", lr_decay)
    B.check_nonneg(fn, "weight_decay", weight_decay)
    B.check_nonneg(fn, "initial_accumulator_value", initial_accumulator_value)
    B.check_nonneg(fn, "epsilon", eps)
    return B.inject(
        scale_by_torch_adagrad,
        static_args=("maximize", "has_decay"),
        lr=lr if callable(lr) else float(lr), lr_decay=float(lr_decay), weight_decay=float(weight_decay),
        initial_accumulator_value=float(initial_accumulator_value), eps=float(eps),
        maximize=maximize, has_decay=weight_decay != 0,
    )
