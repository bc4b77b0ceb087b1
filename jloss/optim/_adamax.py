"""Adamax, as ``torch.optim.Adamax`` (betas, eps inside the infinity norm, coupled L2 decay, maximize)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from . import _base as B


class AdamaxState(NamedTuple):
    """torch's per-parameter entries: ``step``, ``exp_avg`` and ``exp_inf`` (the decayed infinity norm)."""

    step: jax.Array
    exp_avg: Any
    exp_inf: Any


TORCH_STATE_KEYS = ("step", "exp_avg", "exp_inf")


def scale_by_torch_adamax(
    lr: Any, beta1: Any, beta2: Any, eps: Any, weight_decay: Any, *, maximize: bool, has_decay: bool,
) -> optax.GradientTransformation:
    """One torch Adamax step (single-tensor path), lr included."""

    def init(params):
        z = B.tree_zeros_like
        return AdamaxState(jnp.zeros([], jnp.int32), z(params), z(params))

    def update(grads, state, params=None):
        step = B.next_count(state.step)
        g = B.maybe_negate(grads, maximize)
        g = B.add_l2(g, params, weight_decay, has_decay)
        m = jax.tree.map(lambda mi, gi: B.lerp(mi, gi, 1 - beta1), state.exp_avg, g)
        # torch.maximum(exp_inf * beta2, |g| + eps)
        u = jax.tree.map(lambda ui, gi: jnp.maximum(ui * B.cast_like(beta2, ui), jnp.abs(gi) + B.cast_like(eps, gi)),
                         state.exp_inf, g)
        clr = lr / B.one_minus_pow(beta1, step)
        updates = jax.tree.map(lambda mi, ui: B.cast_like(-clr, mi) * mi / ui, m, u)
        return updates, AdamaxState(step, m, u)

    return optax.GradientTransformation(init, update)


def adamax(
    lr: B.ScalarOrSchedule = 2e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    *,
    maximize: bool = False,
) -> optax.GradientTransformation:
    r"""Adamax, as ``torch.optim.Adamax``.

    .. math::
        g_t = \pm\nabla_\theta + \lambda\theta_{t-1};\quad
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t;\quad
        u_t = \max(\beta_2 u_{t-1},\ |g_t| + \epsilon);\quad
        \theta_t = \theta_{t-1} - \frac{\gamma}{1-\beta_1^t}\,\frac{m_t}{u_t}

    ``weight_decay`` is coupled L2 (added to the gradient). ``eps`` is added to ``|g|`` inside the
    max, as in ``optax.adamax``.

    .. warning:: ``optax.adamaxw`` decouples the weight decay; torch's Adamax couples it. optax
       computes ``1 - beta1**t`` in the parameter dtype; jloss, as torch, in float64 (``expm1`` form
       without x64).

    ``lr``, ``beta1``, ``beta2``, ``eps`` and ``weight_decay`` are injected hyperparameters.
    """
    fn = "adamax"
    B.check_adam_args(fn, lr, betas, eps, weight_decay)
    return B.inject(
        scale_by_torch_adamax,
        static_args=("maximize", "has_decay"),
        lr=lr if callable(lr) else float(lr), beta1=float(betas[0]), beta2=float(betas[1]), eps=float(eps),
        weight_decay=float(weight_decay), maximize=maximize, has_decay=weight_decay != 0,
    )
