"""Data-parallel training (jloss/train/_sharding.py, fit(mesh=...), jloss train --devices N).

The 8-device checks run in a subprocess (tests/_sharded/train.py) with 8 simulated CPU devices (JAX
reads the device count once, at start; this process keeps one device) and print measurements that
the tests below assert on. The rest runs here, on this process's single device.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import optax
import pytest
from flax import nnx
from jax.sharding import Mesh

import jloss.nn
from jloss import models
from jloss.cli import main
from jloss.train import (
    data_sharding,
    default_mesh,
    fit,
    process_rows,
    replicated,
    shard_batch,
    state_shardings,
)

ROOT = Path(__file__).resolve().parents[2]
HELPER = ROOT / "tests" / "_sharded" / "train.py"


def _run(args, xla_flags=None, timeout=900):
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env.pop("XLA_FLAGS", None)
    if xla_flags:
        env["XLA_FLAGS"] = xla_flags
    proc = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=timeout,
                          check=False, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout


@pytest.fixture(scope="module")
def report():
    # no device count in XLA_FLAGS: the helper gets its 8 CPU devices through `jloss train --devices 8`'s
    # own set-up; -O0 LLVM roughly halves compile time (both placements compiled alike)
    return json.loads(_run([str(HELPER)], "--xla_backend_optimization_level=0"))


def test_cli_sets_the_cpu_device_count_before_jax_starts(report):
    assert report["auto_devices"] == report["devices"] == 8


def test_50_steps_on_8_devices_give_the_single_device_loss_curve(report):
    c = report["curve"]
    assert report["devices"] == 8 and c["devices_single"] == 1
    assert c["last"] < 0.5 * c["first"]  # LeNet + Adam on real digits: the curve is not flat
    for kind in ("mesh", "zero"):
        assert c[kind]["devices"] == 8
        assert c[kind]["loss_err"] <= 1e-5, (kind, c[kind])
        assert c[kind]["param_err"] <= 1e-4, (kind, c[kind])
    # ZeRO-1 split the optimizer state's large arrays; the default replicates them
    assert c["zero_sharded_state_leaves"] > 0 and c["mesh_sharded_state_leaves"] == 0


def test_fit_on_8_devices_matches_fit_on_one(report):
    f = report["fit"]
    assert f["learned"][-1] < 0.7 * f["learned"][0] and f["lr"] == [0.05, 0.025, 0.0125]
    assert f["train_loss_err"] <= 1e-5 and f["test_loss_err"] <= 1e-5 and f["param_err"] <= 1e-5
    assert f["acc_8"] == f["acc_1"] and f["acc_1"][-1] > 0.3


def test_checkpoints_move_between_device_counts(report):
    """1 epoch on one device, resumed on 8 to epoch 2, resumed on one to epoch 3 == 3 epochs on one."""
    r = report["fit"]["resume"]
    assert r["epochs"] == [1, 2, 3]
    assert r["train_loss_err"] <= 1e-5 and r["param_err"] <= 1e-5


def test_cli_devices_8_matches_devices_1(report):
    c = report["cli"]
    assert c["8"]["rc"] == c["1"]["rc"] == 0
    assert (c["8"]["devices"], c["1"]["devices"]) == (8, 1) and c["8"]["banner"].endswith(", 8 devices")
    # float32 training is chaotic at the 1e-5 level (see the report's `control`): close, not equal
    assert abs(c["8"]["test_accuracy"] - c["1"]["test_accuracy"]) <= 0.01 and c["1"]["test_accuracy"] > 0.5
    assert abs(c["8"]["train_loss"][0] - c["1"]["train_loss"][0]) <= 1e-3 * c["1"]["train_loss"][0]


def test_too_many_devices_is_a_clear_error(report):
    assert report["cli"]["16"]["rc"] == 2
    assert "XLA_FLAGS=--xla_force_host_platform_device_count=16" in report["cli"]["16"]["stderr"]
    assert "only 8 cpu device(s)" in report["cli"]["16"]["stderr"]
    assert "got 16" in report["errors"]["mesh_16"] and "device_count=16" in report["errors"]["mesh_16"]
    assert report["errors"]["fit_batch"].startswith("fit: batch_size must be divisible") and "got 12" in \
        report["errors"]["fit_batch"]


# ---- on this process's one device ----------------------------------------------------------------


def test_one_device_helpers():
    mesh = default_mesh()
    assert mesh.axis_names == ("data",) and mesh.size == jax.device_count() == 1
    x = np.arange(12.0).reshape(6, 2)
    (a,) = jax.tree.leaves(shard_batch((x,), mesh))
    assert a.sharding == data_sharding(mesh) and np.array_equal(np.asarray(a), x)
    assert np.array_equal(process_rows(6, data_sharding(mesh)), np.arange(6))
    assert np.array_equal(process_rows(5, replicated(mesh)), np.arange(5))
    sh = state_shardings({"m": np.zeros((64, 64)), "count": np.zeros(())}, mesh, zero=True)
    assert all(s.is_fully_replicated for s in jax.tree.leaves(sh))  # one device: nothing to split


def test_fit_on_a_one_device_mesh_equals_the_default_path():
    r = np.random.default_rng(0)
    x, y = r.standard_normal((40, 10)).astype(np.float32), r.integers(0, 10, 40).astype(np.int32)
    hs = []
    for mesh in (None, default_mesh(1)):
        net = models.LinearNet(rngs=nnx.Rngs(0))
        hs.append(fit(net, optax.sgd(0.1), jloss.nn.CrossEntropyLoss(), (x, y), epochs=2, batch_size=20,
                      progress=False, mesh=mesh))
    assert hs[0].train_loss == pytest.approx(hs[1].train_loss, rel=1e-6)
    assert hs[0].train_loss[1] < hs[0].train_loss[0]


@pytest.mark.parametrize("kwargs, exc, message", [
    ({"mesh": "data"}, TypeError, "fit: mesh must be a jax.sharding.Mesh or None, got str"),
    ({"mesh": Mesh(np.asarray(jax.devices()[:1]), ("batch",))}, ValueError, "fit: mesh must have a 'data' axis"),
    ({"shard_optimizer_state": 1}, TypeError, "fit: shard_optimizer_state must be a bool, got 1"),
])
def test_fit_names_bad_mesh_arguments(kwargs, exc, message):
    x, y = np.zeros((8, 10), np.float32), np.zeros(8, np.int32)
    with pytest.raises(exc, match=message.replace("(", r"\(").replace(")", r"\)")):
        fit(models.LinearNet(rngs=nnx.Rngs(0)), optax.sgd(0.1), jloss.nn.CrossEntropyLoss(), (x, y),
            progress=False, **kwargs)


@pytest.mark.parametrize("argv, message", [
    (["--devices", "0"], "--devices must be >= 1, got 0"),
    (["--devices", "2"], "--devices 2: only 1 cpu device(s) available; for a CPU simulation start with "
                         "XLA_FLAGS=--xla_force_host_platform_device_count=2"),
])
def test_cli_bad_devices_return_2(argv, message, capsys):
    if jax.devices()[0].platform != "cpu":
        pytest.skip("the message names the CPU simulation")
    assert main(["train", "--no-progress", *argv]) == 2
    assert message in capsys.readouterr().err
