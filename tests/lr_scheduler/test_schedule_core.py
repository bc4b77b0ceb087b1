"""_core.py: per_update and schedule_hyperparams put the schedules into jloss.optim / optax
transforms with torch's timing (scheduler.step() per epoch / per batch); IEEE division under jit."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

from jloss import optim
from jloss.optim import lr_scheduler as L
from jloss.optim.lr_scheduler._core import JNP

EPOCHS, BATCHES = 6, 4


def _torch_run(make_opt, make_sched, grads, per_batch):
    p = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    opt = make_opt([p])
    sched = make_sched(opt)
    for e in range(EPOCHS):
        for b in range(BATCHES):
            p.grad = torch.tensor(grads[e * BATCHES + b])
            opt.step()
            if per_batch:
                sched.step()
        if not per_batch:
            sched.step()
    return p.detach().numpy()


def _jax_run(tx, grads):
    params = jnp.zeros(3)
    state = tx.init(params)
    step = jax.jit(lambda g, s, p: tx.update(g, s, p))
    for g in grads:
        u, state = step(jnp.asarray(g), state, params)
        params = optax.apply_updates(params, u)
    return np.asarray(params)


def test_per_update_drives_an_optimizer_per_epoch_like_torch():
    grads = np.random.default_rng(0).standard_normal((EPOCHS * BATCHES, 3))
    ref = _torch_run(lambda p: torch.optim.Adam(p, lr=0.01), lambda o: torch.optim.lr_scheduler.StepLR(o, 2, 0.5),
                     grads, per_batch=False)
    got = _jax_run(optim.adam(lr=L.per_update(L.step_lr(0.01, 2, 0.5), BATCHES)), grads)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_one_cycle_momentum_cycle_through_schedule_hyperparams(kind):
    """OneCycleLR stepped per batch cycles SGD's momentum / Adam's beta1; the schedule's .momentum
    reaches the injected hyperparameter with the same timing."""
    grads = np.random.default_rng(1).standard_normal((EPOCHS * BATCHES, 3))
    n = EPOCHS * BATCHES
    if kind == "sgd":
        make = lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)  # noqa: E731
        sched = L.one_cycle_lr(0.5, total_steps=n)
        tx = L.schedule_hyperparams(optim.sgd(lr=sched, momentum=0.9), momentum=sched.momentum)
        ref = _torch_run(make, lambda o: torch.optim.lr_scheduler.OneCycleLR(o, 0.5, total_steps=n), grads, True)
    else:
        make = lambda p: torch.optim.Adam(p, lr=0.1)  # noqa: E731
        sched = L.one_cycle_lr(0.05, total_steps=n, anneal_strategy="linear")
        tx = L.schedule_hyperparams(optim.adam(lr=sched), beta1=sched.momentum)
        ref = _torch_run(make, lambda o: torch.optim.lr_scheduler.OneCycleLR(o, 0.05, total_steps=n,
                                                                               anneal_strategy="linear"), grads, True)
    np.testing.assert_allclose(_jax_run(tx, grads), ref, rtol=1e-10, atol=1e-14)


def test_momentum_schedule_with_plain_optax_inject_hyperparams():
    sched = L.cyclic_lr(0.01, 0.1, step_size_up=3)
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=sched, momentum=sched.momentum)
    state = tx.init(jnp.zeros(2))
    for k in range(7):
        _, state = tx.update(jnp.ones(2), state)
        assert float(state.hyperparams["momentum"]) == pytest.approx(float(sched.momentum(k)), rel=1e-6)
        assert float(state.hyperparams["learning_rate"]) == pytest.approx(float(sched(k)), rel=1e-6)


def test_schedule_hyperparams_and_per_update_errors():
    with pytest.raises(ValueError, match="not among the injected hyperparameters"):
        L.schedule_hyperparams(optim.adam(), momentum=lambda k: 0.9).init(jnp.zeros(2))
    with pytest.raises(TypeError, match="must be a schedule"):
        L.schedule_hyperparams(optim.sgd(), momentum=0.9)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        L.per_update(L.step_lr(0.1, 2), 0)


def test_per_update_fractional_and_momentum():
    s = L.per_update(L.cyclic_lr(0.01, 0.1, 2), 10)
    assert float(s(25)) == float(L.cyclic_lr(0.01, 0.1, 2)(2))
    assert float(s.momentum(25)) == float(L.cyclic_lr(0.01, 0.1, 2).momentum(2))
    w = L.per_update(L.cosine_annealing_warm_restarts(0.1, 3), 4, fractional=True)
    assert float(w(5)) == float(L.cosine_annealing_warm_restarts(0.1, 3)(1.25))


def test_division_is_ieee_under_jit():
    """XLA turns k / 5 into k * 0.2 under jit (5 * 0.2 = 1 + 2**-52); the schedules must not."""
    ks = jnp.arange(8.0)
    got = jax.jit(jax.vmap(lambda k: 1.0 - JNP.div(k, 5.0)))(ks)
    np.testing.assert_array_equal(np.asarray(got), 1.0 - np.arange(8.0) / 5.0)
    assert float(jax.jit(L.polynomial_lr(0.1, 5, 0.5))(5)) == 0.0
