"""jloss.interop: state to and from torch (optimizer state_dicts, model weights, torch.save files)."""

from ._modules import load_torch_checkpoint as load_torch_checkpoint
from ._modules import load_torch_state_dict as load_torch_state_dict
from ._modules import save_torch_checkpoint as save_torch_checkpoint
from ._modules import torch_state_dict as torch_state_dict
from ._state import optimizer_state_from_torch as optimizer_state_from_torch
from ._state import optimizer_state_to_torch as optimizer_state_to_torch

__all__ = [
    "load_torch_checkpoint",
    "load_torch_state_dict",
    "optimizer_state_from_torch",
    "optimizer_state_to_torch",
    "save_torch_checkpoint",
    "torch_state_dict",
]
