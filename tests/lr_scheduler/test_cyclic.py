"""_cyclic.py: CyclicLR / OneCycleLR schedules, their bounds and bad arguments (parity: jloss parity)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jloss.optim import lr_scheduler as L


def test_one_cycle_past_total_steps_raises_when_concrete_and_is_nan_when_traced():
    s = L.one_cycle_lr(0.1, total_steps=10)
    assert np.isfinite(float(s(10)))
    with pytest.raises(ValueError, match="Tried to step 11 times. The specified number of total steps is 10"):
        s(11)
    traced = jax.jit(s)(jnp.int32(11))
    assert np.isnan(float(traced))
    assert np.isnan(float(jax.jit(s.momentum)(jnp.int32(12))))


def test_one_cycle_ends_phases_one_step_before_optax():
    """torch's warm-up peaks at step float(pct * T) - 1 (optax's one-cycle at pct * T)."""
    s = L.one_cycle_lr(1.0, total_steps=100, pct_start=0.3)
    lrs = np.asarray(s(jnp.arange(101)))
    assert int(np.argmax(lrs)) == 29 and lrs[29] == 1.0
    assert float(s.momentum(29)) == 0.85 and float(s.momentum(0)) == 0.95


def test_cyclic_triangle_and_inverse_momentum():
    s = L.cyclic_lr(0.1, 1.0, step_size_up=4, step_size_down=2)
    lrs = np.asarray(s(jnp.arange(13)))
    np.testing.assert_allclose(lrs[:7], [0.1, 0.325, 0.55, 0.775, 1.0, 0.55, 0.1], rtol=1e-15)
    np.testing.assert_allclose(lrs[6:13], lrs[:7], rtol=1e-13)  # periodic (to rounding, as torch)
    m = np.asarray(s.momentum(jnp.arange(7)))
    np.testing.assert_allclose(m, [0.9, 0.875, 0.85, 0.825, 0.8, 0.85, 0.9], rtol=1e-15)
    assert L.cyclic_lr(0.1, 1.0, cycle_momentum=False).momentum is None


@pytest.mark.parametrize("bad, exc, match", [
    (lambda: L.cyclic_lr(0.1, 1.0, mode="sawtooth"), ValueError, "mode is invalid"),
    (lambda: L.cyclic_lr(0.1, 1.0, step_size_up=0), ValueError, "step_size_up"),
    (lambda: L.cyclic_lr([0.1, 0.2], 1.0), TypeError, "one schedule per param group"),
    (lambda: L.one_cycle_lr(0.1), ValueError, "total_steps OR"),
    (lambda: L.one_cycle_lr(0.1, total_steps=0), ValueError, "positive integer total_steps"),
    (lambda: L.one_cycle_lr(0.1, epochs=2, steps_per_epoch=0), ValueError, "steps_per_epoch"),
    (lambda: L.one_cycle_lr(0.1, total_steps=10, pct_start=1), ValueError, "pct_start"),
    (lambda: L.one_cycle_lr(0.1, total_steps=10, anneal_strategy="exp"), ValueError, "anneal_strategy"),
])
def test_bad_arguments(bad, exc, match):
    with pytest.raises(exc, match=match):
        bad()
