"""The in-place step: ``jax.jit(step, donate_argnums=(0, 1))`` over params and optimizer state.

Every optimizer's state must be donatable (no buffer appears twice, none is shared with the
hyperparameters or the params) and the donated step must give the numbers of the plain step. Checked
in float32 without x64, where a float32 hyperparameter and a state entry made from it (ASGD's ``eta``)
could be one buffer: a JaxRuntimeError "donate the same buffer twice" at the first donated step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jloss import optim

FACTORIES = {
    "adam": lambda: optim.adam(1e-2, weight_decay=0.1),
    "adamw": lambda: optim.adamw(1e-2, amsgrad=True),
    "sgd": lambda: optim.sgd(1e-2, momentum=0.9, nesterov=True),
    "rmsprop": lambda: optim.rmsprop(1e-2, momentum=0.9, centered=True),
    "adagrad": lambda: optim.adagrad(1e-2, initial_accumulator_value=0.1),
    "adadelta": lambda: optim.adadelta(),
    "adamax": lambda: optim.adamax(),
    "asgd": lambda: optim.asgd(1e-2, t0=1.0),
    "rprop": lambda: optim.rprop(1e-2),
    "nadam": lambda: optim.nadam(1e-2),
    "radam": lambda: optim.radam(1e-2),
    "adafactor": lambda: optim.adafactor(1e-2),
    "muon": lambda: optim.muon(1e-2),
}


def _run(tx, params, grads, donate):
    def step(p, s, g):
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s

    fn = jax.jit(step, donate_argnums=(0, 1) if donate else ())
    p = jax.tree.map(jnp.array, params)  # fresh buffers: the donated ones are consumed
    s = tx.init(p)
    leaves = [x for x in jax.tree.leaves((p, s)) if isinstance(x, jax.Array)]
    ptrs = [x.unsafe_buffer_pointer() for x in leaves]
    assert len(set(ptrs)) == len(ptrs), "a buffer appears twice in (params, state)"
    for g in grads:
        p, s = fn(p, s, g)
    return jax.device_get((p, s))


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_donated_step_matches_plain_step(name):
    with jax.enable_x64(False):
        r = np.random.default_rng(0)
        params = {"w": jnp.asarray(r.standard_normal((4, 3)), jnp.float32),
                  "b": jnp.asarray(r.standard_normal((3, 2)), jnp.float32)}
        grads = [jax.tree.map(lambda x: jnp.asarray(r.standard_normal(x.shape), jnp.float32), params)
                 for _ in range(3)]
        tx = FACTORIES[name]()
        plain = _run(tx, params, grads, donate=False)
        donated = _run(tx, params, grads, donate=True)
    for a, b in zip(jax.tree.leaves(plain), jax.tree.leaves(donated), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
