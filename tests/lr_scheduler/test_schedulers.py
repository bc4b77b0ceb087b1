"""The torch-named scheduler classes (_schedulers.py, _schedulers_more.py): torch's state_dict layout
in both directions, the LR / momentum reaching the optimizer's updates, torch's warnings and errors."""

import warnings

import jax.numpy as jnp
import numpy as np
import pytest
import torch

from jloss.optim import lr_scheduler as L
from jloss.optim._stateful import SGD, Adagrad, Adam

TL = torch.optim.lr_scheduler
LRS = (0.1, 0.03)


class Halving:
    """A callable object: LambdaLR saves its ``__dict__`` in the state_dict (plain functions are saved as None)."""

    def __init__(self, every):
        self.every = every

    def __call__(self, epoch):
        return 0.5 ** (epoch // self.every)


def _torch_opt(kind):
    groups = [{"params": [torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))], "lr": lr} for lr in LRS]
    return torch.optim.SGD(groups, lr=0.1, momentum=0.9) if kind == "SGD" else torch.optim.Adam(groups, lr=0.1)


def _jloss_opt(kind):
    groups = [{"params": {"w": jnp.zeros(3)}, "lr": lr} for lr in LRS]
    return SGD(groups, lr=0.1, momentum=0.9) if kind == "SGD" else Adam(groups, lr=0.1)


# build(M, opt) works with torch's module and with ours: the same names and arguments.
BUILDS = {
    "StepLR": ("SGD", lambda M, o: M.StepLR(o, 7, 0.5)),
    "LambdaLR-callable-object": ("SGD", lambda M, o: M.LambdaLR(o, [Halving(5), Halving(9)])),
    "CosineAnnealingLR": ("Adam", lambda M, o: M.CosineAnnealingLR(o, 10, 1e-3)),
    "CyclicLR-beta1": ("Adam", lambda M, o: M.CyclicLR(o, 0.001, 0.01, 6, mode="triangular2")),
    "OneCycleLR": ("SGD", lambda M, o: M.OneCycleLR(o, [0.5, 0.2], total_steps=200, three_phase=True)),
    "CosineAnnealingWarmRestarts": ("SGD", lambda M, o: M.CosineAnnealingWarmRestarts(o, 4, 2)),
    "SequentialLR": ("SGD", lambda M, o: M.SequentialLR(o, [M.LinearLR(o, 0.1, total_iters=10), M.ExponentialLR(o, 0.95)],
                                                        milestones=[10])),
    "ChainedScheduler": ("Adam", lambda M, o: M.ChainedScheduler([M.ConstantLR(o, 0.5, 20), M.CosineAnnealingLR(o, 15)])),
    "ReduceLROnPlateau": ("SGD", lambda M, o: M.ReduceLROnPlateau(o, factor=0.5, patience=1, cooldown=1, min_lr=[1e-3, 0])),
}
METRICS = [1.0, 0.9, 0.95, 0.95, 0.96, 0.8, 0.85, 0.9, 0.9, 0.7] * 10


def _step(sched, i):
    if isinstance(sched, (TL.ReduceLROnPlateau, L.ReduceLROnPlateau)):
        sched.step(METRICS[i % len(METRICS)])
    else:
        sched.step()


def _momentum(opt):
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


def _strip(sd):
    """A state_dict's comparable content (member state_dicts recursively)."""
    out = {}
    for k, v in sd.items():
        if k == "_schedulers":
            v = [_strip(s) for s in v]
        elif k == "milestones":
            v = dict(v)
        out[k] = v
    return out


@pytest.mark.parametrize("name", sorted(BUILDS))
def test_state_dict_has_torch_layout_and_round_trips(name):
    kind, build = BUILDS[name]
    to, jo = _torch_opt(kind), _jloss_opt(kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: scheduler stepped before optimizer.step()
        ts, js = build(TL, to), build(L, jo)
        for i in range(23):
            _step(ts, i)
            _step(js, i)
        assert _strip(js.state_dict()) == _strip(ts.state_dict())

        # torch -> jloss: fresh jloss objects load torch's optimizer and scheduler state, then both go on
        jo2 = _jloss_opt(kind)
        js2 = build(L, jo2)
        jo2.load_state_dict(to.state_dict())
        js2.load_state_dict(ts.state_dict())
        # jloss -> torch
        to2 = _torch_opt(kind)
        ts2 = build(TL, to2)
        to2.load_state_dict(_to_torch(jo.state_dict()))
        ts2.load_state_dict(js.state_dict())
        for i in range(23, 60):
            for s in (ts, js, js2, ts2):
                _step(s, i)
            assert js2.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-15, abs=0)
            assert ts2.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-15, abs=0)
            assert js.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-15, abs=0)
            assert _momentum(jo2) == pytest.approx(_momentum(to), rel=1e-15, abs=0)
            assert _momentum(to2) == pytest.approx(_momentum(to), rel=1e-15, abs=0)


def _to_torch(sd):
    from jloss.interop import optimizer_state_to_torch

    return optimizer_state_to_torch(sd)


def _grads(rng, n):
    return [rng.standard_normal(3) for _ in range(n)]


@pytest.mark.parametrize("kind, build", [
    ("SGD", lambda M, o: M.OneCycleLR(o, max_lr=[0.5, 0.2], total_steps=30)),
    ("Adam", lambda M, o: M.OneCycleLR(o, max_lr=0.01, total_steps=30, anneal_strategy="linear")),
    ("SGD", lambda M, o: M.CyclicLR(o, 0.01, 0.1, 4, mode="exp_range", gamma=0.99)),
    ("Adam", lambda M, o: M.CyclicLR(o, [0.001, 0.002], 0.01, 3)),
    ("SGD", lambda M, o: M.CosineAnnealingLR(o, 7)),
])
def test_scheduled_lr_and_momentum_reach_the_updates(kind, build):
    """A training loop: optimizer.step() then scheduler.step(), the LR and momentum / beta1 the
    scheduler writes are used by the next update; parameters match torch's."""
    rng = np.random.default_rng(0)
    to, jo = _torch_opt(kind), _jloss_opt(kind)
    ts, js = build(TL, to), build(L, jo)
    for _ in range(30):
        g = _grads(rng, len(LRS))
        for p, gi in zip([p for grp in to.param_groups for p in grp["params"]], g):
            p.grad = torch.tensor(gi)
        to.step()
        jo.step([{"w": jnp.asarray(gi)} for gi in g])
        ts.step()
        js.step()
    for tg, jg in zip(to.param_groups, jo.param_groups):
        np.testing.assert_allclose(np.asarray(jg["params"]["w"]), tg["params"][0].detach().numpy(), rtol=1e-10, atol=1e-14)


def test_step_with_epoch_uses_closed_form_and_warns_like_torch():
    to, jo = _torch_opt("SGD"), _jloss_opt("SGD")
    ts, js = TL.StepLR(to, 3, 0.5), L.StepLR(jo, 3, 0.5)
    with pytest.warns(UserWarning, match="epoch parameter"):
        js.step(10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ts.step(10)
    assert js.get_last_lr() == ts.get_last_lr()
    assert js.last_epoch == 10


def test_cosine_warm_restarts_fractional_epochs():
    to, jo = _torch_opt("SGD"), _jloss_opt("SGD")
    ts, js = TL.CosineAnnealingWarmRestarts(to, 3, 2, 1e-3), L.CosineAnnealingWarmRestarts(jo, 3, 2, 1e-3)
    for epoch in range(12):
        for i in range(4):
            e = epoch + i / 4
            ts.step(e)
            js.step(e)
            assert js.get_last_lr() == ts.get_last_lr()
            assert js.T_i == ts.T_i and js.T_cur == ts.T_cur
    with pytest.raises(ValueError, match="non-negative epoch"):
        js.step(-1)


def test_get_lr_outside_step_warns():
    s = L.ExponentialLR(_jloss_opt("SGD"), 0.9)
    with pytest.warns(UserWarning, match="get_last_lr"):
        s.get_lr()


def test_errors_like_torch():
    jo = _jloss_opt("SGD")
    with pytest.raises(TypeError, match="is not an Optimizer"):
        L.StepLR(object(), 3)
    with pytest.raises(ValueError, match="mode is invalid"):
        L.CyclicLR(jo, 0.01, 0.1, mode="sawtooth")
    with pytest.raises(ValueError, match="mode foo is unknown"):
        L.ReduceLROnPlateau(jo, mode="foo")
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        L.ReduceLROnPlateau(jo, factor=1.0)
    with pytest.raises(ValueError, match="momentum or beta1"):
        L.CyclicLR(Adagrad({"w": jnp.zeros(2)}, lr=0.1), 0.01, 0.1)
    with pytest.raises(ValueError, match="pct_start"):
        L.OneCycleLR(jo, 0.1, total_steps=10, pct_start=1)
    with pytest.raises(KeyError, match="initial_lr"):
        L.StepLR(_jloss_opt("SGD"), 3, last_epoch=4)
    with pytest.raises(ValueError, match="strictly increasing"):
        L.SequentialLR(jo, [L.ConstantLR(jo), L.ExponentialLR(jo, 0.9), L.StepLR(jo, 2)], milestones=[5, 3])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        L.ChainedScheduler([L.ExponentialLR(jo, 0.9), L.ReduceLROnPlateau(jo)])
    with pytest.raises(ValueError, match="same optimizer"):
        L.ChainedScheduler([L.ExponentialLR(jo, 0.9), L.ExponentialLR(_jloss_opt("SGD"), 0.9)])


def test_one_cycle_raises_at_the_step_past_total_steps():
    js = L.OneCycleLR(_jloss_opt("SGD"), 0.1, total_steps=5)
    for _ in range(5):
        js.step()
    with pytest.raises(ValueError, match="Tried to step 6 times. The specified number of total steps is 5"):
        js.step()
