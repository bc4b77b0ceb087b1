"""kl_div: hand-computed numbers, torch references (batchmean, log_target, zero targets, legacy
arguments), bad input, the 'mean' warning, jit / grad / vmap."""

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from jloss.losses import _divergence as div
from jloss.losses._divergence import kl_div

RNG = np.random.default_rng(77)


def _t(x, requires_grad=False):
    return torch.from_numpy(np.array(x, dtype=np.float64, copy=True)).requires_grad_(requires_grad)


def _log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _torch_kl(x, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return TF.kl_div(_t(x), _t(y), **kw).numpy()


def test_by_hand():
    q = np.array([[0.25, 0.75], [0.5, 0.5], [0.1, 0.9]])
    p = np.array([[0.5, 0.5], [0.0, 1.0], [0.1, 0.9]])
    x = np.log(q)
    kl_rows = [
        0.5 * math.log(2) + 0.5 * math.log(0.5 / 0.75),
        math.log(2),
        0.0,
    ]  # KL(p || q) per row
    assert float(kl_div(x, p, reduction="batchmean")) == pytest.approx(sum(kl_rows) / 3, rel=1e-14)
    assert float(kl_div(x, p, reduction="sum")) == pytest.approx(sum(kl_rows), rel=1e-14)
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        assert float(kl_div(x, p)) == pytest.approx(sum(kl_rows) / 6, rel=1e-14)  # 'mean': / numel
    none = kl_div(x, p, reduction="none")
    assert float(none[1, 0]) == 0.0  # target 0 contributes 0 (0 log 0 = 0), although x is finite
    np.testing.assert_allclose(none.sum(axis=1), kl_rows, rtol=1e-14, atol=1e-16)
    # log_target: the same numbers from log p (where p > 0)
    lp = np.log(p[[0, 2]])
    np.testing.assert_allclose(
        kl_div(x[[0, 2]], lp, reduction="sum", log_target=True), kl_rows[0] + kl_rows[2], rtol=1e-14
    )


def test_batchmean_divides_by_input_size0():
    x1 = _log_softmax(RNG.standard_normal(5))  # 1-D: size(0) is the number of classes
    y1 = np.exp(_log_softmax(RNG.standard_normal(5)))
    assert float(kl_div(x1, y1, reduction="batchmean")) == pytest.approx(
        float(np.sum(kl_div(x1, y1, reduction="none"))) / 5
    )
    # broadcast target (4, 5) against a (5,) input: still / input.size(0) = 5, as torch
    y2 = np.exp(_log_softmax(RNG.standard_normal((4, 5))))
    ref = _torch_kl(x1, y2, reduction="batchmean")
    assert float(kl_div(x1, y2, reduction="batchmean")) == pytest.approx(float(ref), rel=1e-14)
    # 0-d input: no division
    assert float(kl_div(np.log(0.3), 0.6, reduction="batchmean")) == pytest.approx(
        0.6 * math.log(0.6) - 0.6 * math.log(0.3)
    )


@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("reduction", ["none", "sum", "batchmean"])
def test_values_and_gradients_match_torch(reduction, log_target):
    x = _log_softmax(RNG.standard_normal((3, 2, 4)))
    y = _log_softmax(RNG.standard_normal((3, 2, 4)))
    if not log_target:
        y = np.exp(y)
        y[0, 1, :2] = 0.0  # zero probabilities
    tx, ty = _t(x, True), _t(y, True)
    ref = TF.kl_div(tx, ty, reduction=reduction, log_target=log_target)
    out = kl_div(x, y, reduction=reduction, log_target=log_target)
    np.testing.assert_allclose(out, ref.detach().numpy(), rtol=1e-13, atol=1e-16)
    cot = RNG.standard_normal(np.shape(out))
    ref.backward(_t(cot))
    gx, gy = jax.vjp(lambda a, b: kl_div(a, b, reduction=reduction, log_target=log_target), x, y)[
        1
    ](jnp.asarray(cot))
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-13, atol=1e-16)
    # the target gradient too: NaN where target == 0 (log_target=False), in torch and here
    np.testing.assert_allclose(gy, ty.grad.numpy(), rtol=1e-13, atol=1e-16)
    assert np.isnan(np.asarray(gy)).any() == (not log_target)


@pytest.mark.parametrize(
    "legacy, reduction",
    [
        ({"size_average": False}, "mean"),
        ({"reduce": False}, "mean"),
        ({"size_average": True}, "mean"),
        ({"size_average": False}, "batchmean"),
        ({"reduce": False}, "batchmean"),
        ({"reduce": True}, "batchmean"),
    ],
)
def test_legacy_arguments(legacy, reduction):
    x = _log_softmax(RNG.standard_normal((4, 3)))
    y = np.exp(_log_softmax(RNG.standard_normal((4, 3))))
    with pytest.warns(DeprecationWarning, match="kl_div: size_average and reduce"):
        out = kl_div(x, y, reduction=reduction, **legacy)
    # torch: the legacy rule decides the reduction (no 'mean' warning), and a 'batchmean' passed
    # beside it still divides by size(0)
    np.testing.assert_allclose(out, _torch_kl(x, y, reduction=reduction, **legacy), rtol=1e-14)


def test_mean_warns_like_torch_and_others_do_not():
    x = np.log(np.full((2, 2), 0.5))
    with pytest.warns(UserWarning, match="kl_div: reduction: 'mean' divides the total loss"):
        kl_div(x, np.exp(x))
    with pytest.warns(UserWarning, match="'mean' divides the total loss"):
        kl_div(x, np.exp(x), reduction="mean")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for r in ("none", "sum", "batchmean"):
            kl_div(x, np.exp(x), reduction=r)
        kl_div(x[0], np.exp(x), reduction="sum")  # broadcasting is silent in torch


def test_bad_input():
    x = np.log(np.full((2, 3), 1 / 3))
    with pytest.raises(
        ValueError, match=r"kl_div: reduction must be one of .*'batchmean'.*got 'avg'"
    ):
        kl_div(x, x, reduction="avg")
    with pytest.raises(TypeError, match=r"kl_div: input must have a floating dtype, got int"):
        kl_div(np.zeros((2, 3), dtype=np.int32), x, reduction="sum")
    with pytest.raises(TypeError, match=r"kl_div: target must have a floating dtype, got int"):
        kl_div(x, np.zeros((2, 3), dtype=np.int64), reduction="sum")
    with pytest.raises(TypeError, match=r"kl_div: target must be an array, got None"):
        kl_div(x, None, reduction="sum")
    with pytest.raises(
        ValueError,
        match=r"kl_div: target of shape \(3, 3\) does not broadcast with input of shape \(2, 3\)",
    ):
        kl_div(x, np.ones((3, 3)), reduction="sum")


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_low_precision(dtype):
    x = jnp.asarray(_log_softmax(RNG.standard_normal((4, 5))), dtype)
    y = jnp.exp(x)
    out = kl_div(x, y, reduction="batchmean")
    assert out.dtype == dtype and np.isfinite(float(out))
    ref = TF.kl_div(
        torch.tensor(np.asarray(x.astype(jnp.float32))).to(getattr(torch, str(x.dtype))),
        torch.tensor(np.asarray(y.astype(jnp.float32))).to(getattr(torch, str(x.dtype))),
        reduction="batchmean",
    )
    assert float(out) == pytest.approx(
        float(ref.float()), abs=1e-2 if dtype == jnp.bfloat16 else 1e-6
    )


@pytest.mark.parametrize("log_target", [False, True])
def test_jit_grad_vmap(log_target):
    def f(a, b):
        return kl_div(a, b, reduction="batchmean", log_target=log_target)

    x = _log_softmax(RNG.standard_normal((6, 3, 4)))
    y = _log_softmax(RNG.standard_normal((6, 3, 4)))
    y = y if log_target else np.exp(y)
    np.testing.assert_allclose(jax.jit(f)(x[0], y[0]), f(x[0], y[0]), rtol=1e-14)
    gx, gy = jax.grad(f, argnums=(0, 1))(x[0], y[0])
    tx, ty = _t(x[0], True), _t(y[0], True)
    TF.kl_div(tx, ty, reduction="batchmean", log_target=log_target).backward()
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-13)
    np.testing.assert_allclose(gy, ty.grad.numpy(), rtol=1e-13)
    # vmap over a leading axis equals a Python loop ('batchmean' divides each by its own size(0))
    batched = jax.vmap(f)(x, y)
    looped = np.stack([np.asarray(f(x[i], y[i])) for i in range(6)])
    np.testing.assert_allclose(batched, looped, rtol=1e-14)


def test_second_call_does_not_recompile():
    x = _log_softmax(RNG.standard_normal((3, 4)))
    kl_div(x, np.exp(x), reduction="sum")
    before = div._kl_div._cache_size()
    kl_div(x * 2, np.exp(x), reduction="sum")
    assert div._kl_div._cache_size() == before
