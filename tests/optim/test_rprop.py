"""jloss.optim.rprop against torch.optim.Rprop (expected values from torch at test time)."""

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

from jloss.optim._rprop import TORCH_STATE_KEYS, rprop

T = torch.optim.Rprop


def test_signature_matches_torch():
    check_signature(rprop, T)


@pytest.mark.parametrize("kwargs", [{}, {"lr": 0.5, "etas": (0.3, 1.5), "step_sizes": (1e-2, 0.1), "maximize": True}])
def test_matches_torch_with_state(kwargs):
    check_matches_torch(rprop, T, kwargs, TORCH_STATE_KEYS)


@pytest.mark.parametrize("kwargs", [{"lr": -0.1}, {"etas": (0.0, 1.2)}, {"etas": (1.0, 1.2)}, {"etas": (0.5, 1.0)}])
def test_bad_arguments_raise_like_torch(kwargs):
    check_bad_args(rprop, T, kwargs)


def test_lr_schedule():
    check_schedule(rprop, T, {"etas": (0.4, 1.3)})


def test_chain_with_clipping():
    check_chain_clip(rprop, T, {"lr": 0.05})


def test_injected_hyperparams():
    # torch reads lr only when it creates the state (the first step): later changes do nothing
    check_hyperparams(rprop, T, {}, ["lr", "etaminus", "etaplus", "step_size_min", "step_size_max"],
                      lr_matters=False)


def test_lr_set_before_the_first_step_seeds_step_size():
    import jax.numpy as jnp
    from _helpers import set_hyper

    tx = rprop(lr=0.01)
    state = set_hyper(tx.init({"x": jnp.zeros(3)}), "lr", 0.2)
    updates, state = tx.update({"x": jnp.array([1.0, -2.0, 0.0])}, state)
    # torch: step_size = full_like(p, lr) at the first step, times 1 (no previous gradient)
    assert jnp.array_equal(updates["x"], jnp.array([-0.2, 0.2, 0.0]))
    assert jnp.array_equal(state.inner_state.step_size["x"], jnp.full(3, 0.2))
