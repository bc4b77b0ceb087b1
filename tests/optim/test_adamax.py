"""jloss.optim.adamax against torch.optim.Adamax (expected values from torch at test time)."""

import pytest
import torch
from _helpers import (
    check_bad_args,
    check_chain_clip,
    check_hyperparams,
    check_matches_torch,
    check_schedule,
    check_signature,
)

from jloss.optim._adamax import TORCH_STATE_KEYS, adamax

T = torch.optim.Adamax


def test_signature_matches_torch():
    check_signature(adamax, T)


@pytest.mark.parametrize("kwargs", [{}, {"lr": 0.01, "betas": (0.3, 0.9), "eps": 1e-3, "weight_decay": 0.1, "maximize": True}, {"betas": (0.0, 0.5)}])
def test_matches_torch_with_state(kwargs):
    check_matches_torch(adamax, T, kwargs, TORCH_STATE_KEYS)


@pytest.mark.parametrize("kwargs", [{"lr": -0.1}, {"eps": -1.0}, {"betas": (1.0, 0.9)}, {"betas": (0.9, -0.1)}, {"weight_decay": -1.0}])
def test_bad_arguments_raise_like_torch(kwargs):
    check_bad_args(adamax, T, kwargs)


def test_lr_schedule():
    check_schedule(adamax, T, {"betas": (0.8, 0.99)})


def test_chain_with_clipping():
    check_chain_clip(adamax, T, {"lr": 0.01})


def test_injected_hyperparams():
    check_hyperparams(adamax, T, {"weight_decay": 0.01}, ["lr", "beta1", "beta2", "eps", "weight_decay"])
