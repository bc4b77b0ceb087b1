"""Helpers for the NAdam / RAdam / Adafactor / Muon / SparseAdam tests: the same gradients through
torch.optim and a jloss transform, on a parameter layout chosen per optimizer (Muon takes 2-D
parameters only, Adafactor factors the >= 2-D ones, SparseAdam gets torch sparse gradients).

The runners (``torch_run``, ``jax_run``), ``assert_traj`` and ``set_hyper`` are the shared ones
of ``_helpers``. Every expected number comes from torch at test time.
"""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from _helpers import assert_traj, jax_run, set_hyper, torch_run

VECTOR_AND_MATRIX = {"b": (3,), "w": (2, 3)}


def problem(shapes, steps: int, seed: int = 0, scale: float = 1.0):
    """Initial float64 params and ``steps`` gradient dicts (sorted keys, as jax orders them)."""
    r = np.random.default_rng(seed)
    p0 = {k: r.standard_normal(s) for k, s in sorted(shapes.items())}
    grads = [{k: r.standard_normal(s) * scale for k, s in sorted(shapes.items())} for _ in range(steps)]
    return p0, grads


def assert_state(inner, torch_state, keys, names, tol=1e-12):
    """jloss's state fields ``keys`` equal torch's per-parameter entries of the same names; a field
    that is ``None`` for a parameter (or altogether) must be absent from torch's state."""
    for key in keys:
        ours = getattr(inner, key)
        for name in names:
            theirs = torch_state[name].get(key)
            val = ours[name] if isinstance(ours, dict) else ours  # a scalar entry is shared by all params
            if val is None:
                assert theirs is None, f"torch has state[{key!r}] for {name}, jloss has None"
                continue
            assert theirs is not None, f"jloss has {key!r} for {name}, torch's state has no such entry"
            np.testing.assert_allclose(np.asarray(val, np.float64), np.asarray(theirs, np.float64),
                                       rtol=tol, atol=1e-15, err_msg=f"{key}[{name}]")


def check_matches_torch(fn, torch_cls, kwargs, state_keys, shapes=VECTOR_AND_MATRIX, steps=10, tol=1e-12,
                        scale=1.0):
    """float64 trajectory and final state (torch's names) agree with torch's."""
    p0, grads = problem(shapes, steps, scale=scale)
    tt, tstate = torch_run(torch_cls, kwargs, p0, grads)
    jt, jstate = jax_run(fn(**kwargs), p0, grads)
    assert_traj(jt, tt, tol)
    assert_state(jstate.inner_state, tstate, state_keys, sorted(p0), tol)


def check_float32(fn, torch_cls, kwargs, shapes=VECTOR_AND_MATRIX, steps=20, tol=1e-5, scale=1.0):
    """float32 parameters (SPEC.md): the first step within 1e-6 of torch, every step within ``tol``
    (relative, jloss.parity's metric)."""
    from jloss.parity import rel_error  # noqa: PLC0415

    p0, grads = problem(shapes, steps, seed=4, scale=scale)
    f32 = lambda d: {k: v.astype(np.float32) for k, v in d.items()}  # noqa: E731
    tt, _ = torch_run(torch_cls, kwargs, f32(p0), [f32(g) for g in grads])
    jt, _ = jax_run(fn(**kwargs), f32(p0), [f32(g) for g in grads])
    assert jt[-1][sorted(p0)[0]].dtype == np.float32
    errs = [max(rel_error(a[k], b[k], "float32") for k in b) for a, b in zip(jt, tt, strict=True)]
    assert errs[0] <= 1e-6, errs[0]
    assert max(errs) <= tol, errs


def check_bad_args(fn, torch_cls, kwargs, shape=(2,)):
    """torch's constructor raises ValueError for ``kwargs``, and so does ours, naming itself."""
    with pytest.raises(ValueError):
        torch_cls([torch.zeros(shape, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError, match=f"^{fn.__name__}: "):
        fn(**kwargs)


def check_schedule(fn, torch_cls, kwargs, shapes=VECTOR_AND_MATRIX, lr0=0.05, steps=8):
    """``lr`` as an optax schedule == torch with ``param_groups[0]["lr"]`` set before each step."""
    lrs = [lr0 * 0.7**k for k in range(steps)]
    p0, grads = problem(shapes, steps, seed=1)
    tt, _ = torch_run(torch_cls, {**kwargs, "lr": lrs[0]}, p0, grads, lrs=lrs)
    jt, _ = jax_run(fn(**{**kwargs, "lr": lambda k: lr0 * 0.7**k}), p0, grads)
    assert_traj(jt, tt)


def check_chain_clip(fn, torch_cls, kwargs, shapes=VECTOR_AND_MATRIX, steps=6, max_norm=1.0):
    """``optax.chain(optax.clip_by_global_norm(c), opt)`` == torch fed the clipped gradients."""
    p0, grads = problem(shapes, steps, seed=2)
    clipped = []
    for g in grads:
        norm = np.sqrt(sum(np.sum(v * v) for v in g.values()))
        assert norm > max_norm  # the clipping is active
        clipped.append({k: v / norm * max_norm for k, v in g.items()})
    tt, _ = torch_run(torch_cls, kwargs, p0, clipped)
    jt, _ = jax_run(optax.chain(optax.clip_by_global_norm(max_norm), fn(**kwargs)), p0, grads)
    assert_traj(jt, tt)


def check_hyperparams(fn, torch_cls, kwargs, names, shapes=VECTOR_AND_MATRIX, steps=6):
    """The injected hyperparameters are ``names`` (float64 with x64); setting
    ``state.hyperparams["lr"]`` between steps acts like torch's ``param_groups[0]["lr"]`` and
    changes the trajectory."""
    tx = fn(**kwargs)
    p0, grads = problem(shapes, steps, seed=3)
    state = tx.init({k: jnp.asarray(v) for k, v in p0.items()})
    assert set(state.hyperparams) == set(names)
    assert all(jnp.asarray(v).dtype == jnp.float64 for v in state.hyperparams.values())
    lr0 = float(state.hyperparams["lr"])
    lrs = [lr0 * f for f in (1.0, 3.0, 0.5, 2.0, 0.25, 1.5)[:steps]]
    tt, _ = torch_run(torch_cls, kwargs, p0, grads, lrs=lrs)
    jt, _ = jax_run(tx, p0, grads, lrs=lrs)
    assert_traj(jt, tt)
    plain, _ = jax_run(tx, p0, grads)
    assert not np.allclose(plain[-1]["w"], jt[-1]["w"])


def check_signature(fn, torch_cls, extra=()):
    """torch's constructor arguments, defaults and kinds (minus ``params`` and the device switches),
    then the jloss-only keyword arguments ``extra``."""
    skip = {"self", "params", "foreach", "fused", "capturable", "differentiable"}
    theirs = [p for p in inspect.signature(torch_cls.__init__).parameters.values() if p.name not in skip]
    ours = list(inspect.signature(fn).parameters.values())
    assert [(p.name, p.kind, p.default) for p in ours[: len(theirs)]] == [(p.name, p.kind, p.default) for p in theirs]
    assert [p.name for p in ours[len(theirs):]] == list(extra)
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in ours[len(theirs):])


def check_jit_and_no_recompile(fn, kwargs, shapes=VECTOR_AND_MATRIX):
    """The update jits, and new gradients / a new lr value do not recompile it."""
    p0, grads = problem(shapes, 3, seed=5)
    tx = fn(**kwargs)
    params = {k: jnp.asarray(v) for k, v in p0.items()}
    state = tx.init(params)
    update = jax.jit(tx.update)
    for i, g in enumerate(grads):
        state = set_hyper(state, "lr", 0.01 * (i + 1))
        updates, state = update({k: jnp.asarray(v) for k, v in g.items()}, state, params)
        params = optax.apply_updates(params, updates)
    assert update._cache_size() == 1
    assert all(np.all(np.isfinite(np.asarray(v))) for v in params.values())
