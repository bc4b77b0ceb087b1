"""Parity cases: dice_loss, sigmoid_focal_loss, softmax_focal_loss (the tutorials' extras).

These losses have no ``torch.nn.functional`` counterpart, so each component's reference is the
formula written with torch primitives (below): the tutorial-003 ``DiceLoss`` per sample,
torchvision's ``sigmoid_focal_loss`` source (torchvision itself is not a dependency) and
``nll_loss((1 - softmax) ** gamma * log_softmax)`` for the multi-class focal loss.
"""

from __future__ import annotations

import numpy as np

from ...losses._segmentation import dice_loss, sigmoid_focal_loss, softmax_focal_loss
from .._gen import REDUCTIONS, rng, shape_name, with_dtypes
from .._harness import Case
from .._registry import Component, register

# ---- torch references, from torch primitives ---------------------------------------------------


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"invalid reduction {reduction!r}")


def torch_dice_loss(torch):
    """Tutorial 003's ``DiceLoss.forward`` applied to each sample (row of the flattened batch)."""

    def dice(input, target, smooth=1.0, reduction="mean", *, from_logits=True):
        p = torch.sigmoid(input) if from_logits else input
        n = input.shape[0]
        p = p.reshape(n, -1)
        t = target.reshape(n, -1).to(p.dtype)
        intersection = (p * t).sum(1)
        d = (2.0 * intersection + smooth) / (p.sum(1) + t.sum(1) + smooth)
        return _reduce(1 - d, reduction)

    return dice


def torch_sigmoid_focal_loss(torch):
    """``torchvision.ops.sigmoid_focal_loss`` (torchvision/ops/focal_loss.py), line for line."""
    F = torch.nn.functional

    def focal(inputs, targets, alpha=0.25, gamma=2, reduction="none"):
        p = torch.sigmoid(inputs)
        ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
        p_t = p * targets + (1 - p) * (1 - targets)
        loss = ce_loss * ((1 - p_t) ** gamma)
        if alpha >= 0:
            alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
            loss = alpha_t * loss
        return _reduce(loss, reduction)

    return focal


def torch_softmax_focal_loss(torch):
    """``nll_loss`` of the focal-weighted log-probabilities."""
    F = torch.nn.functional

    def focal(input, target, weight=None, gamma=2.0, ignore_index=-100, reduction="mean"):
        dim = 0 if input.dim() == 1 else 1
        logp = F.log_softmax(input, dim=dim)
        focal_logp = (1 - torch.softmax(input, dim=dim)) ** gamma * logp
        return F.nll_loss(focal_logp, target, weight=weight, ignore_index=ignore_index, reduction=reduction)

    return focal


# ---- cases -----------------------------------------------------------------------------------

_DICE_SHAPES = ((5,), (2, 6), (2, 3, 4, 2))


def _dice_cases():
    out = []
    for shape in _DICE_SHAPES:
        r = rng("dice_loss", shape)
        s = shape_name(shape)
        x = np.asarray(r.standard_normal(shape) * 2)
        mask = np.asarray((r.uniform(size=shape) < 0.4).astype(np.float64))
        soft = np.asarray(r.uniform(size=shape))
        for red in REDUCTIONS:
            out.append(Case(f"{s}-{red}", (x, mask), {"reduction": red}, grad=(0, 1)))
        if len(shape) == 2:
            out.append(Case(f"{s}-soft-smooth=0.5", (x, soft), {"smooth": 0.5}, grad=(0, 1)))
            probs = np.asarray(r.uniform(0.05, 0.95, size=shape))
            out.append(Case(f"{s}-probs", (probs, mask), {"from_logits": False, "reduction": "none"}, grad=(0, 1)))
        if len(shape) == 4:
            out.append(Case(f"{s}-smooth=0-sum", (x, soft), {"smooth": 0.0, "reduction": "sum"}, grad=(0, 1)))
            out.append(Case(f"{s}-int-mask", (x, mask.astype(np.int64)), {}, grad=(0,)))
    r = rng("dice_loss", "empty")
    x = np.asarray(r.standard_normal((3, 4)))
    empty = np.zeros((3, 4))
    out.append(Case("empty-mask", (x, empty), {"reduction": "none"}, grad=(0, 1)))
    out.append(Case("positional-smooth", (x, empty, 2.0, "sum"), {}, grad=(0,)))
    cases = list(with_dtypes(out))
    cases += list(with_dtypes(out[:2], ("bfloat16",)))
    return cases


def _sigmoid_focal_cases():
    out = []
    for shape in ((), (7,), (3, 4, 2)):
        r = rng("sigmoid_focal_loss", shape)
        s = shape_name(shape)
        x = np.asarray(r.standard_normal(shape) * 2)
        t = np.asarray((r.uniform(size=shape) < 0.5).astype(np.float64))
        soft = np.asarray(r.uniform(size=shape))
        for red in REDUCTIONS:
            out.append(Case(f"{s}-{red}", (x, t), {"reduction": red}, grad=(0, 1)))
    out.append(Case(f"{s}-alpha=-1", (x, t), {"alpha": -1, "reduction": "sum"}, grad=(0, 1)))
    out.append(Case(f"{s}-alpha=0.7-gamma=0", (x, soft), {"alpha": 0.7, "gamma": 0}, grad=(0, 1)))
    out.append(Case(f"{s}-gamma=1.5-soft", (x, soft), {"gamma": 1.5, "reduction": "mean"}, grad=(0, 1)))
    out.append(Case(f"{s}-positional", (x, t, 0.5, 3, "sum"), {}, grad=(0,)))
    # large logits: ce and (1 - p_t) saturate, the gradient at x = 0 sits on softplus's midpoint
    wide = np.asarray([-30.0, -12.0, -3.0, 0.0, 3.0, 12.0, 30.0])
    tw = np.asarray([0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0])
    out.append(Case("wide-logits", (wide, tw), {}, grad=(0, 1)))
    cases = list(with_dtypes(out))
    cases += list(with_dtypes(out[3:5], ("bfloat16",)))
    return cases


def _softmax_focal_cases():
    out = []
    C = 5
    r = rng("softmax_focal_loss", "unbatched")
    x = np.asarray(r.standard_normal(C))
    w = np.asarray(r.uniform(0.2, 2.0, size=C))
    t = np.asarray(3)
    out.append(Case("5-mean", (x, t), {}, grad=(0,)))
    out.append(Case("5-none-weight", (x, t), {"weight": w, "reduction": "none"}, grad=(0,)))
    out.append(Case("5-gamma=0.5", (x, t), {"gamma": 0.5}, grad=(0,)))

    r = rng("softmax_focal_loss", "batched")
    x = np.asarray(r.standard_normal((6, C)))
    t = np.asarray(r.integers(0, C, size=6))
    for red in REDUCTIONS:
        out.append(Case(f"6x5-{red}", (x, t), {"reduction": red}, grad=(0,)))
    out.append(Case("6x5-mean-weight", (x, t), {"weight": w}, grad=(0,)))
    out.append(Case("6x5-sum-weight", (x, t), {"weight": w, "reduction": "sum"}, grad=(0,)))
    # gamma = 0 is cross entropy
    out.append(Case("6x5-gamma=0-weight", (x, t), {"gamma": 0.0, "weight": w}, grad=(0,)))
    out.append(Case("6x5-gamma=0.5", (x, t), {"gamma": 0.5}, grad=(0,)))
    ti = t.copy()
    ti[::2] = 1
    out.append(Case("6x5-ignore_index=1-weight", (x, ti), {"weight": w, "ignore_index": 1}, grad=(0,)))
    tn = t.copy()
    tn[1] = -100
    out.append(Case("6x5-ignored-default-none", (x, tn), {"reduction": "none"}, grad=(0,)))
    out.append(Case("6x5-positional", (x, tn, w, 3.0, -100, "mean"), {}, grad=(0,)))

    r = rng("softmax_focal_loss", "kdim")
    x = np.asarray(r.standard_normal((2, C, 3, 2)))
    t = np.asarray(r.integers(0, C, size=(2, 3, 2)))
    t[0, 1, 1] = -100
    out.append(Case("2x5x3x2-none-weight", (x, t), {"weight": w, "reduction": "none"}, grad=(0,)))
    out.append(Case("2x5x3x2-mean-weight", (x, t), {"weight": w}, grad=(0,)))
    out.append(Case("2x5x3x2-sum", (x, t), {"reduction": "sum", "gamma": 1.0}, grad=(0,)))
    # every target ignored: the weighted mean is 0 / 0 = NaN in both
    out.append(Case("all-ignored-mean", (x, np.full((2, 3, 2), -100)), {}, grad=(0,)))
    cases = list(with_dtypes(out))
    cases += list(with_dtypes(out[6:8], ("bfloat16",)))
    return cases


register(
    Component(
        name="functional.dice_loss",
        family="losses",
        jax_fn=dice_loss,
        torch_fn=torch_dice_loss,
        cases=_dice_cases,
    )
)
register(
    Component(
        name="functional.sigmoid_focal_loss",
        family="losses",
        jax_fn=sigmoid_focal_loss,
        torch_fn=torch_sigmoid_focal_loss,
        cases=_sigmoid_focal_cases,
    )
)
register(
    Component(
        name="functional.softmax_focal_loss",
        family="losses",
        jax_fn=softmax_focal_loss,
        torch_fn=torch_softmax_focal_loss,
        cases=_softmax_focal_cases,
    )
)
