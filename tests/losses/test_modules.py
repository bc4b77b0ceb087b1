"""AdaptiveLogSoftmaxWithLoss and LinearCrossEntropyLoss (Flax NNX) against torch's modules with the
same weights: values, gradients, layouts, bad input, jit / grad / vmap."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import nnx

from jloss._checks import checked
from jloss.losses._modules import AdaptiveLogSoftmaxWithLoss, ASMoutput, LinearCrossEntropyLoss
from jloss.parity import rel_error
from jloss.parity.cases.losses_modules import load_torch_weights, torch_name_map

RNG = np.random.default_rng(99)


def _np(t):
    return t.detach().cpu().numpy()


def _assert_close(actual, desired, rtol, what=""):
    """SPEC's measure: relative error, absolute (on the array's scale) for entries near zero."""
    dtype = "float64" if rtol < 1e-6 else "float32"
    err = rel_error(np.asarray(actual, np.float64), np.asarray(desired, np.float64), dtype)
    assert err <= rtol, f"{what}: relative error {err:.3g} > {rtol:g}"


def _ported_asm(config, seed=0, dtype=torch.float64, scale=1.0):
    """A torch ASM with a fixed seed and the NNX module holding the same weights."""
    torch.manual_seed(seed)
    tm = torch.nn.AdaptiveLogSoftmaxWithLoss(**config, dtype=dtype)
    with torch.no_grad():
        for p in tm.parameters():
            p.mul_(scale)
    jm = AdaptiveLogSoftmaxWithLoss(**config, rngs=nnx.Rngs(1),
                                    param_dtype=jnp.float64 if dtype == torch.float64 else jnp.float32)
    load_torch_weights(jm, tm.state_dict())
    return tm, jm


CFG = {"in_features": 8, "n_classes": 20, "cutoffs": [4, 10, 15], "div_value": 2.0, "head_bias": True}


def _targets(n_classes=20, extra=6):
    return np.concatenate([[0, 3, 4, 9, 10, 14, 15, 19], RNG.integers(0, n_classes, size=extra)])


# ---- AdaptiveLogSoftmaxWithLoss ------------------------------------------------------------------


def test_asm_parameter_layout_matches_torch():
    torch.manual_seed(0)
    tm = torch.nn.AdaptiveLogSoftmaxWithLoss(**CFG)
    jm = AdaptiveLogSoftmaxWithLoss(**CFG, rngs=nnx.Rngs(0))
    sd = tm.state_dict()
    names = torch_name_map(jm)
    assert set(names) == set(sd)
    assert jm.head.kernel.shape == tuple(reversed(sd["head.weight"].shape))
    assert jm.head.bias.shape == tuple(sd["head.bias"].shape)
    for i in range(3):
        assert jm.tail[i].layers[0].kernel.shape == tuple(reversed(sd[f"tail.{i}.0.weight"].shape))
        assert jm.tail[i].layers[1].kernel.shape == tuple(reversed(sd[f"tail.{i}.1.weight"].shape))
        assert jm.tail[i].layers[0].bias is None and jm.tail[i].layers[1].bias is None
    assert (jm.shortlist_size, jm.n_clusters, jm.head_size, jm.cutoffs) == (
        tm.shortlist_size, tm.n_clusters, tm.head_size, tuple(tm.cutoffs))
    # torch's init distribution: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), float32 by default
    for p in (jm.head.kernel, jm.head.bias, jm.tail[0].layers[0].kernel):
        assert p.dtype == jnp.float32
        assert float(jnp.max(jnp.abs(p[...]))) <= 1 / math.sqrt(8)
    k = jm.tail[1].layers[1].kernel[...]  # in = 8 // 2**2 = 2
    assert float(jnp.max(jnp.abs(k))) <= 1 / math.sqrt(2) and float(jnp.std(k)) > 0.1
    assert AdaptiveLogSoftmaxWithLoss(**CFG, rngs=nnx.Rngs(0), param_dtype=jnp.float64).head.kernel.dtype == jnp.float64


@pytest.mark.parametrize("dtype,rtol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_asm_forward_and_gradients_match_torch(dtype, rtol):
    tm, jm = _ported_asm(CFG, seed=3, dtype=dtype, scale=3.0)
    t = _targets()
    x = RNG.standard_normal((t.size, 8))
    xt = torch.tensor(x, dtype=dtype, requires_grad=True)
    out_t = tm(xt, torch.from_numpy(t))
    ct = RNG.standard_normal(t.size)
    torch.autograd.backward([out_t.output, out_t.loss], [torch.tensor(ct, dtype=dtype), torch.tensor(0.7, dtype=dtype)])

    jdt = jnp.float64 if dtype == torch.float64 else jnp.float32
    xj = jnp.asarray(x, jdt)
    res = jm(xj, jnp.asarray(t))
    assert isinstance(res, ASMoutput) and res._fields == ("output", "loss")
    assert res.output.dtype == jdt and res.loss.shape == ()
    _assert_close(res.output, _np(out_t.output), rtol)
    _assert_close(res.loss, _np(out_t.loss), rtol)

    def scalar(model, x):
        o = model(x, jnp.asarray(t))
        return jnp.sum(o.output * jnp.asarray(ct, jdt)) + 0.7 * o.loss

    gm, gx = nnx.grad(scalar, argnums=(0, 1))(jm, xj)
    _assert_close(gx, _np(xt.grad), rtol)
    grads = {"head.weight": gm.head.kernel[...].T, "head.bias": gm.head.bias[...]}
    for i in range(3):
        for j in (0, 1):
            grads[f"tail.{i}.{j}.weight"] = gm.tail[i].layers[j].kernel[...].T
    for name, p in tm.named_parameters():
        _assert_close(grads[name], _np(p.grad), rtol, name)


def test_asm_unbatched_and_shortlist_only():
    tm, jm = _ported_asm(CFG, seed=4)
    x = RNG.standard_normal(8)
    for target in (2, 12, 19):
        ref = tm(torch.from_numpy(x), torch.tensor(target))
        res = jm(x, np.array(target))
        assert res.output.shape == () and res.loss.shape == ()
        np.testing.assert_allclose(res.output, _np(ref.output), rtol=1e-13)
        np.testing.assert_allclose(res.loss, _np(ref.loss), rtol=1e-13)
    t = np.array([0, 1, 2, 3, 3])
    xb = RNG.standard_normal((5, 8))
    ref = tm(torch.from_numpy(xb), torch.from_numpy(t))
    np.testing.assert_allclose(jm(xb, t).output, _np(ref.output), rtol=1e-13)
    # a batch of one keeps its batch axis (torch's squeeze() quirk changes nothing)
    ref1 = tm(torch.from_numpy(xb[:1]), torch.from_numpy(t[:1]))
    assert jm(xb[:1], t[:1]).output.shape == (1,)
    np.testing.assert_allclose(jm(xb[:1], t[:1]).output, _np(ref1.output), rtol=1e-13)


def test_asm_by_hand():
    # zero weights: every softmax is uniform; head has 2 + 1 entries, the cluster 3 classes
    jm = AdaptiveLogSoftmaxWithLoss(4, 5, [2], rngs=nnx.Rngs(0), param_dtype=jnp.float64)
    for p in (jm.head.kernel, jm.tail[0].layers[0].kernel, jm.tail[0].layers[1].kernel):
        p[...] = jnp.zeros_like(p[...])
    res = jm(np.ones((2, 4)), np.array([1, 4]))
    np.testing.assert_allclose(res.output, [-math.log(3), -math.log(3) - math.log(3)], rtol=1e-15)
    assert float(res.loss) == pytest.approx(1.5 * math.log(3), rel=1e-15)
    lp = jm.log_prob(np.ones((1, 4)))
    np.testing.assert_allclose(lp, [[-math.log(3)] * 2 + [-2 * math.log(3)] * 3], rtol=1e-15)


def test_asm_log_prob_and_predict_match_torch():
    tm, jm = _ported_asm(CFG, seed=5, scale=4.0)
    x = RNG.standard_normal((40, 8))
    lp_t = tm.log_prob(torch.from_numpy(x))
    lp = jm.log_prob(x)
    np.testing.assert_allclose(lp, _np(lp_t), rtol=1e-13)
    np.testing.assert_allclose(jnp.sum(jnp.exp(lp), axis=1), 1.0, rtol=1e-13)
    pred_t = _np(tm.predict(torch.from_numpy(x)))
    pred = np.asarray(jm.predict(x))
    np.testing.assert_array_equal(pred, pred_t)
    np.testing.assert_array_equal(pred, np.argmax(np.asarray(lp), axis=1))
    # both branches of torch's predict are exercised
    assert (pred < jm.shortlist_size).any() and (pred >= jm.shortlist_size).any()


def test_asm_empty_projection():
    # in_features // div_value**2 == 0: torch builds Linear(3, 0) and Linear(0, 2)
    cfg = {"in_features": 3, "n_classes": 6, "cutoffs": [2, 4], "div_value": 2.0}
    with pytest.warns(UserWarning, match="zero-element"):
        tm, jm = _ported_asm(cfg, seed=6)
    assert jm.tail[1].layers[0].kernel.shape == (3, 0)
    x, t = RNG.standard_normal((4, 3)), np.array([0, 3, 4, 5])
    ref = tm(torch.from_numpy(x), torch.from_numpy(t))
    np.testing.assert_allclose(jm(x, t).output, _np(ref.output), rtol=1e-13)


@pytest.mark.parametrize(
    "cutoffs", [[], [5, 3], [0, 4], [4, 20], [4, 4], [2.5], [4, 19.0 + 1]]
)
def test_asm_cutoffs_validated_as_torch(cutoffs):
    with pytest.raises(ValueError):
        torch.nn.AdaptiveLogSoftmaxWithLoss(8, 20, cutoffs)
    with pytest.raises(ValueError, match="AdaptiveLogSoftmaxWithLoss: cutoffs should be"):
        AdaptiveLogSoftmaxWithLoss(8, 20, cutoffs, rngs=nnx.Rngs(0))


def test_asm_constructor_bad_arguments():
    # torch accepts an integral float cutoff, as does jloss
    assert AdaptiveLogSoftmaxWithLoss(8, 20, [4.0], rngs=nnx.Rngs(0)).cutoffs == (4, 20)
    with pytest.raises(TypeError, match="AdaptiveLogSoftmaxWithLoss: cutoffs must be a sequence of ints, got int"):
        AdaptiveLogSoftmaxWithLoss(8, 20, 4, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="AdaptiveLogSoftmaxWithLoss: in_features must be a positive int, got 0"):
        AdaptiveLogSoftmaxWithLoss(0, 20, [4], rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="AdaptiveLogSoftmaxWithLoss: n_classes must be a positive int, got 2.0"):
        AdaptiveLogSoftmaxWithLoss(8, 2.0, [1], rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="AdaptiveLogSoftmaxWithLoss: div_value must be a positive number, got 0"):
        AdaptiveLogSoftmaxWithLoss(8, 20, [4], div_value=0, rngs=nnx.Rngs(0))


def test_asm_bad_input():
    tm, jm = _ported_asm(CFG, seed=7)
    x, t = RNG.standard_normal((4, 8)), np.array([0, 5, 11, 19])
    fn = "AdaptiveLogSoftmaxWithLoss"
    with pytest.raises(TypeError, match=f"{fn}: target must have an integer dtype"):
        jm(x, t.astype(np.float64))
    with pytest.raises(TypeError, match=f"{fn}: input must have a floating dtype"):
        jm(x.astype(np.int64), t)
    with pytest.raises(ValueError, match=rf"{fn}: 0D or 1D target expected, multi-target not supported; got target of shape \(4, 1\)"):
        jm(x, t[:, None])
    with pytest.raises(ValueError, match=rf"{fn}: input and target should have the same size in the batch dimension, got input \(3, 8\) and target \(4,\)"):
        jm(x[:3], t)
    with pytest.raises(ValueError, match=rf"{fn}: input must be 2-D \(N, in_features\), got shape \(4, 1, 8\)"):
        jm(x[:, None], t)
    with pytest.raises(ValueError, match=rf"{fn}: input must be 1-D \(N, in_features\), got shape \(4, 8\)"):
        jm(x, np.array(3))
    with pytest.raises(ValueError, match=rf"{fn}: input's last dimension must be in_features=8, got shape \(4, 7\)"):
        jm(x[:, :7], t)
    with pytest.raises(ValueError, match=rf"{fn}.log_prob: input must be 2-D"):
        jm.log_prob(x[0])
    with pytest.raises(ValueError, match=rf"{fn}.predict: input must be 2-D"):
        jm.predict(x[0])
    # torch refuses the same calls
    for xx, tt in ((x, t[:, None]), (x[:3], t), (x[:, None], t), (x, np.array(3))):
        with pytest.raises(RuntimeError):
            tm(torch.from_numpy(xx), torch.from_numpy(tt))
    # values: a target out of range
    bad = np.array([0, 5, 20, 19])
    with pytest.raises(RuntimeError, match="Target values should be in"):
        tm(torch.from_numpy(x), torch.from_numpy(bad))
    with pytest.raises(ValueError, match=rf"{fn}: target values should be in \[0, 19\]"):
        jm(x, bad)
    with pytest.raises(ValueError, match=rf"{fn}: target values should be in \[0, 19\]"):
        jm(x, np.array([0, -1, 3, 3]))
    with pytest.raises(ValueError, match=rf"{fn}: target values should be in \[0, 19\]"):
        checked(lambda a, b: jm(a, b).loss)(jnp.asarray(x), jnp.asarray(bad))
    ok = checked(lambda a, b: jm(a, b).loss)(jnp.asarray(x), jnp.asarray(t))
    assert float(ok) == pytest.approx(float(jm(x, t).loss), rel=1e-14)
    # under a plain jit: the bad row's output is NaN, and so is the loss
    res = nnx.jit(lambda m, a, b: m(a, b))(jm, jnp.asarray(x), jnp.asarray(bad))
    assert np.isnan(res.output[2]) and np.isfinite(np.asarray(res.output)[[0, 1, 3]]).all()
    assert np.isnan(res.loss)


def test_asm_jit_grad_vmap():
    _, jm = _ported_asm(CFG, seed=8)
    x = jnp.asarray(RNG.standard_normal((6, 8)))
    t = jnp.asarray(_targets(extra=0)[:6])
    f = nnx.jit(lambda m, a, b: m(a, b))
    res = f(jm, x, t)
    np.testing.assert_allclose(res.output, jm(x, t).output, rtol=1e-14)
    # an optimizer-style gradient w.r.t. the parameters only
    grads = nnx.grad(lambda m: m(x, t).loss)(jm)
    params = nnx.state(jm, nnx.Param)
    assert jax.tree.structure(grads) == jax.tree.structure(params)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))
    assert float(jnp.max(jnp.abs(grads["head"]["kernel"][...]))) > 0
    gx = jax.grad(lambda a: jm(a, t).loss)(x)
    e = jnp.zeros_like(x).at[2, 5].set(1e-6)
    fd = (jm(x + e, t).loss - jm(x - e, t).loss) / 2e-6
    assert float(gx[2, 5]) == pytest.approx(float(fd), rel=1e-6)
    xs = jnp.asarray(RNG.standard_normal((3, 6, 8)))
    v = jax.vmap(lambda a: jm(a, t))(xs)
    loop = [jm(a, t) for a in xs]
    np.testing.assert_allclose(v.output, np.stack([r.output for r in loop]), rtol=1e-14)
    np.testing.assert_allclose(v.loss, [r.loss for r in loop], rtol=1e-14)
    ts = jnp.asarray(RNG.integers(0, 20, size=(3, 6)))
    v2 = jax.vmap(lambda b: jm(x, b).loss)(ts)
    np.testing.assert_allclose(v2, [jm(x, b).loss for b in ts], rtol=1e-14)
    np.testing.assert_array_equal(jax.vmap(jm.predict)(xs), np.stack([jm.predict(a) for a in xs]))


def test_load_torch_weights_checks_every_key():
    torch.manual_seed(0)
    tm = torch.nn.AdaptiveLogSoftmaxWithLoss(**CFG)
    jm = AdaptiveLogSoftmaxWithLoss(**CFG, rngs=nnx.Rngs(0))
    sd = dict(tm.state_dict())
    load_torch_weights(jm, sd)
    np.testing.assert_array_equal(jm.tail[2].layers[1].kernel[...], _np(sd["tail.2.1.weight"]).T)
    assert jm.head.kernel.dtype == jnp.float32
    with pytest.raises(KeyError, match=r"unexpected keys \['extra'\]"):
        load_torch_weights(jm, {**sd, "extra": torch.zeros(1)})
    missing = {k: v for k, v in sd.items() if k != "head.bias"}
    with pytest.raises(KeyError, match=r"missing keys \['head.bias'\]"):
        load_torch_weights(jm, missing)
    wrong = {**sd, "tail.0.0.weight": torch.zeros(3, 8)}
    with pytest.raises(ValueError, match=r"load_torch_weights: tail.0.0.weight has shape \(8, 3\)"):
        load_torch_weights(jm, wrong)


# ---- LinearCrossEntropyLoss --------------------------------------------------------------------


def _ported_lce(in_features, num_classes, seed=0, dtype=torch.float64, class_weight=None, **kw):
    torch.manual_seed(seed)
    tw = None if class_weight is None else torch.tensor(class_weight, dtype=dtype)
    tm = torch.nn.LinearCrossEntropyLoss(in_features, num_classes, weight=tw, dtype=dtype, **kw)
    jdt = jnp.float64 if dtype == torch.float64 else jnp.float32
    jm = LinearCrossEntropyLoss(in_features, num_classes, weight=class_weight, rngs=nnx.Rngs(2),
                                param_dtype=jdt, **kw)
    load_torch_weights(jm, tm.state_dict())
    return tm, jm


def test_lce_parameter_layout_matches_torch():
    torch.manual_seed(0)
    w = np.linspace(0.5, 2.0, 5)
    tm = torch.nn.LinearCrossEntropyLoss(6, 5, out_features=(3, 2), bias=True, weight=torch.tensor(w))
    jm = LinearCrossEntropyLoss(6, 5, (3, 2), True, weight=w, rngs=nnx.Rngs(0))
    sd = tm.state_dict()
    assert set(torch_name_map(jm)) == set(sd) == {"linear.weight", "linear.bias", "weight"}
    # torch's flat storage: (C * prod(out_features), in_features), transposed in flax's layout
    assert tuple(sd["linear.weight"].shape) == (30, 6) and jm.linear.kernel.shape == (6, 30)
    assert tuple(sd["linear.bias"].shape) == (30,) and jm.linear.bias.shape == (30,)
    assert jm.linear.kernel.dtype == jnp.float32 and jm.weight.dtype == jnp.float32
    assert float(jnp.max(jnp.abs(jm.linear.kernel[...]))) <= 1 / math.sqrt(6)
    assert float(jnp.max(jnp.abs(jm.linear.bias[...]))) <= 1 / math.sqrt(6)
    assert jm.weight is not None and not isinstance(jm.weight, nnx.Param)
    plain = LinearCrossEntropyLoss(6, 5, rngs=nnx.Rngs(0), param_dtype=jnp.float64)
    assert plain.linear.bias is None and plain.weight is None and plain.linear.kernel.dtype == jnp.float64
    assert set(torch_name_map(plain)) == set(torch.nn.LinearCrossEntropyLoss(6, 5).state_dict())
    # only the linear layer is trainable
    assert {p for p, _ in nnx.to_flat_state(nnx.state(jm, nnx.Param))} == {("linear", "kernel"), ("linear", "bias")}


def test_lce_by_hand():
    # zero kernel: the logits are the bias; a zero bias gives log C per example
    jm = LinearCrossEntropyLoss(3, 4, bias=True, rngs=nnx.Rngs(0), param_dtype=jnp.float64)
    jm.linear.kernel[...] = jnp.zeros((3, 4))
    jm.linear.bias[...] = jnp.zeros(4)
    assert float(jm(np.ones((2, 3)), np.array([0, 3]))) == pytest.approx(math.log(4), rel=1e-15)
    jm.linear.bias[...] = jnp.log(jnp.array([1.0, 1.0, 1.0, 5.0]))
    # p(3) = 5/8, p(0) = 1/8
    assert float(jm(np.ones((2, 3)), np.array([0, 3]))) == pytest.approx(
        (math.log(8) + math.log(8 / 5)) / 2, rel=1e-14
    )


LCE_CASES = [
    ({}, "index"),
    ({"bias": True, "reduction": "sum"}, "index"),
    ({"class_weight": True, "label_smoothing": 0.15, "ignore_index": 1}, "index"),
    ({"out_features": (3, 2), "bias": True, "reduction": "none", "class_weight": True}, "index"),
    ({"bias": True, "label_smoothing": 0.1}, "prob"),
    ({"out_features": (2,), "reduction": "sum"}, "prob"),
    ({"bias": True}, "unbatched"),
]


@pytest.mark.parametrize("dtype,rtol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
@pytest.mark.parametrize("opts,kind", LCE_CASES)
def test_lce_matches_torch(opts, kind, dtype, rtol):
    opts = dict(opts)
    cw = RNG.uniform(0.3, 2.0, 5) if opts.pop("class_weight", False) else None
    tm, jm = _ported_lce(6, 5, seed=len(opts), dtype=dtype, class_weight=cw, **opts)
    with torch.no_grad():
        for p in tm.parameters():
            p.mul_(3.0)
    load_torch_weights(jm, tm.state_dict())
    dims = tuple(opts.get("out_features", ()))
    x = RNG.standard_normal((6,) if kind == "unbatched" else (4, 6))
    if kind == "prob":
        z = np.exp(RNG.standard_normal((4, 5, *dims)))
        t = z / z.sum(1, keepdims=True)
    elif kind == "unbatched":
        t = np.array(2)
    else:
        t = RNG.integers(0, 5, size=(4, *dims))
        t[0] = opts.get("ignore_index", -100)
    jdt = jnp.float64 if dtype == torch.float64 else jnp.float32
    tt = torch.tensor(t, dtype=dtype) if kind == "prob" else torch.from_numpy(t)
    xt = torch.tensor(x, dtype=dtype, requires_grad=True)
    ref = tm(xt, tt)
    ct = RNG.standard_normal(tuple(ref.shape))
    ref.backward(torch.tensor(ct, dtype=dtype))
    tj = jnp.asarray(t, jdt) if kind == "prob" else jnp.asarray(t)

    def scalar(model, a):
        return jnp.sum(model(a, tj) * jnp.asarray(ct, jdt))

    out = jm(jnp.asarray(x, jdt), tj)
    assert out.dtype == jdt and out.shape == tuple(ref.shape)
    _assert_close(out, _np(ref), rtol)
    gm, gx = nnx.grad(scalar, argnums=(0, 1))(jm, jnp.asarray(x, jdt))
    _assert_close(gx, _np(xt.grad), rtol)
    _assert_close(gm.linear.kernel[...].T, _np(tm.linear.weight.grad), rtol)
    if opts.get("bias", False):
        _assert_close(gm.linear.bias[...], _np(tm.linear.bias.grad), rtol)


def test_lce_options_change_nothing():
    tm, jm = _ported_lce(6, 5, seed=1)
    jc = LinearCrossEntropyLoss(6, 5, options={"batch_chunk_size": 3}, rngs=nnx.Rngs(0), param_dtype=jnp.float64)
    load_torch_weights(jc, tm.state_dict())
    x, t = RNG.standard_normal((7, 6)), RNG.integers(0, 5, size=7)
    assert float(jc(x, t)) == pytest.approx(float(jm(x, t)), rel=1e-14)
    assert float(jm(x, t)) == pytest.approx(tm(torch.from_numpy(x), torch.from_numpy(t)).item(), rel=1e-13)


def test_lce_dtype_argument():
    jm = LinearCrossEntropyLoss(4, 3, bias=True, rngs=nnx.Rngs(0), dtype=jnp.float32, param_dtype=jnp.float64)
    assert jm.linear.kernel.dtype == jnp.float64
    out = jm(RNG.standard_normal((2, 4)), np.array([0, 2]))
    assert out.dtype == jnp.float32


def test_lce_bad_arguments():
    cls = "LinearCrossEntropyLoss"
    r = nnx.Rngs(0)
    with pytest.raises(RuntimeError, match="expected weight shape"):
        torch.nn.LinearCrossEntropyLoss(4, 3, weight=torch.ones(4))
    with pytest.raises(ValueError, match=rf"{cls}: expected weight shape to be \(3,\), got \(4,\)"):
        LinearCrossEntropyLoss(4, 3, weight=np.ones(4), rngs=r)
    with pytest.raises(TypeError, match=f"{cls}: weight must have a floating dtype"):
        LinearCrossEntropyLoss(4, 3, weight=np.ones(3, np.int64), rngs=r)
    with pytest.raises(RuntimeError, match="label_smoothing"):
        torch.nn.LinearCrossEntropyLoss(4, 3, label_smoothing=1.5)
    with pytest.raises(ValueError, match=rf"{cls}: expected label_smoothing to be in range \[0, 1\], got 1.5"):
        LinearCrossEntropyLoss(4, 3, label_smoothing=1.5, rngs=r)
    with pytest.raises(TypeError, match=f"{cls}: label_smoothing must be a float, got str"):
        LinearCrossEntropyLoss(4, 3, label_smoothing="0.1", rngs=r)
    with pytest.raises(ValueError, match=f"{cls}: reduction must be one of"):
        LinearCrossEntropyLoss(4, 3, reduction="batchmean", rngs=r)
    with pytest.raises(TypeError, match=f"{cls}: ignore_index must be an int or None, got float"):
        LinearCrossEntropyLoss(4, 3, ignore_index=1.0, rngs=r)
    with pytest.raises(ValueError, match=f"{cls}: out_features must be non-negative ints"):
        LinearCrossEntropyLoss(4, 3, out_features=(2, -1), rngs=r)
    with pytest.raises(TypeError, match=f"{cls}: out_features must be a tuple of ints, got int"):
        LinearCrossEntropyLoss(4, 3, out_features=2, rngs=r)
    with pytest.raises(ValueError, match=f"{cls}: in_features must be a positive int"):
        LinearCrossEntropyLoss(0, 3, rngs=r)
    with pytest.raises(ValueError, match=f"{cls}: num_classes must be a positive int"):
        LinearCrossEntropyLoss(4, True, rngs=r)


def test_lce_bad_input():
    tm, jm = _ported_lce(4, 3, seed=2)
    x, t = RNG.standard_normal((5, 4)), np.array([0, 1, 2, 1, 0])
    fn = "linear_cross_entropy"
    # shapes and dtypes, refused by torch too
    for xx, tt in ((x[:, :3], t), (x[None], t), (x, t[:4])):
        with pytest.raises((RuntimeError, ValueError)):
            tm(torch.from_numpy(xx), torch.from_numpy(tt))
        with pytest.raises(ValueError, match=fn):
            jm(xx, tt)
    with pytest.raises(TypeError, match=fn):
        jm(x.astype(np.int64), t)
    # values: a class index out of range
    bad = np.array([0, 1, 3, 1, 0])
    with pytest.raises((IndexError, RuntimeError)):
        tm(torch.from_numpy(x), torch.from_numpy(bad))
    with pytest.raises(ValueError, match=fn):
        jm(x, bad)
    with pytest.raises(ValueError, match=fn):
        checked(lambda a, b: jm(a, b))(jnp.asarray(x), jnp.asarray(bad))
    assert float(checked(lambda a, b: jm(a, b))(jnp.asarray(x), jnp.asarray(t))) == pytest.approx(
        float(jm(x, t)), rel=1e-14
    )


def test_lce_jit_grad_vmap():
    _, jm = _ported_lce(4, 3, seed=3, bias=True)
    x = jnp.asarray(RNG.standard_normal((5, 4)))
    t = jnp.asarray(RNG.integers(0, 3, size=5))
    f = nnx.jit(lambda m, a, b: m(a, b))
    assert float(f(jm, x, t)) == pytest.approx(float(jm(x, t)), rel=1e-14)
    grads = nnx.grad(lambda m: m(x, t))(jm)
    assert jax.tree.structure(grads) == jax.tree.structure(nnx.state(jm, nnx.Param))
    gx = jax.grad(lambda a: jm(a, t))(x)
    e = jnp.zeros_like(x).at[1, 2].set(1e-6)
    fd = (jm(x + e, t) - jm(x - e, t)) / 2e-6
    assert float(gx[1, 2]) == pytest.approx(float(fd), rel=1e-6)
    xs = jnp.asarray(RNG.standard_normal((3, 5, 4)))
    v = jax.vmap(lambda a: jm(a, t))(xs)
    np.testing.assert_allclose(v, [jm(a, t) for a in xs], rtol=1e-14)
    ts = jnp.asarray(RNG.integers(0, 3, size=(3, 5)))
    np.testing.assert_allclose(jax.vmap(lambda b: jm(x, b))(ts), [jm(x, b) for b in ts], rtol=1e-14)
