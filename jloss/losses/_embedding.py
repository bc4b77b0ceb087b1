"""Distances and embedding losses: pairwise_distance, cosine_similarity, cosine_embedding_loss,
triplet_margin_loss, triplet_margin_with_distance_loss.

torch's gradients of these are not plain autodiff of the obvious formulas in two places, so two
tiny ``custom_jvp`` primitives carry torch's rules (a JVP rule also serves ``jax.jacfwd``):

* :func:`_vector_norm` is ``torch.linalg.vector_norm`` over one axis, with the gradient of torch's
  ``norm_backward`` (0 where the norm is 0, masked ``|x|^{p-1}`` at zero entries for ``p < 1``,
  the gradient of ``inf``-norms shared among the tied maxima) -- autodiff of ``sqrt(sum(x^2))``
  would give NaN at a zero vector, where torch gives 0.
* :func:`_clamp_min` is ``torch.clamp_min``: NaN propagates, and the gradient passes where
  ``x >= lo`` (ties included; ``jnp.maximum`` would halve it).  ``cosine_similarity`` clamps the
  norms under ``torch.no_grad()``, i.e. straight through, which ``straight_through=True`` gives.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from .. import _checks as C
from .. import _rows
from .._rows import map_rows
from . import _reduction as R

# torch's default dtype: what integer-only inputs produce (``x1 - x2 + eps`` is a float32 tensor).
_INT_RESULT = jnp.float32
# ATen's EPSILON in cosine_embedding_loss, added to the squared norms. It is a C++ float constant:
# float32(1e-12) = 9.9999998e-13 also in float64 (1e-12 itself is off by 2e-9 at a zero vector).
_COS_EMBED_EPS = float(np.float32(1e-12))


# ---------------------------------------------------------------------------------------------
# primitives with torch's gradients
# ---------------------------------------------------------------------------------------------


@partial(jax.custom_jvp, nondiff_argnums=(1, 2))
def _vector_norm(x: jax.Array, p: float, axis: int) -> jax.Array:
    """``torch.linalg.vector_norm(x, p, dim=axis, keepdim=True)``, torch's gradient."""
    if p == 0:
        return jnp.sum((x != 0).astype(x.dtype), axis=axis, keepdims=True)
    if p == 2:
        return jnp.sqrt(jnp.sum(x * x, axis=axis, keepdims=True))
    a = jnp.abs(x)
    if p == 1:
        return jnp.sum(a, axis=axis, keepdims=True)
    if p == math.inf:
        return jnp.max(a, axis=axis, keepdims=True)
    if p == -math.inf:
        return jnp.min(a, axis=axis, keepdims=True)
    return jnp.sum(a**p, axis=axis, keepdims=True) ** (1.0 / p)


def _sgn(x: jax.Array) -> jax.Array:
    """torch's ``sgn``: 0 at 0 and at NaN (``jnp.sign`` is NaN at NaN)."""
    return jnp.where(jnp.isnan(x), jnp.zeros((), x.dtype), jnp.sign(x))


def _norm_grad_weight(x: jax.Array, n: jax.Array, p: float, axis: int) -> jax.Array:
    """d||x||_p / dx as torch's ``norm_backward`` computes it (``n`` keeps the reduced axis)."""
    zero = jnp.zeros((), x.dtype)
    if p == 0:
        return jnp.zeros_like(x)
    if p == 1:
        return _sgn(x)
    n_safe = jnp.where(n == 0, jnp.ones((), n.dtype), n)
    if p == 2:
        return jnp.where(n == 0, zero, x / n_safe)
    a = jnp.abs(x)
    if math.isinf(p):
        mask = ((a == n) | jnp.isnan(x)).astype(x.dtype)
        return _sgn(x) * mask / jnp.sum(mask, axis=axis, keepdims=True)
    if p < 1:
        a_safe = jnp.where(x == 0, jnp.ones((), x.dtype), a)
        scaled = jnp.where(x == 0, zero, _sgn(x) * a_safe ** (p - 1))
        return scaled * n ** (1 - p)
    scale = jnp.where(n == 0, zero, 1 / n_safe ** (p - 1))
    if p < 2:
        return _sgn(x) * a ** (p - 1) * scale
    return x * a ** (p - 2) * scale


@_vector_norm.defjvp
def _vector_norm_jvp(p, axis, primals, tangents):
    (x,), (t,) = primals, tangents
    n = _vector_norm(x, p, axis)
    return n, jnp.sum(_norm_grad_weight(x, n, p, axis) * t, axis=axis, keepdims=True)


@partial(jax.custom_jvp, nondiff_argnums=(1, 2))
def _clamp_min(x: jax.Array, lo: float, straight_through: bool = False) -> jax.Array:
    """``torch.clamp_min(x, lo)``: NaN propagates; gradient where ``x >= lo`` (or everywhere)."""
    return jnp.maximum(x, lo)


@_clamp_min.defjvp
def _clamp_min_jvp(lo, straight_through, primals, tangents):
    (x,), (t,) = primals, tangents
    dt = t if straight_through else jnp.where(x >= lo, t, jnp.zeros_like(t))
    return _clamp_min(x, lo, straight_through), dt


# ---------------------------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------------------------


def _real_arrays(
    fn: str, named: tuple[tuple[str, Any], ...], *, int_result: Any, bool_ok: bool = True
) -> tuple[list[jax.Array], Any]:
    """Arrays of a real dtype (float, int, bool), promoted as torch promotes them.

    Returns the arrays cast to the result dtype, and that dtype. Integer-only inputs give
    ``int_result`` (float32, torch's default dtype) or, where torch refuses them
    (``int_result=None``), a TypeError. The jitted cores compute in :func:`_up` of it.
    """
    arrs = []
    for name, x in named:
        a = C.any_array(fn, name, x)
        kind = a.dtype
        if not (
            jnp.issubdtype(kind, jnp.floating)
            or jnp.issubdtype(kind, jnp.integer)
            or kind == jnp.bool_
        ):
            raise TypeError(f"{fn}: {name} must have a floating, integer or bool dtype, got {kind}")
        if kind == jnp.bool_ and not bool_ok:
            raise TypeError(f"{fn}: {name} must not be bool (torch does not subtract bool tensors)")
        arrs.append(a)
    out = jnp.result_type(*arrs)
    if not jnp.issubdtype(out, jnp.floating):
        if int_result is None:
            names = " and ".join(n for n, _ in named)
            raise TypeError(f"{fn}: {names} must promote to a floating dtype, got {out}")
        out = jnp.dtype(int_result)
    return [a.astype(out) for a in arrs], out


def _up(x: jax.Array) -> jax.Array:
    """The compute dtype: bfloat16 / float16 computed in float32, as torch accumulates on CPU."""
    return x.astype(jnp.float32) if x.dtype in (jnp.bfloat16, jnp.float16) else x


def _real(fn: str, name: str, value: Any) -> float:
    if isinstance(value, jax.core.Tracer):
        raise TypeError(
            f"{fn}: {name} must be a concrete number (it is static), got a traced value"
        )
    try:
        if isinstance(value, (str, bytes)):
            raise TypeError
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{fn}: {name} must be a real number, got {value!r}") from None


def _flag(fn: str, name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{fn}: {name} must be a bool, got {type(value).__name__}")
    return bool(value)


def _check_norm_dim(fn: str, shape: tuple[int, ...], p: float) -> None:
    if shape and shape[-1] == 0 and (p < 0 or math.isinf(p)):
        raise ValueError(
            f"{fn}: the {p:g}-norm of an empty last dimension is undefined (no identity), "
            f"got inputs broadcasting to {shape}"
        )


def _margin_positive(fn: str, margin: Any) -> float:
    margin = _real(fn, "margin", margin)
    if margin <= 0:
        raise ValueError(f"{fn}: margin must be greater than 0, got {margin}")
    return margin


def _broadcast(*xs: jax.Array) -> list[jax.Array]:
    shape = np.broadcast_shapes(*(x.shape for x in xs))
    return [jnp.broadcast_to(x, shape) for x in xs]


# ---------------------------------------------------------------------------------------------
# pairwise_distance / cosine_similarity
# ---------------------------------------------------------------------------------------------


def _pairwise(x1: jax.Array, x2: jax.Array, p: float, eps: float, keepdim: bool) -> jax.Array:
    """ATen's ``norm(x1 - x2 + eps, p, dim=-1, keepdim)``.

    The difference is formed in the inputs' dtype as torch forms it (in bfloat16 ``eps`` rounds
    to bfloat16 too, so ``x - (x + eps) + eps`` can be exactly 0); the norm is taken in
    :func:`_up` of it.
    """
    if x1.ndim >= 2 and x1.shape == x2.shape:
        rows = (math.prod(x1.shape[:-1]), x1.shape[-1])
        n = _diff_norm(x1.reshape(rows), x2.reshape(rows), p, eps)
        n = n.reshape(*x1.shape[:-1], 1)
        return n if keepdim else n[..., 0]
    a, b = _broadcast(x1, x2)
    d = _up(a - b + eps)
    if d.ndim == 0:  # two scalars: the norm of a scalar is a scalar, also with keepdim
        return _vector_norm(d.reshape(1), p, 0).reshape(())
    n = _vector_norm(d, p, d.ndim - 1)
    return n if keepdim else n[..., 0]


@partial(jax.custom_jvp, nondiff_argnums=(2, 3))
def _diff_norm(a: jax.Array, b: jax.Array, p: float, eps: float) -> jax.Array:
    """``_vector_norm(_up(a - b + eps), p, 1)`` of two (N, D) arrays, a block of rows at a time.

    Whole-batch, XLA:CPU stores the difference in a fresh (N, D) buffer for the row reduction to
    read (it cannot take the subtraction inside); block by block (:func:`jloss._rows.map_rows`)
    it stays in cache (65536 x 128 float32: forward 5.6 -> 4.0 ms). The derivative is
    :func:`_vector_norm`'s, of the difference.
    """
    rows = _rows.BLOCK // max(a.shape[1], 1)
    return map_rows(lambda a, b: _vector_norm(_up(a - b + eps), p, 1), rows, a, b)


@_diff_norm.defjvp
def _diff_norm_jvp(p, eps, primals, tangents):
    (a, b), (ta, tb) = primals, tangents
    n = _diff_norm(a, b, p, eps)
    return n, jnp.sum(_norm_grad_weight(_up(a - b + eps), n, p, 1) * _up(ta - tb), axis=1, keepdims=True)


@partial(jax.jit, static_argnames=("p", "eps", "keepdim", "out_dtype"))
def _pairwise_distance(x1, x2, *, p, eps, keepdim, out_dtype):
    return _pairwise(x1, x2, p, eps, keepdim).astype(out_dtype)


def pairwise_distance(
    x1: ArrayLike, x2: ArrayLike, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> jax.Array:
    r"""p-norm distance between rows, as ``torch.nn.functional.pairwise_distance``.

    .. math:: \mathrm{dist}(x_1, x_2) = \Vert x_1 - x_2 + \epsilon e \Vert_p

    over the last dimension, with :math:`e` the all-ones vector (``eps`` is added to the
    *difference*, as torch does). ``p`` is any real: ``0`` counts non-zero entries, ``inf`` /
    ``-inf`` are the largest / smallest ``|x_1 - x_2 + \epsilon|``, negative and fractional ``p``
    use :math:`(\sum_i |d_i|^p)^{1/p}`. The gradient is torch's: ``0`` where the distance is 0,
    for every ``p``.

    Args:
        x1, x2: broadcastable arrays; the last dimension of their broadcast shape is reduced.
            Integer inputs give float32 (torch's default dtype); bool inputs raise, as in torch.
        p: the norm degree. Default: 2.
        eps: added to the difference to avoid a zero vector. Default: 1e-6.
        keepdim: keep the reduced dimension (as size 1). Default: False.

    Shape: ``x1`` (N, D) or (D,), ``x2`` broadcastable to it; output (N) or () -- (N, 1) / (1,)
    with ``keepdim`` (two 0-d inputs give a 0-d output).
    """
    fn = "pairwise_distance"
    (a, b), out = _real_arrays(fn, (("x1", x1), ("x2", x2)), int_result=_INT_RESULT, bool_ok=False)
    p = _real(fn, "p", p)
    eps = _real(fn, "eps", eps)
    keepdim = _flag(fn, "keepdim", keepdim)
    shape = C.broadcastable(fn, "x1", a.shape, "x2", b.shape)
    _check_norm_dim(fn, shape, p)
    return _pairwise_distance(a, b, p=p, eps=eps, keepdim=keepdim, out_dtype=out)


@partial(jax.jit, static_argnames=("dim", "eps", "out_dtype"))
def _cosine_similarity(x1, x2, *, dim, eps, out_dtype):
    a, b = _broadcast(_up(x1), _up(x2))
    scalar = a.ndim == 0
    if scalar:
        a, b = a.reshape(1), b.reshape(1)
    n1 = _clamp_min(_vector_norm(a, 2.0, dim), eps, True)
    n2 = _clamp_min(_vector_norm(b, 2.0, dim), eps, True)
    out = jnp.sum((a / n1) * (b / n2), axis=dim)
    return (out.reshape(()) if scalar else out).astype(out_dtype)


def cosine_similarity(x1: ArrayLike, x2: ArrayLike, dim: int = 1, eps: float = 1e-8) -> jax.Array:
    r"""Cosine similarity along ``dim``, as ``torch.nn.functional.cosine_similarity``.

    .. math:: \mathrm{similarity} = \sum_d \frac{x_{1,d}}{\max(\Vert x_1\Vert_2, \epsilon)}
        \cdot \frac{x_{2,d}}{\max(\Vert x_2\Vert_2, \epsilon)}

    Each norm is clamped separately (ATen normalises each input first, which keeps the result in
    [-1, 1]); the clamp is applied without gradient, i.e. the gradient flows through it as if the
    norm were not clamped, and the norm's own gradient is 0 at a zero vector -- both as in torch.

    Args:
        x1, x2: broadcastable arrays; ``dim`` indexes their broadcast shape. An integer input is
            promoted with the other (two integer inputs raise, as in torch).
        dim: the dimension reduced (and removed). Default: 1.
        eps: lower bound of each norm, ``>= 0``. Default: 1e-8.

    Shape: ``x1`` (*1, D, *2), ``x2`` broadcastable to it; output (*1, *2).
    """
    fn = "cosine_similarity"
    (a, b), out = _real_arrays(fn, (("x1", x1), ("x2", x2)), int_result=None)
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{fn}: dim must be an int, got {type(dim).__name__}")
    eps = _real(fn, "eps", eps)
    if not eps >= 0:
        raise ValueError(f"{fn}: eps must be non-negative, got {eps}")
    shape = C.broadcastable(fn, "x1", a.shape, "x2", b.shape)
    nd = max(len(shape), 1)
    if not -nd <= dim < nd:
        raise ValueError(
            f"{fn}: dim must be in [{-nd}, {nd - 1}] for inputs broadcasting to {shape}, got {dim}"
        )
    return _cosine_similarity(a, b, dim=int(dim) % nd, eps=eps, out_dtype=out)


# ---------------------------------------------------------------------------------------------
# cosine_embedding_loss
# ---------------------------------------------------------------------------------------------


@partial(jax.jit, static_argnames=("margin", "reduction", "out_dtype"))
def _cosine_embedding(x1, x2, y, *, margin, reduction, out_dtype):
    a, b = _broadcast(_up(x1), _up(x2))
    prod = jnp.sum(a * b, axis=-1)
    m1 = jnp.sum(a * a, axis=-1) + _COS_EMBED_EPS
    m2 = jnp.sum(b * b, axis=-1) + _COS_EMBED_EPS
    cos = prod / jnp.sqrt(m1 * m2)
    cos, y = _broadcast(cos, y)
    zero = jnp.zeros((), cos.dtype)
    loss = jnp.where(y == 1, 1 - cos, zero) + jnp.where(
        y == -1, _clamp_min(cos - margin, 0.0), zero
    )
    return R.reduce(loss, reduction).astype(out_dtype)


def cosine_embedding_loss(
    input1: ArrayLike,
    input2: ArrayLike,
    target: ArrayLike,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Cosine embedding loss, as ``torch.nn.functional.cosine_embedding_loss``.

    .. math::
        \cos_n = \frac{x_{1,n} \cdot x_{2,n}}
                      {\sqrt{(\Vert x_{1,n}\Vert^2 + 10^{-12})(\Vert x_{2,n}\Vert^2 + 10^{-12})}},
        \qquad
        \ell_n = \begin{cases} 1 - \cos_n & y_n = 1 \\ \max(0, \cos_n - \text{margin}) & y_n = -1
                 \\ 0 & \text{otherwise} \end{cases}

    ``'mean'`` is :math:`\sum_n \ell_n / N` (NaN for an empty batch), ``'sum'`` the sum.
    A zero vector gives :math:`\cos = 0` and torch's finite gradient.

    Args:
        input1, input2: (N, D) with a (N) target, or (D) with a 0-d target; broadcastable.
        target: 1 or -1 (any dtype; other values contribute 0, as in torch).
        margin: in [-1, 1], 0 to 0.5 suggested. Default: 0.
        size_average, reduce: deprecated, mapped to ``reduction`` as torch maps them.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape: ``input1`` (N, D) or (D), ``input2`` same, ``target`` (N) or (); output scalar, or
    (N) / () for ``'none'``.
    """
    fn = "cosine_embedding_loss"
    reduction = R.resolve(fn, size_average, reduce, reduction)
    (a, b), out = _real_arrays(fn, (("input1", input1), ("input2", input2)), int_result=_INT_RESULT)
    y = C.any_array(fn, "target", target)
    margin = _real(fn, "margin", margin)
    if y.ndim not in (0, 1):
        raise ValueError(
            f"{fn}: target must be 0-D or 1-D (multi-target not supported), got shape {tuple(y.shape)}"
        )
    want = 2 if y.ndim == 1 else 1
    if a.ndim != want or b.ndim != want:
        raise ValueError(
            f"{fn}: a {y.ndim}-D target expects {want}-D input1 and input2, got shapes "
            f"{tuple(a.shape)} and {tuple(b.shape)}"
        )
    shape = C.broadcastable(fn, "input1", a.shape, "input2", b.shape)
    C.broadcastable(fn, "the cosine of input1 and input2", shape[:-1], "target", y.shape)
    return _cosine_embedding(a, b, y, margin=margin, reduction=reduction, out_dtype=out)


# ---------------------------------------------------------------------------------------------
# triplet losses
# ---------------------------------------------------------------------------------------------


def _triplet_tail(d_pos, d_neg, d_swap, margin: float, reduction: str):
    if d_swap is not None:
        d_neg = jnp.minimum(*_broadcast(d_neg, d_swap))
    d_pos, d_neg = _broadcast(_up(d_pos), _up(d_neg))
    return R.reduce(_clamp_min(margin + d_pos - d_neg, 0.0), reduction)


@partial(jax.jit, static_argnames=("margin", "p", "eps", "swap", "reduction", "out_dtype"))
def _triplet_margin(a, pos, neg, *, margin, p, eps, swap, reduction, out_dtype):
    d_pos = _pairwise(a, pos, p, eps, False)
    d_neg = _pairwise(a, neg, p, eps, False)
    d_swap = _pairwise(pos, neg, p, eps, False) if swap else None
    return _triplet_tail(d_pos, d_neg, d_swap, margin, reduction).astype(out_dtype)


def _same_ndim(fn: str, a: jax.Array, p: jax.Array, n: jax.Array) -> None:
    if not a.ndim == p.ndim == n.ndim:
        raise ValueError(
            f"{fn}: anchor, positive and negative must have the same number of dimensions, got "
            f"anchor {a.ndim}D, positive {p.ndim}D and negative {n.ndim}D"
        )


def triplet_margin_loss(
    anchor: ArrayLike,
    positive: ArrayLike,
    negative: ArrayLike,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""Triplet margin loss, as ``torch.nn.functional.triplet_margin_loss``.

    .. math:: \ell_n = \max(0,\ \text{margin} + d(a_n, p_n) - d(a_n, n_n)),
        \qquad d(x, y) = \Vert x - y + \epsilon e \Vert_p

    (:func:`pairwise_distance` over the last dimension). With ``swap``, :math:`d(a_n, n_n)` is
    replaced by :math:`\min(d(a_n, n_n), d(p_n, n_n))` (Balntas et al., 2016).
    ``'mean'`` is :math:`\sum_n \ell_n / N`, ``'sum'`` the sum.

    Args:
        anchor, positive, negative: arrays of the same number of dimensions, broadcastable.
        margin: must be > 0 (ValueError otherwise, as torch). Default: 1.
        p: the norm degree of the distance. Default: 2.
        eps: added to the differences. Default: 1e-6.
        swap: use the distance swap. Default: False.
        size_average, reduce: deprecated, mapped to ``reduction`` as torch maps them.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape: each input (N, D) or (D); output scalar, or (N) / () for ``'none'``.
    """
    fn = "triplet_margin_loss"
    reduction = R.resolve(fn, size_average, reduce, reduction)
    margin = _margin_positive(fn, margin)
    (a, pos, neg), out = _real_arrays(
        fn,
        (("anchor", anchor), ("positive", positive), ("negative", negative)),
        int_result=_INT_RESULT,
        bool_ok=False,
    )
    _same_ndim(fn, a, pos, neg)
    p = _real(fn, "p", p)
    eps = _real(fn, "eps", eps)
    swap = _flag(fn, "swap", swap)
    s_pos = C.broadcastable(fn, "anchor", a.shape, "positive", pos.shape)
    s_neg = C.broadcastable(fn, "anchor", a.shape, "negative", neg.shape)
    if swap:
        C.broadcastable(fn, "positive", pos.shape, "negative", neg.shape)
    C.broadcastable(fn, "d(anchor, positive)", s_pos[:-1], "d(anchor, negative)", s_neg[:-1])
    for s in (s_pos, s_neg):
        _check_norm_dim(fn, s, p)
    return _triplet_margin(
        a, pos, neg, margin=margin, p=p, eps=eps, swap=swap, reduction=reduction, out_dtype=out
    )


@partial(jax.jit, static_argnames=("margin", "reduction", "out_dtype"))
def _triplet_from_distances(d_pos, d_neg, d_swap, *, margin, reduction, out_dtype):
    return _triplet_tail(d_pos, d_neg, d_swap, margin, reduction).astype(out_dtype)


def triplet_margin_with_distance_loss(
    anchor: ArrayLike,
    positive: ArrayLike,
    negative: ArrayLike,
    *,
    distance_function: Callable[[jax.Array, jax.Array], ArrayLike] | None = None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
) -> jax.Array:
    r"""Triplet margin loss with any distance, as ``torch.nn.functional.triplet_margin_with_distance_loss``.

    .. math:: \ell_n = \max(0,\ \text{margin} + d(a_n, p_n) - d(a_n, n_n))

    with :math:`d` = ``distance_function`` (default :func:`pairwise_distance`); with ``swap``,
    :math:`d(a_n, n_n)` becomes :math:`\min(d(a_n, n_n), d(p_n, n_n))`. ``'mean'`` is
    :math:`\sum_n \ell_n / N`, ``'sum'`` the sum.

    Args:
        anchor, positive, negative: arrays of the same number of dimensions, passed (as JAX
            arrays) to ``distance_function``.
        distance_function: ``(x1, x2) -> distances``, a JAX-traceable callable returning a
            non-negative real array; its outputs broadcast together. Default: ``pairwise_distance``.
        margin: must be > 0 (ValueError otherwise, as torch). Default: 1.
        swap: use the distance swap. Default: False.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'`` (no legacy arguments, as torch).

    Shape: each input (N, *) or (*); output scalar, or the distances' shape for ``'none'``.
    """
    fn = "triplet_margin_with_distance_loss"
    C.option_in(fn, "reduction", reduction, ("none", "mean", "sum"))
    margin = _margin_positive(fn, margin)
    a = C.any_array(fn, "anchor", anchor)
    pos = C.any_array(fn, "positive", positive)
    neg = C.any_array(fn, "negative", negative)
    _same_ndim(fn, a, pos, neg)
    swap = _flag(fn, "swap", swap)
    if distance_function is None:
        distance_function = pairwise_distance
    elif not callable(distance_function):
        raise TypeError(
            f"{fn}: distance_function must be a callable or None, got {type(distance_function).__name__}"
        )
    pairs = [("anchor", a, "positive", pos), ("anchor", a, "negative", neg)]
    if swap:
        pairs.append(("positive", pos, "negative", neg))
    named = tuple((f"distance_function({u}, {v})", distance_function(x, y)) for u, x, v, y in pairs)
    dists, out = _real_arrays(fn, named, int_result=_INT_RESULT)
    shape = C.broadcastable(fn, named[0][0], dists[0].shape, named[1][0], dists[1].shape)
    if swap:
        C.broadcastable(fn, "the distances", shape, named[2][0], dists[2].shape)
    d_swap = dists[2] if swap else None
    return _triplet_from_distances(
        dists[0], dists[1], d_swap, margin=margin, reduction=reduction, out_dtype=out
    )
