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


def _explicit_pads(x: jax.Array, k: jax.Array, padding: Any) -> tuple[tuple[int, int], ...] | None:
    """``padding`` as ((top, bottom), (left, right)), or None where it is not plain zero padding."""
    if isinstance(padding, str):
        pads = lax.padtype_to_pads(x.shape[1:3], k.shape[:2], (1, 1), padding)
    else:
        pads = padding
    pads = tuple((int(a), int(b)) for a, b in pads)
    return pads if len(pads) == 2 and all(a >= 0 and b >= 0 for a, b in pads) else None


def _taps(x: jax.Array, k: jax.Array, pads: tuple[tuple[int, int], ...]) -> jax.Array:
    """A one-input-channel convolution as the sum over the kernel's taps of a shifted input slice
    times the tap's row of output-channel weights: one fused elementwise pass.

    XLA:CPU's convolution handles a 1-channel input badly (LeNet's 1 -> 6 5x5 at batch 256: ~9 ms,
    torch ~2 ms); this form takes ~1.3 ms. Same products, summed in tap order.
    """
    xp = jnp.pad(x, ((0, 0), *pads, (0, 0)))
    kh, kw = k.shape[:2]
    ho, wo = xp.shape[1] - kh + 1, xp.shape[2] - kw + 1
    out = None
    for i in range(kh):
        for j in range(kw):
            term = xp[:, i:i + ho, j:j + wo, :] * k[i, j, 0][None, None, None, :]
            out = term if out is None else out + term
    return out


def _materialized(fn: Any, *args: jax.Array) -> jax.Array:
    """``fn(*args)`` computed into a buffer of its own.

    XLA fuses an elementwise producer into each of its consumers and recomputes it there: the
    25-tap sum of :func:`_taps` inside the max pool's window reduction, the ReLU and the pool's
    gradient took ~14 ms a LeNet step at batch 256 instead of ~1 ms. A conditional is a fusion
    boundary XLA keeps; both branches are ``fn``, the predicate only has to be a runtime value
    (``lax.optimization_barrier`` is removed before fusion on CPU and does not help). Under a
    ``vmap`` that batches the predicate's operand the cond becomes a select of both (equal)
    branches: the same numbers, computed twice.
    """
    probe = args[-1].reshape(-1)[0]
    return lax.cond(probe == probe, fn, fn, *args)


def _own_form_pads(x: jax.Array, k: jax.Array, padding: Any, max_channels: int) -> tuple[tuple[int, int], ...] | None:
    """The explicit pads when jloss's own forms (:func:`_taps`, :func:`_dx_rows`) apply, else None:
    float32 / float64 input and kernel of one dtype, at most ``max_channels`` input channels, plain
    zero padding, and a non-empty input, kernel and output."""
    if not (x.shape[-1] <= max_channels and x.dtype in (jnp.float32, jnp.float64) and k.dtype == x.dtype
            and x.size and k.size):
        return None
    pads = _explicit_pads(x, k, padding)
    if pads is None or any(x.shape[d + 1] + sum(pads[d]) < k.shape[d] for d in (0, 1)):
        return None
    return pads


def _fwd(x: jax.Array, k: jax.Array, padding: Any) -> jax.Array:
    pads = _own_form_pads(x, k, padding, max_channels=1)
    if pads is not None:
        return _materialized(functools.partial(_taps, pads=pads), x, k)
    return _conv(x, k, padding)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def conv_nhwc(x: jax.Array, k: jax.Array, padding: Any) -> jax.Array:
    """A stride-1 NHWC / HWIO convolution, the numbers of ``lax.conv_general_dilated`` (up to float
    summation order), faster on CPU.

    A 1-channel float input (LeNet's first layer) is convolved tap by tap in one fused elementwise
    pass (:func:`_taps`), anything else by ``lax.conv_general_dilated``. The kernel gradient is
    ``lax.conv_general_dilated``'s; the input gradient too, except for inputs of fewer than 8
    channels, where it is one matmul per kernel row (:func:`_dx_rows`, 2x faster for LeNet's
    ``conv2``; measured 2.5x slower at 32 channels, hence the bound).

    Measured and not used: zero-padding 3 input channels to 4 (faster under XLA:CPU's default YNN
    convolutions, ~10% slower under the Eigen ones that :func:`jloss.compiler_options` selects);
    summing the kernel gradient over batch chunks inside a ``lax.scan`` (XLA then compiles the
    chunk's convolution without its fast path, 2-30x slower per step).
    """
    return _fwd(x, k, padding)


def _conv_fwd(x: jax.Array, k: jax.Array, padding: Any) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    return _fwd(x, k, padding), (x, k)


def _dx_rows(k: jax.Array, g: jax.Array, pads: tuple[tuple[int, int], ...], h: int, w: int) -> jax.Array:
    """The input gradient of a stride-1 convolution with few input channels, as one matmul per
    kernel row.

    XLA:CPU's transposed convolution is slow when it produces few channels (LeNet's 6-channel
    ``conv2`` input: ~8 ms at batch 256, torch ~2 ms). Here the output gradient, shifted once per
    kernel column, is laid side by side (``(N, Ho, W, kw * Co)``) and multiplied by each kernel row
    (``(kw * Co, Ci)``); the ``kh`` products, shifted by their row, sum to the gradient (~4.5 ms).
    """
    (ph0, _), (pw0, _) = pads
    kh, kw, ci, co = k.shape
    ho, wo = g.shape[1:3]
    zero = jnp.zeros((), g.dtype)
    cols = jnp.concatenate([lax.pad(g, zero, ((0, 0, 0), (0, 0, 0), (j - pw0, w - wo - j + pw0, 0), (0, 0, 0)))
                            for j in range(kw)], axis=-1)
    rows = jnp.einsum("nhwq,iqc->nhwic", cols, k.transpose(0, 1, 3, 2).reshape(kh, kw * co, ci))
    dx = None
    for i in range(kh):
        term = lax.pad(rows[:, :, :, i, :], zero, ((0, 0, 0), (i - ph0, h - ho - i + ph0, 0), (0, 0, 0), (0, 0, 0)))
        dx = term if dx is None else dx + term
    return dx


def _conv_bwd(padding: Any, res: tuple[jax.Array, jax.Array], g: jax.Array) -> tuple[jax.Array, jax.Array]:
    x, k = res
    pads = _own_form_pads(x, k, padding, max_channels=7) if g.dtype == x.dtype else None
    if pads is not None:
        # (a first layer's input gradient is unused: XLA drops the whole conditional)
        dx = _materialized(functools.partial(_dx_rows, pads=pads, h=x.shape[1], w=x.shape[2]), k, g)
    else:
        dx = jax.vjp(lambda x: _conv(x, k, padding), x)[1](g)[0]
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


def _pool_grad(x: jax.Array, m: jax.Array, g: jax.Array) -> jax.Array:
    n, h, w, c = x.shape
    xr = x.reshape(n, h // 2, 2, w // 2, 2, c)
    win = [xr[:, :, i, :, j] for i in (0, 1) for j in (0, 1)]  # torch's scan order in a window
    # torch's CPU kernel keeps the first maximum, or the last NaN when the window has one (a window
    # with a NaN has a NaN maximum, equal to none of its entries)
    pick = jnp.full(m.shape, 3, jnp.int8)
    for t in (2, 1, 0):
        pick = jnp.where(win[t] == m, jnp.int8(t), pick)
    for t in (0, 1, 2, 3):
        pick = jnp.where(win[t] != win[t], jnp.int8(t), pick)
    # one pass writes the (N, H, W, C) gradient: each entry is g where it is its window's pick
    pos = (2 * lax.broadcasted_iota(jnp.int8, (1, 1, 2, 1, 2, 1), 2)
           + lax.broadcasted_iota(jnp.int8, (1, 1, 2, 1, 2, 1), 4))
    taken = pick[:, :, None, :, None, :] == pos
    dx = jnp.where(taken, g[:, :, None, :, None, :], jnp.zeros((), g.dtype))
    return dx.reshape(n, h, w, c)


def _pool_bwd(res: tuple[jax.Array, jax.Array], g: jax.Array) -> tuple[jax.Array]:
    # in a buffer of its own: its consumers (the kernel gradient's transpose, the bias gradient's
    # sum, the layer below) would each recompute it
    return (_materialized(_pool_grad, *res, g),)


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
