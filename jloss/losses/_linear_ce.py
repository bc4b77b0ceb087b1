r"""``linear_cross_entropy``: a Linear layer fused with cross entropy, computed in chunks of rows.

``torch.nn.functional.linear_cross_entropy`` (torch 2.13) is ``cross_entropy(linear(input, W, b),
target, ...)``. jloss computes it chunk by chunk over the batch rows: a ``lax.map`` over row
chunks whose body (under ``jax.checkpoint``) forms that chunk's logits and hands them to
cross entropy's per-position core (:func:`jloss.losses._classification.log_softmax_terms`). The
full (N, C) logits exist neither in the forward nor in the backward, which recomputes each chunk's
logits; the reduction (ignore_index, class weights, label smoothing, weighted mean) is the one
``cross_entropy`` uses.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax
from jax.typing import ArrayLike

from .. import _checks as C
from . import _reduction as R
from ._classification import (
    _check_classes,
    _class_bcast,
    _class_weight,
    _index_target,
    _int_option,
    _safe_index,
    _smoothing,
    finish_index,
    log_softmax_terms,
    smooth_target,
)

_ACC_POLICIES = ("auto", "accurate", "balanced", "compact")


@dataclasses.dataclass(frozen=True)
class LinearCrossEntropyOptions:
    """Chunking options of :func:`linear_cross_entropy`, the fields of torch's
    ``torch.nn.LinearCrossEntropyOptions``.

    Only the chunk size matters in jloss (results are the same for every chunking, up to
    rounding): ``batch_chunk_size`` rows per chunk, or ``chunking_method``:

    - ``"aspect_ratio"``: chunks whose (rows, C) logits hold about as many elements as the
      (N, in_features) input: ``next_pow2(ceil(N / ceil(C / in_features)))`` rows, capped at N;
    - ``"aspect_ratio:k"``: the same divided by ``k``;
    - ``"auto"`` (default): ``"aspect_ratio:2"`` (torch's fallback pick), unless
      ``batch_chunk_size`` is given, which then wins;
    - ``None``: use ``batch_chunk_size`` (``None`` meaning one chunk of all rows).

    An explicit ``batch_chunk_size`` with an explicit ``chunking_method`` that gives a different
    size is a ``ValueError``, as in torch. ``acc_policy``, ``acc_dtype`` and
    ``allow_retain_graph`` are accepted and validated for compatibility but change nothing: jloss
    always accumulates bf16 / f16 in float32, and JAX has no retained graphs. For a K-dimensional
    weight (C, d1, ..., dK, in_features) the heuristic counts ``C * d1 * ... * dK`` logits per row.
    """

    allow_retain_graph: bool = False
    batch_chunk_size: int | None = None
    chunking_method: str | None = "auto"
    acc_policy: str = "auto"
    acc_dtype: Any = None

    def __post_init__(self) -> None:
        fn = "LinearCrossEntropyOptions"
        if self.acc_policy not in _ACC_POLICIES:
            raise ValueError(f"{fn}: acc_policy must be one of {_ACC_POLICIES}, got {self.acc_policy!r}")
        if self.chunking_method is not None and self.chunking_method != "auto":
            _aspect_factor(fn, self.chunking_method)
        bcs = self.batch_chunk_size
        if bcs is not None and (isinstance(bcs, bool) or not isinstance(bcs, int) or bcs <= 0):
            raise ValueError(f"{fn}: batch_chunk_size must be a positive int or None, got {bcs!r}")


def _aspect_factor(fn: str, method: object) -> int:
    name, sep, factor = str(method).partition(":")
    if not sep:
        factor = "1"
    if not (isinstance(method, str) and name == "aspect_ratio" and factor.isdigit() and int(factor) > 0):
        raise ValueError(
            f"{fn}: chunking_method must be 'auto', 'aspect_ratio', 'aspect_ratio:k' (k >= 1) or "
            f"None, got {method!r}"
        )
    return int(factor)


def _as_options(fn: str, options: object) -> LinearCrossEntropyOptions:
    """``None`` / an int chunk size / a mapping / any object with torch's fields (torch's own
    ``LinearCrossEntropyOptions`` included) as a :class:`LinearCrossEntropyOptions`."""
    if options is None:
        return LinearCrossEntropyOptions()
    if isinstance(options, LinearCrossEntropyOptions):
        return options
    fields = [f.name for f in dataclasses.fields(LinearCrossEntropyOptions)]
    if isinstance(options, int) and not isinstance(options, bool):
        kw: dict[str, Any] = {"batch_chunk_size": options}
    elif isinstance(options, Mapping):
        unknown = set(options) - set(fields)
        if unknown:
            raise ValueError(f"{fn}: options has unknown keys {sorted(unknown)}; known: {fields}")
        kw = dict(options)
    elif hasattr(options, "batch_chunk_size") and hasattr(options, "chunking_method"):
        kw = {f: getattr(options, f) for f in fields if hasattr(options, f)}
        kw["acc_dtype"] = None if kw.get("acc_dtype") is None else str(kw["acc_dtype"])
    else:
        raise TypeError(
            f"{fn}: options must be None, an int chunk size, a mapping or a "
            f"LinearCrossEntropyOptions, got {type(options).__name__}"
        )
    try:
        return LinearCrossEntropyOptions(**kw)
    except ValueError as e:
        raise ValueError(f"{fn}: invalid options: {e}") from None


def chunk_rows(options: object, num_rows: int, in_features: int, num_classes: int) -> int:
    """The rows per chunk that ``options`` asks for (torch's ``LinearCrossEntropyOptions._adjust``)."""
    fn = "linear_cross_entropy"
    opts = _as_options(fn, options)
    method = opts.chunking_method
    if method == "auto":
        method = None if opts.batch_chunk_size is not None else "aspect_ratio:2"
    size = num_rows if opts.batch_chunk_size is None else min(opts.batch_chunk_size, num_rows)
    if method is not None:
        factor = _aspect_factor(fn, method)
        inc = -(-num_classes // max(in_features, 1))
        target = -(-num_rows // max(inc, 1))
        pow2 = 1 << max(target - 1, 0).bit_length()
        computed = min(pow2 // factor, num_rows)
        if opts.batch_chunk_size is not None and opts.batch_chunk_size != computed:
            raise ValueError(
                f"{fn}: options.batch_chunk_size (={opts.batch_chunk_size}) and chunking_method "
                f"({method!r}) give different chunk sizes ({opts.batch_chunk_size} vs {computed}); "
                "pass only one"
            )
        size = computed
    return max(1, size)


def _chunked(a: jax.Array, chunk: int) -> jax.Array:
    n = a.shape[0]
    n_chunks = -(-n // chunk)
    pad = n_chunks * chunk - n
    if pad:
        a = jnp.pad(a, [(0, pad)] + [(0, 0)] * (a.ndim - 1))
    return a.reshape((n_chunks, chunk) + a.shape[1:])


def _unchunked(a: jax.Array, n: int) -> jax.Array:
    return a.reshape((a.shape[0] * a.shape[1],) + a.shape[2:])[:n]


@partial(
    jax.jit,
    static_argnames=("chunk", "prob", "ignore_index", "reduction", "label_smoothing"),
)
def _linear_ce(h, lw, lb, y, w, *, chunk: int, prob: bool, ignore_index: int, reduction: str,
               label_smoothing: float):
    n = h.shape[0]
    n_classes, out_features, in_features = lw.shape[0], lw.shape[1:-1], lw.shape[-1]
    flat = math.prod(out_features) * n_classes
    wm = lw.reshape(flat, in_features)
    bm = None if lb is None else lb.reshape(1, flat)
    wb = None if w is None else _class_bcast(w, 2 + len(out_features))
    ls = label_smoothing
    smooth = prob or ls > 0.0

    @jax.checkpoint
    def body(hc, yc):
        logits = jnp.matmul(hc, wm.T, precision=lax.Precision.HIGHEST)
        if bm is not None:
            logits = logits + bm
        logits = logits.reshape((hc.shape[0], n_classes) + out_features)
        if prob:
            coef = smooth_target(yc, ls, n_classes)
            if wb is not None:
                coef = coef * wb
            return log_softmax_terms(True, logits, None, coef)
        coef = wb if (smooth and wb is not None) else None
        return log_softmax_terms(smooth, logits, yc, coef)

    ys = _chunked(y if prob else _safe_index(y, n_classes), chunk)
    logp_t, s = lax.map(lambda args: body(*args), (_chunked(h, chunk), ys))
    s = None if s is None else _unchunked(s, n)
    if prob:
        return R.reduce(-s, reduction)
    return finish_index(
        _unchunked(logp_t, n), s, y, w, n_classes=n_classes, ignore_index=ignore_index,
        reduction=reduction, label_smoothing=ls,
    )


def linear_cross_entropy(
    input: ArrayLike,
    linear_weight: ArrayLike,
    target: ArrayLike,
    *,
    linear_bias: ArrayLike | None = None,
    weight: ArrayLike | None = None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    options: Any = None,
) -> jax.Array:
    r"""Cross entropy of linearly transformed inputs, as ``torch.nn.functional.linear_cross_entropy``.

    Equals ``cross_entropy(input @ linear_weight.T + linear_bias, target, ...)`` (for a
    K-dimensional ``linear_weight`` (C, d1, ..., dK, in_features) the logits are reshaped to
    (N, C, d1, ..., dK)), with ``cross_entropy``'s class weights, ``ignore_index``, label
    smoothing, probability targets and weighted mean (see :func:`cross_entropy`).

    It is computed in chunks of rows: each chunk's logits are formed, reduced to per-position
    terms and discarded, in the forward and again (recomputed under ``jax.checkpoint``) in the
    backward, so the full (N, C) logits are never materialized. The matmul runs at
    ``Precision.HIGHEST`` (full float32, as torch's default). Gradients flow to ``input``,
    ``linear_weight`` and ``linear_bias`` (and to ``target`` / ``weight`` with probability
    targets).

    ``options`` chooses the chunk size and nothing else (every chunking gives the same numbers up
    to rounding): ``None`` (the default ``"aspect_ratio:2"`` heuristic; torch's ``None`` is its
    unchunked reference path), an int (rows per chunk), a mapping of, or an object with, the
    fields of ``torch.nn.LinearCrossEntropyOptions`` -- a torch instance works as is -- see
    :class:`LinearCrossEntropyOptions`. Unlike torch, chunking also applies with label smoothing,
    probability targets and K-dimensional weights (where torch warns and falls back).

    Args:
        input: (in_features) or (N, in_features).
        linear_weight: (C, in_features) or (C, d1, ..., dK, in_features); K > 0 needs batched input.
        target: class indices () / (N) / (N, d1, ..., dK), or probabilities of the logits' shape.
        linear_bias: optional (C) or (C, d1, ..., dK).
        weight: optional per-class rescaling weight of shape (C,).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.
        ignore_index: ignored class index for index targets; ``None`` means -100. Must be None
            with probability targets.
        label_smoothing: in [0.0, 1.0]. Default: 0.0.
        options: the chunking, see above.

    Shape: output scalar, or () / (N) / (N, d1, ..., dK) for ``'none'``.
    """
    fn = "linear_cross_entropy"
    reduction = R.resolve(fn, None, None, reduction)
    h = C.float_array(fn, "input", input)
    lw = C.float_array(fn, "linear_weight", linear_weight)
    if h.ndim not in (1, 2):
        raise ValueError(f"{fn}: input must be 1- or 2-dimensional (in_features) or (N, in_features), got shape {tuple(h.shape)}")
    if lw.ndim < 2:
        raise ValueError(f"{fn}: linear_weight must be at least 2-dimensional (C, ..., in_features), got shape {tuple(lw.shape)}")
    in_features = h.shape[-1]
    if lw.shape[-1] != in_features:
        raise ValueError(
            f"{fn}: linear_weight's last dimension must equal input's in_features {in_features}, "
            f"got linear_weight of shape {tuple(lw.shape)}"
        )
    n_classes, out_features = lw.shape[0], tuple(lw.shape[1:-1])
    lb = None
    if linear_bias is not None:
        lb = C.float_array(fn, "linear_bias", linear_bias)
        if tuple(lb.shape) != (n_classes, *out_features):
            raise ValueError(
                f"{fn}: linear_bias must have shape {(n_classes, *out_features)}, got {tuple(lb.shape)}"
            )
    unbatched = h.ndim == 1
    if out_features and unbatched:
        raise ValueError(
            f"{fn}: a K-dimensional linear_weight of shape {tuple(lw.shape)} needs a batched input "
            f"(N, {in_features}), got shape {tuple(h.shape)}"
        )
    logits_shape = (*h.shape[:-1], n_classes, *out_features)
    y = C.any_array(fn, "target", target)
    ls = _smoothing(fn, label_smoothing)
    w = _class_weight(fn, weight, n_classes)
    prob = tuple(y.shape) == logits_shape
    floats = [a for a in (h, lw, lb, w) if a is not None]
    if prob:
        if ignore_index is not None:
            raise ValueError(
                f"{fn}: ignore_index must be None with class-probability targets, got {ignore_index!r}"
            )
        if not jnp.issubdtype(y.dtype, jnp.floating):
            raise TypeError(
                f"{fn}: a target of the logits' shape {logits_shape} holds class probabilities and "
                f"must be floating, got dtype {y.dtype}"
            )
        floats.append(y)
        ignore_index = -100
        t = y[None] if unbatched else y
    else:
        ignore_index = -100 if ignore_index is None else _int_option(fn, "ignore_index", ignore_index)
        t = _index_target(fn, logits_shape, y)
        _check_classes(fn, t, n_classes, ignore_index)
    n_rows = 1 if unbatched else h.shape[0]
    chunk = chunk_rows(options, n_rows, in_features, n_classes * math.prod(out_features))
    cdt, out_dtype = C.compute_dtype(*floats), jnp.result_type(*floats)
    out = _linear_ce(
        (h[None] if unbatched else h).astype(cdt), lw.astype(cdt),
        None if lb is None else lb.astype(cdt), t.astype(cdt) if prob else t,
        None if w is None else w.astype(cdt),
        chunk=chunk, prob=prob, ignore_index=ignore_index, reduction=reduction, label_smoothing=ls,
    )
    if unbatched and reduction == "none":
        out = out[0]
    return out.astype(out_dtype)
