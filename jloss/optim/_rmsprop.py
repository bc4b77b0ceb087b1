"""RMSprop, as ``torch.optim.RMSprop`` (alpha, eps outside the sqrt, centered, momentum, L2 decay, maximize)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from . import _base as B


class RMSpropState(NamedTuple):
    """torch's per-parameter entries: ``step``, ``square_avg``, ``momentum_buffer`` (``None`` unless
    ``momentum > 0``) and ``grad_avg`` (``None`` unless ``centered``)."""

    step: jax.Array
    square_avg: Any
    momentum_buffer: Any
    grad_avg: Any


TORCH_STATE_KEYS = ("step", "square_avg", "momentum_buffer", "grad_avg")


def scale_by_torch_rmsprop(
    lr: Any, alpha: Any, eps: Any, weight_decay: Any, momentum: Any, *, centered: bool, maximize: bool,
    has_momentum: bool, has_decay: bool,
) -> optax.GradientTransformation:
    """One torch RMSprop step (single-tensor path), lr included: torch's momentum buffer excludes lr."""

    def init(params):
        z = B.tree_zeros_like
        return RMSpropState(
            step=jnp.zeros([], jnp.int32), square_avg=z(params),
            momentum_buffer=z(params) if has_momentum else None, grad_avg=z(params) if centered else None,
        )

    def update(grads, state, params=None):
        step = B.next_count(state.step)
        g = B.maybe_negate(grads, maximize)
        g = B.add_l2(g, params, weight_decay, has_decay)
        # square_avg.mul_(alpha).addcmul_(g, g, value=1 - alpha)
        sq = jax.tree.map(lambda v, gi: v * B.cast_like(alpha, v) + B.cast_like(1 - alpha, gi) * gi * gi,
                          state.square_avg, g)
        gavg = state.grad_avg
        if centered:
            gavg = jax.tree.map(lambda a, gi: B.lerp(a, gi, 1 - alpha), gavg, g)
            avg = jax.tree.map(lambda v, a: jnp.sqrt(v + (-a) * a), sq, gavg)
        else:
            avg = jax.tree.map(jnp.sqrt, sq)
        avg = jax.tree.map(lambda a: a + B.cast_like(eps, a), avg)
        buf = state.momentum_buffer
        if has_momentum:
            buf = jax.tree.map(lambda b, gi, a: b * B.cast_like(momentum, b) + gi / a, buf, g, avg)
            updates = jax.tree.map(lambda b: B.cast_like(-lr, b) * b, buf)
        else:
            updates = jax.tree.map(lambda gi, a: B.cast_like(-lr, gi) * gi / a, g, avg)
        return updates, RMSpropState(step, sq, buf, gavg)

    return optax.GradientTransformation(init, update)


def rmsprop(
    lr: B.ScalarOrSchedule = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
    maximize: bool = False,
) -> optax.GradientTransformation:
    r"""RMSprop, as ``torch.optim.RMSprop``.

    .. math::
        g_t = \pm\nabla_\theta + \lambda\theta_{t-1};\quad
        v_t = \alpha v_{t-1} + (1-\alpha) g_t^2;\quad
        \tilde v_t = v_t - \bar g_t^2 \text{ if centered } (\bar g_t = \alpha \bar g_{t-1} + (1-\alpha) g_t);\\
        b_t = \mu b_{t-1} + g_t / (\sqrt{\tilde v_t} + \epsilon);\quad
        \theta_t = \theta_{t-1} - \gamma\, b_t \text{ (or } \gamma\, g_t / (\sqrt{\tilde v_t} + \epsilon)
        \text{ when } \mu = 0)

    .. warning:: ``optax.rmsprop`` defaults to ``decay=0.9`` and puts ``eps`` inside the square
       root; torch uses ``alpha=0.99`` and ``sqrt(v) + eps``. torch's momentum buffer excludes the
       learning rate (``lr`` multiplies the buffer), so a schedule changes every step's scale
       exactly as in torch; ``optax.rmsprop`` folds ``lr`` into its momentum trace.

    ``lr``, ``alpha``, ``eps``, ``weight_decay`` and ``momentum`` are injected hyperparameters
    (``state.hyperparams``); ``centered``, ``maximize`` and whether ``momentum > 0`` fix the state layout.
    """
    fn = "rmsprop"
    B.check_lr(fn, lr)
    B.check_nonneg(fn, "epsilon", eps)
    B.check_nonneg(fn, "momentum", momentum)
    B.check_nonneg(fn, "weight_decay", weight_decay)
    B.check_nonneg(fn, "alpha", alpha)
    return B.inject(
        scale_by_torch_rmsprop,
        static_args=("centered", "maximize", "has_momentum", "has_decay"),
        lr=lr if callable(lr) else float(lr), alpha=float(alpha), eps=float(eps), weight_decay=float(weight_decay), momentum=float(momentum),
        centered=centered, maximize=maximize, has_momentum=momentum > 0, has_decay=weight_decay != 0,
    )
