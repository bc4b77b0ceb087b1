"""cross_entropy, nll_loss, binary_cross_entropy, binary_cross_entropy_with_logits,
linear_cross_entropy: tutorial and hand-computed numbers, torch references, bad input, legacy
arguments, jit / grad / vmap, chunking."""

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from jloss._checks import checked
from jloss.losses import _classification as cls
from jloss.losses._classification import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    nll_loss,
)
from jloss.losses._linear_ce import LinearCrossEntropyOptions, chunk_rows, linear_cross_entropy

RNG = np.random.default_rng(7)


def _t(x, requires_grad=False):
    if isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.integer):
        return torch.from_numpy(x.astype(np.int64))
    t = torch.from_numpy(np.array(x, dtype=np.float64, copy=True))
    return t.requires_grad_(requires_grad)


def _torch(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        args = [_t(a) if isinstance(a, np.ndarray) else a for a in args]
        kwargs = {k: _t(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
        return fn(*args, **kwargs).detach().numpy()


def _softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# ---- numbers from the tutorials and by hand -----------------------------------------------------


def test_tutorial_001_bce():
    # nn.BCELoss on softmax([0.2939, 0.939]) with target [0, 1]: 0.4217 ...
    p = jax.nn.softmax(jnp.asarray([0.2939, 0.939], jnp.float32))
    loss = binary_cross_entropy(p, jnp.asarray([0.0, 1.0], jnp.float32))
    assert loss.dtype == jnp.float32
    assert float(loss) == pytest.approx(0.4217, abs=1e-4)
    # ... and the tutorial's hand computation with the printed (rounded) probabilities
    hand = binary_cross_entropy(jnp.asarray([0.3441, 0.6559]), jnp.asarray([0.0, 1.0]))
    assert float(hand) == pytest.approx(0.4217469406824472, rel=1e-14)


def test_tutorial_001_bce_counter_example():
    # pred 0.91276 is closer to 0.92 than to 1, yet BCE(pred, 1) < BCE(pred, 0.92)
    pred = jnp.asarray([9.1276e-01])
    ab = float(binary_cross_entropy(pred, jnp.asarray([1.0])))
    ac = float(binary_cross_entropy(pred, jnp.asarray([0.92])))
    assert ab == pytest.approx(-math.log(0.91276), rel=1e-14)
    assert ac == pytest.approx(-(0.92 * math.log(0.91276) + 0.08 * math.log(1 - 0.91276)), rel=1e-14)
    assert ab < ac


def test_tutorial_001_bce_with_logits_vs_hand_written():
    pred = np.array([[-0.4089, -1.2471, 0.5907], [-0.4897, -0.8267, -0.7349], [0.5241, -0.1246, -0.4751]])
    label = np.array([[0, 1, 1], [0, 0, 1], [1, 0, 1]], dtype=np.float64)
    a = 1 / (1 + np.exp(-pred))
    hand = -label * np.log(a) - (1 - label) * np.log(1 - a)
    got = binary_cross_entropy_with_logits(pred, label, reduction="none")
    np.testing.assert_allclose(got, hand, rtol=1e-13)
    np.testing.assert_allclose(got, _torch(TF.binary_cross_entropy_with_logits, pred, label, reduction="none"),
                               rtol=1e-14)


def test_tutorial_002_cross_entropy():
    x = jnp.asarray([0.1, 0.2, 0.3], jnp.float32).reshape(1, 3)
    loss = cross_entropy(x, jnp.asarray([1]))
    assert float(loss) == pytest.approx(1.1019, abs=1e-4)
    hand = -0.2 + math.log(math.exp(0.1) + math.exp(0.2) + math.exp(0.3))
    assert float(cross_entropy(np.array([[0.1, 0.2, 0.3]]), np.array([1]))) == pytest.approx(hand, rel=1e-15)


def test_tutorial_004_weighted_cross_entropy_sum():
    # nn.CrossEntropyLoss(weight=[1, 10, 100, 100], reduction='sum')
    w = np.array([1.0, 10.0, 100.0, 100.0])
    x = RNG.standard_normal((16, 4))
    y = RNG.integers(0, 4, 16)
    got = cross_entropy(x, y, weight=w, reduction="sum")
    assert float(got) == pytest.approx(float(_torch(TF.cross_entropy, x, y, weight=w, reduction="sum")), rel=1e-14)
    # float32, as the tutorial builds the weight with .float()
    got32 = cross_entropy(x.astype(np.float32), y, weight=w.astype(np.float32), reduction="sum")
    ref32 = TF.cross_entropy(torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y),
                             weight=torch.from_numpy(w.astype(np.float32)), reduction="sum")
    assert got32.dtype == jnp.float32
    assert float(got32) == pytest.approx(float(ref32), rel=1e-5)


def test_tutorial_004_nll_of_log_softmax_is_cross_entropy():
    x = RNG.standard_normal((5, 4))
    y = RNG.integers(0, 4, 5)
    a = nll_loss(jax.nn.log_softmax(jnp.asarray(x), axis=1), y)
    np.testing.assert_allclose(a, cross_entropy(x, y), rtol=1e-14)


def test_weighted_mean_ignore_index_by_hand():
    x = RNG.standard_normal((5, 3))
    y = np.array([0, 2, -100, 1, 2])
    w = np.array([0.5, 2.0, 3.0])
    logp = np.log(_softmax(x, 1))
    keep = y != -100
    per = np.where(keep, -w[np.where(keep, y, 0)] * logp[np.arange(5), np.where(keep, y, 0)], 0.0)
    np.testing.assert_allclose(cross_entropy(x, y, weight=w, reduction="none"), per, rtol=1e-14)
    assert float(cross_entropy(x, y, weight=w)) == pytest.approx(per.sum() / w[y[keep]].sum(), rel=1e-14)
    assert float(cross_entropy(x, y, weight=w, reduction="sum")) == pytest.approx(per.sum(), rel=1e-14)
    # label smoothing with weight: smoothing term sum_c w_c (-log p_c), also / sum w[y]
    eps = 0.3
    smooth = np.where(keep, -(logp * w).sum(1), 0.0)
    want = (1 - eps) * per.sum() / w[y[keep]].sum() + eps / 3 * smooth.sum() / w[y[keep]].sum()
    assert float(cross_entropy(x, y, weight=w, label_smoothing=eps)) == pytest.approx(want, rel=1e-14)


def test_probability_targets_by_hand():
    x = RNG.standard_normal((4, 3, 2))
    p = _softmax(RNG.standard_normal((4, 3, 2)), 1)
    w = np.array([0.5, 2.0, 3.0])
    logp = np.log(_softmax(x, 1))
    per = -(logp * p * w.reshape(1, 3, 1)).sum(1)
    # 'mean' divides by N * d1 = 8, not by a weight sum
    assert float(cross_entropy(x, p, weight=w)) == pytest.approx(per.sum() / 8, rel=1e-14)
    ps = p * 0.8 + 0.2 / 3
    per_s = -(logp * ps).sum(1)
    np.testing.assert_allclose(cross_entropy(x, p, reduction="none", label_smoothing=0.2), per_s, rtol=1e-14)


def test_all_ignored_is_nan_with_zero_gradient():
    x = jnp.asarray(RNG.standard_normal((3, 4)))
    y = jnp.full((3,), -100)
    assert np.isnan(float(cross_entropy(x, y)))
    assert np.isnan(float(nll_loss(x, y)))
    assert float(cross_entropy(x, y, reduction="sum")) == 0.0
    g = jax.grad(lambda x: cross_entropy(x, y, label_smoothing=0.1))(x)
    np.testing.assert_array_equal(g, np.zeros((3, 4)))  # torch's gradient is zero, not NaN


def test_bce_clamp_and_gradient_at_edges_match_torch():
    x = np.array([0.0, 1.0, 0.0, 1.0, 0.25])
    y = np.array([1.0, 0.0, 0.0, 1.0, 0.5])
    np.testing.assert_array_equal(binary_cross_entropy(x, y, reduction="none")[:4], [100.0, 100.0, 0.0, 0.0])
    gx, gy = jax.grad(lambda a, b: binary_cross_entropy(a, b, reduction="sum"), argnums=(0, 1))(x, y)
    tx, ty = _t(x, True), _t(y, True)
    rx, ry = torch.autograd.grad(TF.binary_cross_entropy(tx, ty, reduction="sum"), (tx, ty))
    np.testing.assert_array_equal(gx, rx.numpy())  # +-1e12 (clamp at torch's float 1e-12)
    np.testing.assert_array_equal(np.isinf(gy), np.isinf(ry.numpy()))
    np.testing.assert_allclose(gy[4], ry.numpy()[4], rtol=1e-15)


def test_bce_with_logits_stable_for_huge_logits():
    x = jnp.asarray([1e4, -1e4, 1e4, -1e4], jnp.float32)
    y = jnp.asarray([1.0, 1.0, 0.0, 0.0], jnp.float32)
    np.testing.assert_array_equal(binary_cross_entropy_with_logits(x, y, reduction="none"), [0, 1e4, 1e4, 0])
    out = binary_cross_entropy_with_logits(x, y, reduction="none", pos_weight=jnp.asarray([2.0], jnp.float32))
    np.testing.assert_array_equal(out, [0, 2e4, 1e4, 0])
    g = jax.grad(lambda x: binary_cross_entropy_with_logits(x, y, pos_weight=jnp.asarray([2.0], jnp.float32)))(x)
    np.testing.assert_array_equal(g, np.array([0, -2, 1, 0], np.float32) / 4)


def test_bce_with_logits_pos_weight_only_scales_positive_term():
    x = RNG.standard_normal((3, 4))
    y = RNG.uniform(0, 1, (3, 4))
    pw = np.array([1.0, 2.0, 3.0, 0.5])
    ls, lns = np.log(1 / (1 + np.exp(-x))), np.log(1 - 1 / (1 + np.exp(-x)))
    want = -(pw * y * ls + (1 - y) * lns)
    np.testing.assert_allclose(binary_cross_entropy_with_logits(x, y, reduction="none", pos_weight=pw), want,
                               rtol=1e-12)


def test_bf16_finite_where_torch_is():
    x = np.array([[30.0, -30.0, 0.5], [-50.0, 60.0, 0.0]])
    y = np.array([1, 0])
    out = cross_entropy(jnp.asarray(x, jnp.bfloat16), y, label_smoothing=0.1)
    ref = TF.cross_entropy(torch.tensor(x).bfloat16(), torch.tensor(y), label_smoothing=0.1)
    assert out.dtype == jnp.bfloat16 and np.isfinite(float(out)) and np.isfinite(float(ref))
    assert float(out) == pytest.approx(float(ref), rel=3e-2)
    p = jnp.asarray([0.0, 1.0, 0.5], jnp.bfloat16)
    assert np.isfinite(float(binary_cross_entropy(p, jnp.asarray([1.0, 0.0, 1.0], jnp.bfloat16))))
    assert np.all(np.isfinite(jax.grad(lambda p: binary_cross_entropy(p, jnp.asarray([1.0, 0.0, 1.0], jnp.bfloat16)).astype(jnp.float32))(p).astype(jnp.float32)))


# ---- torch references -------------------------------------------------------------------------


@pytest.mark.parametrize("kw", [{}, {"label_smoothing": 0.2}, {"ignore_index": 2, "reduction": "sum"},
                                {"reduction": "none", "label_smoothing": 0.4}])
def test_cross_entropy_k_dim_matches_torch(kw):
    x = RNG.standard_normal((2, 3, 4, 2))
    y = RNG.integers(0, 3, (2, 4, 2))
    w = RNG.uniform(0.5, 2.0, 3)
    np.testing.assert_allclose(cross_entropy(x, y, weight=w, **kw), _torch(TF.cross_entropy, x, y, weight=w, **kw),
                               rtol=1e-13)


def test_cross_entropy_hessian_matches_plain_autodiff():
    # reverse-over-reverse / jacfwd-over-reverse through the custom_vjp backward
    x = jnp.asarray(RNG.standard_normal((3, 4)))
    y = jnp.asarray([0, 3, 1])
    w = jnp.asarray([1.0, 2.0, 0.5, 1.5])

    def ref(x):
        lp = jax.nn.log_softmax(x, axis=1)
        nll = -jnp.take_along_axis(lp, y[:, None], 1)[:, 0] * w[y]
        smooth = -(lp * w[None, :]).sum(1)
        return 0.9 * nll.sum() / w[y].sum() + 0.1 / 4 * smooth.sum() / w[y].sum()

    f = lambda x: cross_entropy(x, y, weight=w, label_smoothing=0.1)  # noqa: E731
    np.testing.assert_allclose(f(x), ref(x), rtol=1e-14)
    np.testing.assert_allclose(jax.grad(f)(x), jax.grad(ref)(x), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(jax.hessian(f)(x), jax.hessian(ref)(x), rtol=1e-10, atol=1e-14)


# ---- bad input ---------------------------------------------------------------------------------

X = np.zeros((3, 4))
Y = np.array([0, 1, 2])


@pytest.mark.parametrize("fn", [cross_entropy, nll_loss])
@pytest.mark.parametrize(
    "args, kwargs, exc, match",
    [
        ((np.float64(1.0), np.array(0)), {}, ValueError, "at least 1-dimensional"),
        ((np.zeros((3, 4), np.int32), Y), {}, TypeError, "input must have a floating dtype"),
        ((X, np.zeros(3)), {}, TypeError, "integer class indices"),
        ((X, np.array([0, 1])), {}, ValueError, r"target must have shape \(N, d1, ..., dK\) = \(3,\)"),
        ((np.zeros((2, 3, 4)), np.zeros((2, 3), np.int64)), {}, ValueError, r"= \(2, 4\)"),
        ((np.zeros(4), np.array([0, 1])), {}, ValueError, "unbatched input"),
        ((X, Y), {"weight": np.ones(3)}, ValueError, r"weight must be a 1-D array .* \(4,\)"),
        ((X, Y), {"weight": np.ones((1, 4))}, ValueError, "weight must be a 1-D array"),
        ((X, Y), {"weight": np.ones(4, np.int32)}, TypeError, "weight must have a floating dtype"),
        ((X, Y), {"reduction": "avg"}, ValueError, "reduction must be one of"),
        ((X, Y), {"ignore_index": 1.5}, TypeError, "ignore_index must be an int"),
        ((X, np.array([0, 4, 1])), {}, ValueError, r"in \[0, 4\) or equal ignore_index=-100, got 4"),
        ((X, np.array([0, -1, 1])), {}, ValueError, "got -1"),
    ],
)
def test_index_losses_bad_input(fn, args, kwargs, exc, match):
    with pytest.raises(exc, match=f"^{fn.__name__}: .*{match}"):
        fn(*args, **kwargs)


@pytest.mark.parametrize(
    "args, kwargs, exc, match",
    [
        ((X, np.zeros((3, 4), np.int64)), {}, TypeError, "class probabilities and must be floating"),
        ((X, np.zeros((3, 4))), {"ignore_index": 0}, ValueError, "ignore_index is not supported"),
        ((X, Y), {"label_smoothing": 1.5}, ValueError, r"label_smoothing must be in \[0.0, 1.0\], got 1.5"),
        ((X, Y), {"label_smoothing": -0.1}, ValueError, "label_smoothing must be in"),
        ((X, Y), {"label_smoothing": "0.1"}, TypeError, "label_smoothing must be a real number"),
        ((X, Y), {"label_smoothing": jnp.asarray(0.1)}, TypeError, "label_smoothing must be a real number"),
    ],
)
def test_cross_entropy_bad_input(args, kwargs, exc, match):
    with pytest.raises(exc, match=f"^cross_entropy: .*{match}"):
        cross_entropy(*args, **kwargs)


@pytest.mark.parametrize("fn", [cross_entropy, nll_loss])
def test_index_out_of_range_via_checked_and_under_jit(fn):
    x = jnp.asarray(RNG.standard_normal((3, 4)))
    bad = jnp.asarray([0, 4, -100])
    with pytest.raises(ValueError, match=f"^{fn.__name__}: target class indices must be in"):
        checked(fn)(x, bad)
    assert np.isfinite(float(checked(fn)(x, jnp.asarray([0, 3, -100]))))
    # plain jit: no check; the out-of-range position is NaN (documented), the ignored one 0
    out = jax.jit(lambda x, y: fn(x, y, reduction="none"))(x, bad)
    assert np.isfinite(out[0]) and np.isnan(out[1]) and out[2] == 0.0
    assert np.isnan(float(jax.jit(fn)(x, bad)))


@pytest.mark.parametrize(
    "args, kwargs, exc, match",
    [
        ((np.zeros(3), np.zeros(3, np.int64)), {}, TypeError, "target must have a floating dtype"),
        ((np.zeros(3), np.zeros(1)), {}, ValueError, r"target must have the same shape as input \(3,\)"),
        ((np.zeros(3), np.zeros(3)), {"weight": np.ones((2, 3))}, ValueError, r"weight must broadcast to the input's shape \(3,\)"),
        ((np.zeros((2, 3)), np.zeros((2, 3))), {"weight": np.ones(2)}, ValueError, "weight must broadcast"),
        ((np.zeros(3, np.int32), np.zeros(3)), {}, TypeError, "input must have a floating dtype"),
        ((np.zeros(3), np.zeros(3)), {"reduction": "batchmean"}, ValueError, "reduction must be one of"),
    ],
)
@pytest.mark.parametrize("fn", [binary_cross_entropy, binary_cross_entropy_with_logits])
def test_binary_losses_bad_input(fn, args, kwargs, exc, match):
    with pytest.raises(exc, match=f"^{fn.__name__}: .*{match}"):
        fn(*args, **kwargs)


@pytest.mark.parametrize("pw", [np.ones(2), np.ones((2, 3, 3))])
def test_bce_with_logits_bad_pos_weight(pw):
    with pytest.raises(ValueError, match="^binary_cross_entropy_with_logits: pos_weight must broadcast"):
        binary_cross_entropy_with_logits(np.zeros((2, 3)), np.zeros((2, 3)), pos_weight=pw)


@pytest.mark.parametrize(
    "x, y, match",
    [
        ([0.5, 1.5], [0.0, 1.0], "all elements of input should be between 0 and 1"),
        ([0.5, -0.1], [0.0, 1.0], "all elements of input should be between 0 and 1"),
        ([0.5, float("nan")], [0.0, 1.0], "all elements of input should be between 0 and 1"),
        ([0.5, 0.5], [0.0, 1.5], "all elements of target should be between 0 and 1"),
    ],
)
def test_bce_values_out_of_range(x, y, match):
    x, y = jnp.asarray(x), jnp.asarray(y)
    with pytest.raises(ValueError, match=f"^binary_cross_entropy: {match}"):
        binary_cross_entropy(x, y)
    with pytest.raises(ValueError, match=f"^binary_cross_entropy: {match}"):
        checked(binary_cross_entropy)(x, y)
    # plain jit: NaN at the offending position (documented)
    out = jax.jit(lambda a, b: binary_cross_entropy(a, b, reduction="none"))(x, y)
    assert np.isfinite(out[0]) and np.isnan(out[1])


# ---- legacy arguments --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn, args",
    [
        (cross_entropy, (X, Y)),
        (nll_loss, (X, Y)),
        (binary_cross_entropy, (np.full(3, 0.3), np.full(3, 0.5))),
        (binary_cross_entropy_with_logits, (np.full(3, 0.3), np.full(3, 0.5))),
    ],
)
@pytest.mark.parametrize(
    "legacy, reduction",
    [({"size_average": False}, "sum"), ({"reduce": False}, "none"),
     ({"size_average": True, "reduce": True}, "mean"), ({"size_average": False, "reduce": False}, "none")],
)
def test_legacy_size_average_reduce(fn, args, legacy, reduction):
    with pytest.warns(DeprecationWarning, match="size_average and reduce args are deprecated"):
        got = fn(*args, **legacy)
    np.testing.assert_array_equal(got, fn(*args, reduction=reduction))


# ---- jit / grad / vmap -------------------------------------------------------------------------


def _calls():
    x = RNG.standard_normal((2, 5, 4))
    y = RNG.integers(0, 4, (2, 5))
    y[0, 1] = -100
    w = RNG.uniform(0.5, 2, 4)
    p = _softmax(RNG.standard_normal((2, 5, 4)), -1)
    q = RNG.uniform(0.05, 0.95, (2, 5, 4))
    h = RNG.standard_normal((2, 5, 3))
    lw = RNG.standard_normal((4, 3))
    return [
        ("cross_entropy", lambda x, y: cross_entropy(x, y, weight=w, label_smoothing=0.1), x, y),
        ("cross_entropy-prob", lambda x, p: cross_entropy(x, p, weight=w), x, p),
        ("nll_loss", lambda x, y: nll_loss(x, y, weight=w), x, y),
        ("binary_cross_entropy", lambda x, q: binary_cross_entropy(x, q, weight=w), q, p),
        ("binary_cross_entropy_with_logits",
         lambda x, q: binary_cross_entropy_with_logits(x, q, weight=w, pos_weight=w), x, q),
        ("linear_cross_entropy",
         lambda h, y: linear_cross_entropy(h, lw, y, weight=w, label_smoothing=0.1, options=2), h, y),
    ]


@pytest.mark.parametrize("name, f, a, b", _calls(), ids=[c[0] for c in _calls()])
def test_jit_grad_vmap(name, f, a, b):
    a, b = jnp.asarray(a), jnp.asarray(b)
    eager = f(a[0], b[0])
    np.testing.assert_allclose(jax.jit(f)(a[0], b[0]), eager, rtol=1e-14)
    g = jax.grad(f)(a[0], b[0])
    assert g.shape == a[0].shape and np.all(np.isfinite(g))
    np.testing.assert_allclose(jax.jit(jax.grad(f))(a[0], b[0]), g, rtol=1e-13)
    batched = jax.vmap(f)(a, b)
    np.testing.assert_allclose(batched, [f(a[i], b[i]) for i in range(a.shape[0])], rtol=1e-14)
    gb = jax.vmap(jax.grad(f))(a, b)
    np.testing.assert_allclose(gb, [jax.grad(f)(a[i], b[i]) for i in range(a.shape[0])], rtol=1e-13)


def test_second_call_does_not_recompile():
    x, y = jnp.asarray(RNG.standard_normal((4, 3))), jnp.asarray([0, 1, 2, 0])
    cross_entropy(x, y, label_smoothing=0.1)
    before = cls._ce_index._cache_size()
    cross_entropy(x + 1, y, label_smoothing=0.1)
    assert cls._ce_index._cache_size() == before


# ---- linear_cross_entropy ----------------------------------------------------------------------


def _lce_data(n=9, fin=3, c=5):
    h = RNG.standard_normal((n, fin))
    lw = RNG.standard_normal((c, fin))
    lb = RNG.standard_normal(c)
    y = RNG.integers(0, c, n)
    y[2] = -100
    return h, lw, lb, y


@pytest.mark.parametrize("options", [None, 1, 2, 4, 9, 100, {"batch_chunk_size": 5, "chunking_method": None},
                                     LinearCrossEntropyOptions(chunking_method="aspect_ratio")])
def test_linear_cross_entropy_any_chunking_matches_torch(options):
    h, lw, lb, y = _lce_data()
    w = RNG.uniform(0.5, 2, 5)
    kw = {"linear_bias": lb, "weight": w, "label_smoothing": 0.2}
    f = lambda h, lw, lb: linear_cross_entropy(h, lw, y, options=options, **{**kw, "linear_bias": lb})  # noqa: E731
    th, tlw, tlb = _t(h, True), _t(lw, True), _t(lb, True)
    ref = TF.linear_cross_entropy(th, tlw, _t(y), linear_bias=tlb, weight=_t(w), label_smoothing=0.2)
    assert float(f(h, lw, lb)) == pytest.approx(float(ref.detach()), rel=1e-14)
    grads = jax.grad(f, argnums=(0, 1, 2))(h, lw, lb)
    for g, r in zip(grads, torch.autograd.grad(ref, (th, tlw, tlb)), strict=True):
        np.testing.assert_allclose(g, r.numpy(), rtol=1e-12, atol=1e-15)


def test_linear_cross_entropy_accepts_torch_options():
    h, lw, lb, y = _lce_data()
    opts = torch.nn.LinearCrossEntropyOptions(batch_chunk_size=4)
    got = linear_cross_entropy(h, lw, y, linear_bias=lb, options=opts)
    want = _torch(TF.linear_cross_entropy, h, lw, y, linear_bias=lb, options=opts)
    assert float(got) == pytest.approx(float(want), rel=1e-14)


@pytest.mark.parametrize("n, fin, c", [(7, 3, 5), (8192, 4096, 128000), (64, 84, 10), (1, 3, 100), (33, 2, 9)])
@pytest.mark.parametrize("method", ["aspect_ratio", "aspect_ratio:2", "aspect_ratio:3"])
def test_chunk_heuristic_is_torchs(n, fin, c, method):
    want = torch.nn.LinearCrossEntropyOptions(chunking_method=method)._adjust(n, fin, c, torch.float32)
    assert chunk_rows(LinearCrossEntropyOptions(chunking_method=method), n, fin, c) == want.batch_chunk_size
    # None / "auto" is torch's device-less auto pick
    auto = torch.nn.LinearCrossEntropyOptions()._adjust(n, fin, c, torch.float32)
    assert chunk_rows(None, n, fin, c) == auto.batch_chunk_size


def _all_shapes(jaxpr):
    """The shapes of every intermediate of ``jaxpr``, nested jaxprs (scan, remat, jit) included."""
    for eqn in jaxpr.eqns:
        for v in eqn.outvars:
            yield tuple(getattr(v.aval, "shape", ()))
        for p in eqn.params.values():
            for j in p if isinstance(p, (list, tuple)) else [p]:
                if hasattr(j, "eqns"):
                    yield from _all_shapes(j)
                elif hasattr(getattr(j, "jaxpr", None), "eqns"):
                    yield from _all_shapes(j.jaxpr)


def test_linear_cross_entropy_never_materializes_full_logits():
    n, fin, c = 64, 3, 50
    h = jnp.asarray(RNG.standard_normal((n, fin)))
    lw = jnp.asarray(RNG.standard_normal((c, fin)))
    y = jnp.asarray(RNG.integers(0, c, n))
    f = lambda h, lw: linear_cross_entropy(h, lw, y, label_smoothing=0.1, options=8)  # noqa: E731
    jaxpr = jax.make_jaxpr(jax.value_and_grad(f, argnums=(0, 1)))(h, lw)
    shapes = set(_all_shapes(jaxpr.jaxpr))
    assert (8, c) in shapes  # a chunk's logits
    assert not any(len(s) >= 2 and s[-1] == c and math.prod(s[:-1]) >= n for s in shapes), shapes
    # the reference (unchunked) formulation does have them
    ref = jax.make_jaxpr(jax.value_and_grad(lambda h, lw: cross_entropy(h @ lw.T, y), argnums=(0, 1)))(h, lw)
    assert (n, c) in set(_all_shapes(ref.jaxpr))


@pytest.mark.parametrize(
    "args, kwargs, exc, match",
    [
        ((np.zeros((2, 2, 3)), np.zeros((5, 3)), np.zeros(2, np.int64)), {}, ValueError, "input must be 1- or 2-dimensional"),
        ((np.zeros((2, 3)), np.zeros(3), np.zeros(2, np.int64)), {}, ValueError, "linear_weight must be at least 2-dimensional"),
        ((np.zeros((2, 3)), np.zeros((5, 4)), np.zeros(2, np.int64)), {}, ValueError, "in_features 3"),
        ((np.zeros((2, 3)), np.zeros((5, 3)), np.zeros(2, np.int64)), {"linear_bias": np.zeros(4)}, ValueError,
         r"linear_bias must have shape \(5,\)"),
        ((np.zeros(3), np.zeros((5, 2, 3)), np.zeros((), np.int64)), {}, ValueError, "needs a batched input"),
        ((np.zeros((2, 3)), np.zeros((5, 3)), np.zeros((2, 5))), {"ignore_index": -100}, ValueError,
         "ignore_index must be None with class-probability targets"),
        ((np.zeros((2, 3)), np.zeros((5, 3)), np.zeros((2, 5), np.int64)), {}, TypeError, "must be floating"),
        ((np.zeros((2, 3)), np.zeros((5, 3)), np.zeros(3, np.int64)), {}, ValueError, r"target must have shape"),
        ((np.zeros((2, 3)), np.zeros((5, 3)), np.array([0, 5])), {}, ValueError, r"in \[0, 5\) .*got 5"),
        ((np.zeros((2, 3)), np.zeros((5, 3)), np.array([0, 1])), {"weight": np.ones(4)}, ValueError, "weight must be"),
        ((np.zeros((2, 3)), np.zeros((5, 3)), np.array([0, 1])), {"reduction": "avg"}, ValueError, "reduction"),
        ((np.zeros((2, 3)), np.zeros((5, 3)), np.array([0, 1])), {"label_smoothing": 2.0}, ValueError, "label_smoothing"),
        ((np.zeros((2, 3)), np.zeros((5, 3)), np.array([0, 1])), {"options": "fast"}, TypeError, "options must be"),
        ((np.zeros((2, 3)), np.zeros((5, 3)), np.array([0, 1])), {"options": {"chunk": 2}}, ValueError, "unknown keys"),
        ((np.zeros((2, 3)), np.zeros((5, 3)), np.array([0, 1])), {"options": 0}, ValueError, "batch_chunk_size must be a positive"),
        ((np.zeros((2, 3)), np.zeros((5, 3)), np.array([0, 1])),
         {"options": {"batch_chunk_size": 2, "chunking_method": "aspect_ratio"}}, ValueError, "give different chunk sizes"),
    ],
)
def test_linear_cross_entropy_bad_input(args, kwargs, exc, match):
    with pytest.raises(exc, match=f"^linear_cross_entropy: .*{match}"):
        linear_cross_entropy(*args, **kwargs)


@pytest.mark.parametrize("kw, match", [({"acc_policy": "fast"}, "acc_policy"),
                                        ({"chunking_method": "rows"}, "chunking_method"),
                                        ({"batch_chunk_size": -1}, "batch_chunk_size")])
def test_linear_cross_entropy_options_validation(kw, match):
    with pytest.raises(ValueError, match=f"^LinearCrossEntropyOptions: {match}"):
        LinearCrossEntropyOptions(**kw)


def test_linear_cross_entropy_checked_and_jit():
    h, lw, lb, _ = _lce_data(n=3)
    bad = jnp.asarray([0, 7, -100])
    with pytest.raises(ValueError, match="^linear_cross_entropy: target class indices must be in"):
        checked(linear_cross_entropy)(h, lw, bad)
    out = jax.jit(lambda h, y: linear_cross_entropy(h, lw, y, reduction="none", options=2))(h, bad)
    assert np.isfinite(out[0]) and np.isnan(out[1]) and out[2] == 0.0


def test_linear_cross_entropy_is_reachable_from_classification_module():
    assert cls.linear_cross_entropy is linear_cross_entropy
    assert cls.LinearCrossEntropyOptions is LinearCrossEntropyOptions
    with pytest.raises(AttributeError):
        cls.no_such_name  # noqa: B018
