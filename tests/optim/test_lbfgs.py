"""jloss.optim.lbfgs against torch.optim.LBFGS (expected values from torch at test time)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from _helpers import check_bad_args, check_signature, set_hyper
from torch.optim import lbfgs as torch_lbfgs

from jloss.optim import _lbfgs as L
from jloss.optim._lbfgs import TORCH_STATE_KEYS, lbfgs

T = torch.optim.LBFGS


def test_signature_matches_torch():
    check_signature(lbfgs, T)


def test_bad_arguments():
    check_bad_args(lbfgs, T, {"lr": -1.0})
    # torch fails later on these (RuntimeError / IndexError inside step); jloss refuses them up front
    for kwargs in ({"line_search_fn": "backtracking"}, {"history_size": 0}, {"max_iter": 2.5}, {"max_eval": 3.0}):
        with pytest.raises(ValueError, match="^lbfgs: Invalid"):
            lbfgs(**kwargs)


def test_update_needs_value_fn():
    tx = lbfgs()
    params = {"x": jnp.ones(3)}
    with pytest.raises(ValueError, match="^lbfgs: .*value_fn"):
        tx.update(params, tx.init(params), params)


def test_cubic_interpolate_matches_torch():
    r = np.random.default_rng(0)
    A = L._Arith(jnp.float64)
    branches = set()
    for _ in range(200):
        x1, x2, f1, f2 = r.standard_normal(4)
        g1, g2 = 3 * r.standard_normal(2)
        bounds = tuple(sorted(r.standard_normal(2))) if r.random() < 0.5 else None
        expected = torch_lbfgs._cubic_interpolate(x1, f1, torch.tensor(g1), x2, f2, torch.tensor(g2), bounds=bounds)
        ours = L._cubic_interpolate(A, A.py(x1), f1, jnp.float64(g1), A.py(x2), f2, jnp.float64(g2),
                                    None if bounds is None else (A.py(bounds[0]), A.py(bounds[1])))
        np.testing.assert_allclose(float(ours.v), float(expected), rtol=1e-12, atol=1e-14)
        d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
        branches.add((d1 * d1 - g1 * g2 >= 0, x1 <= x2))
    assert len(branches) == 4


def _ripples(x, coef, lib):
    a, b, c = coef
    return lib.sum(a * lib.sin(b * x) + c * x * x)


@jax.jit
def _jax_strong_wolfe(x, t0, d, f, g, gtd, coef, c2, tolerance_change, max_ls):
    A = L._Arith(jnp.float64)
    vg = jax.value_and_grad(lambda v: _ripples(v, coef, jnp))
    f_new, g_new, t, evals = L._strong_wolfe(A, vg, x, A.py(t0), d, f, g, gtd, tolerance_change, max_ls, c2=c2)
    return f_new, g_new, t.v, evals


# (c2, tolerance_change, max_ls): torch's LBFGS uses c2=0.9; tighter ones force long zoom phases
# (insufficient progress, the bracket-width stop), max_ls=3 the extrapolation limit.
LS_CONFIGS = [(0.9, 1e-9, 25), (0.1, 1e-9, 25), (0.01, 1e-3, 25), (0.1, 1e-9, 3), (0.01, 0.5, 25)]


@pytest.mark.parametrize("seed", range(4))
def test_strong_wolfe_matches_torch(seed):
    r = np.random.default_rng(seed)
    coef = (r.uniform(0.1, 1, 3), r.uniform(1, 8, 3), r.uniform(0.1, 2, 3))
    tcoef = [torch.tensor(v) for v in coef]
    x0 = r.standard_normal(3)

    def obj_func(x, t, d):  # torch's _directional_evaluate: the loss and gradient at x + t d
        xx = x.add(d, alpha=t).requires_grad_(True)
        loss = _ripples(xx, tcoef, torch)
        loss.backward()
        return float(loss.detach()), xx.grad

    xt = torch.tensor(x0, requires_grad=True)
    loss = _ripples(xt, tcoef, torch)
    loss.backward()
    g = xt.grad
    d = -g
    for t0 in (1e-3, 1.0, 10.0):
        for c2, tol, max_ls in LS_CONFIGS:
            f_new, g_new, t, evals = torch_lbfgs._strong_wolfe(
                obj_func, xt.detach(), t0, d, float(loss.detach()), g, g.dot(d), c2=c2, tolerance_change=tol, max_ls=max_ls)
            ours = _jax_strong_wolfe(jnp.asarray(x0), t0, d.numpy(), float(loss.detach()), g.numpy(), float(g.dot(d)),
                                     coef, c2, tol, max_ls)
            msg = f"t0={t0}, c2={c2}, tol={tol}, max_ls={max_ls}"
            assert int(ours[3]) == evals, msg
            np.testing.assert_allclose(float(ours[2]), float(t), rtol=1e-12, err_msg=msg)
            np.testing.assert_allclose(float(ours[0]), f_new, rtol=1e-12, err_msg=msg)
            np.testing.assert_allclose(np.asarray(ours[1]), g_new.numpy(), rtol=1e-12, atol=1e-14, err_msg=msg)
    assert _jax_strong_wolfe._cache_size() == 1


def _rosenbrock(x, lib):
    return lib.sum(10.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


@pytest.mark.parametrize("kwargs", [
    {"line_search_fn": "strong_wolfe", "history_size": 2, "max_iter": 6},
    {"lr": 0.05, "history_size": 3, "max_iter": 7},
])
def test_steps_and_state_match_torch(kwargs):
    """Several step(closure) calls, lr changed between them through ``state.hyperparams`` (torch:
    ``param_groups[0]["lr"]``); parameters, returned loss and every torch state entry agree."""
    p0 = {"a": np.array([-1.2, 1.0, 0.5]), "b": np.array([[0.3, -0.5, 1.1]])}
    lrs = [1.0, 0.5, 1.0, 0.8] if "lr" not in kwargs else [0.05, 0.02, 0.05, 0.03]
    tparams = [torch.tensor(p0[k], requires_grad=True) for k in sorted(p0)]
    topt = T(tparams, **kwargs)

    def closure():
        topt.zero_grad()
        loss = _rosenbrock(torch.cat([p.reshape(-1) for p in tparams]), torch)
        loss.backward()
        return loss

    def value_fn(params):
        return _rosenbrock(jnp.concatenate([params["a"].ravel(), params["b"].ravel()]), jnp)

    tx = lbfgs(**kwargs)

    @jax.jit
    def step(params, state):
        grads = jax.grad(value_fn)(params)
        updates, state = tx.update(grads, state, params, value_fn=value_fn)
        return jax.tree.map(lambda p, u: p + u, params, updates), state

    params = {k: jnp.asarray(v) for k, v in p0.items()}
    state = tx.init(params)
    assert set(state.hyperparams) == {"lr", "max_iter", "max_eval", "tolerance_grad", "tolerance_change"}
    for lr in lrs:
        topt.param_groups[0]["lr"] = lr
        torch_loss = float(topt.step(closure).detach())
        params, state = step(params, set_hyper(state, "lr", lr))
        theirs = np.concatenate([p.detach().numpy().ravel() for p in tparams])
        np.testing.assert_allclose(np.concatenate([params["a"], params["b"].ravel()]), theirs, rtol=1e-12)
        np.testing.assert_allclose(float(state.inner_state.loss), torch_loss, rtol=1e-14)
    assert step._cache_size() == 1

    inner, tstate = state.inner_state, topt.state[tparams[0]]
    n = int(inner.num_old)
    assert n == len(tstate["old_dirs"])
    for key in TORCH_STATE_KEYS:
        theirs = tstate[key]
        if key in ("old_dirs", "old_stps", "ro", "al"):
            ours, theirs = np.asarray(getattr(inner, key))[:n], np.stack([np.asarray(v) for v in theirs[:n]])
        else:
            ours, theirs = np.asarray(getattr(inner, key)), np.asarray(theirs)
        np.testing.assert_allclose(ours, theirs, rtol=1e-11, atol=1e-13, err_msg=key)
