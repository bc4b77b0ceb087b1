"""Small helpers shared by the loss families (input preparation, elementwise-loss plumbing)."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp

from .. import _checks as C


def pointwise_pair(fn: str, input, target, *, warn: bool = True) -> tuple[jax.Array, jax.Array, object]:
    """Validate an (input, target) pair of a pointwise loss and broadcast them like torch.

    Returns the two arrays in the compute dtype and the dtype of the result. A target whose shape
    differs from the input's but broadcasts triggers torch's UserWarning (``warn=False`` for the
    losses where torch broadcasts silently: poisson_nll, gaussian_nll, kl_div); one that does not
    broadcast is a ValueError.
    """
    x = C.float_array(fn, "input", input)
    y = C.any_array(fn, "target", target)
    if tuple(x.shape) != tuple(y.shape):
        shape = C.broadcastable(fn, "input", x.shape, "target", y.shape)
        if warn:
            warnings.warn(
                f"{fn}: using a target size {tuple(y.shape)} that is different to the input size "
                f"{tuple(x.shape)}. This will likely lead to incorrect results due to broadcasting. "
                "Please ensure they have the same size.",
                UserWarning,
                stacklevel=3,
            )
        x, y = jnp.broadcast_to(x, shape), jnp.broadcast_to(y, shape)
    out_dtype = jnp.result_type(x.dtype, y.dtype) if jnp.issubdtype(y.dtype, jnp.floating) else x.dtype
    cdt = C.compute_dtype(x, y) if jnp.issubdtype(y.dtype, jnp.floating) else C.compute_dtype(x)
    return x.astype(cdt), y.astype(cdt), out_dtype


def sample_weight(fn: str, weight, input_shape) -> jax.Array | None:
    """torch's ``weight=`` of l1/mse/huber: same size as the input, else ValueError."""
    if weight is None:
        return None
    w = C.float_array(fn, "weight", weight)
    if tuple(w.shape) != tuple(input_shape):
        raise ValueError(
            f"{fn}: weight must have the same shape as input {tuple(input_shape)}, got {tuple(w.shape)}"
        )
    return w
