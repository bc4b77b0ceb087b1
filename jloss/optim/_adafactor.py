"""Adafactor, as ``torch.optim.Adafactor`` (factored second moments, relative step size, update clipping)."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import _rows
from .._rows import map_rows
from . import _base as B


class AdafactorState(NamedTuple):
    """torch's per-parameter entries: ``step``, and ``row_var`` / ``col_var`` (shapes ``(..., R, 1)``
    and ``(..., 1, C)``) for parameters of two or more dimensions, or ``variance`` (the parameter's
    shape) for vectors and scalars; the entry a parameter does not have is ``None`` in its tree."""

    step: jax.Array
    row_var: Any
    col_var: Any
    variance: Any


TORCH_STATE_KEYS = ("step", "row_var", "col_var", "variance")


def _norm(x: jax.Array) -> jax.Array:
    """torch's ``x.norm(2).item()``: the norm in ``x``'s dtype, as a hyperparameter-dtype scalar."""
    return _sqrt_scalar(jnp.sum(x * x))


def _sqrt_scalar(sum_sq: jax.Array) -> jax.Array:
    return jnp.sqrt(sum_sq).astype(B.scalar_dtype())


def _update(g, var_estimate, e1):
    """torch's ``var_estimate.clamp_(min=eps1**2).rsqrt_().mul_(grad)``."""
    # torch's rsqrt is 1/sqrt rounded twice; XLA would turn 1/sqrt into an approximate rsqrt
    root = jax.lax.optimization_barrier(jnp.sqrt(jnp.maximum(var_estimate, B.cast_like(e1 * e1, var_estimate))))
    return (1 / root) * g


def _factored_update(g, row_var, col_var, row_scale, e1):
    """:func:`_update` of a factored parameter: ``var_estimate = row_var @ col_var / row_scale``, an
    outer product (the operands broadcast against ``g``)."""
    return _update(g, row_var * col_var / row_scale, e1)


def _factored_update_sum_sq(g, row_var, col_var, row_scale, e1) -> jax.Array:
    """``sum(u * u)`` of the factored update ``u``, computed a block of ~:data:`jloss._rows.BLOCK` elements at
    a time (:func:`jloss._rows.map_rows` over the rows, vmapped over any leading dimensions), never
    holding the whole ``u``.

    The same ``u`` values as :func:`_factored_update`; only the order of the sum differs (torch's
    ``norm`` has its own). Summed in one piece, XLA:CPU stores the whole ``u`` in a fresh buffer for
    its reduction to read (the reduction cannot take the square roots and division inside it):
    for a 2048 x 2048 float32 parameter that is ~4 ms a step, mostly page faults, against ~2 ms
    block by block, the parameter update then recomputing ``u`` from ``g``.
    """
    *lead, _, cols = g.shape
    block_rows = _rows.BLOCK // max(cols * math.prod(lead), 1)

    def row_sums(g, row_var, col_var, row_scale):  # one matrix: (R, C), (R, 1), (1, C), (1, 1)
        def rows(g, row_var):
            return jnp.sum(jnp.square(_factored_update(g, row_var, col_var, row_scale, e1)), axis=1)

        return map_rows(rows, block_rows, g, row_var)

    for _ in lead:
        row_sums = jax.vmap(row_sums)
    return jnp.sum(row_sums(g, row_var, col_var, row_scale))


def scale_by_torch_adafactor(
    lr: Any, beta2_decay: Any, eps1: Any, eps2: Any, d: Any, weight_decay: Any, *,
    maximize: bool, has_decay: bool,
) -> optax.GradientTransformation:
    """One torch Adafactor step (single-tensor path), lr and weight decay included.

    ``eps1=None`` means ``finfo(param.dtype).eps``, per parameter, as torch.
    """

    def init(params):
        def row(p):
            return jnp.zeros((*p.shape[:-1], 1), p.dtype) if p.ndim > 1 else None

        def col(p):
            return jnp.zeros((*p.shape[:-2], 1, p.shape[-1]), p.dtype) if p.ndim > 1 else None

        def var(p):
            return None if p.ndim > 1 else jnp.zeros_like(p)

        return AdafactorState(jnp.zeros([], jnp.int32), jax.tree.map(row, params),
                              jax.tree.map(col, params), jax.tree.map(var, params))

    def update(grads, state, params=None):
        B.needs_params("adafactor", params)
        step = B.next_count(state.step)
        t = step.astype(B.scalar_dtype())
        one_minus_beta2_t = t**beta2_decay
        # torch's Python min / max of .item() scalars: a NaN norm falls back to the first argument
        rho_t = B.py_min(lr, 1 / jnp.sqrt(t))
        g_all = B.maybe_negate(grads, maximize)

        def one(p, g, row_var, col_var, variance):
            e1 = float(jnp.finfo(p.dtype).eps) if eps1 is None else eps1
            alpha = B.py_max(eps2, _norm(p) / float(np.sqrt(p.size))) * rho_t
            p1 = p * B.cast_like(1 - lr * weight_decay, p) if has_decay else p
            if g.ndim > 1:
                # torch: norm(dim).square_().div_(size): the row / column means of g*g. The column
                # sums square a barrier's copy of g: with one shared g*g (CSE), XLA:CPU stores the
                # full g*g for the two reductions to read (~6x slower than squaring inside each)
                row_mean = jnp.square(jnp.sqrt(jnp.sum(g * g, axis=-1, keepdims=True))) / g.shape[-1]
                row_var = B.lerp(row_var, row_mean, one_minus_beta2_t)
                gc = jax.lax.optimization_barrier(g)
                col_mean = jnp.square(jnp.sqrt(jnp.sum(gc * gc, axis=-2, keepdims=True))) / g.shape[-2]
                col_var = B.lerp(col_var, col_mean, one_minus_beta2_t)
                row_scale = jnp.maximum(jnp.mean(row_var, axis=-2, keepdims=True), B.cast_like(e1, row_var))
                u = _factored_update(g, row_var, col_var, row_scale, e1)
                u_norm = _sqrt_scalar(_factored_update_sum_sq(g, row_var, col_var, row_scale, e1))
            else:
                variance = B.lerp(variance, g * g, one_minus_beta2_t)
                u = _update(g, variance, e1)
                u_norm = _norm(u)
            denom = B.py_max(1.0, u_norm / (float(np.sqrt(u.size)) * d))
            return (p1 + B.cast_like(-alpha / denom, u) * u) - p, row_var, col_var, variance

        treedef = jax.tree.structure(params)
        leaves = [treedef.flatten_up_to(x) for x in (params, g_all, state.row_var, state.col_var, state.variance)]
        out = [one(*args) for args in zip(*leaves, strict=True)]
        updates, row_vars, col_vars, variances = (treedef.unflatten(list(x)) for x in zip(*out, strict=True))
        return updates, AdafactorState(step, row_vars, col_vars, variances)

    return optax.GradientTransformation(init, update)


def adafactor(
    lr: B.ScalarOrSchedule = 1e-2,
    beta2_decay: float = -0.8,
    eps: tuple[float | None, float] = (None, 1e-3),
    d: float = 1.0,
    weight_decay: float = 0.0,
    *,
    maximize: bool = False,
) -> optax.GradientTransformation:
    r"""Adafactor, as ``torch.optim.Adafactor``.

    For a parameter :math:`\theta` with gradient :math:`g` at step :math:`t`:

    .. math::
        \hat\beta_{2,t} = 1 - t^{c},\quad \rho_t = \min(\gamma, 1/\sqrt t),\quad
        \alpha_t = \max(\epsilon_2, \mathrm{RMS}(\theta))\,\rho_t,\quad \theta \leftarrow \theta(1-\gamma\lambda),\\
        R_t = \hat\beta_{2,t} R + (1-\hat\beta_{2,t})\,\mathrm{mean}_{-1}(g^2),\quad
        C_t = \hat\beta_{2,t} C + (1-\hat\beta_{2,t})\,\mathrm{mean}_{-2}(g^2),\quad
        \hat v_t = \frac{R_t C_t}{\max(\mathrm{mean}_{-2}(R_t), \epsilon_1)},\\
        u_t = \frac{g}{\sqrt{\max(\hat v_t, \epsilon_1^2)}},\quad
        \theta \leftarrow \theta - \frac{\alpha_t}{\max(1, \mathrm{RMS}(u_t)/d)}\,u_t

    with :math:`c` = ``beta2_decay``, ``eps = (eps1, eps2)`` (``eps1=None``: the machine epsilon
    of the parameter's dtype) and :math:`\lambda` = ``weight_decay`` (decoupled). Parameters of two
    or more dimensions keep the factored row / column means over their last two dimensions
    (``row_var``, ``col_var``); vectors and scalars keep the full ``variance``
    (:math:`\hat v_t = V_t = \hat\beta_{2,t} V + (1-\hat\beta_{2,t}) g^2`).

    .. warning:: ``optax.adafactor`` differs: it factors only parameters with two dimensions >= 128
       (``min_dim_size_to_factor``), over the two largest dimensions rather than torch's last two;
       it adds ``eps=1e-30`` to :math:`g^2` where torch clamps with :math:`\epsilon_1`; it scales by
       ``learning_rate`` where torch uses the relative step :math:`\min(\gamma, 1/\sqrt t)`; and it
       has no weight decay. torch (and jloss) follow the formula above.

    ``lr`` (a float or an optax schedule), ``beta2_decay``, ``eps1`` (when a float), ``eps2``,
    ``d`` and ``weight_decay`` are injected hyperparameters (``state.hyperparams``).
    """
    fn = "adafactor"
    B.check_lr(fn, lr)
    if not float(beta2_decay) <= 0.0:
        raise ValueError(f"{fn}: beta2_decay should be <= 0, got {beta2_decay}")
    if not isinstance(eps, (tuple, list)) or len(eps) != 2:
        raise TypeError(f"{fn}: eps must be a pair (eps1 or None, eps2), got {eps!r}")
    if eps[0] is not None and not float(eps[0]) >= 0.0:
        raise ValueError(f"{fn}: epsilon1 should be >= 0, got {eps[0]}")
    if not float(eps[1]) >= 0.0:
        raise ValueError(f"{fn}: epsilon2 should be >= 0, got {eps[1]}")
    if not float(d) >= 1.0:
        raise ValueError(f"{fn}: Clipping threshold d should be >= 1, got {d}")
    if not float(weight_decay) >= 0.0:
        raise ValueError(f"{fn}: weight_decay should be >= 0, got {weight_decay}")
    return B.inject(
        scale_by_torch_adafactor,
        static_args=("maximize", "has_decay"),
        lr=lr, beta2_decay=beta2_decay, eps1=eps[0], eps2=eps[1], d=d, weight_decay=weight_decay,
        maximize=maximize, has_decay=weight_decay != 0,
    )
