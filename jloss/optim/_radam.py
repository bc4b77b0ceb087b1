"""RAdam, as ``torch.optim.RAdam`` (the rho_t > 5 rectification switch, L2 or decoupled decay, maximize)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import _base as B


class RAdamState(NamedTuple):
    """torch's per-parameter entries: ``step``, ``exp_avg``, ``exp_avg_sq``."""

    step: jax.Array
    exp_avg: Any
    exp_avg_sq: Any


TORCH_STATE_KEYS = ("step", "exp_avg", "exp_avg_sq")


def _series_coefficients(n: int) -> tuple[float, ...]:
    """Coefficients of ``c(d) = 2/d - 1 - 2/(-log(1-d)) = sum_k c_k d**k`` (from Gregory's series)."""
    # x / log(1+x) = sum_k b_k x**k is the reciprocal of log(1+x)/x = sum_j (-1)**j x**j / (j+1)
    a = [Fraction((-1) ** j, j + 1) for j in range(n + 2)]
    b = [Fraction(1)]
    for k in range(1, n + 2):
        b.append(-sum(a[j] * b[k - j] for j in range(1, k + 1)))
    return tuple(float(-2 * (-1) ** (k + 1) * b[k + 1]) for k in range(1, n + 1))


_C_COEFS = _series_coefficients(18)  # for d <= 0.34 the omitted tail is <= 1.3e-10 of c(d)
# x/expm1(x) = sum B_n x**n/n!, so h(x) = 1 - x/expm1(x) = x/2 - x**2/12 + x**4/720 - ...
_H_COEFS = (0.5, -1 / 12, 0.0, 1 / 720, 0.0, -1 / 30240, 0.0, 1 / 1209600, 0.0, -1 / 47900160)


def _horner(coefs: tuple[float, ...], x: jax.Array) -> jax.Array:
    """``sum_k coefs[k-1] * x**k`` for k >= 1."""
    acc = jnp.zeros_like(x)
    for c in reversed(coefs):
        acc = (acc + c) * x
    return acc


def rho(beta2: Any, t: Any) -> tuple[jax.Array, jax.Array]:
    r"""``(rho_inf, rho_t)``: the maximum and the step-``t`` length of the approximated SMA.

    With float64 scalars (x64 on) this is torch's formula ``rho_inf - 2 t beta2**t / (1 - beta2**t)``.
    In float32 that formula cancels catastrophically (both terms are ~``2/(1-beta2)``), so it is
    rewritten with ``d = 1 - beta2``, ``L = -log(beta2)`` as
    :math:`\rho_t = c(d) + \tfrac{2}{L} h(tL)` with :math:`c(d) = 2/d - 1 - 2/L` and
    :math:`h(x) = 1 - x/\mathrm{expm1}(x)`, each from its power series where it would cancel.
    """
    dtype = B.scalar_dtype()
    beta2 = jnp.asarray(beta2, dtype)
    t = jnp.asarray(t, dtype)
    rho_inf = 2 / (1 - beta2) - 1
    if dtype == np.float64:
        b2t = beta2**t
        return rho_inf, rho_inf - 2 * t * b2t / (1 - b2t)
    d = 1 - beta2  # exact for beta2 >= 0.5; rho_t > 5 needs beta2 > 2/3 anyway
    log_b = -jnp.log1p(-d)
    c = jnp.where(d <= 0.34, _horner(_C_COEFS, d), 2 / d - 1 - 2 / log_b)
    x = t * log_b
    h = jnp.where(x < 1, _horner(_H_COEFS, jnp.minimum(x, 1)), 1 - x / jnp.expm1(x))
    return rho_inf, c + 2 / log_b * h


def scale_by_torch_radam(
    lr: Any, beta1: Any, beta2: Any, eps: Any, weight_decay: Any, *,
    decoupled_weight_decay: bool, maximize: bool, has_decay: bool,
) -> optax.GradientTransformation:
    """One torch RAdam step (single-tensor path), lr and weight decay included."""

    def init(params):
        z = B.tree_zeros_like
        return RAdamState(jnp.zeros([], jnp.int32), z(params), z(params))

    def update(grads, state, params=None):
        step = B.next_count(state.step)
        t = step.astype(B.scalar_dtype())
        g = B.maybe_negate(grads, maximize)
        g, decay_factor = B.weight_decay("radam", g, params, lr, weight_decay, has_decay=has_decay,
                                         decoupled=decoupled_weight_decay)
        m = jax.tree.map(lambda mi, gi: B.lerp(mi, gi, 1 - beta1), state.exp_avg, g)
        v = jax.tree.map(lambda vi, gi: vi * B.cast_like(beta2, vi) + B.cast_like(1 - beta2, gi) * gi * gi,
                         state.exp_avg_sq, g)
        bc1 = B.one_minus_pow(beta1, t)
        bc2 = B.one_minus_pow(beta2, t)
        rho_inf, rho_t = rho(beta2, t)
        rect = jnp.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        rectify = rho_t > 5.0

        def step_of(mi, vi):
            corrected = mi / B.cast_like(bc1, mi) * B.cast_like(lr, mi)
            # torch: ``float / tensor`` is ``tensor.reciprocal() * float``
            adaptive = (1 / (jnp.sqrt(vi) + B.cast_like(eps, vi))) * B.cast_like(jnp.sqrt(bc2), vi)
            # on the unselected branch rect may be NaN (rho_t <= 4): jnp.where drops it
            return jnp.where(rectify, corrected * adaptive * B.cast_like(rect, mi), corrected)

        def delta(p, mi, vi):
            p1 = p * B.cast_like(decay_factor, p) if decay_factor is not None else p
            return (p1 - step_of(mi, vi)) - p

        if params is None:
            updates = jax.tree.map(lambda mi, vi: -step_of(mi, vi), m, v)
        else:
            updates = jax.tree.map(delta, params, m, v)
        return updates, RAdamState(step, m, v)

    return optax.GradientTransformation(init, update)


def radam(
    lr: B.ScalarOrSchedule = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
    *,
    maximize: bool = False,
) -> optax.GradientTransformation:
    r"""RAdam (rectified Adam), as ``torch.optim.RAdam``.

    .. math::
        \rho_\infty = \frac{2}{1-\beta_2} - 1,\quad
        \rho_t = \rho_\infty - \frac{2t\beta_2^t}{1-\beta_2^t},\quad
        \hat m_t = \frac{m_t}{1-\beta_1^t},\\
        \theta_t = \theta - \gamma\,\hat m_t\,\frac{\sqrt{1-\beta_2^t}}{\sqrt{v_t}+\epsilon}\,r_t
        \text{ if } \rho_t > 5,\ \text{else } \theta - \gamma\,\hat m_t,\quad
        r_t = \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\rho_t}}

    ``weight_decay`` is coupled L2 (added to the gradient) unless ``decoupled_weight_decay=True``
    (then ``theta *= 1 - lr*wd`` first).

    .. warning:: ``optax.radam`` adds ``eps`` to the bias-corrected :math:`\sqrt{\hat v_t}`; torch
       (and jloss) add it to :math:`\sqrt{v_t}` before the bias correction, i.e. the adaptive term
       is :math:`\sqrt{1-\beta_2^t}/(\sqrt{v_t}+\epsilon)`. optax has no decoupled variant. The switch
       is strict (:math:`\rho_t > 5`). :math:`\rho_t` cancels catastrophically in float32; jloss
       computes it in float64 when x64 is on and from a cancellation-free series otherwise (:func:`rho`).

    ``lr`` (a float or an optax schedule), ``beta1``, ``beta2``, ``eps`` and ``weight_decay`` are
    injected hyperparameters (``state.hyperparams``).
    """
    fn = "radam"
    B.check_adam_args(fn, lr, betas, eps, weight_decay)
    return B.inject(
        scale_by_torch_radam,
        static_args=("decoupled_weight_decay", "maximize", "has_decay"),
        lr=lr, beta1=betas[0], beta2=betas[1], eps=eps, weight_decay=weight_decay,
        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, has_decay=weight_decay != 0,
    )
