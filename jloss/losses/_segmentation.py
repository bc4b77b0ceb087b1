"""Losses the tutorials teach beyond ``torch.nn``: dice, sigmoid focal and softmax (multi-class) focal.

None of them is a torch function, so each docstring states the exact formula it computes:

* :func:`dice_loss` -- the ``DiceLoss`` class with Laplace smoothing of tutorial 003, per sample.
* :func:`sigmoid_focal_loss` -- ``torchvision.ops.sigmoid_focal_loss`` (RetinaNet), ported
  operation by operation.
* :func:`softmax_focal_loss` -- the multi-class focal loss of tutorial 004,
  :math:`-w_y (1-p_y)^\\gamma \\log p_y`, with ``nll_loss``'s class weights, ``ignore_index`` and
  weighted mean.
"""

from __future__ import annotations

import math
import numbers
from functools import partial

import jax
import jax.numpy as jnp
from jax import lax
from jax.typing import ArrayLike

from .. import _checks as C
from . import _reduction as R
from ._classification import log_softmax_terms


def _real(fn: str, name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{fn}: {name} must be a real number, got {type(value).__name__}")
    return float(value)


def _modulating(q: jax.Array, gamma: float) -> jax.Array:
    """``q ** gamma`` as torch's ``pow(tensor, scalar)`` computes it.

    An integral exponent is repeated multiplication (torch's kernel squares / cubes; its gradient is
    ``gamma * q ** (gamma - 1)``), zero gives ones with a zero gradient, anything else ``pow``.
    """
    if gamma == 0.0:
        return jnp.ones_like(q)
    if float(gamma).is_integer() and abs(gamma) <= 64:
        return lax.integer_pow(q, int(gamma))
    return jnp.power(q, jnp.asarray(gamma, q.dtype))


# ---------------------------------------------------------------------------------------------
# dice
# ---------------------------------------------------------------------------------------------


@partial(jax.jit, static_argnames=("smooth", "reduction", "from_logits"))
def _dice(x, y, *, smooth: float, reduction: str, from_logits: bool):
    p = jax.nn.sigmoid(x) if from_logits else x
    n, m = x.shape[0], math.prod(x.shape[1:])
    p = p.reshape(n, m)
    y = y.reshape(n, m)
    inter = jnp.sum(p * y, axis=1)
    dice = (2.0 * inter + smooth) / (jnp.sum(p, axis=1) + jnp.sum(y, axis=1) + smooth)
    return R.reduce(1.0 - dice, reduction)


def dice_loss(
    input: ArrayLike,
    target: ArrayLike,
    smooth: float = 1.0,
    reduction: str = "mean",
    *,
    from_logits: bool = True,
) -> jax.Array:
    r"""Dice loss with Laplace smoothing, the ``DiceLoss`` class of tutorial 003, per sample.

    For each sample :math:`n` (the input's first axis), over all its other elements :math:`i`:

    .. math::
        p_{n,i} = \sigma(x_{n,i}) \text{ (or } x_{n,i} \text{ when } \texttt{from\_logits=False)}, \qquad
        \ell_n = 1 - \frac{2 \sum_i p_{n,i} y_{n,i} + s}{\sum_i p_{n,i} + \sum_i y_{n,i} + s}

    with :math:`s` = ``smooth``, which keeps the ratio defined when a mask and its prediction are
    both empty. ``'mean'`` averages :math:`\ell_n` over the batch, ``'sum'`` adds them up.

    The tutorial's class applies the sigmoid (so does the default ``from_logits=True``) and flattens
    the *whole batch* into one sample (``inputs.view(-1)``); its number is
    ``dice_loss(input.reshape(1, -1), target.reshape(1, -1))``. For a batch of one the two agree.

    Args:
        input: logits (or probabilities with ``from_logits=False``), at least 1-D; axis 0 is the batch.
        target: the masks, same shape as ``input``; any real or boolean dtype (0 / 1, or soft masks).
        smooth: the Laplace smoothing :math:`s >= 0` added to numerator and denominator. Default: 1.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.
        from_logits: apply the sigmoid to ``input`` first, as the tutorial does. Default: True.

    Shape: ``input`` :math:`(N, *)`, ``target`` :math:`(N, *)`; output scalar, or :math:`(N)` for
    ``'none'``.
    """
    fn = "dice_loss"
    reduction = R.resolve(fn, None, None, reduction)
    smooth = _real(fn, "smooth", smooth)
    if not smooth >= 0.0:
        raise ValueError(f"{fn}: smooth must be >= 0, got {smooth}")
    if not isinstance(from_logits, bool):
        raise TypeError(f"{fn}: from_logits must be a bool, got {type(from_logits).__name__}")
    x = C.float_array(fn, "input", input)
    y = C.any_array(fn, "target", target)
    if not (jnp.issubdtype(y.dtype, jnp.number) or y.dtype == jnp.bool_) or jnp.issubdtype(
        y.dtype, jnp.complexfloating
    ):
        raise TypeError(f"{fn}: target must have a real or boolean dtype, got {y.dtype}")
    if x.ndim < 1:
        raise ValueError(f"{fn}: input must be at least 1-dimensional (N, *), got shape {tuple(x.shape)}")
    C.same_shape(fn, "input", x, "target", y)
    floating_target = jnp.issubdtype(y.dtype, jnp.floating)
    out_dtype = jnp.result_type(x.dtype, y.dtype) if floating_target else x.dtype
    cdt = C.compute_dtype(x, y) if floating_target else C.compute_dtype(x)
    out = _dice(x.astype(cdt), y.astype(cdt), smooth=smooth, reduction=reduction, from_logits=from_logits)
    return out.astype(out_dtype)


# ---------------------------------------------------------------------------------------------
# sigmoid focal (torchvision)
# ---------------------------------------------------------------------------------------------


@jax.custom_jvp
def _bce_with_logits(x, t):
    """``F.binary_cross_entropy_with_logits(x, t, reduction='none')``: ``(1 - t) x - log sigmoid(x)``.

    ``-log sigmoid(x) = logaddexp(0, -x)`` is stable for any ``|x|``; the derivative is torch's
    backward, ``(sigmoid(x) - t) dx - x dt``, rather than autodiff of the forward (which cancels
    ``1 - sigmoid(-x)`` for very negative ``x``).
    """
    return (1.0 - t) * x + jnp.logaddexp(0.0, -x)


@_bce_with_logits.defjvp
def _bce_with_logits_jvp(primals, tangents):
    x, t = primals
    dx, dt = tangents
    return _bce_with_logits(x, t), (jax.nn.sigmoid(x) - t) * dx - x * dt


@partial(jax.jit, static_argnames=("alpha", "gamma", "reduction"))
def _sigmoid_focal(x, t, *, alpha: float, gamma: float, reduction: str):
    p = jax.nn.sigmoid(x)
    ce = _bce_with_logits(x, t)
    p_t = p * t + (1.0 - p) * (1.0 - t)
    loss = ce * _modulating(1.0 - p_t, gamma)
    if alpha >= 0:
        alpha_t = alpha * t + (1.0 - alpha) * (1.0 - t)
        loss = alpha_t * loss
    return R.reduce(loss, reduction)


def sigmoid_focal_loss(
    inputs: ArrayLike,
    targets: ArrayLike,
    alpha: float = 0.25,
    gamma: float = 2,
    reduction: str = "none",
) -> jax.Array:
    r"""Sigmoid focal loss of RetinaNet, as ``torchvision.ops.sigmoid_focal_loss``.

    A port of torchvision's ``torchvision/ops/focal_loss.py`` (itself from fvcore's
    ``fvcore/nn/focal_loss.py``; Lin et al., *Focal Loss for Dense Object Detection*,
    https://arxiv.org/abs/1708.02002), operation by operation and with its defaults:

    .. math::
        p = \sigma(x), \quad
        \mathrm{ce} = \mathrm{BCEWithLogits}(x, y), \quad
        p_t = p\,y + (1 - p)(1 - y), \\
        \ell = \alpha_t\, \mathrm{ce}\, (1 - p_t)^\gamma, \quad
        \alpha_t = \alpha\, y + (1 - \alpha)(1 - y)

    :math:`\alpha_t` is applied only when ``alpha >= 0``; a negative ``alpha`` (torchvision documents
    ``-1``) disables the weighting. Unlike the losses of ``torch.nn``, the default reduction is
    ``'none'``; ``'mean'`` averages over every element, ``'sum'`` adds them up.

    Args:
        inputs: logits, any shape.
        targets: binary labels (0 for the negative class, 1 for the positive), same shape, floating.
        alpha: weight of the positive class in [0, 1], or negative for no weighting. Default: 0.25.
        gamma: exponent of the modulating factor :math:`(1 - p_t)`. Default: 2.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'none'``.

    Shape: ``inputs`` (*), ``targets`` (*); output (*) for ``'none'``, otherwise scalar.
    """
    fn = "sigmoid_focal_loss"
    reduction = R.resolve(fn, None, None, reduction)
    alpha = _real(fn, "alpha", alpha)
    gamma = _real(fn, "gamma", gamma)
    x = C.float_array(fn, "inputs", inputs)
    t = C.float_array(fn, "targets", targets)
    if tuple(x.shape) != tuple(t.shape):
        raise ValueError(
            f"{fn}: targets must have the same shape as inputs {tuple(x.shape)}, got {tuple(t.shape)}"
        )
    out_dtype = jnp.result_type(x.dtype, t.dtype)
    cdt = C.compute_dtype(x, t)
    out = _sigmoid_focal(x.astype(cdt), t.astype(cdt), alpha=alpha, gamma=gamma, reduction=reduction)
    return out.astype(out_dtype)


# ---------------------------------------------------------------------------------------------
# softmax focal (multi-class)
# ---------------------------------------------------------------------------------------------


@partial(jax.jit, static_argnames=("gamma", "ignore_index", "reduction"))
def _softmax_focal(x, target, w, *, gamma: float, ignore_index: int, reduction: str):
    n_classes = x.shape[0 if x.ndim == 1 else 1]
    valid = target != ignore_index
    in_range = (target >= 0) & (target < n_classes)
    idx = jnp.clip(target, 0, n_classes - 1)
    # log p_t without storing the log-softmax; its gradient in one pass (cross entropy's core)
    if x.ndim == 1:
        logp_t = log_softmax_terms(False, x[None], idx[None], None)[0][0]
    else:
        logp_t = log_softmax_terms(False, x, idx, None)[0]
    # 1 - p_t as -expm1(log p_t): exact where p_t is close to 1.
    loss = -_modulating(-jnp.expm1(logp_t), gamma) * logp_t
    if w is None:
        wt = valid.astype(loss.dtype)
    else:
        wt = jnp.where(valid, w[idx], jnp.zeros((), loss.dtype))
    loss = jnp.where(valid, loss * wt, jnp.zeros((), loss.dtype))
    # an index torch refuses (seen only under jit) poisons its element with NaN
    loss = jnp.where(valid & ~in_range, jnp.full((), jnp.nan, loss.dtype), loss)
    if reduction == "mean":
        return R.reduce(loss, "mean", weight=wt)
    return R.reduce(loss, reduction)


def softmax_focal_loss(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    gamma: float = 2.0,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> jax.Array:
    r"""Multi-class focal loss, the ``FocalLoss`` of tutorial 004 (cross entropy with a focus term).

    With :math:`p = \mathrm{softmax}(x)` over the class axis and :math:`y_n` the target class,

    .. math::
        \ell_n = -w_{y_n} \, (1 - p_{n,y_n})^\gamma \, \log p_{n,y_n}
        \cdot \mathbb{1}\{y_n \ne \texttt{ignore\_index}\}

    i.e. ``nll_loss((1 - p) ** gamma * log_softmax(x), y, weight, ignore_index)``: the tutorial's
    :math:`FL(p_t) = -(1 - p_t)^\gamma \log p_t`, which scales down the loss of well-classified
    examples; ``gamma=0`` is exactly :func:`cross_entropy`. ``weight`` (:math:`w`, ones when
    ``None``) rescales each class as in ``nll_loss``, and ``'mean'`` is the same *weighted* mean,
    :math:`\sum_n \ell_n / \sum_n w_{y_n} \mathbb{1}\{y_n \ne \texttt{ignore\_index}\}`, i.e. over
    the non-ignored targets (NaN when every target is ignored, as torch's ``nll_loss``).
    ``'sum'`` adds the :math:`\ell_n`; ``'none'`` returns them (0 where ignored).

    A class index outside ``[0, C)`` (other than ``ignore_index``) raises ``ValueError`` on
    concrete inputs and under :func:`jloss.checked`; under a plain ``jit`` its loss is NaN.

    Args:
        input: unnormalised scores (logits).
        target: class indices in ``[0, C)``, integer dtype.
        weight: optional rescaling weight per class, shape :math:`(C)`.
        gamma: focusing exponent :math:`\gamma >= 0`. Default: 2.
        ignore_index: a target value that contributes neither to the loss nor to the mean's
            denominator. Default: -100.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.

    Shape: ``input`` :math:`(C)`, :math:`(N, C)` or :math:`(N, C, d_1, ..., d_K)`; ``target``
    :math:`()`, :math:`(N)` or :math:`(N, d_1, ..., d_K)`; output scalar, or the target's shape for
    ``'none'``.
    """
    fn = "softmax_focal_loss"
    reduction = R.resolve(fn, None, None, reduction)
    gamma = _real(fn, "gamma", gamma)
    if not gamma >= 0.0:
        raise ValueError(f"{fn}: gamma must be >= 0, got {gamma}")
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
        raise TypeError(f"{fn}: ignore_index must be an int, got {type(ignore_index).__name__}")
    ignore_index = int(ignore_index)
    x = C.float_array(fn, "input", input)
    t = C.int_array(fn, "target", target)
    if x.ndim < 1:
        raise ValueError(f"{fn}: input must be at least 1-dimensional (C), (N, C) or (N, C, d1, ...), got shape ()")
    if x.ndim == 1:
        expected = ()
    else:
        expected = (x.shape[0], *x.shape[2:])
    if tuple(t.shape) != expected:
        raise ValueError(
            f"{fn}: target must have shape {expected} for input of shape {tuple(x.shape)}, "
            f"got {tuple(t.shape)}"
        )
    n_classes = x.shape[0 if x.ndim == 1 else 1]
    cdt = C.compute_dtype(x)
    out_dtype = x.dtype
    w = None
    if weight is not None:
        w = C.float_array(fn, "weight", weight)
        if tuple(w.shape) != (n_classes,):
            raise ValueError(
                f"{fn}: weight must have shape ({n_classes},) (one entry per class), got {tuple(w.shape)}"
            )
        cdt = C.compute_dtype(x, w)
        out_dtype = jnp.result_type(x.dtype, w.dtype)
        w = w.astype(cdt)
    C.check_values(
        fn,
        lambda: (t == ignore_index) | ((t >= 0) & (t < n_classes)),
        f"target values must be in [0, {n_classes - 1}] or ignore_index={ignore_index}",
        t,
    )
    out = _softmax_focal(x.astype(cdt), t, w, gamma=gamma, ignore_index=ignore_index, reduction=reduction)
    return out.astype(out_dtype)
