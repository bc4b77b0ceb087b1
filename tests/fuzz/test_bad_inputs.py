"""The bad-input matrix: every public loss, optimizer and scheduler, given a wrong rank, a mismatched
batch, a wrong dtype, a bad option string or an out-of-range hyperparameter, raises ``ValueError`` /
``TypeError`` whose message starts with the function's name and names the argument -- and torch
refuses the same call (unless jloss is deliberately stricter, marked ``stricter``). Optimizers and
schedulers whose ``step`` / ``load_state_dict`` fails are left unchanged.
"""

from __future__ import annotations

import copy
import dataclasses
import warnings
from typing import Any

import jax.numpy as jnp
import numpy as np
import pytest
import torch
from _strategies import record

import jloss
import jloss.functional as F
import jloss.optim as O

TF = torch.nn.functional
r = np.random.default_rng(0)
X = r.standard_normal((3, 4))  # (N, C)
T = np.array([0, 3, 1])  # class indices
P = r.uniform(0.05, 0.95, (3, 4))  # probabilities
PM = np.array([1.0, -1.0, 1.0])  # +-1 targets
V = r.standard_normal((3, 5))  # embeddings (N, D)
W = r.standard_normal((5, 4))  # linear_weight (C, in_features) for an input X


@dataclasses.dataclass(frozen=True)
class Bad:
    """``fn(*args, **kwargs)`` must raise naming ``arg``; ``torch`` False: no torch counterpart;
    ``stricter``: torch accepts it (a documented difference)."""

    fn: str
    label: str
    args: tuple
    kwargs: dict
    arg: str
    torch: bool = True
    stricter: bool = False


def _b(fn, label, args, arg, torch_=True, stricter=False, **kwargs):
    return Bad(fn, label, args, kwargs, arg, torch_, stricter)


def _lengths(*xs):
    return tuple(np.asarray(x) for x in xs)


LP = np.log(P / P.sum(1, keepdims=True))
CTC_LP = np.log(np.full((5, 2, 4), 0.25))  # (T, N, C)
CTC = (CTC_LP, np.array([[1, 2], [3, 1]]), np.array([5, 5]), np.array([2, 1]))

BAD = [
    # ---- pointwise regression
    *[_b(f, "reduction", (X, X), "reduction", reduction="avg") for f in ("l1_loss", "mse_loss", "smooth_l1_loss",
                                                                          "huber_loss", "soft_margin_loss")],
    *[_b(f, "no-broadcast", (X, X[:, :3]), "target") for f in ("l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss")],
    *[_b(f, "weight-shape", (X, X), "weight", weight=np.ones(4)) for f in ("l1_loss", "mse_loss", "huber_loss")],
    _b("l1_loss", "int-input", (T, T), "input"),
    _b("mse_loss", "bool-input", (T > 0, T > 0), "input"),
    _b("huber_loss", "delta<=0", (X, X), "delta", delta=-1.0),
    _b("smooth_l1_loss", "beta<0", (X, X), "beta", beta=-1.0),
    _b("smooth_l1_loss", "beta-str", (X, X), "beta", beta="one"),
    _b("poisson_nll_loss", "no-broadcast", (X, X[:, :3]), "target"),
    _b("poisson_nll_loss", "reduction", (X, X), "reduction", reduction="batchmean"),
    _b("gaussian_nll_loss", "var<0", (X, X, -np.ones((3, 4))), "var"),
    _b("gaussian_nll_loss", "var-shape", (X, X, np.ones((3, 2))), "var"),
    _b("gaussian_nll_loss", "reduction", (X, X, np.ones((3, 4))), "reduction", reduction="avg"),
    _b("kl_div", "reduction", (LP, P), "reduction", reduction="avg"),
    _b("kl_div", "int-input", (T, T), "input"),
    # ---- classification
    _b("cross_entropy", "batch", (X, T[:2]), "target"),
    _b("cross_entropy", "float-target-shape", (X, P[:, :3]), "target"),
    _b("cross_entropy", "weight-length", (X, T), "weight", weight=np.ones(3)),
    _b("cross_entropy", "label_smoothing>1", (X, T), "label_smoothing", label_smoothing=1.5),
    _b("cross_entropy", "label_smoothing<0", (X, T), "label_smoothing", stricter=True, label_smoothing=-0.1),
    _b("cross_entropy", "class-out-of-range", (X, np.array([0, 4, 1])), "target"),
    _b("cross_entropy", "0-d-input", (np.array(1.0), np.array(0)), "input"),
    _b("cross_entropy", "prob-ignore_index", (X, P), "ignore_index", ignore_index=1),
    _b("cross_entropy", "reduction", (X, T), "reduction", reduction="avg"),
    _b("nll_loss", "batch", (LP, T[:2]), "target"),
    _b("nll_loss", "float-target", (LP, T.astype(float)), "target"),
    _b("nll_loss", "weight-length", (LP, T), "weight", weight=np.ones(5)),
    _b("nll_loss", "class-out-of-range", (LP, np.array([0, -2, 1])), "target"),
    _b("binary_cross_entropy", "input>1", (P + 1, P), "input"),
    _b("binary_cross_entropy", "target-shape", (P, P[:2]), "target"),
    _b("binary_cross_entropy", "weight-shape", (P, P), "weight", weight=np.ones(3)),
    _b("binary_cross_entropy_with_logits", "target-shape", (X, P[:, :2]), "target"),
    _b("binary_cross_entropy_with_logits", "pos_weight-shape", (X, P), "pos_weight", pos_weight=np.ones(3)),
    _b("binary_cross_entropy_with_logits", "int-input", (T, T.astype(float)), "input"),
    _b("linear_cross_entropy", "in_features", (V, X, T), "linear_weight"),
    _b("linear_cross_entropy", "bias-shape", (X, W, T), "linear_bias", linear_bias=np.ones(4)),
    _b("linear_cross_entropy", "batch", (X, W, T[:2]), "target"),
    _b("linear_cross_entropy", "label_smoothing", (X, W, T), "label_smoothing", label_smoothing=2.0),
    _b("linear_cross_entropy", "3-d-input", (X[None], W, T), "input"),
    # ---- margin
    _b("margin_ranking_loss", "ranks", (X[:, 0], X[:, :1], PM), "input2"),
    _b("margin_ranking_loss", "margin-str", (X[:, 0], X[:, 1], PM), "margin", margin="1"),
    _b("hinge_embedding_loss", "target-shape", (X, PM[:2]), "target"),
    _b("hinge_embedding_loss", "reduction", (X, np.ones((3, 4))), "reduction", reduction=None),
    _b("multilabel_soft_margin_loss", "weight-shape", (X, P), "weight", weight=np.ones(3)),
    _b("multilabel_soft_margin_loss", "target-shape", (X, P[:2]), "target"),
    _b("multilabel_margin_loss", "float-target", (X, np.zeros((3, 4))), "target"),
    _b("multilabel_margin_loss", "target-shape", (X, np.zeros((3, 3), np.int64)), "target"),
    _b("multilabel_margin_loss", "3-d-input", (X[None], np.zeros((1, 3, 4), np.int64)), "input"),
    _b("multi_margin_loss", "p=3", (X, T), "p", p=3),
    _b("multi_margin_loss", "batch", (X, T[:2]), "target"),
    _b("multi_margin_loss", "weight-shape", (X, T), "weight", weight=np.ones(3)),
    _b("multi_margin_loss", "class-out-of-range", (X, np.array([0, 9, 1])), "target"),
    # ---- embedding
    _b("cosine_embedding_loss", "input2-shape", (V, V[:, :4], PM), "input2"),
    _b("cosine_embedding_loss", "target-shape", (V, V, PM[:2]), "target"),
    _b("cosine_embedding_loss", "3-d", (V[None], V[None], PM), "input1"),
    _b("triplet_margin_loss", "positive-shape", (V, V[:, :4], V), "positive"),
    _b("triplet_margin_loss", "reduction", (V, V, V), "reduction", reduction="avg"),
    _b("triplet_margin_with_distance_loss", "margin<=0", (V, V, V), "margin", margin=0.0),
    _b("triplet_margin_with_distance_loss", "distance_function", (V, V, V), "distance_function",
       distance_function=3),
    _b("pairwise_distance", "no-broadcast", (V, V[:2]), "x2"),
    _b("pairwise_distance", "p-str", (V, V), "p", p="two"),
    _b("cosine_similarity", "dim", (V, V), "dim", dim=2),
    _b("cosine_similarity", "no-broadcast", (V, V[:, :4]), "x2"),
    # ---- CTC
    _b("ctc_loss", "1-d-log_probs", (CTC_LP[:, 0, 0], *CTC[1:]), "log_probs"),
    _b("ctc_loss", "blank", CTC, "blank", blank=4),
    _b("ctc_loss", "input_lengths>T", (CTC_LP, CTC[1], np.array([6, 5]), CTC[3]), "input_lengths"),
    _b("ctc_loss", "input_lengths-size", (CTC_LP, CTC[1], np.array([5]), CTC[3]), "input_lengths"),
    _b("ctc_loss", "target_lengths<0", (CTC_LP, CTC[1], CTC[2], np.array([-1, 1])), "target_lengths"),
    _b("ctc_loss", "float-targets", (CTC_LP, CTC[1].astype(float), CTC[2], CTC[3]), "targets", stricter=True),
    _b("ctc_loss", "reduction", CTC, "reduction", reduction="avg"),
    # ---- extras (no torch counterpart)
    _b("dice_loss", "smooth<0", (X, P), "smooth", False, smooth=-1.0),
    _b("dice_loss", "target-shape", (X, P[:2]), "target", False),
    _b("sigmoid_focal_loss", "reduction", (X, P), "reduction", False, reduction="avg"),
    _b("sigmoid_focal_loss", "target-shape", (X, P[:2]), "target", False),
    _b("softmax_focal_loss", "gamma<0", (X, T), "gamma", False, gamma=-1.0),
    _b("softmax_focal_loss", "batch", (X, T[:2]), "target", False),
]


def _jax(v: Any) -> Any:
    return jnp.asarray(v) if isinstance(v, np.ndarray) else v


def _torch(v: Any) -> Any:
    return torch.from_numpy(np.array(v)) if isinstance(v, np.ndarray) else v


@pytest.mark.parametrize("bad", BAD, ids=[f"{b.fn}-{b.label}" for b in BAD])
def test_loss_bad_input(bad: Bad):
    fn = getattr(F, bad.fn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for call in (fn, jloss.checked(fn)):
            with pytest.raises((ValueError, TypeError)) as e:
                call(*map(_jax, bad.args), **{k: _jax(v) for k, v in bad.kwargs.items()})
            msg = str(e.value)
            assert msg.startswith(bad.fn), msg
            assert bad.arg in msg, msg
            assert "Traceback" not in msg and "XLA" not in msg, msg
        if bad.torch:
            tfn = getattr(TF, bad.fn)
            if bad.stricter:
                tfn(*map(_torch, bad.args), **{k: _torch(v) for k, v in bad.kwargs.items()})
            else:
                with pytest.raises(Exception):  # noqa: B017  (torch's own error types vary)
                    tfn(*map(_torch, bad.args), **{k: _torch(v) for k, v in bad.kwargs.items()})
    record("bad-input.losses", "deliberate" if bad.stricter else "both-raise")


# ---- optimizers: bad grads, bad state_dicts; nothing changes on failure ---------------------------

CLASSES = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "ASGD", "Rprop", "NAdam", "RAdam",
           "Adafactor", "Muon", "SparseAdam", "LBFGS"]
#: the optimizer whose state_dict is loaded by mistake (its entries are unknown to the target)
OTHER = {"SGD": "Adam"}


def _params(name: str) -> dict:
    return {"v": jnp.ones((3, 3)), "w": jnp.arange(6.0).reshape(2, 3)} if name == "Muon" else \
        {"b": jnp.ones(3), "w": jnp.arange(6.0).reshape(2, 3)}


def _kwargs(name: str) -> dict:
    return {"momentum": 0.9} if name == "SGD" else {}


def _stepped(name: str):
    opt = getattr(O, name)(_params(name), **_kwargs(name))
    if name == "LBFGS":
        opt.step(closure=lambda p: sum(jnp.sum(x**2) for x in p.values()))
    else:
        opt.step({k: jnp.ones_like(v) * 0.5 for k, v in opt.params.items()})
    return opt


def _snapshot(opt) -> tuple:
    sd = copy.deepcopy(opt.state_dict())
    return sd, {k: np.asarray(v) for k, v in opt.params.items()}


def _assert_unchanged(opt, snap) -> None:
    sd, params = snap
    now = opt.state_dict()
    assert now["param_groups"] == sd["param_groups"]
    assert sorted(now["state"]) == sorted(sd["state"])
    for i, entry in sd["state"].items():
        assert sorted(now["state"][i]) == sorted(entry)
        for k, v in entry.items():
            np.testing.assert_array_equal(np.asarray(now["state"][i][k], dtype=object if isinstance(v, list) else None),
                                          np.asarray(v, dtype=object if isinstance(v, list) else None))
    for k, v in params.items():
        np.testing.assert_array_equal(np.asarray(opt.params[k]), v)


@pytest.mark.parametrize("name", CLASSES)
def test_optimizer_bad_grads_change_nothing(name):
    opt = _stepped(name)
    snap = _snapshot(opt)
    p = opt.params
    if name == "LBFGS":
        bads = [({k: jnp.ones_like(v) for k, v in p.items()}, "closure")]
    else:
        bads = [({"w": p["w"]}, "grads"), ({k: jnp.ones((7,)) for k in p}, "grads"), (list(p.values()), "grads"),
                (None, "grads")]
    for grads, arg in bads:
        with pytest.raises((ValueError, TypeError)) as e:
            opt.step(grads)
        assert str(e.value).startswith(name) and arg in str(e.value), str(e.value)
        _assert_unchanged(opt, snap)
    # the functional transform names grads too
    fn = getattr(O, {"SparseAdam": "sparse_adam"}.get(name, name.lower()))
    tx = fn(**_kwargs(name))
    state = tx.init(p)
    with pytest.raises(ValueError, match="grads"):
        tx.update({"w": p["w"]}, state, p)
    record("bad-input.optim", "both-raise")


def _broken_state_dicts(name: str, opt) -> list:
    sd = opt.state_dict()
    other = getattr(O, OTHER.get(name, "SGD"))(_params(name), momentum=0.9) if OTHER.get(name, "SGD") == "SGD" else \
        getattr(O, OTHER[name])(_params(name))
    other.step({k: jnp.ones_like(v) for k, v in other.params.items()})
    missing_entry = copy.deepcopy(sd)
    first = missing_entry["state"][0]
    first.pop(sorted(k for k in first if k != "step")[0])
    wrong_shape = copy.deepcopy(sd)
    key = next(k for k, v in wrong_shape["state"][0].items() if np.ndim(v) >= 1 and not isinstance(v, list))
    wrong_shape["state"][0][key] = np.zeros((9, 9))
    two_groups = copy.deepcopy(sd)
    two_groups["param_groups"] = two_groups["param_groups"] * 2
    out = [("another optimizer's", other.state_dict()), ("no param_groups", {"state": sd["state"]}),
           ("not a dict", None), ("an entry missing", missing_entry), ("two groups", two_groups),
           ("unknown hyperparameter", {**sd, "param_groups": [{**sd["param_groups"][0], "bogus": 1.0}]})]
    if name != "LBFGS":
        out.append(("an entry of the wrong shape", wrong_shape))
    return out


@pytest.mark.parametrize("name", CLASSES)
def test_optimizer_bad_state_dict_changes_nothing(name):
    opt = _stepped(name)
    snap = _snapshot(opt)
    for label, sd in _broken_state_dicts(name, opt):
        with pytest.raises((ValueError, TypeError)) as e:
            opt.load_state_dict(sd)
        assert str(e.value).startswith(f"{name}.load_state_dict") or str(e.value).startswith(name), (label, str(e.value))
        _assert_unchanged(opt, snap)
    # and it still loads its own, and steps
    opt.load_state_dict(snap[0])
    _assert_unchanged(opt, snap)
    record("bad-input.optim", "both-raise")


@pytest.mark.parametrize("params", [{"w": jnp.arange(3)}, [], {}], ids=["int", "empty-list", "empty-dict"])
def test_optimizer_bad_params(params):
    """Integer or no parameters: a named error (torch refuses an empty list; it takes an integer
    tensor and fails only at step: jloss is stricter)."""
    with pytest.raises((ValueError, TypeError)) as e:
        O.Adam(params)
    assert str(e.value).startswith("Adam") and "params" in str(e.value), str(e.value)
    if not params:
        with pytest.raises(ValueError):
            torch.optim.Adam([])
    record("bad-input.optim", "both-raise" if not params else "deliberate")


# ---- schedulers: bad arguments, bad state_dicts ----------------------------------------------------

#: (label, build(M, optimizer), argument named, torch refuses it too)
SCHED_BAD = [
    ("StepLR-step_size=0", lambda M, o: M.StepLR(o, 0), "step_size", True),  # torch: at the first step
    ("MultiStepLR-milestone-float", lambda M, o: M.MultiStepLR(o, [1.5]), "milestones", False),
    ("ConstantLR-factor>1", lambda M, o: M.ConstantLR(o, factor=1.5), "factor", True),
    ("LinearLR-start_factor=0", lambda M, o: M.LinearLR(o, start_factor=0.0), "start_factor", True),
    ("LinearLR-end_factor>1", lambda M, o: M.LinearLR(o, end_factor=1.5), "end_factor", True),
    ("ExponentialLR-gamma-str", lambda M, o: M.ExponentialLR(o, "0.9"), "gamma", True),
    ("PolynomialLR-total_iters<0", lambda M, o: M.PolynomialLR(o, total_iters=-1), "total_iters", False),
    ("CosineAnnealingLR-T_max=0", lambda M, o: M.CosineAnnealingLR(o, 0), "T_max", True),
    ("CosineAnnealingWarmRestarts-T_0=0", lambda M, o: M.CosineAnnealingWarmRestarts(o, 0), "T_0", True),
    ("CosineAnnealingWarmRestarts-T_mult=0", lambda M, o: M.CosineAnnealingWarmRestarts(o, 5, 0), "T_mult", True),
    ("CyclicLR-mode", lambda M, o: M.CyclicLR(o, 0.01, 0.1, mode="sawtooth"), "mode", True),
    ("CyclicLR-max_lr-groups", lambda M, o: M.CyclicLR(o, 0.01, [0.1, 0.2]), "max_lr", True),
    ("OneCycleLR-no-total", lambda M, o: M.OneCycleLR(o, 0.1), "total_steps", True),
    ("OneCycleLR-pct_start", lambda M, o: M.OneCycleLR(o, 0.1, total_steps=10, pct_start=1.5), "pct_start", True),
    ("OneCycleLR-anneal_strategy", lambda M, o: M.OneCycleLR(o, 0.1, total_steps=10, anneal_strategy="exp"),
     "anneal_strategy", True),
    ("OneCycleLR-empty-warm-up", lambda M, o: M.OneCycleLR(o, 0.1, total_steps=2, pct_start=0.5), "pct_start", True),
    ("ReduceLROnPlateau-mode", lambda M, o: M.ReduceLROnPlateau(o, mode="avg"), "mode", True),
    ("ReduceLROnPlateau-threshold_mode", lambda M, o: M.ReduceLROnPlateau(o, threshold_mode="pct"), "threshold_mode",
     True),
    ("ReduceLROnPlateau-factor", lambda M, o: M.ReduceLROnPlateau(o, factor=1.0), "factor", True),
    ("ReduceLROnPlateau-min_lr-groups", lambda M, o: M.ReduceLROnPlateau(o, min_lr=[0.1, 0.2]), "min_lr", True),
    ("LambdaLR-lr_lambda", lambda M, o: M.LambdaLR(o, 3), "lr_lambda", True),
    ("LambdaLR-lr_lambda-groups", lambda M, o: M.LambdaLR(o, [lambda e: 1.0] * 2), "lr_lambda", True),
    ("SequentialLR-milestones", lambda M, o: M.SequentialLR(o, [M.StepLR(o, 2), M.StepLR(o, 3)], [2, 4]),
     "milestones", True),
    ("SequentialLR-empty", lambda M, o: M.SequentialLR(o, [], []), "scheduler", True),
    ("ChainedScheduler-empty", lambda M, o: M.ChainedScheduler([]), "scheduler", True),
    ("SWALR-anneal_strategy", lambda M, o: M.SWALR(o, 0.05, anneal_strategy="exp"), "anneal_strategy", True),
    ("SWALR-anneal_epochs", lambda M, o: M.SWALR(o, 0.05, anneal_epochs=-1), "anneal_epochs", True),
    ("not-an-optimizer", lambda M, o: M.StepLR(object(), 2), "Optimizer", True),
]


def _modules():
    from jloss.parity.cases.lr_scheduler import (  # noqa: PLC0415
        _jloss_module,
        _torch_module,
        jloss_optimizer,
        torch_optimizer,
    )

    return (_jloss_module(), lambda: jloss_optimizer("SGD", (0.1,))), (_torch_module(), lambda: torch_optimizer("SGD", (0.1,)))


@pytest.mark.parametrize("label, build, arg, torch_refuses", SCHED_BAD, ids=[b[0] for b in SCHED_BAD])
def test_scheduler_bad_argument(label, build, arg, torch_refuses):
    (JM, jopt), (TM, topt) = _modules()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises((ValueError, TypeError)) as e:
            build(JM, jopt())
        assert arg.lower() in str(e.value).lower(), str(e.value)
        def torch_run():  # construction and two steps: torch refuses some values only when stepping
            s = build(TM, topt())
            for _ in range(2):
                s.step(*([1.0] if "Plateau" in label else []))

        if torch_refuses:
            with pytest.raises(Exception):  # noqa: B017  (ValueError, TypeError or ZeroDivisionError in torch)
                torch_run()
        else:
            torch_run()  # jloss is stricter here (documented)
    record("bad-input.lr_scheduler", "both-raise" if torch_refuses else "deliberate")


#: schedulers whose failed load_state_dict must leave them unchanged
SCHED_LOAD = [
    ("StepLR", lambda M, o: M.StepLR(o, 3, 0.5)),
    ("LambdaLR", lambda M, o: M.LambdaLR(o, lambda e: 0.9**e)),
    ("CyclicLR", lambda M, o: M.CyclicLR(o, 0.01, 0.1, 4)),
    ("ReduceLROnPlateau", lambda M, o: M.ReduceLROnPlateau(o, patience=1)),
    ("SequentialLR", lambda M, o: M.SequentialLR(o, [M.ConstantLR(o, 0.5, 2), M.ExponentialLR(o, 0.9)], [3])),
    ("ChainedScheduler", lambda M, o: M.ChainedScheduler([M.StepLR(o, 2), M.ExponentialLR(o, 0.9)])),
    ("SWALR", lambda M, o: M.SWALR(o, 0.05, anneal_epochs=3)),
]


@pytest.mark.parametrize("label, build", SCHED_LOAD, ids=[b[0] for b in SCHED_LOAD])
def test_scheduler_bad_state_dict_changes_nothing(label, build):
    (JM, jopt), _ = _modules()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt = jopt()
        sched = build(JM, opt)
        for _ in range(4):
            sched.step(*([1.0] if label == "ReduceLROnPlateau" else []))
        before = copy.deepcopy(sched.state_dict())
        other = JM.CosineAnnealingLR(jopt(), 10).state_dict() if label != "CosineAnnealingLR" else None
        missing = dict(before)
        missing.pop(sorted(k for k in missing if not k.startswith("_schedulers"))[0])
        broken = [other, missing, None, {**before, "bogus": 1}]
        if "_schedulers" in before:
            broken.append({**before, "_schedulers": before["_schedulers"][:1]})
            broken.append({**before, "_schedulers": [before["_schedulers"][0], other]})
        for sd in broken:
            with pytest.raises((ValueError, TypeError)) as e:
                sched.load_state_dict(sd)
            assert str(e.value).startswith(f"{label}.load_state_dict") or "load_state_dict" in str(e.value)
            assert repr(sched.state_dict()) == repr(before)
        sched.load_state_dict(before)
        assert repr(sched.state_dict()) == repr(before)
    record("bad-input.lr_scheduler", "both-raise")
