"""jloss.optim adafactor against torch.optim.Adafactor (expected values from torch at test time)."""

import jax.numpy as jnp
import pytest
import torch
from _helpers_adaptive import (
    check_bad_args,
    check_chain_clip,
    check_float32,
    check_hyperparams,
    check_jit_and_no_recompile,
    check_matches_torch,
    check_schedule,
    check_signature,
)

from jloss import _rows
from jloss.optim._adafactor import TORCH_STATE_KEYS, adafactor

T = torch.optim.Adafactor
# factored (2-D, 3-D) and unfactored (1-D, 0-D) parameters
SHAPES = {"b": (3,), "w": (2, 3), "k": (2, 3, 2), "s": ()}


def test_signature_matches_torch():
    check_signature(adafactor, T)


@pytest.mark.parametrize("kwargs", [
    {},
    {"lr": 0.5},  # rho_t = 1/sqrt(t) from step 5
    {"lr": 0.05, "eps": (1e-3, 2.0), "d": 1.5, "beta2_decay": -0.5},
    {"lr": 0.05, "weight_decay": 0.1, "maximize": True, "beta2_decay": 0.0},
])
def test_matches_torch_with_state(kwargs):
    check_matches_torch(adafactor, T, kwargs, TORCH_STATE_KEYS, shapes=SHAPES)


def test_eps1_clamps_small_variances():
    check_matches_torch(adafactor, T, {"lr": 0.05, "eps": (1e-2, 1e-3)}, TORCH_STATE_KEYS, shapes=SHAPES, scale=1e-3)


def test_state_layout():
    state = adafactor().init({k: jnp.zeros(s) for k, s in SHAPES.items()}).inner_state
    assert state.row_var["k"].shape == (2, 3, 1) and state.col_var["k"].shape == (2, 1, 2)
    assert state.row_var["b"] is None and state.variance["w"] is None and state.variance["s"].shape == ()


@pytest.mark.parametrize("kwargs,scale", [({}, 1.0), ({"lr": 0.5, "weight_decay": 0.1}, 1.0),
                                          ({"eps": (None, 1e-3)}, 1e-8)])  # eps1 = float32's machine epsilon
def test_float32(kwargs, scale):
    check_float32(adafactor, T, kwargs, shapes=SHAPES, scale=scale)


@pytest.mark.parametrize("kwargs", [{"lr": -0.1}, {"beta2_decay": 0.5}, {"eps": (-1.0, 1e-3)}, {"eps": (None, -1.0)},
                                    {"d": 0.5}, {"weight_decay": -1.0}])
def test_bad_arguments_raise_like_torch(kwargs):
    check_bad_args(adafactor, T, kwargs)


def test_lr_schedule():
    check_schedule(adafactor, T, {"weight_decay": 0.1}, shapes=SHAPES)


def test_chain_with_clipping():
    check_chain_clip(adafactor, T, {"lr": 0.05}, shapes=SHAPES)


@pytest.mark.parametrize("eps,names", [((None, 1e-3), ["lr", "beta2_decay", "eps2", "d", "weight_decay"]),
                                       ((1e-20, 1e-3), ["lr", "beta2_decay", "eps1", "eps2", "d", "weight_decay"])])
def test_injected_hyperparams(eps, names):
    check_hyperparams(adafactor, T, {"eps": eps, "weight_decay": 0.01}, names, shapes=SHAPES)


def test_jit():
    check_jit_and_no_recompile(adafactor, {"weight_decay": 0.1}, shapes=SHAPES)


# block by block (``jloss._rows.BLOCK`` elements): whole blocks only, a partial last block, leading dimensions (vmapped)
BLOCKED_SHAPES = {"m": (9, 4), "w": (13, 5), "k": (2, 7, 4), "b": (3,)}


@pytest.mark.parametrize("kwargs", [{}, {"lr": 0.05, "eps": (1e-3, 2.0), "d": 1.5, "weight_decay": 0.1}])
def test_update_norm_block_by_block(kwargs, monkeypatch):
    # large parameters sum the update's squares over blocks of rows (_factored_update_sum_sq);
    # a small block size sends these small ones there too
    monkeypatch.setattr(_rows, "BLOCK", 12)
    check_matches_torch(adafactor, T, kwargs, TORCH_STATE_KEYS, shapes=BLOCKED_SHAPES)
    check_float32(adafactor, T, kwargs, shapes=BLOCKED_SHAPES)
