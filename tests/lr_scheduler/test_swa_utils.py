"""jloss/optim/swa_utils.py: parameter averaging against torch's AveragedModel on nn.Linear(10, 10);
SWALR in a training loop (its per-step LRs are in the parity suite, swa_utils.SWALR)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from torch.optim import swa_utils as TS

from jloss.optim import swa_utils as S
from jloss.optim._stateful import SGD

RULES = {
    "default": ({}, {}),
    "ema-multi": ({"multi_avg_fn": TS.get_ema_multi_avg_fn(0.9)}, {"multi_avg_fn": S.get_ema_multi_avg_fn(0.9)}),
    "swa-multi": ({"multi_avg_fn": TS.get_swa_multi_avg_fn()}, {"multi_avg_fn": S.get_swa_multi_avg_fn()}),
    "swa-avg": ({"avg_fn": TS.get_swa_avg_fn()}, {"avg_fn": S.get_swa_avg_fn()}),
    "ema-avg": ({"avg_fn": TS.get_ema_avg_fn(0.95)}, {"avg_fn": S.get_ema_avg_fn(0.95)}),
}


def _params(lin):
    return {k: jnp.asarray(v.detach().numpy()) for k, v in lin.state_dict().items()}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("rule", sorted(RULES))
def test_averaged_weights_match_torch_averaged_model(rule, dtype):
    torch_kw, our_kw = RULES[rule]
    torch.manual_seed(0)
    lin = torch.nn.Linear(10, 10).to(dtype)
    ref = TS.AveragedModel(lin, **torch_kw)
    ours = S.AveragedModel(_params(lin), **our_kw)
    state = S.swa_init(_params(lin))
    rng = np.random.default_rng(0)
    # EMA as a per-array avg_fn is one FMA away from torch under jit (documented); the rest is exact
    tol = 4 * float(np.finfo(np.float64 if dtype == torch.float64 else np.float32).eps) if rule == "ema-avg" else 0.0
    for _ in range(6):
        with torch.no_grad():
            for p in lin.parameters():
                p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape))).to(dtype))
        ref.update_parameters(lin)
        ours.update_parameters(_params(lin))
        state = S.swa_update(state, _params(lin), **our_kw)
        want = {k.removeprefix("module."): v.numpy() for k, v in ref.state_dict().items() if k != "n_averaged"}
        for k, w in want.items():
            np.testing.assert_allclose(np.asarray(ours.params[k]), w, rtol=tol, atol=tol)
            np.testing.assert_allclose(np.asarray(state.params[k]), w, rtol=tol, atol=tol)
            assert ours.params[k].dtype == state.params[k].dtype == w.dtype
        assert int(ours.n_averaged) == int(state.n_averaged) == int(ref.n_averaged)


def test_swa_update_is_jittable_and_checks_arguments():
    p = {"w": jnp.ones(3)}
    state = jax.jit(S.swa_update)(S.swa_init(p), {"w": jnp.full(3, 3.0)})
    state = jax.jit(S.swa_update)(state, {"w": jnp.full(3, 5.0)})
    np.testing.assert_array_equal(np.asarray(state.params["w"]), 4.0)
    with pytest.raises(ValueError, match="Only one of avg_fn and multi_avg_fn"):
        S.swa_update(state, p, avg_fn=S.get_swa_avg_fn(), multi_avg_fn=S.get_swa_multi_avg_fn())
    with pytest.raises(ValueError, match="structure"):
        S.swa_update(state, {"v": jnp.ones(3)})
    with pytest.raises(ValueError, match="decay"):
        S.get_ema_multi_avg_fn(1.5)
    with pytest.raises(ValueError, match="anneal_strategy"):
        S.swalr(0.1, 0.01, anneal_strategy="exp")
    with pytest.raises(ValueError, match="anneal_epochs"):
        S.SWALR(SGD(p, lr=0.1), 0.01, anneal_epochs=-1)


def test_swa_training_loop_matches_torch():
    """torch's SWA recipe: SGD, CosineAnnealingLR, then from swa_start SWALR and averaging every epoch."""
    rng = np.random.default_rng(3)
    grads = rng.standard_normal((20, 4))
    swa_start = 8
    tp = torch.nn.Parameter(torch.zeros(4, dtype=torch.float64))
    topt = torch.optim.SGD([tp], lr=0.1, momentum=0.9)
    tswa_model = TS.AveragedModel(torch.nn.ParameterList([tp]))
    tsched = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=20)
    tswa = TS.SWALR(topt, swa_lr=0.05, anneal_epochs=4)

    from jloss.optim import lr_scheduler as L

    jopt = SGD({"p": jnp.zeros(4)}, lr=0.1, momentum=0.9)
    avg = S.swa_init(jopt.params)
    jsched = L.CosineAnnealingLR(jopt, T_max=20)
    jswa = S.SWALR(jopt, swa_lr=0.05, anneal_epochs=4)
    for e, g in enumerate(grads):
        tp.grad = torch.tensor(g)
        topt.step()
        jopt.step({"p": jnp.asarray(g)})
        if e >= swa_start:
            tswa_model.update_parameters(torch.nn.ParameterList([tp]))
            avg = S.swa_update(avg, jopt.params)
            tswa.step()
            jswa.step()
        else:
            tsched.step()
            jsched.step()
        assert jswa.get_last_lr() == pytest.approx(tswa.get_last_lr(), rel=1e-15)
    np.testing.assert_allclose(np.asarray(jopt.params["p"]), tp.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(np.asarray(avg.params["p"]), tswa_model.module[0].detach().numpy(), rtol=1e-12, atol=1e-15)
