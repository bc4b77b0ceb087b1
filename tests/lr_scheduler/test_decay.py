"""The decaying schedules (jloss/optim/lr_scheduler/_decay.py): the tutorial's StepLR and its
hand-written scheduler, reproduced against torch; bad arguments."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from jloss.optim import lr_scheduler as L
from jloss.optim._stateful import Adam

EPOCHS = 100


def _tutorial_torch_steplr():
    """Tutorial 003, section 2.3, as written: StepLR(step_size=5, gamma=0.8) on Adam(lr=0.01), nn.Linear(10, 10)."""
    model = torch.nn.Linear(10, 10)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=5, gamma=0.8)
    optimizer_lr_list, scheduler_lr_list = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tutorial steps the scheduler without optimizer.step()
        for _ in range(EPOCHS):
            scheduler.step()
            optimizer_lr_list.append(optimizer.state_dict()["param_groups"][0]["lr"])
            scheduler_lr_list.append(scheduler.state_dict()["_last_lr"][0])
    return optimizer_lr_list, scheduler_lr_list


def _linear_params():
    return {"weight": jnp.zeros((10, 10)), "bias": jnp.zeros(10)}


def test_tutorial_003_steplr_on_adam_100_epochs():
    t_opt, t_sched = _tutorial_torch_steplr()
    assert len(set(t_opt)) > 10  # the curve really decays

    optimizer = Adam(_linear_params(), lr=0.01)
    scheduler = L.StepLR(optimizer, step_size=5, gamma=0.8)
    o_opt, o_sched = [], []
    for _ in range(EPOCHS):
        scheduler.step()
        o_opt.append(optimizer.state_dict()["param_groups"][0]["lr"])
        o_sched.append(scheduler.state_dict()["_last_lr"][0])
    assert o_opt == t_opt
    assert o_sched == t_sched

    schedule = L.step_lr(0.01, step_size=5, gamma=0.8)
    got = np.asarray(schedule(jnp.arange(1, EPOCHS + 1)))
    np.testing.assert_allclose(got, t_opt, rtol=1e-12, atol=0)


class _TutorialScheduler:
    """Tutorial 003, section 2.4, as written (``myscheduler``: halve the LR every 10 epochs)."""

    def __init__(self, optimizer, step_size, gamma):
        self.optimizer, self.step_size, self.gamma = optimizer, step_size, gamma

    def get_lr(self):
        self.lr = self.optimizer.param_groups[-1]["lr"]

    def update(self, epoch):
        self.get_lr()
        if (epoch + 1) % self.step_size == 0:
            lr = self.lr * self.gamma
            for param_group in self.optimizer.param_groups:
                param_group["lr"] = lr


class _HalveEvery(L.LRScheduler):
    def __init__(self, optimizer, step_size=10, gamma=0.5, last_epoch=-1):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


def test_tutorial_003_custom_scheduler_as_lambda_lr_and_subclass():
    model = torch.nn.Linear(10, 10)
    t_opt = torch.optim.Adam(model.parameters(), lr=0.01)
    t_sched = _TutorialScheduler(t_opt, 10, 0.5)
    expected = []
    for epoch in range(EPOCHS):
        t_sched.update(epoch)
        expected.append(t_opt.state_dict()["param_groups"][0]["lr"])

    halve = L.lambda_lr(0.01, lambda e: 0.5 ** (e // 10))
    np.testing.assert_allclose(np.asarray(halve(jnp.arange(1, EPOCHS + 1))), expected, rtol=1e-12, atol=0)

    for make in (lambda o: L.LambdaLR(o, lambda e: 0.5 ** (e // 10)), lambda o: _HalveEvery(o)):
        opt = Adam(_linear_params(), lr=0.01)
        sched = make(opt)
        got = []
        for _ in range(EPOCHS):
            sched.step()
            got.append(opt.param_groups[0]["lr"])
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)


SCHEDULES = {
    "lambda": lambda: L.lambda_lr(0.1, lambda e: 0.9**e),
    "multiplicative": lambda: L.multiplicative_lr(0.1, lambda e: 0.99),
    "step": lambda: L.step_lr(0.1, 3, 0.5),
    "multi_step": lambda: L.multi_step_lr(0.1, [3, 7]),
    "constant": lambda: L.constant_lr(0.1),
    "linear": lambda: L.linear_lr(0.1),
    "exponential": lambda: L.exponential_lr(0.1, 0.9),
    "polynomial": lambda: L.polynomial_lr(0.1, 8, 2.0),
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_traced_step_equals_concrete_and_compiles_once(name):
    s = SCHEDULES[name]()
    traces = []

    @jax.jit
    def f(k):
        traces.append(1)
        return s(k)

    for k in range(12):
        assert float(f(jnp.int32(k))) == pytest.approx(float(s(k)), rel=1e-15, abs=0)
    assert len(traces) == 1
    assert f(jnp.int32(3)).dtype == jnp.float64


@pytest.mark.parametrize("bad, match", [
    (lambda: L.step_lr(0.1, step_size=-1), "step_size"),
    (lambda: L.step_lr(0.1, step_size=0), "step_size"),
    (lambda: L.StepLR(Adam(_linear_params()), step_size=-2), "step_size"),
    (lambda: L.constant_lr(0.1, factor=1.5), "between 0 and 1"),
    (lambda: L.constant_lr(0.1, factor=0.0, total_iters=3), "ZeroDivisionError"),
    (lambda: L.linear_lr(0.1, start_factor=0.0), "Starting multiplicative factor"),
    (lambda: L.LinearLR(Adam(_linear_params()), end_factor=2.0), "Ending multiplicative factor"),
    (lambda: L.polynomial_lr(0.1, total_iters=-1), "total_iters"),
    (lambda: L.step_lr(0.1, 3)(-1), "k must be >= 0"),
])
def test_bad_arguments_raise_value_error(bad, match):
    with pytest.raises(ValueError, match=match):
        bad()


def test_lambda_lists_must_match_groups_and_be_callable():
    opt = Adam([{"params": _linear_params()}, {"params": {"x": jnp.zeros(2)}}], lr=0.1)
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas"):
        L.LambdaLR(opt, [lambda e: 1.0])
    with pytest.raises(TypeError, match="lr_lambda should be a function"):
        L.MultiplicativeLR(opt, 0.5)
    with pytest.raises(TypeError, match="lr_lambda should be a function"):
        L.multiplicative_lr(0.1, 0.5)
