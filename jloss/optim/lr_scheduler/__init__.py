"""jloss.optim.lr_scheduler: torch.optim.lr_scheduler for JAX.

Two forms of each of torch's 15 schedulers:

* snake_case functions (``step_lr(lr, step_size, gamma)``, ...) returning optax schedules:
  ``schedule(k)`` is the LR after ``k`` calls of torch's ``scheduler.step()`` (``get_last_lr()``),
  jit-safe and float64 under x64. Pass one as ``lr`` to a ``jloss.optim`` transform, per epoch
  through :func:`per_update`. ``cyclic_lr`` / ``one_cycle_lr`` also carry the momentum (beta1)
  cycle as ``.momentum`` (see :func:`schedule_hyperparams`); ``reduce_lr_on_plateau`` is an optax
  transform driven by a metric.
* torch-named classes (``StepLR(optimizer, step_size, gamma)``, ...) that drive a ``jloss.optim``
  optimizer object exactly as torch's drive torch's, with torch-layout ``state_dict()``.

``plot(schedule_or_scheduler, steps)`` draws the curve (needs matplotlib, the ``plot`` extra).
"""

from ._compose import chained_scheduler as chained_scheduler
from ._compose import sequential_lr as sequential_lr
from ._core import TorchSchedule as TorchSchedule
from ._core import per_update as per_update
from ._core import schedule_hyperparams as schedule_hyperparams
from ._cosine import cosine_annealing_lr as cosine_annealing_lr
from ._cosine import cosine_annealing_warm_restarts as cosine_annealing_warm_restarts
from ._cyclic import cyclic_lr as cyclic_lr
from ._cyclic import one_cycle_lr as one_cycle_lr
from ._decay import constant_lr as constant_lr
from ._decay import exponential_lr as exponential_lr
from ._decay import lambda_lr as lambda_lr
from ._decay import linear_lr as linear_lr
from ._decay import multi_step_lr as multi_step_lr
from ._decay import multiplicative_lr as multiplicative_lr
from ._decay import polynomial_lr as polynomial_lr
from ._decay import step_lr as step_lr
from ._plateau import ReduceLROnPlateauState as ReduceLROnPlateauState
from ._plateau import reduce_lr_on_plateau as reduce_lr_on_plateau
from ._plot import plot as plot
from ._schedulers import ConstantLR as ConstantLR
from ._schedulers import CosineAnnealingLR as CosineAnnealingLR
from ._schedulers import ExponentialLR as ExponentialLR
from ._schedulers import LambdaLR as LambdaLR
from ._schedulers import LinearLR as LinearLR
from ._schedulers import LRScheduler as LRScheduler
from ._schedulers import MultiplicativeLR as MultiplicativeLR
from ._schedulers import MultiStepLR as MultiStepLR
from ._schedulers import PolynomialLR as PolynomialLR
from ._schedulers import StepLR as StepLR
from ._schedulers_more import ChainedScheduler as ChainedScheduler
from ._schedulers_more import CosineAnnealingWarmRestarts as CosineAnnealingWarmRestarts
from ._schedulers_more import CyclicLR as CyclicLR
from ._schedulers_more import OneCycleLR as OneCycleLR
from ._schedulers_more import ReduceLROnPlateau as ReduceLROnPlateau
from ._schedulers_more import SequentialLR as SequentialLR

__all__ = [
    "ChainedScheduler", "ConstantLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "CyclicLR",
    "ExponentialLR", "LRScheduler", "LambdaLR", "LinearLR", "MultiStepLR", "MultiplicativeLR", "OneCycleLR",
    "PolynomialLR", "ReduceLROnPlateau", "ReduceLROnPlateauState", "SequentialLR", "StepLR", "TorchSchedule",
    "chained_scheduler", "constant_lr", "cosine_annealing_lr", "cosine_annealing_warm_restarts", "cyclic_lr",
    "exponential_lr", "lambda_lr", "linear_lr", "multi_step_lr", "multiplicative_lr", "one_cycle_lr", "per_update",
    "plot", "polynomial_lr", "reduce_lr_on_plateau", "schedule_hyperparams", "sequential_lr", "step_lr",
]
