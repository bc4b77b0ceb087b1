"""jloss.interop: state to and from torch (optimizer state_dicts now; model weights with the models)."""

from ._state import optimizer_state_from_torch as optimizer_state_from_torch
from ._state import optimizer_state_to_torch as optimizer_state_to_torch

__all__ = ["optimizer_state_from_torch", "optimizer_state_to_torch"]
