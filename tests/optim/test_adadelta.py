"""jloss.optim.adadelta against torch.optim.Adadelta (expected values from torch at test time)."""

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

from jloss.optim._adadelta import TORCH_STATE_KEYS, adadelta

T = torch.optim.Adadelta


def test_signature_matches_torch():
    check_signature(adadelta, T)


@pytest.mark.parametrize("kwargs", [{}, {"lr": 0.5, "rho": 0.95, "eps": 1e-4, "weight_decay": 0.1, "maximize": True}])
def test_matches_torch_with_state(kwargs):
    check_matches_torch(adadelta, T, kwargs, TORCH_STATE_KEYS)


@pytest.mark.parametrize("kwargs", [{"lr": -0.1}, {"rho": 1.5}, {"rho": -0.1}, {"eps": -1.0}, {"weight_decay": -1.0}])
def test_bad_arguments_raise_like_torch(kwargs):
    check_bad_args(adadelta, T, kwargs)


def test_lr_schedule():
    check_schedule(adadelta, T, {"rho": 0.8})


def test_chain_with_clipping():
    check_chain_clip(adadelta, T, {"weight_decay": 0.01})


def test_injected_hyperparams():
    check_hyperparams(adadelta, T, {"rho": 0.8}, ["lr", "rho", "eps", "weight_decay"])
