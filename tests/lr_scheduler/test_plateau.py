"""_plateau.py: reduce_lr_on_plateau in a training loop against torch's ReduceLROnPlateau."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

from jloss import optim
from jloss.optim import lr_scheduler as L

EPOCHS, BATCHES = 12, 3


def test_transform_in_a_training_loop_matches_torch():
    rng = np.random.default_rng(0)
    grads = rng.standard_normal((EPOCHS, BATCHES, 3))
    val = [1.0, 0.9, 0.9, 0.95, 0.91, 0.92, 0.5, 0.6, 0.55, 0.7, 0.7, 0.8]
    kw = dict(mode="min", factor=0.5, patience=1, threshold=0.01, threshold_mode="abs", cooldown=1, min_lr=0.02)

    p = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
    for e in range(EPOCHS):
        for b in range(BATCHES):
            p.grad = torch.tensor(grads[e, b])
            opt.step()
        sched.step(val[e])

    tx = optax.chain(optim.sgd(lr=0.1, momentum=0.9), L.reduce_lr_on_plateau(0.1, **kw))
    params = jnp.zeros(3)
    state = tx.init(params)
    step = jax.jit(lambda g, s, prm, **extra: tx.update(g, s, prm, **extra))
    for e in range(EPOCHS):
        for b in range(BATCHES):
            extra = {"value": val[e - 1]} if (b == 0 and e > 0) else {}
            u, state = step(jnp.asarray(grads[e, b]), state, params, **extra)
            params = optax.apply_updates(params, u)
    # the decision for the last epoch's metric is made at the next update: make it with no update
    _, last = L.reduce_lr_on_plateau(0.1, **kw).update(jnp.zeros(3), state[1], value=val[-1])
    assert len({g["lr"] for g in opt.param_groups}) == 1
    assert float(last.lr) == opt.param_groups[0]["lr"] < 0.1
    assert int(last.num_bad_epochs) == sched.num_bad_epochs and float(last.best) == sched.best
    np.testing.assert_allclose(np.asarray(params), p.detach().numpy(), rtol=1e-12, atol=1e-15)


def test_no_value_no_decision_and_scaling():
    tx = L.reduce_lr_on_plateau(0.2, patience=0, factor=0.5)
    state = tx.init(None)
    u, state = tx.update(jnp.ones(2), state)
    assert float(state.lr) == 0.2 and int(state.last_epoch) == 0
    u, state = tx.update(jnp.ones(2), state, value=1.0)  # first metric: an improvement over inf
    u, state = tx.update(jnp.ones(2), state, value=1.0)  # no improvement: num_bad 1 > patience 0
    assert float(state.lr) == 0.1 and int(state.last_epoch) == 2
    np.testing.assert_array_equal(np.asarray(u), [0.5, 0.5])


@pytest.mark.parametrize("kw, match", [
    ({"factor": 1.0}, "Factor should be < 1.0"),
    ({"mode": "avg"}, "mode avg is unknown"),
    ({"threshold_mode": "pct"}, "threshold mode pct is unknown"),
    ({"patience": -1}, "patience"),
])
def test_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        L.reduce_lr_on_plateau(0.1, **kw)


def test_value_must_be_scalar():
    tx = L.reduce_lr_on_plateau(0.1)
    with pytest.raises(ValueError, match="scalar"):
        tx.update(jnp.ones(2), tx.init(None), value=jnp.ones(2))
