"""_cosine.py: CosineAnnealingLR beyond T_max (periodic like torch, unlike optax), warm restarts at
fractional epochs against torch's step(epoch)."""

import warnings

import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

from jloss.optim import lr_scheduler as L


def test_cosine_keeps_oscillating_past_t_max_like_torch():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.01)
    ref = [sched.get_last_lr()[0]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(40):
            sched.step()
            ref.append(sched.get_last_lr()[0])
    got = np.asarray(L.cosine_annealing_lr(0.1, 10, 0.01)(jnp.arange(41)))
    np.testing.assert_allclose(got, ref, rtol=1e-13)
    assert got[20] == pytest.approx(0.1)  # back at the top after 2 * T_max
    optax_like = np.asarray(optax.cosine_decay_schedule(0.1, 10, alpha=0.1)(jnp.arange(41)))
    assert abs(optax_like[20] - ref[20]) > 0.05  # the trap: optax holds the minimum


def test_warm_restarts_fractional_epochs_match_torch_step_epoch():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2, eta_min=1e-3)
    s = L.cosine_annealing_warm_restarts(0.1, 3, 2, 1e-3)
    for epoch in range(20):
        for i in range(5):
            e = epoch + i / 5
            sched.step(e)
            assert float(s(jnp.float64(e))) == pytest.approx(sched.get_last_lr()[0], rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("bad, match", [
    (lambda: L.cosine_annealing_lr(0.1, T_max=0), "T_max"),
    (lambda: L.cosine_annealing_warm_restarts(0.1, T_0=0), "positive integer T_0"),
    (lambda: L.cosine_annealing_warm_restarts(0.1, 3, T_mult=1.5), "T_mult"),
    (lambda: L.cosine_annealing_warm_restarts(0.1, 3, eta_min="0"), "eta_min"),
])
def test_bad_arguments(bad, match):
    with pytest.raises(ValueError, match=match):
        bad()
