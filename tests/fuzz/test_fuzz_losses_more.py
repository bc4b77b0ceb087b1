"""Differential fuzzing of the margin, embedding, CTC and chunked losses against torch, and of the
tutorial extras (dice, focal) against numpy references.

Documented differences from torch are checked where they apply (``deliberate=``): CTC refuses
targets out of range or equal to ``blank`` (torch on CPU does not check), and ``soft_margin_loss``
is finite where torch's ``log(1 + exp(-y x))`` overflows.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from _strategies import (
    DIM,
    DTYPES,
    JIT,
    REDUCTIONS,
    SEEDS,
    VALUE_KINDS,
    Drawn,
    close,
    compare,
    fuzz,
    probs,
    record,
    shapes,
    values,
)
from hypothesis import given
from hypothesis import strategies as st

import jloss
import jloss.functional as F
from jloss.losses._linear_ce import LinearCrossEntropyOptions
from jloss.parity._harness import Case, Pair
from jloss.parity.cases.losses_classification import _torch_linear_ce
from jloss.parity.cases.losses_segmentation import (
    torch_sigmoid_focal_loss,
    torch_softmax_focal_loss,
)

TF = torch.nn.functional
SIGNS = st.sampled_from(["pm1", "pm1", "pm1", "other"])


def _signs(draw, r, shape):
    y = np.where(r.random(shape) < 0.5, -1.0, 1.0)
    if draw(SIGNS) == "other" and y.size:
        y.reshape(-1)[0] = draw(st.sampled_from([0.0, 2.0, 0.5]))
    return y


def _vec_shape(draw, batched=None):
    """(N, D) or unbatched (D,)."""
    d = draw(st.sampled_from([1, 2, 3, 4]))
    if batched is False or (batched is None and draw(st.integers(0, 3)) == 0):
        return (d,)
    return (draw(DIM), d)


# ---- margin losses ------------------------------------------------------------------------------


@st.composite
def margin_ranking(draw):
    r = np.random.default_rng(draw(SEEDS))
    shape = draw(shapes(0, 3))
    s2 = tuple(1 if draw(st.integers(0, 4)) == 0 else d for d in shape)
    x1, x2 = values(r, shape, draw(VALUE_KINDS)), values(r, s2, draw(VALUE_KINDS))
    kw = {"margin": draw(st.sampled_from([0.0, 0.5, -0.5, 2.0])), "reduction": draw(REDUCTIONS)}
    case = Case("margin_ranking_loss", (x1, x2, _signs(draw, r, shape)), kw, grad=(0, 1, 2), dtype=draw(DTYPES))
    return Drawn(case, draw(JIT))


@st.composite
def hinge(draw):
    r = np.random.default_rng(draw(SEEDS))
    shape = draw(shapes(0, 3))
    kw = {"margin": draw(st.sampled_from([1.0, 0.0, 2.5, -1.0])), "reduction": draw(REDUCTIONS)}
    case = Case("hinge_embedding_loss", (values(r, shape, draw(VALUE_KINDS)), _signs(draw, r, shape)), kw,
                grad=(0, 1), dtype=draw(DTYPES))
    return Drawn(case, draw(JIT))


@st.composite
def soft_margin(draw):
    r = np.random.default_rng(draw(SEEDS))
    shape = draw(shapes(0, 3))
    x = values(r, shape, draw(st.sampled_from(["normal", "large", "tiny", "zeros", "nonfinite"])),
               scale=draw(st.sampled_from([1.0, 100.0, 1000.0])))
    # torch refuses a target that requires grad here
    case = Case("soft_margin_loss", (x, _signs(draw, r, shape)), {"reduction": draw(REDUCTIONS)},
                grad=(0,), dtype=draw(DTYPES))
    return Drawn(case, draw(JIT))


def soft_margin_overflow(case: Case) -> bool:
    """Deliberate: where torch's ``log(1 + exp(z))``, ``z = -y x``, overflows (its value or its
    gradient ``-y exp(z) / (1 + exp(z))`` is inf / NaN while the exact one is finite), jloss is finite
    and equals the stable ``max(z, 0) + log1p(exp(-|z|))``, gradient ``-y sigmoid(z)`` (float64 here)."""
    x, y = case.args
    ref_dt = np.dtype("float32" if case.dtype in ("bfloat16", "float16") else case.dtype)
    xt = torch.tensor(np.asarray(x, ref_dt), requires_grad=True)
    lt = TF.soft_margin_loss(xt, torch.tensor(np.asarray(y, ref_dt)), reduction="none")
    (gt,) = torch.autograd.grad(lt.sum(), xt)
    xr = np.asarray(jnp.asarray(x, case.dtype).astype(jnp.float64))
    z = -y * xr
    stable = np.logaddexp(0.0, z)
    with np.errstate(over="ignore", invalid="ignore"):
        sgrad = -y * np.where(z >= 0, 1 / (1 + np.exp(-z)), np.exp(z) / (1 + np.exp(z)))
    bad = (~np.isfinite(lt.detach().numpy()) & np.isfinite(stable)) | (~np.isfinite(gt.numpy()) & np.isfinite(sgrad))
    if not np.any(bad):
        return False
    red = case.kwargs["reduction"]
    ref = {"none": stable, "mean": np.mean(stable) if stable.size else np.nan, "sum": np.sum(stable)}[red]
    xj, yj = jnp.asarray(x, case.dtype), jnp.asarray(y, case.dtype)
    ours = np.asarray(F.soft_margin_loss(xj, yj, reduction=red).astype(jnp.float64))
    assert close(ours, np.asarray(ref, np.float64), case.dtype), (ours, ref)
    g = jax.grad(lambda a: jnp.sum(F.soft_margin_loss(a, yj, reduction="none").astype(jnp.float32)))(xj)
    assert close(np.asarray(g.astype(jnp.float64)), sgrad, case.dtype), (g, sgrad)
    return True


@st.composite
def multilabel_soft(draw):
    r = np.random.default_rng(draw(SEEDS))
    shape = _vec_shape(draw)
    kw: dict = {"reduction": draw(REDUCTIONS)}
    if draw(st.booleans()):
        kw["weight"] = r.uniform(0, 2, shape[-1:])
    y = np.round(r.uniform(0, 1, shape)) if draw(st.booleans()) else r.uniform(0, 1, shape)
    case = Case("multilabel_soft_margin_loss", (values(r, shape, draw(VALUE_KINDS)) * 3, y), kw,
                grad=(0, 1), dtype=draw(DTYPES))
    return Drawn(case, draw(JIT))


@st.composite
def multilabel_margin(draw):
    r = np.random.default_rng(draw(SEEDS))
    shape = _vec_shape(draw)
    c = shape[-1]
    t = r.integers(0, c, shape)
    flat = t.reshape(-1, c)
    for row in flat:  # -1 ends each row's label list (sometimes at 0: no labels)
        k = r.integers(0, c + 1)
        if k < c:
            row[k] = -1
    if draw(st.integers(0, 6)) == 0 and t.size:
        t.reshape(-1)[0] = draw(st.sampled_from([c, c + 2, -3]))  # out of range: both raise
    case = Case("multilabel_margin_loss", (values(r, shape, draw(VALUE_KINDS)), t), {"reduction": draw(REDUCTIONS)},
                grad=(0,), dtype=draw(DTYPES))
    return Drawn(case, draw(JIT))


@st.composite
def multi_margin(draw):
    r = np.random.default_rng(draw(SEEDS))
    shape = _vec_shape(draw)
    c = shape[-1]
    t = r.integers(0, c, shape[:-1])
    if draw(st.integers(0, 6)) == 0 and t.size:
        t.reshape(-1)[0] = draw(st.sampled_from([c, -1]))
    kw: dict = {"p": draw(st.sampled_from([1, 2, 1, 3])), "margin": draw(st.sampled_from([1.0, 0.0, 0.3, -1.0])),
                "reduction": draw(REDUCTIONS)}
    if draw(st.booleans()):
        kw["weight"] = r.uniform(0, 2, (c,))
    case = Case("multi_margin_loss", (values(r, shape, draw(VALUE_KINDS)), t), kw, grad=(0,), dtype=draw(DTYPES))
    return Drawn(case, draw(JIT))


def empty_batch_reduced(case: Case) -> bool:
    """Deliberate: multi_margin_loss / multilabel_margin_loss reduced over an empty batch (N = 0) give
    NaN ('mean') and 0 ('sum') in jloss, like every other loss; torch's CPU kernels return an
    uninitialized value there (e.g. 6.9e-310, different from call to call)."""
    x = case.args[0]
    red = case.kwargs["reduction"]
    if not (x.ndim == 2 and x.shape[0] == 0 and red != "none"):
        return False
    out = float(getattr(F, case.name)(jnp.asarray(x, case.dtype), jnp.asarray(case.args[1]),
                                      **{k: v for k, v in case.kwargs.items() if k != "weight"}))
    assert np.isnan(out) if red == "mean" else out == 0.0, out
    return True


# ---- embedding losses and distances ------------------------------------------------------------


def _embeddings(draw, r, shape, n: int, tiny: bool = True):
    """``n`` arrays of ``shape``, sometimes with zero vectors or exact copies of each other.

    ``tiny=False`` for cosines: there a gradient that is 0 in exact arithmetic (parallel vectors)
    is the difference of terms of size 1/|x|, so at |x| ~ 1e-6 rounding in the last bit of
    either framework is ~1e-10 in absolute terms, above the float64 floor of rel_error."""
    kind = draw(VALUE_KINDS)
    while kind == "tiny" and not tiny:
        kind = "normal"
    xs = [values(r, shape, kind) for _ in range(n)]
    edge = draw(st.sampled_from(["none", "none", "zero-rows", "equal"]))
    if edge == "zero-rows" and xs[0].size:
        i = draw(st.integers(0, n - 1))
        xs[i] = np.where(r.random(shape[:-1] + (1,)) < 0.5, 0.0, xs[i])
    elif edge == "equal":
        xs[1] = xs[0].copy()
    return xs


@st.composite
def cosine_embedding(draw):
    r = np.random.default_rng(draw(SEEDS))
    shape = _vec_shape(draw)
    x1, x2 = _embeddings(draw, r, shape, 2, tiny=False)
    kw = {"margin": draw(st.sampled_from([0.0, 0.5, -0.5])), "reduction": draw(REDUCTIONS)}
    case = Case("cosine_embedding_loss", (x1, x2, _signs(draw, r, shape[:-1])), kw, grad=(0, 1),
                dtype=draw(DTYPES))
    return Drawn(case, draw(JIT))


@st.composite
def triplet(draw):
    r = np.random.default_rng(draw(SEEDS))
    a, p, n = _embeddings(draw, r, _vec_shape(draw), 3)
    kw = {"margin": draw(st.sampled_from([1.0, 0.0, 0.5])), "p": draw(st.sampled_from([2, 1, 3, 1.5])),
          "eps": draw(st.sampled_from([1e-6, 0.0, 0.1])), "swap": draw(st.booleans()), "reduction": draw(REDUCTIONS)}
    return Drawn(Case("triplet_margin_loss", (a, p, n), kw, grad=(0, 1, 2), dtype=draw(DTYPES)), draw(JIT))


DISTANCES = {
    "default": None,
    "l1": Pair(lambda a, b: F.pairwise_distance(a, b, p=1.0), lambda a, b: TF.pairwise_distance(a, b, p=1.0)),
    "cosine": Pair(lambda a, b: 1.0 - F.cosine_similarity(a, b, dim=-1),
                   lambda a, b: 1.0 - TF.cosine_similarity(a, b, dim=-1)),
}


@st.composite
def triplet_distance(draw):
    r = np.random.default_rng(draw(SEEDS))
    dist = draw(st.sampled_from(sorted(DISTANCES)))
    a, p, n = _embeddings(draw, r, _vec_shape(draw), 3, tiny=dist != "cosine")
    kw = {"distance_function": DISTANCES[dist],
          "margin": draw(st.sampled_from([1.0, 0.5, 0.0, -1.0])), "swap": draw(st.booleans()),
          "reduction": draw(REDUCTIONS)}
    return Drawn(Case("triplet_margin_with_distance_loss", (a, p, n), kw, grad=(0, 1, 2), dtype=draw(DTYPES)),
                 draw(JIT))


@st.composite
def pairwise(draw):
    r = np.random.default_rng(draw(SEEDS))
    shape = _vec_shape(draw)
    s2 = shape if draw(st.integers(0, 3)) else (1, shape[-1])
    x1, x2 = _embeddings(draw, r, shape, 2)
    if s2 != shape:
        x2 = values(r, s2)
    kw = {"p": draw(st.sampled_from([2.0, 1.0, 3.0, 0.0, 0.5, float("inf")])),
          "eps": draw(st.sampled_from([1e-6, 0.0])), "keepdim": draw(st.booleans())}
    return Drawn(Case("pairwise_distance", (x1, x2), kw, grad=(0, 1), dtype=draw(DTYPES)), draw(JIT))


@st.composite
def cosine(draw):
    r = np.random.default_rng(draw(SEEDS))
    shape = draw(shapes(1, 3))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    x1, x2 = _embeddings(draw, r, shape, 2, tiny=False)
    if draw(st.integers(0, 3)) == 0:
        x2 = values(r, tuple(1 if draw(st.booleans()) else d for d in shape))
    kw = {"dim": dim, "eps": draw(st.sampled_from([1e-8, 0.0, 0.5]))}
    return Drawn(Case("cosine_similarity", (x1, x2), kw, grad=(0, 1), dtype=draw(DTYPES)), draw(JIT))


# ---- CTC --------------------------------------------------------------------------------------


@st.composite
def ctc(draw):
    r = np.random.default_rng(draw(SEEDS))
    T, C = draw(st.integers(1, 6)), draw(st.integers(2, 5))
    batched = draw(st.integers(0, 4)) > 0
    N = draw(st.integers(1, 3)) if batched else 1
    blank = draw(st.integers(0, C - 1))
    tl = r.integers(0, 5, N)  # long targets in few frames: impossible alignments
    labels = r.integers(0, C - 1, (N, max(int(tl.max()), 1)))
    labels = labels + (labels >= blank)
    if draw(st.integers(0, 3)) == 0:  # repeated labels need a blank between them
        labels[:, 1:] = labels[:, :1]
    bad = draw(st.sampled_from(["none"] * 8 + ["blank", "range", "input_len", "target_len"]))
    if bad == "blank" and tl.max() > 0:
        labels[int(np.argmax(tl)), 0] = blank
    elif bad == "range" and tl.max() > 0:
        labels[int(np.argmax(tl)), 0] = draw(st.sampled_from([C, -1]))
    il = r.integers(0, T + 1, N)
    if bad == "input_len":
        il[0] = T + 1
    concat = draw(st.booleans())
    tg = np.concatenate([row[:n] for row, n in zip(labels, tl, strict=True)]) if concat else labels
    if bad == "target_len":
        tl = tl.copy()
        tl[0] = -1 if concat else labels.shape[1] + 1
    x = values(r, (T, N, C) if batched else (T, C), draw(st.sampled_from(["normal", "normal", "zeros", "large"])))
    x = np.clip(x, -50, 50)
    if draw(st.booleans()):  # normalized log-probabilities, sometimes with -inf entries
        x = x - np.log(np.sum(np.exp(x), axis=-1, keepdims=True))
        if draw(st.integers(0, 4)) == 0:
            x.reshape(-1)[0] = -np.inf
    if not batched:
        tg = tg.reshape(-1) if concat else tg[0]
        il, tl = il.reshape(()), tl.reshape(())
    kw = {"blank": blank, "reduction": draw(REDUCTIONS), "zero_infinity": draw(st.booleans())}
    dtype = draw(st.sampled_from(["float64", "float64", "float32", "bfloat16"]))
    return Drawn(Case("ctc_loss", (x, tg.astype(np.int64), il, tl), kw, grad=(0,), dtype=dtype), draw(JIT))


def ctc_bad_targets(case: Case) -> bool:
    """Deliberate: a target label that is ``blank`` or outside [0, C) is a ValueError in jloss
    (eagerly and under ``jloss.checked``); torch on CPU does not check (it reads out of bounds,
    or uses ``blank`` as a label)."""
    x, tg, il, tl = case.args
    C, blank = x.shape[-1], case.kwargs["blank"]
    tl_ = np.atleast_1d(tl)
    if np.any(tl_ < 0) or (tg.ndim == 1 and tl_.sum() != tg.size and x.ndim == 3):
        return False  # torch refuses these itself
    rows = np.split(tg, np.cumsum(tl_)[:-1]) if (tg.ndim == 1 and x.ndim == 3) else list(np.atleast_2d(tg))
    used = [row[:n] for row, n in zip(rows, tl_, strict=False)]
    if not any(np.any((u < 0) | (u >= C) | (u == blank)) for u in used):
        return False
    xs = jnp.asarray(x, case.dtype)
    for fn in (F.ctc_loss, jloss.checked(F.ctc_loss)):
        with pytest.raises(ValueError, match="targets must be class indices"):
            fn(xs, jnp.asarray(tg), jnp.asarray(il), jnp.asarray(tl), **case.kwargs)
    return True


# ---- linear_cross_entropy -----------------------------------------------------------------------


@st.composite
def linear_ce(draw):
    r = np.random.default_rng(draw(SEEDS))
    n, fin, c = draw(DIM), draw(st.sampled_from([1, 3, 4])), draw(st.sampled_from([1, 2, 5]))
    batched = draw(st.integers(0, 3)) > 0
    kdims = (draw(st.sampled_from([1, 2])),) if batched and draw(st.integers(0, 3)) == 0 else ()
    h = values(r, (n, fin) if batched else (fin,), draw(VALUE_KINDS))
    lw = values(r, (c, *kdims, fin))
    lshape = (n, c, *kdims) if batched else (c,)
    kw: dict = {"reduction": draw(REDUCTIONS), "label_smoothing": draw(st.sampled_from([0.0, 0.0, 0.2, 1.0]))}
    grad: tuple = (0, 1)
    if draw(st.booleans()):
        kw["linear_bias"] = values(r, (c, *kdims))
        grad += ("linear_bias",)
    if draw(st.booleans()):
        kw["weight"] = r.uniform(0, 2, c)
    if draw(st.integers(0, 3)) == 0:
        y = probs(r, lshape, 1 if batched else 0, hard=draw(st.booleans()))
        grad += (2,) + (("weight",) if "weight" in kw else ())
    else:
        ii = draw(st.sampled_from([None, None, -100, 0]))
        if ii is not None:
            kw["ignore_index"] = ii
        y = r.integers(0, c, (n, *kdims) if batched else ())
        if y.size and draw(st.booleans()):
            y.reshape(-1)[r.random(y.size) < 0.5] = -100 if ii is None else ii
    if draw(st.booleans()):
        kw["options"] = LinearCrossEntropyOptions(batch_chunk_size=draw(st.sampled_from([1, 2, 3])),
                                                  chunking_method=None)
    return Drawn(Case("linear_cross_entropy", (h, lw, y), kw, grad=grad, dtype=draw(DTYPES)), draw(JIT))


# ---- the tutorial extras (numpy references) ------------------------------------------------------


def _np_reduce(loss, reduction):
    return {"none": lambda v: v, "mean": np.mean, "sum": np.sum}[reduction](loss)


def _np_sigmoid(x):
    return 0.5 * (1 + np.tanh(0.5 * x))


def np_dice(x, t, smooth=1.0, reduction="mean", *, from_logits=True):
    p = _np_sigmoid(x) if from_logits else x
    n, m = p.shape[0], int(np.prod(p.shape[1:]))
    p, t = p.reshape(n, m), t.reshape(n, m).astype(np.float64)
    d = (2 * (p * t).sum(1) + smooth) / (p.sum(1) + t.sum(1) + smooth)
    return _np_reduce(1 - d, reduction)


def np_sigmoid_focal(x, t, alpha=0.25, gamma=2, reduction="none"):
    p = _np_sigmoid(x)
    ce = np.logaddexp(0, x) - t * x
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
    return _np_reduce(loss, reduction)


def np_softmax_focal(x, t, weight=None, gamma=2.0, ignore_index=-100, reduction="mean"):
    ax = 0 if x.ndim == 1 else 1
    lp = x - np.max(x, axis=ax, keepdims=True)
    lp = lp - np.log(np.sum(np.exp(lp), axis=ax, keepdims=True))
    f = (1 - np.exp(lp)) ** gamma * lp
    if x.ndim == 1:
        f, t = f[None], np.reshape(t, (1,))
    c = f.shape[1]
    valid = t != ignore_index
    ts = np.where(valid, t, 0)
    picked = np.take_along_axis(f, np.expand_dims(ts, 1), 1)[:, 0]
    w = np.ones(c) if weight is None else weight
    wt = np.where(valid, w[ts], 0.0)
    loss = -picked * wt
    if reduction == "none":
        return loss[0] if x.ndim == 1 else loss
    return loss.sum() / wt.sum() if reduction == "mean" else loss.sum()


@st.composite
def dice(draw):
    r = np.random.default_rng(draw(SEEDS))
    shape = (draw(DIM), *draw(shapes(0, 3)))
    logits = draw(st.booleans())
    x = values(r, shape, draw(VALUE_KINDS)) if logits else r.uniform(0, 1, shape)
    t = np.round(r.uniform(0, 1, shape)) if draw(st.booleans()) else r.uniform(0, 1, shape)
    kw = {"smooth": draw(st.sampled_from([1.0, 0.0, 0.5])), "reduction": draw(REDUCTIONS), "from_logits": logits}
    return Drawn(Case("dice_loss", (x, t), kw, grad=(0, 1), dtype=draw(DTYPES)), draw(JIT))


@st.composite
def sigmoid_focal(draw):
    r = np.random.default_rng(draw(SEEDS))
    shape = draw(shapes(0, 3))
    t = np.round(r.uniform(0, 1, shape)) if draw(st.booleans()) else r.uniform(0, 1, shape)
    kw = {"alpha": draw(st.sampled_from([0.25, -1.0, 0.0, 0.9])), "gamma": draw(st.sampled_from([2, 0, 1.5, 3])),
          "reduction": draw(REDUCTIONS)}
    x = values(r, shape, draw(VALUE_KINDS), scale=2.0)
    return Drawn(Case("sigmoid_focal_loss", (x, t), kw, grad=(0, 1), dtype=draw(DTYPES)), draw(JIT))


@st.composite
def softmax_focal(draw):
    r = np.random.default_rng(draw(SEEDS))
    c = draw(st.sampled_from([1, 2, 4]))
    shape = draw(st.sampled_from([(c,), (draw(DIM), c), (draw(DIM), c, draw(DIM))]))
    t = r.integers(0, c, () if len(shape) == 1 else (shape[0], *shape[2:]))
    ii = draw(st.sampled_from([-100, 0]))
    if t.size and draw(st.booleans()):
        t.reshape(-1)[r.random(t.size) < 0.5] = ii
    kw: dict = {"gamma": draw(st.sampled_from([2.0, 0.0, 1.5])), "ignore_index": ii, "reduction": draw(REDUCTIONS)}
    if draw(st.booleans()):
        kw["weight"] = r.uniform(0.1, 2, c)
    x = values(r, shape, draw(st.sampled_from(["normal", "normal", "zeros", "tiny"])), scale=2.0)
    return Drawn(Case("softmax_focal_loss", (x, t), kw, grad=(0,), dtype=draw(DTYPES)), draw(JIT))


def torch_dice(input, target, smooth=1.0, reduction="mean", *, from_logits=True):
    """The parity reference's formula (tutorial 003's DiceLoss per sample) with the flattening
    spelled out, so that an empty batch works (torch's ``reshape(0, -1)`` is ambiguous)."""
    p = torch.sigmoid(input) if from_logits else input
    n, m = input.shape[0], math.prod(input.shape[1:])
    p, t = p.reshape(n, m), target.reshape(n, m).to(p.dtype)
    d = (2.0 * (p * t).sum(1) + smooth) / (p.sum(1) + t.sum(1) + smooth)
    loss = 1 - d
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


NUMPY_REFS = {"dice_loss": np_dice, "sigmoid_focal_loss": np_sigmoid_focal, "softmax_focal_loss": np_softmax_focal}


def numpy_reference(case: Case) -> bool:
    """The extras' value against a float64 numpy formula (the torch-primitive reference then
    checks value and gradient through the harness); never a deliberate difference."""
    if case.dtype != "float64" or not all(np.all(np.isfinite(a)) for a in case.args if isinstance(a, np.ndarray)):
        return False
    ours = np.asarray(getattr(F, case.name)(*[jnp.asarray(a) for a in case.args], **case.kwargs))
    with np.errstate(all="ignore"):
        ref = np.asarray(NUMPY_REFS[case.name](*case.args, **case.kwargs), np.float64)
    assert close(ours, ref, "float64"), (case.name, ours, ref)
    record(case.name + "[numpy]", "match")
    return False


LOSSES = {
    "margin_ranking_loss": (margin_ranking(), F.margin_ranking_loss, TF.margin_ranking_loss, None),
    "hinge_embedding_loss": (hinge(), F.hinge_embedding_loss, TF.hinge_embedding_loss, None),
    "soft_margin_loss": (soft_margin(), F.soft_margin_loss, TF.soft_margin_loss, soft_margin_overflow),
    "multilabel_soft_margin_loss": (multilabel_soft(), F.multilabel_soft_margin_loss,
                                    TF.multilabel_soft_margin_loss, None),
    "multilabel_margin_loss": (multilabel_margin(), F.multilabel_margin_loss, TF.multilabel_margin_loss,
                               empty_batch_reduced),
    "multi_margin_loss": (multi_margin(), F.multi_margin_loss, TF.multi_margin_loss, empty_batch_reduced),
    "cosine_embedding_loss": (cosine_embedding(), F.cosine_embedding_loss, TF.cosine_embedding_loss, None),
    "triplet_margin_loss": (triplet(), F.triplet_margin_loss, TF.triplet_margin_loss, None),
    "triplet_margin_with_distance_loss": (triplet_distance(), F.triplet_margin_with_distance_loss,
                                          TF.triplet_margin_with_distance_loss, None),
    "pairwise_distance": (pairwise(), F.pairwise_distance, TF.pairwise_distance, None),
    "cosine_similarity": (cosine(), F.cosine_similarity, TF.cosine_similarity, None),
    "ctc_loss": (ctc(), F.ctc_loss, TF.ctc_loss, ctc_bad_targets),
    "linear_cross_entropy": (linear_ce(), F.linear_cross_entropy, _torch_linear_ce(torch), None),
    "dice_loss": (dice(), F.dice_loss, torch_dice, numpy_reference),
    "sigmoid_focal_loss": (sigmoid_focal(), F.sigmoid_focal_loss, torch_sigmoid_focal_loss(torch), numpy_reference),
    "softmax_focal_loss": (softmax_focal(), F.softmax_focal_loss, torch_softmax_focal_loss(torch), numpy_reference),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
@fuzz(default=3, long=300)
@given(data=st.data())
def test_fuzz_loss(name, data):
    strategy, jfn, tfn, deliberate = LOSSES[name]
    d = data.draw(strategy)
    compare(name, jfn, tfn, d.case, jit=d.jit, deliberate=deliberate)
