"""Parity cases: LambdaLR, MultiplicativeLR, StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR,
PolynomialLR, CosineAnnealingLR (classes on SGD / Adam, one or two param groups, and the functions)."""

from __future__ import annotations

from ...optim import lr_scheduler as L
from .._registry import register
from .lr_scheduler import SchedCase, component

TWO = (0.1, 0.02)
LAMS = (lambda e: 0.95**e, lambda e: 1.0 / (1 + e // 30))
MULTS = (lambda e: 0.995, lambda e: 1.0 - 0.1 * (e % 50 == 0))


def _lambda():
    return [
        SchedCase("single", lambda M, o: M.LambdaLR(o, lambda e: 0.5 ** (e // 10)),
                  lambda lr, g: L.lambda_lr(lr, lambda e: 0.5 ** (e // 10))),
        SchedCase("per-group", lambda M, o: M.LambdaLR(o, list(LAMS)), lambda lr, g: L.lambda_lr(lr, LAMS[g]),
                  lrs=TWO, optimizer="Adam"),
    ]


def _multiplicative():
    return [
        SchedCase("constant-factor", lambda M, o: M.MultiplicativeLR(o, lambda e: 0.995),
                  lambda lr, g: L.multiplicative_lr(lr, lambda e: 0.995)),
        SchedCase("per-group", lambda M, o: M.MultiplicativeLR(o, list(MULTS)),
                  lambda lr, g: L.multiplicative_lr(lr, MULTS[g]), lrs=TWO),
    ]


def _step():
    return [
        SchedCase("step30-gamma0.1", lambda M, o: M.StepLR(o, step_size=30), lambda lr, g: L.step_lr(lr, 30)),
        SchedCase("tutorial-adam-5-0.8", lambda M, o: M.StepLR(o, step_size=5, gamma=0.8),
                  lambda lr, g: L.step_lr(lr, 5, 0.8), optimizer="Adam", lrs=(0.01,)),
        SchedCase("two-groups", lambda M, o: M.StepLR(o, 7, gamma=0.97), lambda lr, g: L.step_lr(lr, 7, 0.97), lrs=TWO),
    ]


def _multi_step():
    return [
        SchedCase("30-80", lambda M, o: M.MultiStepLR(o, milestones=[30, 80]), lambda lr, g: L.multi_step_lr(lr, [30, 80])),
        SchedCase("unsorted-repeated", lambda M, o: M.MultiStepLR(o, [500, 100, 100, 300], gamma=0.5),
                  lambda lr, g: L.multi_step_lr(lr, [500, 100, 100, 300], gamma=0.5), lrs=TWO),
    ]


def _constant():
    return [
        SchedCase("defaults", lambda M, o: M.ConstantLR(o), lambda lr, g: L.constant_lr(lr)),
        SchedCase("0.5-40", lambda M, o: M.ConstantLR(o, factor=0.5, total_iters=40),
                  lambda lr, g: L.constant_lr(lr, 0.5, 40), lrs=TWO),
        SchedCase("total_iters=0", lambda M, o: M.ConstantLR(o, factor=0.25, total_iters=0),
                  lambda lr, g: L.constant_lr(lr, 0.25, 0)),
    ]


def _linear():
    return [
        SchedCase("defaults", lambda M, o: M.LinearLR(o), lambda lr, g: L.linear_lr(lr)),
        SchedCase("warmup-100", lambda M, o: M.LinearLR(o, start_factor=0.1, total_iters=100),
                  lambda lr, g: L.linear_lr(lr, 0.1, 1.0, 100), lrs=TWO),
        SchedCase("decay-to-0", lambda M, o: M.LinearLR(o, 1.0, 0.0, 500), lambda lr, g: L.linear_lr(lr, 1.0, 0.0, 500)),
        SchedCase("total_iters=0", lambda M, o: M.LinearLR(o, 0.5, total_iters=0), lambda lr, g: L.linear_lr(lr, 0.5, 1.0, 0)),
    ]


def _exponential():
    return [
        SchedCase("0.99", lambda M, o: M.ExponentialLR(o, gamma=0.99), lambda lr, g: L.exponential_lr(lr, 0.99)),
        SchedCase("0.9-two-groups", lambda M, o: M.ExponentialLR(o, 0.9), lambda lr, g: L.exponential_lr(lr, 0.9), lrs=TWO),
    ]


def _polynomial():
    return [
        SchedCase("defaults", lambda M, o: M.PolynomialLR(o), lambda lr, g: L.polynomial_lr(lr)),
        SchedCase("700-power2", lambda M, o: M.PolynomialLR(o, total_iters=700, power=2.0),
                  lambda lr, g: L.polynomial_lr(lr, 700, 2.0), lrs=TWO),
        SchedCase("100-power0.5", lambda M, o: M.PolynomialLR(o, 100, 0.5), lambda lr, g: L.polynomial_lr(lr, 100, 0.5)),
    ]


def _cosine():
    return [
        SchedCase("T100", lambda M, o: M.CosineAnnealingLR(o, T_max=100), lambda lr, g: L.cosine_annealing_lr(lr, 100)),
        SchedCase("T37-eta_min-two-groups", lambda M, o: M.CosineAnnealingLR(o, 37, eta_min=1e-3),
                  lambda lr, g: L.cosine_annealing_lr(lr, 37, 1e-3), lrs=TWO, optimizer="Adam"),
        SchedCase("T1000", lambda M, o: M.CosineAnnealingLR(o, 1000, 1e-4), lambda lr, g: L.cosine_annealing_lr(lr, 1000, 1e-4)),
    ]


register(component("lr_scheduler.LambdaLR", _lambda))
register(component("lr_scheduler.MultiplicativeLR", _multiplicative))
register(component("lr_scheduler.StepLR", _step))
register(component("lr_scheduler.MultiStepLR", _multi_step))
register(component("lr_scheduler.ConstantLR", _constant))
register(component("lr_scheduler.LinearLR", _linear))
register(component("lr_scheduler.ExponentialLR", _exponential))
register(component("lr_scheduler.PolynomialLR", _polynomial))
register(component("lr_scheduler.CosineAnnealingLR", _cosine))
