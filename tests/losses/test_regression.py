"""l1_loss, mse_loss, huber_loss, smooth_l1_loss, poisson_nll_loss, gaussian_nll_loss: tutorial and
hand-computed numbers, torch references, bad input, legacy arguments, jit / grad / vmap."""

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from jloss._checks import checked
from jloss.losses import _regression as reg
from jloss.losses._regression import (
    gaussian_nll_loss,
    huber_loss,
    l1_loss,
    mse_loss,
    poisson_nll_loss,
    smooth_l1_loss,
)

RNG = np.random.default_rng(2024)


def _t(x, requires_grad=False):
    t = torch.from_numpy(np.array(x, dtype=np.float64, copy=True))
    return t.requires_grad_(requires_grad)


def _torch(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*[_t(a) if isinstance(a, np.ndarray) else a for a in args], **kwargs).numpy()


# ---- numbers from the tutorials and by hand -----------------------------------------------------


def test_tutorial_002_l1_and_mse():
    x = jnp.asarray([1.0, 2.0, 3.0])
    y = jnp.asarray([1.0, 2.0, 5.0])
    assert float(l1_loss(x, y)) == pytest.approx(0.6667, abs=1e-4)
    assert float(l1_loss(x, y, reduction="sum")) == 2.0
    assert float(mse_loss(x, y)) == pytest.approx(1.3333, abs=1e-4)
    # the tutorial reshapes to (1, 1, 1, 3); same numbers
    assert float(l1_loss(x.reshape(1, 1, 1, 3), y.reshape(1, 1, 1, 3))) == pytest.approx(
        2 / 3, rel=1e-15
    )


def test_weighted_means_by_hand():
    x, y = np.array([0.0, 0.0, 0.0]), np.array([1.0, 3.0, -0.5])
    w = np.array([1.0, 2.0, 4.0])
    # l1 / mse: sum(w e) / sum(w);  huber: mean(w l)
    assert float(l1_loss(x, y, weight=w)) == pytest.approx((1 + 6 + 2) / 7, rel=1e-15)
    assert float(mse_loss(x, y, weight=w)) == pytest.approx((1 + 18 + 1) / 7, rel=1e-15)
    huber = np.array([0.5, 2.5, 0.125])  # |d| = 1 is the linear branch: 1 * (1 - 0.5)
    assert float(huber_loss(x, y, weight=w)) == pytest.approx(
        float(np.sum(w * huber) / 3), rel=1e-15
    )
    np.testing.assert_allclose(huber_loss(x, y, reduction="none", weight=w), w * huber, rtol=1e-15)
    assert float(huber_loss(x, y, reduction="sum", weight=w)) == pytest.approx(
        float(np.sum(w * huber))
    )


def test_huber_and_smooth_l1_by_hand():
    d = np.array([0.0, 0.5, -1.0, 3.0])
    z = np.zeros(4)
    np.testing.assert_allclose(
        huber_loss(d, z, reduction="none", delta=2.0), [0, 0.125, 0.5, 2 * (3 - 1)]
    )
    np.testing.assert_allclose(
        smooth_l1_loss(d, z, reduction="none", beta=2.0), [0, 0.0625, 0.25, 3 - 1]
    )
    # huber = delta * smooth_l1(beta=delta); smooth_l1(beta=0) = l1
    np.testing.assert_allclose(
        huber_loss(d, z, delta=2.0), 2.0 * smooth_l1_loss(d, z, beta=2.0), rtol=1e-15
    )
    np.testing.assert_allclose(smooth_l1_loss(d, z, reduction="none", beta=0.0), np.abs(d))
    # the derivative of |d| at d = 0 is 0 (torch's sgn), in l1 and in smooth_l1(beta=0)
    for f in (
        lambda a: l1_loss(a, z, reduction="sum"),
        lambda a: smooth_l1_loss(a, z, reduction="sum", beta=0.0),
    ):
        np.testing.assert_array_equal(jax.grad(f)(jnp.asarray(d)), [0.0, 1.0, -1.0, 1.0])


def test_poisson_by_hand():
    x, y = np.array([0.0, 1.0, -1.0]), np.array([2.0, 0.0, 1.0])
    np.testing.assert_allclose(
        poisson_nll_loss(x, y, reduction="none"), np.exp(x) - y * x, rtol=1e-15
    )
    rate = np.array([1.0, 0.0, 2.0])
    expect = rate - y * np.log(rate + 1e-8)
    np.testing.assert_allclose(
        poisson_nll_loss(rate, y, log_input=False, reduction="none"), expect, rtol=1e-15
    )
    # Stirling term only where target > 1: here only the first entry (target 2)
    stirling = 2 * math.log(2) - 2 + 0.5 * math.log(2 * math.pi * 2)
    full = poisson_nll_loss(x, y, full=True, reduction="none")
    np.testing.assert_allclose(full, np.exp(x) - y * x + np.array([stirling, 0, 0]), rtol=1e-15)
    assert float(
        poisson_nll_loss(rate, y, log_input=False, eps=0.5, reduction="sum")
    ) == pytest.approx(float(np.sum(rate - y * np.log(rate + 0.5))), rel=1e-15)


def test_gaussian_by_hand():
    x, y, v = np.array([1.0, 2.0]), np.array([0.0, 0.0]), np.array([1.0, 4.0])
    expect = 0.5 * (np.log(v) + (x - y) ** 2 / v)
    np.testing.assert_allclose(gaussian_nll_loss(x, y, v, reduction="none"), expect, rtol=1e-15)
    full = gaussian_nll_loss(x, y, v, full=True, reduction="none")
    np.testing.assert_allclose(full, expect + 0.5 * math.log(2 * math.pi), rtol=1e-15)
    # var below eps is clamped at eps
    got = gaussian_nll_loss(x, y, np.array([0.0, 4.0]), eps=0.5, reduction="none")
    np.testing.assert_allclose(
        got, 0.5 * (np.log([0.5, 4.0]) + (x - y) ** 2 / [0.5, 4.0]), rtol=1e-15
    )


# ---- torch references ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, vshape",
    [
        ((4, 3), (4, 3)),
        ((4, 3), (4,)),
        ((4, 3), (4, 1)),
        ((4, 3), (1, 3)),
        ((5,), ()),
        ((5,), (1,)),
        ((2, 3, 4), (2, 1, 4)),
        ((2, 3, 4), (2, 3)),
    ],
)
def test_gaussian_var_shapes_match_torch(shape, vshape):
    x, y = RNG.standard_normal(shape), RNG.standard_normal(shape)
    v = RNG.uniform(0.1, 2.0, vshape)
    ref = _torch(TF.gaussian_nll_loss, x, y, np.asarray(v), reduction="none")
    out = gaussian_nll_loss(x, y, np.asarray(v), reduction="none")
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-13)


def test_gaussian_var_gradient_is_straight_through():
    x, y = RNG.standard_normal(4), RNG.standard_normal(4)
    v = np.array([1e-9, 0.0, 0.5, 2.0])  # two entries below eps = 1e-6
    tv = _t(v, True)
    TF.gaussian_nll_loss(_t(x), _t(y), tv).backward()
    g = jax.grad(lambda a: gaussian_nll_loss(x, y, a))(jnp.asarray(v))
    np.testing.assert_allclose(g, tv.grad.numpy(), rtol=1e-13)
    assert float(jnp.abs(g[0])) > 1e9  # the gradient at the clamped value, not 0 (jnp.maximum's)


def test_gaussian_float_var_matches_torch():
    x, y = RNG.standard_normal((3, 2)), RNG.standard_normal((3, 2))
    for var in (0.3, 2.0, 1e-9):
        ref = _torch(TF.gaussian_nll_loss, x, y, var, full=True)
        assert float(gaussian_nll_loss(x, y, var, full=True)) == pytest.approx(
            float(ref), rel=1e-14
        )
    assert float(gaussian_nll_loss(x, y, 1)) == pytest.approx(float(gaussian_nll_loss(x, y, 1.0)))


def test_huber_weight_gradient_matches_torch():
    x, y, w = (
        RNG.standard_normal((3, 4)) * 2,
        RNG.standard_normal((3, 4)),
        RNG.uniform(0.1, 2, (3, 4)),
    )
    tx, tw = _t(x, True), _t(w, True)
    TF.huber_loss(tx, _t(y), delta=0.7, weight=tw).backward()
    gx, gw = jax.grad(lambda a, b: huber_loss(a, y, delta=0.7, weight=b), argnums=(0, 1))(x, w)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-13)
    np.testing.assert_allclose(gw, tw.grad.numpy(), rtol=1e-13)


def test_poisson_target_gradient_matches_torch_nan_included():
    x, y = np.array([0.2, -0.4, 1.1, 0.3]), np.array([0.0, 1.0, 3.0, 0.5])
    tx, ty = _t(x, True), _t(y, True)
    TF.poisson_nll_loss(tx, ty, full=True, reduction="sum").backward()
    gx, gy = jax.grad(
        lambda a, b: poisson_nll_loss(a, b, full=True, reduction="sum"), argnums=(0, 1)
    )(x, y)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-14)
    np.testing.assert_allclose(gy, ty.grad.numpy(), rtol=1e-14)  # NaN at target 0, as torch
    assert np.isnan(gy[0]) and np.all(np.isfinite(gy[1:]))


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_low_precision_dtypes(dtype):
    x, y, v = (
        RNG.standard_normal((4, 3)),
        RNG.standard_normal((4, 3)),
        RNG.uniform(0.5, 2.0, (4, 3)),
    )
    xj, yj, vj = (jnp.asarray(a, dtype) for a in (x, y, v))
    for out in (
        l1_loss(xj, yj),
        mse_loss(xj, yj),
        huber_loss(xj, yj),
        smooth_l1_loss(xj, yj),
        poisson_nll_loss(xj, yj),
        gaussian_nll_loss(xj, yj, vj),
        gaussian_nll_loss(xj, yj, 0.5),
    ):
        assert out.dtype == dtype and np.isfinite(float(out))
    # a float64 weight promotes the weighted losses, as torch's loss * weight does
    assert huber_loss(xj, yj, weight=np.ones((4, 3))).dtype == jnp.float64


# ---- bad input --------------------------------------------------------------------------------

ALL = [l1_loss, mse_loss, huber_loss, smooth_l1_loss, poisson_nll_loss]


@pytest.mark.parametrize("fn", ALL + [gaussian_nll_loss], ids=lambda f: f.__name__)
def test_bad_input_common(fn):
    name = fn.__name__
    x = np.ones((3, 4))
    extra = (np.ones((3, 4)),) if fn is gaussian_nll_loss else ()
    with pytest.raises(TypeError, match=rf"{name}: input must have a floating dtype, got int"):
        fn(np.ones((3, 4), dtype=np.int32), x, *extra)
    with pytest.raises(TypeError, match=rf"{name}: input must be an array, got None"):
        fn(None, x, *extra)
    with pytest.raises(
        ValueError, match=rf"{name}: target of shape \(2, 4\) does not broadcast with input"
    ):
        fn(x, np.ones((2, 4)), *extra)
    with pytest.raises(ValueError, match=rf"{name}: reduction must be one of .*got 'batchmean'"):
        fn(x, x, *extra, reduction="batchmean")


@pytest.mark.parametrize("fn", [l1_loss, mse_loss, huber_loss], ids=lambda f: f.__name__)
def test_bad_weight(fn):
    x = np.ones((3, 4))
    with pytest.raises(
        ValueError,
        match=rf"{fn.__name__}: weight must have the same shape as input \(3, 4\), got \(4,\)",
    ):
        fn(x, x, weight=np.ones(4))
    with pytest.raises(TypeError, match=rf"{fn.__name__}: weight must have a floating dtype"):
        fn(x, x, weight=np.ones((3, 4), dtype=np.int64))


def test_bad_delta_and_beta():
    x = np.ones(3)
    for d in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match=r"huber_loss: delta must be > 0"):
            huber_loss(x, x, delta=d)
    with pytest.raises(ValueError, match=r"smooth_l1_loss: beta must be >= 0 .*got -0.5"):
        smooth_l1_loss(x, x, beta=-0.5)
    with pytest.raises(TypeError, match=r"smooth_l1_loss: beta must be a real number, got str"):
        smooth_l1_loss(x, x, beta="1")
    with pytest.raises(TypeError, match=r"huber_loss: delta must be a real number, got ndarray"):
        huber_loss(x, x, delta=np.ones(2))
    with pytest.raises(
        TypeError, match=r"poisson_nll_loss: eps must be a real number, got NoneType"
    ):
        poisson_nll_loss(x, x, eps=None)
    with pytest.raises(TypeError, match=r"smooth_l1_loss: beta must be a concrete real number"):
        jax.jit(lambda b: smooth_l1_loss(x, x, beta=b))(1.0)


def test_gaussian_bad_var():
    x = np.ones((4, 3))
    for vshape in [(3,), (2, 3), (1, 1), (4, 3, 1), ()]:
        with pytest.raises(
            ValueError, match=r"gaussian_nll_loss: var must have the input's shape \(4, 3\)"
        ):
            gaussian_nll_loss(x, x, np.ones(vshape))
    with pytest.raises(ValueError, match=r"gaussian_nll_loss: var must be non-negative, got -0.5"):
        gaussian_nll_loss(x, x, -0.5)
    neg = np.ones((4, 3))
    neg[2, 1] = -1e-3
    with pytest.raises(ValueError, match=r"gaussian_nll_loss: var must be non-negative"):
        gaussian_nll_loss(x, x, neg)
    with pytest.raises(ValueError, match=r"gaussian_nll_loss: var must be non-negative"):
        checked(gaussian_nll_loss)(x, x, jnp.asarray(neg))
    # a good var passes the checked version and gives the plain value
    assert float(checked(gaussian_nll_loss)(x, x * 0, jnp.ones((4, 3)))) == pytest.approx(0.5)
    # under a plain jit the value check cannot run: the negative entries give NaN
    out = jax.jit(lambda v: gaussian_nll_loss(x, x, v, reduction="none"))(jnp.asarray(neg))
    assert np.isnan(out[2, 1]) and np.isfinite(np.delete(np.asarray(out).ravel(), 7)).all()
    with pytest.raises(TypeError, match=r"gaussian_nll_loss: var must have a floating dtype"):
        gaussian_nll_loss(x, x, np.ones((4, 3), dtype=np.int32))
    with pytest.raises(TypeError, match=r"gaussian_nll_loss: var must be an array, got None"):
        gaussian_nll_loss(x, x, None)


def test_broadcast_warnings_follow_torch():
    x, y = np.ones((2, 3)), np.ones(3)
    for fn in (l1_loss, mse_loss, huber_loss, smooth_l1_loss):
        with pytest.warns(UserWarning, match=f"{fn.__name__}: using a target size"):
            fn(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch broadcasts these silently
        poisson_nll_loss(x, y)
        gaussian_nll_loss(x, y, 1.0)


@pytest.mark.parametrize(
    "fn", [l1_loss, mse_loss, smooth_l1_loss, poisson_nll_loss], ids=lambda f: f.__name__
)
def test_legacy_arguments_warn_and_map(fn):
    x, y = RNG.standard_normal((3, 4)), RNG.uniform(0, 2, (3, 4))
    with pytest.warns(DeprecationWarning, match="size_average and reduce"):
        out = fn(x, y, size_average=False)
    np.testing.assert_allclose(out, fn(x, y, reduction="sum"), rtol=1e-15)
    with pytest.warns(DeprecationWarning, match="size_average and reduce"):
        out = fn(x, y, reduce=False, reduction="sum")
    np.testing.assert_allclose(out, fn(x, y, reduction="none"), rtol=1e-15)
    ref = _torch(getattr(TF, fn.__name__), x, y, reduce=False)
    with pytest.warns(DeprecationWarning):
        np.testing.assert_allclose(fn(x, y, reduce=False), ref, rtol=1e-14)


# ---- jit / grad / vmap ---------------------------------------------------------------------------

CALLS = {
    "l1_loss": lambda x, y, v: l1_loss(x, y, weight=v),
    "mse_loss": lambda x, y, v: mse_loss(x, y, weight=v),
    "huber_loss": lambda x, y, v: huber_loss(x, y, delta=0.5, weight=v),
    "smooth_l1_loss": lambda x, y, v: smooth_l1_loss(x, y, beta=0.5) + jnp.sum(v) * 0,
    "poisson_nll_loss": lambda x, y, v: (
        poisson_nll_loss(x, jnp.abs(y), full=True, reduction="sum") + jnp.sum(v) * 0
    ),
    "gaussian_nll_loss": lambda x, y, v: gaussian_nll_loss(x, y, v, full=True),
}
TORCH_CALLS = {
    "l1_loss": lambda x, y, v: TF.l1_loss(x, y, weight=v),
    "mse_loss": lambda x, y, v: TF.mse_loss(x, y, weight=v),
    "huber_loss": lambda x, y, v: TF.huber_loss(x, y, delta=0.5, weight=v),
    "smooth_l1_loss": lambda x, y, v: TF.smooth_l1_loss(x, y, beta=0.5) + v.sum() * 0,
    "poisson_nll_loss": lambda x, y, v: (
        TF.poisson_nll_loss(x, y.abs(), full=True, reduction="sum") + v.sum() * 0
    ),
    "gaussian_nll_loss": lambda x, y, v: TF.gaussian_nll_loss(x, y, v, full=True),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_jit_grad_vmap(name):
    f = CALLS[name]
    x, y = RNG.standard_normal((5, 3, 4)) * 2, RNG.standard_normal((5, 3, 4)) * 2
    v = RNG.uniform(0.2, 2.0, (5, 3, 4))
    # jit equals eager
    np.testing.assert_allclose(jax.jit(f)(x[0], y[0], v[0]), f(x[0], y[0], v[0]), rtol=1e-14)
    # grad w.r.t. all three arrays equals torch's
    tx, ty, tv = _t(x[0], True), _t(y[0], True), _t(v[0], True)
    TORCH_CALLS[name](tx, ty, tv).backward()
    gs = jax.grad(f, argnums=(0, 1, 2))(x[0], y[0], v[0])
    for g, t in zip(gs, (tx, ty, tv), strict=True):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12, atol=1e-15)
    # vmap over a leading axis equals a Python loop
    batched = jax.vmap(f)(x, y, v)
    looped = np.stack([np.asarray(f(x[i], y[i], v[i])) for i in range(5)])
    np.testing.assert_allclose(batched, looped, rtol=1e-14)


def test_second_call_does_not_recompile():
    x, y = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    huber_loss(x, y, delta=0.25)
    before = reg._weighted_pointwise._cache_size()
    huber_loss(x + 1, y, delta=0.25)
    assert reg._weighted_pointwise._cache_size() == before
    gaussian_nll_loss(x, y, 0.5)
    before = reg._gaussian_nll._cache_size()
    gaussian_nll_loss(x * 2, y, 0.5)
    assert reg._gaussian_nll._cache_size() == before
