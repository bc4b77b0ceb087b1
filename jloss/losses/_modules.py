"""The two torch losses that hold weights, as Flax NNX modules.

* :class:`AdaptiveLogSoftmaxWithLoss` -- ``torch.nn.AdaptiveLogSoftmaxWithLoss`` (Grave et al.'s
  adaptive softmax): a head ``Linear`` and one two-layer projection per tail cluster.
* :class:`LinearCrossEntropyLoss` -- ``torch.nn.LinearCrossEntropyLoss``: a ``Linear`` layer fused
  with :func:`jloss.functional.linear_cross_entropy`.

Both mirror torch's parameter tree (``head``, ``tail[i].layers[j]``, ``linear``) with Flax's
``Linear`` layout: a torch ``weight`` of shape ``(out, in)`` is the ``kernel`` ``(in, out)`` here
(``kernel == weight.T``), a ``bias`` is the same vector. Parameters are initialised from torch's
distribution, ``U(-1/sqrt(in), 1/sqrt(in))`` for weights and biases alike (the numbers differ:
JAX's PRNG is not torch's). ``param_dtype`` (default float32) is the parameters' dtype, ``dtype``
the computation dtype (``None``: promote input and parameters, as ``flax.nnx.Linear`` does).
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import ArrayLike

from .. import _checks as C
from . import _reduction as R
from ._classification import linear_cross_entropy


def _torch_uniform(fan_in: int) -> Any:
    """torch's ``Linear`` initialisation: ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` (0 for ``fan_in=0``).

    ``kaiming_uniform_(a=sqrt(5))`` on the weight and the bias rule give the same bound.
    """
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0

    def init(key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
        return jax.random.uniform(key, tuple(shape), dtype, -bound, bound)

    return init


def _linear(in_features: int, out_features: int, bias: bool, *, dtype: Any, param_dtype: Any,
            precision: Any, rngs: nnx.Rngs) -> nnx.Linear:
    init = _torch_uniform(in_features)
    return nnx.Linear(in_features, out_features, use_bias=bias, dtype=dtype, param_dtype=param_dtype,
                      precision=precision, kernel_init=init, bias_init=init, rngs=rngs)


def _positive_int(cls: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{cls}: {name} must be a positive int, got {value!r}")
    return int(value)


class ASMoutput(NamedTuple):
    """What :class:`AdaptiveLogSoftmaxWithLoss` returns (torch's ``_ASMoutput``)."""

    output: jax.Array
    """the log-probability of each example's target, shape :math:`(N)` (or :math:`()` unbatched)."""
    loss: jax.Array
    """the mean negative log-likelihood, :math:`\\operatorname{mean}(-\\text{output})`."""


class AdaptiveLogSoftmaxWithLoss(nnx.Module):
    r"""Efficient softmax approximation, as ``torch.nn.AdaptiveLogSoftmaxWithLoss``.

    Grave et al., *Efficient softmax approximation for GPUs* (https://arxiv.org/abs/1609.04309).
    The classes, sorted by decreasing frequency, are split by ``cutoffs = [c_1, ..., c_k]``: the
    first :math:`c_1` (the shortlist) are scored by the ``head``, which also scores one logit per
    tail cluster; cluster :math:`i` holds classes :math:`[c_i, c_{i+1})` (with
    :math:`c_{k+1}` = ``n_classes``) and is scored by ``tail[i-1]``, a projection
    ``in_features -> floor(in_features / div_value**i) -> cluster size`` without biases. So

    .. math::
        \log p(y) = \begin{cases}
            \log\mathrm{softmax}(\mathrm{head}(x))_y & y < c_1 \\
            \log\mathrm{softmax}(\mathrm{head}(x))_{c_1 + i - 1}
              + \log\mathrm{softmax}(\mathrm{tail}_{i-1}(x))_{y - c_i} & c_i \le y < c_{i+1}
        \end{cases}

    Calling the module returns :class:`ASMoutput` ``(output, loss)``: ``output`` holds
    :math:`\log p(y_n)` per example and ``loss`` is :math:`\operatorname{mean}_n(-\log p(y_n))`.

    Unlike torch, which evaluates each cluster on the rows whose targets fall in it (a data-
    dependent shape), every cluster is evaluated on every row and the right one selected, so the
    module runs under ``jit`` / ``vmap``; values and gradients are torch's.

    Args:
        in_features: number of features of the input.
        n_classes: number of classes.
        cutoffs: increasing, unique integers in ``[1, n_classes - 1]``, at least one.
        div_value: the cluster sizes' divisor, as above. Default: 4.0.
        head_bias: add a bias to the head. Default: False.
        rngs: the ``nnx.Rngs`` that initialise the parameters.
        dtype: computation dtype (``None``: promote input and parameters).
        param_dtype: dtype of the parameters. Default: float32.
        precision: matmul precision of the ``Linear`` layers (``jax.lax.Precision``).

    Shape: ``input`` :math:`(N, \text{in\_features})` or :math:`(\text{in\_features})`; ``target``
    :math:`(N)` or :math:`()`, integers in ``[0, n_classes)``; ``output`` :math:`(N)` or :math:`()`;
    ``loss`` scalar.

    A target outside ``[0, n_classes)`` raises ``ValueError`` on concrete inputs and under
    :func:`jloss.checked`; under a plain ``jit`` its ``output`` (and so ``loss``) is NaN.
    """

    def __init__(
        self,
        in_features: int,
        n_classes: int,
        cutoffs: Sequence[int],
        div_value: float = 4.0,
        head_bias: bool = False,
        *,
        rngs: nnx.Rngs,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
        precision: Any = None,
    ) -> None:
        cls = "AdaptiveLogSoftmaxWithLoss"
        in_features = _positive_int(cls, "in_features", in_features)
        n_classes = _positive_int(cls, "n_classes", n_classes)
        try:
            cutoffs = list(cutoffs)
        except TypeError:
            raise TypeError(f"{cls}: cutoffs must be a sequence of ints, got {type(cutoffs).__name__}") from None
        if len(cutoffs) == 0:
            raise ValueError(f"{cls}: cutoffs should be a sequence of length larger than 0")
        if (
            any(isinstance(c, bool) or not isinstance(c, numbers.Real) for c in cutoffs)
            or cutoffs != sorted(cutoffs)
            or min(cutoffs) <= 0
            or max(cutoffs) > n_classes - 1
            or len(set(cutoffs)) != len(cutoffs)
            or any(int(c) != c for c in cutoffs)
        ):
            raise ValueError(
                f"{cls}: cutoffs should be a sequence of unique, positive integers sorted in an "
                f"increasing order, where each value is between 1 and n_classes-1 "
                f"(n_classes={n_classes}), got {cutoffs!r}"
            )
        if isinstance(div_value, bool) or not isinstance(div_value, numbers.Real) or not div_value > 0:
            raise ValueError(f"{cls}: div_value must be a positive number, got {div_value!r}")
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = (*(int(c) for c in cutoffs), n_classes)
        self.div_value = float(div_value)
        self.head_bias = bool(head_bias)
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        kw = {"dtype": dtype, "param_dtype": param_dtype, "precision": precision, "rngs": rngs}
        self.head = _linear(in_features, self.head_size, self.head_bias, **kw)
        tail = []
        for i in range(self.n_clusters):
            hsz = int(in_features // (self.div_value ** (i + 1)))
            osz = self.cutoffs[i + 1] - self.cutoffs[i]
            tail.append(nnx.Sequential(_linear(in_features, hsz, False, **kw), _linear(hsz, osz, False, **kw)))
        self.tail = nnx.List(tail)

    def _input(self, fn: str, input: ArrayLike, ndim: Sequence[int]) -> jax.Array:
        x = C.float_array(fn, "input", input)
        if x.ndim not in ndim:
            exp = " or ".join(f"{d}-D" for d in ndim)
            raise ValueError(f"{fn}: input must be {exp} (N, in_features), got shape {tuple(x.shape)}")
        if x.shape[-1] != self.in_features:
            raise ValueError(
                f"{fn}: input's last dimension must be in_features={self.in_features}, "
                f"got shape {tuple(x.shape)}"
            )
        return x

    def __call__(self, input: ArrayLike, target: ArrayLike) -> ASMoutput:
        """``(output, loss)``: each target's log-probability and their negated mean."""
        fn = "AdaptiveLogSoftmaxWithLoss"
        t = C.int_array(fn, "target", target)
        if t.ndim == 1:
            x = self._input(fn, input, (2,))
            if x.shape[0] != t.shape[0]:
                raise ValueError(
                    f"{fn}: input and target should have the same size in the batch dimension, "
                    f"got input {tuple(x.shape)} and target {tuple(t.shape)}"
                )
        elif t.ndim == 0:
            x = self._input(fn, input, (1,))
        else:
            raise ValueError(
                f"{fn}: 0D or 1D target expected, multi-target not supported; got target of shape "
                f"{tuple(t.shape)}"
            )
        C.check_values(fn, lambda: (t >= 0) & (t < self.n_classes),
                       f"target values should be in [0, {self.n_classes - 1}]", t)
        batched = t.ndim == 1
        if not batched:
            x, t = x[None], t[None]

        head_logprob = jax.nn.log_softmax(self.head(x), axis=1)
        output = jnp.zeros(t.shape, head_logprob.dtype)
        gather = t
        for i, (lo, hi) in enumerate(itertools.pairwise(self.cutoffs)):
            in_cluster = (t >= lo) & (t < hi)
            cluster_logprob = jax.nn.log_softmax(self.tail[i](x), axis=1)
            rel = jnp.clip(t - lo, 0, hi - lo - 1)
            local = jnp.take_along_axis(cluster_logprob, rel[:, None], axis=1)[:, 0]
            output = jnp.where(in_cluster, local, output)
            gather = jnp.where(in_cluster, self.shortlist_size + i, gather)
        gather = jnp.clip(gather, 0, self.head_size - 1)
        output = output + jnp.take_along_axis(head_logprob, gather[:, None], axis=1)[:, 0]
        in_range = (t >= 0) & (t < self.n_classes)
        output = jnp.where(in_range, output, jnp.full((), jnp.nan, output.dtype))
        loss = R.reduce(-output, "mean")
        return ASMoutput(output if batched else output[0], loss)

    def _full_log_prob(self, x: jax.Array, head_output: jax.Array) -> jax.Array:
        head_logprob = jax.nn.log_softmax(head_output, axis=1)
        parts = [head_logprob[:, : self.shortlist_size]]
        for i in range(self.n_clusters):
            cluster_logprob = jax.nn.log_softmax(self.tail[i](x), axis=1)
            parts.append(cluster_logprob + head_logprob[:, self.shortlist_size + i, None])
        return jnp.concatenate(parts, axis=1)

    def log_prob(self, input: ArrayLike) -> jax.Array:
        r"""Log-probabilities of all ``n_classes`` classes, shape :math:`(N, \text{n\_classes})`.

        Shape: ``input`` :math:`(N, \text{in\_features})`.
        """
        x = self._input("AdaptiveLogSoftmaxWithLoss.log_prob", input, (2,))
        return self._full_log_prob(x, self.head(x))

    def predict(self, input: ArrayLike) -> jax.Array:
        """The most probable class of each example, shape :math:`(N)`.

        As torch: the head's argmax where it lands in the shortlist (no tail can beat it there),
        otherwise the argmax of :meth:`log_prob`; equal to ``log_prob(input).argmax(1)``.
        """
        x = self._input("AdaptiveLogSoftmaxWithLoss.predict", input, (2,))
        head_output = self.head(x)
        output = jnp.argmax(head_output, axis=1)
        full = jnp.argmax(self._full_log_prob(x, head_output), axis=1)
        return jnp.where(output >= self.shortlist_size, full, output)


class LinearCrossEntropyLoss(nnx.Module):
    r"""Cross entropy of a linear layer's logits, as ``torch.nn.LinearCrossEntropyLoss``.

    Holds ``linear``, the ``Linear(in_features, num_classes * prod(out_features))`` of torch, with
    torch's flat storage: its ``kernel`` is torch's ``linear.weight`` transposed, shape
    ``(in_features, C * prod(out_features))``, and its ``bias`` (``bias=True``) torch's
    ``linear.bias``, shape ``(C * prod(out_features),)``. A call reshapes them to
    ``linear_weight`` :math:`(C, d_1, ..., d_K, \text{in\_features})` and ``linear_bias``
    :math:`(C, d_1, ..., d_K)` and returns

    .. code-block:: python

        linear_cross_entropy(input, linear_weight, target, linear_bias=linear_bias, weight=weight,
                             reduction=reduction, ignore_index=ignore_index,
                             label_smoothing=label_smoothing, options=options)

    i.e. ``cross_entropy(input @ linear_weight.T + linear_bias, target, ...)`` with the logits' class
    axis after the batch axis (see :func:`jloss.functional.linear_cross_entropy`, whose
    ``ignore_index=None`` means -100 for class-index targets). ``options`` (torch's chunking
    options) change memory use only, never the numbers.

    Args:
        in_features: size of each input sample.
        num_classes: number of classes :math:`C`.
        out_features: :math:`(d_1, ..., d_K)` for a K-dimensional loss. Default: ``()``.
        bias: give ``linear`` a bias. Default: False.
        weight: optional rescaling weight per class, shape :math:`(C)`; held in ``param_dtype`` as a
            plain array attribute (torch's buffer), not an ``nnx.Param``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.
        ignore_index: target value to ignore; ``None`` is -100 for class indices. Default: None.
        label_smoothing: in ``[0, 1]``. Default: 0.
        options: passed to :func:`~jloss.functional.linear_cross_entropy` as is.
        rngs: the ``nnx.Rngs`` that initialise ``linear``.
        dtype: computation dtype; ``None`` leaves input and parameters as they are.
        param_dtype: dtype of the parameters. Default: float32.

    Shape: ``input`` :math:`(\text{in\_features})` or :math:`(N, \text{in\_features})`; ``target``
    :math:`()`, :math:`(N)` or :math:`(N, d_1, ..., d_K)` class indices, or probabilities of the
    logits' shape :math:`(C)` / :math:`(N, C, d_1, ..., d_K)`; output scalar, or the target's
    (batch) shape for ``'none'``.
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        out_features: tuple[int, ...] = (),
        bias: bool = False,
        *,
        weight: ArrayLike | None = None,
        reduction: str = "mean",
        ignore_index: int | None = None,
        label_smoothing: float = 0.0,
        options: Any = None,
        rngs: nnx.Rngs,
        dtype: Any = None,
        param_dtype: Any = jnp.float32,
    ) -> None:
        cls = "LinearCrossEntropyLoss"
        in_features = _positive_int(cls, "in_features", in_features)
        num_classes = _positive_int(cls, "num_classes", num_classes)
        try:
            out_features = tuple(out_features)
        except TypeError:
            raise TypeError(
                f"{cls}: out_features must be a tuple of ints, got {type(out_features).__name__}"
            ) from None
        for d in out_features:
            if isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 0:
                raise ValueError(f"{cls}: out_features must be non-negative ints, got {out_features!r}")
        out_features = tuple(int(d) for d in out_features)
        if weight is not None:
            weight = C.float_array(cls, "weight", weight)
            if tuple(weight.shape) != (num_classes,):
                raise ValueError(
                    f"{cls}: expected weight shape to be {(num_classes,)}, got {tuple(weight.shape)}"
                )
            weight = weight.astype(param_dtype)
        if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real):
            raise TypeError(f"{cls}: label_smoothing must be a float, got {type(label_smoothing).__name__}")
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"{cls}: expected label_smoothing to be in range [0, 1], got {label_smoothing}")
        if ignore_index is not None and (
            isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral)
        ):
            raise TypeError(f"{cls}: ignore_index must be an int or None, got {type(ignore_index).__name__}")
        self.reduction = R.resolve(cls, None, None, reduction)
        self.in_features = in_features
        self.num_classes = num_classes
        self.out_features = out_features
        self.ignore_index = None if ignore_index is None else int(ignore_index)
        self.label_smoothing = float(label_smoothing)
        self.options = options
        self.dtype = dtype
        self.weight = weight
        self.linear = _linear(in_features, math.prod(out_features, start=num_classes), bool(bias),
                              dtype=dtype, param_dtype=param_dtype, precision=None, rngs=rngs)

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        """The loss of ``input`` (features) against ``target``."""
        shape = (self.num_classes, *self.out_features)
        linear_weight = self.linear.kernel[...].T.reshape((*shape, self.in_features))
        linear_bias = None if self.linear.bias is None else self.linear.bias[...].reshape(shape)
        if self.dtype is not None:
            input = C.float_array("LinearCrossEntropyLoss", "input", input).astype(self.dtype)
            linear_weight = linear_weight.astype(self.dtype)
            linear_bias = None if linear_bias is None else linear_bias.astype(self.dtype)
        return linear_cross_entropy(
            input,
            linear_weight,
            target,
            linear_bias=linear_bias,
            weight=self.weight,
            reduction=self.reduction,
            ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing,
            options=self.options,
        )
