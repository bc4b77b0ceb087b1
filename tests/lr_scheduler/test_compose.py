"""_compose.py: SequentialLR / ChainedScheduler schedule functions: what they refuse."""

import jax.numpy as jnp
import numpy as np
import pytest

from jloss.optim import lr_scheduler as L


def test_sequential_accepts_plain_optax_schedules():
    s = L.sequential_lr(0.1, [L.linear_lr(0.1, 0.5, 1.0, 4), lambda k: 0.05 * jnp.ones_like(k, jnp.float64)], [6])
    lrs = np.asarray(s(jnp.arange(9)))
    np.testing.assert_allclose(lrs[:6], np.asarray(L.linear_lr(0.1, 0.5, 1.0, 4)(jnp.arange(6))), rtol=1e-15)
    np.testing.assert_allclose(lrs[6:], 0.05)


@pytest.mark.parametrize("bad, exc, match", [
    (lambda: L.sequential_lr(0.1, [L.step_lr(0.1, 2), L.step_lr(0.1, 3)], []), ValueError, "one more than"),
    (lambda: L.sequential_lr(0.1, [L.step_lr(0.1, 2)] * 3, [5, 5]), ValueError, "strictly increasing"),
    (lambda: L.sequential_lr(0.1, [L.step_lr(0.1, 2)] * 2, [0]), ValueError, "positive"),
    (lambda: L.sequential_lr(0.1, [L.step_lr(0.1, 2), L.step_lr(0.2, 2)], [3]), ValueError, "share its lr"),
    (lambda: L.sequential_lr(0.1, [], []), ValueError, "at least one"),
    (lambda: L.chained_scheduler(0.1, [L.step_lr(0.1, 2), L.cosine_annealing_lr(0.1, 5)]), ValueError, "not chainable"),
    (lambda: L.chained_scheduler(0.1, [lambda k: 0.1]), TypeError, "jloss.optim.lr_scheduler schedule"),
    (lambda: L.chained_scheduler(0.1, []), ValueError, "at least one"),
])
def test_bad_arguments(bad, exc, match):
    with pytest.raises(exc, match=match):
        bad()
