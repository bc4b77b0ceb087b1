"""jloss: PyTorch's losses, optimizers and LR schedulers for JAX -- same names, same numbers."""

from . import functional as functional
from . import nn as nn
from ._checks import checked as checked

__version__ = "0.1.0"

__all__ = ["checked", "functional", "nn", "__version__"]
