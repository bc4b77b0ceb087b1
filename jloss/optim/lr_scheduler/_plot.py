"""``plot``: a matplotlib Figure of a schedule's (or scheduler's) LR curve, and its momentum cycle."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._core import TorchSchedule
from ._schedulers import LRScheduler
from ._schedulers_more import ReduceLROnPlateau


def _figure_class() -> Any:
    try:
        from matplotlib.figure import Figure  # noqa: PLC0415
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("jloss.optim.lr_scheduler.plot needs matplotlib: pip install 'jloss[plot]' "
                          "(or pip install matplotlib)") from e
    return Figure


def _momentum_of(group: dict[str, Any]) -> float | None:
    if "betas" in group:
        return float(group["betas"][0])
    if "momentum" in group:
        return float(group["momentum"])
    return None


def _trace_scheduler(sched: LRScheduler, steps: int, metrics: Sequence[float] | None) -> tuple[np.ndarray, np.ndarray | None]:
    s = copy.deepcopy(sched)  # the copy's optimizer is a copy too: the caller's scheduler is not advanced
    if isinstance(s, ReduceLROnPlateau) and (metrics is None or len(metrics) < steps - 1):
        raise ValueError(f"plot: ReduceLROnPlateau needs metrics=... with at least steps - 1 = {steps - 1} values")
    lrs, moms = [list(s.get_last_lr())], [[_momentum_of(g) for g in s.optimizer.param_groups]]
    for i in range(steps - 1):
        if isinstance(s, ReduceLROnPlateau):
            s.step(metrics[i])
        else:
            s.step()
        lrs.append(list(s.get_last_lr()))
        moms.append([_momentum_of(g) for g in s.optimizer.param_groups])
    cycles = getattr(s, "cycle_momentum", False) or any(getattr(m, "cycle_momentum", False) for m in getattr(s, "_schedulers", []))
    mom = np.asarray(moms, dtype=np.float64) if cycles and all(v is not None for row in moms for v in row) else None
    return np.asarray(lrs, dtype=np.float64), mom


def plot(schedule_or_scheduler: Callable[[Any], Any] | LRScheduler, steps: int, *, metrics: Sequence[float] | None = None,
         title: str | None = None, ax: Any = None, figsize: tuple[float, float] = (8.0, 4.0)) -> Any:
    """A ``matplotlib.figure.Figure`` of the learning rate over ``steps`` scheduler steps.

    ``schedule_or_scheduler`` is a schedule (``schedule(k)`` for ``k = 0 .. steps - 1``; a
    :class:`TorchSchedule` with a momentum cycle also gets the momentum on a second axis) or a
    scheduler object (a deep copy is stepped, one line per param group, plus the momentum / beta1
    the cyclic schedulers write; ``ReduceLROnPlateau`` needs ``metrics``). ``ax``: draw into an
    existing Axes instead (its figure is returned). matplotlib is imported only here (the ``plot`` extra).
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"plot: steps must be a positive integer, got {steps!r}")
    Figure = _figure_class()
    if isinstance(schedule_or_scheduler, LRScheduler):
        lrs, mom = _trace_scheduler(schedule_or_scheduler, steps, metrics)
        name = type(schedule_or_scheduler).__name__
    elif callable(schedule_or_scheduler):
        ks = np.arange(steps)
        lrs = np.asarray([float(schedule_or_scheduler(int(k))) for k in ks])[:, None]
        m = getattr(schedule_or_scheduler, "momentum", None)
        mom = np.asarray([float(m(int(k))) for k in ks])[:, None] if m is not None else None
        name = schedule_or_scheduler.name if isinstance(schedule_or_scheduler, TorchSchedule) else "schedule"
    else:
        raise TypeError(f"plot: expected a schedule or a scheduler, got {type(schedule_or_scheduler).__name__}")
    if ax is None:
        fig = Figure(figsize=figsize)
        ax = fig.add_subplot(1, 1, 1)
    else:
        fig = ax.figure
    x = np.arange(steps)
    for g in range(lrs.shape[1]):
        ax.plot(x, lrs[:, g], label=f"lr (group {g})" if lrs.shape[1] > 1 else "lr")
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.set_title(title if title is not None else name)
    if mom is not None:
        ax2 = ax.twinx()
        for g in range(mom.shape[1]):
            ax2.plot(x, mom[:, g], linestyle="--", label=f"momentum (group {g})" if mom.shape[1] > 1 else "momentum")
        ax2.set_ylabel("momentum / beta1")
        lines = ax.get_lines() + ax2.get_lines()
        ax.legend(lines, [ln.get_label() for ln in lines], loc="best")
    elif lrs.shape[1] > 1:
        ax.legend(loc="best")
    return fig
