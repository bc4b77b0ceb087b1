"""The torch-named optimizer objects: param groups, settable hyperparameters, torch-layout state_dict."""

import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from jloss.interop import optimizer_state_from_torch, optimizer_state_to_torch
from jloss.optim._stateful import SGD, Adam, AdamW


def _tree(r, shapes=(("a", (3, 2)), ("b", (4,)))):
    return {k: r.standard_normal(s) for k, s in shapes}


def _torch_params(tree):
    return [torch.tensor(tree[k], requires_grad=True) for k in sorted(tree)]


def _set_grads(tparams, g):
    for t, k in zip(tparams, sorted(g)):
        t.grad = torch.tensor(g[k])


def _max_diff(jtree, tparams):
    return max(float(np.max(np.abs(np.asarray(jtree[k]) - t.detach().numpy()))) for k, t in zip(sorted(jtree), tparams))


def test_tutorial_000_optimizer_tour(tmp_path):
    """Tutorial 000: SGD(lr=0.1, momentum=0.9) one step on ones gradients moves every weight by -0.1;
    add_param_group with nesterov; 50 steps; state_dict save and load."""
    r = np.random.default_rng(0)
    w0 = r.standard_normal((2, 2))
    opt = SGD(jnp.asarray(w0), lr=0.1, momentum=0.9)
    new = opt.step(jnp.ones((2, 2)))
    np.testing.assert_allclose(np.asarray(new), w0 - 0.1, rtol=0, atol=1e-15)
    g0 = opt.param_groups[0]
    assert {k: g0[k] for k in ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize")} == {
        "lr": 0.1, "momentum": 0.9, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False, "maximize": False}
    assert list(g0) == ["params", "lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize", "foreach",
                        "differentiable", "fused"]  # torch's key order

    # the same in torch, then add a nesterov group to both and take 50 steps with the same gradients
    tw = torch.tensor(w0, requires_grad=True)
    topt = torch.optim.SGD([tw], lr=0.1, momentum=0.9)
    tw.grad = torch.ones(2, 2, dtype=torch.float64)
    topt.step()
    w2 = r.standard_normal((3, 3))
    tw2 = torch.tensor(w2, requires_grad=True)
    topt.add_param_group({"params": tw2, "lr": 0.0001, "nesterov": True})
    opt.add_param_group({"params": jnp.asarray(w2), "lr": 0.0001, "nesterov": True})
    assert opt.state_dict()["param_groups"][1]["params"] == [1]
    for _ in range(50):
        g1, g2 = r.standard_normal((2, 2)), r.standard_normal((3, 3))
        tw.grad, tw2.grad = torch.tensor(g1), torch.tensor(g2)
        topt.step()
        opt.step([jnp.asarray(g1), jnp.asarray(g2)])
    np.testing.assert_allclose(np.asarray(opt.params[0]), tw.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(opt.params[1]), tw2.detach().numpy(), rtol=1e-12)

    sd = opt.state_dict()
    tsd = topt.state_dict()
    assert sd["param_groups"] == [{k: v for k, v in g.items()} for g in tsd["param_groups"]]
    assert set(sd["state"]) == set(tsd["state"]) == {0, 1}
    for i in (0, 1):
        np.testing.assert_allclose(sd["state"][i]["momentum_buffer"], tsd["state"][i]["momentum_buffer"].numpy(), rtol=1e-12)

    path = tmp_path / "optimizer_state_dict.pkl"
    path.write_bytes(pickle.dumps(sd))
    fresh = SGD(jnp.asarray(w0), lr=0.5)
    fresh.add_param_group({"params": jnp.asarray(w2)})
    fresh.load_state_dict(pickle.loads(path.read_bytes()))
    assert fresh.param_groups[0]["lr"] == 0.1 and fresh.param_groups[1]["nesterov"] is True
    np.testing.assert_array_equal(fresh.state[1]["momentum_buffer"], sd["state"][1]["momentum_buffer"])


@pytest.mark.parametrize("cls,kw", [(Adam, {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
                                    (AdamW, {"lr": 0.01}), (SGD, {"lr": 0.05, "momentum": 0.9, "dampening": 0.1})])
def test_state_dict_round_trips_with_torch(cls, kw):
    r = np.random.default_rng(1)
    p0 = _tree(r)
    grads = [_tree(r) for _ in range(16)]
    tp = _torch_params(p0)
    topt = getattr(torch.optim, cls.__name__)(tp, **kw)
    for g in grads[:8]:
        _set_grads(tp, g)
        topt.step()
    # torch -> jloss (torch's dict as is), continue both
    ours = cls({k: jnp.asarray(t.detach().numpy()) for k, t in zip(sorted(p0), tp)}, **kw)
    ours.load_state_dict(topt.state_dict())
    for g in grads[8:12]:
        _set_grads(tp, g)
        topt.step()
        ours.step(jax.tree.map(jnp.asarray, g))
    assert _max_diff(ours.params, tp) <= 1e-13
    # jloss -> torch, continue both
    tp2 = [torch.tensor(np.asarray(ours.params[k]), requires_grad=True) for k in sorted(p0)]
    topt2 = getattr(torch.optim, cls.__name__)(tp2, **kw)
    topt2.load_state_dict(optimizer_state_to_torch(ours.state_dict()))
    for g in grads[12:]:
        _set_grads(tp2, g)
        topt2.step()
        ours.step(jax.tree.map(jnp.asarray, g))
    assert _max_diff(ours.params, tp2) <= 1e-13
    # and the numpy form of torch's dict loads too
    again = cls(jax.tree.map(jnp.asarray, p0), **kw)
    again.load_state_dict(optimizer_state_from_torch(topt2.state_dict()))
    # torch's SGD keeps no step count: loading its buffers only says "past the first step"
    assert int(again._states[0].count) == (16 if "step" in cls._torch_keys else 1)


def test_setting_lr_takes_effect_without_recompiling():
    r = np.random.default_rng(2)
    p0 = _tree(r)
    opt = Adam(jax.tree.map(jnp.asarray, p0), lr=0.01)
    tp = _torch_params(p0)
    topt = torch.optim.Adam(tp, lr=0.01)
    for i in range(6):
        g = _tree(r)
        lr = 0.01 * 0.5**i
        opt.param_groups[0]["lr"] = lr
        topt.param_groups[0]["lr"] = lr
        opt.param_groups[0]["betas"] = (0.9 - 0.01 * i, 0.999)
        topt.param_groups[0]["betas"] = (0.9 - 0.01 * i, 0.999)
        _set_grads(tp, g)
        topt.step()
        opt.step(jax.tree.map(jnp.asarray, g))
        if i == 0:
            fn = opt._step_fn
    assert opt._step_fn is fn  # same compiled step
    assert fn._cache_size() == 1
    assert _max_diff(opt.params, tp) <= 1e-13


def test_step_with_closure_returns_the_loss():
    opt = SGD({"x": jnp.asarray([1.0, -2.0])}, lr=0.1)
    loss = opt.step(closure=lambda p: jnp.sum(p["x"] ** 2))
    assert float(loss) == 5.0
    np.testing.assert_allclose(np.asarray(opt.params["x"]), [0.8, -1.6])


def test_bad_input():
    p = {"x": jnp.ones(3)}
    with pytest.raises(ValueError, match="lr"):
        SGD(p, lr=-1.0)
    with pytest.raises(ValueError, match="Nesterov"):
        SGD(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta parameter at index 1"):
        Adam(p, betas=(0.9, 1.0))
    with pytest.raises(TypeError, match="unexpected argument"):
        Adam(p, momentum=0.9)
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match="floating arrays"):
        SGD({"x": jnp.arange(3)}, lr=0.1)
    opt = Adam(p, lr=0.1)
    with pytest.raises(ValueError, match="structure"):
        opt.step({"y": jnp.ones(3)})
    with pytest.raises(ValueError, match="shape"):
        opt.step({"x": jnp.ones(4)})
    with pytest.raises(ValueError, match="needs grads"):
        opt.step()
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        opt.add_param_group({"params": jnp.ones(2), "momentum": 0.5})


def test_failed_load_leaves_the_optimizer_unchanged():
    r = np.random.default_rng(3)
    opt = Adam(jax.tree.map(jnp.asarray, _tree(r)), lr=0.01)
    opt.step(jax.tree.map(jnp.asarray, _tree(r)))
    before = opt.state_dict()
    sgd = SGD(jax.tree.map(jnp.asarray, _tree(r)), lr=0.1, momentum=0.9)
    sgd.step(jax.tree.map(jnp.asarray, _tree(r)))
    with pytest.raises(ValueError, match="another optimizer"):
        opt.load_state_dict(sgd.state_dict())
    bad = opt.state_dict()
    del bad["state"][1]["exp_avg_sq"]
    with pytest.raises(ValueError, match="exp_avg_sq"):
        opt.load_state_dict(bad)
    bad = opt.state_dict()
    bad["state"][0]["exp_avg"] = np.zeros((5, 5))
    with pytest.raises(ValueError, match="shape"):
        opt.load_state_dict(bad)
    with pytest.raises(ValueError, match="parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": []})
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for i in before["state"]:
        for k in before["state"][i]:
            np.testing.assert_array_equal(after["state"][i][k], before["state"][i][k])


def test_state_is_empty_before_the_first_step_like_torch():
    opt = Adam({"x": jnp.ones(2)}, lr=0.1)
    assert opt.state == {} == torch.optim.Adam([torch.ones(2, requires_grad=True)]).state_dict()["state"]
    assert SGD({"x": jnp.ones(2)}, lr=0.1).step({"x": jnp.ones(2)}) is not None
