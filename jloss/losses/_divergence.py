"""Divergence losses: kl_div."""

from __future__ import annotations

import warnings
from functools import partial

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from .. import _checks as C
from . import _reduction as R
from ._common import pointwise_pair

_MEAN_WARNING = (
    "kl_div: reduction: 'mean' divides the total loss by both the batch size and the support size. "
    "'batchmean' divides only by the batch size, and aligns with the KL div math definition. "
    "'mean' will be changed to behave the same as 'batchmean' in the next major release."
)


@jax.custom_jvp
def _xlogx(y: jax.Array) -> jax.Array:
    """``xlogy(y, y)`` (0 at ``y = 0``, NaN below 0) without a select, so XLA fuses it into the sum.

    ``y log(max(y, tiny))`` is ``y log y`` for every ``y >= tiny`` and 0 at 0; ``sqrt(min(y, 0))``
    adds 0, or NaN for a negative (or NaN) ``y``. The derivative is ``jax.scipy.special.xlogy``'s,
    ``log y + y / y`` (NaN at 0, as torch's).
    """
    tiny = jnp.finfo(y.dtype).tiny
    return y * jnp.log(jnp.maximum(y, tiny)) + 0 * jnp.sqrt(jnp.minimum(y, 0))


@_xlogx.defjvp
def _xlogx_jvp(primals, tangents):
    (y,), (dy,) = primals, tangents
    log_y = jnp.where(y == 0, jnp.zeros((), y.dtype), jnp.log(y))
    return _xlogx(y), dy * (log_y + y / y)


@partial(jax.jit, static_argnames=("reduction", "log_target", "batch_size"))
def _kl_div(x, y, *, reduction: str, log_target: bool, batch_size: int | None):
    # torch: exp(t) * (t - x) with log_target, else xlogy(t, t) - t * x (t = 0 contributes 0;
    # the gradient w.r.t. t there is NaN in torch and here: d/dt t log t is unbounded at 0).
    loss = jnp.exp(y) * (y - x) if log_target else _xlogx(y) - y * x
    if reduction == "batchmean":
        # an empty batch divides by 0 (NaN), as torch; a 0-d input is not divided
        return R.reduce(loss, "batchmean", batch_size=1 if batch_size is None else batch_size)
    out = R.reduce(loss, reduction)
    # torch divides by input.size(0) whenever reduction='batchmean' was passed, even when legacy
    # size_average / reduce arguments overrode it (then after their mean / sum / none).
    return out if batch_size is None else out / batch_size


def kl_div(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> jax.Array:
    r"""Kullback-Leibler divergence loss, as ``torch.nn.functional.kl_div``.

    ``input`` holds log-probabilities :math:`x = \log q`; ``target`` holds probabilities :math:`y = p`
    (or :math:`\log p` with ``log_target=True``):

    .. math::
        \ell_i = \begin{cases} y_i \log y_i - y_i x_i, & \text{log\_target = False
                 (} 0 \log 0 = 0\text{)} \\ e^{y_i}\,(y_i - x_i), & \text{log\_target = True} \end{cases}

    Reductions: ``'sum'`` is :math:`\sum_i \ell_i`; ``'batchmean'`` is :math:`\sum_i \ell_i` divided
    by ``input.shape[0]`` (the KL divergence per sample; no division for a 0-d input; for a 1-D
    input that is the number of classes); ``'mean'`` divides by the number of elements, which is
    not the KL divergence -- it warns (``UserWarning``), as torch does. As in torch, the gradient
    w.r.t. ``target`` is NaN where ``target == 0`` and ``log_target=False``.

    Args:
        input: log-probabilities, any shape.
        target: probabilities (log-probabilities with ``log_target``), broadcastable to ``input``.
        size_average, reduce: deprecated, mapped to a reduction as torch maps them; if
            ``reduction='batchmean'`` is passed too, torch still divides their result by
            ``input.shape[0]``, and so does jloss.
        reduction: ``'none'`` | ``'batchmean'`` | ``'sum'`` | ``'mean'``. Default ``'mean'``.
        log_target: whether ``target`` is given in log space. Default ``False``.

    Shape: ``input`` (*), ``target`` (*); output scalar, or (*) for ``'none'``.
    """
    fn = "kl_div"
    legacy = size_average is not None or reduce is not None
    effective = R.resolve(fn, size_average, reduce, reduction, extra=("batchmean",))
    if not legacy and isinstance(reduction, str) and reduction == "mean":
        warnings.warn(_MEAN_WARNING, UserWarning, stacklevel=2)
    x0 = C.float_array(fn, "input", input)
    C.float_array(fn, "target", target)
    batch_size = None
    if isinstance(reduction, str) and reduction == "batchmean" and x0.ndim != 0:
        batch_size = int(x0.shape[0])
    x, y, out_dtype = pointwise_pair(fn, x0, target, warn=False)
    out = _kl_div(x, y, reduction=effective, log_target=bool(log_target), batch_size=batch_size)
    return out.astype(out_dtype)
