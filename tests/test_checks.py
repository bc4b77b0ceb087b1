"""Argument checks: named errors eagerly, value checks on concrete inputs and through jloss.checked."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jloss
from jloss import _checks as C


def _needs_positive(x):
    x = C.float_array("needs_positive", "x", x)
    C.check_values("needs_positive", lambda: x > 0, "x must be positive", x)
    return jnp.sum(jnp.log(x))


def test_value_check_on_concrete_input():
    assert float(_needs_positive(jnp.ones(3))) == 0.0
    with pytest.raises(ValueError, match="needs_positive: x must be positive"):
        _needs_positive(jnp.array([1.0, -1.0]))


def test_value_check_is_skipped_under_plain_jit():
    out = jax.jit(_needs_positive)(jnp.array([1.0, -1.0]))
    assert np.isnan(float(out))


def test_value_check_through_checked():
    f = jloss.checked(_needs_positive)
    assert float(f(jnp.ones(3))) == 0.0
    with pytest.raises(ValueError, match="needs_positive: x must be positive"):
        f(jnp.array([1.0, -1.0]))


def test_checked_passes_static_arguments_through():
    def g(x, *, scale, mode="a"):
        assert isinstance(scale, float) and mode == "b"
        return _needs_positive(x) * scale

    assert float(jloss.checked(g)(jnp.full(2, np.e), scale=2.0, mode="b")) == pytest.approx(4.0)


def test_type_errors_name_the_argument():
    with pytest.raises(TypeError, match="f: x must have a floating dtype, got int"):
        C.float_array("f", "x", np.arange(3))
    with pytest.raises(TypeError, match="f: t must have an integer dtype"):
        C.int_array("f", "t", np.ones(3))
    with pytest.raises(TypeError, match="f: x must be an array, got None"):
        C.float_array("f", "x", None)
    with pytest.raises(TypeError, match="f: x must be an array, got str"):
        C.any_array("f", "x", "abc")


def test_shape_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"f: target must have the same shape as input \(2, 3\), got \(3,\)"):
        C.same_shape("f", "input", jnp.zeros((2, 3)), "target", jnp.zeros(3))
    with pytest.raises(ValueError, match="does not broadcast"):
        C.broadcastable("f", "input", (2, 3), "target", (4,))
    with pytest.raises(ValueError, match=r"f: input must be 2 or 3-dimensional, got shape \(1,\)"):
        C.ndim_in("f", "input", jnp.zeros(1), (2, 3))
    with pytest.raises(ValueError, match="f: mode must be one of 'a', 'b', got 'c'"):
        C.option_in("f", "mode", "c", ("a", "b"))


def test_compute_dtype_raises_low_precision_to_float32():
    assert C.compute_dtype(jnp.zeros(2, jnp.bfloat16)) == jnp.float32
    assert C.compute_dtype(jnp.zeros(2, jnp.float16), jnp.zeros(2, jnp.bfloat16)) == jnp.float32
    assert C.compute_dtype(jnp.zeros(2, jnp.float32)) == jnp.float32
    assert C.compute_dtype(jnp.zeros(2, jnp.float64)) == jnp.float64
