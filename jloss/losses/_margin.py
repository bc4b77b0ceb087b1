"""Margin losses: margin_ranking, hinge_embedding, soft_margin, multilabel_soft_margin, multi_margin,
multilabel_margin.

Each public function has torch's signature, validates eagerly (ranks, shapes, dtypes, options) with
errors that name the argument, and hands the arrays to a jitted core whose options are static.
Two hinge conventions appear, as in torch: ``clamp_min(u, 0)`` (margin_ranking, hinge_embedding),
whose gradient is 1 where ``u >= 0`` (the kink included), and the ``if (z > 0)`` of the C++ kernels
(multi_margin, multilabel_margin), whose gradient is 0 at the kink and which skips a NaN ``z``
(a NaN score adds 0 to the loss there, as in torch's loop).
"""

from __future__ import annotations

import numbers
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from .. import _checks as C
from .. import _rows
from .._rows import map_rows
from . import _reduction as R

# ---- shared pieces ---------------------------------------------------------------------------


@jax.custom_jvp
def _clamp_min0(u: jax.Array) -> jax.Array:
    """``max(u, 0)`` with torch's ``clamp_min`` gradient: 1 where ``u >= 0``, else 0."""
    return jnp.maximum(u, 0)


@_clamp_min0.defjvp
def _clamp_min0_jvp(primals, tangents):
    (u,), (du,) = primals, tangents
    return _clamp_min0(u), jnp.where(u >= 0, du, jnp.zeros_like(du))


@jax.custom_jvp
def _softplus(z: jax.Array) -> jax.Array:
    # logaddexp(z, 0) = max(z, 0) + log1p(exp(-|z|)), spelled out: jnp.logaddexp's NaN / inf
    # selects would split XLA's fusion with the reduction that follows. The derivative is
    # sigmoid(z) everywhere (autodiff of the formula would get 0 at z = 0 from abs).
    return jnp.maximum(z, 0) + jnp.log1p(jnp.exp(-jnp.abs(z)))


@_softplus.defjvp
def _softplus_jvp(primals, tangents):
    (z,), (dz,) = primals, tangents
    # the barrier keeps XLA from sharing intermediates of the loss's fused sum with the gradient
    return _softplus(z), jax.nn.sigmoid(jax.lax.optimization_barrier(z)) * dz


def _log_sigmoid(x: jax.Array) -> jax.Array:
    # -softplus(-x) = min(x, 0) - log1p(exp(-|x|)), torch's CPU kernel rounding for rounding.
    return -_softplus(-x)


def _real_array(fn: str, name: str, x: Any, *, allow_bool: bool = True) -> jax.Array:
    """``x`` as a real (integer, floating or, if allowed, bool) array, or a TypeError naming it."""
    a = C.any_array(fn, name, x)
    if a.dtype == jnp.bool_ and not allow_bool:
        raise TypeError(f"{fn}: {name} must have a numeric dtype (torch refuses bool here), got bool")
    if not (jnp.issubdtype(a.dtype, jnp.integer) or jnp.issubdtype(a.dtype, jnp.floating) or a.dtype == jnp.bool_):
        raise TypeError(f"{fn}: {name} must have a real dtype, got {a.dtype}")
    return a


def _margin(fn: str, margin: Any) -> Any:
    """A real scalar (Python number or 0-d array), as torch's ``float margin``."""
    if isinstance(margin, numbers.Real):
        return float(margin)
    try:
        m = jnp.asarray(margin)
    except TypeError as e:
        raise TypeError(f"{fn}: margin must be a real number, got {type(margin).__name__}") from e
    if m.ndim != 0 or not (jnp.issubdtype(m.dtype, jnp.floating) or jnp.issubdtype(m.dtype, jnp.integer)):
        raise TypeError(f"{fn}: margin must be a real number, got an array of shape {m.shape} and dtype {m.dtype}")
    return m


def _bshape(fn: str, named: list[tuple[str, tuple[int, ...]]]) -> tuple[int, ...]:
    shape = named[0][1]
    for name, s in named[1:]:
        shape = C.broadcastable(fn, named[0][0], shape, name, s)
    return shape


def _class_input(fn: str, input: Any) -> jax.Array:
    """The (C,) / (N, C) input of multi_margin / multilabel_margin (0-d counts as C = 1)."""
    x = C.float_array(fn, "input", input)
    if not (x.ndim == 0 or (x.ndim in (1, 2) and x.shape[-1] != 0)):
        raise ValueError(
            f"{fn}: input must be a non-empty vector (C,) or matrix (N, C) with optional 0-size batch, "
            f"got shape {tuple(x.shape)}"
        )
    return x


# ---- margin_ranking_loss -------------------------------------------------------------------


@partial(jax.jit, static_argnames=("reduction", "shape", "dtype", "diff_dtype", "out_dtype"))
def _margin_ranking(x1, x2, y, margin, *, reduction, shape, dtype, diff_dtype, out_dtype):
    d = (x1.astype(diff_dtype) - x2.astype(diff_dtype)).astype(dtype)
    d, y = jnp.broadcast_to(d, shape), jnp.broadcast_to(y.astype(dtype), shape)
    loss = _clamp_min0(-y * d + jnp.asarray(margin).astype(dtype))
    return R.reduce(loss, reduction).astype(out_dtype)


def margin_ranking_loss(
    input1: ArrayLike,
    input2: ArrayLike,
    target: ArrayLike,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Margin ranking loss, as ``torch.nn.functional.margin_ranking_loss``.

    .. math:: \ell_i = \max(0, -y_i (x1_i - x2_i) + \text{margin})

    ``y = 1`` asks for ``x1`` ranked above ``x2``, ``y = -1`` the opposite; any real target is used as
    is. The gradient at the kink (argument exactly 0) is that of torch's ``clamp_min``: it passes.

    Args:
        input1, input2: the two scores, same number of dimensions, broadcastable.
        target: labels (floating or integer), same number of dimensions as the inputs.
        margin: the margin, any real number (default 0).
        size_average, reduce: deprecated, mapped to ``reduction`` as torch maps them.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape: ``input1`` (*), ``input2`` (*), ``target`` (*), equal rank and broadcastable; output
    scalar, or the broadcast shape for ``'none'``.
    """
    fn = "margin_ranking_loss"
    reduction = R.resolve(fn, size_average, reduce, reduction)
    x1 = C.float_array(fn, "input1", input1)
    x2 = C.float_array(fn, "input2", input2)
    y = _real_array(fn, "target", target, allow_bool=False)
    if not x1.ndim == x2.ndim == y.ndim:
        raise ValueError(
            f"{fn}: input1, input2 and target must have the same number of dimensions, got shapes "
            f"input1 {tuple(x1.shape)}, input2 {tuple(x2.shape)}, target {tuple(y.shape)}"
        )
    shape = _bshape(fn, [("input1", x1.shape), ("input2", x2.shape), ("target", y.shape)])
    m = _margin(fn, margin)
    return _margin_ranking(
        x1, x2, y, m,
        reduction=reduction,
        shape=shape,
        dtype=jnp.dtype(C.compute_dtype(x1, x2, y)),
        diff_dtype=jnp.dtype(C.compute_dtype(x1, x2)),
        out_dtype=jnp.dtype(jnp.result_type(x1, x2, y)),
    )


# ---- hinge_embedding_loss ------------------------------------------------------------------


@partial(jax.jit, static_argnames=("reduction", "shape", "dtype", "out_dtype"))
def _hinge_embedding(x, y, margin, *, reduction, shape, dtype, out_dtype):
    x, y = jnp.broadcast_to(x.astype(dtype), shape), jnp.broadcast_to(y, shape)
    margin_clamp = _clamp_min0(jnp.asarray(margin).astype(dtype) - x)
    # torch's own selects: y == 1 drops the margin term, y == -1 drops x, any other value keeps both.
    # (A multiplicative mask would turn an infinite x into NaN where torch selects 0.)
    loss = jnp.where(y != 1, margin_clamp, 0) + jnp.where(y != -1, x, 0)
    return R.reduce(loss, reduction).astype(out_dtype)


def hinge_embedding_loss(
    input: ArrayLike,
    target: ArrayLike,
    margin: float = 1.0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Hinge embedding loss, as ``torch.nn.functional.hinge_embedding_loss``.

    .. math::
        \ell_i = [y_i \ne -1]\, x_i + [y_i \ne 1]\, \max(0, \text{margin} - x_i)

    i.e. :math:`x_i` for :math:`y_i = 1`, :math:`\max(0, \text{margin} - x_i)` for :math:`y_i = -1`,
    and both terms for any other target value (as torch). ``target`` gets no gradient.

    Args:
        input: distances (or any scores), any shape.
        target: labels (any real or bool dtype), broadcastable with ``input``.
        margin: the margin, any real number (default 1).
        size_average, reduce: deprecated, mapped to ``reduction`` as torch maps them.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape: ``input`` (*), ``target`` (*) broadcastable; output scalar, or the broadcast shape for
    ``'none'``; the output has ``input``'s dtype.
    """
    fn = "hinge_embedding_loss"
    reduction = R.resolve(fn, size_average, reduce, reduction)
    x = C.float_array(fn, "input", input)
    y = _real_array(fn, "target", target)
    shape = C.broadcastable(fn, "input", x.shape, "target", y.shape)
    m = _margin(fn, margin)
    return _hinge_embedding(
        x, y, m,
        reduction=reduction, shape=shape,
        dtype=jnp.dtype(C.compute_dtype(x)), out_dtype=jnp.dtype(x.dtype),
    )


# ---- soft_margin_loss ----------------------------------------------------------------------


@partial(jax.jit, static_argnames=("reduction", "prod_dtype", "dtype", "out_dtype"))
def _soft_margin(x, y, *, reduction, prod_dtype, dtype, out_dtype):
    # torch: neg_out(out, x).mul_(y) (the product in the promoted dtype, stored in x's), then
    # exp_().log1p_(). log1p(exp(z)) is written max(z, 0) + log1p(exp(-|z|)): equal to rounding,
    # finite where torch overflows to inf (z > ~88 in float32, > ~709 in float64).
    y = jax.lax.stop_gradient(jnp.broadcast_to(y.astype(prod_dtype), x.shape))  # torch: no target grad
    z = (-x.astype(prod_dtype) * y).astype(dtype)
    return R.reduce(_softplus(z), reduction).astype(out_dtype)


def soft_margin_loss(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Two-class logistic loss, as ``torch.nn.functional.soft_margin_loss``.

    .. math:: \ell_i = \log(1 + \exp(-y_i x_i))

    ``'mean'`` averages over all elements. Computed in the stable form
    :math:`\max(z,0) + \log(1 + e^{-|z|})`, :math:`z = -y_i x_i`: where torch's ``log1p(exp(z))``
    overflows (:math:`z \gtrsim 88` in float32, :math:`709` in float64) torch returns ``inf`` and jloss
    the finite value :math:`z`. ``target`` gets no gradient (torch refuses one).

    Args:
        input: scores, any shape.
        target: labels (usually :math:`\pm 1`), broadcastable *to* ``input``'s shape (as torch's
            in-place product requires).
        size_average, reduce: deprecated, mapped to ``reduction`` as torch maps them.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape: ``input`` (*), ``target`` (*); output scalar, or (*) for ``'none'``, in ``input``'s dtype.
    """
    fn = "soft_margin_loss"
    reduction = R.resolve(fn, size_average, reduce, reduction)
    x = C.float_array(fn, "input", input)
    y = _real_array(fn, "target", target)
    if C.broadcastable(fn, "input", x.shape, "target", y.shape) != tuple(x.shape):
        raise ValueError(
            f"{fn}: target of shape {tuple(y.shape)} must broadcast to the input's shape "
            f"{tuple(x.shape)} without enlarging it"
        )
    return _soft_margin(
        x, y,
        reduction=reduction,
        prod_dtype=jnp.dtype(jnp.result_type(x, y)),
        dtype=jnp.dtype(C.compute_dtype(x)),
        out_dtype=jnp.dtype(x.dtype),
    )


# ---- multilabel_soft_margin_loss -----------------------------------------------------------


@jax.custom_jvp
def _msm_elem(x: jax.Array, y: jax.Array) -> jax.Array:
    """``-(y log sigmoid(x) + (1 - y) log sigmoid(-x))`` (x, y of one shape and dtype).

    Its derivative is autodiff's of that formula, computed from an optimization barrier's copy
    of the inputs: XLA then fuses the loss into its sum and the gradient into its output, instead
    of materialising intermediates the two would share.
    """
    one = jax.lax.optimization_barrier(jnp.ones((), x.dtype))
    # log sigmoid(+-x) = min(+-x, 0) - log1p(exp(-|x|)): the same values as _log_sigmoid, with the
    # transcendental part computed once for both
    e = jnp.log1p(jnp.exp(-jnp.abs(x)))
    return -(y * (jnp.minimum(x, 0) - e) + (one - y) * (jnp.minimum(-x, 0) - e))


@_msm_elem.defjvp
def _msm_elem_jvp(primals, tangents):
    (x, y), (dx, dy) = primals, tangents
    xb, yb = jax.lax.optimization_barrier((x, y))
    # d log sigmoid(x) / dx = sigmoid(-x); d log sigmoid(-x) / dx = -sigmoid(x)
    # sigmoid(|x|) = 1 / (1 + t), sigmoid(-|x|) = t / (1 + t) with t = exp(-|x|), both from one exp
    t = jnp.exp(-jnp.abs(xb))
    big, small = 1 / (1 + t), t / (1 + t)
    pos = xb >= 0
    sig_x, sig_neg_x = jnp.where(pos, big, small), jnp.where(pos, small, big)
    gx = -(yb * sig_neg_x - (1 - yb) * sig_x)
    e = jnp.log1p(t)
    gy = -((jnp.minimum(xb, 0) - e) - (jnp.minimum(-xb, 0) - e))
    return _msm_elem(x, y), gx * dx + gy * dy


@partial(jax.jit, static_argnames=("reduction", "shape", "wshape", "class_axis", "n_classes", "x_dtype", "dtype", "out_dtype"))
def _multilabel_soft_margin(x, y, w, *, reduction, shape, wshape, class_axis, n_classes, x_dtype, dtype, out_dtype):
    x = x.astype(x_dtype)
    if x_dtype == dtype and tuple(x.shape) == shape and tuple(y.shape) == shape:
        loss = _msm_elem(x, y.astype(dtype))  # the common case, in one fused pass
        if w is not None:
            loss = jnp.broadcast_to(loss, wshape) * jnp.broadcast_to(w.astype(dtype), wshape)
        loss = jnp.sum(loss, axis=class_axis) / n_classes
        return R.reduce(loss, reduction).astype(out_dtype)
    # torch: -(y * logsigmoid(x) + (1 - y) * logsigmoid(-x)), each log-sigmoid in input's dtype.
    ls_pos = jnp.broadcast_to(_log_sigmoid(x).astype(dtype), shape)
    ls_neg = jnp.broadcast_to(_log_sigmoid(-x).astype(dtype), shape)
    y = jnp.broadcast_to(y.astype(dtype), shape)
    loss = -(y * ls_pos + (1 - y) * ls_neg)
    if w is not None:
        loss = jnp.broadcast_to(loss, wshape) * jnp.broadcast_to(w.astype(dtype), wshape)
    loss = jnp.sum(loss, axis=class_axis) / n_classes
    return R.reduce(loss, reduction).astype(out_dtype)


def multilabel_soft_margin_loss(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Multi-label one-versus-all logistic loss, as ``torch.nn.functional.multilabel_soft_margin_loss``.

    .. math::
        \ell_n = -\frac{1}{C} \sum_c w_c \big[y_{nc} \log\sigma(x_{nc}) + (1 - y_{nc}) \log\sigma(-x_{nc})\big]

    The sum runs over the last axis of ``input`` (C = ``input.shape[-1]``), after the optional
    ``weight``; ``reduction`` then applies to the per-sample losses (``'mean'`` divides by N, not by
    the weights). Targets may be soft (any real value) and get gradients, as does ``weight``.

    Args:
        input: logits (C,) or (N, C) (any rank >= 1; the class axis is the last one).
        target: labels in {0, 1} (or soft), broadcastable with ``input``; bool is refused as torch does.
        weight: optional class weights, broadcastable with the loss (usually (C,)).
        size_average, reduce: deprecated, mapped to ``reduction`` as torch maps them.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape: ``input`` (N, C), ``target`` (N, C); output scalar, or (N,) for ``'none'``
    (a scalar for an unbatched (C,) input).
    """
    fn = "multilabel_soft_margin_loss"
    if reduction == "elementwise_mean" and size_average is None and reduce is None:
        # torch's own branch table for this loss has no 'elementwise_mean' alias.
        raise ValueError(f"{fn}: reduction must be one of 'none', 'mean', 'sum', got 'elementwise_mean'")
    reduction = R.resolve(fn, size_average, reduce, reduction)
    x = C.float_array(fn, "input", input)
    y = _real_array(fn, "target", target, allow_bool=False)
    if x.ndim == 0:
        raise ValueError(f"{fn}: input must have a class dimension (at least 1-D), got shape ()")
    shape = C.broadcastable(fn, "input", x.shape, "target", y.shape)
    dtypes = [x, y]
    wshape = shape
    w = None
    if weight is not None:
        w = _real_array(fn, "weight", weight)
        wshape = C.broadcastable(fn, "loss (input and target broadcast)", shape, "weight", w.shape)
        dtypes.append(w)
    return _multilabel_soft_margin(
        x, y, w,
        reduction=reduction,
        shape=shape,
        wshape=wshape,
        class_axis=x.ndim - 1,  # torch: dim = input.dim() - 1 of the (possibly broadcast) loss
        n_classes=x.shape[-1],
        x_dtype=jnp.dtype(C.compute_dtype(x)),
        dtype=jnp.dtype(C.compute_dtype(*dtypes)),
        out_dtype=jnp.dtype(jnp.result_type(*dtypes)),
    )


# ---- multi_margin_loss ---------------------------------------------------------------------


@partial(jax.jit, static_argnames=("p", "reduction", "scalar_out", "in_dtype", "dtype"))
def _multi_margin(x, y, margin, w, *, p, reduction, scalar_out, in_dtype, dtype):
    n_classes = x.shape[1]
    x = x.astype(dtype)
    m = jnp.asarray(margin).astype(in_dtype).astype(dtype)  # torch's kernel takes margin as scalar_t
    bad = (y < 0) | (y >= n_classes)
    yc = jnp.clip(y, 0, n_classes - 1)
    x_y = jnp.take_along_axis(x, yc[:, None], axis=1)
    z = (m - x_y) + x
    # torch: `if (z > 0)`: no gradient at the kink, and a NaN z is skipped (adds 0), not propagated
    h = jnp.where(z > 0, z, jnp.zeros((), z.dtype))
    if p == 2:
        h = h * h
    if w is not None:
        h = h * w.astype(dtype)[yc][:, None]
    # The kernel skips j == y (`continue`); a select (not a 0/1 product) keeps an infinite x_y from
    # turning its own skipped term into NaN.
    is_y = jnp.arange(n_classes)[None, :] == yc[:, None]
    loss = jnp.sum(jnp.where(is_y, 0, h), axis=1) / n_classes
    loss = jnp.where(bad, jnp.nan, loss)
    if reduction == "none" and scalar_out:
        loss = loss.reshape(())
    return R.reduce(loss, reduction).astype(in_dtype)


def multi_margin_loss(
    input: ArrayLike,
    target: ArrayLike,
    p: int = 1,
    margin: float = 1.0,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Multi-class hinge loss, as ``torch.nn.functional.multi_margin_loss``.

    .. math::
        \ell_n = \frac{1}{C} \sum_{j \ne y_n} w_{y_n} \max(0, \text{margin} - x_{n y_n} + x_{nj})^p

    with ``p`` 1 or 2; ``reduction`` applies to the per-sample losses. The gradient at the kink is 0
    (torch's ``if (z > 0)``). torch does not differentiate ``weight``; jloss gives the derivative of
    the formula.

    A ``target`` outside ``[0, C)`` raises ``ValueError`` on concrete inputs and under
    :func:`jloss.checked`; under a plain ``jit`` that sample's loss is NaN. Any integer dtype is
    accepted for ``target`` (torch wants int64; JAX's default integer is int32).

    Args:
        input: scores (C,) or (N, C) (a 0-d input is one sample of one class).
        target: class indices () or (1,) for an unbatched input, (N,) for a batch.
        p: 1 or 2 (anything else is a ValueError, as in torch).
        margin: the margin, any real number (default 1).
        weight: optional per-class weights (C,), with ``input``'s dtype (as torch requires).
        size_average, reduce: deprecated, mapped to ``reduction`` as torch maps them.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape: ``input`` (N, C) or (C,), ``target`` (N,) or (); output scalar, or (N,) for ``'none'``
    (a scalar for a 0-d target, (1,) for an unbatched input with a (1,) target).
    """
    fn = "multi_margin_loss"
    reduction = R.resolve(fn, size_average, reduce, reduction)
    try:
        p_ok = bool(p == 1 or p == 2)
    except Exception:  # a traced or non-scalar p
        p_ok = False
    if not p_ok:
        raise ValueError(f"{fn}: p must be 1 or 2 (only p == 1 and p == 2 are supported), got {p!r}")
    x = _class_input(fn, input)
    y = C.int_array(fn, "target", target)
    nframe, n_classes = (x.shape[0], x.shape[1]) if x.ndim == 2 else (1, 1 if x.ndim == 0 else x.shape[0])
    if y.ndim > 1 or y.size != nframe:
        raise ValueError(
            f"{fn}: target must be 1-D with one class index per sample, expected size {nframe}, got "
            f"shape {tuple(y.shape)} for input of shape {tuple(x.shape)}"
        )
    w = None
    if weight is not None:
        w = C.float_array(fn, "weight", weight)
        if w.ndim != 1:
            raise ValueError(f"{fn}: weight must be one-dimensional, got shape {tuple(w.shape)}")
        if w.shape[0] != n_classes:
            raise ValueError(f"{fn}: weight must have {n_classes} entries (one per class), got {w.shape[0]}")
        if w.dtype != x.dtype:
            raise TypeError(f"{fn}: weight must have the input's dtype {x.dtype} (as torch requires), got {w.dtype}")
    m = _margin(fn, margin)
    C.check_values(
        fn,
        lambda: (y >= 0) & (y < n_classes),
        f"target out of range: class indices must lie in [0, {n_classes})",
        y,
    )
    return _multi_margin(
        x.reshape(nframe, n_classes), y.reshape(nframe), m, w,
        p=int(p),
        reduction=reduction,
        scalar_out=y.ndim == 0,
        in_dtype=jnp.dtype(x.dtype),
        dtype=jnp.dtype(C.compute_dtype(x)),
    )


# ---- multilabel_margin_loss ----------------------------------------------------------------


def _onehot(tc, n_classes: int):
    return tc[:, :, None] == jnp.arange(n_classes)[None, None, :]  # (N, position, class)


def _prefix(t, lengths, kb: int, n_classes: int):
    """The first ``kb`` list positions: class indices (clipped into range) and which are targets."""
    return jnp.clip(t[:, :kb], 0, n_classes - 1), jnp.arange(kb)[None, :] < lengths[:, None]


def _pairs_any(x, t, lengths, *, with_grad: bool):
    """The (N, C, C) pairwise form, for any scores: torch's ``if (z > 0)`` skips a NaN term and
    masked-out pairs add nothing even where infinite (the kernel never visits them)."""
    tc, valid = _prefix(t, lengths, x.shape[1], x.shape[1])
    onehot = _onehot(tc, x.shape[1])
    is_target = jnp.any(valid[:, :, None] & onehot, axis=1)
    z = (1 - jnp.take_along_axis(x, tc, axis=1))[:, :, None] + x[:, None, :]  # 1 - x_{t_k} + x_i
    hit = valid[:, :, None] & ~is_target[:, None, :] & (z > 0)
    total = jnp.sum(jnp.where(hit, z, 0), axis=(1, 2))
    if not with_grad:
        return total
    # the slope: +1 per hit pair at its class i, -1 at its target's class (torch's backward kernel)
    per_position = jnp.sum(hit, axis=2, dtype=x.dtype)  # (N, position)
    slope = jnp.sum(hit, axis=1, dtype=x.dtype) - jnp.sum(onehot.astype(x.dtype) * per_position[:, :, None], axis=1)
    return total, slope


def _masked_scores(x, t, lengths, kb: int):
    """``x`` with -inf at each row's target classes, and the targets' scores x_t (N, kb) with
    +inf past each list's end (the first ``kb`` list positions suffice)."""
    tc, valid = _prefix(t, lengths, kb, x.shape[1])
    is_target = jnp.any(valid[:, :, None] & _onehot(tc, x.shape[1]), axis=1)
    x_t = jnp.where(valid, jnp.take_along_axis(x, tc, axis=1), jnp.inf)
    return jnp.where(is_target, -jnp.inf, x), jnp.pad(x_t, ((0, 0), (0, x.shape[1] - kb)))


#: up to this many list positions the finite form loops over them (elementwise (N, C) passes and
#: row sums); XLA CPU reduces the (N, position, class) block along one of its axes ~10x slower
_UNROLLED = 16


def _pairs_finite(x_masked, x_t, kb: int, *, with_grad: bool):
    """The pairwise terms over the first ``kb`` list positions only, for finite scores: non-target
    classes carry their score, targets -inf, positions past the list end x_t = +inf, so every masked
    pair's ``z = 1 - x_t + x_i`` is -inf and ``max(z, 0)`` alone selects (a select inside this
    reduction costs XLA CPU ~4x). With ``with_grad`` also the hit counts per class and per position
    (the latter padded to C columns)."""
    n_classes = x_masked.shape[1]
    x_t = x_t[:, :kb]
    if kb > _UNROLLED:
        z = (1 - x_t)[:, :, None] + x_masked[:, None, :]
        if not with_grad:
            return jnp.sum(jnp.maximum(z, 0), axis=(1, 2))
        hit = (z > 0).astype(z.dtype)
        per_position = jnp.pad(jnp.sum(hit, axis=2), ((0, 0), (0, n_classes - kb)))
        return jnp.sum(jnp.maximum(z, 0), axis=(1, 2)), jnp.sum(hit, axis=1), per_position
    terms = counts = 0
    per_position = []
    for k in range(kb):
        z = (1 - x_t[:, k:k + 1]) + x_masked
        terms = terms + jnp.maximum(z, 0)
        if with_grad:
            hit = (z > 0).astype(z.dtype)
            counts = counts + hit
            per_position.append(jnp.sum(hit, axis=1))
    total = jnp.sum(terms, axis=1)
    if not with_grad:
        return total
    # the hit counts per list position leave this branch as an array: folded into the slope in the
    # same XLA computation, each row sum would be recomputed for every class
    per_position = jnp.stack(per_position, axis=1)
    return total, counts, jnp.pad(per_position, ((0, 0), (0, n_classes - kb)))


def _fold_targets(counts, per_position, t, lengths, kb: int):
    """``counts`` minus each position's hit count at its target class: the slope of the row sums."""
    n_classes = counts.shape[1]
    tc, _ = _prefix(t, lengths, kb, n_classes)  # past the list end the counts are 0
    if kb > _UNROLLED:
        return counts - jnp.sum(_onehot(tc, n_classes).astype(counts.dtype) * per_position[:, :kb, None], axis=1)
    classes = jnp.arange(n_classes)[None, :]
    for k in range(kb):
        counts = counts - jnp.where(tc[:, k:k + 1] == classes, per_position[:, k:k + 1], 0)
    return counts


def _position_buckets(n_classes: int) -> tuple[int, ...]:
    """Static lengths of the target-list prefix the kernel is compiled for: 4, 16, 64, ... then C."""
    out, k = [], 4
    while k < n_classes:
        out.append(k)
        k *= 4
    return (*out, n_classes)


def _finite_rows(x, t, lengths, *, kb: int, with_grad: bool):
    """The pair sums (and with ``with_grad`` the slope) of finite scores over the first ``kb``
    list positions."""
    x_masked, x_t = _masked_scores(x, t, lengths, kb)
    out = _pairs_finite(x_masked, x_t, kb, with_grad=with_grad)
    if not with_grad:
        return out
    total, counts, per_position = out
    return total, _fold_targets(counts, per_position, t, lengths, kb)


def _by_longest_list(x, t, lengths, finite_scores, *, with_grad: bool):
    # Only the first K positions hold targets (K the longest list in the batch), so for finite
    # scores the pairwise terms are (N, K', C) for the smallest bucket K' >= K, not (N, C, C);
    # torch's kernel likewise loops over each row's targets only. Scores with an inf / NaN take the
    # exact form. Every form runs over blocks of rows (map_rows): with whole-batch intermediates
    # XLA's temporary buffer held every branch's (N, K', C) terms at once (12 GB for 65536 x 128
    # with gradients), and its pages faulted anew on every call.
    n_classes = x.shape[1]
    buckets = _position_buckets(n_classes)

    def rows(kb: int) -> int:
        return _rows.BLOCK // (kb * n_classes)  # (rows, kb, C) pairwise terms a block

    def finite(x, t, lengths):
        longest = jnp.max(lengths, initial=0)
        branch = jnp.searchsorted(jnp.asarray(buckets[:-1], jnp.int32), longest, side="left")
        forms = [partial(map_rows, partial(_finite_rows, kb=kb, with_grad=with_grad), rows(kb)) for kb in buckets]
        return jax.lax.switch(branch, forms, x, t, lengths)

    def any_scores(x, t, lengths):
        return map_rows(partial(_pairs_any, with_grad=with_grad), rows(n_classes), x, t, lengths)

    return jax.lax.cond(finite_scores, finite, any_scores, x, t, lengths)


@jax.custom_jvp
def _multilabel_pair_sum(x, t, lengths, finite_scores):
    return _by_longest_list(x, t, lengths, finite_scores, with_grad=False)


@_multilabel_pair_sum.defjvp
def _multilabel_pair_sum_jvp(primals, tangents):
    # The derivative is piecewise constant (counts of active pairs): computed with the value in one
    # pass, so reverse mode keeps an (N, C) residual instead of the (N, K', C) pairwise terms.
    total, slope = _by_longest_list(*primals, with_grad=True)
    return total, jnp.sum(slope * tangents[0], axis=1)


@partial(jax.jit, static_argnames=("reduction", "scalar_out", "dtype"))
def _multilabel_margin(x, t, *, reduction, scalar_out, dtype):
    out_dtype = x.dtype
    n_classes = x.shape[1]
    x = x.astype(dtype)
    # Positions before the first negative entry hold the target classes (duplicates count twice in
    # torch's loop over positions, and here). One integer max per row finds both that list's length
    # and an out-of-range entry anywhere in the row (a select inside the reduction would cost ~4x).
    # Row by row in blocks (map_rows): whole-batch, XLA stores the (N, C) key terms and isfinite
    # mask in fresh buffers for the reductions to read.
    def row_keys(x, t):
        negative = (t < 0).astype(jnp.int32) * (n_classes - jnp.arange(n_classes, dtype=jnp.int32))[None, :]
        out_of_range = ((t < -1) | (t >= n_classes)).astype(jnp.int32) * (n_classes + 1)
        # > C: bad row; else C - first negative (0: none)
        return jnp.max(negative + out_of_range, axis=1), jnp.all(jnp.isfinite(x), axis=1)

    key, finite_rows = map_rows(row_keys, _rows.BLOCK // max(n_classes, 1), x, t)
    bad = key > n_classes
    lengths = jnp.where(bad, 0, jnp.where(key == 0, n_classes, n_classes - key))
    loss = _multilabel_pair_sum(x, t, lengths, jnp.all(finite_rows)) / n_classes
    loss = jnp.where(bad, jnp.nan, loss)
    if reduction == "none" and scalar_out:
        loss = loss.reshape(())
    return R.reduce(loss, reduction).astype(out_dtype)


def multilabel_margin_loss(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Multi-label hinge loss, as ``torch.nn.functional.multilabel_margin_loss``.

    ``target[n]`` lists the classes of sample n and ends at its first -1 (the rest is ignored);
    with :math:`T_n` that list,

    .. math::
        \ell_n = \frac{1}{C} \sum_{j \in T_n} \sum_{i \notin T_n} \max(0, 1 - x_{nj} + x_{ni})

    (a class listed twice counts twice, as in torch's kernel). The gradient at the kink is 0.
    Every entry of ``target``, also after the first -1, must lie in ``[-1, C)``: otherwise
    ``ValueError`` on concrete inputs and under :func:`jloss.checked`, and a NaN loss for that sample
    under a plain ``jit``. Any integer dtype is accepted for ``target``.
    This follows torch's eager kernel; ``torch._decomp``'s version differs (pytorch#141017).

    Args:
        input: scores (C,) or (N, C) (a 0-d input is one sample of one class).
        target: class lists padded with -1, the input's shape ((C,) or (N, C); () or (1,) for 0-d).
        size_average, reduce: deprecated, mapped to ``reduction`` as torch maps them.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape: ``input`` (N, C) or (C,), ``target`` the same; output scalar, or (N,) for ``'none'``
    (a scalar for an unbatched input).
    """
    fn = "multilabel_margin_loss"
    reduction = R.resolve(fn, size_average, reduce, reduction)
    x = _class_input(fn, input)
    t = C.int_array(fn, "target", target)
    if x.ndim <= 1:
        n_classes = 1 if x.ndim == 0 else x.shape[0]
        ok = t.ndim <= 1 and t.size == n_classes
    else:
        n_classes = x.shape[1]
        ok = tuple(t.shape) == tuple(x.shape)
    if not ok:
        raise ValueError(
            f"{fn}: target must have the input's shape {tuple(x.shape)} (any of () / (1,) for a 0-d "
            f"input), got {tuple(t.shape)}"
        )
    C.check_values(
        fn,
        lambda: (t >= -1) & (t < n_classes),
        f"target is out of range: entries must lie in [-1, {n_classes})",
        t,
    )
    nframe = x.shape[0] if x.ndim == 2 else 1
    return _multilabel_margin(
        x.reshape(nframe, n_classes), t.reshape(nframe, n_classes),
        reduction=reduction,
        scalar_out=t.ndim <= 1,
        dtype=jnp.dtype(C.compute_dtype(x)),
    )

