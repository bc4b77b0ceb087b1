"""jloss: PyTorch's losses, optimizers and LR schedulers for JAX -- same names, same numbers.

``jloss.functional`` (losses, as ``torch.nn.functional``), ``jloss.nn`` (loss classes),
``jloss.optim`` (optimizers), ``jloss.interop`` (state to and from torch), ``jloss.parity`` (the
parity harness; torch is imported only when a comparison runs).
"""

from . import functional as functional
from . import interop as interop
from . import nn as nn
from . import optim as optim
from ._checks import checked as checked

__version__ = "0.1.0"

__all__ = ["checked", "functional", "interop", "nn", "optim", "__version__"]
