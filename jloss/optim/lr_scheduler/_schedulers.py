"""The torch-named scheduler classes that drive a ``jloss.optim`` optimizer object.

They are ports of ``torch.optim.lr_scheduler`` onto :class:`jloss.optim.Optimizer`: the same
attributes (``base_lrs``, ``last_epoch``, ``_step_count``, ``_last_lr``, ...), the same writes into
``optimizer.param_groups`` (``initial_lr``, ``lr``, and for the cyclic ones ``momentum`` / ``betas``,
``max_momentum``, ``base_momentum``, ``max_lr``, ``min_lr``), so ``state_dict()`` has torch's layout
and a torch scheduler's ``state_dict()`` loads as is. ``step()`` applies torch's recursive
``get_lr`` in Python floats (the per-family formulas live beside the schedule functions, in
``_decay``, ``_cosine``, ``_cyclic``, ``_plateau``); ``step(epoch)`` uses the closed forms.

The optimizer reads ``param_groups[i]["lr"]`` (and momentum / betas) at its next ``step``.
"""

from __future__ import annotations

import copy
import types
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from .._stateful import Optimizer
from . import _cosine as C
from . import _decay as D
from ._core import PY, check_float, check_int

EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being "
    "deprecated where possible. Please use `scheduler.step()` to step the "
    "scheduler. During the deprecation, if epoch is different from None, the "
    "closed form is used instead of the new chainable form, where available. "
    "Please open an issue if you are unable to replicate your use case: "
    "https://github.com/pytorch/pytorch/issues/new/choose."
)


def check_optimizer(optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{type(optimizer).__name__} is not an Optimizer (expected a jloss.optim optimizer object "
                        "such as jloss.optim.SGD)")


def format_param(name: str, optimizer: Optimizer, param: Any) -> list[Any]:
    """torch's ``_format_param``: one value per param group (a list must have one per group)."""
    if isinstance(param, (list, tuple)):
        if len(param) != len(optimizer.param_groups):
            raise ValueError(f"{name} must have the same length as optimizer.param_groups. "
                             f"{name} has {len(param)} values, param_groups has {len(optimizer.param_groups)}.")
        return list(param)
    return [param] * len(optimizer.param_groups)


def group_values(optimizer: Optimizer, key: str) -> list[Any]:
    return [group[key] for group in optimizer.param_groups]


class LRScheduler:
    r"""Base class of the schedulers, as ``torch.optim.lr_scheduler.LRScheduler``.

    A custom scheduler sets its attributes, calls ``super().__init__(optimizer, last_epoch)`` and
    implements :meth:`get_lr` (the LRs after the step to ``self.last_epoch``, one per param group);
    ``self.base_lrs`` holds each group's ``initial_lr``. The tutorial's "halve the LR every 10
    epochs" scheduler::

        class HalveEvery(LRScheduler):
            def __init__(self, optimizer, step_size=10, gamma=0.5, last_epoch=-1):
                self.step_size, self.gamma = step_size, gamma
                super().__init__(optimizer, last_epoch)

            def get_lr(self):
                return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]

    (the same as ``LambdaLR(opt, lambda e: 0.5 ** (e // 10))`` or ``lambda_lr(lr, lambda e: 0.5 ** (e // 10))``).

    Args:
        optimizer: a ``jloss.optim`` optimizer object (``SGD``, ``Adam``, ...).
        last_epoch: the index of the last epoch; ``-1`` starts fresh, another value resumes (the
            groups must then hold ``initial_lr``).
    """

    _get_lr_called_within_step: bool = False
    _is_initial: bool = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        check_optimizer(optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] when resuming "
                                   "scheduler with last_epoch >= 0")
        self.base_lrs: list[Any] = group_values(optimizer, "initial_lr")
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """Initialize step counts and perform a step (torch's ``_initial_step``)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def state_dict(self) -> dict[str, Any]:
        """Every attribute but the optimizer (torch's layout)."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load ours or a torch scheduler's ``state_dict()`` (checked first: on error nothing changes)."""
        self.__dict__.update(self._checked_state_dict(state_dict))

    def _checked_state_dict(self, state_dict: Any) -> dict[str, Any]:
        """A deep copy of ``state_dict`` after checking that it has exactly this scheduler's entries.

        torch's ``load_state_dict`` takes any dict (a state_dict of another scheduler silently
        corrupts the scheduler); jloss raises ``ValueError`` naming the missing / unknown entries
        and leaves the scheduler unchanged."""
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{name}: state_dict must be a dict, got {type(state_dict).__name__}")
        own, got = set(self.state_dict()), set(state_dict)
        missing, unknown = sorted(own - got), sorted(got - own, key=str)
        if missing or unknown:
            raise ValueError(f"{name}: state_dict has missing entries {missing} and unknown entries {unknown} "
                             f"(a state_dict of another scheduler?)")
        return copy.deepcopy(dict(state_dict))

    def get_last_lr(self) -> list[float]:
        """The LRs set by the last step, one per param group."""
        return self._last_lr

    def get_lr(self) -> list[float]:
        """The LRs after the step to ``self.last_epoch``, one per param group (subclasses implement it)."""
        raise NotImplementedError

    def _warn_outside_step(self) -> None:
        if not self._get_lr_called_within_step:
            warnings.warn("To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
                          UserWarning, stacklevel=3)

    def step(self, epoch: int | None = None) -> None:
        """Step the scheduler (``epoch`` is torch's deprecated form: it sets ``last_epoch`` and uses
        the closed form where there is one)."""
        self._step_count += 1
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        self._get_lr_called_within_step = True
        try:
            if epoch is None:
                self.last_epoch += 1
                values = self.get_lr()
            else:
                self.last_epoch = epoch
                closed = getattr(self, "_get_closed_form_lr", None)
                values = closed() if closed is not None else self.get_lr()
        finally:
            self._get_lr_called_within_step = False
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr = group_values(self.optimizer, "lr")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={getattr(self, '_last_lr', None)})"


def _lambdas(optimizer: Optimizer, lr_lambda: Any) -> list[Callable[[int], float]]:
    if not isinstance(lr_lambda, (list, tuple)):
        lams = [lr_lambda] * len(optimizer.param_groups)
    else:
        if len(lr_lambda) != len(optimizer.param_groups):
            raise ValueError(f"Expected {len(optimizer.param_groups)} lr_lambdas, but got {len(lr_lambda)}")
        lams = list(lr_lambda)
    for lam in lams:
        if not callable(lam):
            raise TypeError(f"lr_lambda should be a function, but got {type(lam).__name__}")
    return lams


class _LambdaState:
    """torch's state_dict handling of ``lr_lambdas``: a plain function is saved as ``None``, a
    callable object as its ``__dict__``."""

    lr_lambdas: list[Callable[[int], float]]

    def state_dict(self) -> dict[str, Any]:
        sd = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        sd["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else fn.__dict__.copy()
                            for fn in self.lr_lambdas]
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        sd = self._checked_state_dict(state_dict)  # type: ignore[attr-defined]
        lams = sd.pop("lr_lambdas")
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(lams, (list, tuple)) or len(lams) != len(self.lr_lambdas):
            raise ValueError(f"{name}: state_dict['lr_lambdas'] must have one entry per param group "
                             f"({len(self.lr_lambdas)}), got {lams!r}")
        for i, fn in enumerate(lams):
            if fn is not None and (not isinstance(fn, Mapping) or isinstance(self.lr_lambdas[i], types.FunctionType)):
                raise ValueError(f"{name}: state_dict['lr_lambdas'][{i}] must be None for a plain function or the "
                                 f"__dict__ of a callable object, got {fn!r}")
        self.__dict__.update(sd)
        for i, fn in enumerate(lams):
            if fn is not None:
                self.lr_lambdas[i].__dict__.update(fn)


class LambdaLR(_LambdaState, LRScheduler):
    """``torch.optim.lr_scheduler.LambdaLR``: each group's LR is ``initial_lr * lr_lambda(epoch)``
    (one function, or one per group). See :func:`lambda_lr`."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Any, last_epoch: int = -1) -> None:
        check_optimizer(optimizer)
        self.optimizer = optimizer
        self.lr_lambdas = _lambdas(optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_outside_step()
        return [base_lr * lmbda(self.last_epoch) for lmbda, base_lr in zip(self.lr_lambdas, self.base_lrs, strict=True)]


class MultiplicativeLR(_LambdaState, LRScheduler):
    """``torch.optim.lr_scheduler.MultiplicativeLR``: each step multiplies the LR by ``lr_lambda(epoch)``.
    See :func:`multiplicative_lr`."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Any, last_epoch: int = -1) -> None:
        check_optimizer(optimizer)
        self.optimizer = optimizer
        self.lr_lambdas = _lambdas(optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_outside_step()
        if self._is_initial:
            return group_values(self.optimizer, "lr")
        return [group["lr"] * lmbda(self.last_epoch)
                for lmbda, group in zip(self.lr_lambdas, self.optimizer.param_groups, strict=True)]


class StepLR(LRScheduler):
    """``torch.optim.lr_scheduler.StepLR``: the LR times ``gamma`` every ``step_size`` epochs.
    See :func:`step_lr` (a non-positive ``step_size`` raises ``ValueError``)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        self.step_size = check_int("StepLR", "step_size", step_size, 1)
        self.gamma = check_float(type(self).__name__, "gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_outside_step()
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return group_values(self.optimizer, "lr")
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [D.closed_step(self.last_epoch, b, self.step_size, self.gamma, PY) for b in self.base_lrs]


class MultiStepLR(LRScheduler):
    """``torch.optim.lr_scheduler.MultiStepLR``: the LR times ``gamma`` at each milestone
    (``milestones`` is kept as a ``Counter``, as torch). See :func:`multi_step_lr`."""

    def __init__(self, optimizer: Optimizer, milestones: Any, gamma: float = 0.1, last_epoch: int = -1) -> None:
        self.milestones = D.milestone_counter("MultiStepLR", milestones)
        self.gamma = check_float(type(self).__name__, "gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_outside_step()
        if self.last_epoch not in self.milestones:
            return group_values(self.optimizer, "lr")
        return [group["lr"] * self.gamma ** self.milestones[self.last_epoch] for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [D.closed_multi_step(self.last_epoch, b, self.milestones, self.gamma, PY) for b in self.base_lrs]


class ConstantLR(LRScheduler):
    """``torch.optim.lr_scheduler.ConstantLR``: the LR times ``factor`` until ``total_iters``.
    See :func:`constant_lr`."""

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5, last_epoch: int = -1) -> None:
        D.check_constant("ConstantLR", factor, total_iters)
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_outside_step()
        if self.last_epoch == 0:
            return [group["lr"] * self.factor for group in self.optimizer.param_groups]
        if self.last_epoch != self.total_iters:
            return group_values(self.optimizer, "lr")
        return [group["lr"] * (1.0 / self.factor) for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [D.closed_constant(self.last_epoch, b, self.factor, self.total_iters, PY) for b in self.base_lrs]


class LinearLR(LRScheduler):
    """``torch.optim.lr_scheduler.LinearLR``: the factor goes linearly from ``start_factor`` to
    ``end_factor`` over ``total_iters`` epochs. See :func:`linear_lr`."""

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1) -> None:
        D.check_linear("LinearLR", start_factor, end_factor, total_iters)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_outside_step()
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor for group in self.optimizer.param_groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return group_values(self.optimizer, "lr")
        f = D.linear_factor(self.last_epoch, self.start_factor, self.end_factor, self.total_iters)
        return [group["lr"] * f for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [D.closed_linear(self.last_epoch, b, self.start_factor, self.end_factor, self.total_iters, PY)
                for b in self.base_lrs]


class ExponentialLR(LRScheduler):
    """``torch.optim.lr_scheduler.ExponentialLR``: the LR times ``gamma`` every epoch. See :func:`exponential_lr`."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = check_float(type(self).__name__, "gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_outside_step()
        if self._is_initial:
            return group_values(self.optimizer, "lr")
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [D.closed_exponential(self.last_epoch, b, self.gamma, PY) for b in self.base_lrs]


class PolynomialLR(LRScheduler):
    """``torch.optim.lr_scheduler.PolynomialLR``: polynomial decay to 0 over ``total_iters``.
    See :func:`polynomial_lr`."""

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1) -> None:
        self.total_iters = check_int("PolynomialLR", "total_iters", total_iters, 0)
        self.power = power
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_outside_step()
        if self._is_initial or self.last_epoch > self.total_iters:
            return group_values(self.optimizer, "lr")
        f = D.polynomial_factor(self.last_epoch, self.total_iters, self.power)
        return [group["lr"] * f for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [D.closed_polynomial(self.last_epoch, b, self.total_iters, self.power, PY) for b in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """``torch.optim.lr_scheduler.CosineAnnealingLR`` (torch's recursive form, periodic past
    ``T_max``). See :func:`cosine_annealing_lr`."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        self.T_max = check_int("CosineAnnealingLR", "T_max", T_max, 1)
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        self._warn_outside_step()
        return [C.cosine_recursive(group["lr"], base, self.last_epoch, self.T_max, self.eta_min,
                                   self._step_count, self._is_initial)
                for base, group in zip(self.base_lrs, self.optimizer.param_groups, strict=True)]

    def _get_closed_form_lr(self) -> list[float]:
        return [C.closed_cosine(self.last_epoch, b, self.T_max, self.eta_min, PY) for b in self.base_lrs]
