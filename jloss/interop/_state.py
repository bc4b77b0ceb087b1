"""Optimizer / scheduler state_dicts between jloss (numpy arrays) and torch (tensors).

The layouts are the same (torch's); only the array type changes. torch is imported lazily, inside
:func:`optimizer_state_to_torch`, and only there.
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


def optimizer_state_to_torch(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """A jloss optimizer ``state_dict()`` with every array as a torch tensor, for torch's ``load_state_dict``."""
    import torch  # noqa: PLC0415

    def conv(x: Any) -> Any:
        if isinstance(x, (np.ndarray, np.generic)) or type(x).__module__.startswith("jax"):
            return torch.from_numpy(np.array(x, copy=True))
        return copy.deepcopy(x)

    return {
        "state": {int(k): _map_arrays(v, conv) for k, v in state_dict["state"].items()},
        "param_groups": [dict(copy.deepcopy(g)) for g in state_dict["param_groups"]],
    }


def optimizer_state_from_torch(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """A torch optimizer ``state_dict()`` with every tensor as a numpy array (``load_state_dict`` also
    accepts torch's dict directly; this is for saving it without torch)."""

    def conv(x: Any) -> Any:
        if hasattr(x, "detach") and hasattr(x, "numpy"):
            return x.detach().cpu().numpy().copy()
        return copy.deepcopy(x)

    return {
        "state": {int(k): _map_arrays(v, conv) for k, v in state_dict["state"].items()},
        "param_groups": [_map_arrays(dict(g), conv) for g in state_dict["param_groups"]],
    }
