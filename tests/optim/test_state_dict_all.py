"""Every torch-named optimizer: torch -> jloss -> continue == torch continuing, and jloss -> torch likewise.

float64, a pytree of several shapes; after the hand-over both sides take more steps on the same
gradients and must agree to 1e-12.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jloss.optim as optim
from jloss.interop import optimizer_state_to_torch

SHAPES = {"a": (4, 3), "b": (3,), "c": (2, 3, 2), "d": ()}
MATRICES = {"a": (4, 3), "b": (3, 5)}

CONFIGS = [
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}, SHAPES),
    ("Adam", {"lr": 0.01, "amsgrad": True}, SHAPES),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1}, SHAPES),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True}, SHAPES),
    ("Adagrad", {"lr": 0.05, "lr_decay": 0.01, "initial_accumulator_value": 0.1}, SHAPES),
    ("Adadelta", {"lr": 0.5, "weight_decay": 0.01}, SHAPES),
    ("Adamax", {"lr": 0.01}, SHAPES),
    ("ASGD", {"lr": 0.01, "t0": 3.0}, SHAPES),
    ("Rprop", {"lr": 0.01, "etas": (0.4, 1.3)}, SHAPES),
    ("NAdam", {"lr": 0.01, "decoupled_weight_decay": True, "weight_decay": 0.01}, SHAPES),
    ("RAdam", {"lr": 0.01}, SHAPES),
    ("Adafactor", {"lr": 0.01}, SHAPES),
    ("Muon", {"lr": 0.01}, MATRICES),
    ("SparseAdam", {"lr": 0.01}, MATRICES),
]


def _grads(r, shapes, sparse_rows=False):
    g = {k: r.standard_normal(s) for k, s in shapes.items()}
    if sparse_rows:  # touch a subset of rows, as an embedding lookup does
        for k in g:
            g[k][r.uniform(size=g[k].shape[0]) < 0.4] = 0.0
    return g


def _feed(tparams, g, names, sparse):
    for t, k in zip(tparams, names):
        gt = torch.tensor(g[k])
        t.grad = gt.to_sparse(1) if sparse else gt


def _diff(ours, tparams, names):
    return max(float(np.max(np.abs(np.asarray(ours[k]) - t.detach().numpy()), initial=0.0)) for k, t in zip(names, tparams))


@pytest.mark.parametrize("name,kw,shapes", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_round_trip(name, kw, shapes):
    sparse = name == "SparseAdam"
    r = np.random.default_rng(len(name))
    names = sorted(shapes)
    p0 = {k: r.standard_normal(shapes[k]) for k in names}
    grads = [_grads(r, shapes, sparse) for _ in range(12)]
    tp = [torch.tensor(p0[k], requires_grad=True) for k in names]
    topt = getattr(torch.optim, name)(tp, **kw)
    for g in grads[:5]:
        _feed(tp, g, names, sparse)
        topt.step()
    cls = getattr(optim, name)
    ours = cls({k: jnp.asarray(t.detach().numpy().copy()) for k, t in zip(names, tp)}, **kw)
    ours.load_state_dict(topt.state_dict())  # torch's dict, as is
    for g in grads[5:8]:
        _feed(tp, g, names, sparse)
        topt.step()
        ours.step(jax.tree.map(jnp.asarray, g))
    assert _diff(ours.params, tp, names) <= 1e-12
    # our state_dict has torch's keys, entry by entry
    ts, js = topt.state_dict(), ours.state_dict()
    assert set(ts["state"]) == set(js["state"])
    for i in ts["state"]:
        assert set(ts["state"][i]) == set(js["state"][i]), (i, set(ts["state"][i]) ^ set(js["state"][i]))
    assert [sorted(g) for g in ts["param_groups"]] == [sorted(g) for g in js["param_groups"]]
    # jloss -> torch, continue both
    tp2 = [torch.tensor(np.asarray(ours.params[k]).copy(), requires_grad=True) for k in names]
    topt2 = getattr(torch.optim, name)(tp2, **kw)
    topt2.load_state_dict(optimizer_state_to_torch(js))
    for g in grads[8:]:
        _feed(tp2, g, names, sparse)
        topt2.step()
        ours.step(jax.tree.map(jnp.asarray, g))
    assert _diff(ours.params, tp2, names) <= 1e-12


def test_lbfgs_round_trip():
    r = np.random.default_rng(7)
    A = r.standard_normal((6, 6))
    A = A @ A.T + np.eye(6)
    b = r.standard_normal(6)

    def f_t(x):
        return 0.5 * x @ torch.tensor(A) @ x - torch.tensor(b) @ x + 0.1 * (x**4).sum()

    def f_j(p):
        x = p["x"]
        return 0.5 * x @ jnp.asarray(A) @ x - jnp.asarray(b) @ x + 0.1 * jnp.sum(x**4)

    kw = {"lr": 0.5, "max_iter": 4, "history_size": 3, "line_search_fn": "strong_wolfe"}
    x0 = r.standard_normal(6)
    tx = torch.tensor(x0, requires_grad=True)
    topt = torch.optim.LBFGS([tx], **kw)

    def closure():
        topt.zero_grad()
        loss = f_t(tx)
        loss.backward()
        return loss

    topt.step(closure)
    ours = optim.LBFGS({"x": jnp.asarray(tx.detach().numpy().copy())}, **kw)
    ours.load_state_dict(topt.state_dict())
    assert set(ours.state_dict()["state"][0]) == set(topt.state_dict()["state"][0])
    for _ in range(2):
        tl = topt.step(closure)
        jl = ours.step(closure=f_j)
        assert float(jl) == pytest.approx(float(tl.detach()), rel=1e-12)
    np.testing.assert_allclose(np.asarray(ours.params["x"]), tx.detach().numpy(), rtol=1e-11, atol=1e-13)
    tx2 = torch.tensor(np.asarray(ours.params["x"]).copy(), requires_grad=True)
    topt2 = torch.optim.LBFGS([tx2], **kw)
    topt2.load_state_dict(optimizer_state_to_torch(ours.state_dict()))

    def closure2():
        topt2.zero_grad()
        loss = f_t(tx2)
        loss.backward()
        return loss

    topt2.step(closure2)
    ours.step(closure=f_j)
    np.testing.assert_allclose(np.asarray(ours.params["x"]), tx2.detach().numpy(), rtol=1e-11, atol=1e-13)


def test_every_torch_optimizer_has_a_class_and_a_function():
    torch_names = [n for n in ("SGD", "ASGD", "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax",
                               "RAdam", "NAdam", "SparseAdam", "LBFGS", "RMSprop", "Rprop", "Muon")]
    for n in torch_names:
        assert hasattr(torch.optim, n)
        assert issubclass(getattr(optim, n), optim.Optimizer)
        assert callable(getattr(optim, {"SparseAdam": "sparse_adam"}.get(n, n.lower())))
