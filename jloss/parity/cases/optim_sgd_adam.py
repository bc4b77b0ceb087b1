"""Parity cases: SGD, Adam, AdamW — every torch option."""

from __future__ import annotations

from ... import optim
from .._optim import OptCase, optimizer_component
from .._registry import register


def _sgd_cases():
    return [
        OptCase("plain", {"lr": 0.1}),
        OptCase("momentum", {"lr": 0.05, "momentum": 0.9}),
        OptCase("dampening", {"lr": 0.05, "momentum": 0.9, "dampening": 0.5}),
        OptCase("nesterov", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
        OptCase("weight_decay", {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.1}),
        OptCase("maximize", {"lr": 0.05, "momentum": 0.5, "maximize": True, "weight_decay": 0.01}),
        OptCase("defaults", {}),
    ]


def _adam_cases(decoupled_default: bool):
    cases = [
        OptCase("defaults", {}),
        OptCase("lr-betas-eps", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6}),
        OptCase("amsgrad", {"lr": 0.01, "amsgrad": True}),
        OptCase("weight_decay", {"lr": 0.01, "weight_decay": 0.1}),
        OptCase("amsgrad-wd-maximize", {"lr": 0.01, "weight_decay": 0.05, "amsgrad": True, "maximize": True}),
        OptCase("beta1=0", {"lr": 0.01, "betas": (0.0, 0.9)}),
    ]
    if not decoupled_default:
        cases.append(OptCase("decoupled_weight_decay", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}))
    return cases


register(optimizer_component("optim.sgd", optim.sgd, "SGD", _sgd_cases))
register(optimizer_component("optim.adam", optim.adam, "Adam", lambda: _adam_cases(False)))
register(optimizer_component("optim.adamw", optim.adamw, "AdamW", lambda: _adam_cases(True)))
