"""Parity cases: the weight-holding losses, ``AdaptiveLogSoftmaxWithLoss`` and ``LinearCrossEntropyLoss``.

Each case builds the torch module with a fixed seed, takes its ``state_dict()`` and passes every
tensor as an argument, so values *and* gradients with respect to the input and to every weight are
compared: torch runs the module through ``torch.func.functional_call`` with those tensors, jloss
builds the NNX module and copies them in with :func:`load_torch_weights` (an explicit torch-name ->
NNX-path map, transposing ``Linear`` weights, every key used).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax.numpy as jnp
import numpy as np
from flax import nnx

from ...losses._modules import AdaptiveLogSoftmaxWithLoss, LinearCrossEntropyLoss
from .._gen import rng, with_dtypes
from .._harness import Case
from .._registry import Component, register

# ---- torch state_dict -> NNX ------------------------------------------------------------------


def torch_name_map(module: nnx.Module) -> dict[str, tuple[tuple[Any, ...], bool]]:
    """torch ``state_dict`` key -> (path of the NNX attribute, whether to transpose).

    ``Linear.weight`` (out, in) is ``kernel.T``; biases and the class-weight buffer are copied as is.
    """
    if isinstance(module, AdaptiveLogSoftmaxWithLoss):
        names = {"head.weight": (("head", "kernel"), True)}
        if module.head_bias:
            names["head.bias"] = (("head", "bias"), False)
        for i in range(module.n_clusters):
            for j in (0, 1):
                names[f"tail.{i}.{j}.weight"] = (("tail", i, "layers", j, "kernel"), True)
        return names
    if isinstance(module, LinearCrossEntropyLoss):
        names = {"linear.weight": (("linear", "kernel"), True)}
        if module.linear.bias is not None:
            names["linear.bias"] = (("linear", "bias"), False)
        if module.weight is not None:
            names["weight"] = (("weight",), False)
        return names
    raise TypeError(f"torch_name_map: no name map for {type(module).__name__}")


def _get(obj: Any, key: Any) -> Any:
    return obj[key] if isinstance(key, int) else getattr(obj, key)


def load_torch_weights(module: nnx.Module, state_dict: Mapping[str, Any]) -> None:
    """Copy a torch ``state_dict`` (tensors or arrays) into ``module`` in place.

    Every key of the map must be in ``state_dict`` and every key of ``state_dict`` must be used;
    each tensor's shape is checked against its destination, and it is cast to the destination's
    dtype (as torch's ``load_state_dict`` copies).
    """
    names = torch_name_map(module)
    missing = sorted(set(names) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(names))
    if missing or unexpected:
        raise KeyError(f"load_torch_weights: missing keys {missing}, unexpected keys {unexpected}")
    for key, (path, transpose) in names.items():
        value = state_dict[key]
        if hasattr(value, "detach"):  # a torch tensor
            value = value.detach().cpu().numpy()
        value = jnp.asarray(value)
        if transpose:
            value = value.T
        parent = module
        for p in path[:-1]:
            parent = _get(parent, p)
        dest = _get(parent, path[-1])
        if tuple(value.shape) != tuple(dest.shape):
            raise ValueError(
                f"load_torch_weights: {key} has shape {tuple(value.shape)} (after layout conversion), "
                f"expected {tuple(dest.shape)}"
            )
        if isinstance(dest, nnx.Variable):
            dest.set_value(value.astype(dest.dtype))
        else:
            setattr(parent, path[-1], value.astype(dest.dtype))


# ---- AdaptiveLogSoftmaxWithLoss ---------------------------------------------------------------


def _asm_names(config: Mapping[str, Any]) -> list[str]:
    names = ["head.weight"] + (["head.bias"] if config.get("head_bias", False) else [])
    for i in range(len(config["cutoffs"])):
        names += [f"tail.{i}.0.weight", f"tail.{i}.1.weight"]
    return names


def _asm_jax(*args: Any, config: Mapping[str, Any], method: str) -> Any:
    n_in = 1 if method != "forward" else 2
    inputs, weights = args[:n_in], args[n_in:]
    # an abstract module (no initialisation), every parameter of which is then loaded
    module = nnx.eval_shape(
        lambda: AdaptiveLogSoftmaxWithLoss(**config, rngs=nnx.Rngs(0), param_dtype=weights[0].dtype)
    )
    load_torch_weights(module, dict(zip(_asm_names(config), weights, strict=True)))
    if method == "forward":
        return tuple(module(*inputs))
    return getattr(module, method)(*inputs)


def _torch_method(torch: Any, module: Any, method: str) -> Any:
    class Method(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = module

        def forward(self, *a: Any) -> Any:
            return getattr(self.m, method)(*a)

    return Method()


def _asm_torch(torch: Any) -> Any:
    def call(*args: Any, config: Mapping[str, Any], method: str) -> Any:
        n_in = 1 if method != "forward" else 2
        inputs, weights = args[:n_in], args[n_in:]
        module = torch.nn.AdaptiveLogSoftmaxWithLoss(**config, dtype=weights[0].dtype)
        wrapper = _torch_method(torch, module, method if method != "forward" else "forward")
        params = {f"m.{k}": w for k, w in zip(_asm_names(config), weights, strict=True)}
        out = torch.func.functional_call(wrapper, params, tuple(inputs))
        return tuple(out) if method == "forward" else out

    return call


_ASM_CONFIGS = {
    "A": {"in_features": 8, "n_classes": 20, "cutoffs": [4, 10, 15]},
    "B": {"in_features": 6, "n_classes": 12, "cutoffs": [3, 7], "div_value": 2.0, "head_bias": True},
    # in_features // div_value**2 == 0: an empty projection, torch's Linear(in, 0)
    "C": {"in_features": 3, "n_classes": 6, "cutoffs": [2, 4], "div_value": 2.0},
}


def _torch_weights(key: str, config: Mapping[str, Any], names: list[str], scale: float = 1.0) -> list[np.ndarray]:
    import torch  # noqa: PLC0415  (the reference; imported only when cases are built)

    torch.manual_seed(1000 + sum(map(ord, key)))
    module = torch.nn.AdaptiveLogSoftmaxWithLoss(**config)
    sd = module.state_dict()
    assert set(sd) == set(names), (sorted(sd), names)
    return [np.asarray(sd[n].detach().double().numpy() * scale) for n in names]


def _asm_cases() -> list[Case]:
    f64_only, both = [], []
    for key, config in _ASM_CONFIGS.items():
        names = _asm_names(config)
        # larger weights than torch's default init spread the head's argmax over the clusters
        weights = _torch_weights(key, config, names, scale=3.0)
        r = rng("AdaptiveLogSoftmaxWithLoss", key)
        n_in, n_cls = config["in_features"], config["n_classes"]
        bounds = [0, *config["cutoffs"], n_cls]
        # every cluster's first and last class, then random ones
        edge = sorted({b for lo, hi in zip(bounds[:-1], bounds[1:], strict=True) for b in (lo, hi - 1)})
        target = np.asarray(np.concatenate([edge, r.integers(0, n_cls, size=3)]).astype(np.int64))
        x = np.asarray(r.standard_normal((target.size, n_in)))
        wgrad = tuple(range(2, 2 + len(names)))
        kw = {"config": config, "method": "forward"}
        lp_kw = {"config": config, "method": "log_prob"}
        if key == "C":
            f64_only.append(Case(f"{key}-forward", (x, target, *weights), kw, grad=(0, *wgrad)))
            continue
        both.append(Case(f"{key}-forward", (x, target, *weights), kw, grad=(0, *wgrad)))
        if key == "B":
            f64_only.append(Case(f"{key}-log_prob", (x, *weights), lp_kw, grad=(0, *range(1, 1 + len(names)))))
            continue
        both.append(Case(f"{key}-log_prob", (x, *weights), lp_kw, grad=(0, *range(1, 1 + len(names)))))
        f64_only.append(Case(f"{key}-predict", (x, *weights), {"config": config, "method": "predict"}))
        f64_only.append(Case(f"{key}-forward-unbatched", (x[5], target[5], *weights), kw, grad=(0, *wgrad)))
        short = np.asarray(target % config["cutoffs"][0])
        f64_only.append(Case(f"{key}-forward-shortlist-only", (x, short, *weights), kw, grad=(0, *wgrad)))
        # refused by both (cheap: nothing compiles)
        bad = target.copy()
        bad[2] = n_cls
        both.append(Case(f"{key}-target-out-of-range", (x, bad, *weights), kw))
        both.append(Case(f"{key}-target-2d", (x, target[:, None], *weights), kw))
        both.append(Case(f"{key}-batch-mismatch", (x[:-1], target, *weights), kw))
        both.append(Case(f"{key}-log_prob-1d", (x[0], *weights), lp_kw))
    cases = list(with_dtypes(both)) + list(with_dtypes(f64_only, ("float64",)))
    cases += list(with_dtypes(both[:1], ("bfloat16",)))
    return cases


register(
    Component(
        name="nn.AdaptiveLogSoftmaxWithLoss",
        family="losses",
        jax_fn=_asm_jax,
        torch_fn=_asm_torch,
        cases=_asm_cases,
    )
)


# ---- LinearCrossEntropyLoss ---------------------------------------------------------------------

_LCE_OPTIONS = ("out_features", "bias", "reduction", "ignore_index", "label_smoothing")


def _lce_names(config: Mapping[str, Any]) -> list[str]:
    return (["linear.weight"] + (["linear.bias"] if config.get("bias", False) else [])
            + (["weight"] if config.get("class_weight", False) else []))


def _lce_kwargs(config: Mapping[str, Any]) -> dict[str, Any]:
    return {k: config[k] for k in _LCE_OPTIONS if k in config}


def _lce_jax(input: Any, target: Any, *weights: Any, config: Mapping[str, Any]) -> Any:
    class_weight = jnp.ones(config["num_classes"], weights[0].dtype) if config.get("class_weight", False) else None
    module = nnx.eval_shape(
        lambda: LinearCrossEntropyLoss(config["in_features"], config["num_classes"], **_lce_kwargs(config),
                                       weight=class_weight, rngs=nnx.Rngs(0), param_dtype=weights[0].dtype)
    )
    load_torch_weights(module, dict(zip(_lce_names(config), weights, strict=True)))
    return module(input, target)


def _lce_torch(torch: Any) -> Any:
    def call(input: Any, target: Any, *weights: Any, config: Mapping[str, Any]) -> Any:
        class_weight = torch.ones(config["num_classes"]) if config.get("class_weight", False) else None
        module = torch.nn.LinearCrossEntropyLoss(config["in_features"], config["num_classes"],
                                                 **_lce_kwargs(config), weight=class_weight,
                                                 dtype=weights[0].dtype)
        params = dict(zip(_lce_names(config), weights, strict=True))
        return torch.func.functional_call(module, params, (input, target))

    return call


def _lce_cases() -> list[Case]:
    import torch  # noqa: PLC0415  (the reference; imported only when cases are built)

    out = []
    n_in, n_cls, n = 6, 5, 4
    configs = {
        "plain": ({}, "index"),
        "bias-weight-sum": ({"bias": True, "class_weight": True, "reduction": "sum"}, "index"),
        "smoothing-weight-ignore": ({"class_weight": True, "label_smoothing": 0.2, "ignore_index": 2}, "index"),
        "kdim-bias-none": ({"out_features": (3, 2), "bias": True, "reduction": "none"}, "index"),
        "kdim-weight-mean": ({"out_features": (3,), "class_weight": True}, "index"),
        "probabilities": ({"bias": True, "label_smoothing": 0.1}, "prob"),
        "kdim-probabilities": ({"out_features": (2,), "reduction": "sum"}, "prob"),
        "unbatched": ({"bias": True}, "unbatched"),
        "ignored-default": ({"reduction": "none"}, "ignored"),
        "out-of-range": ({}, "bad"),
        "ignore_index-with-probabilities": ({"ignore_index": 1}, "prob"),
    }
    for key, (opts, kind) in configs.items():
        config = {"in_features": n_in, "num_classes": n_cls, **opts}
        r = rng("LinearCrossEntropyLoss", key)
        torch.manual_seed(2000 + len(key))
        tm = torch.nn.LinearCrossEntropyLoss(n_in, n_cls, **_lce_kwargs(config))
        names = _lce_names(config)
        sd = {k: v.detach().double().numpy() for k, v in tm.state_dict().items()}
        if config.get("class_weight", False):
            sd["weight"] = r.uniform(0.3, 2.0, n_cls)
        # weights three times torch's init spread the logits
        weights = [np.asarray(sd[k] * (3.0 if k != "weight" else 1.0)) for k in names]
        dims = tuple(config.get("out_features", ()))
        x = np.asarray(r.standard_normal((n_in,) if kind == "unbatched" else (n, n_in)))
        if kind == "prob":
            logits = r.standard_normal((n, n_cls, *dims))
            target = np.asarray(np.exp(logits) / np.exp(logits).sum(1, keepdims=True))
        elif kind == "unbatched":
            target = np.asarray(3)
        else:
            target = np.asarray(r.integers(0, n_cls, size=(n, *dims)))
            if kind == "ignored":
                target[1] = -100
            if kind == "bad":
                target[0] = n_cls
        grad = (0, *range(2, 2 + len([k for k in names if k != "weight"])))
        if kind == "prob":
            grad = (0, 1, *grad[1:])
        out.append(Case(key, (x, target, *weights), {"config": config}, grad=grad))
    # float32 for a representative subset (every case compiles a value and a gradient function)
    in_f32 = {"plain", "bias-weight-sum", "kdim-bias-none", "probabilities", "out-of-range"}
    cases = [*with_dtypes([c for c in out if c.name in in_f32]),
             *with_dtypes([c for c in out if c.name not in in_f32], ("float64",))]
    cases += list(with_dtypes(out[:1], ("bfloat16",)))
    return cases


register(
    Component(
        name="nn.LinearCrossEntropyLoss",
        family="losses",
        jax_fn=_lce_jax,
        torch_fn=_lce_torch,
        cases=_lce_cases,
    )
)
