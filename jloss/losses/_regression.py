"""Regression losses: l1, mse, huber, smooth_l1, poisson_nll, gaussian_nll."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from . import _reduction as R
from ._common import pointwise_pair, sample_weight


@partial(jax.jit, static_argnames=("reduction", "kind"))
def _weighted_pointwise(x, y, w, *, reduction: str, kind: str):
    d = x - y
    e = jnp.abs(d) if kind == "l1" else d * d
    if w is None:
        return R.reduce(e, reduction)
    w = w.astype(e.dtype)
    return R.reduce(e * w, reduction, weight=w)


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
    x, y, out_dtype = pointwise_pair(fn, input, target)
    w = sample_weight(fn, weight, jnp.shape(input))
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
    x, y, out_dtype = pointwise_pair(fn, input, target)
    w = sample_weight(fn, weight, jnp.shape(input))
    return _weighted_pointwise(x, y, w, reduction=reduction, kind="mse").astype(out_dtype)
