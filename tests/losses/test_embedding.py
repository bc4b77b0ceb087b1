"""pairwise_distance, cosine_similarity, cosine_embedding_loss, triplet_margin_loss,
triplet_margin_with_distance_loss: hand-computed and torch numbers, torch's gradients at zero
vectors, bad input, legacy arguments, jit / grad / vmap / jacfwd, no recompilation."""

import math
import warnings
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from jloss import _rows
from jloss._checks import checked
from jloss.losses import _embedding as emb
from jloss.losses._embedding import (
    cosine_embedding_loss,
    cosine_similarity,
    pairwise_distance,
    triplet_margin_loss,
    triplet_margin_with_distance_loss,
)

RNG = np.random.default_rng(7)


def _t(x, requires_grad=False):
    return torch.from_numpy(np.array(x, dtype=np.float64, copy=True)).requires_grad_(requires_grad)


def _torch_value_and_grads(fn, arrays, **kwargs):
    """torch's value and d(sum)/d(each array), all float64."""
    ts = [_t(a, True) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(*ts, **kwargs)
    grads = torch.autograd.grad(out.sum(), ts, allow_unused=True)
    grads = [
        np.zeros(np.shape(a)) if g is None else g.numpy()
        for g, a in zip(grads, arrays, strict=True)
    ]
    return out.detach().numpy(), grads


def _jax_value_and_grads(fn, arrays, **kwargs):
    arrays = [jnp.asarray(a) for a in arrays]
    value = fn(*arrays, **kwargs)
    grads = jax.grad(lambda *xs: jnp.sum(fn(*xs, **kwargs)), argnums=tuple(range(len(arrays))))(
        *arrays
    )
    return np.asarray(value), [np.asarray(g) for g in grads]


def _assert_matches_torch(jfn, tfn, arrays, rtol=1e-12, **kwargs):
    tv, tg = _torch_value_and_grads(tfn, arrays, **kwargs)
    jv, jg = _jax_value_and_grads(jfn, arrays, **kwargs)
    np.testing.assert_allclose(jv, tv, rtol=rtol, atol=1e-14)
    for a, b in zip(jg, tg, strict=True):
        assert np.all(np.isfinite(a)) == np.all(np.isfinite(b))
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-14)


# ---- numbers by hand ----------------------------------------------------------------------------


def test_pairwise_distance_by_hand():
    x1, x2 = np.array([[3.0, 4.0], [1.0, 1.0]]), np.zeros((2, 2))
    np.testing.assert_allclose(pairwise_distance(x1, x2, eps=0.0), [5.0, math.sqrt(2)], rtol=1e-15)
    np.testing.assert_allclose(pairwise_distance(x1, x2, p=1, eps=0.0), [7.0, 2.0], rtol=1e-15)
    np.testing.assert_allclose(
        pairwise_distance(x1, x2, p=math.inf, eps=0.0), [4.0, 1.0], rtol=1e-15
    )
    np.testing.assert_allclose(
        pairwise_distance(x1, x2, p=-math.inf, eps=0.0), [3.0, 1.0], rtol=1e-15
    )
    np.testing.assert_allclose(pairwise_distance(x1, x2, p=0, eps=0.0), [2.0, 2.0], rtol=1e-15)
    # eps goes on the difference: ||(3 + 1, 4 + 1)|| = sqrt(41)
    np.testing.assert_allclose(
        pairwise_distance(x1[:1], x2[:1], eps=1.0), [math.sqrt(41)], rtol=1e-15
    )
    assert pairwise_distance(x1, x2, keepdim=True).shape == (2, 1)
    assert pairwise_distance(np.float64(1.0), np.float64(3.0), keepdim=True).shape == ()


def test_cosine_losses_by_hand():
    a, b = np.array([[1.0, 0.0], [1.0, 1.0]]), np.array([[0.0, 2.0], [2.0, 2.0]])
    np.testing.assert_allclose(cosine_similarity(a, b), [0.0, 1.0], atol=1e-15)
    y = np.array([1.0, -1.0])
    # y=1: 1 - 0; y=-1: max(0, cos - margin) with cos = 4 / sqrt((2 + e)(8 + e)), e = float32(1e-12)
    e = float(np.float32(1e-12))
    cos = 4 / math.sqrt((2 + e) * (8 + e))
    np.testing.assert_allclose(
        cosine_embedding_loss(a, b, y, margin=0.5, reduction="none"), [1.0, cos - 0.5], rtol=1e-15
    )


def test_triplet_by_hand():
    a, p, n = np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]]), np.array([[6.0, 8.0]])
    # d(a,p) = 5, d(a,n) = 10, d(p,n) = 5: loss max(0, 1 + 5 - 10) = 0; with swap max(0, 1 + 5 - 5) = 1
    assert float(triplet_margin_loss(a, p, n, eps=0.0)) == 0.0
    assert float(triplet_margin_loss(a, p, n, eps=0.0, swap=True)) == pytest.approx(1.0, rel=1e-15)
    l1 = lambda x, y: jnp.sum(jnp.abs(x - y), axis=-1)  # noqa: E731
    # l1: d(a,p) = 7, d(a,n) = 14: max(0, 10 + 7 - 14) = 3
    assert (
        float(triplet_margin_with_distance_loss(a, p, n, distance_function=l1, margin=10.0)) == 3.0
    )


# ---- against torch: shapes, options, torch's gradients at degenerate points ---------------------


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, 1.5, math.inf, -math.inf, 0.0, -2.0])
def test_pairwise_distance_degenerate_gradients_match_torch(p):
    # rows: a zero difference, a zero entry, tied |d| maxima / minima (eps = 0: exact differences)
    x1 = np.array([[0.3, -0.2, 0.1], [0.0, 0.4, -0.1], [0.5, -0.5, 0.25], [0.2, -0.7, 0.2]])
    x2 = np.concatenate([x1[:1], np.zeros((3, 3))])
    _assert_matches_torch(pairwise_distance, TF.pairwise_distance, [x1, x2], p=p, eps=0.0)
    jv, jg = _jax_value_and_grads(pairwise_distance, [x1, x2], p=p, eps=0.0)
    assert np.all(np.isfinite(jg[0]))
    np.testing.assert_array_equal(jg[0][0], 0.0)  # zero distance: gradient 0, not NaN


@pytest.fixture
def small_row_blocks(monkeypatch):
    """Equal-shape inputs of two or more dimensions take their distances a block of rows at a
    time (``_diff_norm``, ~jloss._rows.BLOCK elements): a tiny block sends small inputs through several
    blocks and a partial last one. The jit caches are cleared around it (no trace of the other
    block size is reused)."""
    jax.clear_caches()
    monkeypatch.setattr(_rows, "BLOCK", 6)
    yield
    monkeypatch.undo()
    jax.clear_caches()


@pytest.mark.parametrize("p", [2.0, 1.0, 0.5, math.inf, 0.0])
@pytest.mark.parametrize("shape", [(7, 3), (2, 5, 3)])
def test_pairwise_distance_block_by_block(small_row_blocks, p, shape):
    x1, x2, x3 = (RNG.standard_normal(shape) for _ in range(3))
    x2[1] = x1[1]  # a zero difference (eps = 0 below): gradient 0
    _assert_matches_torch(pairwise_distance, TF.pairwise_distance, [x1, x2], p=p, eps=0.0)
    _assert_matches_torch(pairwise_distance, TF.pairwise_distance, [x1, x2], p=p, keepdim=True)
    if len(shape) == 2:
        _assert_matches_torch(triplet_margin_loss, TF.triplet_margin_loss, [x1, x2, x3], p=p, swap=True,
                              reduction="none")


@pytest.mark.parametrize(
    "s1,s2", [((5,), (5,)), ((), ()), ((3, 1, 4), (2, 4)), ((4,), (3, 4)), ((2, 0), (2, 0))]
)
def test_pairwise_distance_shapes_match_torch(s1, s2):
    x1, x2 = RNG.standard_normal(s1), RNG.standard_normal(s2)
    for keepdim in (False, True):
        tv = TF.pairwise_distance(_t(x1), _t(x2), keepdim=keepdim).numpy()
        jv = np.asarray(pairwise_distance(x1, x2, keepdim=keepdim))
        assert jv.shape == tv.shape
        np.testing.assert_allclose(jv, tv, rtol=1e-14)


def test_integer_inputs_promote_like_torch():
    i1, i2 = np.array([[1, 2], [3, 4]]), np.array([[3, 5], [0, 0]])
    tv = TF.pairwise_distance(torch.from_numpy(i1), torch.from_numpy(i2))
    jv = pairwise_distance(i1, i2)
    assert jv.dtype == jnp.float32 and tv.dtype == torch.float32
    np.testing.assert_allclose(np.asarray(jv), tv.numpy(), rtol=1e-6)
    f = RNG.standard_normal((2, 2)).astype(np.float32)
    tc = TF.cosine_similarity(torch.from_numpy(i1), torch.from_numpy(f))
    jc = cosine_similarity(i1, f)
    assert jc.dtype == jnp.float32 and tc.dtype == torch.float32
    np.testing.assert_allclose(np.asarray(jc), tc.numpy(), rtol=1e-6)


def test_bfloat16_eps_rounds_like_torch():
    # torch forms x1 - x2 + eps in bfloat16 with eps rounded to bfloat16: exactly 0 here
    x1, x2 = jnp.zeros((2, 3), jnp.bfloat16), jnp.full((2, 3), 1e-6, jnp.bfloat16)
    out = pairwise_distance(x1, x2)
    assert out.dtype == jnp.bfloat16
    np.testing.assert_array_equal(np.asarray(out, np.float32), 0.0)
    g = jax.grad(lambda a: jnp.sum(pairwise_distance(a, x2).astype(jnp.float32)))(x1)
    np.testing.assert_array_equal(np.asarray(g, np.float32), 0.0)


def test_cosine_similarity_eps_is_per_norm_and_straight_through():
    # x1 rows: tiny (norm < eps), zero; x2: ordinary, and a zero row against an ordinary one
    x1 = np.array([[1e-9, -2e-9, 3e-9], [0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    x2 = np.array([[0.3, 0.1, -0.2], [0.5, 0.2, 0.1], [0.0, 0.0, 0.0]])
    _assert_matches_torch(cosine_similarity, TF.cosine_similarity, [x1, x2])
    _, (g1, _) = _jax_value_and_grads(cosine_similarity, [x1, x2])
    # the clamp has no gradient: d/dx1 of (x1 / max(|x1|, eps)) . x2n for |x1| < eps is
    # x2n / eps - (x1 . x2n) x1 / (eps^2 |x1|), not x2n / eps alone
    x2n = x2[0] / np.linalg.norm(x2[0])
    n1 = np.linalg.norm(x1[0])
    np.testing.assert_allclose(g1[0], x2n / 1e-8 - (x1[0] @ x2n) * x1[0] / (1e-16 * n1), rtol=1e-12)


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_cosine_similarity_dims_and_broadcasting_match_torch(dim):
    x1, x2 = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((3, 1))
    _assert_matches_torch(cosine_similarity, TF.cosine_similarity, [x1, x2], dim=dim)


def test_cosine_embedding_zero_vectors_match_torch():
    x1 = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.5, -1.0, 2.0]])
    x2 = np.array([[1.0, 2.0, -1.0], [1.0, 2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    y = np.array([1.0, -1.0, -1.0, -1.0])
    for margin in (0.0, 0.5, -0.5):
        _assert_matches_torch(
            partial(cosine_embedding_loss, target=y, margin=margin, reduction="none"),
            partial(TF.cosine_embedding_loss, target=_t(y), margin=margin, reduction="none"),
            [x1, x2],
        )


@pytest.mark.parametrize(
    "p,swap", [(2.0, False), (2.0, True), (1.0, True), (3.0, False), (math.inf, True)]
)
def test_triplet_margin_loss_matches_torch(p, swap):
    a = RNG.standard_normal((5, 4))
    pos, neg = a + 0.5 * RNG.standard_normal((5, 4)), a + RNG.standard_normal((5, 4))
    for red in ("none", "mean", "sum"):
        _assert_matches_torch(
            triplet_margin_loss,
            TF.triplet_margin_loss,
            [a, pos, neg],
            p=p,
            swap=swap,
            reduction=red,
        )


def test_triplet_zero_vectors_and_swap_ties_match_torch():
    z = np.zeros((2, 3))
    _assert_matches_torch(
        triplet_margin_loss, TF.triplet_margin_loss, [z, z, z], swap=True, reduction="none"
    )
    a, n = RNG.standard_normal((3, 3)), RNG.standard_normal((3, 3))
    _assert_matches_torch(
        triplet_margin_loss, TF.triplet_margin_loss, [a, a.copy(), n], eps=0.0, swap=True
    )


def test_triplet_with_distance_custom_and_default_match_torch():
    a, p, n = (RNG.standard_normal((4, 3)) for _ in range(3))
    jcos = lambda x, y: 1.0 - cosine_similarity(x, y, dim=-1)  # noqa: E731
    tcos = lambda x, y: 1.0 - TF.cosine_similarity(x, y, dim=-1)  # noqa: E731
    for swap in (False, True):
        _assert_matches_torch(
            partial(
                triplet_margin_with_distance_loss, distance_function=jcos, swap=swap, margin=0.3
            ),
            partial(
                TF.triplet_margin_with_distance_loss, distance_function=tcos, swap=swap, margin=0.3
            ),
            [a, p, n],
        )
        _assert_matches_torch(
            triplet_margin_with_distance_loss,
            TF.triplet_margin_with_distance_loss,
            [a, p, n],
            swap=swap,
            reduction="none",
        )


def test_triplet_with_distance_integer_distances_give_float32():
    a, p, n = (RNG.standard_normal((4, 3)) for _ in range(3))
    count = lambda x, y: jnp.sum(x > y, axis=-1)  # noqa: E731
    out = triplet_margin_with_distance_loss(a, p, n, distance_function=count, reduction="none")
    tcount = lambda x, y: torch.sum(x > y, dim=-1)  # noqa: E731
    expected = TF.triplet_margin_with_distance_loss(
        _t(a), _t(p), _t(n), distance_function=tcount, reduction="none"
    )
    assert out.dtype == jnp.float32 and expected.dtype == torch.float32
    np.testing.assert_array_equal(np.asarray(out), expected.numpy())


# ---- bad input ----------------------------------------------------------------------------------


def _x(*shape):
    return jnp.asarray(RNG.standard_normal(shape))


@pytest.mark.parametrize(
    "kwargs,args,err,match",
    [
        ({}, (None, _x(2, 3)), TypeError, "pairwise_distance: x1 must be an array"),
        (
            {},
            (_x(2, 3), jnp.ones((2, 3), jnp.complex64)),
            TypeError,
            "x2 must have a floating, integer or bool",
        ),
        ({}, (jnp.ones((2, 3), bool), _x(2, 3)), TypeError, "x1 must not be bool"),
        ({}, (_x(2, 4), _x(3, 4)), ValueError, r"x2 of shape \(3, 4\) does not broadcast"),
        ({"keepdim": 1}, (_x(2, 3), _x(2, 3)), TypeError, "keepdim must be a bool"),
        ({"p": "2"}, (_x(2, 3), _x(2, 3)), TypeError, "p must be a real number"),
        ({"eps": None}, (_x(2, 3), _x(2, 3)), TypeError, "eps must be a real number"),
        ({"p": math.inf}, (_x(2, 0), _x(2, 0)), ValueError, "inf-norm of an empty last dimension"),
        ({"p": -1.0}, (_x(2, 0), _x(2, 0)), ValueError, "-1-norm of an empty last dimension"),
    ],
)
def test_pairwise_distance_bad_input(kwargs, args, err, match):
    with pytest.raises(err, match=match):
        pairwise_distance(*args, **kwargs)


@pytest.mark.parametrize(
    "kwargs,args,err,match",
    [
        (
            {},
            (jnp.ones((2, 3), jnp.int32), jnp.ones((2, 3), jnp.int32)),
            TypeError,
            "x1 and x2 must promote to a floating dtype",
        ),
        ({"dim": 1.0}, (_x(2, 3), _x(2, 3)), TypeError, "dim must be an int"),
        ({}, (_x(3), _x(3)), ValueError, r"dim must be in \[-1, 0\] .* got 1"),
        ({"dim": -3}, (_x(2, 3), _x(2, 3)), ValueError, r"dim must be in \[-2, 1\]"),
        ({"eps": -1.0}, (_x(2, 3), _x(2, 3)), ValueError, "eps must be non-negative, got -1.0"),
        ({"eps": float("nan")}, (_x(2, 3), _x(2, 3)), ValueError, "eps must be non-negative"),
        ({}, (_x(2, 3), _x(2, 4)), ValueError, "does not broadcast"),
    ],
)
def test_cosine_similarity_bad_input(kwargs, args, err, match):
    with pytest.raises(err, match=f"^cosine_similarity: .*{match}"):
        cosine_similarity(*args, **kwargs)


@pytest.mark.parametrize(
    "args,kwargs,err,match",
    [
        (
            (_x(3, 4), _x(3, 4), _x(1, 3)),
            {},
            ValueError,
            r"target must be 0-D or 1-D .* got shape \(1, 3\)",
        ),
        (
            (_x(4), _x(4), _x(1)),
            {},
            ValueError,
            r"a 1-D target expects 2-D input1 and input2, got shapes \(4,\) and \(4,\)",
        ),
        ((_x(3, 4), _x(3, 4), _x()), {}, ValueError, "a 0-D target expects 1-D input1 and input2"),
        (
            (_x(3, 4), _x(3, 5), _x(3)),
            {},
            ValueError,
            "input2 of shape .* does not broadcast with input1",
        ),
        ((_x(3, 4), _x(3, 4), _x(2)), {}, ValueError, "target of shape .* does not broadcast"),
        (
            (_x(3, 4), _x(3, 4), _x(3)),
            {"reduction": "avg"},
            ValueError,
            "reduction must be one of .* got 'avg'",
        ),
        ((_x(3, 4), _x(3, 4), _x(3)), {"margin": "0.5"}, TypeError, "margin must be a real number"),
        ((None, _x(3, 4), _x(3)), {}, TypeError, "input1 must be an array"),
        ((_x(3, 4), _x(3, 4), None), {}, TypeError, "target must be an array"),
    ],
)
def test_cosine_embedding_loss_bad_input(args, kwargs, err, match):
    with pytest.raises(err, match=f"^cosine_embedding_loss: .*{match}"):
        cosine_embedding_loss(*args, **kwargs)


@pytest.mark.parametrize(
    "args,kwargs,err,match",
    [
        (
            (_x(3, 4), _x(3, 4), _x(3, 4)),
            {"margin": 0.0},
            ValueError,
            "margin must be greater than 0, got 0.0",
        ),
        (
            (_x(3, 4), _x(3, 4), _x(3, 4)),
            {"margin": -1},
            ValueError,
            "margin must be greater than 0",
        ),
        ((_x(3, 4), _x(4), _x(3, 4)), {}, ValueError, "anchor 2D, positive 1D and negative 2D"),
        (
            (_x(3, 4), _x(2, 4), _x(3, 4)),
            {},
            ValueError,
            "positive of shape .* does not broadcast with anchor",
        ),
        ((_x(3, 4), _x(3, 4), _x(3, 5)), {}, ValueError, "negative of shape .* does not broadcast"),
        ((_x(1, 4), _x(2, 4), _x(3, 4)), {}, ValueError, "does not broadcast"),
        (
            (_x(3, 4), _x(3, 4), _x(3, 4)),
            {"reduction": "avg"},
            ValueError,
            "reduction must be one of",
        ),
        ((_x(3, 4), _x(3, 4), _x(3, 4)), {"swap": 1}, TypeError, "swap must be a bool"),
        ((_x(3, 4), _x(3, 4), jnp.ones((3, 4), bool)), {}, TypeError, "negative must not be bool"),
        ((_x(3, 0), _x(3, 0), _x(3, 0)), {"p": math.inf}, ValueError, "empty last dimension"),
    ],
)
def test_triplet_margin_loss_bad_input(args, kwargs, err, match):
    with pytest.raises(err, match=f"^triplet_margin_loss: .*{match}"):
        triplet_margin_loss(*args, **kwargs)


@pytest.mark.parametrize(
    "args,kwargs,err,match",
    [
        (
            (_x(3, 4), _x(3, 4), _x(3, 4)),
            {"margin": 0},
            ValueError,
            "margin must be greater than 0, got 0",
        ),
        (
            (_x(3, 4), _x(3, 4), _x(3, 4)),
            {"reduction": "elementwise_mean"},
            ValueError,
            "reduction must be one of",
        ),
        ((_x(3, 4), _x(3, 4), _x(4)), {}, ValueError, "anchor 2D, positive 2D and negative 1D"),
        (
            (_x(3, 4), _x(3, 4), _x(3, 4)),
            {"distance_function": 3},
            TypeError,
            "distance_function must be a callable",
        ),
        ((_x(3, 4), _x(3, 4), _x(3, 4)), {"swap": None}, TypeError, "swap must be a bool"),
        (
            (_x(3, 4), _x(3, 4), _x(2, 4)),
            {"distance_function": lambda x, y: jnp.sum(y, -1)},
            ValueError,
            r"distance_function\(anchor, negative\) of shape \(2,\) does not broadcast",
        ),
        (
            (_x(3, 4), _x(3, 4), _x(3, 4)),
            {"distance_function": lambda x, y: (x - y).astype(jnp.complex64)},
            TypeError,
            r"distance_function\(anchor, positive\) must have a floating",
        ),
    ],
)
def test_triplet_margin_with_distance_loss_bad_input(args, kwargs, err, match):
    with pytest.raises(err, match=f"^triplet_margin_with_distance_loss: .*{match}"):
        triplet_margin_with_distance_loss(*args, **kwargs)


def test_static_options_must_be_concrete():
    with pytest.raises(TypeError, match="triplet_margin_loss: margin must be a concrete number"):
        jax.jit(lambda m: triplet_margin_loss(_x(2, 3), _x(2, 3), _x(2, 3), margin=m))(1.0)


# ---- legacy arguments ---------------------------------------------------------------------------


def test_legacy_arguments_warn_and_map_like_torch():
    x1, x2, y = _x(4, 3), _x(4, 3), jnp.asarray([1.0, -1.0, 1.0, -1.0])
    with pytest.warns(DeprecationWarning, match="cosine_embedding_loss: size_average and reduce"):
        out = cosine_embedding_loss(x1, x2, y, size_average=False)
    np.testing.assert_allclose(out, cosine_embedding_loss(x1, x2, y, reduction="sum"), rtol=1e-15)
    a, p, n = _x(4, 3), _x(4, 3), _x(4, 3)
    with pytest.warns(DeprecationWarning, match="triplet_margin_loss: size_average and reduce"):
        out = triplet_margin_loss(a, p, n, reduce=False)
    assert out.shape == (4,)
    expected, _ = _torch_value_and_grads(TF.triplet_margin_loss, [a, p, n], reduce=False)
    np.testing.assert_allclose(out, expected, rtol=1e-14)


# ---- transformations ----------------------------------------------------------------------------


def _calls():
    a, p, n = _x(4, 3), _x(4, 3), _x(4, 3)
    y = jnp.asarray([1.0, -1.0, 1.0, -1.0])
    cos_dist = lambda u, v: 1.0 - cosine_similarity(u, v, dim=-1)  # noqa: E731
    return {
        "pairwise_distance": (lambda u, v, w: pairwise_distance(u, v, p=3.0), (a, p, n)),
        "cosine_similarity": (lambda u, v, w: cosine_similarity(u, v), (a, p, n)),
        "cosine_embedding_loss": (
            lambda u, v, w: cosine_embedding_loss(u, v, y, margin=0.2),
            (a, p, n),
        ),
        "triplet_margin_loss": (lambda u, v, w: triplet_margin_loss(u, v, w, swap=True), (a, p, n)),
        "triplet_margin_with_distance_loss": (
            lambda u, v, w: triplet_margin_with_distance_loss(
                u, v, w, distance_function=cos_dist, swap=True
            ),
            (a, p, n),
        ),
    }


@pytest.mark.parametrize("name", list(_calls()))
def test_jit_grad_vmap(name):
    fn, args = _calls()[name]
    eager = fn(*args)
    np.testing.assert_allclose(jax.jit(fn)(*args), eager, rtol=1e-14)
    grads = jax.grad(lambda *xs: jnp.sum(fn(*xs)), argnums=(0, 1, 2))(*args)
    assert all(np.all(np.isfinite(g)) for g in grads)
    # forward mode (the custom_jvp rules) agrees with reverse mode
    jf = jax.jacfwd(lambda u: jnp.sum(fn(u, *args[1:])))(args[0])
    np.testing.assert_allclose(jf, grads[0], rtol=1e-12, atol=1e-14)
    batched = [jnp.stack([x, 2 * x + 0.1, -x]) for x in args]
    out = jax.vmap(fn)(*batched)
    for i in range(3):
        np.testing.assert_allclose(out[i], fn(*(b[i] for b in batched)), rtol=1e-14)


def test_checked_wrapper_passes_through():
    a, p, n = _x(4, 3), _x(4, 3), _x(4, 3)
    np.testing.assert_allclose(
        checked(triplet_margin_loss)(a, p, n, margin=0.5),
        triplet_margin_loss(a, p, n, margin=0.5),
        rtol=1e-15,
    )
    y = jnp.asarray([1.0, -1.0, 1.0, 1.0])
    np.testing.assert_allclose(
        checked(cosine_embedding_loss)(a, p, y), cosine_embedding_loss(a, p, y), rtol=1e-15
    )


def test_second_call_does_not_recompile():
    a, p, n = _x(4, 3), _x(4, 3), _x(4, 3)
    triplet_margin_loss(a, p, n, p=2)
    size = emb._triplet_margin._cache_size()
    triplet_margin_loss(a + 1, p, n, p=2.0)  # new values, 2 vs 2.0: same compiled function
    pairwise_distance(a, p)
    size_pd = emb._pairwise_distance._cache_size()
    pairwise_distance(a - 1, p)
    assert emb._triplet_margin._cache_size() == size
    assert emb._pairwise_distance._cache_size() == size_pd


def test_second_derivatives_match_torch():
    # the custom_jvp rules are themselves differentiable: Hessians agree with torch's double backward
    x1, x2 = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3))
    for p in (2.0, 3.0, 0.5):
        hj = jax.hessian(lambda a, p=p: jnp.sum(pairwise_distance(a, x2, p=p)))(jnp.asarray(x1))
        ht = torch.autograd.functional.hessian(
            lambda a, p=p: TF.pairwise_distance(a, _t(x2), p=p).sum(), _t(x1)
        )
        np.testing.assert_allclose(hj, ht.numpy(), rtol=1e-12, atol=1e-13)
    hj = jax.hessian(lambda a: jnp.sum(cosine_similarity(a, x2)))(jnp.asarray(x1))
    ht = torch.autograd.functional.hessian(lambda a: TF.cosine_similarity(a, _t(x2)).sum(), _t(x1))
    np.testing.assert_allclose(hj, ht.numpy(), rtol=1e-12, atol=1e-13)
