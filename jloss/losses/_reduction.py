"""The one reduction helper of jloss.

Every loss computes a per-element loss and hands it to :func:`reduce`, which knows torch's
reductions: ``'none'``, ``'mean'``, ``'sum'``, the weighted mean (sum of weighted losses over the sum
of the weights, as ``nll_loss`` / ``cross_entropy`` / ``mse_loss(weight=)`` use) and ``'batchmean'``
(``kl_div``). :func:`resolve` maps torch's legacy ``size_average`` / ``reduce`` arguments to a
reduction string exactly as ``torch.nn._reduction.legacy_get_string`` does.
"""

from __future__ import annotations

import warnings
from typing import Literal

import jax
import jax.numpy as jnp

Reduction = Literal["none", "mean", "sum"]

_VALID = ("none", "mean", "sum")


def resolve(
    fn_name: str,
    size_average: bool | None,
    reduce_: bool | None,
    reduction: str,
    *,
    extra: tuple[str, ...] = (),
) -> str:
    """Return the effective reduction string, validating it.

    When either legacy argument is given, torch ignores ``reduction`` and derives it from them
    (``size_average`` and ``reduce`` default to True); jloss does the same and emits a
    ``DeprecationWarning``. ``extra`` names reductions a loss accepts beyond none / mean / sum
    (``kl_div``'s ``'batchmean'``).
    """
    if size_average is not None or reduce_ is not None:
        sa = True if size_average is None else bool(size_average)
        rd = True if reduce_ is None else bool(reduce_)
        reduction = "mean" if (sa and rd) else ("sum" if rd else "none")
        warnings.warn(
            f"{fn_name}: size_average and reduce args are deprecated, please use "
            f"reduction='{reduction}' instead.",
            DeprecationWarning,
            stacklevel=3,
        )
    if reduction == "elementwise_mean":
        warnings.warn(
            f"{fn_name}: reduction='elementwise_mean' is deprecated, please use reduction='mean'.",
            DeprecationWarning,
            stacklevel=3,
        )
        reduction = "mean"
    valid = _VALID + tuple(extra)
    if not isinstance(reduction, str) or reduction not in valid:
        raise ValueError(
            f"{fn_name}: reduction must be one of {', '.join(repr(v) for v in valid)}, "
            f"got {reduction!r}"
        )
    return reduction


def reduce(
    loss: jax.Array,
    reduction: str,
    *,
    weight: jax.Array | None = None,
    batch_size: int | None = None,
) -> jax.Array:
    """Reduce a per-element ``loss`` as torch does.

    - ``'none'``: ``loss`` unchanged.
    - ``'sum'``: ``sum(loss)``.
    - ``'mean'`` without ``weight``: ``sum(loss) / numel`` (NaN for an empty ``loss``, as torch).
    - ``'mean'`` with ``weight`` (broadcastable to ``loss``, ``loss`` already multiplied by it):
      ``sum(loss) / sum(weight)`` — torch's weighted mean. All weights zero gives NaN, as torch.
    - ``'batchmean'``: ``sum(loss) / batch_size``.
    """
    if reduction == "none":
        return loss
    if reduction == "sum":
        return jnp.sum(loss)
    if reduction == "batchmean":
        if batch_size is None:
            raise ValueError("reduce: 'batchmean' needs batch_size")
        return jnp.sum(loss) / batch_size
    if reduction == "mean":
        if weight is None:
            # torch's mean of an empty tensor is NaN; sum/0 gives the same without a warning.
            return jnp.sum(loss) / loss.size if loss.size else jnp.sum(loss) / jnp.zeros((), loss.dtype)
        total_w = jnp.sum(jnp.broadcast_to(weight, loss.shape)).astype(loss.dtype)
        return jnp.sum(loss) / total_w
    raise ValueError(f"reduce: unknown reduction {reduction!r}")
