"""jloss.optim: torch.optim's optimizers as optax GradientTransformations (and, later, torch-named objects)."""

from ._adam import adam as adam
from ._adam import adamw as adamw
from ._sgd import sgd as sgd

__all__ = ["adam", "adamw", "sgd"]
