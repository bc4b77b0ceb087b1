"""jloss.optim.rmsprop against torch.optim.RMSprop (expected values from torch at test time)."""

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

from jloss.optim._rmsprop import TORCH_STATE_KEYS, rmsprop

T = torch.optim.RMSprop


def test_signature_matches_torch():
    check_signature(rmsprop, T)


@pytest.mark.parametrize("kwargs", [{}, {"centered": True, "momentum": 0.9, "weight_decay": 0.1, "maximize": True}, {"alpha": 0.3, "centered": True, "eps": 1e-3}])
def test_matches_torch_with_state(kwargs):
    check_matches_torch(rmsprop, T, kwargs, TORCH_STATE_KEYS)


@pytest.mark.parametrize("kwargs", [{"lr": -0.1}, {"eps": -1.0}, {"momentum": -0.5}, {"weight_decay": -1.0}, {"alpha": -0.1}])
def test_bad_arguments_raise_like_torch(kwargs):
    check_bad_args(rmsprop, T, kwargs)


def test_lr_schedule():
    check_schedule(rmsprop, T, {"momentum": 0.9, "centered": True})


def test_chain_with_clipping():
    check_chain_clip(rmsprop, T, {"lr": 0.01, "momentum": 0.5})


def test_injected_hyperparams():
    check_hyperparams(rmsprop, T, {"momentum": 0.9}, ["lr", "alpha", "eps", "weight_decay", "momentum"])
