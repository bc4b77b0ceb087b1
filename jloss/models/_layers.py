"""The building blocks of the tutorial nets: torch-initialised ``Conv`` / ``Linear``, the 2x2 max pool.

Layouts are Flax's: activations NHWC, a convolution ``kernel`` HWIO (torch's ``weight`` is OIHW),
a ``Linear`` ``kernel`` ``(in, out)`` (torch's ``weight`` is ``(out, in)``). :mod:`jloss.interop`
converts between the two when weights are imported or exported.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx
from jax import lax

_NHWC = ("NHWC", "HWIO", "NHWC")


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


def _conv(x: jax.Array, k: jax.Array, padding: Any) -> jax.Array:
    return lax.conv_general_dilated(x, k, (1, 1), padding, dimension_numbers=_NHWC)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def conv_nhwc(x: jax.Array, k: jax.Array, padding: Any) -> jax.Array:
    """A stride-1 NHWC / HWIO convolution, the numbers of ``lax.conv_general_dilated``, faster on CPU.

    3 input channels are zero-padded to 4 in the forward pass (XLA's CPU convolution is ~3x faster
    with 4 channels than with 3; the extra terms are exact zeros, the sums are the same). The
    gradient is that of the unpadded convolution.

    (Summing the kernel gradient over batch chunks inside a ``lax.scan`` was tried and measured:
    XLA then compiles the chunk's convolution without its fast path, 2-30x slower per step.)
    """
    ci = x.shape[-1]
    if ci == 3:
        x = jnp.pad(x, ((0, 0), (0, 0), (0, 0), (0, 1)))
        k = jnp.pad(k, ((0, 0), (0, 0), (0, 1), (0, 0)))
    return _conv(x, k, padding)


def _conv_fwd(x: jax.Array, k: jax.Array, padding: Any) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    return conv_nhwc(x, k, padding), (x, k)


def _conv_bwd(padding: Any, res: tuple[jax.Array, jax.Array], g: jax.Array) -> tuple[jax.Array, jax.Array]:
    x, k = res
    dx = jax.vjp(lambda x: _conv(x, k, padding), x)[1](g)[0]  # dropped by XLA for the first layer
    dk = jax.vjp(lambda k: _conv(x, k, padding), k)[1](g)[0]
    return dx, dk


conv_nhwc.defvjp(_conv_fwd, _conv_bwd)


def _conv_general_dilated(lhs: jax.Array, rhs: jax.Array, window_strides: Sequence[int], padding: Any,
                          lhs_dilation: Any = None, rhs_dilation: Any = None, dimension_numbers: Any = None,
                          feature_group_count: int = 1, precision: Any = None, **kwargs: Any) -> jax.Array:
    """``nnx.Conv``'s convolution hook: :func:`conv_nhwc` for the nets' stride-1, undilated, ungrouped
    2-d convolutions, ``lax.conv_general_dilated`` for anything else."""
    plain = (tuple(window_strides) == (1, 1) and all(d is None or tuple(d) == (1, 1) for d in (lhs_dilation, rhs_dilation))
             and feature_group_count == 1 and precision is None and not kwargs.get("preferred_element_type")
             and kwargs.get("out_sharding") is None and dimension_numbers is not None
             and tuple(lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers))
             == tuple(lax.conv_dimension_numbers(lhs.shape, rhs.shape, _NHWC)))
    if not plain:
        return lax.conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                                        dimension_numbers, feature_group_count, precision=precision, **kwargs)
    pad = padding if isinstance(padding, str) else tuple((int(a), int(b)) for a, b in padding)
    return conv_nhwc(lhs, rhs, pad)


def conv2d(in_channels: int, out_channels: int, kernel_size: int, padding: int = 0, *, rngs: nnx.Rngs,
           dtype: Any = None, param_dtype: Any = jnp.float32) -> nnx.Conv:
    """``torch.nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding)`` as an ``nnx.Conv``
    (stride 1, zero padding on both sides, torch's initialisation; kernel ``(k, k, in, out)``)."""
    init = torch_uniform(in_channels * kernel_size * kernel_size)
    pad = "VALID" if padding == 0 else ((padding, padding), (padding, padding))
    return nnx.Conv(in_channels, out_channels, (kernel_size, kernel_size), padding=pad, dtype=dtype,
                    param_dtype=param_dtype, kernel_init=init, bias_init=init, rngs=rngs,
                    conv_general_dilated=_conv_general_dilated)


def linear(in_features: int, out_features: int, *, rngs: nnx.Rngs, dtype: Any = None,
           param_dtype: Any = jnp.float32) -> nnx.Linear:
    """``torch.nn.Linear(in_features, out_features)`` as an ``nnx.Linear`` (torch's initialisation;
    kernel ``(in, out)``, i.e. torch's ``weight.T``)."""
    init = torch_uniform(in_features)
    return nnx.Linear(in_features, out_features, dtype=dtype, param_dtype=param_dtype,
                      kernel_init=init, bias_init=init, rngs=rngs)


def _pool(x: jax.Array) -> jax.Array:
    n, h, w, c = x.shape
    return jnp.max(x.reshape(n, h // 2, 2, w // 2, 2, c), axis=(2, 4))


@jax.custom_vjp
def _pool_even(x: jax.Array) -> jax.Array:
    return _pool(x)


def _pool_fwd(x: jax.Array) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    m = _pool(x)
    return m, (x, m)


def _pool_bwd(res: tuple[jax.Array, jax.Array], g: jax.Array) -> tuple[jax.Array]:
    x, m = res
    n, h, w, c = x.shape
    xr = x.reshape(n, h // 2, 2, w // 2, 2, c)
    win = [xr[:, :, i, :, j] for i in (0, 1) for j in (0, 1)]  # torch's scan order in a window
    # torch's CPU kernel keeps the first maximum, or the last NaN when the window has one
    nan = [v != v for v in win]
    eq = [v == m for v in win]
    any_nan = nan[0] | nan[1] | nan[2] | nan[3]
    taken = jnp.zeros_like(any_nan)
    pick = [None] * 4
    for t in (3, 2, 1, 0):  # last NaN
        pick[t] = nan[t] & ~taken
        taken = taken | nan[t]
    taken = any_nan
    for t in (0, 1, 2, 3):  # first maximum
        first = eq[t] & ~taken
        pick[t] = pick[t] | first
        taken = taken | eq[t]
    zero = jnp.zeros_like(g)
    gw = [jnp.where(p, g, zero) for p in pick]
    dx = jnp.stack([jnp.stack(gw[:2], axis=3), jnp.stack(gw[2:], axis=3)], axis=2)  # (n, h/2, 2, w/2, 2, c)
    return (dx.reshape(n, h, w, c),)


_pool_even.defvjp(_pool_fwd, _pool_bwd)


def max_pool_2x2(x: jax.Array) -> jax.Array:
    """``torch.nn.functional.max_pool2d(x, 2)`` on an NHWC batch: 2x2 windows, stride 2.

    A reshape to ``(N, H/2, 2, W/2, 2, C)`` and a max over the two window axes (faster on CPU than
    ``lax.reduce_window``). Like torch's default ``ceil_mode=False``, an odd last row / column is
    dropped (and gets a zero gradient).

    The gradient is torch's, ties included: each window's gradient goes to its first maximum in
    row-major order (to its last NaN when it holds one), as torch's CPU kernel does, in one fused
    pass (JAX's own ``max`` gradient would split it between tied entries, in several passes).
    """
    n, h, w, c = x.shape
    if h % 2 or w % 2:
        x = x[:, : h - h % 2, : w - w % 2, :]
    return _pool_even(x)


def flatten(x: jax.Array) -> jax.Array:
    """``torch.nn.Flatten()``: ``(N, ...)`` to ``(N, -1)``. On NHWC activations the order is
    ``(H, W, C)``, torch's is ``(C, H, W)``: :mod:`jloss.interop` permutes the rows of the next
    ``Linear`` when it converts weights, so the forward pass needs no transpose."""
    return x.reshape(x.shape[0], -1)
