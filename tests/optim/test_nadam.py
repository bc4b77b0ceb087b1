"""jloss.optim nadam against torch.optim.NAdam (expected values from torch at test time)."""

import numpy as np
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

from jloss.optim._nadam import TORCH_STATE_KEYS, nadam

T = torch.optim.NAdam


def test_signature_matches_torch():
    check_signature(nadam, T)


@pytest.mark.parametrize("kwargs", [
    {},
    {"lr": 0.01, "betas": (0.3, 0.9), "eps": 1e-3, "momentum_decay": 0.1},
    {"lr": 0.01, "weight_decay": 0.1, "maximize": True},
    {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
    {"momentum_decay": 0.0, "betas": (0.0, 0.5)},
])
def test_matches_torch_with_state(kwargs):
    # mu_product included: torch keeps it in float32, and so must we, bit for bit
    check_matches_torch(nadam, T, kwargs, TORCH_STATE_KEYS, steps=30)


def test_mu_product_is_torch_float32():
    tx = nadam()
    state = tx.init({"w": np.zeros(2)})
    assert state.inner_state.mu_product.dtype == np.float32


@pytest.mark.parametrize("kwargs", [{}, {"weight_decay": 0.1, "decoupled_weight_decay": True, "lr": 0.01}])
def test_float32(kwargs):
    check_float32(nadam, T, kwargs)


@pytest.mark.parametrize("kwargs", [{"lr": -0.1}, {"eps": -1.0}, {"betas": (1.0, 0.9)}, {"betas": (0.9, -0.1)},
                                    {"weight_decay": -1.0}, {"momentum_decay": -1e-3}])
def test_bad_arguments_raise_like_torch(kwargs):
    check_bad_args(nadam, T, kwargs)


def test_lr_schedule():
    check_schedule(nadam, T, {"weight_decay": 0.1, "decoupled_weight_decay": True})


def test_chain_with_clipping():
    check_chain_clip(nadam, T, {"lr": 0.01, "weight_decay": 0.01})


def test_injected_hyperparams():
    check_hyperparams(nadam, T, {"weight_decay": 0.01},
                      ["lr", "beta1", "beta2", "eps", "weight_decay", "momentum_decay"])


def test_jit():
    check_jit_and_no_recompile(nadam, {"weight_decay": 0.1})
