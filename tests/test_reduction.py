"""The one reduction helper: torch's legacy rule and each reduction, checked against torch."""

import warnings

import jax.numpy as jnp
import numpy as np
import pytest
import torch

from jloss.losses import _reduction as R


@pytest.mark.parametrize("size_average", [None, True, False])
@pytest.mark.parametrize("reduce", [None, True, False])
def test_legacy_rule_matches_torch(size_average, reduce):
    from torch.nn import _reduction as TR

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = TR.legacy_get_string(size_average, reduce)
    if size_average is None and reduce is None:
        assert R.resolve("f", size_average, reduce, "mean") == "mean"
        return
    with pytest.warns(DeprecationWarning, match="size_average and reduce"):
        got = R.resolve("f", size_average, reduce, "none")  # legacy args override reduction
    assert got == expected


def test_bad_reduction_names_the_function_and_argument():
    with pytest.raises(ValueError, match=r"my_loss: reduction must be one of .*got 'avg'"):
        R.resolve("my_loss", None, None, "avg")
    with pytest.raises(ValueError, match="reduction"):
        R.resolve("my_loss", None, None, "batchmean")
    assert R.resolve("kl", None, None, "batchmean", extra=("batchmean",)) == "batchmean"


def test_elementwise_mean_is_deprecated_mean():
    with pytest.warns(DeprecationWarning):
        assert R.resolve("f", None, None, "elementwise_mean") == "mean"


def test_reductions():
    x = jnp.asarray(np.arange(6.0).reshape(2, 3))
    w = jnp.asarray(np.array([[1.0, 2.0, 0.0], [1.0, 0.5, 3.0]]))
    assert R.reduce(x, "none") is x
    assert float(R.reduce(x, "sum")) == 15.0
    assert float(R.reduce(x, "mean")) == 2.5
    assert float(R.reduce(x * w, "mean", weight=w)) == pytest.approx(float(torch.sum(torch.tensor(np.asarray(x * w))) / 7.5))
    assert float(R.reduce(x, "batchmean", batch_size=2)) == 7.5
    assert np.isnan(float(R.reduce(jnp.zeros((0,)), "mean")))  # torch: mean of empty is NaN
    assert np.isnan(float(R.reduce(jnp.zeros((2,)), "mean", weight=jnp.zeros((2,)))))
    with pytest.raises(ValueError, match="batch_size"):
        R.reduce(x, "batchmean")
