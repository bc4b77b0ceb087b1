"""Adam and AdamW, as ``torch.optim.Adam`` / ``torch.optim.AdamW`` (amsgrad, maximize, L2 or decoupled decay)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from . import _base as B


class AdamState(NamedTuple):
    """torch's per-parameter entries: ``step``, ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq`` (amsgrad)."""

    step: jax.Array
    exp_avg: Any
    exp_avg_sq: Any
    max_exp_avg_sq: Any


TORCH_STATE_KEYS = ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")


def scale_by_torch_adam(
    lr: Any, beta1: Any, beta2: Any, eps: Any, weight_decay: Any, *, amsgrad: bool, maximize: bool,
    decoupled_weight_decay: bool, has_decay: bool,
) -> optax.GradientTransformation:
    """One torch Adam step (single-tensor path), lr and weight decay included."""

    def init(params):
        z = B.tree_zeros_like
        return AdamState(jnp.zeros([], jnp.int32), z(params), z(params), z(params) if amsgrad else None)

    def update(grads, state, params=None):
        step = B.next_count(state.step)
        g = B.maybe_negate(grads, maximize)
        g, decay_factor = B.weight_decay("adam", g, params, lr, weight_decay, has_decay=has_decay,
                                         decoupled=decoupled_weight_decay)
        m = jax.tree.map(lambda mi, gi: mi + (gi - mi) * B.cast_like(1 - beta1, gi), state.exp_avg, g)
        v = jax.tree.map(lambda vi, gi: vi * B.cast_like(beta2, gi) + gi * gi * B.cast_like(1 - beta2, gi),
                         state.exp_avg_sq, g)
        bc1 = B.one_minus_pow(beta1, step)
        bc2_sqrt = jnp.sqrt(B.one_minus_pow(beta2, step))
        step_size = lr / bc1
        vmax = state.max_exp_avg_sq
        if amsgrad:
            vmax = jax.tree.map(jnp.maximum, vmax, v)
        denom_src = vmax if amsgrad else v

        def delta(p, mi, vi):
            denom = jnp.sqrt(vi) / B.cast_like(bc2_sqrt, vi) + B.cast_like(eps, vi)
            u = mi / denom * B.cast_like(-step_size, mi)
            if decay_factor is not None:
                # torch: p *= 1 - lr*wd, then p += u; as an update: (p*(1-lr*wd) + u) - p
                u = (p * B.cast_like(decay_factor, p) + u) - p
            return u

        ps = params if params is not None else m
        updates = jax.tree.map(delta, ps, m, denom_src)
        return updates, AdamState(step, m, v, vmax)

    return optax.GradientTransformation(init, update)


def _adam_family(fn, lr, betas, eps, weight_decay, amsgrad, maximize, decoupled):
    B.check_adam_args(fn, lr, betas, eps, weight_decay)
    return B.inject(
        scale_by_torch_adam,
        static_args=("amsgrad", "maximize", "decoupled_weight_decay", "has_decay"),
        lr=lr, beta1=betas[0], beta2=betas[1], eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
        maximize=maximize, decoupled_weight_decay=decoupled, has_decay=weight_decay != 0,
    )


def adam(
    lr: B.ScalarOrSchedule = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    *,
    maximize: bool = False,
    decoupled_weight_decay: bool = False,
) -> optax.GradientTransformation:
    r"""Adam, as ``torch.optim.Adam``.

    .. math::
        m_t = \beta_1 m + (1-\beta_1) g,\ v_t = \beta_2 v + (1-\beta_2) g^2,\
        \theta_t = \theta - \frac{\gamma}{1-\beta_1^t}\,\frac{m_t}{\sqrt{\hat v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    with :math:`\hat v_t = \max(\hat v_{t-1}, v_t)` under ``amsgrad`` (the max of the raw second moments,
    then bias-corrected, as torch: ``optax.amsgrad`` takes the max of the bias-corrected values).
    ``weight_decay`` is coupled L2 (added to the gradient) unless ``decoupled_weight_decay=True``
    (then ``theta *= 1 - lr*wd`` first, i.e. AdamW).

    .. warning:: ``optax.adam`` computes the bias corrections in the parameter dtype; torch computes
       them in float64, and so does jloss (float64 when x64 is on, ``expm1`` forms otherwise).
    """
    return _adam_family("adam", lr, betas, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay)


def adamw(
    lr: B.ScalarOrSchedule = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    amsgrad: bool = False,
    *,
    maximize: bool = False,
) -> optax.GradientTransformation:
    r"""AdamW, as ``torch.optim.AdamW``: Adam with decoupled weight decay ``theta *= 1 - lr*wd``.

    .. warning:: torch's default ``weight_decay`` is 0.01 (optax's ``adamw``: 1e-4).
    """
    return _adam_family("adamw", lr, betas, eps, weight_decay, amsgrad, maximize, True)
