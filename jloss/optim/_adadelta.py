"""Adadelta, as ``torch.optim.Adadelta`` (lr=1.0, rho, eps, L2 decay, maximize)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from . import _base as B


class AdadeltaState(NamedTuple):
    """torch's per-parameter entries: ``step``, ``square_avg`` (of gradients), ``acc_delta`` (of updates)."""

    step: jax.Array
    square_avg: Any
    acc_delta: Any


TORCH_STATE_KEYS = ("step", "square_avg", "acc_delta")


def scale_by_torch_adadelta(
    lr: Any, rho: Any, eps: Any, weight_decay: Any, *, maximize: bool, has_decay: bool,
) -> optax.GradientTransformation:
    """One torch Adadelta step (single-tensor path), lr included."""

    def init(params):
        z = B.tree_zeros_like
        return AdadeltaState(jnp.zeros([], jnp.int32), z(params), z(params))

    def update(grads, state, params=None):
        step = B.next_count(state.step)
        g = B.maybe_negate(grads, maximize)
        g = B.add_l2(g, params, weight_decay, has_decay)
        sq = jax.tree.map(lambda v, gi: v * B.cast_like(rho, v) + B.cast_like(1 - rho, gi) * gi * gi,
                          state.square_avg, g)

        def delta(v, a, gi):
            std = jnp.sqrt(v + B.cast_like(eps, v))
            return jnp.sqrt(a + B.cast_like(eps, a)) / std * gi

        d = jax.tree.map(delta, sq, state.acc_delta, g)
        acc = jax.tree.map(lambda a, di: a * B.cast_like(rho, a) + B.cast_like(1 - rho, di) * di * di,
                           state.acc_delta, d)
        # the parameter pass re-computes delta (the barrier keeps XLA from sharing its square roots
        # with the acc_delta pass through two extra stored temporaries)
        d = jax.tree.map(delta, *jax.lax.optimization_barrier((sq, state.acc_delta, g)))
        updates = jax.tree.map(lambda di: B.cast_like(-lr, di) * di, d)
        return updates, AdadeltaState(step, sq, acc)

    return optax.GradientTransformation(init, update)


def adadelta(
    lr: B.ScalarOrSchedule = 1.0,
    rho: float = 0.9,
    eps: float = 1e-6,
    weight_decay: float = 0.0,
    *,
    maximize: bool = False,
) -> optax.GradientTransformation:
    r"""Adadelta, as ``torch.optim.Adadelta``.

    .. math::
        g_t = \pm\nabla_\theta + \lambda\theta_{t-1};\quad
        v_t = \rho v_{t-1} + (1-\rho) g_t^2;\quad
        \Delta_t = \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}}\, g_t;\quad
        u_t = \rho u_{t-1} + (1-\rho) \Delta_t^2;\quad
        \theta_t = \theta_{t-1} - \gamma\,\Delta_t

    .. warning:: ``optax.adadelta()``'s default ``learning_rate=None`` applies no step-size scaling
       at all and returns the delta with the wrong sign for ``apply_updates`` (gradient ascent);
       torch's default is ``lr=1.0``, a descent step.

    ``lr``, ``rho``, ``eps`` and ``weight_decay`` are injected hyperparameters (``state.hyperparams``).
    """
    fn = "adadelta"
    B.check_lr(fn, lr)
    if not 0.0 <= float(rho) <= 1.0:
        raise ValueError(f"{fn}: Invalid rho value: rho must be in [0, 1], got {rho}")
    B.check_nonneg(fn, "epsilon", eps)
    B.check_nonneg(fn, "weight_decay", weight_decay)
    return B.inject(
        scale_by_torch_adadelta,
        static_args=("maximize", "has_decay"),
        lr=lr if callable(lr) else float(lr), rho=float(rho), eps=float(eps), weight_decay=float(weight_decay),
        maximize=maximize, has_decay=weight_decay != 0,
    )
