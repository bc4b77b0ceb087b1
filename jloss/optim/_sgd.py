"""SGD, as ``torch.optim.SGD`` (momentum, dampening, nesterov, coupled weight decay, maximize)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from . import _base as B


class SGDState(NamedTuple):
    """``step``: updates made (torch's SGD keeps no step; it is not exported to ``state_dict``).
    ``momentum_buffer``: torch's per-parameter buffer, or ``None`` when momentum is 0."""

    step: jax.Array
    momentum_buffer: Any


#: torch's per-parameter state entries for this family (what state_dict exports).
TORCH_STATE_KEYS = ("momentum_buffer",)


def scale_by_torch_sgd(
    lr: Any, momentum: Any, dampening: Any, weight_decay: Any, *, nesterov: bool, maximize: bool,
    has_momentum: bool, has_decay: bool,
) -> optax.GradientTransformation:
    """The whole torch SGD step as one transformation (lr included, since torch's buffer excludes it)."""

    def init(params):
        buf = B.tree_zeros_like(params) if has_momentum else None
        return SGDState(step=jnp.zeros([], jnp.int32), momentum_buffer=buf)

    def update(grads, state, params=None):
        step = B.next_count(state.step)
        g = B.maybe_negate(grads, maximize)
        g = B.add_l2(g, params, weight_decay, has_decay)
        buf = state.momentum_buffer
        if has_momentum:
            first = state.step == 0

            def new_buf(b, gi):
                mu, damp = B.cast_like(momentum, gi), B.cast_like(1 - dampening, gi)
                return jnp.where(first, gi, b * mu + gi * damp)

            buf = jax.tree.map(new_buf, buf, g)
            if nesterov:
                g = jax.tree.map(lambda gi, b: gi + b * B.cast_like(momentum, gi), g, buf)
            else:
                g = buf
        updates = jax.tree.map(lambda gi: gi * B.cast_like(-lr, gi), g)
        return updates, SGDState(step=step, momentum_buffer=buf)

    return optax.GradientTransformation(init, update)


def sgd(
    lr: B.ScalarOrSchedule = 1e-3,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    *,
    maximize: bool = False,
) -> optax.GradientTransformation:
    r"""Stochastic gradient descent, as ``torch.optim.SGD``.

    .. math::
        g_t = \nabla_\theta + \lambda\theta_{t-1};\quad
        b_t = g_t \text{ at } t=1,\ \mu b_{t-1} + (1-\tau) g_t \text{ after};\quad
        \theta_t = \theta_{t-1} - \gamma\,(g_t + \mu b_t \text{ if nesterov else } b_t)

    .. warning:: ``optax.sgd`` differs: it has no dampening, and its first momentum step is
       ``(1-\tau) g`` accumulated from zero rather than torch's ``b_1 = g``. With weight decay torch
       adds ``\lambda\theta`` to the gradient before the momentum (coupled L2).

    ``lr`` is a float or an optax schedule; ``lr``, ``momentum``, ``dampening`` and ``weight_decay``
    are injected hyperparameters (``state.hyperparams``).
    """
    fn = "sgd"
    B.check_lr(fn, lr)
    B.check_nonneg(fn, "momentum", momentum)
    B.check_nonneg(fn, "weight_decay", weight_decay)
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError(f"{fn}: Nesterov momentum requires a momentum and zero dampening, "
                         f"got momentum={momentum}, dampening={dampening}")
    return B.inject(
        scale_by_torch_sgd,
        static_args=("nesterov", "maximize", "has_momentum", "has_decay"),
        lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
        nesterov=nesterov, maximize=maximize, has_momentum=momentum != 0, has_decay=weight_decay != 0,
    )
