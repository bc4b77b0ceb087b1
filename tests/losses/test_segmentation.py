"""dice_loss, sigmoid_focal_loss, softmax_focal_loss: hand computations, torch-composed references,
bad input, jit / grad / vmap."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from jloss._checks import checked
from jloss.losses._segmentation import dice_loss, sigmoid_focal_loss, softmax_focal_loss

RNG = np.random.default_rng(1234)


def _t(x):
    return torch.from_numpy(np.array(x, copy=True))


# ---- dice_loss -------------------------------------------------------------------------------


class TutorialDiceLoss(torch.nn.Module):
    """The DiceLoss class of tutorial 003, verbatim apart from F.sigmoid -> torch.sigmoid."""

    def __init__(self, weight=None, size_average=True):
        super().__init__()

    def forward(self, inputs, targets, smooth=1):
        inputs = torch.sigmoid(inputs)
        inputs = inputs.view(-1)
        targets = targets.view(-1)
        intersection = (inputs * targets).sum()
        dice = (2.0 * intersection + smooth) / (inputs.sum() + targets.sum() + smooth)
        return 1 - dice


def test_dice_by_hand():
    p = np.array([[0.5, 0.5], [1.0, 0.0]])
    y = np.array([[1.0, 0.0], [1.0, 0.0]])
    # sample 0: (2*0.5 + 1) / (1 + 1 + 1) = 2/3; sample 1: (2 + 1) / (1 + 1 + 1) = 1
    out = dice_loss(p, y, from_logits=False, reduction="none")
    np.testing.assert_allclose(out, [1 / 3, 0.0], rtol=1e-15, atol=1e-15)
    assert float(dice_loss(p, y, from_logits=False)) == pytest.approx(1 / 6, rel=1e-15)
    assert float(dice_loss(p, y, from_logits=False, reduction="sum")) == pytest.approx(1 / 3, rel=1e-15)
    # smooth=0, sample 0: 1 - 1/2
    out0 = dice_loss(p, y, smooth=0.0, from_logits=False, reduction="none")
    np.testing.assert_allclose(out0, [0.5, 0.0], rtol=1e-15, atol=1e-15)
    # default from_logits=True applies the sigmoid: logits 0 -> p = 1/2
    np.testing.assert_allclose(dice_loss(np.zeros((1, 2)), np.array([[1.0, 0.0]])), 1 - 2 / 3, rtol=1e-15)


def test_dice_matches_the_tutorial_class():
    x = RNG.standard_normal((3, 2, 4, 4))
    y = (RNG.uniform(size=x.shape) < 0.3).astype(np.float64)
    ref = TutorialDiceLoss()(_t(x), _t(y)).item()
    # the tutorial flattens the whole batch into one sample
    assert float(dice_loss(x.reshape(1, -1), y.reshape(1, -1))) == pytest.approx(ref, rel=1e-14)
    # per sample: the tutorial's loss of each sample, averaged
    per = [TutorialDiceLoss()(_t(x[i : i + 1]), _t(y[i : i + 1])).item() for i in range(3)]
    np.testing.assert_allclose(dice_loss(x, y, reduction="none"), per, rtol=1e-14)
    assert float(dice_loss(x, y)) == pytest.approx(np.mean(per), rel=1e-14)
    # smooth passed as the tutorial passes it to forward
    ref2 = TutorialDiceLoss()(_t(x[:1]), _t(y[:1]), smooth=0.25).item()
    assert float(dice_loss(x[:1], y[:1], smooth=0.25)) == pytest.approx(ref2, rel=1e-14)


def test_dice_grad_matches_tutorial_class():
    x = RNG.standard_normal((1, 10))
    y = RNG.uniform(size=(1, 10))
    xt, yt = _t(x).requires_grad_(), _t(y).requires_grad_()
    TutorialDiceLoss()(xt, yt).backward()
    gx, gy = jax.grad(lambda a, b: dice_loss(a, b), argnums=(0, 1))(jnp.asarray(x), jnp.asarray(y))
    np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-13)
    np.testing.assert_allclose(gy, yt.grad.numpy(), rtol=1e-13)


def test_dice_target_dtypes_and_output_dtype():
    x = RNG.standard_normal((2, 5)).astype(np.float32)
    m = RNG.uniform(size=(2, 5)) < 0.5
    a = dice_loss(x, m)
    b = dice_loss(x, m.astype(np.int32))
    c = dice_loss(x, m.astype(np.float32))
    assert a.dtype == b.dtype == c.dtype == jnp.float32
    np.testing.assert_allclose(a, c, rtol=1e-7)
    np.testing.assert_allclose(b, c, rtol=1e-7)
    assert dice_loss(x, m.astype(np.float64)).dtype == jnp.float64
    assert dice_loss(jnp.asarray(x, jnp.bfloat16), m).dtype == jnp.bfloat16


def test_dice_bad_input():
    x, y = np.zeros((2, 3)), np.zeros((2, 3))
    with pytest.raises(ValueError, match="dice_loss: reduction must be one of"):
        dice_loss(x, y, reduction="avg")
    with pytest.raises(ValueError, match=r"dice_loss: smooth must be >= 0, got -1.0"):
        dice_loss(x, y, smooth=-1.0)
    with pytest.raises(TypeError, match="dice_loss: smooth must be a real number, got str"):
        dice_loss(x, y, smooth="1")
    with pytest.raises(TypeError, match="dice_loss: from_logits must be a bool"):
        dice_loss(x, y, from_logits=1)
    with pytest.raises(TypeError, match="dice_loss: input must have a floating dtype"):
        dice_loss(np.zeros((2, 3), np.int32), y)
    with pytest.raises(TypeError, match="dice_loss: target must have a real or boolean dtype"):
        dice_loss(x, np.zeros((2, 3), np.complex64))
    with pytest.raises(ValueError, match=r"dice_loss: input must be at least 1-dimensional .* got shape \(\)"):
        dice_loss(np.float64(0.0), np.float64(0.0))
    with pytest.raises(ValueError, match=r"dice_loss: target must have the same shape as input \(2, 3\), got \(3,\)"):
        dice_loss(x, np.zeros(3))


def test_dice_jit_grad_vmap():
    x = jnp.asarray(RNG.standard_normal((4, 2, 3)))
    y = jnp.asarray((RNG.uniform(size=(4, 2, 3)) < 0.5).astype(np.float64))
    f = jax.jit(lambda a, b: dice_loss(a, b, smooth=0.5, reduction="sum"))
    assert float(f(x, y)) == pytest.approx(float(dice_loss(x, y, smooth=0.5, reduction="sum")), rel=1e-14)
    g = jax.grad(lambda a: dice_loss(a, y))(x)
    assert g.shape == x.shape and bool(jnp.all(jnp.isfinite(g)))
    # finite differences on one coordinate
    e = jnp.zeros_like(x).at[1, 0, 2].set(1e-6)
    fd = (dice_loss(x + e, y) - dice_loss(x - e, y)) / 2e-6
    assert float(g[1, 0, 2]) == pytest.approx(float(fd), rel=1e-6)
    xs = jnp.asarray(RNG.standard_normal((3, 4, 2, 3)))
    v = jax.vmap(lambda a: dice_loss(a, y, reduction="none"))(xs)
    np.testing.assert_allclose(v, np.stack([dice_loss(a, y, reduction="none") for a in xs]), rtol=1e-14)


# ---- sigmoid_focal_loss ----------------------------------------------------------------------


def torchvision_sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction="none"):
    """torchvision/ops/focal_loss.py's formula, written with torch ops (torchvision is not installed)."""
    p = torch.sigmoid(inputs)
    ce_loss = torch.nn.functional.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    if reduction == "mean":
        loss = loss.mean()
    elif reduction == "sum":
        loss = loss.sum()
    return loss


def test_sigmoid_focal_by_hand():
    log2 = math.log(2.0)
    # x = 0: p = 1/2, ce = log 2, 1 - p_t = 1/2 for either label
    out = sigmoid_focal_loss(np.zeros(2), np.array([1.0, 0.0]))
    np.testing.assert_allclose(out, [0.25 * log2 / 4, 0.75 * log2 / 4], rtol=1e-15)
    out = sigmoid_focal_loss(np.zeros(2), np.array([1.0, 0.0]), alpha=-1)
    np.testing.assert_allclose(out, [log2 / 4, log2 / 4], rtol=1e-15)
    # gamma = 0, alpha < 0 is plain BCE-with-logits: x = 2, y = 1 -> log(1 + e^-2)
    assert float(sigmoid_focal_loss(np.array(2.0), np.array(1.0), alpha=-1, gamma=0)) == pytest.approx(
        math.log1p(math.exp(-2.0)), rel=1e-15
    )
    # defaults: reduction 'none' keeps the shape
    assert sigmoid_focal_loss(np.zeros((2, 3)), np.ones((2, 3))).shape == (2, 3)
    assert float(sigmoid_focal_loss(np.zeros(2), np.array([1.0, 0.0]), reduction="sum")) == pytest.approx(
        log2 / 4, rel=1e-15
    )


@pytest.mark.parametrize("alpha,gamma,reduction", [(0.25, 2, "none"), (-1, 2, "mean"), (0.6, 1.5, "sum"), (0.25, 0, "mean")])
def test_sigmoid_focal_against_torchvision_formula(alpha, gamma, reduction):
    x = RNG.standard_normal((3, 5)) * 3
    y = (RNG.uniform(size=(3, 5)) < 0.5).astype(np.float64)
    xt = _t(x).requires_grad_()
    ref = torchvision_sigmoid_focal_loss(xt, _t(y), alpha, gamma, reduction)
    ct = np.asarray(RNG.standard_normal(tuple(ref.shape)))
    (gt,) = torch.autograd.grad(ref, xt, _t(ct))
    out, vjp = jax.vjp(lambda a: sigmoid_focal_loss(a, y, alpha, gamma, reduction), jnp.asarray(x))
    np.testing.assert_allclose(out, ref.detach().numpy(), rtol=1e-13)
    np.testing.assert_allclose(vjp(jnp.asarray(ct))[0], gt.numpy(), rtol=1e-12, atol=1e-300)


def test_sigmoid_focal_is_finite_for_huge_logits():
    x = jnp.asarray([-1e4, -50.0, 50.0, 1e4], jnp.float32)
    y = jnp.asarray([1.0, 1.0, 0.0, 0.0], jnp.float32)
    out = sigmoid_focal_loss(x, y)
    g = jax.grad(lambda a: jnp.sum(sigmoid_focal_loss(a, y)))(x)
    assert bool(jnp.all(jnp.isfinite(out))) and bool(jnp.all(jnp.isfinite(g)))
    # fully wrong: p_t ~ 0, loss ~ alpha_t * |x|
    np.testing.assert_allclose(out, [0.25 * 1e4, 0.25 * 50, 0.75 * 50, 0.75 * 1e4], rtol=1e-6)


def test_sigmoid_focal_bad_input():
    x, y = np.zeros(3), np.zeros(3)
    with pytest.raises(ValueError, match="sigmoid_focal_loss: reduction must be one of"):
        sigmoid_focal_loss(x, y, reduction="batchmean")
    with pytest.raises(TypeError, match="sigmoid_focal_loss: alpha must be a real number, got NoneType"):
        sigmoid_focal_loss(x, y, alpha=None)
    with pytest.raises(TypeError, match="sigmoid_focal_loss: gamma must be a real number, got str"):
        sigmoid_focal_loss(x, y, gamma="2")
    with pytest.raises(TypeError, match="sigmoid_focal_loss: inputs must have a floating dtype"):
        sigmoid_focal_loss(np.zeros(3, np.int64), y)
    with pytest.raises(TypeError, match="sigmoid_focal_loss: targets must have a floating dtype"):
        sigmoid_focal_loss(x, np.zeros(3, np.int64))
    with pytest.raises(ValueError, match=r"sigmoid_focal_loss: targets must have the same shape as inputs \(3,\), got \(1, 3\)"):
        sigmoid_focal_loss(x, np.zeros((1, 3)))
    # torch refuses what jloss refuses
    with pytest.raises(ValueError):
        torch.nn.functional.binary_cross_entropy_with_logits(_t(x), _t(np.zeros((1, 3))))


def test_sigmoid_focal_jit_grad_vmap():
    x = jnp.asarray(RNG.standard_normal((4, 3)))
    y = jnp.asarray((RNG.uniform(size=(4, 3)) < 0.5).astype(np.float64))
    f = jax.jit(lambda a, b: sigmoid_focal_loss(a, b, reduction="mean"))
    assert float(f(x, y)) == pytest.approx(float(sigmoid_focal_loss(x, y, reduction="mean")), rel=1e-14)
    g = jax.grad(lambda a: sigmoid_focal_loss(a, y, reduction="sum"))(x)
    e = jnp.zeros_like(x).at[2, 1].set(1e-6)
    fd = (sigmoid_focal_loss(x + e, y, reduction="sum") - sigmoid_focal_loss(x - e, y, reduction="sum")) / 2e-6
    assert float(g[2, 1]) == pytest.approx(float(fd), rel=1e-6)
    # forward mode works (custom_jvp)
    _, t = jax.jvp(lambda a: sigmoid_focal_loss(a, y, reduction="sum"), (x,), (jnp.ones_like(x),))
    assert float(t) == pytest.approx(float(jnp.sum(g)), rel=1e-12)
    xs = jnp.asarray(RNG.standard_normal((3, 4, 3)))
    v = jax.vmap(lambda a: sigmoid_focal_loss(a, y, reduction="sum"))(xs)
    np.testing.assert_allclose(v, [sigmoid_focal_loss(a, y, reduction="sum") for a in xs], rtol=1e-14)


# ---- softmax_focal_loss ----------------------------------------------------------------------


def focal_reference(x, t, weight=None, gamma=2.0, ignore_index=-100, reduction="mean"):
    """-w_y (1 - p_y)^gamma log p_y, written out with torch ops and an explicit weighted mean."""
    dim = 0 if x.dim() == 1 else 1
    logp = torch.log_softmax(x, dim)
    if x.dim() == 1:
        logp, t = logp.unsqueeze(0), t.unsqueeze(0)
    logp = logp.movedim(1, -1).reshape(-1, logp.shape[1])
    tf = t.reshape(-1)
    valid = tf != ignore_index
    idx = torch.where(valid, tf, torch.zeros_like(tf))
    lp = logp.gather(1, idx[:, None])[:, 0]
    w = torch.ones(logp.shape[1], dtype=logp.dtype) if weight is None else weight
    wt = w[idx] * valid
    loss = -wt * (1 - lp.exp()) ** gamma * lp
    if reduction == "none":
        return loss.reshape(t.shape).squeeze(0) if x.dim() == 1 else loss.reshape(t.shape)
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / wt.sum()


def test_softmax_focal_by_hand():
    # two classes, equal logits: p = 1/2 -> (1/2)^2 * log 2
    log2 = math.log(2.0)
    assert float(softmax_focal_loss(np.zeros(2), np.array(0))) == pytest.approx(log2 / 4, rel=1e-15)
    assert float(softmax_focal_loss(np.zeros(2), np.array(0), gamma=1.0)) == pytest.approx(log2 / 2, rel=1e-15)
    # weighted mean: both rows have p_y = 1/2, with class weights 2 and 3
    x = np.array([[0.0, 0.0, -np.inf], [0.0, 0.0, math.log(2.0)]])
    t = np.array([1, 2])
    w = np.array([1.0, 2.0, 3.0])
    l0 = 2 * 0.25 * log2
    l1 = 3 * 0.25 * log2  # p = 1/2 for class 2 of row 1: e^{log 2} / (1 + 1 + 2)
    np.testing.assert_allclose(softmax_focal_loss(x, t, w, reduction="none"), [l0, l1], rtol=1e-15)
    assert float(softmax_focal_loss(x, t, w)) == pytest.approx((l0 + l1) / 5, rel=1e-15)
    assert float(softmax_focal_loss(x, t, w, reduction="sum")) == pytest.approx(l0 + l1, rel=1e-15)
    # an ignored target adds nothing to the sum nor to the denominator
    assert float(softmax_focal_loss(x, np.array([1, -100]), w)) == pytest.approx(l0 / 2, rel=1e-15)
    assert math.isnan(float(softmax_focal_loss(x, np.array([-100, -100]))))


@pytest.mark.parametrize(
    "shape,kwargs",
    [
        ((5,), {}),
        ((6, 5), {"reduction": "none"}),
        ((6, 5), {"weight": True, "gamma": 0.5}),
        ((2, 5, 3, 2), {"weight": True, "reduction": "sum", "gamma": 3.0}),
        ((2, 5, 3, 2), {"ignore_index": 2, "weight": True}),
    ],
)
def test_softmax_focal_against_reference(shape, kwargs):
    kwargs = dict(kwargs)
    x = RNG.standard_normal(shape) * 2
    tshape = () if len(shape) == 1 else (shape[0], *shape[2:])
    t = RNG.integers(0, 5, size=tshape)
    w = RNG.uniform(0.2, 2.0, 5)
    jkw = dict(kwargs, weight=w) if kwargs.pop("weight", False) else dict(kwargs)
    tkw = dict(kwargs, weight=_t(w)) if "weight" in jkw else dict(kwargs)
    xt = _t(x).requires_grad_()
    ref = focal_reference(xt, _t(t), **tkw)
    ct = np.asarray(RNG.standard_normal(tuple(ref.shape)))
    (gt,) = torch.autograd.grad(ref, xt, _t(ct))
    out, vjp = jax.vjp(lambda a: softmax_focal_loss(a, t, **jkw), jnp.asarray(x))
    np.testing.assert_allclose(out, ref.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(vjp(jnp.asarray(ct))[0], gt.numpy(), rtol=1e-11, atol=1e-14)


def test_softmax_focal_gamma_zero_is_cross_entropy():
    x = RNG.standard_normal((4, 3, 2))
    t = RNG.integers(0, 3, size=(4, 2))
    t[0, 0] = -100
    w = RNG.uniform(0.5, 2, 3)
    for red in ("none", "mean", "sum"):
        ref = torch.nn.functional.cross_entropy(_t(x), _t(t), weight=_t(w), reduction=red).numpy()
        np.testing.assert_allclose(softmax_focal_loss(x, t, w, gamma=0.0, reduction=red), ref, rtol=1e-13)


def test_softmax_focal_bad_input():
    x, t = np.zeros((3, 4)), np.zeros(3, np.int64)
    fn = "softmax_focal_loss"
    with pytest.raises(ValueError, match=f"{fn}: reduction must be one of"):
        softmax_focal_loss(x, t, reduction="elementwise")
    with pytest.raises(ValueError, match=f"{fn}: gamma must be >= 0, got -1.0"):
        softmax_focal_loss(x, t, gamma=-1.0)
    with pytest.raises(TypeError, match=f"{fn}: gamma must be a real number"):
        softmax_focal_loss(x, t, gamma=None)
    with pytest.raises(TypeError, match=f"{fn}: ignore_index must be an int, got float"):
        softmax_focal_loss(x, t, ignore_index=1.0)
    with pytest.raises(TypeError, match=f"{fn}: input must have a floating dtype"):
        softmax_focal_loss(np.zeros((3, 4), np.int64), t)
    with pytest.raises(TypeError, match=f"{fn}: target must have an integer dtype"):
        softmax_focal_loss(x, np.zeros(3))
    with pytest.raises(ValueError, match=f"{fn}: input must be at least 1-dimensional"):
        softmax_focal_loss(np.float64(1.0), np.int64(0))
    with pytest.raises(ValueError, match=rf"{fn}: target must have shape \(3,\) for input of shape \(3, 4\), got \(4,\)"):
        softmax_focal_loss(x, np.zeros(4, np.int64))
    with pytest.raises(ValueError, match=rf"{fn}: target must have shape \(2, 5\) for input of shape \(2, 4, 5\)"):
        softmax_focal_loss(np.zeros((2, 4, 5)), np.zeros((2, 4), np.int64))
    with pytest.raises(ValueError, match=rf"{fn}: weight must have shape \(4,\) \(one entry per class\), got \(3,\)"):
        softmax_focal_loss(x, t, weight=np.ones(3))
    with pytest.raises(TypeError, match=f"{fn}: weight must have a floating dtype"):
        softmax_focal_loss(x, t, weight=np.ones(4, np.int64))
    # values: a class index out of range (torch's nll_loss refuses it too)
    bad = np.array([0, 4, 1])
    with pytest.raises(ValueError, match=rf"{fn}: target values must be in \[0, 3\] or ignore_index=-100"):
        softmax_focal_loss(x, bad)
    with pytest.raises(ValueError, match=rf"{fn}: target values must be in \[0, 3\]"):
        softmax_focal_loss(x, np.array([0, -1, 1]))
    with pytest.raises((IndexError, RuntimeError)):
        torch.nn.functional.nll_loss(_t(x), _t(bad))
    with pytest.raises(ValueError, match=rf"{fn}: target values must be in \[0, 3\]"):
        checked(softmax_focal_loss)(jnp.asarray(x), jnp.asarray(bad))
    assert float(checked(softmax_focal_loss)(jnp.asarray(x), jnp.asarray([0, -100, 3]))) == pytest.approx(
        float(softmax_focal_loss(x, np.array([0, -100, 3]))), rel=1e-15
    )
    # under a plain jit the bad element is NaN (documented)
    out = jax.jit(lambda a, b: softmax_focal_loss(a, b, reduction="none"))(jnp.asarray(x), jnp.asarray(bad))
    assert np.isnan(out[1]) and np.all(np.isfinite(np.asarray(out)[[0, 2]]))


def test_softmax_focal_jit_grad_vmap():
    x = jnp.asarray(RNG.standard_normal((5, 4)))
    t = jnp.asarray(RNG.integers(0, 4, size=5))
    w = jnp.asarray(RNG.uniform(0.5, 2.0, 4))
    f = jax.jit(lambda a, b, c: softmax_focal_loss(a, b, c))
    assert float(f(x, t, w)) == pytest.approx(float(softmax_focal_loss(x, t, w)), rel=1e-14)
    g = jax.grad(lambda a: softmax_focal_loss(a, t, w))(x)
    e = jnp.zeros_like(x).at[3, 2].set(1e-6)
    fd = (softmax_focal_loss(x + e, t, w) - softmax_focal_loss(x - e, t, w)) / 2e-6
    assert float(g[3, 2]) == pytest.approx(float(fd), rel=1e-6)
    # an ignored row gets no gradient
    tn = t.at[0].set(-100)
    g0 = jax.grad(lambda a: softmax_focal_loss(a, tn, w))(x)
    assert float(jnp.max(jnp.abs(g0[0]))) == 0.0
    xs = jnp.asarray(RNG.standard_normal((3, 5, 4)))
    v = jax.vmap(lambda a: softmax_focal_loss(a, t, w))(xs)
    np.testing.assert_allclose(v, [softmax_focal_loss(a, t, w) for a in xs], rtol=1e-14)
    ts = jnp.asarray(RNG.integers(0, 4, size=(3, 5)))
    v2 = jax.vmap(lambda b: softmax_focal_loss(x, b, reduction="none"))(ts)
    np.testing.assert_allclose(v2, np.stack([softmax_focal_loss(x, b, reduction="none") for b in ts]), rtol=1e-14)


def test_softmax_focal_low_precision():
    x = RNG.standard_normal((4, 3)).astype(np.float32)
    t = RNG.integers(0, 3, size=4)
    ref = softmax_focal_loss(x, t)
    out = softmax_focal_loss(jnp.asarray(x, jnp.bfloat16), t)
    assert out.dtype == jnp.bfloat16
    assert float(out) == pytest.approx(float(ref), rel=1e-2)


def test_no_recompile_on_second_call():
    x = jnp.asarray(RNG.standard_normal((3, 4)))
    t = jnp.asarray(RNG.integers(0, 4, size=3))
    softmax_focal_loss(x, t)
    from jloss.losses import _segmentation as S

    before = S._softmax_focal._cache_size()
    softmax_focal_loss(x + 1.0, t)
    assert S._softmax_focal._cache_size() == before
