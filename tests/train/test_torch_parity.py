"""Training LeNet in jloss gives torch's loss curve: same init (torch's weights imported), same
batches, 200 steps; and torch checkpoints resume in jloss (and back) on torch's curve.

SPEC tolerances: loss curve <= 1e-4 (float32) and <= 1e-8 (float64), relative per step.

float32 recipes are chosen where training is not chaotic: at SGD lr=0.01 with momentum 0.9 (batch
16) the float32 loss curve amplifies rounding differences exponentially -- torch against itself
with one thread instead of two already drifts by 7e-3 at lr=0.005 -- so no float32 implementation
can stay within 1e-4 there. That aggressive recipe is kept in float64, where it holds to 1e-8.
"""

import numpy as np
import pytest
import torch
from flax import nnx

import jloss.nn
from jloss import data, interop, models, optim
from jloss.models.torch_reference import torch_twin
from jloss.optim import lr_scheduler as L
from jloss.train import make_train_step, parameters, split_model

STEPS, BATCH, PER_EPOCH = 200, 16, 20  # the scheduler steps every PER_EPOCH batches ("epochs")


TorchNet = torch_twin("Net")  # the 60-minute-blitz LeNet of tutorial 004


@pytest.fixture(scope="module")
def batches():
    ds = data.load_mnist(pad_to=32)
    order = data.epoch_permutation(len(ds), seed=1, epoch=0)[: STEPS * BATCH]
    return [(ds.images[i], ds.labels[i]) for i in order.reshape(STEPS, BATCH)]


RECIPES = {
    "sgd-momentum": (lambda M, p: M.SGD(p, lr=0.01, momentum=0.5), None),
    "adam-steplr": (lambda M, p: M.Adam(p, lr=1e-3), lambda M, o: M.StepLR(o, step_size=2, gamma=0.5)),
    "sgd-momentum-chaotic": (lambda M, p: M.SGD(p, lr=0.01, momentum=0.9, nesterov=True), None),
}


def torch_curve(tnet, topt, tsched, batches, dtype):
    losses = []
    for i, (x, y) in enumerate(batches):
        topt.zero_grad()
        loss = torch.nn.functional.cross_entropy(tnet(torch.from_numpy(x.transpose(0, 3, 1, 2)).to(dtype)),
                                                 torch.from_numpy(y).long())
        loss.backward()
        topt.step()
        losses.append(loss.item())
        if tsched is not None and (i + 1) % PER_EPOCH == 0:
            tsched.step()
    return np.asarray(losses)


def jloss_curve(net, opt, sched, batches, dtype):
    """The loop fit runs: one fused, donated step per batch over the optimizer object's state."""
    sm = split_model(net)
    opt.param_groups[0]["params"] = sm.params
    step = make_train_step(sm.apply_train, jloss.nn.CrossEntropyLoss(), lambda p, g, s: _first(opt.update_fn()([p], [g], s)))
    losses = []
    for i, (x, y) in enumerate(batches):
        ps, states = opt.functional_state()
        p, s, m = step(ps[0], states, x.astype(dtype), y)
        opt.set_functional_state([p], s)
        losses.append(float(m.loss_sum / m.count))
        if sched is not None and (i + 1) % PER_EPOCH == 0:
            sched.step()
    nnx.update(net, nnx.State(_param_state(net, opt.params)))
    return np.asarray(losses)


def _first(out):
    (p,), s = out
    return p, s


def _param_state(net, params):
    state = nnx.state(net, nnx.Param)
    nnx.replace_by_pure_dict(state, params)
    return state


def _pair(dtype):
    torch.manual_seed(0)
    tnet = TorchNet().to(torch.float64 if dtype == np.float64 else torch.float32)
    net = models.Net(rngs=nnx.Rngs(0), param_dtype=dtype)
    interop.load_torch_state_dict(net, tnet.state_dict())
    return tnet, net


def rel(a, b):
    return float(np.max(np.abs(a - b) / np.abs(b)))


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-4), (np.float64, 1e-8)], ids=["f32", "f64"])
@pytest.mark.parametrize("recipe", RECIPES)
def test_200_steps_follow_torch_loss_curve(recipe, dtype, tol, batches):
    if recipe.endswith("chaotic") and dtype == np.float32:
        pytest.skip("float32 rounding is amplified chaotically by this recipe in torch itself (module docstring)")
    if recipe == "sgd-momentum" and dtype == np.float64:
        pytest.skip("SGD in float64 is covered by the harder sgd-momentum-chaotic recipe")
    make_opt, make_sched = RECIPES[recipe]
    tnet, net = _pair(dtype)
    topt = make_opt(torch.optim, tnet.parameters())
    opt = make_opt(optim, parameters(net))
    tsched = make_sched(torch.optim.lr_scheduler, topt) if make_sched else None
    sched = make_sched(L, opt) if make_sched else None
    t = torch_curve(tnet, topt, tsched, batches, tnet.fc1.weight.dtype)
    j = jloss_curve(net, opt, sched, batches, dtype)
    assert t[-20:].mean() < 0.85 * t[:20].mean()  # it learns: the comparison is over a real descent
    assert rel(j, t) <= tol, f"worst step {int(np.argmax(np.abs(j - t) / np.abs(t)))}: {rel(j, t):.3g}"


def test_torch_checkpoint_resumes_in_jloss_and_back(batches, tmp_path):
    """torch trains 100 steps (Adam + StepLR) and torch.save-s {model, optimizer, scheduler, epoch};
    jloss loads it and runs the next 60 steps on torch's curve; jloss's state then goes back to
    torch, which runs the last 40 on jloss's curve."""
    tnet, _ = _pair(np.float32)
    topt = torch.optim.Adam(tnet.parameters(), lr=1e-3)
    tsched = torch.optim.lr_scheduler.StepLR(topt, step_size=2, gamma=0.5)
    torch_curve(tnet, topt, tsched, batches[:100], torch.float32)
    path = tmp_path / "torch.pt"
    torch.save({"model": tnet.state_dict(), "optimizer": topt.state_dict(), "scheduler": tsched.state_dict(),
                "epoch": 5}, path)
    t_rest = torch_curve(tnet, topt, tsched, batches[100:], torch.float32)  # torch's own continuation

    ck = interop.load_torch_checkpoint(path)
    net = models.Net(rngs=nnx.Rngs(123))
    interop.load_torch_state_dict(net, ck["model"])
    opt = optim.Adam(parameters(net), lr=0.5)  # lr and all state come from the checkpoint
    opt.load_state_dict(interop.optimizer_state_from_torch(ck["optimizer"], net))
    sched = L.StepLR(opt, step_size=7)
    sched.load_state_dict(ck["scheduler"])
    assert ck["epoch"] == 5 and opt.param_groups[0]["lr"] == pytest.approx(2.5e-4) and sched.last_epoch == 5
    j_mid = jloss_curve(net, opt, sched, batches[100:160], np.float32)
    assert rel(j_mid, t_rest[:60]) <= 1e-4

    back = TorchNet()
    back.load_state_dict({k: torch.from_numpy(v) for k, v in interop.torch_state_dict(net).items()})
    bopt = torch.optim.Adam(back.parameters(), lr=0.5)
    bopt.load_state_dict(interop.optimizer_state_to_torch(opt.state_dict(), net))
    bsched = torch.optim.lr_scheduler.StepLR(bopt, step_size=7)
    bsched.load_state_dict(sched.state_dict())
    # the schedule counts "epochs" of PER_EPOCH batches from the start of the run: 160 = 8 epochs done
    t_end = torch_curve(back, bopt, bsched, batches[160:], torch.float32)
    assert rel(t_end, t_rest[60:]) <= 1e-4
