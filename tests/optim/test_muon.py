"""jloss.optim muon against torch.optim.Muon (expected values from torch at test time)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from _helpers_adaptive import (
    assert_traj,
    check_bad_args,
    check_chain_clip,
    check_float32,
    check_hyperparams,
    check_jit_and_no_recompile,
    check_matches_torch,
    check_schedule,
    check_signature,
    jax_run,
    problem,
    torch_run,
)
from torch.optim._muon import _adjust_lr, _zeropower_via_newtonschulz

from jloss.optim._muon import TORCH_STATE_KEYS, adjusted_lr_ratio, muon, zeropower_via_newtonschulz

T = torch.optim.Muon
# Muon takes 2-D parameters only: wide, tall (transposed inside Newton-Schulz), square
SHAPES = {"w": (2, 3), "v": (4, 3), "u": (3, 3)}
WIDER = {"w": (4, 3), "v": (3, 5), "u": (6, 6), "x": (16, 8)}


def test_signature_matches_torch():
    check_signature(muon, T, extra=("param_layout",))


@pytest.mark.parametrize("kwargs", [
    {},
    {"lr": 0.02, "momentum": 0.9, "nesterov": False, "weight_decay": 0.01},
    {"lr": 0.02, "adjust_lr_fn": "match_rms_adamw", "ns_steps": 3, "ns_coefficients": (2.0, -1.5, 0.5), "eps": 1e-3},
    {"lr": 0.02, "momentum": 0.0, "weight_decay": 0.0, "adjust_lr_fn": "original"},
])
def test_matches_torch_with_state(kwargs):
    check_matches_torch(muon, T, kwargs, TORCH_STATE_KEYS, shapes=SHAPES, steps=20)


@pytest.mark.parametrize("kwargs", [{}, {"lr": 0.02, "nesterov": False, "adjust_lr_fn": "match_rms_adamw"}])
def test_float32_20_steps_within_1e6(kwargs):
    check_float32(muon, T, kwargs, shapes=WIDER, tol=1e-6)


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (6, 6), (16, 8), (8, 16), (12, 10)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_newton_schulz_bitwise_like_torch(shape, dtype):
    # bfloat16 with float32 accumulation and torch's rounding points: identical bits, not just close.
    # (Inner dimensions of ~32 and more can differ in the float32 summation order of torch's CPU
    # kernel, which torch itself changes with its backend: see the muon docstring.)
    coefs = (3.4445, -4.7750, 2.0315)
    ns = jax.jit(lambda g: zeropower_via_newtonschulz(g, coefs, 5, 1e-7))
    r = np.random.default_rng(sum(shape))
    for _ in range(10):
        g = r.standard_normal(shape).astype(dtype)
        theirs = _zeropower_via_newtonschulz(torch.tensor(g), coefs, 5, 1e-7)
        ours = ns(jnp.asarray(g))
        assert ours.dtype == jnp.bfloat16 and ours.shape == shape
        np.testing.assert_array_equal(np.asarray(ours.astype(jnp.float32)), theirs.float().numpy())


def test_flax_layout_gets_torchs_lr_adjustment():
    # a torch Linear weight is (out, in); the same layer's Flax kernel is its transpose (in, out)
    shapes = {"w": (3, 5), "v": (6, 2)}
    kwargs = {"lr": 0.02}
    p0, grads = problem(shapes, 8)
    tt, _ = torch_run(T, kwargs, p0, grads)
    tr = lambda d: {k: v.T for k, v in d.items()}  # noqa: E731
    flax, _ = jax_run(muon(**kwargs, param_layout="flax"), tr(p0), [tr(g) for g in grads])
    assert_traj([tr(s) for s in flax], tt)
    plain, _ = jax_run(muon(**kwargs), tr(p0), [tr(g) for g in grads])  # torch's rule read on the wrong axes
    assert not np.allclose(plain[-1]["w"].T, tt[-1]["w"])


@pytest.mark.parametrize("fn", [None, "original", "match_rms_adamw"])
@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4)])
def test_adjusted_lr_ratio(fn, shape):
    assert adjusted_lr_ratio(shape, fn) == _adjust_lr(1.0, fn, torch.Size(shape))
    assert adjusted_lr_ratio(shape[::-1], fn, "flax") == _adjust_lr(1.0, fn, torch.Size(shape))


@pytest.mark.parametrize("kwargs", [{"lr": -0.1}, {"momentum": -0.1}, {"weight_decay": -1.0}, {"adjust_lr_fn": "rms"}])
def test_bad_arguments_raise_like_torch(kwargs):
    check_bad_args(muon, T, kwargs, shape=(2, 2))


@pytest.mark.parametrize("kwargs", [{"ns_steps": 100}, {"ns_coefficients": (1.0, 2.0)}])
def test_newton_schulz_arguments_raise_like_torchs_first_step(kwargs):
    p = torch.zeros(2, 2, requires_grad=True)
    opt = T([p], **kwargs)
    p.grad = torch.ones(2, 2)
    with pytest.raises(ValueError):
        opt.step()
    with pytest.raises(ValueError, match="^muon: "):
        muon(**kwargs)


@pytest.mark.parametrize("shape", [(3,), (2, 2, 2), ()])
def test_only_2d_parameters(shape):
    with pytest.raises(ValueError):
        T([torch.zeros(shape, requires_grad=True)])
    with pytest.raises(ValueError, match="^muon: Muon only supports 2D parameters"):
        muon().init({"w": jnp.zeros((2, 2)), "b": jnp.zeros(shape)})


def test_param_layout_checked():
    with pytest.raises(ValueError, match="^muon: param_layout"):
        muon(param_layout="jax")


def test_lr_schedule():
    check_schedule(muon, T, {"weight_decay": 0.1}, shapes=SHAPES)


def test_chain_with_clipping():
    check_chain_clip(muon, T, {"lr": 0.02}, shapes=SHAPES)


def test_injected_hyperparams():
    check_hyperparams(muon, T, {"lr": 0.02}, ["lr", "weight_decay", "momentum", "eps"], shapes=SHAPES)


def test_jit():
    check_jit_and_no_recompile(muon, {}, shapes=SHAPES)
