"""_plot.py: plot() returns a Figure of the LR (and momentum) curve without advancing the scheduler."""

import sys

import jax.numpy as jnp
import numpy as np
import pytest

from jloss.optim import lr_scheduler as L
from jloss.optim._stateful import SGD

pytest.importorskip("matplotlib")


def test_plot_schedule_with_momentum_axis():
    s = L.one_cycle_lr(0.1, total_steps=50)
    fig = L.plot(s, 50)
    ax, ax2 = fig.axes
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), np.asarray(s(jnp.arange(50))), rtol=1e-15)
    np.testing.assert_allclose(ax2.get_lines()[0].get_ydata(), np.asarray(s.momentum(jnp.arange(50))), rtol=1e-15)
    assert ax.get_title() == "OneCycleLR"


def test_plot_scheduler_is_not_advanced_and_draws_each_group():
    opt = SGD([{"params": {"w": jnp.zeros(2)}, "lr": 0.1}, {"params": {"b": jnp.zeros(1)}, "lr": 0.01}], momentum=0.9)
    sched = L.CyclicLR(opt, [0.01, 0.001], [0.1, 0.01], step_size_up=5)
    fig = L.plot(sched, 30, title="cyclic")
    assert sched.last_epoch == 0 and opt.param_groups[0]["lr"] == 0.01
    lines = fig.axes[0].get_lines()
    assert len(lines) == 2 and max(lines[0].get_ydata()) == pytest.approx(0.1)
    assert len(fig.axes) == 2  # the momentum cycle


def test_plot_plateau_needs_metrics():
    opt = SGD({"w": jnp.zeros(2)}, lr=0.1)
    sched = L.ReduceLROnPlateau(opt, patience=0)
    with pytest.raises(ValueError, match="metrics"):
        L.plot(sched, 5)
    fig = L.plot(sched, 5, metrics=[1.0, 1.0, 1.0, 1.0])
    assert list(fig.axes[0].get_lines()[0].get_ydata()) == pytest.approx([0.1, 0.1, 0.01, 0.001, 0.0001])


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"jloss\[plot\]"):
        L.plot(L.step_lr(0.1, 2), 5)
