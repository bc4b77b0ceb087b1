"""jloss.functional: the loss functions of ``torch.nn.functional``, same names and arguments.

``import jloss.functional as F`` and port ``F.cross_entropy(...)`` as is.
"""

from .losses._regression import l1_loss as l1_loss
from .losses._regression import mse_loss as mse_loss

__all__ = ["l1_loss", "mse_loss"]
