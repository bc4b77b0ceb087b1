"""Regression losses: l1, mse, huber, smooth_l1, poisson_nll, gaussian_nll."""

from __future__ import annotations

import math
import numbers
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from .. import _checks as C
from . import _reduction as R
from ._common import pointwise_pair, sample_weight

# ---------------------------------------------------------------------------------------------
# shared plumbing


def _float_option(fn: str, name: str, value: object) -> float:
    """A scalar option (``beta``, ``delta``, ``eps``) as a Python float, or a TypeError naming it.

    The options are static (they select formulas and are baked into the compiled loss), so a traced
    value is refused, as is anything that is not a real scalar.
    """
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        return float(value)
    dtype = getattr(value, "dtype", None)
    real = dtype is not None and (
        jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer)
    )
    if not real or np.ndim(value) != 0:
        raise TypeError(f"{fn}: {name} must be a real number, got {type(value).__name__}")
    try:  # a 0-d array: concrete, or a tracer that cannot be a static option
        return float(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"{fn}: {name} must be a concrete real number (a Python float), got {type(value).__name__}"
        ) from None


def _weighted_pair(fn: str, input, target, weight):
    """``pointwise_pair`` plus torch's per-element ``weight=`` (input's shape), all in one dtype.

    The result dtype follows torch's promotion of ``loss * weight``.
    """
    x, y, out_dtype = pointwise_pair(fn, input, target)
    w = sample_weight(fn, weight, jnp.shape(input))
    if w is None:
        return x, y, None, out_dtype
    out_dtype = jnp.result_type(out_dtype, w.dtype)
    cdt = C.compute_dtype(x, w)
    return x.astype(cdt), y.astype(cdt), w.astype(cdt), out_dtype


@partial(jax.custom_jvp, nondiff_argnums=(1, 2))
def _elementwise(d: jax.Array, kind: str, param: float | None) -> jax.Array:
    """Per-element loss of the difference ``d = input - target``, torch's values.

    Written with ``abs`` / ``min`` and arithmetic only (no compare-and-select), so that XLA fuses
    it into the reduction that follows (a select splits the fusion and materialises the
    per-element loss). With ``m = min(|d|, p)``, huber is ``m (|d| - m / 2)``: ``0.5 z^2`` below
    the threshold (bit for bit, as ``z - z / 2`` is exact) and ``delta (z - delta / 2)`` above it,
    torch's two branches; smooth_l1 is ``0.5 m^2 / beta + (z - m)``, torch's value to rounding.

    The derivative is torch's backward formula, not autodiff of the branches: it stays finite
    for an infinite ``d`` (``-1`` / ``+1`` for smooth_l1, ``-delta`` / ``+delta`` for huber, where
    differentiating the unselected ``0.5 z^2`` branch would give ``inf * 0 = NaN``), and l1's
    ``sgn(d)`` is 0 at ``d = 0`` and at ``d = NaN``, as torch's ``sgn``.
    """
    if kind == "l1":
        return jnp.abs(d)
    if kind == "mse":
        return d * d
    z = jnp.abs(d)
    if kind == "huber":  # torch: z < delta ? 0.5 z^2 : delta (z - 0.5 delta)
        m = jnp.minimum(z, param)
        return m * (z - 0.5 * m)
    if kind == "smooth_l1":  # torch: z < beta ? 0.5 z^2 / beta : z - 0.5 beta   (beta > 0 here)
        m = jnp.minimum(z, param)
        return 0.5 * m * m / param + (z - m)
    raise ValueError(f"_elementwise: unknown kind {kind!r}")


def _deriv(d: jax.Array, kind: str, param) -> jax.Array:
    """torch's derivative of the per-element loss w.r.t. ``d`` (``param`` a float or 0-d array)."""
    zero, one = jnp.zeros((), d.dtype), jnp.ones((), d.dtype)
    if kind == "l1":  # torch: grad * sgn(d), 0 at d = 0 and d = NaN
        return jnp.where(d > 0, one, jnp.where(d < 0, -one, zero))
    if kind == "mse":  # torch: 2 (x - y) grad
        return 2 * d
    p = jnp.asarray(param, d.dtype)
    deriv = jax.lax.clamp(-p, d, p)  # huber, torch: d < -delta ? -delta : (d > delta ? delta : d)
    if kind == "smooth_l1":  # torch: d < -beta ? -1 : (d > beta ? 1 : d / beta)
        deriv = deriv / p
    return deriv


@_elementwise.defjvp
def _elementwise_jvp(kind, param, primals, tangents):
    (d,), (t,) = primals, tangents
    return _elementwise(d, kind, param), _deriv(d, kind, param) * t


@partial(jax.custom_jvp, nondiff_argnums=(2, 3))
def _pointwise(x: jax.Array, y: jax.Array, kind: str, param: float | None) -> jax.Array:
    """``_elementwise(x - y)``, with its derivative computed from its own copy of ``x - y``.

    The optimization barrier in the JVP keeps XLA from sharing one ``x - y`` (or one broadcast
    constant) between the loss, fused into the reduction, and the gradient, fused into its
    output: a shared intermediate would be materialised, a full extra pass over memory.
    Values and derivatives are those of :func:`_elementwise`.
    """
    return _elementwise(x - y, kind, param)


@_pointwise.defjvp
def _pointwise_jvp(kind, param, primals, tangents):
    (x, y), (tx, ty) = primals, tangents
    p = None if param is None else jnp.asarray(param, x.dtype)
    xb, yb, pb = jax.lax.optimization_barrier((x, y, p))
    return _elementwise(x - y, kind, param), _deriv(xb - yb, kind, pb) * (tx - ty)


@partial(jax.jit, static_argnames=("reduction", "kind", "param", "weighted_mean"))
def _weighted_pointwise(
    x, y, w, *, reduction: str, kind: str, param: float | None = None, weighted_mean: bool = True
):
    e = _pointwise(x, y, kind, param)
    if w is None:
        return R.reduce(e, reduction)
    e = e * jnp.broadcast_to(w, e.shape)
    if reduction == "mean" and weighted_mean:
        # l1 / mse: sum(w * e) / sum(weight), the weight summed as given (the input's shape), which
        # differs from R.reduce's broadcast weight only when the target broadcasts the input up.
        return R.reduce(e, "sum") / jnp.sum(w)
    # huber: 'mean' is mean(w * e), i.e. / numel
    return R.reduce(e, reduction)


# ---------------------------------------------------------------------------------------------
# l1 / mse


def l1_loss(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: ArrayLike | None = None,
) -> jax.Array:
    r"""Mean absolute error, as ``torch.nn.functional.l1_loss``.

    .. math:: \ell_i = w_i\,|x_i - y_i|

    ``'mean'`` is :math:`\sum_i \ell_i / N`, or :math:`\sum_i w_i|x_i-y_i| / \sum_i w_i` when
    ``weight`` is given (torch's weighted mean).

    Args:
        input: predictions, any shape.
        target: same shape (a broadcastable shape warns, as torch does).
        size_average, reduce: deprecated, mapped to ``reduction`` as torch maps them.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        weight: optional per-element weights of the input's shape.

    Shape: ``input`` (*), ``target`` (*); output scalar, or (*) for ``'none'``.
    """
    fn = "l1_loss"
    reduction = R.resolve(fn, size_average, reduce, reduction)
    x, y, w, out_dtype = _weighted_pair(fn, input, target, weight)
    return _weighted_pointwise(x, y, w, reduction=reduction, kind="l1").astype(out_dtype)


def mse_loss(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: ArrayLike | None = None,
) -> jax.Array:
    r"""Mean squared error, as ``torch.nn.functional.mse_loss``.

    .. math:: \ell_i = w_i\,(x_i - y_i)^2

    ``'mean'`` is :math:`\sum_i \ell_i / N`, or :math:`\sum_i \ell_i / \sum_i w_i` with ``weight``.

    Shape: ``input`` (*), ``target`` (*); output scalar, or (*) for ``'none'``.
    """
    fn = "mse_loss"
    reduction = R.resolve(fn, size_average, reduce, reduction)
    x, y, w, out_dtype = _weighted_pair(fn, input, target, weight)
    return _weighted_pointwise(x, y, w, reduction=reduction, kind="mse").astype(out_dtype)


# ---------------------------------------------------------------------------------------------
# huber / smooth_l1


def huber_loss(
    input: ArrayLike,
    target: ArrayLike,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: ArrayLike | None = None,
) -> jax.Array:
    r"""Huber loss, as ``torch.nn.functional.huber_loss``.

    .. math::
        \ell_i = w_i \begin{cases} 0.5\,(x_i - y_i)^2, & |x_i - y_i| < \delta \\
                 \delta\,(|x_i - y_i| - 0.5\,\delta), & \text{otherwise} \end{cases}

    ``'mean'`` is :math:`\sum_i \ell_i / N` *also with* ``weight`` (torch's ``mean(w * l)``, unlike
    the weighted mean of ``l1_loss`` / ``mse_loss``); ``'sum'`` is :math:`\sum_i \ell_i`.
    With ``delta = 1`` this equals :func:`smooth_l1_loss`; in general it is ``delta`` times it.

    Args:
        input: predictions, any shape.
        target: same shape (a broadcastable shape warns, as torch does).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        delta: the threshold between the squared and the delta-scaled L1 region; must be > 0.
        weight: optional per-element weights of the input's shape.

    Shape: ``input`` (*), ``target`` (*); output scalar, or (*) for ``'none'``.
    """
    fn = "huber_loss"
    reduction = R.resolve(fn, None, None, reduction)
    delta = _float_option(fn, "delta", delta)
    if not delta > 0:
        raise ValueError(
            f"{fn}: delta must be > 0 (torch does not support non-positive delta), got {delta}"
        )
    x, y, w, out_dtype = _weighted_pair(fn, input, target, weight)
    out = _weighted_pointwise(
        x, y, w, reduction=reduction, kind="huber", param=delta, weighted_mean=False
    )
    return out.astype(out_dtype)


def smooth_l1_loss(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> jax.Array:
    r"""Smooth L1 loss, as ``torch.nn.functional.smooth_l1_loss``.

    .. math::
        \ell_i = \begin{cases} 0.5\,(x_i - y_i)^2 / \beta, & |x_i - y_i| < \beta \\
                 |x_i - y_i| - 0.5\,\beta, & \text{otherwise} \end{cases}

    ``beta = 0`` is :func:`l1_loss` (as torch dispatches it). ``'mean'`` is :math:`\sum_i \ell_i / N`.
    torch's ``smooth_l1_loss`` has no ``weight`` argument (``huber_loss`` has).

    Args:
        input: predictions, any shape.
        target: same shape (a broadcastable shape warns, as torch does).
        size_average, reduce: deprecated, mapped to ``reduction`` as torch maps them.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        beta: the threshold between the squared and the L1 region; must be >= 0.

    Shape: ``input`` (*), ``target`` (*); output scalar, or (*) for ``'none'``.
    """
    fn = "smooth_l1_loss"
    reduction = R.resolve(fn, size_average, reduce, reduction)
    beta = _float_option(fn, "beta", beta)
    if not beta >= 0:
        raise ValueError(
            f"{fn}: beta must be >= 0 (torch does not support negative beta), got {beta}"
        )
    x, y, out_dtype = pointwise_pair(fn, input, target)
    if beta == 0.0:
        out = _weighted_pointwise(x, y, None, reduction=reduction, kind="l1")
    else:
        out = _weighted_pointwise(x, y, None, reduction=reduction, kind="smooth_l1", param=beta)
    return out.astype(out_dtype)


# ---------------------------------------------------------------------------------------------
# poisson_nll


@partial(jax.jit, static_argnames=("log_input", "full", "eps", "reduction"))
def _poisson_nll(x, y, *, log_input: bool, full: bool, eps: float, reduction: str):
    loss = jnp.exp(x) - y * x if log_input else x - y * jnp.log(x + eps)
    if full:
        # torch masks the Stirling term with masked_fill(target <= 1, 0): where it is masked its
        # gradient w.r.t. target is 0 * d(stirling), NaN at target <= 0 -- reproduced by jnp.where.
        stirling = y * jnp.log(y) - y + 0.5 * jnp.log(2 * math.pi * y)
        loss = loss + jnp.where(y <= 1, jnp.zeros((), loss.dtype), stirling)
    return R.reduce(loss, reduction)


def poisson_nll_loss(
    input: ArrayLike,
    target: ArrayLike,
    log_input: bool = True,
    full: bool = False,
    size_average: bool | None = None,
    eps: float = 1e-8,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Poisson negative log likelihood loss, as ``torch.nn.functional.poisson_nll_loss``.

    .. math::
        \ell_i = \begin{cases} e^{x_i} - y_i x_i, & \text{log\_input} \\
                 x_i - y_i \log(x_i + \text{eps}), & \text{otherwise} \end{cases}
                 \;+\; [\text{full}]\,[y_i > 1]\,\big(y_i \log y_i - y_i + \tfrac12 \log(2\pi y_i)\big)

    The Stirling term (``full=True``) is added only where ``target > 1``. ``'mean'`` is
    :math:`\sum_i \ell_i / N`. Input and target broadcast silently, as in torch. As in torch, the
    gradient w.r.t. ``target`` is NaN where ``full=True`` and ``target <= 0``.

    Args:
        input: the expectation of the Poisson distribution (its log when ``log_input``).
        target: a sample ``target ~ Poisson(input)``.
        log_input: whether ``input`` is the log-rate. Default ``True``.
        full: add the Stirling approximation term. Default ``False``.
        size_average, reduce: deprecated, mapped to ``reduction`` as torch maps them.
        eps: added to ``input`` inside the log when ``log_input=False``. Default ``1e-8``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape: ``input`` (*), ``target`` (*); output scalar, or (*) for ``'none'``.
    """
    fn = "poisson_nll_loss"
    reduction = R.resolve(fn, size_average, reduce, reduction)
    eps = _float_option(fn, "eps", eps)
    x, y, out_dtype = pointwise_pair(fn, input, target, warn=False)
    out = _poisson_nll(
        x, y, log_input=bool(log_input), full=bool(full), eps=eps, reduction=reduction
    )
    return out.astype(out_dtype)


# ---------------------------------------------------------------------------------------------
# gaussian_nll


@partial(jax.custom_vjp, nondiff_argnums=(1,))
def _clamp_var(var: jax.Array, eps: float) -> jax.Array:
    """``max(var, eps)`` with an identity gradient (torch clamps under ``no_grad``); negative -> NaN.

    Negative entries only reach here under a plain ``jit`` (concrete inputs raise first).
    """
    # sqrt(min(var, 0)) is 0, or NaN for a negative var: no select, so XLA fuses it into the sum
    return jnp.maximum(var, eps) + jnp.sqrt(jnp.minimum(var, 0))


def _clamp_var_fwd(var, eps):
    return _clamp_var(var, eps), None


def _clamp_var_bwd(eps, _res, g):
    return (g,)


_clamp_var.defvjp(_clamp_var_fwd, _clamp_var_bwd)


@partial(jax.jit, static_argnames=("full", "eps", "reduction"))
def _gaussian_nll(x, y, var, *, full: bool, eps: float, reduction: str):
    var = _clamp_var(var, eps)
    shape = jnp.broadcast_shapes(x.shape, y.shape, var.shape)
    x, y, var = (jnp.broadcast_to(a, shape) for a in (x, y, var))
    loss = 0.5 * (jnp.log(var) + (x - y) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return R.reduce(loss, reduction)


def _gaussian_var(fn: str, var, input_shape: tuple[int, ...], input_dtype) -> jax.Array:
    """torch's checks and reshaping of ``var`` (values first, then the size rules)."""
    if isinstance(var, numbers.Real) and not isinstance(var, bool):
        if var < 0:
            raise ValueError(f"{fn}: var must be non-negative, got {var}")
        # torch: var * ones_like(input), i.e. the float in the input's dtype
        return jnp.asarray(var, dtype=input_dtype)
    v = C.float_array(fn, "var", var)
    C.check_values(fn, lambda: ~(v < 0), "var must be non-negative, got negative entry/entries", v)
    vshape = tuple(v.shape)
    if vshape != input_shape:
        if input_shape[:-1] == vshape:  # one dim short: homoscedastic over the last dim
            v = jnp.expand_dims(v, -1)
        elif not (
            len(vshape) == len(input_shape)
            and sum(b for a, b in zip(input_shape, vshape, strict=True) if a != b) == 1
        ):
            raise ValueError(
                f"{fn}: var must have the input's shape {input_shape}, that shape with one dimension "
                f"equal to 1, or that shape without its last dimension, got {vshape}"
            )
    return v


def gaussian_nll_loss(
    input: ArrayLike,
    target: ArrayLike,
    var: ArrayLike | float,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> jax.Array:
    r"""Gaussian negative log likelihood loss, as ``torch.nn.functional.gaussian_nll_loss``.

    .. math::
        \ell_i = \tfrac12\Big(\log\max(\text{var}_i, \text{eps})
                 + \frac{(x_i - y_i)^2}{\max(\text{var}_i, \text{eps})}\Big) + [\text{full}]\,\tfrac12\log 2\pi

    The clamp of ``var`` at ``eps`` is invisible to differentiation, as in torch (which clamps under
    ``no_grad``): the gradient w.r.t. ``var`` is that w.r.t. the clamped value, passed straight
    through. ``'mean'`` is :math:`\sum_i \ell_i / N` over the broadcast shape.

    ``var`` is a float (one variance for all), an array of the input's shape (heteroscedastic),
    the input's shape with exactly one dimension of size 1, or the input's shape without its last
    dimension (homoscedastic over it). A negative ``var`` raises ``ValueError`` on concrete inputs
    and under :func:`jloss.checked`; under a plain ``jit`` its entries give NaN.

    Args:
        input: the expectation of the Gaussian distribution.
        target: a sample from it (broadcasts with ``input`` silently, as in torch).
        var: the variance(s), see above.
        full: add the constant :math:`\tfrac12\log 2\pi`. Default ``False``.
        eps: the lower clamp of ``var``. Default ``1e-6``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape: ``input`` (N, *) or (*), ``target`` like ``input``, ``var`` as above; output scalar,
    or the broadcast shape for ``'none'``.
    """
    fn = "gaussian_nll_loss"
    x0 = C.float_array(fn, "input", input)
    v = _gaussian_var(fn, var, tuple(x0.shape), x0.dtype)
    reduction = R.resolve(fn, None, None, reduction)
    eps = _float_option(fn, "eps", eps)
    x, y, out_dtype = pointwise_pair(fn, x0, target, warn=False)
    C.broadcastable(fn, "input", x.shape, "var", v.shape)
    out_dtype = jnp.result_type(out_dtype, v.dtype)
    cdt = C.compute_dtype(x, v)
    out = _gaussian_nll(
        x.astype(cdt), y.astype(cdt), v.astype(cdt), full=bool(full), eps=eps, reduction=reduction
    )
    return out.astype(out_dtype)
