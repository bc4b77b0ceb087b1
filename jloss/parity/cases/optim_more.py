"""Parity cases: RMSprop, Adagrad, Adadelta, Adamax, ASGD, Rprop — every torch option."""

from __future__ import annotations

from ...optim._adadelta import adadelta
from ...optim._adagrad import adagrad
from ...optim._adamax import adamax
from ...optim._asgd import asgd
from ...optim._rmsprop import rmsprop
from ...optim._rprop import rprop
from .._optim import OptCase, optimizer_component
from .._registry import register


def _rmsprop_cases():
    return [
        OptCase("defaults", {}),
        OptCase("alpha-eps", {"lr": 0.01, "alpha": 0.9, "eps": 1e-3}),
        OptCase("alpha<0.5", {"lr": 0.01, "alpha": 0.3, "centered": True}),
        OptCase("centered", {"lr": 0.01, "centered": True}),
        OptCase("momentum", {"lr": 0.01, "momentum": 0.9}),
        OptCase("centered-momentum-wd", {"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.1}),
        OptCase("maximize-wd", {"lr": 0.01, "weight_decay": 0.05, "maximize": True}),
    ]


def _adagrad_cases():
    return [
        OptCase("defaults", {}),
        OptCase("lr_decay", {"lr": 0.1, "lr_decay": 0.05}),
        OptCase("initial_accumulator_value-eps", {"lr": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-3}),
        OptCase("weight_decay", {"lr": 0.1, "weight_decay": 0.1}),
        OptCase("all-maximize", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.05,
                                 "initial_accumulator_value": 0.1, "maximize": True}),
    ]


def _adadelta_cases():
    return [
        OptCase("defaults", {}),
        OptCase("lr-rho-eps", {"lr": 0.5, "rho": 0.95, "eps": 1e-4}),
        OptCase("rho=0", {"rho": 0.0}),
        OptCase("weight_decay", {"weight_decay": 0.1}),
        OptCase("maximize-wd", {"lr": 0.5, "weight_decay": 0.05, "maximize": True}),
    ]


def _adamax_cases():
    return [
        OptCase("defaults", {}),
        OptCase("betas-eps", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-3}),
        OptCase("beta1=0", {"lr": 0.01, "betas": (0.0, 0.9)}),
        OptCase("beta1>0.5-weight", {"lr": 0.01, "betas": (0.3, 0.9)}),
        OptCase("weight_decay", {"lr": 0.01, "weight_decay": 0.1}),
        OptCase("maximize-wd", {"lr": 0.01, "weight_decay": 0.05, "maximize": True}),
    ]


def _asgd_cases():
    return [
        OptCase("defaults", {}),
        OptCase("lambd-alpha", {"lr": 0.05, "lambd": 0.01, "alpha": 0.5}),
        OptCase("t0-averaging", {"lr": 0.05, "lambd": 0.001, "t0": 10.0}),
        OptCase("weight_decay", {"lr": 0.05, "weight_decay": 0.1}),
        OptCase("maximize-wd", {"lr": 0.05, "lambd": 0.01, "weight_decay": 0.05, "maximize": True}),
    ]


def _rprop_cases():
    # rprop moves by exactly +-step_size, so trajectories are compared where a sign does not hinge
    # on rounding: gradients are fresh random draws each step.
    return [
        OptCase("defaults", {}),
        OptCase("etas", {"lr": 0.05, "etas": (0.3, 1.5)}),
        OptCase("lr>max-step", {"lr": 0.5, "step_sizes": (1e-3, 0.1)}),
        OptCase("min-step", {"lr": 0.01, "etas": (0.1, 1.1), "step_sizes": (5e-3, 1.0)}),
        OptCase("maximize", {"lr": 0.02, "maximize": True}),
    ]


register(optimizer_component("optim.rmsprop", rmsprop, "RMSprop", _rmsprop_cases))
register(optimizer_component("optim.adagrad", adagrad, "Adagrad", _adagrad_cases))
register(optimizer_component("optim.adadelta", adadelta, "Adadelta", _adadelta_cases))
register(optimizer_component("optim.adamax", adamax, "Adamax", _adamax_cases))
register(optimizer_component("optim.asgd", asgd, "ASGD", _asgd_cases))
register(optimizer_component("optim.rprop", rprop, "Rprop", _rprop_cases))
