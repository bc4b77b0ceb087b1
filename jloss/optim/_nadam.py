"""NAdam, as ``torch.optim.NAdam`` (momentum_decay, L2 or decoupled weight decay, maximize)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from . import _base as B


class NAdamState(NamedTuple):
    """torch's per-parameter entries: ``step``, ``mu_product``, ``exp_avg``, ``exp_avg_sq``.

    ``mu_product`` (the running product of the momentum coefficients) is a float32 scalar, as
    torch keeps it (a tensor of ``torch.get_default_dtype()``, float32 unless changed) whatever
    the parameter dtype; it is shared by all parameters, since every parameter of a group has
    the same value.
    """

    step: jax.Array
    mu_product: jax.Array
    exp_avg: Any
    exp_avg_sq: Any


TORCH_STATE_KEYS = ("step", "mu_product", "exp_avg", "exp_avg_sq")


def _mu(beta1: Any, momentum_decay: Any, t: Any) -> jax.Array:
    """torch's momentum coefficient ``beta1 * (1 - 0.5 * 0.96**(t * momentum_decay))``."""
    return beta1 * (1.0 - 0.5 * jnp.power(jnp.asarray(0.96, B.scalar_dtype()), t * momentum_decay))


def scale_by_torch_nadam(
    lr: Any, beta1: Any, beta2: Any, eps: Any, weight_decay: Any, momentum_decay: Any, *,
    decoupled_weight_decay: bool, maximize: bool, has_decay: bool,
) -> optax.GradientTransformation:
    """One torch NAdam step (single-tensor path), lr and weight decay included."""

    def init(params):
        z = B.tree_zeros_like
        return NAdamState(jnp.zeros([], jnp.int32), jnp.ones([], jnp.float32), z(params), z(params))

    def update(grads, state, params=None):
        step = B.next_count(state.step)
        t = step.astype(B.scalar_dtype())
        g = B.maybe_negate(grads, maximize)
        g, decay_factor = B.weight_decay("nadam", g, params, lr, weight_decay, has_decay=has_decay,
                                         decoupled=decoupled_weight_decay)
        bc2 = B.one_minus_pow(beta2, t)
        mu = _mu(beta1, momentum_decay, t)
        mu_next = _mu(beta1, momentum_decay, t + 1)
        # torch: the float32 tensor ``mu_product *= mu`` (mu rounded to float32, one float32 product)
        mu_product = state.mu_product * mu.astype(jnp.float32)
        mp = mu_product.astype(B.scalar_dtype())
        coef_grad = -lr * (1.0 - mu) / (1.0 - mp)
        coef_avg = (-lr * mu_next) / (1.0 - mp * mu_next)

        m = jax.tree.map(lambda mi, gi: B.lerp(mi, gi, 1 - beta1), state.exp_avg, g)
        v = jax.tree.map(lambda vi, gi: vi * B.cast_like(beta2, vi) + B.cast_like(1 - beta2, gi) * gi * gi,
                         state.exp_avg_sq, g)

        def delta(p, gi, mi, vi):
            denom = jnp.sqrt(vi / B.cast_like(bc2, vi)) + B.cast_like(eps, vi)
            a = B.cast_like(coef_grad, gi) * gi / denom
            b = B.cast_like(coef_avg, mi) * mi / denom
            if p is None:
                return a + b
            p1 = p * B.cast_like(decay_factor, p) if decay_factor is not None else p
            return ((p1 + a) + b) - p

        if params is None:
            updates = jax.tree.map(lambda gi, mi, vi: delta(None, gi, mi, vi), g, m, v)
        else:
            updates = jax.tree.map(delta, params, g, m, v)
        return updates, NAdamState(step, mu_product, m, v)

    return optax.GradientTransformation(init, update)


def nadam(
    lr: B.ScalarOrSchedule = 2e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum_decay: float = 4e-3,
    decoupled_weight_decay: bool = False,
    *,
    maximize: bool = False,
) -> optax.GradientTransformation:
    r"""NAdam (Adam with Nesterov momentum), as ``torch.optim.NAdam``.

    .. math::
        \mu_t = \beta_1\bigl(1 - \tfrac12\,0.96^{t\psi}\bigr),\quad
        m_t = \beta_1 m + (1-\beta_1) g,\quad v_t = \beta_2 v + (1-\beta_2) g^2,\\
        \theta_t = \theta - \gamma\,\frac{1-\mu_t}{1-\prod_{i\le t}\mu_i}\,\frac{g}{\sqrt{v_t/(1-\beta_2^t)}+\epsilon}
                 - \gamma\,\frac{\mu_{t+1}}{1-\prod_{i\le t+1}\mu_i}\,\frac{m_t}{\sqrt{v_t/(1-\beta_2^t)}+\epsilon}

    with :math:`\psi` = ``momentum_decay``. ``weight_decay`` is coupled L2 (added to the gradient)
    unless ``decoupled_weight_decay=True`` (then ``theta *= 1 - lr*wd`` first).
    The running product :math:`\prod\mu_i` is the float32 state entry ``mu_product``, rounded
    to float32 after each step as torch does.

    .. warning:: ``optax.nadam`` is Adam with a plain Nesterov term: it has no momentum schedule
       :math:`\mu_t` (torch's ``momentum_decay``), so its steps differ from torch's from the first one.

    ``lr`` (a float or an optax schedule), ``beta1``, ``beta2``, ``eps``, ``weight_decay`` and
    ``momentum_decay`` are injected hyperparameters (``state.hyperparams``).
    """
    fn = "nadam"
    B.check_adam_args(fn, lr, betas, eps, weight_decay)
    B.check_nonneg(fn, "momentum_decay", momentum_decay)
    return B.inject(
        scale_by_torch_nadam,
        static_args=("decoupled_weight_decay", "maximize", "has_decay"),
        lr=lr, beta1=betas[0], beta2=betas[1], eps=eps, weight_decay=weight_decay,
        momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
        maximize=maximize, has_decay=weight_decay != 0,
    )
