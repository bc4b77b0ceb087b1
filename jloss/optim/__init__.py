"""jloss.optim: torch.optim's optimizers as optax GradientTransformations, and torch-named objects.

Lowercase functions (``adam``, ``sgd``, ...) take torch's arguments and defaults (minus ``params``)
and return optax transforms; the torch-named classes (``Adam``, ``SGD``, ...) wrap them with
``param_groups``, ``step`` and a torch-layout ``state_dict`` for ported code.
"""

from ._adadelta import adadelta as adadelta
from ._adafactor import adafactor as adafactor
from ._adagrad import adagrad as adagrad
from ._adam import adam as adam
from ._adam import adamw as adamw
from ._adamax import adamax as adamax
from ._asgd import asgd as asgd
from ._lbfgs import lbfgs as lbfgs
from ._muon import muon as muon
from ._nadam import nadam as nadam
from ._radam import radam as radam
from ._rmsprop import rmsprop as rmsprop
from ._rprop import rprop as rprop
from ._sgd import sgd as sgd
from ._sparse_adam import sparse_adam as sparse_adam
from ._stateful import ASGD as ASGD
from ._stateful import LBFGS as LBFGS
from ._stateful import SGD as SGD
from ._stateful import Adadelta as Adadelta
from ._stateful import Adafactor as Adafactor
from ._stateful import Adagrad as Adagrad
from ._stateful import Adam as Adam
from ._stateful import Adamax as Adamax
from ._stateful import AdamW as AdamW
from ._stateful import Muon as Muon
from ._stateful import NAdam as NAdam
from ._stateful import Optimizer as Optimizer
from ._stateful import RAdam as RAdam
from ._stateful import RMSprop as RMSprop
from ._stateful import Rprop as Rprop
from ._stateful import SparseAdam as SparseAdam

__all__ = [
    "ASGD", "LBFGS", "SGD", "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "Muon", "NAdam",
    "Optimizer", "RAdam", "RMSprop", "Rprop", "SparseAdam",
    "adadelta", "adafactor", "adagrad", "adam", "adamax", "adamw", "asgd", "lbfgs", "muon", "nadam", "radam",
    "rmsprop", "rprop", "sgd", "sparse_adam",
]
