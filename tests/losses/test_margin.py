"""margin_ranking_loss, hinge_embedding_loss, soft_margin_loss, multilabel_soft_margin_loss,
multi_margin_loss, multilabel_margin_loss: hand-computed and torch numbers, torch's gradient at the
kinks, bad input (eager checks and value checks, concrete and through jloss.checked), legacy
arguments, jit / grad / vmap, no recompilation."""

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from jloss import _rows
from jloss._checks import checked
from jloss.losses import _margin as M
from jloss.losses._margin import (
    hinge_embedding_loss,
    margin_ranking_loss,
    multi_margin_loss,
    multilabel_margin_loss,
    multilabel_soft_margin_loss,
    soft_margin_loss,
)

RNG = np.random.default_rng(11)


def _t(x, requires_grad=False):
    a = np.asarray(x)
    if np.issubdtype(a.dtype, np.integer):
        return torch.from_numpy(a.astype(np.int64))
    return torch.from_numpy(np.array(a, dtype=np.float64, copy=True)).requires_grad_(requires_grad)


def _pm1(shape):
    return np.where(RNG.uniform(size=shape) < 0.5, -1.0, 1.0)


def _labels(n, c):
    rows = []
    for i in range(n):
        k = i % (c + 1)
        row = list(RNG.permutation(c)[:k]) + ([-1] if k < c else [])
        rows.append(row + list(RNG.integers(-1, c, c - len(row))))
    return np.array(rows, dtype=np.int64)


# ---- hand-computed numbers ---------------------------------------------------------------------


def test_margin_ranking_by_hand():
    x1, x2, y = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 1.0]), np.array([1.0, -1.0, 1.0])
    # -y (x1 - x2) + 0.5 = [1.5, 0.5, -1.5] -> clamp at 0
    np.testing.assert_allclose(margin_ranking_loss(x1, x2, y, margin=0.5, reduction="none"), [1.5, 0.5, 0.0])
    assert float(margin_ranking_loss(x1, x2, y, margin=0.5, reduction="sum")) == pytest.approx(2.0)
    assert float(margin_ranking_loss(x1, x2, y, 0.5)) == pytest.approx(2.0 / 3)
    assert float(margin_ranking_loss(x1, x2, y)) == pytest.approx(1.0 / 3)  # margin 0: [1, 0, 0]


def test_hinge_embedding_by_hand():
    x, y = np.array([0.3, 2.0, -0.5, 0.4]), np.array([1.0, -1.0, -1.0, 0.0])
    # y=1: x; y=-1: max(0, 1 - x); any other value: both terms
    np.testing.assert_allclose(hinge_embedding_loss(x, y, reduction="none"), [0.3, 0.0, 1.5, 1.0], rtol=1e-15)
    assert float(hinge_embedding_loss(x, y, margin=2.5, reduction="sum")) == pytest.approx(0.3 + 0.5 + 3.0 + 2.5)


def test_soft_margin_by_hand():
    x, y = np.array([0.0, 1.0, -2.0]), np.array([1.0, -1.0, -1.0])
    expected = [math.log(2), math.log1p(math.e), math.log1p(math.exp(-2))]
    np.testing.assert_allclose(soft_margin_loss(x, y, reduction="none"), expected, rtol=1e-15)
    assert float(soft_margin_loss(x, y)) == pytest.approx(sum(expected) / 3, rel=1e-15)


def test_soft_margin_is_finite_where_torch_overflows():
    x = np.array([-800.0, 800.0])
    y = np.ones(2)
    assert math.isinf(float(TF.soft_margin_loss(_t(x), _t(y), reduction="none")[0]))
    np.testing.assert_allclose(soft_margin_loss(x, y, reduction="none"), [800.0, 0.0])
    g = jax.grad(lambda x: soft_margin_loss(x, y, reduction="sum"))(jnp.asarray(x))
    np.testing.assert_allclose(g, [-1.0, 0.0])


def test_multilabel_soft_margin_by_hand():
    x, y = np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]])
    # class 0: -log sigmoid(0) = log 2; class 1: -log sigmoid(-1) = log(1 + e); mean over C = 2
    a, b = math.log(2), math.log1p(math.e)
    np.testing.assert_allclose(multilabel_soft_margin_loss(x, y, reduction="none"), [(a + b) / 2], rtol=1e-15)
    w = np.array([2.0, 1.0])
    assert float(multilabel_soft_margin_loss(x, y, weight=w)) == pytest.approx((2 * a + b) / 2, rel=1e-15)


def test_multi_margin_by_hand():
    # torch's documented example: x = [0.1, 0.2, 0.4, 0.8], y = 3
    x, y = np.array([[0.1, 0.2, 0.4, 0.8]]), np.array([3])
    assert float(multi_margin_loss(x, y)) == pytest.approx((0.3 + 0.4 + 0.6) / 4, rel=1e-14)
    assert float(multi_margin_loss(x, y, p=2)) == pytest.approx((0.09 + 0.16 + 0.36) / 4, rel=1e-14)
    w = np.array([1.0, 1.0, 1.0, 2.0])
    assert float(multi_margin_loss(x, y, weight=w)) == pytest.approx(2 * 1.3 / 4, rel=1e-14)
    # margin 0.3: z_j = 0.3 - 0.8 + x_j = [-0.4, -0.3, -0.1], all clamped to 0
    assert float(multi_margin_loss(x, y, margin=0.3)) == 0.0
    # unbatched input, 0-d target: a scalar even for 'none'; a (1,) target gives (1,)
    assert multi_margin_loss(x[0], np.array(3), reduction="none").shape == ()
    assert multi_margin_loss(x[0], np.array([3]), reduction="none").shape == (1,)


def test_multilabel_margin_by_hand():
    # torch's documented example: classes {3, 0}, non-targets {1, 2}
    x, t = np.array([[0.1, 0.2, 0.4, 0.8]]), np.array([[3, 0, -1, 1]])
    assert float(multilabel_margin_loss(x, t)) == pytest.approx((0.4 + 0.6 + 1.1 + 1.3) / 4, rel=1e-14)
    # a class listed twice counts twice (torch's loop over positions)
    t2 = np.array([[3, 3, -1, 1]])
    assert float(multilabel_margin_loss(x, t2)) == pytest.approx(2 * (0.3 + 0.4 + 0.6) / 4, rel=1e-14)
    # empty list (first entry -1): loss 0; every class listed: no non-target, loss 0
    assert float(multilabel_margin_loss(x, np.array([[-1, 3, 0, 1]]))) == 0.0
    assert float(multilabel_margin_loss(x, np.array([[0, 1, 2, 3]]))) == 0.0
    assert multilabel_margin_loss(x[0], t[0], reduction="none").shape == ()


# ---- against torch: values, gradients (at the kinks too) -------------------------------------


def _compare_with_torch(fn, tfn, arrays, grad_pos, **kw):
    ts = [_t(a, i in grad_pos) for i, a in enumerate(arrays)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tout = tfn(*ts, **kw)
    tg = torch.autograd.grad(tout.sum(), [ts[i] for i in grad_pos])
    out = fn(*arrays, **kw)
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-14)

    def total(*diff):
        full = list(arrays)
        for i, d in zip(grad_pos, diff, strict=True):
            full[i] = d
        return jnp.sum(fn(*full, **kw))

    jg = jax.grad(total, argnums=tuple(range(len(grad_pos))))(*[jnp.asarray(arrays[i]) for i in grad_pos])
    for a, b in zip(jg, tg, strict=True):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-12, atol=1e-14)


def test_kink_gradients_follow_torch():
    tie = np.array([0.5, -1.0, 2.0])
    # clamp_min: the gradient passes at 0 (margin_ranking with x1 == x2 and margin 0; hinge with x == margin)
    _compare_with_torch(margin_ranking_loss, TF.margin_ranking_loss, [tie, tie.copy(), np.array([1.0, -1.0, 0.0])], (0, 1, 2))
    _compare_with_torch(hinge_embedding_loss, TF.hinge_embedding_loss, [np.array([1.0, 1.0]), np.array([-1.0, 0.0])], (0,))
    # the kernels' z > 0: no gradient at 0
    kx = np.array([[0.0, 1.0, 0.5]])
    for p in (1, 2):
        _compare_with_torch(multi_margin_loss, TF.multi_margin_loss, [kx, np.array([1])], (0,), p=p)
    _compare_with_torch(multilabel_margin_loss, TF.multilabel_margin_loss, [kx, np.array([[1, -1, 0]])], (0,))
    # log-sigmoid / softplus at exactly 0
    z = np.array([[0.0, 0.0, 1.0]])
    _compare_with_torch(soft_margin_loss, TF.soft_margin_loss, [z, np.array([[1.0, -1.0, 1.0]])], (0,))
    _compare_with_torch(
        multilabel_soft_margin_loss, TF.multilabel_soft_margin_loss, [z, np.array([[1.0, 0.0, 0.3]])], (0, 1)
    )


def test_random_against_torch():
    x = RNG.standard_normal((6, 5))
    _compare_with_torch(multi_margin_loss, TF.multi_margin_loss, [x, RNG.integers(0, 5, 6)], (0,), p=2, margin=0.7)
    _compare_with_torch(multilabel_margin_loss, TF.multilabel_margin_loss, [x, _labels(6, 5)], (0,), reduction="none")
    _compare_with_torch(
        multilabel_soft_margin_loss, TF.multilabel_soft_margin_loss, [x, RNG.uniform(size=(6, 5)), RNG.uniform(size=5)], (0, 1)
    )


@pytest.fixture
def small_pair_blocks(monkeypatch):
    """multilabel_margin_loss computes blocks of rows of ~jloss._rows.BLOCK pairwise terms (map_rows): a
    tiny block sends small batches through several blocks and a partial last one. The jit caches
    are cleared around it so that no trace made with the other block size is reused."""
    jax.clear_caches()
    monkeypatch.setattr(_rows, "BLOCK", 48)
    yield
    monkeypatch.undo()
    jax.clear_caches()


@pytest.mark.parametrize("n_classes, longest, scores", [
    (6, 4, "finite"),   # bucket 4: 2 rows a block, 13 = 6 blocks + 1 row
    (6, 6, "finite"),   # bucket C = 6: a row a block
    (20, 12, "finite"),  # bucket 16 (unrolled positions)
    (20, 20, "finite"),  # bucket C = 20 (the (rows, position, class) form)
    (6, 6, "inf"),      # an infinite score: the exact (rows, C, C) form
    (6, 3, "nan"),
])
def test_multilabel_margin_block_by_block(small_pair_blocks, n_classes, longest, scores):
    n = 13
    x = RNG.standard_normal((n, n_classes))
    if scores != "finite":
        x[4, 1] = np.inf if scores == "inf" else np.nan
        x[9, 0] = -np.inf if scores == "inf" else np.nan
    # lists of 0 .. `longest` classes (the first row's that long), -1, then ignored entries
    t = RNG.integers(-1, n_classes, (n, n_classes))
    for i, row in enumerate(t):
        k = longest if i == 0 else i % (longest + 1)
        row[:k] = RNG.permutation(n_classes)[:k]
        if k < n_classes:
            row[k] = -1
    _compare_with_torch(multilabel_margin_loss, TF.multilabel_margin_loss, [x, t], (0,), reduction="none")


@pytest.mark.parametrize("name", ["multi_margin_loss", "multilabel_margin_loss"])
def test_bfloat16_matches_torch_float32_on_rounded_inputs(name):
    # torch's CPU kernels of these two have no bfloat16; compare with float32 on the same values
    x = jnp.asarray(RNG.standard_normal((8, 6)), jnp.bfloat16)
    xf = torch.from_numpy(np.array(x.astype(jnp.float32)))
    t = RNG.integers(0, 6, 8) if name == "multi_margin_loss" else _labels(8, 6)
    out = getattr(M, name)(x, t, reduction="none")
    assert out.dtype == jnp.bfloat16
    ref = getattr(TF, name)(xf, torch.from_numpy(t), reduction="none").numpy()
    np.testing.assert_allclose(np.asarray(out.astype(jnp.float32)), ref, rtol=1e-2, atol=1e-2)


def test_empty_batch():
    # torch returns uninitialized memory here; jloss: 'mean' of nothing is NaN, 'sum' is 0
    x = np.zeros((0, 4))
    for fn, t in ((multi_margin_loss, np.zeros(0, np.int64)), (multilabel_margin_loss, np.zeros((0, 4), np.int64))):
        assert math.isnan(float(fn(x, t)))
        assert float(fn(x, t, reduction="sum")) == 0.0
        assert fn(x, t, reduction="none").shape == (0,)


# ---- bad input -------------------------------------------------------------------------------

X = RNG.standard_normal((3, 4))
Y = _pm1((3, 4))


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: margin_ranking_loss(X, X, Y, reduction="avg"), ValueError, "reduction must be one of"),
        (lambda: margin_ranking_loss(X.astype(int), X, Y), TypeError, "input1 must have a floating dtype"),
        (lambda: margin_ranking_loss(X, None, Y), TypeError, "input2 must be an array"),
        (lambda: margin_ranking_loss(X, X, Y > 0), TypeError, "target must have a numeric dtype"),
        (lambda: margin_ranking_loss(X, X, Y.astype(complex)), TypeError, "target must have a real dtype"),
        (lambda: margin_ranking_loss(X, X[0], Y), ValueError, "same number of dimensions"),
        (lambda: margin_ranking_loss(X, X[:, :3], Y), ValueError, "does not broadcast"),
        (lambda: margin_ranking_loss(X, X, Y, margin=np.ones(2)), TypeError, "margin must be a real number"),
        (lambda: margin_ranking_loss(X, X, Y, margin="1"), TypeError, "margin must be a real number"),
    ],
)
def test_margin_ranking_bad_input(call, exc, match):
    with pytest.raises(exc, match=r"^margin_ranking_loss: .*" + match):
        call()


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: hinge_embedding_loss(X, Y, reduction="avg"), ValueError, "reduction must be one of"),
        (lambda: hinge_embedding_loss(X.astype(int), Y), TypeError, "input must have a floating dtype"),
        (lambda: hinge_embedding_loss(X, "y"), TypeError, "target must be an array"),
        (lambda: hinge_embedding_loss(X, Y.astype(complex)), TypeError, "target must have a real dtype"),
        (lambda: hinge_embedding_loss(X, Y[:, :3]), ValueError, "does not broadcast"),
        (lambda: hinge_embedding_loss(X, Y, margin=np.ones(2)), TypeError, "margin must be a real number"),
    ],
)
def test_hinge_embedding_bad_input(call, exc, match):
    with pytest.raises(exc, match=r"^hinge_embedding_loss: .*" + match):
        call()


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: soft_margin_loss(X, Y, reduction="avg"), ValueError, "reduction must be one of"),
        (lambda: soft_margin_loss(X.astype(int), Y), TypeError, "input must have a floating dtype"),
        (lambda: soft_margin_loss(X, Y.astype(complex)), TypeError, "target must have a real dtype"),
        (lambda: soft_margin_loss(X[0], Y), ValueError, "without enlarging"),
        (lambda: soft_margin_loss(X, Y[:, :3]), ValueError, "does not broadcast"),
    ],
)
def test_soft_margin_bad_input(call, exc, match):
    with pytest.raises(exc, match=r"^soft_margin_loss: .*" + match):
        call()


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: multilabel_soft_margin_loss(X, Y, reduction="avg"), ValueError, "reduction must be one of"),
        (lambda: multilabel_soft_margin_loss(X, Y, reduction="elementwise_mean"), ValueError, "got 'elementwise_mean'"),
        (lambda: multilabel_soft_margin_loss(X.astype(int), Y), TypeError, "input must have a floating dtype"),
        (lambda: multilabel_soft_margin_loss(np.float64(0.5), 1.0), ValueError, "at least 1-D"),
        (lambda: multilabel_soft_margin_loss(X, Y > 0), TypeError, "target must have a numeric dtype"),
        (lambda: multilabel_soft_margin_loss(X, Y[:, :3]), ValueError, "does not broadcast"),
        (lambda: multilabel_soft_margin_loss(X, Y, weight=np.ones(3)), ValueError, "weight of shape"),
        (lambda: multilabel_soft_margin_loss(X, Y, weight="w"), TypeError, "weight must be an array"),
    ],
)
def test_multilabel_soft_margin_bad_input(call, exc, match):
    with pytest.raises(exc, match=r"^multilabel_soft_margin_loss: .*" + match):
        call()


T = np.array([0, 3, 1])


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: multi_margin_loss(X, T, reduction="avg"), ValueError, "reduction must be one of"),
        (lambda: multi_margin_loss(X, T, p=3), ValueError, "p must be 1 or 2"),
        (lambda: multi_margin_loss(X, T, p=1.5), ValueError, "p must be 1 or 2"),
        (lambda: multi_margin_loss(X, T, p=np.ones(2)), ValueError, "p must be 1 or 2"),
        (lambda: multi_margin_loss(X.astype(int), T), TypeError, "input must have a floating dtype"),
        (lambda: multi_margin_loss(X[None], T), ValueError, r"non-empty vector \(C,\) or matrix"),
        (lambda: multi_margin_loss(X[:, :0], T), ValueError, r"non-empty vector \(C,\) or matrix"),
        (lambda: multi_margin_loss(X[0, :0], T[:0]), ValueError, r"non-empty vector \(C,\) or matrix"),
        (lambda: multi_margin_loss(X, T.astype(float)), TypeError, "target must have an integer dtype"),
        (lambda: multi_margin_loss(X, T[:, None]), ValueError, "target must be 1-D"),
        (lambda: multi_margin_loss(X, T[:2]), ValueError, "expected size 3"),
        (lambda: multi_margin_loss(X[0], T[:2]), ValueError, "expected size 1"),
        (lambda: multi_margin_loss(X, T, weight=np.ones((1, 4))), ValueError, "weight must be one-dimensional"),
        (lambda: multi_margin_loss(X, T, weight=np.ones(3)), ValueError, "weight must have 4 entries"),
        (lambda: multi_margin_loss(X, T, weight=np.ones(4, np.float32)), TypeError, "weight must have the input's dtype"),
        (lambda: multi_margin_loss(X, T, margin=np.ones(2)), TypeError, "margin must be a real number"),
        (lambda: multi_margin_loss(X, np.array([0, 4, 1])), ValueError, r"target out of range.*\[0, 4\)"),
        (lambda: multi_margin_loss(X, np.array([0, -1, 1])), ValueError, "target out of range"),
    ],
)
def test_multi_margin_bad_input(call, exc, match):
    with pytest.raises(exc, match=r"^multi_margin_loss: .*" + match):
        call()


L = np.array([[0, 3, -1, 1], [2, -1, 0, 0], [-1, 0, 0, 0]])


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: multilabel_margin_loss(X, L, reduction="avg"), ValueError, "reduction must be one of"),
        (lambda: multilabel_margin_loss(X.astype(int), L), TypeError, "input must have a floating dtype"),
        (lambda: multilabel_margin_loss(X[None], L[None]), ValueError, r"non-empty vector \(C,\) or matrix"),
        (lambda: multilabel_margin_loss(X[:, :0], L[:, :0]), ValueError, r"non-empty vector \(C,\) or matrix"),
        (lambda: multilabel_margin_loss(X, L.astype(float)), TypeError, "target must have an integer dtype"),
        (lambda: multilabel_margin_loss(X, L[:, :3]), ValueError, r"target must have the input's shape \(3, 4\)"),
        (lambda: multilabel_margin_loss(X[0], L[:1]), ValueError, r"target must have the input's shape \(4,\)"),
        (lambda: multilabel_margin_loss(X[:1], L[0]), ValueError, "target must have the input's shape"),
    ],
)
def test_multilabel_margin_bad_input(call, exc, match):
    with pytest.raises(exc, match=r"^multilabel_margin_loss: .*" + match):
        call()


# ---- value checks: concrete, jloss.checked, plain jit -------------------------------------------

_OUT_OF_RANGE = [
    (multi_margin_loss, X, np.array([0, 4, 1]), "target out of range"),
    (multi_margin_loss, X, np.array([0, -1, 1]), "target out of range"),
    (multilabel_margin_loss, X, np.array([[0, 3, -1, 4], [2, -1, 0, 0], [-1, 0, 0, 0]]), "target is out of range"),
    (multilabel_margin_loss, X, np.array([[0, 3, -1, 1], [2, -2, 0, 0], [-1, 0, 0, 0]]), "target is out of range"),
]


@pytest.mark.parametrize("fn, x, t, match", _OUT_OF_RANGE)
def test_value_checks(fn, x, t, match):
    # torch refuses the same targets (entries after the first -1 are checked as well)
    with pytest.raises(RuntimeError, match="out of range"):
        getattr(TF, fn.__name__)(_t(x), _t(t))
    with pytest.raises(ValueError, match=rf"^{fn.__name__}: {match}"):
        fn(x, t)
    with pytest.raises(ValueError, match=rf"^{fn.__name__}: {match}"):
        checked(fn)(jnp.asarray(x), jnp.asarray(t), reduction="none")
    # under a plain jit the check cannot run: the bad sample's loss is NaN, the others are exact
    out = jax.jit(lambda x, t: fn(x, t, reduction="none"))(x, t)
    if fn is multi_margin_loss:
        bad = (t < 0) | (t >= x.shape[1])
    else:
        bad = np.any((t < -1) | (t >= x.shape[1]), axis=-1)
    assert np.all(np.isnan(np.asarray(out)[bad]))
    good = ~bad
    ref = getattr(TF, fn.__name__)(_t(x[good]), _t(t[good]), reduction="none").numpy()
    np.testing.assert_allclose(np.asarray(out)[good], ref, rtol=1e-14)
    # good targets pass through checked
    good_t = t.copy()
    good_t[bad] = 0
    np.testing.assert_allclose(checked(fn)(jnp.asarray(x), jnp.asarray(good_t)), fn(x, good_t), rtol=1e-15)


# ---- legacy arguments ------------------------------------------------------------------------

_SIMPLE_CALLS = {
    "margin_ranking_loss": (margin_ranking_loss, lambda: (X, RNG.standard_normal((3, 4)), Y)),
    "hinge_embedding_loss": (hinge_embedding_loss, lambda: (X, Y)),
    "soft_margin_loss": (soft_margin_loss, lambda: (X, Y)),
    "multilabel_soft_margin_loss": (multilabel_soft_margin_loss, lambda: (X, (Y > 0).astype(float))),
    "multi_margin_loss": (multi_margin_loss, lambda: (X, T)),
    "multilabel_margin_loss": (multilabel_margin_loss, lambda: (X, L)),
}


@pytest.mark.parametrize("name", sorted(_SIMPLE_CALLS))
def test_legacy_arguments(name):
    fn, make = _SIMPLE_CALLS[name]
    args = make()
    with pytest.warns(DeprecationWarning, match="size_average and reduce args are deprecated"):
        s = fn(*args, size_average=False)
    np.testing.assert_array_equal(s, fn(*args, reduction="sum"))
    with pytest.warns(DeprecationWarning):
        n = fn(*args, reduce=False, reduction="sum")  # legacy args override reduction, as torch
    np.testing.assert_array_equal(n, fn(*args, reduction="none"))
    with pytest.warns(DeprecationWarning):
        m = fn(*args, size_average=True, reduce=True)
    np.testing.assert_array_equal(m, fn(*args))


# ---- jit / grad / vmap -------------------------------------------------------------------------

B = 3


def _batched(name):
    """(fn, per-example args with a leading batch axis, in_axes, kwargs, differentiable positions)."""
    x = RNG.standard_normal((B, 4, 5))
    if name == "margin_ranking_loss":
        return margin_ranking_loss, (x, RNG.standard_normal((B, 4, 5)), _pm1((B, 4, 5))), (0, 0, 0), {"margin": 0.2}, (0, 1, 2)
    if name == "hinge_embedding_loss":
        return hinge_embedding_loss, (x, _pm1((B, 4, 5))), (0, 0), {"margin": 0.5}, (0,)
    if name == "soft_margin_loss":
        return soft_margin_loss, (x, _pm1((B, 4, 5))), (0, 0), {}, (0,)
    if name == "multilabel_soft_margin_loss":
        y = RNG.uniform(size=(B, 4, 5))
        return multilabel_soft_margin_loss, (x, y, RNG.uniform(size=5)), (0, 0, None), {}, (0, 1, 2)
    if name == "multi_margin_loss":
        w = jnp.asarray(RNG.uniform(size=5))
        return multi_margin_loss, (x, RNG.integers(0, 5, (B, 4))), (0, 0), {"p": 2, "weight": w}, (0,)
    return multilabel_margin_loss, (x, np.stack([_labels(4, 5) for _ in range(B)])), (0, 0), {}, (0,)


NAMES = sorted(_SIMPLE_CALLS)


@pytest.mark.parametrize("reduction", ["none", "mean"])
@pytest.mark.parametrize("name", NAMES)
def test_vmap_equals_loop(name, reduction):
    fn, args, in_axes, kw, _ = _batched(name)

    def f(*a):
        return fn(*a, reduction=reduction, **kw)

    got = jax.vmap(f, in_axes=in_axes)(*[jnp.asarray(a) for a in args])
    loop = np.stack(
        [np.asarray(f(*[a if ax is None else a[i] for a, ax in zip(args, in_axes, strict=True)])) for i in range(B)]
    )
    np.testing.assert_allclose(got, loop, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_jit_and_grad(name):
    fn, args, in_axes, kw, diff = _batched(name)
    args = [a if ax is None else a[0] for a, ax in zip(args, in_axes, strict=True)]
    eager = fn(*args, **kw)
    np.testing.assert_array_equal(jax.jit(lambda *a: fn(*a, **kw))(*args), eager)

    def total(*d):
        full = list(args)
        for i, v in zip(diff, d, strict=True):
            full[i] = v
        return fn(*full, reduction="sum", **kw)

    grads = jax.jit(jax.grad(total, argnums=tuple(range(len(diff)))))(*[jnp.asarray(args[i]) for i in diff])
    ts = [_t(a, i in diff) for i, a in enumerate(args)]
    tkw = {k: _t(np.asarray(v)) if isinstance(v, jax.Array) else v for k, v in kw.items()}
    tout = getattr(TF, name)(*ts, reduction="sum", **tkw)
    tg = torch.autograd.grad(tout, [ts[i] for i in diff])
    for g, r in zip(grads, tg, strict=True):
        np.testing.assert_allclose(g, r.numpy(), rtol=1e-12, atol=1e-14)


def test_margin_is_traced_no_recompilation():
    x, y = jnp.asarray(X), jnp.asarray(T)
    multi_margin_loss(x, y, margin=0.5)
    before = M._multi_margin._cache_size()
    multi_margin_loss(x, y, margin=0.25)
    multi_margin_loss(x, y, margin=-1)
    assert M._multi_margin._cache_size() == before
    margin_ranking_loss(x, x, x, margin=0.1)
    before = M._margin_ranking._cache_size()
    margin_ranking_loss(x, x, x, margin=-0.3)
    assert M._margin_ranking._cache_size() == before


def test_multi_margin_weight_dtype_must_match_like_torch():
    with pytest.raises(RuntimeError, match="expected scalar type"):
        TF.multi_margin_loss(_t(X), _t(T), weight=torch.ones(4, dtype=torch.float32))
    x32 = X.astype(np.float32)
    out = multi_margin_loss(x32, T, weight=np.ones(4, np.float32))
    assert out.dtype == jnp.float32
