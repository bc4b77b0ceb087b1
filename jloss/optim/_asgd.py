"""ASGD (averaged SGD), as ``torch.optim.ASGD`` (lambd, alpha, t0, L2 decay, maximize, averaged ``ax``)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import _base as B

#: dtype of torch's ``eta`` / ``mu`` state tensors: ``_get_scalar_dtype()``, float32 under torch's
#: default dtype. torch rounds every new ``eta`` and ``mu`` to it, and the parameter update reads
#: that rounded value back, so jloss keeps them in float32 too (also with x64).
SCALAR_STATE_DTYPE = jnp.float32


class ASGDState(NamedTuple):
    """torch's per-parameter entries: ``step``; ``eta`` (the step size of the next update) and ``mu``
    (the averaging weight of the next update), float32 scalars as torch's; ``ax`` (the averaged
    parameters, the ASGD estimate)."""

    step: jax.Array
    eta: jax.Array
    mu: jax.Array
    ax: Any


TORCH_STATE_KEYS = ("step", "eta", "mu", "ax")


def scale_by_torch_asgd(
    lr: Any, lambd: Any, alpha: Any, t0: Any, weight_decay: Any, *, maximize: bool, has_decay: bool,
) -> optax.GradientTransformation:
    """One torch ASGD step (single-tensor path): decay, SGD step with ``eta``, then averaging into ``ax``."""
    f32 = SCALAR_STATE_DTYPE

    def init(params):
        return ASGDState(
            # a fresh array: ``jnp.asarray`` would alias ``hyperparams['lr']`` when it is already float32,
            # and a donated state (``jax.jit(..., donate_argnums=...)``) would donate that buffer twice
            step=jnp.zeros([], jnp.int32), eta=jnp.array(lr, f32, copy=True), mu=jnp.ones([], f32),
            ax=B.tree_zeros_like(params),
        )

    def update(grads, state, params=None):
        B.needs_params("asgd", params)
        step = B.next_count(state.step)
        # torch creates eta = lr lazily at the first step(): the lr of that moment
        eta = jnp.where(state.step == 0, jnp.asarray(lr, f32), state.eta).astype(B.scalar_dtype())
        g = B.maybe_negate(grads, maximize)
        g = B.add_l2(g, params, weight_decay, has_decay)
        # param.mul_(1 - lambd * eta); param.add_(grad, alpha=-eta)
        def sgd_step(params, g):
            return jax.tree.map(
                lambda p, gi: p * B.cast_like(1 - lambd * eta, p) + B.cast_like(-eta, gi) * gi, params, g)

        new_p = sgd_step(params, g)
        mu = state.mu

        def average(ax, p):
            return jnp.where(mu != 1, ax + (p - ax) * mu.astype(ax.dtype), p)

        ax = jax.tree.map(average, state.ax, new_p)
        # while mu == 1 (the first t0 steps) ax is the new parameter: the parameter pass reads it
        # (the same numbers), so it runs after the ax pass has read the old parameters and XLA need
        # not copy them (apply_updates overwrites the donated parameters in place)
        # (the barrier keeps XLA from storing new_p as a temporary shared by the two passes)
        p2, g2 = jax.lax.optimization_barrier((params, g))
        new_p = jax.tree.map(lambda a, q: jnp.where(mu == 1, a, q), ax, sgd_step(p2, g2))
        t = jnp.asarray(step, B.scalar_dtype())
        if np.dtype(B.scalar_dtype()) == np.float64:
            new_eta = lr / (1 + lambd * lr * t) ** alpha  # torch's Python-float formula
        else:
            new_eta = lr * jnp.exp(-alpha * jnp.log1p(lambd * lr * t))
        new_mu = 1 / jnp.maximum(1, t - t0)
        updates = jax.tree.map(lambda q, p: q - p, new_p, params)
        return updates, ASGDState(step, new_eta.astype(f32), new_mu.astype(f32), ax)

    return optax.GradientTransformation(init, update)


def asgd(
    lr: B.ScalarOrSchedule = 1e-2,
    lambd: float = 1e-4,
    alpha: float = 0.75,
    t0: float = 1e6,
    weight_decay: float = 0.0,
    maximize: bool = False,
) -> optax.GradientTransformation:
    r"""Averaged stochastic gradient descent, as ``torch.optim.ASGD``.

    .. math::
        g_t = \pm\nabla_\theta + \lambda_{wd}\theta_{t-1};\quad
        \theta_t = (1 - \lambda\eta_{t-1})\,\theta_{t-1} - \eta_{t-1} g_t;\quad
        \bar\theta_t = \bar\theta_{t-1} + \mu_{t-1}(\theta_t - \bar\theta_{t-1})
        \ (\bar\theta_t = \theta_t \text{ while } \mu_{t-1} = 1);\\
        \eta_t = \frac{\gamma}{(1 + \lambda\gamma t)^{\alpha}};\quad
        \mu_t = \frac{1}{\max(1, t - t_0)};\quad \eta_0 = \gamma,\ \mu_0 = 1

    The averaged parameters :math:`\bar\theta` are ``state.inner_state.ax`` (torch's ``ax``); the
    parameters themselves follow the decayed SGD step. optax has no ASGD.

    .. note:: torch stores ``eta`` and ``mu`` as float32 scalars (its default scalar dtype) and its
       update reads them back rounded, even for float64 parameters; jloss does the same so float64
       trajectories agree to rounding (with ``torch.set_default_dtype(torch.float64)`` torch would
       keep them in float64).

    ``lr``, ``lambd``, ``alpha``, ``t0`` and ``weight_decay`` are injected hyperparameters. As in
    torch, the ``lr`` of step ``t`` sets ``eta`` for step ``t + 1``; the first step uses ``eta = lr``.
    ``update`` needs ``params``.
    """
    fn = "asgd"
    B.check_lr(fn, lr)
    B.check_nonneg(fn, "weight_decay", weight_decay)
    return B.inject(
        scale_by_torch_asgd,
        static_args=("maximize", "has_decay"),
        lr=lr if callable(lr) else float(lr), lambd=float(lambd), alpha=float(alpha), t0=float(t0),
        weight_decay=float(weight_decay), maximize=maximize, has_decay=weight_decay != 0,
    )
