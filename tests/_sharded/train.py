"""Data-parallel training on 8 simulated devices against the same training on one device.

Run by tests/train/test_sharding.py in a fresh subprocess, WITHOUT a device count in ``XLA_FLAGS``:
its first act is ``jloss train --devices 8``'s own set-up (``jloss._train_cli._mesh(8)``, which asks
JAX for 8 CPU devices before the backend starts, as ``--xla_force_host_platform_device_count=8``
would), so the whole run has 8 devices and ``auto_devices`` records that the CLI's mechanism works.
Prints one JSON object of measurements (the test asserts on them):

- ``curve``: 50 steps of LeNet + Adam through ``make_train_step`` on the same batches: the plain
  single-device step (no mesh), the step on the 8-device mesh (state replicated) and with the
  optimizer state ZeRO-1 sharded; the per-step losses and the final parameters. ``control`` is the
  single-device step with each batch's rows reversed: the same mathematics with other float sums,
  the yardstick of how far float32 rounding alone moves the curve.
- ``fit``: ``fit`` on 8 devices against ``fit`` on a 1-device mesh (a last partial batch that does
  not divide by 8, eval data, a stateful optimizer with a scheduler); checkpoints of an 8-device run
  resumed on one device and the reverse.
- ``cli``: ``jloss train --devices 8`` against ``--devices 1``, and ``--devices 16`` (too many).
- ``errors``: the messages of the ValueErrors for a batch that does not divide.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import time
import warnings
from typing import Any

warnings.simplefilter("error")  # as pyproject's pytest filters: an unusable donated buffer fails
for _module in ("jax", "flax"):
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=_module)

from jloss._train_cli import _mesh  # noqa: E402  (imports jax, starts no backend)

AUTO_MESH = _mesh(8)

import jax  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402

import jloss.nn  # noqa: E402
from jloss import data, models, optim  # noqa: E402
from jloss.optim import lr_scheduler as L  # noqa: E402
from jloss.train import (  # noqa: E402
    default_mesh,
    fit,
    make_train_step,
    optax_update,
    parameters,
    replicated,
    shard_batch,
    split_model,
    state_shardings,
)

CE = jloss.nn.CrossEntropyLoss()


def _rel(a: Any, b: Any) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def curve(train: data.Dataset) -> dict[str, Any]:
    steps, batch = 50, 32
    rng = np.random.default_rng(0)
    idx = [rng.choice(len(train), batch, replace=False) for _ in range(steps)]
    mesh = default_mesh()
    out: dict[str, Any] = {}
    sm = split_model(models.Net(rngs=nnx.Rngs(0)))
    tx = optim.adam(lr=2e-3)
    single_step = make_train_step(sm.apply_train, CE, optax_update(tx))
    for kind in ("single", "control", "mesh", "zero"):
        params = jax.tree.map(lambda a: a.copy(), sm.params)  # the step donates (deletes) its inputs
        state = tx.init(params)
        if kind in ("single", "control"):
            step = single_step
        else:
            sh = state_shardings(state, mesh, zero=kind == "zero", min_size=64)
            params, state = jax.device_put(params, replicated(mesh)), jax.device_put(state, sh)
            step = make_train_step(sm.apply_train, CE, optax_update(tx), mesh=mesh, state_sharding=sh)
            out[f"{kind}_sharded_state_leaves"] = sum(
                1 for a in jax.tree.leaves(state) if a.addressable_shards[0].data.size < a.size)
        ms = []
        for i in idx:
            if kind == "control":  # one device, each batch's rows reversed: the same math, other sums
                i = i[::-1]
            x, y = train.images[i], train.labels[i]
            if kind in ("mesh", "zero"):
                x, y = shard_batch((x, y), mesh)
            params, state, m = step(params, state, x, y)
            ms.append(m)
        losses = [float(m.loss_sum / m.count) for m in jax.device_get(ms)]
        out[kind] = {"losses": losses, "params": [np.asarray(a) for a in jax.tree.leaves(params)],
                     "devices": len(jax.tree.leaves(params)[0].sharding.device_set)}
    single = out.pop("single")
    res = {"first": single["losses"][0], "last": single["losses"][-1], "devices_single": single["devices"]}
    for kind in ("control", "mesh", "zero"):
        got = out.pop(kind)
        res[kind] = {"devices": got["devices"],
                     "loss_err": max(abs(a - b) / abs(b) for a, b in zip(got["losses"], single["losses"], strict=True)),
                     "param_err": max(_rel(a, b) for a, b in zip(got["params"], single["params"], strict=True))}
    res.update(out)
    return res


def _teacher(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and the classes a fixed random linear teacher gives them (learnable by LinearNet)."""
    r = np.random.default_rng(seed)
    x = r.standard_normal((n, 10)).astype(np.float32)
    y = np.argmax(x @ r.standard_normal((10, 10)).astype(np.float32), axis=1).astype(np.int32)
    return x, y


def _fit(mesh: Any, epochs: int, ckpt: str | None = None, resume: bool = False) -> Any:
    x, y = _teacher(264, 0)  # 204 = 6 x 32 + 12 train rows: a last batch 8 does not divide
    train, test = (x[:204], y[:204]), (x[204:], y[204:])
    net = models.LinearNet(rngs=nnx.Rngs(0))
    opt = optim.Adam(parameters(net), lr=0.05)
    sched = L.StepLR(opt, step_size=1, gamma=0.5)
    h = fit(net, opt, CE, train, epochs=epochs, batch_size=32, eval_data=test, eval_batch_size=24,
            scheduler=sched, progress=False, mesh=mesh, checkpoint=ckpt, resume=resume)
    return h, [np.asarray(a) for a in jax.tree.leaves(parameters(net))]


def fits() -> dict[str, Any]:
    m8, m1 = default_mesh(), default_mesh(1)
    h8, p8 = _fit(m8, 3)
    h1, p1 = _fit(m1, 3)
    res = {"train_loss_err": _rel(h8.train_loss, h1.train_loss), "test_loss_err": _rel(h8.test_loss, h1.test_loss),
           "acc_8": h8.test_accuracy, "acc_1": h1.test_accuracy, "lr": h8.lr, "learned": h1.train_loss,
           "param_err": max(_rel(a, b) for a, b in zip(p8, p1, strict=True))}
    with tempfile.TemporaryDirectory() as tmp:  # epoch 1 on one device, 2 on eight, 3 on one
        path = os.path.join(tmp, "run.ckpt")
        _fit(m1, 1, path)
        _fit(m8, 2, path, resume=True)
        h, p = _fit(m1, 3, path, resume=True)
        res["resume"] = {"epochs": h.epoch, "train_loss_err": _rel(h.train_loss, h1.train_loss),
                         "param_err": max(_rel(a, b) for a, b in zip(p, p1, strict=True))}
    return res


def errors() -> dict[str, str]:
    out = {}
    x, y = _teacher(64, 0)
    try:
        fit(models.LinearNet(rngs=nnx.Rngs(0)), optax.sgd(0.1), CE, (x, y), batch_size=12, progress=False)
    except ValueError as e:
        out["fit_batch"] = str(e)
    try:
        default_mesh(16)
    except ValueError as e:
        out["mesh_16"] = str(e)
    return out


def cli() -> dict[str, Any]:
    from jloss.cli import main  # noqa: PLC0415

    res: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (8, 1):
            path = os.path.join(tmp, f"{n}.json")
            err = io.StringIO()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
                rc = main(["train", "--dataset", "digits", "--epochs", "1", "--batch-size", "64", "--no-progress",
                           "--devices", str(n), "--json", path])
            with open(path) as f:
                m = json.load(f)
            res[str(n)] = {"rc": rc, "devices": m["devices"], "test_accuracy": m["test_accuracy"],
                           "train_loss": m["train_loss"], "banner": err.getvalue().splitlines()[0]}
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            rc = main(["train", "--devices", "16", "--no-progress"])
        res["16"] = {"rc": rc, "stderr": err.getvalue()}
    return res


def main() -> None:
    ds = data.load_digits(size=32)
    train, _ = data.train_test_split(ds, 0.25, seed=0)
    out: dict[str, Any] = {"devices": jax.device_count(), "auto_devices": AUTO_MESH.size, "cpu_seconds": {}}
    for name, part in (("errors", errors), ("curve", lambda: curve(train)), ("fit", fits), ("cli", cli)):
        t = time.process_time()
        out[name] = part()
        out["cpu_seconds"][name] = round(time.process_time() - t, 2)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
