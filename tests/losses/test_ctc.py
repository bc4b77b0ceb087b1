"""ctc_loss: hand-computed and brute-force numbers, torch references, bad input, value checks,
jit / grad / vmap."""

import itertools
import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from jloss._checks import checked
from jloss.losses import _ctc
from jloss.losses._ctc import ctc_loss

RNG = np.random.default_rng(11)


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _torch_ctc(lp, targets, il, tl, *, grad=False, through_log_softmax=False, **kw):
    """torch's loss (and gradient of its sum w.r.t. the first argument), as numpy."""
    x = torch.from_numpy(np.array(lp, copy=True)).requires_grad_(grad)
    t = torch.from_numpy(np.asarray(targets).astype(np.int64))
    il = torch.from_numpy(np.asarray(il).astype(np.int64))
    tl = torch.from_numpy(np.asarray(tl).astype(np.int64))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = TF.ctc_loss(x.log_softmax(-1) if through_log_softmax else x, t, il, tl, **kw)
    if not grad:
        return out.detach().numpy()
    (g,) = torch.autograd.grad(out.sum(), x)
    return out.detach().numpy(), g.numpy()


def _brute_force(lp, target, blank):
    """-log of the sum over every alignment of the frames that collapses to ``target``."""
    T, C = lp.shape
    total = 0.0
    for path in itertools.product(range(C), repeat=T):
        collapsed = [c for i, c in enumerate(path) if c != blank and (i == 0 or c != path[i - 1])]
        if collapsed == list(target):
            total += math.exp(sum(lp[t, c] for t, c in enumerate(path)))
    return -math.log(total) if total > 0 else math.inf


def _problem(T=6, N=3, C=5, S=3, blank=0, seed=0):
    r = np.random.default_rng(seed)
    lp = _log_softmax(r.standard_normal((T, N, C)))
    labels = r.integers(0, C - 1, size=(N, S))
    targets = labels + (labels >= blank)
    il = np.full((N,), T)
    tl = np.full((N,), S)
    return lp, targets, il, tl


# ---- numbers by hand and by enumerating alignments ----------------------------------------------


def test_hand_single_frame():
    lp = np.log(np.array([[0.3, 0.7]]))
    assert float(
        ctc_loss(lp, np.array([1]), np.array(1), np.array(1), reduction="none")
    ) == pytest.approx(-math.log(0.7), rel=1e-15)


def test_hand_two_frames_one_label():
    p = np.array([[0.4, 0.6], [0.25, 0.75]])
    # alignments of "1" in two frames: 1 1, _ 1, 1 _
    expected = -math.log(p[0, 1] * p[1, 1] + p[0, 0] * p[1, 1] + p[0, 1] * p[1, 0])
    got = ctc_loss(np.log(p), np.array([1]), (2,), (1,), reduction="sum")
    assert float(got) == pytest.approx(expected, rel=1e-14)


def test_hand_repeated_label_needs_a_blank():
    p = np.array([[0.2, 0.8], [0.5, 0.5], [0.1, 0.9]])
    # "1 1" in three frames has one alignment: 1 _ 1; in two frames none
    got = ctc_loss(np.log(p), np.array([1, 1]), (3,), (2,), reduction="none")
    assert float(got) == pytest.approx(-math.log(0.8 * 0.5 * 0.9), rel=1e-14)
    assert (
        float(ctc_loss(np.log(p[:2]), np.array([1, 1]), (2,), (2,), reduction="none")) == math.inf
    )


def test_hand_empty_target_is_all_blanks():
    p = np.array([[0.2, 0.8], [0.5, 0.5], [0.1, 0.9]])
    got = ctc_loss(np.log(p), np.zeros((1, 0), np.int64), (3,), (0,), blank=1, reduction="none")
    assert float(got) == pytest.approx(-math.log(0.8 * 0.5 * 0.9), rel=1e-14)


@pytest.mark.parametrize("blank", [0, 1, 2])
def test_matches_brute_force(blank):
    T, C = 4, 3
    r = np.random.default_rng(blank)
    lp = _log_softmax(r.standard_normal((T, 6, C)))
    others = [c for c in range(C) if c != blank]
    targets = np.array(
        [
            [others[0], others[1], others[0]],
            [others[1], others[1], others[0]],
            [others[0], others[0], others[0]],
            [others[1], others[0], others[0]],
            [others[0], others[0], others[0]],
            [others[1], others[1], others[1]],
        ]
    )
    il = np.array([4, 4, 4, 2, 3, 0])
    tl = np.array([3, 2, 3, 1, 0, 0])
    got = np.asarray(ctc_loss(lp, targets, il, tl, blank=blank, reduction="none"))
    expected = [_brute_force(lp[: il[n], n], targets[n, : tl[n]], blank) for n in range(6)]
    expected[5] = 0.0  # no frames, empty target: one (empty) alignment
    np.testing.assert_allclose(got, expected, rtol=1e-13)
    assert got[2] == math.inf  # 0 _ 0 _ 0 needs five frames


# ---- torch references on a larger problem -------------------------------------------------------


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-11), (np.float32, 2e-5)])
def test_matches_torch_values_and_gradients(dtype, rtol):
    T, N, C, S = 40, 4, 12, 10
    logits = (RNG.standard_normal((T, N, C)) * 2).astype(dtype)
    targets = RNG.integers(1, C, size=(N, S))
    il = np.array([40, 33, 25, 40])
    tl = np.array([10, 7, 0, 4])
    for red in ("none", "mean"):  # 'sum' against torch: test_reductions and the parity suite
        t_val, t_grad = _torch_ctc(
            logits, targets, il, tl, grad=True, through_log_softmax=True, reduction=red
        )

        def f(z, red=red):
            return jnp.sum(ctc_loss(jax.nn.log_softmax(z, -1), targets, il, tl, reduction=red))

        j_val = ctc_loss(
            jax.nn.log_softmax(jnp.asarray(logits), -1), targets, il, tl, reduction=red
        )
        assert j_val.dtype == dtype
        np.testing.assert_allclose(j_val, t_val, rtol=rtol)
        np.testing.assert_allclose(jax.grad(f)(jnp.asarray(logits)), t_grad, rtol=rtol, atol=rtol)
    # torch's gradient w.r.t. a leaf log_probs (exp(lp) - occupancy), unnormalized input too
    t_val, t_grad = _torch_ctc(logits, targets, il, tl, grad=True)
    j_val, vjp = jax.vjp(lambda x: ctc_loss(x, targets, il, tl), jnp.asarray(logits))
    np.testing.assert_allclose(j_val, t_val, rtol=rtol)
    np.testing.assert_allclose(vjp(jnp.ones((), dtype))[0], t_grad, rtol=rtol, atol=rtol)


def test_gradient_through_log_softmax_is_the_derivative():
    lp, targets, il, tl = _problem(T=5, N=2, C=4, S=2)
    il = np.array([5, 4])
    z = jnp.asarray(lp)

    def f(z):
        return ctc_loss(jax.nn.log_softmax(z, -1), targets, il, tl, reduction="sum")

    g = np.asarray(jax.grad(f)(z))
    eps = 1e-6
    num = np.zeros_like(lp)
    for idx in np.ndindex(lp.shape):
        d = np.zeros_like(lp)
        d[idx] = eps
        num[idx] = (float(f(z + d)) - float(f(z - d))) / (2 * eps)
    np.testing.assert_allclose(g, num, atol=1e-8)
    assert np.all(g[4:, 1] == 0)  # frames past input_length


def test_vjp_agrees_with_autodiff_of_the_forward():
    # plain autodiff of the alpha recursion through log_softmax is the same gradient where it is
    # finite; it is NaN on unreachable states / unused frames (log(0) in the log-sum-exp), which
    # is why the backward pass is a custom_vjp with the beta recursion
    lp, _, _, _ = _problem(T=6, N=2, C=4, S=3)
    labels = jnp.asarray([[1, 2, 1], [3, 3, 0]], jnp.int32)
    il, tl = jnp.asarray([6, 5], jnp.int32), jnp.asarray([3, 2], jnp.int32)
    ext, skip = _ctc._extended(labels, 0)

    def plain(z):
        lp_ext = jnp.take_along_axis(
            jax.nn.log_softmax(z, -1), jnp.broadcast_to(ext[None], (6, 2, 7)), axis=2
        )
        return jnp.sum(_ctc._alphas(lp_ext, skip, il, tl)[1])

    g_plain = np.asarray(jax.grad(plain)(jnp.asarray(lp)))
    g = jax.grad(lambda z: ctc_loss(jax.nn.log_softmax(z, -1), labels, il, tl, reduction="sum"))(
        jnp.asarray(lp)
    )
    finite = np.isfinite(g_plain)
    assert finite.sum() > g_plain.size // 2
    np.testing.assert_allclose(np.asarray(g)[finite], g_plain[finite], rtol=1e-12, atol=1e-14)


# ---- semantics ----------------------------------------------------------------------------------


def test_reductions():
    lp, targets, il, tl = _problem(T=7, N=4, C=5, S=3)
    tl = np.array([3, 0, 2, 1])
    per = np.asarray(ctc_loss(lp, targets, il, tl, reduction="none"))
    assert per.shape == (4,)
    assert float(ctc_loss(lp, targets, il, tl, reduction="sum")) == pytest.approx(
        per.sum(), rel=1e-14
    )
    # 'mean' divides each sequence by its target length (at least 1), then averages the batch
    mean = float(ctc_loss(lp, targets, il, tl))
    assert mean == pytest.approx(np.mean(per / np.maximum(tl, 1)), rel=1e-14)
    np.testing.assert_allclose(per, _torch_ctc(lp, targets, il, tl, reduction="none"), rtol=1e-13)


def test_concatenated_targets_equal_padded():
    lp, targets, il, tl = _problem(T=8, N=3, C=6, S=4)
    tl = np.array([4, 1, 3])
    concat = np.concatenate([targets[n, : tl[n]] for n in range(3)])
    padded = ctc_loss(lp, targets, il, tl, reduction="none")
    np.testing.assert_array_equal(ctc_loss(lp, concat, il, tl, reduction="none"), padded)
    # under jit the lengths are not known, so the padded width is an upper bound: same numbers
    jitted = jax.jit(lambda *a: ctc_loss(*a, reduction="none"))
    np.testing.assert_allclose(jitted(lp, concat, il, tl), padded, rtol=1e-15)


def test_padding_values_are_ignored():
    lp, targets, il, tl = _problem(T=6, N=2, C=4, S=4)
    tl = np.array([2, 3])
    garbage = targets.copy()
    garbage[0, 2:] = [-7, 99]
    garbage[1, 3] = 0  # blank, past the length
    np.testing.assert_array_equal(
        ctc_loss(lp, garbage, il, tl, reduction="none"),
        ctc_loss(lp, targets, il, tl, reduction="none"),
    )


def test_unbatched():
    lp, targets, il, tl = _problem(T=6, N=1, C=4, S=3)
    batched = ctc_loss(lp, targets, il, tl, reduction="none")
    for t, i, n in [
        (targets[0], il[0], tl[0]),  # (S,) targets, () lengths
        (targets[0], il, tl),  # (1,) lengths
        (targets, (6,), (3,)),  # (1, S) padded targets, tuple lengths
        (targets[0], 6, 3),  # Python ints
    ]:
        out = ctc_loss(lp[:, 0], t, i, n, reduction="none")
        assert out.shape == ()
        assert float(out) == pytest.approx(float(batched[0]), rel=1e-15)
    assert ctc_loss(lp[:, 0], targets[0], il[0], tl[0]).shape == ()
    # unbatched (S,) targets are the concatenated form: exactly target_lengths labels, as torch
    with pytest.raises(ValueError, match="sum\\(target_lengths\\) = 2"):
        ctc_loss(lp[:, 0], targets[0], 6, 2)


def test_lengths_as_sequences():
    lp, targets, il, tl = _problem(T=5, N=2, C=4, S=2)
    ref = ctc_loss(lp, targets, il, tl, reduction="none")
    np.testing.assert_array_equal(ctc_loss(lp, targets, (5, 5), [2, 2], reduction="none"), ref)
    np.testing.assert_array_equal(
        ctc_loss(lp, targets, il.astype(np.int32), tl.astype(np.uint8), reduction="none"), ref
    )
    np.testing.assert_array_equal(
        ctc_loss(lp, targets.astype(np.int32), il, tl, reduction="none"), ref
    )


def test_frames_past_input_length_are_ignored():
    lp, targets, il, tl = _problem(T=7, N=2, C=4, S=2)
    il = np.array([4, 7])
    changed = lp.copy()
    changed[4:, 0] = _log_softmax(RNG.standard_normal((3, 4)))
    np.testing.assert_array_equal(
        ctc_loss(changed, targets, il, tl, reduction="none"),
        ctc_loss(lp, targets, il, tl, reduction="none"),
    )
    g = jax.grad(lambda x: ctc_loss(x, targets, il, tl, reduction="sum"))(jnp.asarray(lp))
    assert np.all(np.asarray(g)[4:, 0] == 0)


def test_impossible_alignment_and_zero_infinity():
    lp, _, _, _ = _problem(T=4, N=2, C=3, S=3)
    targets = np.array([[1, 1, 1], [1, 2, 1]])
    il, tl = np.array([4, 4]), np.array([3, 3])  # 1 _ 1 _ 1 needs five frames
    out = np.asarray(ctc_loss(lp, targets, il, tl, reduction="none"))
    assert out[0] == math.inf and np.isfinite(out[1])  # +inf, not optax's large finite 1e5
    assert float(ctc_loss(lp, targets, il, tl)) == math.inf
    zi = np.asarray(ctc_loss(lp, targets, il, tl, reduction="none", zero_infinity=True))
    assert zi[0] == 0 and zi[1] == out[1]

    def f(x, zero_infinity):
        return ctc_loss(
            jax.nn.log_softmax(x, -1), targets, il, tl, reduction="sum", zero_infinity=zero_infinity
        )

    g = np.asarray(jax.grad(f)(jnp.asarray(lp), True))
    assert np.all(g[:, 0] == 0) and np.all(np.isfinite(g[:, 1])) and np.any(g[:, 1] != 0)
    # without zero_infinity torch's gradient of an infinite loss is NaN on its frames
    g = np.asarray(jax.grad(f)(jnp.asarray(lp), False))
    assert np.all(np.isnan(g[:, 0])) and np.all(np.isfinite(g[:, 1]))
    _, t_grad = _torch_ctc(
        lp, targets, il, tl, grad=True, through_log_softmax=True, reduction="sum"
    )
    np.testing.assert_allclose(g, t_grad, rtol=1e-12, atol=1e-14)


def test_zero_input_lengths():
    lp, targets, _, _ = _problem(T=3, N=2, C=3, S=1)
    out = np.asarray(ctc_loss(lp, targets, (0, 0), (0, 1), reduction="none"))
    assert out[0] == 0 and math.copysign(1, out[0]) == -1  # torch's -0.0
    assert out[1] == math.inf
    g = jax.grad(
        lambda x: ctc_loss(x, targets, (0, 0), (0, 1), reduction="sum", zero_infinity=True)
    )(lp)
    assert np.all(np.asarray(g) == 0)


def test_empty_targets():
    lp, _, il, _ = _problem(T=4, N=2, C=3, S=1)
    expected = -np.log(np.exp(lp[:, :, 0]).prod(0))
    for targets in (np.zeros(0, np.int64), np.zeros((2, 0), np.int64), np.array([])):
        out = ctc_loss(lp, targets, il, (0, 0), reduction="none")
        np.testing.assert_allclose(out, expected, rtol=1e-14)


def test_low_precision_computes_in_float32():
    logits = RNG.standard_normal((10, 3, 6)).astype(np.float32)
    targets = RNG.integers(1, 6, size=(3, 4))
    il, tl = np.array([10, 8, 9]), np.array([4, 3, 2])
    # torch has no CPU kernel in bf16 / f16; its float32 result on the rounded input is the reference
    for dt in (jnp.bfloat16, jnp.float16):
        x = jnp.asarray(logits).astype(dt)
        ref = _torch_ctc(
            np.asarray(x.astype(jnp.float32)),
            targets,
            il,
            tl,
            grad=True,
            through_log_softmax=True,
            reduction="none",
        )
        out = ctc_loss(
            jax.nn.log_softmax(x.astype(jnp.float32), -1).astype(dt),
            targets,
            il,
            tl,
            reduction="none",
        )
        assert out.dtype == dt
        np.testing.assert_allclose(np.asarray(out.astype(jnp.float32)), ref[0], rtol=2e-2)
        g = jax.grad(
            lambda z: jnp.sum(ctc_loss(jax.nn.log_softmax(z, -1), targets, il, tl, reduction="sum"))
        )(x)
        assert g.dtype == dt
        np.testing.assert_allclose(np.asarray(g.astype(jnp.float32)), ref[1], atol=5e-2)


# ---- bad input ----------------------------------------------------------------------------------


def _args(**over):
    lp, targets, il, tl = _problem(T=5, N=2, C=4, S=3)
    tl = np.array([3, 2])
    args = {"log_probs": lp, "targets": targets, "input_lengths": il, "target_lengths": tl}
    args.update(over)
    return args


@pytest.mark.parametrize(
    "over,exc,match",
    [
        ({"log_probs": np.zeros((5,))}, ValueError, "log_probs must be 2- \\(T, C\\) or 3"),
        ({"log_probs": np.zeros((5, 2, 4, 1))}, ValueError, "log_probs must be 2-"),
        (
            {"log_probs": np.zeros((5, 2, 4), np.int64)},
            TypeError,
            "log_probs must have a floating dtype",
        ),
        ({"log_probs": np.zeros((0, 2, 4))}, ValueError, "log_probs must not be empty"),
        ({"log_probs": None}, TypeError, "log_probs must be an array"),
        ({"targets": np.ones((2, 3))}, TypeError, "targets must have an integer dtype"),
        (
            {"targets": np.ones((2, 3, 1), np.int64)},
            ValueError,
            "targets must be 1- \\(concatenated\\) or 2",
        ),
        (
            {"targets": np.ones((3, 3), np.int64)},
            ValueError,
            "padded targets must have shape \\(N, S\\) with N = 2",
        ),
        ({"input_lengths": np.array([5.0, 5.0])}, TypeError, "input_lengths must be integral"),
        ({"target_lengths": np.array([True, True])}, TypeError, "target_lengths must be integral"),
        (
            {"input_lengths": np.array([5, 5, 5])},
            ValueError,
            "input_lengths must have one entry per sequence",
        ),
        ({"target_lengths": 3}, ValueError, "target_lengths must have one entry per sequence"),
        ({"input_lengths": None}, TypeError, "input_lengths must be an integer array"),
        ({"blank": 4}, ValueError, "blank must be in \\[0, 4\\)"),
        ({"blank": -1}, ValueError, "blank must be in \\[0, 4\\)"),
        ({"blank": 1.0}, TypeError, "blank must be an int"),
        ({"reduction": "batchmean"}, ValueError, "reduction must be one of"),
        ({"zero_infinity": "yes"}, TypeError, "zero_infinity must be a bool"),
    ],
)
def test_bad_input(over, exc, match):
    with pytest.raises(exc, match="^ctc_loss: " + match):
        ctc_loss(**_args(**over))


def test_no_legacy_arguments():
    # torch's functional ctc_loss has no size_average / reduce: a TypeError in both
    args = _args()
    with pytest.raises(TypeError):
        TF.ctc_loss(*[torch.from_numpy(np.asarray(a)) for a in args.values()], size_average=True)
    with pytest.raises(TypeError):
        ctc_loss(**args, size_average=True)


_BAD_VALUES = [
    # (argument, message on concrete input; under checked() the values are not printed)
    (
        {"input_lengths": np.array([6, 5])},
        "input_lengths must be <= 5 \\(the frames of log_probs\\), got \\[6, 5\\]",
    ),
    ({"input_lengths": np.array([-1, 5])}, "input_lengths must be >= 0, got \\[-1, 5\\]"),
    ({"target_lengths": np.array([3, -1])}, "target_lengths must be >= 0, got \\[3, -1\\]"),
    (
        {"target_lengths": np.array([4, 2])},
        "target_lengths must be <= 3 \\(the padded length of targets\\), got",
    ),
    (
        {"targets": np.array([1, 2, 3, 3])},
        "concatenated targets must have sum\\(target_lengths\\) = 5 elements, got 4",
    ),
    (
        {"targets": np.array([[1, 4, 2], [1, 1, 0]])},
        "targets must be class indices in \\[0, 4\\) other than blank=0, got \\[4\\]",
    ),
    (
        {"targets": np.array([[1, -2, 2], [1, 1, 0]])},
        "targets must be class indices in \\[0, 4\\) other than blank=0, got \\[-2\\]",
    ),
    (
        {"targets": np.array([[1, 0, 2], [1, 1, 0]])},
        "targets must be class indices in \\[0, 4\\) other than blank=0, got \\[0\\]",
    ),
    (
        {"targets": np.array([1, 0, 2, 3, 3])},
        "targets must be class indices in \\[0, 4\\) other than blank=0, got \\[0\\]",
    ),
]

# torch refuses the first five; the target values it does not check (out of range reads out of
# bounds, blank is used as a label), the docs forbid them and jloss refuses them


@pytest.mark.parametrize("over,match", _BAD_VALUES)
def test_bad_values_concrete(over, match):
    with pytest.raises(ValueError, match="^ctc_loss: " + match):
        ctc_loss(**_args(**over))


@pytest.mark.parametrize("over,match", _BAD_VALUES)
def test_bad_values_checked(over, match):
    args = {k: jnp.asarray(v) for k, v in _args(**over).items()}
    with pytest.raises(ValueError, match="^ctc_loss: " + match.split(" = ")[0].split(", got")[0]):
        checked(ctc_loss)(**args)


def test_checked_passes_good_values():
    args = {k: jnp.asarray(v) for k, v in _args().items()}
    np.testing.assert_array_equal(
        checked(ctc_loss)(**args, reduction="none"), ctc_loss(**args, reduction="none")
    )


@pytest.mark.parametrize("over,_", _BAD_VALUES)
def test_bad_values_under_jit_give_nan(over, _):
    args = _args(**over)
    out = jax.jit(lambda *a: ctc_loss(*a, reduction="none"))(*args.values())
    assert np.any(np.isnan(np.asarray(out)))


def test_bad_values_of_closed_over_arrays_inside_jit_still_raise():
    args = _args(input_lengths=np.array([6, 5]))
    lp = args.pop("log_probs")
    with pytest.raises(ValueError, match="input_lengths must be <= 5"):
        jax.jit(lambda x: ctc_loss(x, **args))(lp)


# ---- jit / grad / vmap --------------------------------------------------------------------------


def test_jit_matches_eager_and_does_not_recompile():
    args = _args()
    eager = ctc_loss(**args, reduction="none")
    f = jax.jit(ctc_loss, static_argnames=("blank", "reduction", "zero_infinity"))
    np.testing.assert_array_equal(f(**args, reduction="none"), eager)
    before = _ctc._ctc_core._cache_size()
    args2 = _args(log_probs=_log_softmax(RNG.standard_normal((5, 2, 4))))
    ctc_loss(**args2, reduction="none")
    ctc_loss(**args2, reduction="none")
    after_first = _ctc._ctc_core._cache_size()
    ctc_loss(**args, reduction="none")
    assert _ctc._ctc_core._cache_size() == after_first <= before + 1


def test_grad_with_closed_over_targets():
    args = _args()
    lp = args.pop("log_probs")
    g = jax.grad(lambda x: ctc_loss(jax.nn.log_softmax(x, -1), **args))(jnp.asarray(lp))
    _, t_grad = _torch_ctc(
        lp,
        args["targets"],
        args["input_lengths"],
        args["target_lengths"],
        grad=True,
        through_log_softmax=True,
    )
    np.testing.assert_allclose(g, t_grad, rtol=1e-12, atol=1e-15)


def test_forward_mode_is_not_defined():
    args = _args()
    lp = jnp.asarray(args.pop("log_probs"))
    with pytest.raises(TypeError):
        jax.jvp(lambda x: ctc_loss(x, **args), (lp,), (jnp.ones_like(lp),))


@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_vmap_over_an_extra_axis_equals_a_loop(reduction):
    B, T, N, C, S = 3, 6, 2, 5, 3
    logits = RNG.standard_normal((B, T, N, C))
    targets = RNG.integers(1, C, size=(B, N, S))
    il = np.array([[6, 4], [5, 6], [3, 6]])
    tl = np.array([[3, 1], [2, 0], [3, 3]])  # [2, 0]: 3 labels in 3 frames may be impossible

    def f(x, t, i, n):
        return ctc_loss(jax.nn.log_softmax(x, -1), t, i, n, reduction=reduction)

    out = jax.vmap(f)(logits, targets, il, tl)
    loop = jnp.stack([f(logits[b], targets[b], il[b], tl[b]) for b in range(B)])
    np.testing.assert_allclose(out, loop, rtol=1e-14)
    grads = jax.vmap(jax.grad(lambda *a: jnp.sum(f(*a))))(logits, targets, il, tl)
    loop_g = jnp.stack(
        [
            jax.grad(lambda x, b=b: jnp.sum(f(x, targets[b], il[b], tl[b])))(logits[b])
            for b in range(B)
        ]
    )
    np.testing.assert_allclose(grads, loop_g, rtol=1e-13, atol=1e-15)
