"""jloss.optim.adagrad against torch.optim.Adagrad (expected values from torch at test time)."""

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

from jloss.optim._adagrad import TORCH_STATE_KEYS, adagrad

T = torch.optim.Adagrad


def test_signature_matches_torch():
    check_signature(adagrad, T)


@pytest.mark.parametrize("kwargs", [{}, {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-3, "maximize": True}])
def test_matches_torch_with_state(kwargs):
    check_matches_torch(adagrad, T, kwargs, TORCH_STATE_KEYS)


@pytest.mark.parametrize("kwargs", [{"lr": -0.1}, {"lr_decay": -1.0}, {"weight_decay": -1.0}, {"initial_accumulator_value": -0.1}, {"eps": -1.0}])
def test_bad_arguments_raise_like_torch(kwargs):
    check_bad_args(adagrad, T, kwargs)


def test_lr_schedule():
    check_schedule(adagrad, T, {"lr_decay": 0.1})


def test_chain_with_clipping():
    check_chain_clip(adagrad, T, {"lr": 0.1, "lr_decay": 0.01})


def test_injected_hyperparams():
    check_hyperparams(adagrad, T, {"lr_decay": 0.01}, ["lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"])
