"""jloss.nn: the torch-named loss classes, thin callables over :mod:`jloss.functional`.

An instance is configured like the torch module (same constructor arguments and defaults) and
called like it: ``loss = CrossEntropyLoss(weight=w); loss(logits, target)``. Instances are pytrees:
array-valued configuration (``weight``, ``pos_weight``) are leaves and everything else is static,
so a configured loss can be passed through ``jax.jit`` / ``jax.vmap`` as an argument.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from . import functional as F
from .losses import _reduction as R
from .losses._linear_ce import LinearCrossEntropyOptions as LinearCrossEntropyOptions
from .losses._modules import AdaptiveLogSoftmaxWithLoss as AdaptiveLogSoftmaxWithLoss
from .losses._modules import ASMoutput as ASMoutput
from .losses._modules import LinearCrossEntropyLoss as LinearCrossEntropyLoss


class _Loss:
    """Base of the loss classes: torch's ``_Loss`` (legacy ``size_average`` / ``reduce`` included)."""

    #: attributes that are arrays (pytree leaves); all other attributes are static.
    _array_fields: ClassVar[tuple[str, ...]] = ()
    _extra_reductions: ClassVar[tuple[str, ...]] = ()

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean") -> None:
        self.reduction = R.resolve(type(self).__name__, size_average, reduce, reduction, extra=self._extra_reductions)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        jax.tree_util.register_pytree_node(cls, cls._tree_flatten, cls._tree_unflatten)

    def _tree_flatten(self) -> tuple[tuple[Any, ...], tuple[tuple[str, Any], ...]]:
        children = tuple(getattr(self, f) for f in self._array_fields)
        aux = tuple(sorted((k, v) for k, v in vars(self).items() if k not in self._array_fields))
        return children, aux

    @classmethod
    def _tree_unflatten(cls, aux: tuple[tuple[str, Any], ...], children: tuple[Any, ...]) -> _Loss:
        obj = object.__new__(cls)
        for k, v in aux:
            setattr(obj, k, v)
        for f, c in zip(cls._array_fields, children, strict=True):
            setattr(obj, f, c)
        return obj

    def __call__(self, *args: Any, **kwargs: Any) -> jax.Array:
        return self.forward(*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> jax.Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k not in self._array_fields)
        return f"{type(self).__name__}({opts})"


class _WeightedLoss(_Loss):
    _array_fields = ("weight",)

    def __init__(self, weight: Any = None, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.weight = weight


class L1Loss(_Loss):
    """``torch.nn.L1Loss``: see :func:`jloss.functional.l1_loss`."""

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.l1_loss(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    """``torch.nn.MSELoss``: see :func:`jloss.functional.mse_loss`."""

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.mse_loss(input, target, reduction=self.reduction)


class NLLLoss(_WeightedLoss):
    """``torch.nn.NLLLoss``: see :func:`jloss.functional.nll_loss`."""

    def __init__(self, weight: Any = None, size_average: bool | None = None, ignore_index: int = -100,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class NLLLoss2d(NLLLoss):
    """``torch.nn.NLLLoss2d``: a deprecated alias of :class:`NLLLoss` (warns, as torch does)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        warnings.warn("NLLLoss2d has been deprecated. Please use NLLLoss instead as a drop-in replacement.",
                      DeprecationWarning, stacklevel=2)
        super().__init__(*args, **kwargs)


class CrossEntropyLoss(_WeightedLoss):
    """``torch.nn.CrossEntropyLoss``: see :func:`jloss.functional.cross_entropy`."""

    def __init__(self, weight: Any = None, size_average: bool | None = None, ignore_index: int = -100,
                 reduce: bool | None = None, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class PoissonNLLLoss(_Loss):
    """``torch.nn.PoissonNLLLoss``: see :func:`jloss.functional.poisson_nll_loss`."""

    def __init__(self, log_input: bool = True, full: bool = False, size_average: bool | None = None,
                 eps: float = 1e-8, reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_input = log_input
        self.full = full
        self.eps = eps

    def forward(self, log_input: Any, target: Any) -> jax.Array:
        return F.poisson_nll_loss(log_input, target, log_input=self.log_input, full=self.full,
                                  eps=self.eps, reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """``torch.nn.GaussianNLLLoss``: see :func:`jloss.functional.gaussian_nll_loss`."""

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__(None, None, reduction)
        self.full = full
        self.eps = eps

    def forward(self, input: Any, target: Any, var: Any) -> jax.Array:
        return F.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps, reduction=self.reduction)


class KLDivLoss(_Loss):
    """``torch.nn.KLDivLoss``: see :func:`jloss.functional.kl_div` (``reduction='batchmean'`` too)."""

    _extra_reductions = ("batchmean",)

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
                 log_target: bool = False) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class BCELoss(_WeightedLoss):
    """``torch.nn.BCELoss``: see :func:`jloss.functional.binary_cross_entropy`."""

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """``torch.nn.BCEWithLogitsLoss``: see :func:`jloss.functional.binary_cross_entropy_with_logits`."""

    _array_fields = ("weight", "pos_weight")

    def __init__(self, weight: Any = None, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.weight = weight
        self.pos_weight = pos_weight

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.binary_cross_entropy_with_logits(input, target, self.weight, pos_weight=self.pos_weight,
                                                  reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    """``torch.nn.HingeEmbeddingLoss``: see :func:`jloss.functional.hinge_embedding_loss`."""

    def __init__(self, margin: float = 1.0, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.hinge_embedding_loss(input, target, margin=self.margin, reduction=self.reduction)


class MultiLabelMarginLoss(_Loss):
    """``torch.nn.MultiLabelMarginLoss``: see :func:`jloss.functional.multilabel_margin_loss`."""

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.multilabel_margin_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """``torch.nn.SmoothL1Loss``: see :func:`jloss.functional.smooth_l1_loss`."""

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
                 beta: float = 1.0) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """``torch.nn.HuberLoss``: see :func:`jloss.functional.huber_loss`."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(None, None, reduction)
        self.delta = delta

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class SoftMarginLoss(_Loss):
    """``torch.nn.SoftMarginLoss``: see :func:`jloss.functional.soft_margin_loss`."""

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """``torch.nn.MultiLabelSoftMarginLoss``: see :func:`jloss.functional.multilabel_soft_margin_loss`."""

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.multilabel_soft_margin_loss(input, target, weight=self.weight, reduction=self.reduction)


class CosineEmbeddingLoss(_Loss):
    """``torch.nn.CosineEmbeddingLoss``: see :func:`jloss.functional.cosine_embedding_loss`."""

    def __init__(self, margin: float = 0.0, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Any, input2: Any, target: Any) -> jax.Array:
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class MarginRankingLoss(_Loss):
    """``torch.nn.MarginRankingLoss``: see :func:`jloss.functional.margin_ranking_loss`."""

    def __init__(self, margin: float = 0.0, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Any, input2: Any, target: Any) -> jax.Array:
        return F.margin_ranking_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class MultiMarginLoss(_WeightedLoss):
    """``torch.nn.MultiMarginLoss``: see :func:`jloss.functional.multi_margin_loss`."""

    def __init__(self, p: int = 1, margin: float = 1.0, weight: Any = None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: p must be 1 or 2, got {p!r}")
        if weight is not None and jnp.ndim(weight) != 1:
            raise ValueError(f"MultiMarginLoss: weight must be None or 1-D, got {jnp.ndim(weight)}-D")
        self.p = p
        self.margin = margin

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.multi_margin_loss(input, target, p=self.p, margin=self.margin, weight=self.weight,
                                   reduction=self.reduction)


class TripletMarginLoss(_Loss):
    """``torch.nn.TripletMarginLoss``: see :func:`jloss.functional.triplet_margin_loss`."""

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                 size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginLoss: margin must be > 0, got {margin}")
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap

    def forward(self, anchor: Any, positive: Any, negative: Any) -> jax.Array:
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p, eps=self.eps,
                                     swap=self.swap, reduction=self.reduction)


class TripletMarginWithDistanceLoss(_Loss):
    """``torch.nn.TripletMarginWithDistanceLoss``: see
    :func:`jloss.functional.triplet_margin_with_distance_loss`. ``distance_function`` is static."""

    def __init__(self, *, distance_function: Callable[[Any, Any], Any] | None = None, margin: float = 1.0,
                 swap: bool = False, reduction: str = "mean") -> None:
        super().__init__(None, None, reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginWithDistanceLoss: margin must be > 0, got {margin}")
        self.distance_function = distance_function if distance_function is not None else PairwiseDistance()
        self.margin = margin
        self.swap = swap

    def forward(self, anchor: Any, positive: Any, negative: Any) -> jax.Array:
        return F.triplet_margin_with_distance_loss(anchor, positive, negative,
                                                   distance_function=self.distance_function,
                                                   margin=self.margin, swap=self.swap, reduction=self.reduction)


class CTCLoss(_Loss):
    """``torch.nn.CTCLoss``: see :func:`jloss.functional.ctc_loss`."""

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> None:
        super().__init__(None, None, reduction)
        self.blank = blank
        self.zero_infinity = zero_infinity

    def forward(self, log_probs: Any, targets: Any, input_lengths: Any, target_lengths: Any) -> jax.Array:
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank, self.reduction,
                          self.zero_infinity)


class PairwiseDistance(_Loss):
    """``torch.nn.PairwiseDistance``: see :func:`jloss.functional.pairwise_distance`."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        self.norm = p
        self.eps = eps
        self.keepdim = keepdim

    def forward(self, x1: Any, x2: Any) -> jax.Array:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class CosineSimilarity(_Loss):
    """``torch.nn.CosineSimilarity``: see :func:`jloss.functional.cosine_similarity`."""

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        self.dim = dim
        self.eps = eps

    def forward(self, x1: Any, x2: Any) -> jax.Array:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class DiceLoss(_Loss):
    """Dice loss of tutorial 003 (not in torch): see :func:`jloss.functional.dice_loss`."""

    def __init__(self, smooth: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(None, None, reduction)
        self.smooth = smooth

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.dice_loss(input, target, smooth=self.smooth, reduction=self.reduction)


class FocalLoss(_WeightedLoss):
    """Multi-class focal loss of tutorial 004 (not in torch): see :func:`jloss.functional.softmax_focal_loss`."""

    def __init__(self, weight: Any = None, gamma: float = 2.0, ignore_index: int = -100,
                 reduction: str = "mean") -> None:
        super().__init__(weight, None, None, reduction)
        self.gamma = gamma
        self.ignore_index = ignore_index

    def forward(self, input: Any, target: Any) -> jax.Array:
        return F.softmax_focal_loss(input, target, weight=self.weight, gamma=self.gamma,
                                    ignore_index=self.ignore_index, reduction=self.reduction)


__all__ = [
    "ASMoutput", "AdaptiveLogSoftmaxWithLoss", "LinearCrossEntropyLoss", "LinearCrossEntropyOptions",
    "BCELoss", "BCEWithLogitsLoss", "CTCLoss", "CosineEmbeddingLoss", "CosineSimilarity", "CrossEntropyLoss",
    "DiceLoss", "FocalLoss", "GaussianNLLLoss", "HingeEmbeddingLoss", "HuberLoss", "KLDivLoss", "L1Loss",
    "MSELoss", "MarginRankingLoss", "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss", "MultiMarginLoss",
    "NLLLoss", "NLLLoss2d", "PairwiseDistance", "PoissonNLLLoss", "SmoothL1Loss", "SoftMarginLoss",
    "TripletMarginLoss", "TripletMarginWithDistanceLoss",
]
