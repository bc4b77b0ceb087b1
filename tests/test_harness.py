"""The parity harness must detect mismatches (a harness that cannot fail proves nothing)."""

import jax.numpy as jnp
import numpy as np
import pytest

import jloss.functional as F
from jloss import parity
from jloss.parity import Case, rel_error


def _cases():
    r = np.random.default_rng(0)
    x, y = r.standard_normal((3, 4)), r.standard_normal((3, 4))
    return [Case("a", (x, y), {"reduction": "sum"}, grad=(0, 1), dtype=dt) for dt in ("float64", "float32")]


def test_equal_functions_pass():
    import torch

    rep = parity.compare(F.mse_loss, torch.nn.functional.mse_loss, _cases())
    assert rep.passed, str(rep)
    assert rep.worst("float64") <= 1e-12


def test_wrong_value_is_caught():
    import torch

    rep = parity.compare(lambda x, y, **k: F.mse_loss(x, y, **k) * (1 + 1e-8), torch.nn.functional.mse_loss, _cases())
    assert not rep.passed
    assert rep.results[0].value_err > 1e-10  # f64 case fails


def test_wrong_gradient_is_caught():
    import jax
    import torch

    @jax.custom_vjp
    def sq(d):
        return d * d

    sq.defvjp(lambda d: (d * d, d), lambda d, g: (g * d,))  # half the true gradient

    def bad_mse(x, y, reduction="mean"):
        return jnp.sum(sq(x - y))

    rep = parity.compare(bad_mse, torch.nn.functional.mse_loss, _cases())
    assert not rep.passed
    assert all(r.value_err <= r.tol for r in rep.results)
    assert all(r.grad_err > 0.1 for r in rep.results)


def test_dtype_leak_is_caught():
    import torch

    rep = parity.compare(lambda x, y, **k: F.mse_loss(x, y, **k).astype(jnp.float64), torch.nn.functional.mse_loss, _cases())
    f32 = [r for r in rep.results if r.dtype == "float32"]
    assert not f32[0].passed and "dtype" in f32[0].message


def test_both_raise_passes_and_one_sided_raise_fails():
    import torch

    bad = Case("bad", (np.zeros((2, 3)), np.zeros((4, 5))), {}, grad=(0,))
    assert parity.compare(F.mse_loss, torch.nn.functional.mse_loss, [bad]).passed
    rep = parity.compare(lambda x, y: jnp.sum(x), torch.nn.functional.mse_loss, [bad])
    assert not rep.passed


def test_a_raising_value_or_gradient_is_named():
    """Values and gradients are compiled as one program; when it fails the report still says which
    of the two raised."""
    import jax
    import torch

    case = Case("c", (np.ones((2, 3)), np.zeros((2, 3))), {}, grad=(0,))

    def bad_value(x, y):
        raise ValueError("no value")

    @jax.custom_vjp
    def ok_value_bad_grad(x, y):
        return jnp.sum((x - y) ** 2) / x.size

    def fwd(x, y):
        return ok_value_bad_grad(x, y), None

    def bwd(res, g):
        raise ValueError("no gradient")

    ok_value_bad_grad.defvjp(fwd, bwd)
    for jit in (True, False):
        r = parity.compare(bad_value, torch.nn.functional.mse_loss, [case], jit=jit).results[0]
        assert not r.passed and r.message.startswith("jloss raised") and "no value" in r.message
        r = parity.compare(ok_value_bad_grad, torch.nn.functional.mse_loss, [case], jit=jit).results[0]
        assert not r.passed and r.value_err < 1e-12 and "jloss grad raised" in r.message


def test_one_compilation_per_case(caplog):
    """The suite's cost is XLA compile time: a case compiles its values and gradients as one program
    (not the value, then the gradient of the jitted value, apart)."""
    import logging

    import jax
    import torch

    r = np.random.default_rng(0)
    cases = [Case(f"once{n}", (r.standard_normal((3, n)), r.standard_normal((3, n))), {"reduction": "sum"},
                  grad=(0, 1)) for n in (5, 6, 7)]
    with jax.log_compiles(True), caplog.at_level(logging.WARNING):
        assert parity.compare(F.smooth_l1_loss, torch.nn.functional.smooth_l1_loss, cases).passed
    programs = [m.split(" with ")[0].removeprefix("Compiling ") for m in caplog.messages if m.startswith("Compiling ")]
    assert programs.count("jit(both)") == 3, programs
    assert not {"jit(f)", "jit(grads)", "jit(scalar)"} & set(programs), programs


@pytest.mark.parametrize(
    "a,b,expected",
    [
        (1.0, 1.0, 0.0),
        (1.0 + 1e-6, 1.0, 1e-6),
        (np.inf, np.inf, 0.0),
        (np.nan, np.nan, 0.0),
        (np.nan, 1.0, np.inf),
        (-np.inf, np.inf, np.inf),
    ],
)
def test_rel_error(a, b, expected):
    assert rel_error(np.array([a]), np.array([b])) == pytest.approx(expected, rel=1e-6)


def test_rel_error_near_zero_is_absolute_on_the_array_scale():
    # |b| tiny: compared at atol on max(1, max|b|) scale
    assert rel_error(np.array([1e-13, 1.0]), np.array([0.0, 1.0])) <= 1e-10
    assert rel_error(np.array([1e-9, 1.0]), np.array([0.0, 1.0])) > 1e-10
    assert rel_error(np.zeros((2,)), np.zeros((3,))) == np.inf


def test_float64_cases_need_x64():
    import jax
    import torch

    with jax.enable_x64(False):
        with pytest.raises(RuntimeError, match="x64"):
            parity.compare(F.mse_loss, torch.nn.functional.mse_loss, _cases())


def test_registry_names_are_unique_and_have_cases():
    comps = parity.components()
    names = [c.name for c in comps]
    assert len(names) == len(set(names))
    assert parity.get(names[0]).name == names[0]
    with pytest.raises(KeyError):
        parity.get("no.such.component")


def test_show_prints_both_and_asserts_agreement(capsys):
    import torch  # noqa: PLC0415

    from jloss.parity import show, to_torch

    t = to_torch(np.array([1, 2], dtype=np.int32))
    assert t.dtype == torch.int64  # torch's index dtype
    a = np.array([0.5, 1.5], dtype=np.float32)
    ta = to_torch(a)
    a[0] = 9.0  # a copy, not a view of the array
    assert float(ta[0]) == 0.5
    show("same", np.array([0.5, 1.5]), ta)
    assert "torch" in capsys.readouterr().out
    show("alone", np.array([1.0]))
    out = capsys.readouterr().out
    assert "alone" in out and "torch" not in out
    with pytest.raises(AssertionError):
        show("differs", np.array([0.5, 1.6]), ta)
