"""CIFAR-10 from the official python-pickle batches (``cifar-10-batches-py``), read safely."""

from __future__ import annotations

import codecs
import os
import pickle
from typing import Any

import numpy as np

from ._datasets import Dataset, Normalize, _normalize

try:  # numpy >= 2
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]

__all__ = ["CIFAR10_CLASSES", "load_cifar10"]

#: The class names of ``batches.meta`` (``label_names``), label ``k`` naming class ``k``.
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

_FOLDER = "cifar-10-batches-py"
_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"

# The only globals a CIFAR batch pickle needs: numpy's array reconstruction (the official files,
# written by Python 2, name ``numpy.core.multiarray``; numpy 2 writes ``numpy._core.multiarray``)
# and ``_codecs.encode``, with which Python 3 pickles bytes at protocol 2. Anything else is refused,
# so a tampered file cannot run code (plain ``pickle.load`` would).
_SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}


class _CifarUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _SAFE_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"load_cifar10: refusing global {module}.{name} (a CIFAR-10 batch only holds numpy "
                "arrays, lists, ints and strings)"
            ) from None


def _load_batch(path: str) -> dict[Any, Any]:
    with open(path, "rb") as f:
        try:
            entry = _CifarUnpickler(f, encoding="bytes").load()
        except (pickle.UnpicklingError, EOFError, ValueError) as e:
            raise ValueError(f"load_cifar10: {path} is not a CIFAR-10 python batch: {e}") from e
    if not isinstance(entry, dict):
        raise ValueError(f"load_cifar10: {path} must hold a dict, got {type(entry).__name__}")
    # the official files are Python 2 pickles: with encoding="bytes" their keys are b"data", ...
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in entry.items()}


def _batch_arrays(path: str) -> tuple[np.ndarray, np.ndarray]:
    entry = _load_batch(path)
    for key in ("data", "labels"):
        if key not in entry:
            raise ValueError(
                f"load_cifar10: {path} has no {key!r} entry, got keys {sorted(map(str, entry))}"
            )
    data, labels = entry["data"], np.asarray(entry["labels"])
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[1] != 3072
    ):
        got = (
            f"{data.dtype}{list(data.shape)}"
            if isinstance(data, np.ndarray)
            else type(data).__name__
        )
        raise ValueError(
            f"load_cifar10: {path}: data must be a uint8 array of shape (N, 3072), got {got}"
        )
    if labels.shape != (data.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"load_cifar10: {path}: labels must be {data.shape[0]} integers, got "
            f"{labels.dtype}{list(labels.shape)}"
        )
    return data, labels


def _batches_dir(root: str | os.PathLike[str]) -> str:
    root = os.fspath(root)
    nested = os.path.join(root, _FOLDER)
    if os.path.isdir(nested):
        return nested
    if os.path.isfile(os.path.join(root, "test_batch")) or os.path.isfile(
        os.path.join(root, "data_batch_1")
    ):
        return root  # root is the cifar-10-batches-py folder itself
    return nested


def load_cifar10(
    root: str | os.PathLike[str], train: bool = True, *, normalize: Normalize | None = None
) -> Dataset:
    r"""CIFAR-10 from the official python batches, as ``torchvision.datasets.CIFAR10(root, train)``.

    Reads ``root/cifar-10-batches-py/data_batch_1`` .. ``data_batch_5`` (``train=True``, 50,000
    images) or ``test_batch`` (``train=False``, 10,000 images); ``root`` may also be the
    ``cifar-10-batches-py`` folder itself. Each batch is a pickled dict whose ``b"data"`` is a
    ``uint8`` array ``(N, 3072)`` holding each image as 1,024 red, then 1,024 green, then 1,024 blue
    values, row-major (CHW), and whose ``b"labels"`` is a list of N ints in 0..9. The pickles are
    read with an unpickler that accepts numpy arrays and nothing else. Nothing is downloaded and no
    checksum is verified.

    Images are transposed to NHWC and scaled to [0, 1] (``transforms.ToTensor``, as tutorial 002
    uses). ``train=True`` returns about 600 MB of float32.

    Args:
        root: the folder holding ``cifar-10-batches-py`` (torchvision's ``root``).
        train: the 50,000 training images (default) or the 10,000 test images.
        normalize: optional ``(mean, std)``, scalars or one value per channel, as
            ``transforms.Normalize`` (the PyTorch CIFAR-10 tutorial uses ``((0.5,) * 3, (0.5,) * 3)``);
            default ``None``.

    Returns:
        :class:`Dataset` ``"cifar10"`` (``"cifar10/test"`` for ``train=False``): images ``float32``
        ``(N, 32, 32, 3)``, labels ``int32`` ``(N,)``, ``classes`` = :data:`CIFAR10_CLASSES`.

    Raises:
        FileNotFoundError: a batch file is missing; the message names the path expected and how to get
            the files.
    """
    fn = "load_cifar10"
    if not isinstance(train, bool):
        raise TypeError(f"{fn}: train must be a bool, got {type(train).__name__}")
    folder = _batches_dir(root)
    names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    paths = [os.path.join(folder, name) for name in names]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise FileNotFoundError(
            f"{fn}: CIFAR-10 batch file {missing[0]} not found (expected {', '.join(names)} in "
            f"{folder}). Download {_URL} (163 MB) and extract it into {os.fspath(root)} (it unpacks to "
            f"{_FOLDER}/), or run torchvision.datasets.CIFAR10({os.fspath(root)!r}, download=True) "
            "once. For an offline stand-in that is not CIFAR-10, use jloss.data.cifar10_standin()."
        )
    parts = [_batch_arrays(p) for p in paths]
    data = np.concatenate([d for d, _ in parts])
    labels = np.concatenate([lab for _, lab in parts]).astype(np.int32)
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(
            f"{fn}: labels must lie in 0..9, got values in [{labels.min()}, {labels.max()}]"
        )
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).astype(np.float32, order="C")
    images /= np.float32(255.0)
    images = _normalize(fn, images, normalize)
    return Dataset(images, labels, "cifar10" if train else "cifar10/test", 10, CIFAR10_CLASSES)
