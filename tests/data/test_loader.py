"""jloss.data batches / DataLoader: coverage, per-(seed, epoch) determinism, resume, torch's interface."""

from __future__ import annotations

import inspect
import threading

import numpy as np
import pytest

import jloss.data as D
from jloss.data import _loader


def _toy(n: int = 23) -> D.Dataset:
    images = np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1)
    return D.Dataset(images, (np.arange(n) % 4).astype(np.int32), "toy", 4)


def _ids(batch_list) -> np.ndarray:
    return np.concatenate([np.zeros(0)] + [x.reshape(-1) for x, _ in batch_list]).astype(np.int64)


def _prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "jloss-data-prefetch"]


@pytest.mark.parametrize(
    ("batch_size", "drop_last", "sizes"),
    [
        (5, False, [5, 5, 5, 5, 3]),
        (5, True, [5, 5, 5, 5]),
        (23, True, [23]),
        (30, False, [23]),
        (30, True, []),
    ],
)
@pytest.mark.parametrize("shuffle", [False, True])
def test_batch_sizes_and_coverage(batch_size, drop_last, sizes, shuffle):
    ds = _toy(23)
    out = list(D.batches(ds, batch_size, shuffle=shuffle, drop_last=drop_last, seed=1))
    assert [len(y) for _, y in out] == sizes
    loader = D.DataLoader(ds, batch_size, shuffle=shuffle, drop_last=drop_last, seed=1)
    assert len(loader) == len(sizes)
    ids = _ids(out)
    assert len(set(ids.tolist())) == len(ids)  # no example twice
    for x, y in out:
        assert x.shape[1:] == (1, 1, 1) and x.dtype == np.float32 and y.dtype == np.int32
        np.testing.assert_array_equal(y, x.reshape(-1).astype(np.int64) % 4)  # pairs kept together
    if not drop_last:
        assert sorted(ids.tolist()) == list(range(23))
    if not shuffle:
        np.testing.assert_array_equal(ids, np.arange(len(ids)))


def test_shuffled_order_is_epoch_permutation():
    ds = _toy(23)
    for seed, epoch in [(0, 0), (0, 3), (7, 1)]:
        ids = _ids(D.batches(ds, 4, seed=seed, epoch=epoch))
        np.testing.assert_array_equal(ids, D.epoch_permutation(23, seed=seed, epoch=epoch))
        # the permutation is fixed by (seed, epoch) through numpy's SeedSequence, nothing else
        expected = np.random.Generator(
            np.random.PCG64(np.random.SeedSequence([seed, epoch]))
        ).permutation(23)
        np.testing.assert_array_equal(ids, expected)


def test_deterministic_per_seed_and_epoch():
    ds = _toy(64)
    a = _ids(D.batches(ds, 8, seed=3, epoch=2))
    np.testing.assert_array_equal(a, _ids(D.batches(ds, 8, seed=3, epoch=2)))
    orders = {tuple(_ids(D.batches(ds, 8, seed=3, epoch=e))) for e in range(5)}
    assert len(orders) == 5  # every epoch its own order
    assert not np.array_equal(a, _ids(D.batches(ds, 8, seed=4, epoch=2)))


def test_dataloader_epochs_and_resume():
    ds = _toy(50)
    loader = D.DataLoader(ds, batch_size=8, shuffle=True, seed=11)
    assert loader.epoch == 0
    run = [_ids(loader) for _ in range(4)]  # each iter(loader) is one epoch
    assert loader.epoch == 4
    assert len({tuple(r) for r in run}) == 4
    # a run resumed from a checkpoint taken after epoch 2 sees the same epochs 2 and 3
    resumed = D.DataLoader(ds, batch_size=8, shuffle=True, seed=0)
    resumed.load_state_dict({"epoch": 2, "seed": 11})
    np.testing.assert_array_equal(_ids(resumed), run[2])
    np.testing.assert_array_equal(_ids(resumed), run[3])
    assert resumed.state_dict() == {"epoch": 4, "seed": 11}
    loader.set_epoch(1)
    np.testing.assert_array_equal(_ids(loader), run[1])
    np.testing.assert_array_equal(_ids(loader.iter_epoch(0)), run[0])
    assert loader.epoch == 2  # iter_epoch leaves the counter alone
    assert "epoch=2" in repr(loader)


def test_dataloader_matches_torch_interface_and_unshuffled_batches():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader as TorchDataLoader
    from torch.utils.data import TensorDataset

    ours = inspect.signature(D.DataLoader).parameters
    theirs = inspect.signature(TorchDataLoader).parameters
    assert list(ours)[:3] == list(theirs)[:3] == ["dataset", "batch_size", "shuffle"]
    for name in ("batch_size", "drop_last"):
        assert ours[name].default == theirs[name].default, name
    assert (
        ours["shuffle"].default is False and not theirs["shuffle"].default
    )  # torch: None, read as False
    ds = _toy(23)
    tds = TensorDataset(torch.from_numpy(ds.images), torch.from_numpy(ds.labels))
    for batch_size, drop_last in [(1, False), (5, False), (5, True), (23, False)]:
        ref = list(TorchDataLoader(tds, batch_size=batch_size, drop_last=drop_last))
        got = list(D.DataLoader(ds, batch_size=batch_size, drop_last=drop_last))
        assert len(D.DataLoader(ds, batch_size=batch_size, drop_last=drop_last)) == len(
            TorchDataLoader(tds, batch_size=batch_size, drop_last=drop_last)
        )
        assert len(got) == len(ref)
        for (x, y), (tx, ty) in zip(got, ref, strict=True):
            np.testing.assert_array_equal(x, tx.numpy())
            np.testing.assert_array_equal(y, ty.numpy())


def test_tuple_of_arrays():
    a, b, c = np.arange(10), np.arange(10) * 2, np.ones((10, 3))
    out = list(D.batches((a, b, c), 4, seed=0))
    assert [len(t) for t in out] == [3, 3, 3] and [len(t[0]) for t in out] == [4, 4, 2]
    for x, y, z in out:
        np.testing.assert_array_equal(y, 2 * x)
        assert z.shape == (len(x), 3)


@pytest.mark.parametrize("shuffle", [False, True])
def test_prefetch_gives_the_same_batches(shuffle):
    ds = _toy(37)
    plain = list(D.batches(ds, 4, shuffle=shuffle, seed=2, epoch=1))
    fetched = list(D.batches(ds, 4, shuffle=shuffle, seed=2, epoch=1, prefetch=3))
    assert len(plain) == len(fetched) == 10
    for (x0, y0), (x1, y1) in zip(plain, fetched, strict=True):
        np.testing.assert_array_equal(x0, x1)
        np.testing.assert_array_equal(y0, y1)
    loader = D.DataLoader(ds, 4, shuffle=shuffle, seed=2, prefetch=2)
    loader.set_epoch(1)
    np.testing.assert_array_equal(_ids(loader), _ids(plain))
    assert not _prefetch_threads()


def test_prefetch_stops_its_thread_on_break_and_forwards_errors():
    it = D.batches(_toy(200), 2, prefetch=2)
    next(it)
    assert len(_prefetch_threads()) == 1
    it.close()  # what a `break` out of a for loop does once the generator is dropped
    assert not _prefetch_threads()

    def failing():
        yield (np.zeros(1),)
        raise RuntimeError("boom in the source")

    gen = _loader._prefetched(failing(), 1)
    assert next(gen)[0].shape == (1,)
    with pytest.raises(RuntimeError, match="boom in the source"):
        next(gen)
    assert not _prefetch_threads()


@pytest.mark.parametrize(
    ("kwargs", "err", "match"),
    [
        ({"batch_size": 0}, ValueError, r"batches: batch_size must be an int >= 1, got 0"),
        ({"batch_size": 2.0}, ValueError, r"batches: batch_size must be an int >= 1, got 2.0"),
        ({"batch_size": True}, ValueError, r"batches: batch_size must be an int >= 1, got True"),
        (
            {"batch_size": 2, "shuffle": "yes"},
            TypeError,
            r"batches: shuffle must be a bool, got 'yes'",
        ),
        ({"batch_size": 2, "drop_last": 1}, TypeError, r"batches: drop_last must be a bool, got 1"),
        ({"batch_size": 2, "seed": -1}, ValueError, r"batches: seed must be an int >= 0, got -1"),
        ({"batch_size": 2, "epoch": -1}, ValueError, r"batches: epoch must be an int >= 0, got -1"),
        (
            {"batch_size": 2, "prefetch": -1},
            ValueError,
            r"batches: prefetch must be an int >= 0, got -1",
        ),
    ],
)
def test_batches_errors_are_eager(kwargs, err, match):
    with pytest.raises(err, match=match):
        D.batches(_toy(), **kwargs)  # raised at the call, before any iteration


def test_dataset_argument_errors():
    with pytest.raises(
        ValueError,
        match=r"batches: dataset arrays must share their first dimension, got shapes \[\(3,\), \(4,\)\]",
    ):
        D.batches((np.zeros(3), np.zeros(4)), 2)
    with pytest.raises(
        TypeError,
        match=r"batches: dataset must be a jloss.data.Dataset or a non-empty tuple of arrays, got ndarray",
    ):
        D.batches(np.zeros(3), 2)
    with pytest.raises(TypeError, match=r"DataLoader: dataset must be .*got dict"):
        D.DataLoader({"x": np.zeros(3)})
    with pytest.raises(ValueError, match=r"DataLoader: batch_size must be an int >= 1, got 0"):
        D.DataLoader(_toy(), 0)
    loader = D.DataLoader(_toy())
    with pytest.raises(
        ValueError, match=r"DataLoader.set_epoch: epoch must be an int >= 0, got -2"
    ):
        loader.set_epoch(-2)
    with pytest.raises(
        ValueError,
        match=r"DataLoader.load_state_dict: state_dict must have keys 'epoch' and 'seed'",
    ):
        loader.load_state_dict({"epoch": 1})
    with pytest.raises(
        ValueError, match=r"epoch_permutation: num_examples must be an int >= 0, got -1"
    ):
        D.epoch_permutation(-1)
