"""jloss.compiler_options(): accepted by jax.jit here, and it changes no computed value.

(What it buys is measured by ``jloss bench --only adadelta rprop``, not timed here.)
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jloss
from jloss import optim


def test_options_are_a_dict_for_this_backend():
    opts = jloss.compiler_options()
    assert isinstance(opts, dict)
    if jax.default_backend() == "cpu":
        assert opts == {"xla_cpu_copy_insertion_use_region_analysis": True}
    else:
        assert opts == {}
    opts["mutated"] = True  # a fresh dict each call
    assert "mutated" not in jloss.compiler_options()


@pytest.mark.parametrize("name", ["adadelta", "rprop", "adam"])
def test_donated_step_is_bitwise_the_plain_jit(name):
    tx = getattr(optim, name)()
    r = np.random.default_rng(0)
    shapes = [(64, 33), (17,)]
    p0 = [r.standard_normal(s, dtype=np.float32) for s in shapes]
    gs = [[jnp.asarray(r.standard_normal(s, dtype=np.float32)) for s in shapes] for _ in range(4)]

    def step(params, state, grads):
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    results = []
    for opts in ({}, jloss.compiler_options()):
        jstep = jax.jit(step, donate_argnums=(0, 1), compiler_options=opts)
        params = [jnp.array(p, copy=True) for p in p0]
        state = tx.init(params)
        for g in gs:
            params, state = jstep(params, state, g)
        results.append(jax.tree.leaves((params, state)))
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
