"""The documented differences from torch, each checked (docs/fuzzing.md lists them all).

The others are checked where the fuzzers meet them: CTC's target checks and soft_margin_loss's
stable form (test_fuzz_losses_more.py), 'mean' of an empty multilabel_margin_loss batch, the
schedule functions' closed forms and ConstantLR's ``factor=0`` (test_fuzz_schedulers.py), and the
stricter argument checks (test_bad_inputs.py, ``stricter``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from _strategies import DIM, SEEDS, close, fuzz, record
from hypothesis import given
from hypothesis import strategies as st

import jloss.functional as F
import jloss.optim as O

TF = torch.nn.functional


def _t(x, grad=False):
    return torch.tensor(np.asarray(x), requires_grad=grad)


# ---- gradients w.r.t. weight / pos_weight, which torch refuses ---------------------------------


def _ce_manual(x, t, w, reduction):
    """cross_entropy with class weights, written with differentiable torch ops."""
    logp = torch.log_softmax(x, 1)
    picked = -logp.gather(1, t[:, None])[:, 0]
    wt = w[t]
    loss = picked * wt
    return {"mean": loss.sum() / wt.sum(), "sum": loss.sum(), "none": loss}[reduction]


def _bcel_manual(x, y, w, pw):
    ls, lsn = TF.logsigmoid(x), TF.logsigmoid(-x)
    return (w * -(pw * y * ls + (1 - y) * lsn)).mean()


@fuzz(default=3, long=100)
@given(n=DIM, c=st.sampled_from([2, 3, 5]), seed=SEEDS, reduction=st.sampled_from(["mean", "sum", "none"]),
       which=st.sampled_from(["cross_entropy", "nll_loss", "bce_with_logits", "binary_cross_entropy",
                              "multi_margin_loss"]))
def test_weight_gradients_where_torch_refuses(n, c, seed, reduction, which):
    """torch: "not differentiable with respect to argument 'weight'"; jloss returns the exact
    derivative, here against the same formula written with differentiable torch ops."""
    r = np.random.default_rng(seed)
    x, w = r.standard_normal((max(n, 1), c)), r.uniform(0.2, 2.0, c)
    if which in ("cross_entropy", "nll_loss"):
        t = r.integers(0, c, max(n, 1))
        if which == "nll_loss":
            x = np.asarray(torch.log_softmax(_t(x), 1))
        with pytest.raises(RuntimeError, match="not differentiable"):
            getattr(TF, which)(_t(x), _t(t), weight=_t(w, True)).sum().backward()
        tw = _t(w, True)
        ref_fn = _ce_manual if which == "cross_entropy" else (
            lambda xx, tt, ww, red: {"mean": (-xx.gather(1, tt[:, None])[:, 0] * ww[tt]).sum() / ww[tt].sum(),
                                     "sum": (-xx.gather(1, tt[:, None])[:, 0] * ww[tt]).sum(),
                                     "none": -xx.gather(1, tt[:, None])[:, 0] * ww[tt]}[red])
        (g_ref,) = torch.autograd.grad(ref_fn(_t(x), _t(t), tw, reduction).sum(), tw)
        g = jax.grad(lambda ww: jnp.sum(getattr(F, which)(jnp.asarray(x), jnp.asarray(t), weight=ww,
                                                          reduction=reduction)))(jnp.asarray(w))
        assert close(np.asarray(g), g_ref.numpy()), (g, g_ref)
    elif which == "bce_with_logits":
        y, pw = r.uniform(0, 1, (max(n, 1), c)), r.uniform(0.5, 3, c)
        for kw in ("weight", "pos_weight"):
            with pytest.raises(RuntimeError, match="not differentiable"):
                TF.binary_cross_entropy_with_logits(_t(x), _t(y), **{kw: _t(w, True)}).backward()
        tw, tpw = _t(w, True), _t(pw, True)
        g_ref = torch.autograd.grad(_bcel_manual(_t(x), _t(y), tw, tpw), (tw, tpw))
        g = jax.grad(lambda ww, pp: F.binary_cross_entropy_with_logits(jnp.asarray(x), jnp.asarray(y), weight=ww,
                                                                         pos_weight=pp), argnums=(0, 1))(
            jnp.asarray(w), jnp.asarray(pw))
        assert all(close(np.asarray(a), b.numpy()) for a, b in zip(g, g_ref, strict=True)), (g, g_ref)
    elif which == "multi_margin_loss":
        t = r.integers(0, c, max(n, 1))
        with pytest.raises(RuntimeError, match="not differentiable"):
            TF.multi_margin_loss(_t(x), _t(t), weight=_t(w, True)).backward()
        tw, tx, tt = _t(w, True), _t(x), _t(t)
        z = (1.0 - tx.gather(1, tt[:, None]) + tx).clamp_min(0) * tw[tt][:, None]
        per = z.masked_fill(torch.nn.functional.one_hot(tt, c).bool(), 0).sum(1) / c
        (g_ref,) = torch.autograd.grad({"mean": per.mean(), "sum": per.sum(), "none": per}[reduction].sum(), tw)
        g = jax.grad(lambda ww: jnp.sum(F.multi_margin_loss(jnp.asarray(x), jnp.asarray(t), weight=ww,
                                                            reduction=reduction)))(jnp.asarray(w))
        assert close(np.asarray(g), g_ref.numpy()), (g, g_ref)
    else:
        p, y = r.uniform(0.05, 0.95, (max(n, 1), c)), r.uniform(0, 1, (max(n, 1), c))
        with pytest.raises(RuntimeError, match="not differentiable"):
            TF.binary_cross_entropy(_t(p), _t(y), weight=_t(w, True)).backward()
        tw = _t(w, True)
        (g_ref,) = torch.autograd.grad((tw * TF.binary_cross_entropy(_t(p), _t(y), reduction="none")).mean(), tw)
        g = jax.grad(lambda ww: F.binary_cross_entropy(jnp.asarray(p), jnp.asarray(y), weight=ww))(jnp.asarray(w))
        assert close(np.asarray(g), g_ref.numpy()), (g, g_ref)
    record("deliberate.weight-gradients", "deliberate")


# ---- integer targets beyond int64 ------------------------------------------------------------------


@fuzz(default=2, long=60)
@given(seed=SEEDS, dtype=st.sampled_from([np.int32, np.int16, np.int8]),
       which=st.sampled_from(["cross_entropy", "nll_loss", "multi_margin_loss"]))
def test_integer_targets_of_any_width(seed, dtype, which):
    """torch wants int64 class indices (RuntimeError for int32 / int16 / int8); jloss takes any
    integer dtype (JAX's default integer is int32) and gives torch's int64 result."""
    r = np.random.default_rng(seed)
    x, t = r.standard_normal((4, 3)), r.integers(0, 3, 4)
    with pytest.raises(RuntimeError):
        getattr(TF, which)(_t(x), _t(t.astype(dtype)))
    ours = getattr(F, which)(jnp.asarray(x), jnp.asarray(t.astype(dtype)))
    assert close(np.asarray(ours), getattr(TF, which)(_t(x), _t(t)).numpy())
    record("deliberate.int-targets", "deliberate")


# ---- Adafactor on an empty parameter ------------------------------------------------------------------


def test_adafactor_empty_parameter():
    """torch's Adafactor divides by the parameter's size: ZeroDivisionError on an empty one. jloss
    leaves it empty and updates the others exactly as torch does without it."""
    w0, g = np.arange(6.0).reshape(2, 3) / 7, np.ones((2, 3)) * 0.3
    with pytest.raises(ZeroDivisionError):
        ps = [_t(np.zeros(0), True), _t(w0, True)]
        opt = torch.optim.Adafactor(ps)
        ps[0].grad, ps[1].grad = _t(np.zeros(0)), _t(g)
        opt.step()
    tw = _t(w0, True)
    opt = torch.optim.Adafactor([tw])
    tw.grad = _t(g)
    opt.step()
    ours = O.Adafactor({"e": jnp.zeros(0), "w": jnp.asarray(w0)})
    ours.step({"e": jnp.zeros(0), "w": jnp.asarray(g)})
    assert ours.params["e"].shape == (0,)
    assert close(np.asarray(ours.params["w"]), tw.detach().numpy())
    record("deliberate.adafactor-empty", "deliberate")
