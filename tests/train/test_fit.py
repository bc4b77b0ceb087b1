"""fit / evaluate (jloss/train/_fit.py): training works, schedulers and checkpoints behave, bad input
is named. Cross-framework curves are in test_torch_parity.py."""

import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import optax
import pytest
from flax import nnx

import jloss.nn
from jloss import data, models, optim
from jloss.optim import lr_scheduler as L
from jloss.train import CheckpointError, evaluate, fit, load_checkpoint, parameters


@pytest.fixture(scope="module")
def digits():
    ds = data.load_digits(size=32)
    train, test = data.train_test_split(ds, 0.25, seed=0)
    return train[:480], test[:160]


def _net(seed=0):
    return models.Net(rngs=nnx.Rngs(seed))


def _leaves(model):
    return [np.asarray(a) for a in jax.tree.leaves(parameters(model))]


def test_fit_learns_and_reports_history(digits):
    train, test = digits
    net = _net()
    before = evaluate(net, jloss.nn.CrossEntropyLoss(), test)
    opt = optim.Adam(parameters(net), lr=3e-3)
    sched = L.StepLR(opt, step_size=2, gamma=0.5)
    h = fit(net, opt, jloss.nn.CrossEntropyLoss(), train, epochs=4, batch_size=32, eval_data=test,
            scheduler=sched, progress=False)
    assert h.epoch == [1, 2, 3, 4] and h.lr == [3e-3, 3e-3, 1.5e-3, 1.5e-3]
    assert h.train_loss[-1] < h.train_loss[0] and h.test_accuracy[-1] > 0.7 > before["accuracy"]
    after = evaluate(net, jloss.nn.CrossEntropyLoss(), test)  # the model was trained in place
    assert after["accuracy"] == pytest.approx(h.test_accuracy[-1]) and after["loss"] == pytest.approx(h.test_loss[-1])
    assert opt.param_groups[0]["lr"] == 7.5e-4 and sched.last_epoch == 4


def test_optax_transformation_and_per_batch_scheduler(digits):
    train, _ = digits
    net = _net()
    steps = []
    h = fit(net, optax.sgd(0.05, momentum=0.9), jloss.nn.CrossEntropyLoss(), train, epochs=2, batch_size=48,
            progress=False, step_callback=lambda e, i, m: steps.append((e, i, float(m.loss_sum / m.count))))
    assert h.lr == [None, None] and h.train_loss[1] < h.train_loss[0]
    assert [(e, i) for e, i, _ in steps] == [(e, i) for e in (1, 2) for i in range(10)]  # 480 rows / 48
    assert np.mean([loss for e, _, loss in steps if e == 1]) == pytest.approx(h.train_loss[0], rel=1e-6)
    net = _net()
    opt = optim.SGD(parameters(net), lr=0.1, momentum=0.9)
    sched = L.OneCycleLR(opt, max_lr=0.1, total_steps=20)
    h = fit(net, opt, jloss.nn.CrossEntropyLoss(), train, epochs=2, batch_size=48, scheduler=sched,
            scheduler_interval="batch", progress=False)
    expected = L.one_cycle_lr(0.1, total_steps=20)
    assert h.lr == pytest.approx([float(expected(0)), float(expected(10))], rel=1e-12)
    assert opt.param_groups[0]["momentum"] == pytest.approx(float(expected.momentum(20)))


def test_resume_after_a_kill_is_bit_identical(digits, tmp_path):
    """Train 3 epochs in one go; separately, a subprocess trains with checkpoints and is SIGKILLed right
    after epoch 2's checkpoint; resuming from it must reach exactly the same parameters."""
    train, test = digits
    np.savez(tmp_path / "d.npz", x=train[0], y=train[1])
    ck = tmp_path / "run.ckpt"

    def run(net, epochs, **kw):
        opt = optim.SGD(parameters(net), lr=0.05, momentum=0.9, nesterov=True)
        sched = L.ExponentialLR(opt, gamma=0.7)
        h = fit(net, opt, jloss.nn.CrossEntropyLoss(), (train[0], train[1]), epochs=epochs,
                batch_size=40, scheduler=sched, seed=3, progress=False, **kw)
        return h, opt

    straight = _net(1)
    h_full, opt_full = run(straight, 3)
    script = textwrap.dedent(f"""
        import os, signal, numpy as np
        import jax; jax.config.update("jax_numpy_rank_promotion", "raise")
        from flax import nnx
        import jloss.nn
        from jloss import models, optim
        from jloss.optim import lr_scheduler as L
        from jloss.train import fit, parameters
        d = np.load({str(tmp_path / "d.npz")!r})
        net = models.Net(rngs=nnx.Rngs(1))
        opt = optim.SGD(parameters(net), lr=0.05, momentum=0.9, nesterov=True)
        sched = L.ExponentialLR(opt, gamma=0.7)
        def die(epoch, record):
            if epoch == 2:
                os.kill(os.getpid(), signal.SIGKILL)
        fit(net, opt, jloss.nn.CrossEntropyLoss(), (d["x"], d["y"]), epochs=3, batch_size=40, scheduler=sched,
            seed=3, progress=False, checkpoint={str(ck)!r}, callback=die)
    """)
    env = {**os.environ, "JAX_ENABLE_X64": "1"}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    assert load_checkpoint(ck)["epoch"] == 2
    resumed = _net(7)  # a different init: everything must come from the checkpoint
    h_res, opt_res = run(resumed, 3, checkpoint=ck, resume=True)
    assert all(np.array_equal(a, b) for a, b in zip(_leaves(straight), _leaves(resumed), strict=True))
    assert h_res.train_loss == h_full.train_loss and h_res.lr == h_full.lr
    sd_a, sd_b = opt_full.state_dict(), opt_res.state_dict()
    assert sd_a["param_groups"] == sd_b["param_groups"]
    for k in sd_a["state"]:
        assert np.array_equal(sd_a["state"][k]["momentum_buffer"], sd_b["state"][k]["momentum_buffer"])
    assert load_checkpoint(ck)["epoch"] == 3


def test_resume_refuses_another_seed_and_corrupt_files(digits, tmp_path):
    train, _ = digits
    ck = tmp_path / "c.ckpt"
    net = _net()
    opt = optim.SGD(parameters(net), lr=0.01)
    fit(net, opt, jloss.nn.CrossEntropyLoss(), train, epochs=1, checkpoint=ck, progress=False)
    with pytest.raises(ValueError, match="seed 0, fit got seed=1"):
        fit(net, opt, jloss.nn.CrossEntropyLoss(), train, epochs=2, checkpoint=ck, resume=True, seed=1,
            progress=False)
    ck.write_bytes(ck.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        fit(net, opt, jloss.nn.CrossEntropyLoss(), train, epochs=2, checkpoint=ck, resume=True, progress=False)
    fresh = tmp_path / "absent.ckpt"  # resume with no checkpoint yet starts from scratch
    h = fit(net, opt, jloss.nn.CrossEntropyLoss(), train, epochs=1, checkpoint=fresh, resume=True, progress=False)
    assert h.epoch == [1] and fresh.exists()


def test_bad_arguments_are_named(digits):
    train, _ = digits
    net = _net()
    opt = optim.SGD(parameters(net), lr=0.01)
    ce = jloss.nn.CrossEntropyLoss()
    cases = [
        (dict(epochs=-1), ValueError, "epochs must be an int >= 0"),
        (dict(batch_size=0), ValueError, "batch_size must be an int >= 1"),
        (dict(scheduler_interval="step"), ValueError, "scheduler_interval must be 'epoch' or 'batch'"),
        (dict(resume=True), ValueError, "resume=True needs checkpoint"),
        (dict(eval_data=(train[0], train[1][:3])), ValueError, "eval_data needs as many targets"),
        (dict(scheduler=L.StepLR(optim.SGD(parameters(net), lr=0.1), 1)), ValueError, "built on the optimizer"),
    ]
    for kw, exc, match in cases:
        with pytest.raises(exc, match=match):
            fit(net, opt, ce, train, progress=False, **kw)
    with pytest.raises(TypeError, match="train_data must be"):
        fit(net, opt, ce, train[0], progress=False)
    with pytest.raises(TypeError, match="optimizer must be a jloss.optim optimizer object"):
        fit(net, "adam", ce, train, progress=False)
    with pytest.raises(TypeError, match="LBFGS needs a closure"):
        fit(net, optim.LBFGS(parameters(net)), ce, train, progress=False)
    with pytest.raises(ValueError, match="scheduler object drives a jloss.optim optimizer object"):
        fit(net, optax.sgd(0.1), ce, train, scheduler=L.StepLR(opt, 1), progress=False)
    with pytest.raises(ValueError, match="optimizer's params must be jloss.train.parameters"):
        fit(net, optim.SGD({"w": np.ones(3)}, lr=0.1), ce, train, progress=False)
    with pytest.raises(TypeError, match="must be a flax.nnx.Module"):
        fit(object(), opt, ce, train, progress=False)
