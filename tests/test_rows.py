"""jloss._rows.map_rows: a row-wise function computed block by block gives the whole-batch result
(up to the rounding of reductions, whose order may depend on the block's shape)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jloss._rows import map_rows

RNG = np.random.default_rng(3)


def _fn(x, t):
    # a pytree of row-aligned outputs of two ranks and dtypes
    return {"sum": jnp.sum(x * x, axis=1), "scaled": x * t[:, None], "arg": jnp.argmax(x, axis=1)}


@pytest.mark.parametrize("n, rows", [(10, 3), (10, 5), (10, 1), (10, 10), (10, 64), (1, 4)])
def test_same_as_whole_batch(n, rows):
    x, t = jnp.asarray(RNG.standard_normal((n, 4))), jnp.asarray(RNG.standard_normal(n))
    want, got = _fn(x, t), map_rows(_fn, rows, x, t)
    for k in want:
        assert got[k].dtype == want[k].dtype and got[k].shape == want[k].shape
    # a row sum's rounding may depend on the block's shape (XLA's vectorization of the reduction)
    np.testing.assert_allclose(got["sum"], want["sum"], rtol=1e-15)
    np.testing.assert_array_equal(got["scaled"], want["scaled"])
    np.testing.assert_array_equal(got["arg"], want["arg"])


def test_jit_grad_vmap():
    x, t = jnp.asarray(RNG.standard_normal((7, 3))), jnp.asarray(RNG.standard_normal(7))

    def loss(x, rows):
        return jnp.sum(map_rows(lambda a, b: jnp.sum(jnp.sin(a) * b[:, None], axis=1), rows, x, t))

    want = jax.grad(loss)(x, 7)
    np.testing.assert_allclose(jax.jit(jax.grad(loss), static_argnums=1)(x, 2), want, rtol=1e-12)
    xs = jnp.stack([x, 2 * x])
    got = jax.vmap(lambda a: map_rows(lambda u, v: u * v[:, None], 3, a, t))(xs)
    np.testing.assert_allclose(got, xs * t[None, :, None], rtol=1e-15)


def test_rows_must_agree():
    with pytest.raises(ValueError, match="every array needs 4 rows"):
        map_rows(lambda a, b: a, 2, jnp.zeros((4, 2)), jnp.zeros(3))
