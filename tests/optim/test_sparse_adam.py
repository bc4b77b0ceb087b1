"""jloss.optim sparse_adam against torch.optim.SparseAdam fed torch sparse gradients
(``sparse_coo_tensor`` of the touched rows); jloss gets the dense equivalent."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from _helpers_adaptive import assert_state, assert_traj, check_signature, set_hyper

from jloss.optim._sparse_adam import TORCH_STATE_KEYS, sparse_adam, touched_rows

T = torch.optim.SparseAdam
SHAPES = {"emb": (8, 3), "vec": (5,), "table": (4, 2, 2)}


def problem(steps, seed=0, zero_touched=False):
    """params, dense gradients that are zero outside the touched rows, and the touched row masks;
    with ``zero_touched`` row 0 is touched at every step, with an all-zero gradient at odd steps
    (torch still moves it, by its momentum, and decays its moments)."""
    r = np.random.default_rng(seed)
    p0 = {k: r.standard_normal(s) for k, s in sorted(SHAPES.items())}
    grads, masks = [], []
    for i in range(steps):
        g, m = {}, {}
        for k, s in sorted(SHAPES.items()):
            rows = r.random(s[0]) < 0.4
            rows[-1] = False  # the last row is never looked up
            gk = r.standard_normal(s) * rows.reshape((-1,) + (1,) * (len(s) - 1))
            if zero_touched:
                rows[0] = True
                gk[0] = 0.0 if i % 2 else r.standard_normal(s[1:])
            g[k], m[k] = gk, rows
        grads.append(g)
        masks.append(m)
    return p0, grads, masks


def torch_sparse_run(kwargs, p0, grads, masks, lrs=None):
    names = sorted(p0)
    ts = [torch.tensor(p0[k], requires_grad=True) for k in names]
    opt = T(ts, **kwargs)
    traj = []
    for i, (g, m) in enumerate(zip(grads, masks, strict=True)):
        if lrs is not None:
            opt.param_groups[0]["lr"] = float(lrs[i])
        for t, k in zip(ts, names, strict=True):
            idx = np.flatnonzero(m[k])
            t.grad = torch.sparse_coo_tensor(torch.tensor(idx[None]), torch.tensor(g[k][idx]), g[k].shape,
                                             check_invariants=True)
        opt.step()
        traj.append({k: t.detach().numpy().copy() for k, t in zip(names, ts, strict=True)})
    return traj, {k: dict(opt.state[t]) for k, t in zip(names, ts, strict=True)}


def jax_sparse_run(tx, p0, grads, masks=None, lrs=None):
    params = {k: jnp.asarray(v) for k, v in p0.items()}
    state = tx.init(params)

    @jax.jit
    def step(params, state, g, extra):
        updates, state = tx.update(g, state, params, **extra)
        return optax.apply_updates(params, updates), state

    traj = []
    for i, g in enumerate(grads):
        if lrs is not None:
            state = set_hyper(state, "lr", lrs[i])
        extra = {} if masks is None else {"touched": {k: jnp.asarray(v) for k, v in masks[i].items()}}
        params, state = step(params, state, {k: jnp.asarray(v) for k, v in g.items()}, extra)
        traj.append({k: np.asarray(v) for k, v in params.items()})
    assert step._cache_size() == 1
    return traj, state


def test_signature_matches_torch():
    check_signature(sparse_adam, T)


def test_weight_decay_is_refused_like_torch():
    with pytest.raises(TypeError):
        T([torch.zeros(2, requires_grad=True)], weight_decay=0.1)
    with pytest.raises(TypeError):
        sparse_adam(weight_decay=0.1)


@pytest.mark.parametrize("kwargs", [{}, {"lr": 0.01, "betas": (0.3, 0.9), "eps": 1e-3, "maximize": True}])
def test_matches_torch_with_state(kwargs):
    p0, grads, masks = problem(15)
    tt, tstate = torch_sparse_run(kwargs, p0, grads, masks)
    jt, jstate = jax_sparse_run(sparse_adam(**kwargs), p0, grads)  # touched rows found from the gradient
    assert_traj(jt, tt)
    assert_state(jstate.inner_state, tstate, TORCH_STATE_KEYS, sorted(p0))
    # the row nobody looked up kept its parameters and zero moments (plain Adam would not touch
    # them either here, but a touched-then-untouched row keeps its moments undecayed)
    for k in p0:
        np.testing.assert_array_equal(jt[-1][k][-1], p0[k][-1])
        assert not np.any(np.asarray(jstate.inner_state.exp_avg[k])[-1])


def test_untouched_rows_keep_their_moments():
    p0, grads, masks = problem(2)
    for k in grads[1]:
        grads[1][k][:] = 0.0
        masks[1][k][:] = False
    tx = sparse_adam()
    _, s1 = jax_sparse_run(tx, p0, grads[:1])
    _, s2 = jax_sparse_run(tx, p0, grads)
    for k in p0:
        np.testing.assert_array_equal(s2.inner_state.exp_avg[k], s1.inner_state.exp_avg[k])
        np.testing.assert_array_equal(s2.inner_state.exp_avg_sq[k], s1.inner_state.exp_avg_sq[k])


def test_explicit_mask_moves_a_touched_zero_gradient_row():
    p0, grads, masks = problem(10, seed=1, zero_touched=True)
    tt, tstate = torch_sparse_run({}, p0, grads, masks)
    jt, jstate = jax_sparse_run(sparse_adam(), p0, grads, masks)
    assert_traj(jt, tt)
    assert_state(jstate.inner_state, tstate, TORCH_STATE_KEYS, sorted(p0))
    guessed, _ = jax_sparse_run(sparse_adam(), p0, grads)  # row 0 looks untouched from its gradient
    assert not np.allclose(guessed[-1]["emb"][0], tt[-1]["emb"][0])


def test_touched_rows():
    g = jnp.asarray([[0.0, 0.0], [0.0, 1.0], [2.0, 0.0]])
    np.testing.assert_array_equal(touched_rows(g), [False, True, True])
    np.testing.assert_array_equal(touched_rows(jnp.asarray([0.0, 3.0])), [False, True])


def test_mask_shape_is_checked():
    tx = sparse_adam()
    params = {"emb": jnp.zeros((4, 2))}
    with pytest.raises(ValueError, match=r"^sparse_adam: a touched mask must have shape \(4,\)"):
        tx.update(params, tx.init(params), params, touched={"emb": jnp.ones((4, 2), bool)})


@pytest.mark.parametrize("kwargs", [{"lr": 0.0}, {"lr": -0.1}, {"eps": 0.0}, {"betas": (1.0, 0.9)},
                                    {"betas": (0.9, -0.1)}])
def test_bad_arguments_raise_like_torch(kwargs):
    with pytest.raises(ValueError):
        T([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError, match="^sparse_adam: Invalid"):
        sparse_adam(**kwargs)


def test_lr_schedule():
    lrs = [0.05 * 0.7**k for k in range(8)]
    p0, grads, masks = problem(8, seed=2)
    tt, _ = torch_sparse_run({"lr": lrs[0]}, p0, grads, masks, lrs=lrs)
    jt, _ = jax_sparse_run(sparse_adam(lr=lambda k: 0.05 * 0.7**k), p0, grads)
    assert_traj(jt, tt)


def test_chain_with_clipping():
    p0, grads, masks = problem(6, seed=3)
    clipped = []
    for g in grads:
        norm = np.sqrt(sum(np.sum(v * v) for v in g.values()))
        assert norm > 1.0
        clipped.append({k: v / norm for k, v in g.items()})
    tt, _ = torch_sparse_run({"lr": 0.01}, p0, clipped, masks)
    jt, _ = jax_sparse_run(optax.chain(optax.clip_by_global_norm(1.0), sparse_adam(lr=0.01)), p0, grads, masks)
    assert_traj(jt, tt)


def test_injected_hyperparams():
    tx = sparse_adam(lr=0.01)
    p0, grads, masks = problem(6, seed=4)
    state = tx.init({k: jnp.asarray(v) for k, v in p0.items()})
    assert set(state.hyperparams) == {"lr", "beta1", "beta2", "eps"}
    lrs = [0.01 * f for f in (1.0, 3.0, 0.5, 2.0, 0.25, 1.5)]
    tt, _ = torch_sparse_run({"lr": 0.01}, p0, grads, masks, lrs=lrs)
    jt, _ = jax_sparse_run(tx, p0, grads, lrs=lrs)
    assert_traj(jt, tt)
    plain, _ = jax_sparse_run(tx, p0, grads)
    assert not np.allclose(plain[-1]["emb"], jt[-1]["emb"])


def test_float32():
    from jloss.parity import rel_error  # noqa: PLC0415

    p0, grads, masks = problem(20, seed=5)
    f32 = lambda d: {k: v.astype(np.float32) for k, v in d.items()}  # noqa: E731
    tt, _ = torch_sparse_run({"lr": 0.01}, f32(p0), [f32(g) for g in grads], masks)
    jt, _ = jax_sparse_run(sparse_adam(lr=0.01), f32(p0), [f32(g) for g in grads])
    assert jt[-1]["emb"].dtype == np.float32
    errs = [max(rel_error(a[k], b[k], "float32") for k in b) for a, b in zip(jt, tt, strict=True)]
    assert errs[0] <= 1e-6 and max(errs) <= 1e-5, errs
