"""Optimizer / scheduler state_dicts between jloss (numpy arrays) and torch (tensors).

The dict layout is torch's on both sides. Without ``module`` only the array type changes (params
indexed alike, e.g. an optimizer over a pytree of plain arrays). With ``module`` (a
``jloss.models`` network) the per-parameter state also moves between torch's parameter order and
layouts (``model.parameters()``: OIHW kernels, (out, in) Linear weights, NCHW flatten order) and
jloss's (the leaves of ``jloss.train.parameters(module)``: HWIO, (in, out), NHWC), so a torch
checkpoint's optimizer state drives a jloss optimizer over the same network and back. torch is
imported lazily, inside :func:`optimizer_state_to_torch`, and only there.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np


def _map_arrays(obj: Any, fn: Any) -> Any:
    if isinstance(obj, Mapping):
        return {k: _map_arrays(v, fn) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_map_arrays(v, fn) for v in obj]
    return fn(obj)


def _param_order(fn: str, module: Any) -> tuple[list[int], list[Any]]:
    """``(jloss_index_of[t], entry[t])`` for torch parameter index ``t`` of ``module``'s torch twin."""
    import jax  # noqa: PLC0415

    from ..train import parameters  # noqa: PLC0415
    from ._modules import _name_map  # noqa: PLC0415

    names = _name_map(fn, module)
    paths = [tuple(getattr(k, "key", getattr(k, "idx", k)) for k in path)
             for path, _ in jax.tree_util.tree_flatten_with_path(parameters(module))[0]]
    index = {p: j for j, p in enumerate(paths)}
    return [index[e.path] for e in names.values()], list(names.values())


def _relayout(fn: str, state_dict: Mapping[str, Any], module: Any, to_torch: bool) -> dict[str, Any]:
    from ._modules import _to_nnx, _to_torch, _torch_shape  # noqa: PLC0415

    jl_of, entries = _param_order(fn, module)  # torch index t -> jloss index jl_of[t]
    n = len(entries)
    # dst_of[src] for the direction asked, and each source index's (entry, source shape)
    dst_of = {j: t for t, j in enumerate(jl_of)} if to_torch else dict(enumerate(jl_of))
    info = {}
    for t, (j, e) in enumerate(zip(jl_of, entries, strict=True)):
        shape = tuple(np.shape(_param(module, e.path)))
        info[j if to_torch else t] = (e, shape if to_torch else _torch_shape(shape, e))
    convert = _to_torch if to_torch else _to_nnx
    state = {}
    for key, entry in state_dict["state"].items():
        src = int(key)
        if src not in dst_of:
            raise ValueError(f"{fn}: state for parameter {src}, but {type(module).__name__} has {n} parameters")
        e, have = info[src]
        out = {}
        for k, v in entry.items():
            if np.ndim(v) == 0:
                out[k] = v
            elif tuple(np.shape(v)) == have:
                out[k] = convert(np.asarray(v), e)
            else:
                raise ValueError(f"{fn}: state entry {k!r} of parameter {src} has shape {tuple(np.shape(v))}, "
                                 f"expected the parameter's {have}; factored or flattened state cannot be "
                                 f"re-laid out for {type(module).__name__}")
        state[dst_of[src]] = out
    groups = []
    for g in state_dict["param_groups"]:
        ids = [int(i) for i in g["params"]]
        if any(i not in dst_of for i in ids):
            raise ValueError(f"{fn}: param_groups index parameters {ids}, but {type(module).__name__} has {n}")
        groups.append({**g, "params": sorted(dst_of[i] for i in ids)})
    return {"state": dict(sorted(state.items())), "param_groups": groups}


def _param(module: Any, path: tuple[Any, ...]) -> Any:
    from ._modules import _param as get  # noqa: PLC0415

    return get(module, path).get_value()


def optimizer_state_to_torch(state_dict: Mapping[str, Any], module: Any = None) -> dict[str, Any]:
    """A jloss optimizer ``state_dict()`` with every array as a torch tensor, for torch's
    ``load_state_dict``; with ``module``, also in torch's parameter order and layouts (see above)."""
    import torch  # noqa: PLC0415

    if module is not None:
        state_dict = _relayout("optimizer_state_to_torch", optimizer_state_from_torch(state_dict), module, True)

    def conv(x: Any) -> Any:
        if isinstance(x, (np.ndarray, np.generic)) or type(x).__module__.startswith("jax"):
            return torch.from_numpy(np.array(x, copy=True))
        return copy.deepcopy(x)

    return {
        "state": {int(k): _map_arrays(v, conv) for k, v in state_dict["state"].items()},
        "param_groups": [dict(copy.deepcopy(g)) for g in state_dict["param_groups"]],
    }


def optimizer_state_from_torch(state_dict: Mapping[str, Any], module: Any = None) -> dict[str, Any]:
    """A torch optimizer ``state_dict()`` with every tensor as a numpy array (``load_state_dict`` also
    accepts torch's dict directly; this is for saving it without torch). With ``module``, also in
    jloss's parameter order and layouts, ready for the ``load_state_dict`` of a jloss optimizer over
    ``jloss.train.parameters(module)``."""
    if module is not None:
        return _relayout("optimizer_state_from_torch", optimizer_state_from_torch(state_dict), module, False)

    def conv(x: Any) -> Any:
        if hasattr(x, "detach") and hasattr(x, "numpy"):
            return x.detach().cpu().numpy().copy()
        return copy.deepcopy(x)

    return {
        "state": {int(k): _map_arrays(v, conv) for k, v in state_dict["state"].items()},
        "param_groups": [_map_arrays(dict(g), conv) for g in state_dict["param_groups"]],
    }
