"""Shared optimizer-test helpers: the same gradients through torch.optim and a jloss transform.

Every expected number comes from torch at test time.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

SHAPES = {"b": (3,), "w": (2, 3)}


def problem(steps: int, seed: int = 0):
    """Initial float64 params and ``steps`` gradient dicts (sorted keys, as jax orders them)."""
    r = np.random.default_rng(seed)
    p0 = {k: r.standard_normal(s) for k, s in sorted(SHAPES.items())}
    grads = [{k: r.standard_normal(s) for k, s in sorted(SHAPES.items())} for _ in range(steps)]
    return p0, grads


def torch_run(torch_cls, kwargs, p0, grads, lrs=None):
    """torch's params after each step and its final per-parameter state (numpy).

    With ``lrs``, ``param_groups[0]["lr"]`` is set to ``lrs[i]`` before step ``i``."""
    names = sorted(p0)
    ts = [torch.tensor(p0[k], requires_grad=True) for k in names]
    opt = torch_cls(ts, **kwargs)
    traj = []
    for i, g in enumerate(grads):
        if lrs is not None:
            opt.param_groups[0]["lr"] = float(lrs[i])
        for t, k in zip(ts, names, strict=True):
            t.grad = torch.tensor(g[k])
        opt.step()
        traj.append({k: t.detach().numpy().copy() for k, t in zip(names, ts, strict=True)})
    state = {k: {sk: np.asarray(v) for sk, v in opt.state[t].items()} for k, t in zip(names, ts, strict=True)}
    return traj, state


def set_hyper(state, name, value):
    """``state.hyperparams[name] = value`` on an ``inject_hyperparams`` state, keeping the dtype."""
    old = state.hyperparams[name]
    return state._replace(hyperparams={**state.hyperparams, name: jnp.asarray(value, old.dtype)})


def jax_run(tx, p0, grads, lrs=None):
    """The jitted jloss trajectory; with ``lrs``, ``state.hyperparams["lr"]`` is set before each step.

    Asserts the step compiled once (changing a hyperparameter does not recompile)."""
    params = {k: jnp.asarray(v) for k, v in p0.items()}
    state = tx.init(params)

    @jax.jit
    def step(params, state, g):
        updates, state = tx.update(g, state, params)
        return optax.apply_updates(params, updates), state

    traj = []
    for i, g in enumerate(grads):
        if lrs is not None:
            state = set_hyper(state, "lr", lrs[i])
        params, state = step(params, state, {k: jnp.asarray(v) for k, v in g.items()})
        traj.append({k: np.asarray(v) for k, v in params.items()})
    assert step._cache_size() == 1
    return traj, state


def assert_traj(ours, theirs, tol=1e-12):
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        for k in b:
            np.testing.assert_allclose(a[k], b[k], rtol=tol, atol=tol, err_msg=f"step {i + 1}, param {k}")


def check_matches_torch(fn, torch_cls, kwargs, state_keys, steps=10, torch_kwargs=None, tol=1e-12):
    """Trajectory and the final torch state entries (``state_keys``, by torch's names) agree."""
    p0, grads = problem(steps)
    tt, tstate = torch_run(torch_cls, kwargs if torch_kwargs is None else torch_kwargs, p0, grads)
    jt, jstate = jax_run(fn(**kwargs), p0, grads)
    assert_traj(jt, tt, tol)
    inner = jstate.inner_state
    for key in state_keys:
        ours = getattr(inner, key)
        for name in p0:
            theirs = tstate[name].get(key)
            if ours is None:
                assert theirs is None, f"torch has state[{key!r}], jloss has None"
                continue
            assert theirs is not None, f"jloss has {key!r}, torch's state has no such entry"
            val = ours[name] if isinstance(ours, dict) else ours  # a scalar entry is shared by all params
            np.testing.assert_allclose(np.asarray(val, np.float64), theirs, rtol=tol, atol=1e-15, err_msg=key)


def check_bad_args(fn, torch_cls, kwargs):
    """torch's constructor raises ValueError for ``kwargs``, and so does ours, naming itself."""
    with pytest.raises(ValueError):
        torch_cls([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError, match=f"^{fn.__name__}: Invalid"):
        fn(**kwargs)


def check_schedule(fn, torch_cls, kwargs, lr0=0.05, steps=8):
    """``lr`` as an optax schedule == torch with ``param_groups[0]["lr"]`` set before each step."""
    sched = lambda k: lr0 * 0.7**k  # noqa: E731
    lrs = [lr0 * 0.7**k for k in range(steps)]
    p0, grads = problem(steps, seed=1)
    tt, _ = torch_run(torch_cls, {**kwargs, "lr": lrs[0]}, p0, grads, lrs=lrs)
    jt, _ = jax_run(fn(**{**kwargs, "lr": sched}), p0, grads)
    assert_traj(jt, tt)


def check_chain_clip(fn, torch_cls, kwargs, steps=6, max_norm=1.0):
    """``optax.chain(optax.clip_by_global_norm(c), opt)`` == torch fed the clipped gradients."""
    p0, grads = problem(steps, seed=2)
    clipped = []
    for g in grads:
        norm = np.sqrt(sum(np.sum(v * v) for v in g.values()))
        assert norm > max_norm  # the clipping is active
        clipped.append({k: v / norm * max_norm for k, v in g.items()})
    tt, _ = torch_run(torch_cls, kwargs, p0, clipped)
    tx = optax.chain(optax.clip_by_global_norm(max_norm), fn(**kwargs))
    params = {k: jnp.asarray(v) for k, v in p0.items()}
    state = tx.init(params)
    jt = []
    for g in grads:
        updates, state = tx.update({k: jnp.asarray(v) for k, v in g.items()}, state, params)
        params = optax.apply_updates(params, updates)
        jt.append({k: np.asarray(v) for k, v in params.items()})
    assert_traj(jt, tt)


def check_hyperparams(fn, torch_cls, kwargs, names, steps=6, lr_matters=True):
    """The injected hyperparameters are ``names``; setting ``state.hyperparams["lr"]`` between steps
    acts like torch's ``param_groups[0]["lr"]`` (and, if ``lr_matters``, changes the trajectory)."""
    tx = fn(**kwargs)
    state = tx.init({"x": jnp.zeros(2)})
    assert set(state.hyperparams) == set(names)
    assert all(jnp.asarray(v).dtype == jnp.float64 for v in state.hyperparams.values())
    lr0 = float(state.hyperparams["lr"])
    lrs = [lr0 * f for f in (1.0, 3.0, 0.5, 2.0, 0.25, 1.5)[:steps]]
    p0, grads = problem(steps, seed=3)
    tt, _ = torch_run(torch_cls, kwargs, p0, grads, lrs=lrs)
    jt, _ = jax_run(tx, p0, grads, lrs=lrs)
    assert_traj(jt, tt)
    if lr_matters:
        plain, _ = jax_run(tx, p0, grads)
        assert not np.allclose(plain[-1]["w"], jt[-1]["w"])


def check_signature(fn, torch_cls):
    """torch's constructor arguments, defaults and kinds, minus ``params`` and the device switches."""
    import inspect  # noqa: PLC0415

    skip = {"self", "params", "foreach", "fused", "capturable", "differentiable"}
    theirs = [p for p in inspect.signature(torch_cls.__init__).parameters.values() if p.name not in skip]
    ours = list(inspect.signature(fn).parameters.values())
    assert [(p.name, p.kind, p.default) for p in ours] == [(p.name, p.kind, p.default) for p in theirs]
