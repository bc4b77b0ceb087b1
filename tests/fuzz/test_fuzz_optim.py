"""Differential fuzzing of the 15 optimizers against torch.optim.

Random hyperparameters (every option: weight_decay, maximize, amsgrad, nesterov, centered,
decoupled_weight_decay, ...), random parameter pytrees (scalars, size-1 and empty dims) and a
few steps of random gradients (ordinary, large, tiny, zero, sometimes inf / NaN):

* the optax transform (eager, or under ``jax.jit``) against torch's optimizer: parameters after
  every step within SPEC.md's tolerances (float64 1e-10; float32 1e-6 after one step, 1e-5 after
  several), NaN where torch has NaN;
* the torch-named object (1 or 2 param groups, ``lr`` changed mid-run): parameters, then
  ``state_dict()`` entry by entry against torch's, then a fresh object loaded from torch's
  ``state_dict()`` continues exactly as torch does;
* an invalid hyperparameter: torch raises, and so does jloss, naming the argument.

LBFGS (a closure, float64 only: see jloss/parity/cases/optim_lbfgs.py) and SparseAdam (sparse
torch gradients) have their own strategies.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from _strategies import SEEDS, fuzz, record
from hypothesis import given
from hypothesis import strategies as st

import jloss.optim as O
from jloss.parity._harness import TOLERANCES, rel_error
from jloss.parity.cases.optim_adaptive import _sparse_feed

LR = st.sampled_from([1e-3, 0.01, 0.1, 0.5, 0.0])
WD = st.sampled_from([0.0, 0.0, 0.01, 0.1])
BOOL = st.booleans()
BETA = st.sampled_from([0.9, 0.0, 0.5, 0.3, 0.99])
BETA2 = st.sampled_from([0.999, 0.9, 0.5, 0.0])
EPS = st.sampled_from([1e-8, 1e-3, 0.0])

#: torch class name and a strategy of valid hyperparameters (the functional names and defaults).
HYPER = {
    "sgd": ("SGD", st.fixed_dictionaries({
        "lr": LR, "momentum": st.sampled_from([0.0, 0.9, 0.5]), "dampening": st.sampled_from([0.0, 0.0, 0.3]),
        "weight_decay": WD, "nesterov": BOOL, "maximize": BOOL})),
    "adam": ("Adam", st.fixed_dictionaries({
        "lr": LR, "betas": st.tuples(BETA, BETA2), "eps": EPS, "weight_decay": WD, "amsgrad": BOOL,
        "maximize": BOOL, "decoupled_weight_decay": BOOL})),
    "adamw": ("AdamW", st.fixed_dictionaries({
        "lr": LR, "betas": st.tuples(BETA, BETA2), "eps": EPS, "weight_decay": WD, "amsgrad": BOOL,
        "maximize": BOOL})),
    "rmsprop": ("RMSprop", st.fixed_dictionaries({
        "lr": LR, "alpha": st.sampled_from([0.99, 0.5, 0.0]), "eps": EPS, "weight_decay": WD,
        "momentum": st.sampled_from([0.0, 0.9]), "centered": BOOL, "maximize": BOOL})),
    "adagrad": ("Adagrad", st.fixed_dictionaries({
        "lr": LR, "lr_decay": st.sampled_from([0.0, 0.1]), "weight_decay": WD,
        "initial_accumulator_value": st.sampled_from([0.0, 0.5]), "eps": st.sampled_from([1e-10, 1e-3]),
        "maximize": BOOL})),
    "adadelta": ("Adadelta", st.fixed_dictionaries({
        "lr": st.sampled_from([1.0, 0.5, 0.0]), "rho": st.sampled_from([0.9, 0.0, 0.5, 1.0]),
        "eps": st.sampled_from([1e-6, 1e-3]), "weight_decay": WD, "maximize": BOOL})),
    "adamax": ("Adamax", st.fixed_dictionaries({
        "lr": LR, "betas": st.tuples(BETA, BETA2), "eps": EPS, "weight_decay": WD, "maximize": BOOL})),
    "asgd": ("ASGD", st.fixed_dictionaries({
        "lr": LR, "lambd": st.sampled_from([1e-4, 0.1]), "alpha": st.sampled_from([0.75, 0.5, 1.0]),
        "t0": st.sampled_from([1e6, 2.0, 0.0]), "weight_decay": WD, "maximize": BOOL})),
    "rprop": ("Rprop", st.fixed_dictionaries({
        "lr": LR, "etas": st.tuples(st.sampled_from([0.5, 0.1, 0.9]), st.sampled_from([1.2, 2.0, 1.01])),
        "step_sizes": st.tuples(st.sampled_from([1e-6, 1e-3, 0.0]), st.sampled_from([50.0, 0.2])),
        "maximize": BOOL})),
    "nadam": ("NAdam", st.fixed_dictionaries({
        "lr": LR, "betas": st.tuples(BETA, BETA2), "eps": EPS, "weight_decay": WD,
        "momentum_decay": st.sampled_from([4e-3, 0.0, 0.1]), "decoupled_weight_decay": BOOL, "maximize": BOOL})),
    "radam": ("RAdam", st.fixed_dictionaries({
        "lr": LR, "betas": st.tuples(BETA, BETA2), "eps": EPS, "weight_decay": WD,
        "decoupled_weight_decay": BOOL, "maximize": BOOL})),
    "adafactor": ("Adafactor", st.fixed_dictionaries({
        "lr": LR, "beta2_decay": st.sampled_from([-0.8, 0.0, -0.5]),
        "eps": st.tuples(st.sampled_from([None, 1e-3, 0.0]), st.sampled_from([1e-3, 0.0, 1.0])),
        "d": st.sampled_from([1.0, 2.0]), "weight_decay": WD, "maximize": BOOL})),
    "muon": ("Muon", st.fixed_dictionaries({
        "lr": LR, "weight_decay": WD, "momentum": st.sampled_from([0.95, 0.0, 0.5]), "nesterov": BOOL,
        "ns_coefficients": st.sampled_from([(3.4445, -4.775, 2.0315), (2.0, -1.5, 0.5)]),
        "eps": st.sampled_from([1e-7, 1e-2]), "ns_steps": st.sampled_from([5, 0, 2]),
        "adjust_lr_fn": st.sampled_from([None, "original", "match_rms_adamw"])})),
}

#: one invalid value per argument, as torch refuses it (argument, value, words the message must hold).
INVALID = {
    "lr": (-0.1, "lr"), "momentum": (-0.5, "momentum"), "weight_decay": (-0.1, "weight_decay"),
    "eps": (-1e-8, "eps"), "betas": ((0.9, 1.0), "beta"), "alpha": (-0.5, "alpha"), "rho": (1.5, "rho"),
    "lr_decay": (-0.1, "lr_decay"), "initial_accumulator_value": (-1.0, "initial_accumulator_value"),
    "etas": ((1.5, 1.2), "eta"), "momentum_decay": (-0.1, "momentum_decay"), "beta2_decay": (0.5, "beta2_decay"),
    "d": (0.5, "d"), "lambd": (-1.0, "lambd"),
}

#: parameter pytrees (small, reused: eager op caches hit across examples); Muon takes 2-D only.
SHAPES = [{"w": (3, 2), "b": (2,)}, {"s": ()}, {"a": (1, 4), "k": (2, 1, 3)}, {"e": (0,), "w": (2, 2)},
          {"v": (5,)}]
SHAPES_2D = [{"w": (3, 2)}, {"u": (2, 4), "w": (3, 3)}, {"x": (1, 5)}]
GRAD_KINDS = st.sampled_from(["normal", "normal", "normal", "large", "tiny", "zeros", "nonfinite"])


def _values(r, shape, kind):
    x = r.standard_normal(shape)
    if kind == "large":
        x = x * 1e3
    elif kind == "tiny":
        x = x * 1e-6
    elif kind == "zeros":
        x = np.zeros(shape)
    elif kind == "nonfinite" and x.size:
        x.reshape(-1)[0] = r.choice([np.nan, np.inf, -np.inf])
    return x


def _tol(dtype: str, steps: int) -> float:
    return TOLERANCES["float64"][0] if dtype == "float64" else (1e-6 if steps == 1 else 1e-5)


def _err(ours: dict, theirs: dict, dtype: str) -> float:
    return max((rel_error(np.asarray(ours[k], np.float64), np.asarray(theirs[k], np.float64), dtype)
                for k in theirs), default=0.0)


def _torch_params(p0: dict, names: list[str], dtype) -> list:
    return [torch.tensor(p0[k].astype(dtype), requires_grad=True) for k in names]


@st.composite
def problems(draw, name: str):
    """(kwargs, param shapes, dtype, steps, per-step gradient kinds, seed, jit)."""
    kw = draw(HYPER[name][1])
    if name == "rmsprop" and kw["centered"] and kw["alpha"] == 0.0:
        # ill-conditioned: sqrt(g^2 - g^2) is 0 in exact arithmetic and its sign is rounding (torch's
        # vectorized FMA lanes and its scalar tail round differently within one tensor), times 1/eps
        kw["alpha"] = 0.5
    if name == "sgd" and kw["nesterov"] and draw(st.integers(0, 3)):
        kw["momentum"], kw["dampening"] = 0.9, 0.0  # mostly valid nesterov (else torch raises)
    pool = SHAPES_2D if name == "muon" else SHAPES
    if name == "adafactor":  # torch's Adafactor divides by zero on an empty parameter (deliberate)
        pool = [s for s in pool if all(map(all, s.values()))]
    shapes = draw(st.sampled_from(pool))
    dtype = draw(st.sampled_from(["float64", "float64", "float32"]))
    steps = draw(st.integers(1, 6))
    kinds = [draw(GRAD_KINDS) for _ in range(steps)]
    return kw, shapes, dtype, steps, kinds, draw(SEEDS), draw(st.sampled_from([False, False, True]))


def _raises_like_torch(name: str, torch_cls, kw: dict, shapes: dict) -> bool:
    """If torch's constructor refuses ``kw``, jloss's function and class must refuse it too."""
    try:
        torch_cls([torch.zeros(2, 2, requires_grad=True)], **kw)
    except (ValueError, TypeError, RuntimeError):
        pass
    else:
        return False
    with pytest.raises((ValueError, TypeError)):
        getattr(O, name)(**kw)
    with pytest.raises((ValueError, TypeError)):
        getattr(O, torch_cls.__name__)({k: jnp.zeros(s) for k, s in shapes.items()}, **kw)
    return True


@pytest.mark.parametrize("name", sorted(HYPER))
@fuzz(default=2, long=150)
@given(data=st.data())
def test_fuzz_optimizer_transform(name, data):
    """The optax transform against torch's optimizer, step by step."""
    kw, shapes, dtype, steps, kinds, seed, jit = data.draw(problems(name))
    torch_cls = getattr(torch.optim, HYPER[name][0])
    comp = f"optim.{name}"
    if _raises_like_torch(name, torch_cls, kw, shapes):
        record(comp, "both-raise")
        return
    r = np.random.default_rng(seed)
    names = sorted(shapes)
    p0 = {k: r.standard_normal(shapes[k]) for k in names}
    tparams = _torch_params(p0, names, dtype)
    topt = torch_cls(tparams, **kw)
    tx = getattr(O, name)(**kw)
    params = {k: jnp.asarray(p0[k].astype(dtype)) for k in names}
    state = tx.init(params)

    def step(params, state, g):
        u, state = tx.update(g, state, params)
        return jax.tree.map(lambda p, v: (p + v).astype(p.dtype), params, u), state

    step = jax.jit(step) if jit else step
    for i, kind in enumerate(kinds):
        g = {k: _values(r, shapes[k], kind).astype(dtype) for k in names}
        for t, k in zip(tparams, names, strict=True):
            t.grad = torch.tensor(g[k])
        topt.step()
        params, state = step(params, state, {k: jnp.asarray(v) for k, v in g.items()})
        theirs = {k: t.detach().numpy() for k, t in zip(names, tparams, strict=True)}
        err = _err(params, theirs, dtype)
        if err > _tol(dtype, i + 1):
            record(comp, "mismatch")
            raise AssertionError(f"{comp} {kw} {dtype} shapes={shapes} grads={kinds} jit={jit}: "
                                 f"step {i + 1} error {err:.3g}")
        if not all(np.all(np.isfinite(v)) for v in theirs.values()):
            # a parameter reached inf / NaN (and agrees): optax updates are differences, so an
            # infinite parameter gets inf - inf = NaN next; torch's in-place update keeps +-inf
            break
    record(comp, "match")


@pytest.mark.parametrize("name", sorted(HYPER))
@fuzz(default=1, long=60)
@given(data=st.data())
def test_fuzz_optimizer_invalid_argument(name, data):
    """One hyperparameter made invalid: torch raises ValueError, jloss raises naming it."""
    kw = data.draw(HYPER[name][1])
    torch_cls = getattr(torch.optim, HYPER[name][0])
    arg = data.draw(st.sampled_from(sorted(set(kw) & set(INVALID))))
    bad, words = INVALID[arg]
    kw[arg] = bad
    try:
        torch_cls([torch.zeros(2, 2, requires_grad=True)], **kw)
    except (ValueError, TypeError):
        torch_raised = True
    else:
        torch_raised = False  # torch accepts it: so must jloss
    for make in (lambda: getattr(O, name)(**kw), lambda: getattr(O, torch_cls.__name__)({"w": jnp.zeros((2, 2))}, **kw)):
        if not torch_raised:
            make()
            continue
        with pytest.raises((ValueError, TypeError)) as e:
            make()
        assert words in str(e.value), (arg, str(e.value))
    record(f"optim.{name}[invalid]", "both-raise" if torch_raised else "match")


# ---- the torch-named objects: param groups, a mid-run lr change, state_dict both ways ----------


def _sd_close(ours: dict, theirs: dict, dtype: str) -> str:
    """'' if jloss's state_dict equals torch's (entries, groups, values), else what differs."""
    if sorted(ours["state"]) != sorted(theirs["state"]):
        return f"state indices {sorted(ours['state'])} != torch {sorted(theirs['state'])}"
    for idx, entry in theirs["state"].items():
        mine = ours["state"][idx]
        if sorted(mine) != sorted(entry):
            return f"state[{idx}] entries {sorted(mine)} != torch {sorted(entry)}"
        for key, v in entry.items():
            tv = v.detach().to(torch.float64).numpy() if hasattr(v, "detach") else np.asarray(v, np.float64)
            if rel_error(np.asarray(mine[key], np.float64), tv, dtype) > _tol(dtype, 2):
                return f"state[{idx}][{key!r}] differs"
    if len(ours["param_groups"]) != len(theirs["param_groups"]):
        return "param_groups differ in number"
    for mine, group in zip(ours["param_groups"], theirs["param_groups"], strict=True):
        if sorted(mine) != sorted(group):
            return f"param_group keys {sorted(mine)} != torch {sorted(group)}"
        for key, v in group.items():
            if mine[key] != v and not (isinstance(v, float) and np.isnan(v) and np.isnan(mine[key])):
                return f"param_group[{key!r}] {mine[key]!r} != torch {v!r}"
    return ""


@pytest.mark.parametrize("name", sorted(HYPER))
@fuzz(default=1, long=40)
@given(data=st.data())
def test_fuzz_optimizer_class(name, data):
    """``jloss.optim.<Name>`` against ``torch.optim.<Name>``: groups, lr change, state_dict, load."""
    tname = HYPER[name][0]
    defaults = data.draw(HYPER[name][1])
    if name == "rmsprop" and defaults["centered"] and defaults["alpha"] == 0.0:
        defaults["alpha"] = 0.5  # see problems()
    if name == "sgd" and defaults["nesterov"]:
        defaults["momentum"], defaults["dampening"] = 0.9, 0.0
    two = data.draw(st.booleans())
    over = {}
    if two:  # the second group overrides lr and one other (numeric) hyperparameter
        other = data.draw(HYPER[name][1])
        key = data.draw(st.sampled_from(sorted(k for k, v in other.items() if isinstance(v, float))))
        over = {"lr": data.draw(LR), key: other[key]}
        if name == "sgd" and over.get("dampening") and defaults["nesterov"]:
            over["dampening"] = 0.0
    dtype = data.draw(st.sampled_from(["float64", "float64", "float32"]))
    r = np.random.default_rng(data.draw(SEEDS))
    pool = SHAPES_2D if name == "muon" else [s for s in SHAPES if all(map(all, s.values()))]
    shapes = [data.draw(st.sampled_from(pool))] + ([{f"g{k}": v for k, v in data.draw(st.sampled_from(pool)).items()}]
                                                   if two else [])
    p0 = [{k: r.standard_normal(s[k]).astype(dtype) for k in sorted(s)} for s in shapes]
    tgroups = [{"params": [torch.tensor(p[k], requires_grad=True) for k in sorted(p)], **(over if i else {})}
               for i, p in enumerate(p0)]
    topt = getattr(torch.optim, tname)(tgroups, **defaults)
    jgroups = [{"params": {k: jnp.asarray(v) for k, v in p.items()}, **(over if i else {})} for i, p in enumerate(p0)]
    jopt = getattr(O, tname)(jgroups if two else jgroups[0]["params"], **defaults)
    comp = f"optim.{tname}"

    def run(opt_j, steps, change_at=-1):
        for i in range(steps):
            if i == change_at:
                for g in (topt.param_groups[0], opt_j.param_groups[0]):
                    g["lr"] = g["lr"] * 0.5 + 0.01
            grads = [{k: (r.standard_normal(v.shape) * 0.5).astype(dtype) for k, v in p.items()} for p in p0]
            for tg, g in zip(topt.param_groups, grads, strict=True):
                for t, k in zip(tg["params"], sorted(g), strict=True):
                    t.grad = torch.tensor(g[k])
            topt.step()
            opt_j.step([{k: jnp.asarray(v) for k, v in g.items()} for g in grads] if two else
                       {k: jnp.asarray(v) for k, v in grads[0].items()})
            ours = opt_j.params if two else [opt_j.params]
            for gi, (tg, mine) in enumerate(zip(topt.param_groups, ours, strict=True)):
                theirs = {k: t.detach().numpy() for k, t in zip(sorted(mine), tg["params"], strict=True)}
                err = _err(mine, theirs, dtype)
                if err > _tol(dtype, 2):
                    record(comp, "mismatch")
                    raise AssertionError(f"{comp} {defaults} over={over} {dtype}: group {gi} error {err:.3g}")

    steps = data.draw(st.integers(1, 4))
    run(jopt, steps, change_at=data.draw(st.integers(-1, steps - 1)))
    msg = _sd_close(jopt.state_dict(), topt.state_dict(), dtype)
    if msg:
        record(comp, "mismatch")
        raise AssertionError(f"{comp} {defaults} over={over} {dtype}: state_dict: {msg}")
    # a fresh object loaded from torch's state_dict continues as torch does
    cur = [{k: jnp.asarray(t.detach().numpy()) for k, t in zip(sorted(p), tg["params"], strict=True)}
           for p, tg in zip(p0, topt.param_groups, strict=True)]
    fresh = getattr(O, tname)([{"params": c} for c in cur] if two else cur[0], **defaults)
    fresh.load_state_dict(topt.state_dict())
    run(fresh, 2)
    record(comp, "match")


# ---- SparseAdam (sparse torch gradients) and LBFGS (a closure; float64) --------------------------


@fuzz(default=2, long=150)
@given(kw=st.fixed_dictionaries({"lr": LR, "betas": st.tuples(BETA, BETA2), "eps": EPS, "maximize": BOOL}),
       mask=BOOL, dup=BOOL, steps=st.integers(1, 5), seed=SEEDS, dtype=st.sampled_from(["float64", "float32"]))
def test_fuzz_sparse_adam(kw, mask, dup, steps, seed, dtype):
    r = np.random.default_rng(seed)
    shapes = {"emb": (6, 3), "vec": (4,)}
    names = sorted(shapes)
    p0 = {k: r.standard_normal(shapes[k]) for k in names}
    tparams = _torch_params(p0, names, dtype)
    try:
        topt = torch.optim.SparseAdam(tparams, **kw)  # lr > 0 and eps > 0, strictly
    except ValueError:
        with pytest.raises(ValueError):
            O.sparse_adam(**kw)
        record("optim.sparse_adam", "both-raise")
        return
    tx = O.sparse_adam(**kw)
    params = {k: jnp.asarray(p0[k].astype(dtype)) for k in names}
    state = tx.init(params)
    feed = _sparse_feed(mask, dup)
    for i in range(steps):
        jg, tg, extra = feed({k: r.standard_normal(shapes[k]) for k in names}, np.dtype(dtype))
        for t, k in zip(tparams, names, strict=True):
            t.grad = tg[k]
        topt.step()
        u, state = tx.update(jg, state, params, **extra)
        params = jax.tree.map(lambda p, v: (p + v).astype(p.dtype), params, u)
        err = _err(params, {k: t.detach().numpy() for k, t in zip(names, tparams, strict=True)}, dtype)
        assert err <= _tol(dtype, i + 1), (kw, mask, dup, dtype, i, err)
    record("optim.sparse_adam", "match")


@fuzz(default=2, long=120)
@given(kw=st.fixed_dictionaries({
    "lr": st.sampled_from([1.0, 0.5, 0.1]), "max_iter": st.sampled_from([1, 3, 8, 20]),
    "tolerance_grad": st.sampled_from([1e-7, 1e-3]), "tolerance_change": st.sampled_from([1e-9, 1e-4]),
    "history_size": st.sampled_from([100, 2, 5]), "line_search_fn": st.sampled_from([None, "strong_wolfe"])}),
    max_eval=st.sampled_from([None, 4]), objective=st.sampled_from(["rosenbrock", "quartic"]),
    steps=st.integers(1, 3), start=st.integers(0, 10**6))
def test_fuzz_lbfgs(kw, max_eval, objective, steps, start):
    """LBFGS through the parity harness's runner (one torch ``step(closure)`` per update; the
    parameters and torch's ``n_iter`` / ``func_evals`` counters), float64 only (see its docstring)."""
    from jloss.parity.cases.optim_lbfgs import LBFGSCase, _result, _trajectory  # noqa: PLC0415

    if max_eval is not None:
        kw = {**kw, "max_eval": max_eval}
    res = _result("fuzz", "float64", _trajectory(LBFGSCase(f"fuzz-{start}", kw, objective, steps), "float64", steps),
                  1e-10)
    if not res.passed:
        record("optim.lbfgs", "mismatch")
        raise AssertionError(f"optim.lbfgs {kw} {objective} start={start}: {res.err:.3g} {res.message}")
    record("optim.lbfgs", "match")
