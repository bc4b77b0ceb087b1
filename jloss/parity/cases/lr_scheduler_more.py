"""Parity cases: SequentialLR, ChainedScheduler, ReduceLROnPlateau (class and transform), SWALR."""

from __future__ import annotations

from ...optim import lr_scheduler as L
from ...optim import swa_utils
from .._registry import register
from .lr_scheduler import SchedCase, component, run_plateau_transform

TWO = (0.1, 0.02)


def _sequential():
    return [
        SchedCase("constant-then-exponential", lambda M, o: M.SequentialLR(
            o, [M.ConstantLR(o, factor=0.1, total_iters=2), M.ExponentialLR(o, gamma=0.9)], milestones=[2]),
            lambda lr, g: L.sequential_lr(lr, [L.constant_lr(lr, 0.1, 2), L.exponential_lr(lr, 0.9)], [2])),
        SchedCase("warmup-then-cosine", lambda M, o: M.SequentialLR(
            o, [M.LinearLR(o, 0.01, total_iters=50), M.CosineAnnealingLR(o, T_max=450)], milestones=[50]),
            lambda lr, g: L.sequential_lr(lr, [L.linear_lr(lr, 0.01, 1.0, 50), L.cosine_annealing_lr(lr, 450)], [50]),
            lrs=TWO),
        SchedCase("linear-step-multiplicative", lambda M, o: M.SequentialLR(
            o, [M.LinearLR(o, 0.5, total_iters=5), M.StepLR(o, 30, 0.5), M.MultiplicativeLR(o, lambda e: 0.99)],
            milestones=[10, 300]),
            lambda lr, g: L.sequential_lr(lr, [L.linear_lr(lr, 0.5), L.step_lr(lr, 30, 0.5),
                                               L.multiplicative_lr(lr, lambda e: 0.99)], [10, 300])),
        SchedCase("warm-restarts-after-constant", lambda M, o: M.SequentialLR(
            o, [M.ConstantLR(o, 0.5, 3), M.CosineAnnealingWarmRestarts(o, 7, 2)], milestones=[20]),
            lambda lr, g: L.sequential_lr(lr, [L.constant_lr(lr, 0.5, 3), L.cosine_annealing_warm_restarts(lr, 7, 2)], [20])),
    ]


def _chained():
    return [
        SchedCase("constant-exponential", lambda M, o: M.ChainedScheduler(
            [M.ConstantLR(o, factor=0.1, total_iters=2), M.ExponentialLR(o, gamma=0.9)]),
            lambda lr, g: L.chained_scheduler(lr, [L.constant_lr(lr, 0.1, 2), L.exponential_lr(lr, 0.9)])),
        SchedCase("linear-step-multistep-two-groups", lambda M, o: M.ChainedScheduler(
            [M.LinearLR(o, 0.2, total_iters=20), M.StepLR(o, 50, 0.7), M.MultiStepLR(o, [100, 400], 0.3)]),
            lambda lr, g: L.chained_scheduler(lr, [L.linear_lr(lr, 0.2, 1.0, 20), L.step_lr(lr, 50, 0.7),
                                                   L.multi_step_lr(lr, [100, 400], 0.3)]), lrs=TWO),
        SchedCase("polynomial-multiplicative", lambda M, o: M.ChainedScheduler(
            [M.PolynomialLR(o, 800, 1.5), M.MultiplicativeLR(o, lambda e: 0.999)]),
            lambda lr, g: L.chained_scheduler(lr, [L.polynomial_lr(lr, 800, 1.5), L.multiplicative_lr(lr, lambda e: 0.999)])),
        # not chainable: torch's result is not a product; the class steps it exactly, no function form
        SchedCase("cosine-exponential-class-only", lambda M, o: M.ChainedScheduler(
            [M.CosineAnnealingLR(o, 40), M.ExponentialLR(o, 0.999)]), None),
        SchedCase("cyclic-step-class-only", lambda M, o: M.ChainedScheduler(
            [M.CyclicLR(o, 0.01, 0.1, 25), M.StepLR(o, 100, 0.5)]), None),
    ]


def _plateau():
    return [
        SchedCase("min-rel-defaults", lambda M, o: M.ReduceLROnPlateau(o), None, metrics=True),
        SchedCase("max-abs", lambda M, o: M.ReduceLROnPlateau(o, mode="max", threshold=0.01, threshold_mode="abs",
                                                              patience=3), None, metrics=True),
        SchedCase("cooldown-factor0.5", lambda M, o: M.ReduceLROnPlateau(o, factor=0.5, patience=2, cooldown=3), None,
                  metrics=True),
        SchedCase("min_lr-per-group", lambda M, o: M.ReduceLROnPlateau(o, factor=0.5, patience=1, min_lr=[1e-3, 1e-4]),
                  None, metrics=True, lrs=TWO),
        SchedCase("min-abs-eps", lambda M, o: M.ReduceLROnPlateau(o, factor=0.9, patience=0, threshold=0.0,
                                                                  threshold_mode="abs", min_lr=0.05, eps=1e-3),
                  None, metrics=True, optimizer="Adam"),
    ]


def _plateau_transform():
    return [c for c in _plateau() if c.name != "min_lr-per-group"] + [
        SchedCase("min_lr-max-rel", lambda M, o: M.ReduceLROnPlateau(o, mode="max", factor=0.3, patience=4, min_lr=1e-4),
                  None, metrics=True),
    ]


def _swalr():
    return [
        SchedCase("cos-10", lambda M, o: M.SWALR(o, swa_lr=0.05), lambda lr, g: swa_utils.swalr(lr, 0.05)),
        SchedCase("linear-5-two-groups", lambda M, o: M.SWALR(o, swa_lr=[0.01, 0.05], anneal_epochs=5,
                                                              anneal_strategy="linear"),
                  lambda lr, g: swa_utils.swalr(lr, [0.01, 0.05][g], 5, "linear"), lrs=TWO),
        SchedCase("anneal_epochs=0", lambda M, o: M.SWALR(o, 0.03, anneal_epochs=0),
                  lambda lr, g: swa_utils.swalr(lr, 0.03, 0)),
        SchedCase("cos-100-adam", lambda M, o: M.SWALR(o, 0.001, anneal_epochs=100), lambda lr, g: swa_utils.swalr(lr, 0.001, 100),
                  optimizer="Adam"),
    ]


register(component("lr_scheduler.SequentialLR", _sequential))
register(component("lr_scheduler.ChainedScheduler", _chained))
register(component("lr_scheduler.ReduceLROnPlateau", _plateau))
register(component("lr_scheduler.reduce_lr_on_plateau", _plateau_transform, run_plateau_transform))
register(component("swa_utils.SWALR", _swalr))
