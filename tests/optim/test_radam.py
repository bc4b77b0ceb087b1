"""jloss.optim radam against torch.optim.RAdam (expected values from torch at test time)."""

from decimal import Decimal, getcontext

import jax
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

from jloss.optim._radam import TORCH_STATE_KEYS, radam, rho

T = torch.optim.RAdam


def test_signature_matches_torch():
    check_signature(radam, T)


@pytest.mark.parametrize("kwargs", [
    {},  # rho_t > 5 from step 6: both branches within 10 steps
    {"lr": 0.01, "betas": (0.3, 0.9), "eps": 1e-3},
    {"lr": 0.01, "weight_decay": 0.1, "maximize": True},
    {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
    {"betas": (0.9, 0.5)},  # rho_inf = 3: never rectified
])
def test_matches_torch_with_state(kwargs):
    check_matches_torch(radam, T, kwargs, TORCH_STATE_KEYS, steps=12)


@pytest.mark.parametrize("kwargs", [{}, {"betas": (0.9, 0.99), "weight_decay": 0.1, "decoupled_weight_decay": True}])
def test_float32(kwargs):
    check_float32(radam, T, kwargs)


def _exact_rho(beta2: float, t: int) -> float:
    getcontext().prec = 50
    b, t = Decimal(beta2), Decimal(t)
    bt = (t * b.ln()).exp()
    return float(2 / (1 - b) - 1 - 2 * t * bt / (1 - bt))


@pytest.mark.parametrize("beta2", [0.999, 0.99, 0.9, 0.8, 0.7, 0.9999, 0.99999])
def test_rho_t_float32_without_x64(beta2):
    # torch's formula cancels in float32 (both terms ~2/(1-beta2)); without x64 jloss uses a series
    b32 = float(np.float32(beta2))  # the hyperparameter as float32 holds it
    with jax.enable_x64(False):
        for t in (1, 2, 5, 6, 7, 10, 100, 1000, 100000):
            ours = float(rho(np.float32(beta2), t)[1])
            assert abs(ours - _exact_rho(b32, t)) <= 3e-7 * _exact_rho(b32, t), (t, ours)


def test_rho_t_float64_is_torch_formula():
    for t in (1, 5, 6, 50):
        b2 = 0.999
        expected = (2 / (1 - b2) - 1) - 2 * t * b2**t / (1 - b2**t)
        assert float(rho(b2, t)[1]) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("kwargs", [{"lr": -0.1}, {"eps": -1.0}, {"betas": (1.0, 0.9)}, {"betas": (0.9, -0.1)},
                                    {"weight_decay": -1.0}])
def test_bad_arguments_raise_like_torch(kwargs):
    check_bad_args(radam, T, kwargs)


def test_lr_schedule():
    check_schedule(radam, T, {"weight_decay": 0.1})


def test_chain_with_clipping():
    check_chain_clip(radam, T, {"lr": 0.01})


def test_injected_hyperparams():
    check_hyperparams(radam, T, {"weight_decay": 0.01}, ["lr", "beta1", "beta2", "eps", "weight_decay"])


def test_jit():
    check_jit_and_no_recompile(radam, {"weight_decay": 0.1, "decoupled_weight_decay": True})
