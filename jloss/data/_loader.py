"""Batches of numpy arrays in a reproducible per-epoch order, and a torch-named ``DataLoader``."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ._datasets import Dataset, _int_arg

__all__ = ["DataLoader", "batches", "epoch_permutation"]

Arrays = tuple[np.ndarray, ...]


def _bool_arg(fn: str, name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{fn}: {name} must be a bool, got {value!r}")
    return bool(value)


def _as_arrays(fn: str, dataset: Any) -> Arrays:
    """A Dataset as ``(images, labels)``; a tuple / list of arrays as is, after a length check."""
    if isinstance(dataset, Dataset):
        return dataset.images, dataset.labels
    if (
        isinstance(dataset, np.ndarray)
        or not isinstance(dataset, Sequence)
        or isinstance(dataset, str)
        or not dataset
    ):
        raise TypeError(
            f"{fn}: dataset must be a jloss.data.Dataset or a non-empty tuple of arrays, "
            f"got {type(dataset).__name__}"
        )
    arrays = tuple(np.asarray(a) for a in dataset)
    lengths = [a.shape[0] if a.ndim else None for a in arrays]
    if None in lengths or len(set(lengths)) != 1:
        raise ValueError(
            f"{fn}: dataset arrays must share their first dimension, got shapes "
            f"{[tuple(a.shape) for a in arrays]}"
        )
    return arrays


def epoch_permutation(num_examples: int, *, seed: int = 0, epoch: int = 0) -> np.ndarray:
    """The order in which epoch ``epoch`` visits ``num_examples`` examples when shuffling.

    The permutation depends only on ``(seed, epoch)`` (numpy's PCG64 seeded with
    ``SeedSequence([seed, epoch])``), never on how many epochs ran before: a run resumed from a
    checkpoint at epoch ``k`` sees exactly the batches the uninterrupted run saw.

    Returns:
        ``int64`` array of shape ``(num_examples,)``.
    """
    fn = "epoch_permutation"
    num_examples = _int_arg(fn, "num_examples", num_examples, 0)
    seed = _int_arg(fn, "seed", seed, 0)
    epoch = _int_arg(fn, "epoch", epoch, 0)
    return np.random.default_rng(np.random.SeedSequence([seed, epoch])).permutation(num_examples)


def _num_batches(n: int, batch_size: int, drop_last: bool) -> int:
    return n // batch_size if drop_last else -(-n // batch_size)


def _generate(
    arrays: Arrays, order: np.ndarray | None, batch_size: int, count: int
) -> Iterator[Arrays]:
    for b in range(count):
        lo, hi = b * batch_size, (b + 1) * batch_size
        if order is None:
            yield tuple(a[lo:hi] for a in arrays)
        else:
            idx = order[lo:hi]
            yield tuple(a[idx] for a in arrays)


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_DONE = object()


def _prefetched(source: Iterator[Arrays], size: int) -> Iterator[Arrays]:
    """Run ``source`` in a background thread, keeping up to ``size`` batches ready."""
    ready: queue.Queue[Any] = queue.Queue(maxsize=size)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in source:
                if not put(item):
                    return
        except BaseException as e:  # handed to the consumer, re-raised there
            put(_Raised(e))
            return
        put(_DONE)

    thread = threading.Thread(target=work, name="jloss-data-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join()


def batches(
    dataset: Dataset | Sequence[Any],
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int = 0,
    epoch: int = 0,
    drop_last: bool = False,
    prefetch: int = 0,
) -> Iterator[Arrays]:
    """Iterate over one epoch of ``dataset`` in batches of numpy arrays.

    Args:
        dataset: a :class:`Dataset` (batches are ``(images, labels)``) or a tuple of arrays sharing
            their first dimension (batches are tuples of the same length).
        batch_size: examples per batch (>= 1).
        shuffle: visit the examples in the order :func:`epoch_permutation` ``(N, seed=seed,
            epoch=epoch)``; ``False`` keeps the dataset order (the batches are then views).
        seed: the seed of the shuffling (>= 0).
        epoch: the epoch (>= 0); each epoch has its own order, fixed by ``(seed, epoch)`` alone.
        drop_last: drop the last batch when it has fewer than ``batch_size`` examples, as torch's
            ``DataLoader(drop_last=True)``.
        prefetch: ``0`` (default) builds each batch on demand; ``k > 0`` builds up to ``k`` batches
            ahead in a background thread (numpy releases the GIL while it copies, so gathering the next
            batch overlaps the training step).

    Returns:
        A generator of batches. Arguments are checked when ``batches`` is called, not when iteration
        starts.
    """
    fn = "batches"
    arrays = _as_arrays(fn, dataset)
    batch_size = _int_arg(fn, "batch_size", batch_size, 1)
    shuffle = _bool_arg(fn, "shuffle", shuffle)
    drop_last = _bool_arg(fn, "drop_last", drop_last)
    seed = _int_arg(fn, "seed", seed, 0)
    epoch = _int_arg(fn, "epoch", epoch, 0)
    prefetch = _int_arg(fn, "prefetch", prefetch, 0)
    n = arrays[0].shape[0]
    order = epoch_permutation(n, seed=seed, epoch=epoch) if shuffle else None
    source = _generate(arrays, order, batch_size, _num_batches(n, batch_size, drop_last))
    return _prefetched(source, prefetch) if prefetch else source


class DataLoader:
    """``torch.utils.data.DataLoader``'s interface over in-memory numpy arrays.

    Same argument names and defaults as torch for ``batch_size``, ``shuffle`` and ``drop_last``;
    ``len(loader)`` is the number of batches per epoch. Each ``for batch in loader`` runs one epoch
    and advances :attr:`epoch`; the order of epoch ``k`` is :func:`epoch_permutation` ``(N, seed=seed,
    epoch=k)``, so ``loader.set_epoch(k)`` (as ``DistributedSampler.set_epoch``) resumes a run exactly
    where a checkpoint left it. Batches are tuples of numpy arrays (``(images, labels)`` for a
    :class:`Dataset`).

    Args:
        dataset: a :class:`Dataset` or a tuple of arrays sharing their first dimension.
        batch_size: examples per batch (default 1, as torch).
        shuffle: reshuffle every epoch (default False, as torch).
        drop_last: drop an incomplete last batch (default False, as torch).
        seed: the seed of the shuffling (keyword-only; torch takes a ``generator`` instead).
        prefetch: batches built ahead in a background thread (keyword-only; 0 = none).

    Example::

        loader = DataLoader(train, batch_size=64, shuffle=True, seed=0)
        for epoch in range(start_epoch, epochs):
            loader.set_epoch(epoch)
            for images, labels in loader:
                ...
    """

    def __init__(
        self,
        dataset: Dataset | Sequence[Any],
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        *,
        seed: int = 0,
        prefetch: int = 0,
    ) -> None:
        fn = "DataLoader"
        self._arrays = _as_arrays(fn, dataset)
        self.dataset = dataset
        self.batch_size = _int_arg(fn, "batch_size", batch_size, 1)
        self.shuffle = _bool_arg(fn, "shuffle", shuffle)
        self.drop_last = _bool_arg(fn, "drop_last", drop_last)
        self.seed = _int_arg(fn, "seed", seed, 0)
        self.prefetch = _int_arg(fn, "prefetch", prefetch, 0)
        self.epoch = 0

    @property
    def num_examples(self) -> int:
        return int(self._arrays[0].shape[0])

    def __len__(self) -> int:
        return _num_batches(self.num_examples, self.batch_size, self.drop_last)

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``iter(loader)`` run epoch ``epoch``."""
        self.epoch = _int_arg("DataLoader.set_epoch", "epoch", epoch, 0)

    def iter_epoch(self, epoch: int) -> Iterator[Arrays]:
        """The batches of epoch ``epoch``, without touching :attr:`epoch`."""
        return batches(
            self._arrays,
            self.batch_size,
            shuffle=self.shuffle,
            seed=self.seed,
            epoch=epoch,
            drop_last=self.drop_last,
            prefetch=self.prefetch,
        )

    def __iter__(self) -> Iterator[Arrays]:
        it = self.iter_epoch(self.epoch)
        self.epoch += 1
        return it

    def state_dict(self) -> dict[str, int]:
        """``{"epoch": next epoch, "seed": seed}``, for a training checkpoint."""
        return {"epoch": self.epoch, "seed": self.seed}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        """Restore :meth:`state_dict`: the next epoch and the seed."""
        fn = "DataLoader.load_state_dict"
        try:
            epoch, seed = state_dict["epoch"], state_dict["seed"]
        except (KeyError, TypeError):
            raise ValueError(
                f"{fn}: state_dict must have keys 'epoch' and 'seed', got {state_dict!r}"
            ) from None
        self.seed = _int_arg(fn, "seed", seed, 0)
        self.epoch = _int_arg(fn, "epoch", epoch, 0)

    def __repr__(self) -> str:
        return (
            f"DataLoader(num_examples={self.num_examples}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, seed={self.seed}, epoch={self.epoch})"
        )
