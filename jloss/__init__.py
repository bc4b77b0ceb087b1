"""jloss: PyTorch's losses, optimizers and LR schedulers for JAX -- same names, same numbers.

``jloss.functional`` (losses, as ``torch.nn.functional``), ``jloss.nn`` (loss classes),
``jloss.optim`` (optimizers, ``lr_scheduler``, ``swa_utils``), ``jloss.models`` (the tutorials'
networks), ``jloss.data`` (offline datasets), ``jloss.train`` (the train / eval loop),
``jloss.interop`` (state to and from torch), ``jloss.parity`` (the parity harness; torch is imported
only when a comparison runs). ``models``, ``data`` and ``train`` load on first use.
"""

import importlib
from typing import Any

from . import functional as functional
from . import interop as interop
from . import nn as nn
from . import optim as optim
from ._checks import checked as checked
from ._xla import compiler_options as compiler_options

__version__ = "0.1.0"

_LAZY = ("data", "models", "parity", "train")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'jloss' has no attribute {name!r}")


__all__ = ["checked", "compiler_options", "data", "functional", "interop", "models", "nn", "optim", "parity", "train", "__version__"]
