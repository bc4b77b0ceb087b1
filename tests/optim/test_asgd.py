"""jloss.optim.asgd against torch.optim.ASGD (expected values from torch at test time)."""

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

from jloss.optim._asgd import TORCH_STATE_KEYS, asgd

T = torch.optim.ASGD


def test_signature_matches_torch():
    check_signature(asgd, T)


@pytest.mark.parametrize("kwargs", [{}, {"lr": 0.05, "lambd": 0.01, "alpha": 0.5, "t0": 3.0, "weight_decay": 0.1, "maximize": True}])
def test_matches_torch_with_state(kwargs):
    check_matches_torch(asgd, T, kwargs, TORCH_STATE_KEYS)


@pytest.mark.parametrize("kwargs", [{"lr": -0.1}, {"weight_decay": -1.0}])
def test_bad_arguments_raise_like_torch(kwargs):
    check_bad_args(asgd, T, kwargs)


def test_lr_schedule():
    check_schedule(asgd, T, {"lambd": 0.01, "t0": 2.0})


def test_chain_with_clipping():
    check_chain_clip(asgd, T, {"lr": 0.05, "t0": 2.0})


def test_injected_hyperparams():
    check_hyperparams(asgd, T, {"lambd": 0.01, "t0": 2.0}, ["lr", "lambd", "alpha", "t0", "weight_decay"])


def test_update_needs_params():
    import jax.numpy as jnp

    tx = asgd()
    state = tx.init({"x": jnp.zeros(2)})
    with pytest.raises(ValueError, match="^asgd: .*needs params"):
        tx.update({"x": jnp.ones(2)}, state)
