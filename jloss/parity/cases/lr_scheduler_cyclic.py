"""Parity cases: CyclicLR (every mode, custom scale_fn, SGD momentum and Adam beta1 cycles), OneCycleLR
(cos / linear / three_phase, SGD and Adam), CosineAnnealingWarmRestarts (T_mult 1, 2, 3)."""

from __future__ import annotations

from ...optim import lr_scheduler as L
from .._registry import register
from .lr_scheduler import SchedCase, component

TWO = (0.1, 0.02)


def _half_sine(x):
    return 0.5 * (1.0 + (x % 3) / 3.0)  # any operator-only function of the cycle works under jit


def _cyclic():
    return [
        SchedCase("triangular-sgd", lambda M, o: M.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=50),
                  lambda lr, g: L.cyclic_lr(0.01, 0.1, step_size_up=50)),
        SchedCase("triangular2-asymmetric", lambda M, o: M.CyclicLR(o, 0.001, 0.1, 30, 70, mode="triangular2"),
                  lambda lr, g: L.cyclic_lr(0.001, 0.1, 30, 70, mode="triangular2")),
        SchedCase("exp_range", lambda M, o: M.CyclicLR(o, 0.01, 0.1, 40, mode="exp_range", gamma=0.999),
                  lambda lr, g: L.cyclic_lr(0.01, 0.1, 40, mode="exp_range", gamma=0.999)),
        SchedCase("scale_fn-cycle", lambda M, o: M.CyclicLR(o, 0.01, 0.1, 25, scale_fn=_half_sine),
                  lambda lr, g: L.cyclic_lr(0.01, 0.1, 25, scale_fn=_half_sine)),
        SchedCase("scale_fn-iterations", lambda M, o: M.CyclicLR(o, 0.01, 0.1, 25, scale_fn=lambda x: 1 / (1 + 0.001 * x),
                                                                  scale_mode="iterations"),
                  lambda lr, g: L.cyclic_lr(0.01, 0.1, 25, scale_fn=lambda x: 1 / (1 + 0.001 * x), scale_mode="iterations")),
        SchedCase("no-momentum-cycle", lambda M, o: M.CyclicLR(o, 0.01, 0.1, 10, cycle_momentum=False),
                  lambda lr, g: L.cyclic_lr(0.01, 0.1, 10, cycle_momentum=False)),
        SchedCase("adam-beta1-two-groups", lambda M, o: M.CyclicLR(o, [0.001, 0.0005], [0.01, 0.004], 20,
                                                                    base_momentum=0.85, max_momentum=0.95),
                  lambda lr, g: L.cyclic_lr([0.001, 0.0005][g], [0.01, 0.004][g], 20, base_momentum=0.85, max_momentum=0.95),
                  optimizer="Adam", lrs=TWO),
        SchedCase("step_size_down=0", lambda M, o: M.CyclicLR(o, 0.01, 0.1, 7, 0), lambda lr, g: L.cyclic_lr(0.01, 0.1, 7, 0)),
    ]


def _one_cycle():
    return [
        SchedCase("cos-sgd", lambda M, o: M.OneCycleLR(o, max_lr=0.1, total_steps=1000),
                  lambda lr, g: L.one_cycle_lr(0.1, total_steps=1000)),
        SchedCase("linear-pct0.25", lambda M, o: M.OneCycleLR(o, 0.5, total_steps=1000, pct_start=0.25, anneal_strategy="linear"),
                  lambda lr, g: L.one_cycle_lr(0.5, total_steps=1000, pct_start=0.25, anneal_strategy="linear")),
        SchedCase("three_phase", lambda M, o: M.OneCycleLR(o, 0.2, epochs=10, steps_per_epoch=100, three_phase=True,
                                                           div_factor=10.0, final_div_factor=100.0),
                  lambda lr, g: L.one_cycle_lr(0.2, epochs=10, steps_per_epoch=100, three_phase=True,
                                               div_factor=10.0, final_div_factor=100.0)),
        SchedCase("adam-betas-two-groups", lambda M, o: M.OneCycleLR(o, [0.01, 0.003], total_steps=1000,
                                                                      base_momentum=[0.85, 0.8], max_momentum=0.95),
                  lambda lr, g: L.one_cycle_lr([0.01, 0.003][g], total_steps=1000, base_momentum=[0.85, 0.8][g]),
                  optimizer="Adam", lrs=TWO),
        SchedCase("three_phase-linear-adam", lambda M, o: M.OneCycleLR(o, 0.01, total_steps=1000, three_phase=True,
                                                                        anneal_strategy="linear", pct_start=0.4),
                  lambda lr, g: L.one_cycle_lr(0.01, total_steps=1000, three_phase=True, anneal_strategy="linear",
                                               pct_start=0.4), optimizer="Adam"),
        SchedCase("no-momentum-cycle", lambda M, o: M.OneCycleLR(o, 0.1, total_steps=1000, cycle_momentum=False),
                  lambda lr, g: L.one_cycle_lr(0.1, total_steps=1000, cycle_momentum=False)),
    ]


def _warm_restarts():
    return [
        SchedCase("T0=10", lambda M, o: M.CosineAnnealingWarmRestarts(o, T_0=10),
                  lambda lr, g: L.cosine_annealing_warm_restarts(lr, 10)),
        SchedCase("T0=5-Tmult=2-eta_min", lambda M, o: M.CosineAnnealingWarmRestarts(o, 5, T_mult=2, eta_min=1e-3),
                  lambda lr, g: L.cosine_annealing_warm_restarts(lr, 5, 2, 1e-3), lrs=TWO),
        SchedCase("T0=3-Tmult=3", lambda M, o: M.CosineAnnealingWarmRestarts(o, 3, 3),
                  lambda lr, g: L.cosine_annealing_warm_restarts(lr, 3, 3), optimizer="Adam"),
    ]


register(component("lr_scheduler.CyclicLR", _cyclic))
register(component("lr_scheduler.OneCycleLR", _one_cycle))
register(component("lr_scheduler.CosineAnnealingWarmRestarts", _warm_restarts))
