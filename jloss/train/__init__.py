"""jloss.train: the tutorials' train / eval loop for Flax NNX models, jitted.

``fit(model, optimizer, loss_fn, train_data, epochs=..., scheduler=..., checkpoint=...)`` trains in
place and returns a :class:`History`; ``evaluate`` scores a model; ``make_train_step`` /
``make_eval_step`` are the jitted steps it is built from (params and optimizer state donated);
``save_checkpoint`` / ``load_checkpoint`` are its checkpoint format (one atomic ``.npz``, no pickle).
Past one device, ``fit(..., mesh=...)`` (by default every device when there are several) splits each
batch along a ``'data'`` mesh axis with ``jax.sharding``: ``default_mesh``, ``shard_batch``,
``state_shardings`` are its pieces for hand-written loops (docs/multi_host.md).
"""

from ._checkpoint import CheckpointError as CheckpointError
from ._checkpoint import load_checkpoint as load_checkpoint
from ._checkpoint import save_checkpoint as save_checkpoint
from ._fit import History as History
from ._fit import evaluate as evaluate
from ._fit import fit as fit
from ._fit import parameters as parameters
from ._sharding import DATA_AXIS as DATA_AXIS
from ._sharding import data_sharding as data_sharding
from ._sharding import default_mesh as default_mesh
from ._sharding import process_rows as process_rows
from ._sharding import replicated as replicated
from ._sharding import shard_batch as shard_batch
from ._sharding import state_shardings as state_shardings
from ._steps import Metrics as Metrics
from ._steps import SplitModel as SplitModel
from ._steps import make_eval_step as make_eval_step
from ._steps import make_train_step as make_train_step
from ._steps import optax_update as optax_update
from ._steps import split_model as split_model

__all__ = [
    "DATA_AXIS", "CheckpointError", "History", "Metrics", "SplitModel", "data_sharding", "default_mesh",
    "evaluate", "fit", "load_checkpoint", "make_eval_step", "make_train_step", "optax_update", "parameters",
    "process_rows", "replicated", "save_checkpoint", "shard_batch", "split_model", "state_shardings",
]
