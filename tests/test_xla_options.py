"""jloss.compiler_options(): accepted by jax.jit here; it changes no optimizer step's value and a
conv net's gradient only in float rounding; jloss's steps that carry it also run nested.

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
        assert opts == {"xla_cpu_copy_insertion_use_region_analysis": True,
                        "xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_REDUCE"}
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


def test_conv_net_step_under_the_options_is_the_plain_jits_up_to_rounding():
    """The Eigen convolutions the options select give the YNN ones' numbers to float32 rounding:
    CIFAR10Net's loss gradient (forward, cross entropy, backward) both ways."""
    from flax import nnx

    from jloss import models
    from jloss.nn import CrossEntropyLoss
    from jloss.train import split_model

    r = np.random.default_rng(1)
    x = jnp.asarray(r.standard_normal((4, 32, 32, 3), dtype=np.float32))
    y = jnp.asarray(r.integers(0, 10, 4).astype(np.int32))
    sm = split_model(models.CIFAR10Net(rngs=nnx.Rngs(0)))
    grads = []
    for opts in ({}, jloss.compiler_options()):
        g = jax.jit(jax.grad(lambda p: CrossEntropyLoss()(sm.apply_train(p, x), y)), compiler_options=opts)
        grads.append(jax.tree.leaves(g(sm.params)))
    for a, b in zip(*grads, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-4, atol=1e-6)


def test_train_step_also_runs_inside_a_callers_jit_and_grad():
    """make_train_step's step carries compiler options, which JAX accepts on a top-level jit only:
    called inside a caller's jax.jit (traced or closed-over arguments) or lax.scan it runs as a
    plain jit, with the same numbers as at the top level."""
    from flax import nnx

    from jloss import models
    from jloss.nn import CrossEntropyLoss
    from jloss.train import make_eval_step, make_train_step, optax_update, split_model

    r = np.random.default_rng(2)
    x = jnp.asarray(r.standard_normal((4, 32, 32, 1), dtype=np.float32))
    y = jnp.asarray(r.integers(0, 10, 4).astype(np.int32))
    sm = split_model(models.Net(rngs=nnx.Rngs(0)))
    tx = optim.sgd(lr=0.1, momentum=0.9)
    step = make_train_step(sm.apply_train, CrossEntropyLoss(), optax_update(tx))
    evaluate = make_eval_step(sm.apply_eval, CrossEntropyLoss())

    def fresh():
        p = jax.tree.map(lambda a: jnp.array(a, copy=True), sm.params)
        return p, tx.init(p)

    p, s = fresh()
    for _ in range(3):
        p, s, _ = step(p, s, x, y)
    top = jax.tree.leaves(p)

    def three(p, s):
        (p, s), _ = jax.lax.scan(lambda c, _: (step(*c, x, y)[:2], None), (p, s), None, length=3)
        return p

    nested = jax.tree.leaves(jax.jit(three)(*fresh()))
    closed = jax.tree.leaves(jax.jit(lambda: step(*fresh(), x, y)[0])())
    for a, b in zip(top, nested, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    assert len(closed) == len(top)
    m_top = evaluate(p, x, y)
    m_nested = jax.jit(lambda p: evaluate(p, x, y))(p)
    np.testing.assert_allclose(np.asarray(m_top.loss_sum), np.asarray(m_nested.loss_sum), rtol=1e-5)
    assert hasattr(step, "lower")
