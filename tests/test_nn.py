"""jloss.nn: every torch loss class, same constructor, same numbers as torch.nn, and a pytree."""

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jloss.nn as jnn

r = np.random.default_rng(0)
X = r.standard_normal((4, 5))
Y = r.standard_normal((4, 5))
P = 1 / (1 + np.exp(-X))
T01 = (r.uniform(size=(4, 5)) > 0.5).astype(np.float64)
CLS = np.array([0, 2, 4, 1])
PM1 = np.where(T01 > 0, 1.0, -1.0)
W5 = r.uniform(0.5, 2.0, 5)
V = r.uniform(0.5, 2.0, (4, 5))
A, B, N = (r.standard_normal((4, 3)) for _ in range(3))
ML = np.array([[3, 0, -1, 1, 2], [1, 2, 3, 4, -1], [0, -1, 2, 2, 2], [4, 4, 4, -1, 0]])
LOGP = np.log(np.exp(X) / np.exp(X).sum(1, keepdims=True))
CTC_LP = np.log(np.exp(r.standard_normal((6, 2, 4))) / np.exp(r.standard_normal((6, 2, 4))).sum(-1, keepdims=True))

# (class name, constructor kwargs, forward inputs)
CASES = [
    ("L1Loss", {}, (X, Y)),
    ("L1Loss", {"reduction": "sum"}, (X, Y)),
    ("MSELoss", {"reduction": "none"}, (X, Y)),
    ("NLLLoss", {"weight": W5, "ignore_index": 2}, (LOGP, CLS)),
    ("CrossEntropyLoss", {"weight": W5, "label_smoothing": 0.1}, (X, CLS)),
    ("CrossEntropyLoss", {"reduction": "sum"}, (X, CLS)),
    ("PoissonNLLLoss", {"full": True, "log_input": False}, (P, np.abs(Y) * 3)),
    ("GaussianNLLLoss", {"full": True}, (X, Y, V)),
    ("KLDivLoss", {"reduction": "batchmean", "log_target": True}, (LOGP, LOGP[::-1].copy())),
    ("BCELoss", {"weight": W5}, (P, T01)),
    ("BCEWithLogitsLoss", {"pos_weight": W5}, (X, T01)),
    ("HingeEmbeddingLoss", {"margin": 0.5}, (X, PM1)),
    ("MultiLabelMarginLoss", {}, (X, ML)),
    ("SmoothL1Loss", {"beta": 0.5}, (X, Y)),
    ("HuberLoss", {"delta": 0.7}, (X, Y)),
    ("SoftMarginLoss", {}, (X, PM1)),
    ("MultiLabelSoftMarginLoss", {"weight": W5}, (X, T01)),
    ("CosineEmbeddingLoss", {"margin": 0.2}, (A, B, PM1[:, 0])),
    ("MarginRankingLoss", {"margin": 0.1}, (X[:, 0].copy(), Y[:, 0].copy(), PM1[:, 0])),
    ("MultiMarginLoss", {"p": 2, "margin": 0.8, "weight": W5}, (X, CLS)),
    ("TripletMarginLoss", {"margin": 0.5, "p": 1.0, "swap": True}, (A, B, N)),
    ("TripletMarginWithDistanceLoss", {"swap": True}, (A, B, N)),
    ("CTCLoss", {"blank": 0, "zero_infinity": True}, (CTC_LP, np.array([[1, 2], [3, 3]]), np.array([6, 5]), np.array([2, 2]))),
]


def _torch(x):
    if isinstance(x, np.ndarray):
        return torch.from_numpy(x.copy()) if x.dtype != np.int64 else torch.from_numpy(x.copy()).long()
    return x


@pytest.mark.parametrize("name,kwargs,inputs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_class_matches_torch_and_is_a_pytree(name, kwargs, inputs):
    ours = getattr(jnn, name)(**{k: jnp.asarray(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()})
    theirs = getattr(torch.nn, name)(**{k: _torch(v) for k, v in kwargs.items()})
    j_inputs = [jnp.asarray(x) for x in inputs]
    expected = theirs(*[_torch(x) for x in inputs]).numpy()
    np.testing.assert_allclose(np.asarray(ours(*j_inputs)), expected, rtol=1e-10, atol=1e-12)
    # a configured loss passes through jit as an argument (weights are leaves, options static)
    out = jax.jit(lambda loss, *xs: loss(*xs))(ours, *j_inputs)
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-10, atol=1e-12)
    leaves = jax.tree.leaves(ours)
    assert all(isinstance(leaf, jax.Array) for leaf in leaves)
    assert len(leaves) == sum(isinstance(v, np.ndarray) for v in kwargs.values())
    assert name in repr(ours)


def test_every_torch_loss_class_exists_with_torch_constructor():
    torch_losses = [n for n in dir(torch.nn) if n.endswith("Loss") and n not in ("AdaptiveLogSoftmaxWithLoss",)]
    for n in torch_losses:
        if n == "LinearCrossEntropyLoss":
            continue  # a Flax NNX module (holds weights): see tests/losses/test_modules.py
        ours = getattr(jnn, n)
        t_params = list(inspect.signature(getattr(torch.nn, n).__init__).parameters)[1:]
        o_params = list(inspect.signature(ours.__init__).parameters)[1:]
        if n == "NLLLoss2d":
            continue  # *args passthrough to NLLLoss
        assert o_params == t_params, n


def test_legacy_arguments_warn_and_map():
    with pytest.warns(DeprecationWarning):
        loss = jnn.MSELoss(size_average=False)
    assert loss.reduction == "sum"
    with pytest.warns(DeprecationWarning):
        assert jnn.NLLLoss2d().reduction == "mean"


def test_constructor_errors_name_the_argument():
    with pytest.raises(ValueError, match="reduction"):
        jnn.L1Loss(reduction="avg")
    with pytest.raises(ValueError, match="margin"):
        jnn.TripletMarginLoss(margin=0.0)
    with pytest.raises(ValueError, match="margin"):
        jnn.TripletMarginWithDistanceLoss(margin=-1.0)
    with pytest.raises(ValueError, match="p must be 1 or 2"):
        jnn.MultiMarginLoss(p=3)
    with pytest.raises(ValueError, match="1-D"):
        jnn.MultiMarginLoss(weight=jnp.ones((2, 2)))
    with pytest.raises(ValueError, match="batchmean"):
        jnn.MSELoss(reduction="batchmean")
    assert jnn.KLDivLoss(reduction="batchmean").reduction == "batchmean"
