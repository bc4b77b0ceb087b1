"""The checkpoint format (jloss/train/_checkpoint.py): exact round trips, atomic writes, clear errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jloss.train import CheckpointError, load_checkpoint, save_checkpoint


def test_round_trip_is_exact_for_every_supported_type(tmp_path):
    payload = {
        "f32": np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32),
        "bf16": jnp.arange(5, dtype=jnp.bfloat16) / 3,
        "i64": np.arange(4, dtype=np.int64),
        "scalar": jnp.asarray(2.5, jnp.float64),
        "state": {0: {"step": np.asarray(3.0), "momentum_buffer": np.ones(2)}, 7: {}},
        "groups": [{"lr": 0.1, "betas": (0.9, 0.999), "nesterov": False, "name": None, "params": [0, 1]}],
        "floats": [math.inf, -math.inf, 1e-300],
        "key": jax.random.key(42),
        "nested": ((1, "a"), {"x": [None, True]}),
    }
    path = save_checkpoint(tmp_path / "c.npz", payload)
    back = load_checkpoint(path)
    assert back["f32"].dtype == np.float32 and np.array_equal(back["f32"], payload["f32"])
    assert back["bf16"].dtype == jnp.bfloat16 and np.array_equal(back["bf16"], np.asarray(payload["bf16"]))
    assert back["i64"].dtype == np.int64 and back["scalar"].dtype == np.float64 and float(back["scalar"]) == 2.5
    assert set(back["state"]) == {0, 7} and np.array_equal(back["state"][0]["momentum_buffer"], np.ones(2))
    assert back["groups"][0]["betas"] == (0.9, 0.999) and back["groups"][0]["name"] is None
    assert back["floats"] == [math.inf, -math.inf, 1e-300]
    assert np.array_equal(jax.random.key_data(back["key"]), jax.random.key_data(payload["key"]))
    assert back["nested"] == ((1, "a"), {"x": [None, True]})


def test_unsupported_objects_are_refused_by_name(tmp_path):
    with pytest.raises(TypeError, match="cannot store a function"):
        save_checkpoint(tmp_path / "c.npz", {"fn": lambda: 0})
    with pytest.raises(TypeError, match="payload must be a dict"):
        save_checkpoint(tmp_path / "c.npz", [1, 2])
    assert not (tmp_path / "c.npz").exists()


def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "c.npz"
    save_checkpoint(path, {"epoch": 1})
    with pytest.raises(TypeError):
        save_checkpoint(path, {"epoch": 2, "bad": object()})
    assert load_checkpoint(path) == {"epoch": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]  # no temporary file left behind


def test_missing_corrupt_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "nope.npz")
    good = save_checkpoint(tmp_path / "good.npz", {"w": np.ones(1000)})
    data = good.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(tmp_path / "trunc.npz")
    (tmp_path / "garbage.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "garbage.npz")
    np.savez(tmp_path / "plain.npz", x=np.ones(3))
    with pytest.raises(CheckpointError, match="not a jloss checkpoint"):
        load_checkpoint(tmp_path / "plain.npz")
    assert issubclass(CheckpointError, ValueError)
