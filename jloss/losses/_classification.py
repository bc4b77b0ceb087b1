r"""Classification losses: ``cross_entropy``, ``nll_loss``, ``binary_cross_entropy``,
``binary_cross_entropy_with_logits``, as ``torch.nn.functional`` computes them.

Cross entropy is built on one per-position core, :func:`log_softmax_terms`: for logits with the
class axis at 1 it returns :math:`\log p_{y}` (the log-probability of the target class) and
:math:`\sum_c q_c \log p_c` (the smoothing / probability-target term), with a ``custom_vjp`` whose
backward is torch's ``log_softmax`` backward in one pass, :math:`g_x = g_y - p\,\sum_c g_y`, where
:math:`g_y` is the (weighted, smoothed) one-hot cotangent. The full log-softmax is never stored;
the backward keeps only the logits and the per-position log-sum-exp. ``linear_cross_entropy``
(in ``_linear_ce.py``) reuses the same core chunk by chunk.

The binary losses use ``custom_vjp`` where torch's gradient is not autodiff of its forward: BCE's
``(x - y) / max(x (1 - x), 1e-12)`` (finite at probabilities 0 and 1) and torch's
``binary_cross_entropy_with_logits_backward`` forms.

Being ``custom_vjp`` functions, these losses support reverse mode (``grad``, ``vjp``, ``jacrev``,
grad-of-grad and ``jax.hessian``) but not a forward-mode ``jax.jvp`` / ``jacfwd`` of the loss itself
(like torch's chunked ``linear_cross_entropy``).
"""

from __future__ import annotations

import numbers
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from .. import _checks as C
from . import _reduction as R

# ---------------------------------------------------------------------------------------------
# shared option / argument helpers
# ---------------------------------------------------------------------------------------------


def _real(fn: str, name: str, value: object) -> float:
    """A static real option (``label_smoothing``) as a Python float, or a TypeError naming it."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{fn}: {name} must be a real number (a Python float), got {type(value).__name__}")
    return float(value)


def _int_option(fn: str, name: str, value: object) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{fn}: {name} must be an int, got {type(value).__name__}")
    return int(value)


def _smoothing(fn: str, value: object) -> float:
    ls = _real(fn, "label_smoothing", value)
    if not 0.0 <= ls <= 1.0:
        # torch raises above 1 and silently ignores negative values; jloss refuses both.
        raise ValueError(f"{fn}: label_smoothing must be in [0.0, 1.0], got {ls}")
    return ls


def _class_weight(fn: str, weight: object, n_classes: int) -> jax.Array | None:
    if weight is None:
        return None
    w = C.float_array(fn, "weight", weight)
    if tuple(w.shape) != (n_classes,):
        raise ValueError(
            f"{fn}: weight must be a 1-D array with one entry per class (shape ({n_classes},)), "
            f"got shape {tuple(w.shape)}"
        )
    return w


def _index_target(fn: str, x_shape: tuple[int, ...], y: jax.Array) -> jax.Array:
    """Validate a class-index target against an input of shape (C,) or (N, C, d1, ..., dK).

    Returns the target in the batched layout: shape (1,) for an unbatched input.
    """
    if not jnp.issubdtype(y.dtype, jnp.integer):
        raise TypeError(
            f"{fn}: target must hold integer class indices (or, for class probabilities, be a "
            f"floating array of the input's shape {x_shape}), got dtype {y.dtype} and shape "
            f"{tuple(y.shape)}"
        )
    if len(x_shape) == 1:
        if tuple(y.shape) not in ((), (1,)):
            raise ValueError(
                f"{fn}: for an unbatched input of shape (C,) = {x_shape}, target must be a single "
                f"class index of shape (), got shape {tuple(y.shape)}"
            )
        return y.reshape(1)
    expected = (x_shape[0], *x_shape[2:])
    if tuple(y.shape) != expected:
        raise ValueError(
            f"{fn}: target must have shape (N, d1, ..., dK) = {expected} for an input of shape "
            f"(N, C, d1, ..., dK) = {x_shape}, got {tuple(y.shape)}"
        )
    return y


def _check_classes(fn: str, y: jax.Array, n_classes: int, ignore_index: int) -> None:
    """Class indices in [0, C) or equal to ``ignore_index`` (torch raises IndexError otherwise)."""

    def ok():
        return (y == ignore_index) | ((y >= 0) & (y < n_classes))

    msg = f"target class indices must be in [0, {n_classes}) or equal ignore_index={ignore_index}"
    if C.is_concrete(y):
        # on the host, with numpy: jnp ops on a concrete target closed over by an outer jit trace
        # would be staged into that trace
        yn = np.asarray(y)
        bad = yn[~((yn == ignore_index) | ((yn >= 0) & (yn < n_classes)))]
        if bad.size:
            raise ValueError(f"{fn}: {msg}, got {bad.flat[0]}")
        return
    C.check_values(fn, ok, msg, y)


def _safe_index(t: jax.Array, n_classes: int) -> jax.Array:
    """Targets with ignored / out-of-range entries replaced by 0 (a valid gather index)."""
    return jnp.where((t >= 0) & (t < n_classes), t, jnp.zeros((), t.dtype))


def _class_bcast(w: jax.Array, ndim: int) -> jax.Array:
    """A (C,) per-class vector shaped (1, C, 1, ..., 1) to broadcast along class axis 1."""
    return w.reshape((1, w.shape[0]) + (1,) * (ndim - 2))


def _sum_to(g: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    axes = tuple(i for i, (a, b) in enumerate(zip(g.shape, shape, strict=True)) if b == 1 and a != 1)
    return jnp.sum(g, axis=axes, keepdims=True) if axes else g


# ---------------------------------------------------------------------------------------------
# the per-position cross-entropy core
# ---------------------------------------------------------------------------------------------


def _lse(x: jax.Array) -> jax.Array:
    # torch's CPU log_softmax: out = x - (max + log(sum(exp(x - max))))
    m = jnp.max(x, axis=1, keepdims=True)
    return m + jnp.log(jnp.sum(jnp.exp(x - m), axis=1, keepdims=True))


@partial(jax.custom_vjp, nondiff_argnums=(0,))
def log_softmax_terms(smooth: bool, x: jax.Array, idx: jax.Array | None, coef: jax.Array | None):
    r"""Per-position terms of cross entropy over class axis 1, without storing the log-softmax.

    With :math:`\log p = \operatorname{log\_softmax}(x, 1)`, returns the pair

    - :math:`\log p_{\text{idx}}` (shape ``x.shape`` without axis 1), or ``None`` when ``idx`` is None;
    - :math:`\sum_c q_c \log p_c` with :math:`q` = ``coef`` (broadcastable to ``x``; ``None`` means
      all ones), or ``None`` when ``smooth`` is False.

    ``idx`` must hold valid class indices (callers mask ignored positions afterwards). The backward
    is torch's ``log_softmax_backward`` of the one-hot / coefficient cotangent,
    :math:`g_x = g_y - p \sum_c g_y` with :math:`g_y = g_a\,\mathbb{1}[c = \text{idx}] + g_b\,q`,
    evaluated in one pass from the saved logits and log-sum-exp.
    """
    out, _ = _terms_fwd(smooth, x, idx, coef)
    return out


def _terms_fwd(smooth, x, idx, coef):
    lse = _lse(x)
    a = None
    if idx is not None:
        a = (jnp.take_along_axis(x, jnp.expand_dims(idx, 1), axis=1) - lse)[:, 0]
    s = csum = None
    if smooth:
        lp = x - lse
        if coef is None:
            s = jnp.sum(lp, axis=1)
        else:
            s = jnp.sum(coef * lp, axis=1)
            csum = jnp.sum(jnp.broadcast_to(coef, x.shape), axis=1, keepdims=True)
    return (a, s), (x, idx, coef, lse, csum)


def _terms_bwd(smooth, res, g):
    x, idx, coef, lse, csum = res
    ga, gb = g
    gy = jnp.zeros((), x.dtype)
    total = jnp.zeros((), x.dtype)  # sum_c gy_c, in closed form
    if idx is not None:
        ga = jnp.expand_dims(ga, 1)
        onehot = lax.broadcasted_iota(idx.dtype, x.shape, 1) == jnp.expand_dims(idx, 1)
        gy = jnp.where(onehot, ga, jnp.zeros((), x.dtype))
        total = ga
    g_coef = None
    if smooth:
        gb = jnp.expand_dims(gb, 1)
        if coef is None:
            gy = gy + gb
            total = total + gb * x.shape[1]
        else:
            gy = gy + gb * coef
            total = total + gb * csum
            g_coef = _sum_to(gb * (x - lse), coef.shape)
    gx = gy - jnp.exp(x - lse) * total
    return gx, None, g_coef


log_softmax_terms.defvjp(_terms_fwd, _terms_bwd)


def finish_index(
    logp_t: jax.Array,
    smooth_term: jax.Array | None,
    t: jax.Array,
    w: jax.Array | None,
    *,
    n_classes: int,
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
) -> jax.Array:
    r"""torch's ``nll_loss`` (+ label smoothing) from per-position log-probabilities of the target.

    ``logp_t``: :math:`\log p_{y}` per position (at a safe index where ``t`` is ignored or out of
    range); ``smooth_term``: :math:`\sum_c w_c \log p_c` (needed when ``label_smoothing > 0``).
    Ignored positions give 0 and are left out of the weighted mean's denominator
    :math:`\sum w_{y}`; out-of-range (non-ignored) targets give NaN. The reductions go through
    :func:`jloss.losses._reduction.reduce` and are combined as torch combines them,
    ``(1 - ls) * nll + smooth * (ls / C)``.
    """
    valid = t != ignore_index
    oob = valid & ~((t >= 0) & (t < n_classes))
    zero = jnp.zeros((), logp_t.dtype)
    if w is None:
        nll = -logp_t
        wt = valid.astype(logp_t.dtype)
    else:
        w_t = jnp.take(w, _safe_index(t, n_classes))
        nll = -logp_t * w_t
        wt = jnp.where(valid, w_t, zero)
    nll = jnp.where(valid, nll, zero)
    nll = jnp.where(oob, jnp.asarray(jnp.nan, nll.dtype), nll)
    weighted = reduction == "mean"
    out = R.reduce(nll, reduction, weight=wt if weighted else None)
    if label_smoothing == 0.0:
        return out
    smooth = jnp.where(valid, -smooth_term, zero)
    smooth = R.reduce(smooth, reduction, weight=wt if weighted else None)
    return (1 - label_smoothing) * out + smooth * (label_smoothing / n_classes)


def smooth_target(y: jax.Array, label_smoothing: float, n_classes: int) -> jax.Array:
    """torch's smoothed probability target ``y * (1 - ls) + ls / C``."""
    if label_smoothing == 0.0:
        return y
    return y * (1 - label_smoothing) + label_smoothing / n_classes


# ---------------------------------------------------------------------------------------------
# cross_entropy / nll_loss
# ---------------------------------------------------------------------------------------------


@partial(jax.jit, static_argnames=("ignore_index", "reduction", "label_smoothing"))
def _ce_index(x, t, w, *, ignore_index: int, reduction: str, label_smoothing: float):
    n_classes = x.shape[1]
    smooth = label_smoothing > 0.0
    coef = _class_bcast(w, x.ndim) if (smooth and w is not None) else None
    logp_t, s = log_softmax_terms(smooth, x, _safe_index(t, n_classes), coef)
    return finish_index(
        logp_t, s, t, w, n_classes=n_classes, ignore_index=ignore_index, reduction=reduction,
        label_smoothing=label_smoothing,
    )


@partial(jax.jit, static_argnames=("reduction", "label_smoothing"))
def _ce_prob(x, y, w, *, reduction: str, label_smoothing: float):
    coef = smooth_target(y, label_smoothing, x.shape[1])
    if w is not None:
        coef = coef * _class_bcast(w, x.ndim)
    _, s = log_softmax_terms(True, x, None, coef)
    # 'mean' divides by N * d1 * ... * dK (numel / C), not by a weight sum.
    return R.reduce(-s, reduction)


def cross_entropy(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> jax.Array:
    r"""Cross entropy between logits and a target, as ``torch.nn.functional.cross_entropy``.

    With :math:`\log p = \operatorname{log\_softmax}(x)` over the class axis (axis 1, or 0 for an
    unbatched input), smoothing :math:`\epsilon` = ``label_smoothing`` and class weights :math:`w`:

    *Class-index targets* :math:`y_n \in [0, C)`:

    .. math::
        \ell_n = (1 - \epsilon)\, w_{y_n} (-\log p_{n, y_n})
                 + \frac{\epsilon}{C} \sum_c w_c (-\log p_{n,c}),
        \qquad \ell_n = 0 \text{ where } y_n = \text{ignore\_index}

    ``'mean'`` divides each of the two sums by :math:`\sum_{n:\,y_n \ne \text{ignore}} w_{y_n}`
    (the count of non-ignored targets without ``weight``), so all-ignored targets give NaN, as torch.

    *Class-probability targets* (``target`` has the input's shape, floating):

    .. math::
        \ell_n = -\sum_c w_c\, \tilde y_{n,c} \log p_{n,c}, \qquad
        \tilde y = (1 - \epsilon)\, y + \epsilon / C

    and ``'mean'`` divides by the number of positions :math:`N d_1 \cdots d_K` (not by a weight
    sum). ``ignore_index`` does not apply (a non-negative one is refused, as torch).

    The gradient w.r.t. ``input`` is :math:`(\text{softmax} - \text{target})`-style, computed in
    one pass by a ``custom_vjp`` (see :func:`log_softmax_terms`); with probability targets the
    ``target`` and ``weight`` are differentiable too.

    Class indices outside :math:`[0, C)` (other than ``ignore_index``) raise ``ValueError`` on
    concrete inputs and under :func:`jloss.checked`; under a plain ``jit`` such a position's loss
    is NaN (so a ``'mean'`` / ``'sum'`` is NaN).

    Args:
        input: unnormalized logits.
        target: class indices (any integer dtype) or class probabilities.
        weight: optional per-class rescaling weight of shape (C,).
        size_average, reduce: deprecated, mapped to ``reduction`` as torch maps them.
        ignore_index: a target value that is ignored and does not contribute to the gradient.
            Default: -100.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.
        label_smoothing: in [0.0, 1.0]; the target becomes a mixture of the ground truth and the
            uniform distribution. Default: 0.0. (torch ignores a negative value; jloss raises.)

    Shape:
        ``input`` (C), (N, C) or (N, C, d1, ..., dK); ``target`` (), (N) or (N, d1, ..., dK) of
        class indices, or the input's shape of probabilities; output scalar, or the target's
        (index) shape for ``'none'``.
    """
    fn = "cross_entropy"
    reduction = R.resolve(fn, size_average, reduce, reduction)
    x = C.float_array(fn, "input", input)
    if x.ndim < 1:
        raise ValueError(f"{fn}: input must be at least 1-dimensional (C,) or (N, C, ...), got shape ()")
    y = C.any_array(fn, "target", target)
    ls = _smoothing(fn, label_smoothing)
    ignore_index = _int_option(fn, "ignore_index", ignore_index)
    unbatched = x.ndim == 1
    n_classes = x.shape[0] if unbatched else x.shape[1]
    w = _class_weight(fn, weight, n_classes)
    floats = [x] + ([w] if w is not None else [])

    if tuple(y.shape) == tuple(x.shape):  # class probabilities
        if not jnp.issubdtype(y.dtype, jnp.floating):
            raise TypeError(
                f"{fn}: a target of the input's shape {tuple(x.shape)} holds class probabilities "
                f"and must be floating, got dtype {y.dtype}"
            )
        if ignore_index >= 0:
            raise ValueError(
                f"{fn}: ignore_index is not supported for class-probability targets, got "
                f"ignore_index={ignore_index}"
            )
        floats.append(y)
        cdt, out_dtype = C.compute_dtype(*floats), jnp.result_type(*floats)
        if unbatched:
            x, y = x[None], y[None]
        out = _ce_prob(
            x.astype(cdt), y.astype(cdt), None if w is None else w.astype(cdt),
            reduction=reduction, label_smoothing=ls,
        )
    else:
        t = _index_target(fn, tuple(x.shape), y)
        _check_classes(fn, t, n_classes, ignore_index)
        cdt, out_dtype = C.compute_dtype(*floats), jnp.result_type(*floats)
        if unbatched:
            x = x[None]
        out = _ce_index(
            x.astype(cdt), t, None if w is None else w.astype(cdt),
            ignore_index=ignore_index, reduction=reduction, label_smoothing=ls,
        )
    if unbatched and reduction == "none":
        out = out[0]
    return out.astype(out_dtype)


@partial(jax.custom_jvp, nondiff_argnums=(2,))
def _pick(x: jax.Array, idx: jax.Array, n_classes: int) -> jax.Array:
    """``x[n, idx[n, ...], ...]``: one entry per position along class axis 1 (``idx`` in range,
    ``n_classes == x.shape[1]``).

    The derivative is written as a one-hot contraction, ``sum_c where(c == idx, dx, 0)``, whose
    transpose (the gradient) is the one-hot select ``where(c == idx, g, 0)``: one fused pass over
    the input's shape, where the transpose of the gather (a scatter-add into zeros) gives the same
    numbers more slowly. Forward mode (``jax.jvp``, ``jax.hessian``) works as well.
    """
    return jnp.take_along_axis(x, jnp.expand_dims(idx, 1), axis=1)[:, 0]


@_pick.defjvp
def _pick_jvp(n_classes, primals, tangents):
    x, idx = primals
    dx = tangents[0]
    hit = lax.broadcasted_iota(idx.dtype, x.shape, 1) == jnp.expand_dims(idx, 1)
    return _pick(x, idx, n_classes), jnp.sum(jnp.where(hit, dx, jnp.zeros((), dx.dtype)), axis=1)


@partial(jax.jit, static_argnames=("ignore_index", "reduction"))
def _nll(x, t, w, *, ignore_index: int, reduction: str):
    n_classes = x.shape[1]
    logp_t = _pick(x, _safe_index(t, n_classes), n_classes)
    return finish_index(
        logp_t, None, t, w, n_classes=n_classes, ignore_index=ignore_index, reduction=reduction,
        label_smoothing=0.0,
    )


def nll_loss(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Negative log likelihood loss, as ``torch.nn.functional.nll_loss``.

    ``input`` holds log-probabilities (e.g. ``log_softmax`` output), class axis 1:

    .. math::
        \ell_n = -w_{y_n}\, x_{n, y_n}, \qquad \ell_n = 0 \text{ where } y_n = \text{ignore\_index}

    ``'mean'`` is :math:`\sum_n \ell_n / \sum_{n:\,y_n \ne \text{ignore}} w_{y_n}` (torch's weighted
    mean; NaN when every target is ignored), ``'sum'`` is :math:`\sum_n \ell_n`.

    Class indices outside :math:`[0, C)` (other than ``ignore_index``) raise ``ValueError`` on
    concrete inputs and under :func:`jloss.checked`; under a plain ``jit`` such a position's loss
    is NaN.

    Args:
        input: log-probabilities.
        target: class indices (any integer dtype).
        weight: optional per-class rescaling weight of shape (C,).
        size_average, reduce: deprecated, mapped to ``reduction`` as torch maps them.
        ignore_index: a target value that is ignored and does not contribute to the gradient.
            Default: -100.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.

    Shape:
        ``input`` (C), (N, C) or (N, C, d1, ..., dK); ``target`` (), (N) or (N, d1, ..., dK);
        output scalar, or the target's shape for ``'none'``.
    """
    fn = "nll_loss"
    reduction = R.resolve(fn, size_average, reduce, reduction)
    x = C.float_array(fn, "input", input)
    if x.ndim < 1:
        raise ValueError(f"{fn}: input must be at least 1-dimensional (C,) or (N, C, ...), got shape ()")
    y = C.any_array(fn, "target", target)
    ignore_index = _int_option(fn, "ignore_index", ignore_index)
    unbatched = x.ndim == 1
    n_classes = x.shape[0] if unbatched else x.shape[1]
    w = _class_weight(fn, weight, n_classes)
    t = _index_target(fn, tuple(x.shape), y)
    _check_classes(fn, t, n_classes, ignore_index)
    floats = [x] + ([w] if w is not None else [])
    cdt, out_dtype = C.compute_dtype(*floats), jnp.result_type(*floats)
    if unbatched:
        x = x[None]
    out = _nll(
        x.astype(cdt), t, None if w is None else w.astype(cdt),
        ignore_index=ignore_index, reduction=reduction,
    )
    if unbatched and reduction == "none":
        out = out[0]
    return out.astype(out_dtype)


# ---------------------------------------------------------------------------------------------
# binary_cross_entropy
# ---------------------------------------------------------------------------------------------


def _binary_pair(fn: str, input, target):
    x = C.float_array(fn, "input", input)
    y = C.any_array(fn, "target", target)
    if not jnp.issubdtype(y.dtype, jnp.floating):
        raise TypeError(f"{fn}: target must have a floating dtype, got {y.dtype}")
    if tuple(y.shape) != tuple(x.shape):
        raise ValueError(
            f"{fn}: target must have the same shape as input {tuple(x.shape)}, got "
            f"{tuple(y.shape)} (torch no longer broadcasts them)"
        )
    return x, y


def _elementwise_weight(fn: str, name: str, weight, shape: tuple[int, ...]) -> jax.Array | None:
    """A weight that broadcasts to ``shape`` without enlarging it (torch multiplies in place)."""
    if weight is None:
        return None
    w = C.float_array(fn, name, weight)
    try:
        ok = np.broadcast_shapes(tuple(w.shape), shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{fn}: {name} must broadcast to the input's shape {shape}, got shape {tuple(w.shape)}"
        )
    return w


@jax.custom_vjp
def _bce_elem(x: jax.Array, y: jax.Array) -> jax.Array:
    # torch's CPU kernel: (y - 1) * max(log1p(-x), -100) - y * max(log(x), -100)
    return (y - 1) * jnp.maximum(jnp.log1p(-x), -100.0) - y * jnp.maximum(jnp.log(x), -100.0)


def _bce_elem_fwd(x, y):
    return _bce_elem(x, y), (x, y)


# torch's BCE backward clamps x (1 - x) at EPSILON, a C++ ``float`` 1e-12 (9.99999996e-13 in
# float64): matching it is what makes the gradient at x in {0, 1} equal to torch's in float64.
_BCE_EPS = float(np.float32(1e-12))


def _bce_elem_bwd(res, g):
    # the barrier keeps XLA from sharing intermediates of the loss's fused sum with the gradient
    # (its own constant 1 too: a shared full-size broadcast of 1 would be materialised)
    x, y, one = lax.optimization_barrier((*res, jnp.ones((), res[0].dtype)))
    gx = g * (x - y) / jnp.maximum((one - x) * x, _BCE_EPS)
    gy = -jnp.log(x / (one - x)) * g  # torch: -logit(x) * grad
    return gx, gy


_bce_elem.defvjp(_bce_elem_fwd, _bce_elem_bwd)


@partial(jax.jit, static_argnames=("reduction",))
def _bce(x, y, w, *, reduction: str):
    loss = _bce_elem(x, y)
    # A target outside [0, 1] (only reachable under jit) is NaN, like an input outside [0, 1].
    # (no select: sqrt(min(y, 0)) + sqrt(min(1 - y, 0)) is 0 in range and NaN outside, which
    # keeps the sum one fused pass)
    poison = jnp.sqrt(jnp.minimum(y, 0)) + jnp.sqrt(jnp.minimum(1 - y, 0))
    loss = loss + lax.stop_gradient(poison)
    if w is not None:
        loss = loss * jnp.broadcast_to(w, loss.shape)
    return R.reduce(loss, reduction)


def binary_cross_entropy(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Binary cross entropy between probabilities and a target, as
    ``torch.nn.functional.binary_cross_entropy``.

    .. math::
        \ell_i = -w_i \big( y_i \max(\log x_i, -100) + (1 - y_i) \max(\log(1 - x_i), -100) \big)

    Each log is clamped at -100, so the loss is finite at :math:`x \in \{0, 1\}`. ``'mean'`` is
    :math:`\sum_i \ell_i / N` (also with ``weight``), ``'sum'`` is :math:`\sum_i \ell_i`.

    The gradient is torch's, not autodiff of the clamped forward:
    :math:`\partial \ell / \partial x = w (x - y) / \max(x (1 - x), \epsilon)` with torch's
    :math:`\epsilon` = ``float32(1e-12)`` (so about :math:`\pm 10^{12}` at 0 and 1) and
    :math:`\partial \ell / \partial y = -w\,\operatorname{logit}(x)`.

    Entries of ``input`` or ``target`` outside [0, 1] raise ``ValueError`` on concrete inputs and
    under :func:`jloss.checked`; under a plain ``jit`` those positions' losses are NaN.

    Args:
        input: probabilities, any shape.
        target: same shape, values in [0, 1].
        weight: optional rescaling weight broadcastable to the input's shape.
        size_average, reduce: deprecated, mapped to ``reduction`` as torch maps them.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.

    Shape: ``input`` (*), ``target`` (*); output scalar, or (*) for ``'none'``.
    """
    fn = "binary_cross_entropy"
    reduction = R.resolve(fn, size_average, reduce, reduction)
    x, y = _binary_pair(fn, input, target)
    w = _elementwise_weight(fn, "weight", weight, tuple(x.shape))
    C.check_values(fn, lambda: (x >= 0) & (x <= 1), "all elements of input should be between 0 and 1", x)
    C.check_values(fn, lambda: (y >= 0) & (y <= 1), "all elements of target should be between 0 and 1", y)
    floats = [x, y] + ([w] if w is not None else [])
    cdt, out_dtype = C.compute_dtype(*floats), jnp.result_type(*floats)
    out = _bce(x.astype(cdt), y.astype(cdt), None if w is None else w.astype(cdt), reduction=reduction)
    return out.astype(out_dtype)


# ---------------------------------------------------------------------------------------------
# binary_cross_entropy_with_logits
# ---------------------------------------------------------------------------------------------


def _log_sigmoid(x: jax.Array) -> jax.Array:
    # torch's CPU log_sigmoid: min(x, 0) - log1p(exp(-|x|)), stable for any |x|
    return jnp.minimum(x, 0) - jnp.log1p(jnp.exp(-jnp.abs(x)))


@jax.custom_vjp
def _bcel_elem(x: jax.Array, y: jax.Array, pw: jax.Array | None) -> jax.Array:
    # the constant 1 passes an optimization barrier: XLA would otherwise share one full-size
    # broadcast of 1 between this sum and the gradient's sigmoid, and materialise it
    one = lax.optimization_barrier(jnp.ones((), x.dtype))
    ls = _log_sigmoid(x)
    if pw is not None:
        ls = ls * ((pw - one) * y + one)
    return (one - y) * x - ls


def _bcel_elem_fwd(x, y, pw):
    return _bcel_elem(x, y, pw), (x, y, pw)


def _bcel_elem_bwd(res, g):
    x, y, pw = lax.optimization_barrier(res)  # (as in _bce_elem_bwd)
    # torch's binary_cross_entropy_with_logits_backward / _target_backward
    if pw is None:
        gx = (jax.nn.sigmoid(x) - y) * g
        gy = -x * g
        return gx, gy, None
    t = pw * y
    gx = ((t + 1 - y) * jax.nn.sigmoid(x) - t) * g
    ls = _log_sigmoid(x)
    gy = (_log_sigmoid(-x) - ls * pw) * g
    gpw = -(ls * y) * g  # torch has no pos_weight gradient; this is the exact derivative
    return gx, gy, gpw


_bcel_elem.defvjp(_bcel_elem_fwd, _bcel_elem_bwd)


@partial(jax.jit, static_argnames=("reduction",))
def _bce_logits(x, y, w, pw, *, reduction: str):
    loss = _bcel_elem(x, y, None if pw is None else jnp.broadcast_to(pw, x.shape))
    if w is not None:
        loss = loss * jnp.broadcast_to(w, loss.shape)
    return R.reduce(loss, reduction)


def binary_cross_entropy_with_logits(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: ArrayLike | None = None,
) -> jax.Array:
    r"""Binary cross entropy on logits, as ``torch.nn.functional.binary_cross_entropy_with_logits``.

    With :math:`\log\sigma(x) = \min(x, 0) - \log(1 + e^{-|x|})` (stable for logits of any size)
    and :math:`p_c` = ``pos_weight``:

    .. math::
        \ell_i = w_i \big( (1 - y_i)\, x_i - (1 + (p_c - 1)\, y_i) \log\sigma(x_i) \big)
               = -w_i \big( p_c\, y_i \log\sigma(x_i) + (1 - y_i) \log(1 - \sigma(x_i)) \big)

    ``pos_weight`` scales only the positive term; it broadcasts against the input from the last
    dimension (a (C,) vector weights the classes of an (N, C) input). ``'mean'`` is
    :math:`\sum_i \ell_i / N` (also with ``weight``). The gradients are torch's closed forms,
    :math:`w\,((p_c y + 1 - y)\,\sigma(x) - p_c y)` for the input and
    :math:`w\,(\log\sigma(-x) - p_c \log\sigma(x))` for the target.

    Args:
        input: logits, any shape.
        target: same shape (floating; soft labels allowed).
        weight: optional rescaling weight broadcastable to the input's shape.
        size_average, reduce: deprecated, mapped to ``reduction`` as torch maps them.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.
        pos_weight: optional weight of positive examples, broadcastable to the input's shape.

    Shape: ``input`` (*), ``target`` (*); output scalar, or (*) for ``'none'``.
    """
    fn = "binary_cross_entropy_with_logits"
    reduction = R.resolve(fn, size_average, reduce, reduction)
    x, y = _binary_pair(fn, input, target)
    w = _elementwise_weight(fn, "weight", weight, tuple(x.shape))
    pw = _elementwise_weight(fn, "pos_weight", pos_weight, tuple(x.shape))
    floats = [a for a in (x, y, w, pw) if a is not None]
    cdt, out_dtype = C.compute_dtype(*floats), jnp.result_type(*floats)
    out = _bce_logits(
        x.astype(cdt), y.astype(cdt), None if w is None else w.astype(cdt),
        None if pw is None else pw.astype(cdt), reduction=reduction,
    )
    return out.astype(out_dtype)


# ---------------------------------------------------------------------------------------------
# linear_cross_entropy lives in _linear_ce.py (it builds on the core above). It is reachable from
# here too, lazily (PEP 562), so that `from ._classification import linear_cross_entropy` works
# without an import cycle.
# ---------------------------------------------------------------------------------------------

_LAZY = ("linear_cross_entropy", "LinearCrossEntropyOptions")


def __getattr__(name: str):
    if name in _LAZY:
        from . import _linear_ce  # noqa: PLC0415

        return getattr(_linear_ce, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
