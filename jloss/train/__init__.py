"""jloss.train: the tutorials' train / eval loop for Flax NNX models, jitted.

``fit(model, optimizer, loss_fn, train_data, epochs=..., scheduler=..., checkpoint=...)`` trains in
place and returns a :class:`History`; ``evaluate`` scores a model; ``make_train_step`` /
``make_eval_step`` are the jitted steps it is built from (params and optimizer state donated);
``save_checkpoint`` / ``load_checkpoint`` are its checkpoint format (one atomic ``.npz``, no pickle).
"""

from ._checkpoint import CheckpointError as CheckpointError
from ._checkpoint import load_checkpoint as load_checkpoint
from ._checkpoint import save_checkpoint as save_checkpoint
from ._fit import History as History
from ._fit import evaluate as evaluate
from ._fit import fit as fit
from ._fit import parameters as parameters
from ._steps import Metrics as Metrics
from ._steps import SplitModel as SplitModel
from ._steps import make_eval_step as make_eval_step
from ._steps import make_train_step as make_train_step
from ._steps import optax_update as optax_update
from ._steps import split_model as split_model

__all__ = [
    "CheckpointError", "History", "Metrics", "SplitModel", "evaluate", "fit", "load_checkpoint",
    "make_eval_step", "make_train_step", "optax_update", "parameters", "save_checkpoint", "split_model",
]
