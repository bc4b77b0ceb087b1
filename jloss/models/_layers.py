"""The building blocks of the tutorial nets: torch-initialised ``Conv`` / ``Linear``, the 2x2 max pool.

Layouts are Flax's: activations NHWC, a convolution ``kernel`` HWIO (torch's ``weight`` is OIHW),
a ``Linear`` ``kernel`` ``(in, out)`` (torch's ``weight`` is ``(out, in)``). :mod:`jloss.interop`
converts between the two when weights are imported or exported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx


def torch_uniform(fan_in: int) -> Any:
    """torch's default initialiser for ``Conv2d`` / ``Linear``: ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``.

    ``kaiming_uniform_(weight, a=sqrt(5))`` has bound ``gain * sqrt(3 / fan_in)`` with
    ``gain = sqrt(2 / (1 + 5))``, i.e. ``1/sqrt(fan_in)``, the same bound torch uses for the bias.
    The distribution is torch's; the numbers come from JAX's PRNG.
    """
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0

    def init(key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
        return jax.random.uniform(key, tuple(shape), dtype, -bound, bound)

    return init


def conv2d(in_channels: int, out_channels: int, kernel_size: int, padding: int = 0, *, rngs: nnx.Rngs,
           dtype: Any = None, param_dtype: Any = jnp.float32) -> nnx.Conv:
    """``torch.nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding)`` as an ``nnx.Conv``
    (stride 1, zero padding on both sides, torch's initialisation; kernel ``(k, k, in, out)``)."""
    init = torch_uniform(in_channels * kernel_size * kernel_size)
    pad = "VALID" if padding == 0 else ((padding, padding), (padding, padding))
    return nnx.Conv(in_channels, out_channels, (kernel_size, kernel_size), padding=pad, dtype=dtype,
                    param_dtype=param_dtype, kernel_init=init, bias_init=init, rngs=rngs)


def linear(in_features: int, out_features: int, *, rngs: nnx.Rngs, dtype: Any = None,
           param_dtype: Any = jnp.float32) -> nnx.Linear:
    """``torch.nn.Linear(in_features, out_features)`` as an ``nnx.Linear`` (torch's initialisation;
    kernel ``(in, out)``, i.e. torch's ``weight.T``)."""
    init = torch_uniform(in_features)
    return nnx.Linear(in_features, out_features, dtype=dtype, param_dtype=param_dtype,
                      kernel_init=init, bias_init=init, rngs=rngs)


def max_pool_2x2(x: jax.Array) -> jax.Array:
    """``torch.nn.functional.max_pool2d(x, 2)`` on an NHWC batch: 2x2 windows, stride 2.

    A reshape to ``(N, H/2, 2, W/2, 2, C)`` and a max over the two window axes (faster on CPU than
    ``lax.reduce_window``). Like torch's default ``ceil_mode=False``, an odd last row / column is
    dropped.

    .. note::
        Gradient at ties: when several entries of a window share the maximum, JAX splits the
        gradient equally between them, torch sends it all to the first one (in row-major order).
        Both agree wherever the maximum is unique; in the tutorial nets the pool follows a ReLU, and
        a window whose maximum is a tied 0 gets a zero gradient through the ReLU either way.
    """
    n, h, w, c = x.shape
    if h % 2 or w % 2:
        x = x[:, : h - h % 2, : w - w % 2, :]
    return jnp.max(x.reshape(n, h // 2, 2, w // 2, 2, c), axis=(2, 4))


def flatten(x: jax.Array) -> jax.Array:
    """``torch.nn.Flatten()``: ``(N, ...)`` to ``(N, -1)``. On NHWC activations the order is
    ``(H, W, C)``, torch's is ``(C, H, W)``: :mod:`jloss.interop` permutes the rows of the next
    ``Linear`` when it converts weights, so the forward pass needs no transpose."""
    return x.reshape(x.shape[0], -1)
