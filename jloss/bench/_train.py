"""Train-step workloads: ``jloss.models.Net`` and ``CIFAR10Net`` at batch 64 and 256.

Every peer runs the same thing: forward, cross entropy, backward and an Adam step (lr 1e-3) on
one fixed batch. jloss is :func:`jloss.train.make_train_step` (one jitted step, parameters and
state donated) with ``jloss.optim.adam``; torch eager and ``torch.compile`` (default mode,
``dynamic=False``, of the model plus the loss; ``Adam`` eager) run the torch twins of
:mod:`jloss.models.torch_reference`; ``flax`` is the plain baseline a Flax user writes:
``nnx.Conv`` / ``nnx.max_pool`` / ``nnx.Linear``, ``nnx.Optimizer(model, optax.adam(1e-3))`` and
an ``nnx.jit`` step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from .. import models, optim
from ..nn import CrossEntropyLoss
from ..train import make_train_step, optax_update, split_model
from ._workload import Case, Context, Workload

__all__ = ["workloads"]

BATCHES = (64, 256)


class FlaxNet(nnx.Module):
    """LeNet (``cifar=False``, 1 channel) or the CIFAR-10 net, written the obvious Flax way."""

    def __init__(self, cifar: bool, *, rngs: nnx.Rngs) -> None:
        self.cifar = cifar
        if cifar:
            self.convs = nnx.List([nnx.Conv(3, 32, (5, 5), padding="SAME", rngs=rngs),
                                   nnx.Conv(32, 32, (5, 5), padding="SAME", rngs=rngs),
                                   nnx.Conv(32, 64, (5, 5), padding="SAME", rngs=rngs)])
            self.fcs = nnx.List([nnx.Linear(1024, 64, rngs=rngs), nnx.Linear(64, 10, rngs=rngs)])
        else:
            self.convs = nnx.List([nnx.Conv(1, 6, (5, 5), padding="VALID", rngs=rngs),
                                   nnx.Conv(6, 16, (5, 5), padding="VALID", rngs=rngs)])
            self.fcs = nnx.List([nnx.Linear(400, 120, rngs=rngs), nnx.Linear(120, 84, rngs=rngs),
                                 nnx.Linear(84, 10, rngs=rngs)])

    def __call__(self, x: jax.Array) -> jax.Array:
        for conv in self.convs:
            x = conv(x) if self.cifar else nnx.relu(conv(x))
            x = nnx.max_pool(x, (2, 2), strides=(2, 2))
        x = x.reshape(x.shape[0], -1)
        for i, fc in enumerate(self.fcs):
            x = fc(x)
            if not self.cifar and i < len(self.fcs) - 1:
                x = nnx.relu(x)
        return x


def _flax_peer(cifar: bool, x: jax.Array, y: jax.Array) -> Callable[[], Any]:
    model = FlaxNet(cifar, rngs=nnx.Rngs(0))
    opt = nnx.Optimizer(model, optax.adam(1e-3), wrt=nnx.Param)

    @nnx.jit
    def train_step(model: FlaxNet, opt: nnx.Optimizer, x: jax.Array, y: jax.Array) -> jax.Array:
        def loss_fn(model: FlaxNet) -> jax.Array:
            return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        opt.update(model, grads)
        return loss

    return lambda: train_step(model, opt, x, y)


def _cases(ctx: Context, *, name: str, batch: int) -> Iterator[Case]:
    batch = max(2, batch // 32) if ctx.quick else batch
    cifar = name == "CIFAR10Net"
    c = 3 if cifar else 1
    r = np.random.default_rng(0)
    x_np = r.standard_normal((batch, 32, 32, c), dtype=np.float32)
    y_np = r.integers(0, 10, batch).astype(np.int32)
    x, y = jax.device_put(x_np), jax.device_put(y_np)
    peers: dict[str, Callable[[], Any]] = {}
    skipped: dict[str, str] = {}

    net = getattr(models, name)(rngs=nnx.Rngs(0))
    sm = split_model(net)
    tx = optim.adam(lr=1e-3)
    step = make_train_step(sm.apply_train, CrossEntropyLoss(), optax_update(tx))
    params = jax.tree.map(lambda a: jnp.array(a, copy=True), sm.params)
    box = [params, tx.init(params)]

    def run_jloss() -> Any:
        box[0], box[1], metrics = step(box[0], box[1], x, y)
        return box[0], metrics

    peers["jloss"] = run_jloss
    if ctx.torch is None:
        skipped["torch"] = skipped["torch.compile"] = "torch is not installed"
    else:
        torch = ctx.torch
        from ..models.torch_reference import torch_twin  # noqa: PLC0415

        tx_t = torch.from_numpy(x_np).permute(0, 3, 1, 2).clone(memory_format=torch.contiguous_format)
        ty_t = torch.from_numpy(y_np).long()
        ce = torch.nn.functional.cross_entropy
        torch.manual_seed(0)
        eager = torch_twin(name)()
        comp = torch_twin(name)()
        comp.load_state_dict(eager.state_dict())
        opt_e = torch.optim.Adam(eager.parameters(), lr=1e-3)
        opt_c = torch.optim.Adam(comp.parameters(), lr=1e-3)

        def torch_step(loss_fn: Callable[[Any, Any], Any], opt: Any) -> Callable[[], None]:
            def run() -> None:
                opt.zero_grad(set_to_none=True)
                loss_fn(tx_t, ty_t).backward()
                opt.step()

            return run

        peers["torch"] = torch_step(lambda a, b: ce(eager(a), b), opt_e)
        if ctx.compile:
            peers["torch.compile"] = torch_step(torch.compile(lambda a, b: ce(comp(a), b), dynamic=False), opt_c)
        else:
            skipped["torch.compile"] = "torch.compile left out (compile=False)"
    peers["flax"] = _flax_peer(cifar, x, y)
    yield Case("train", peers, None, f"batch {batch}, {x_np.shape[1:]} NHWC", skipped,
               "steps/s = 1 / time; Adam(lr=1e-3) everywhere")


def workloads() -> list[Workload]:
    """The train-step workloads: each net at each batch size."""
    return [Workload("train", name, f"b{b}", partial(_cases, name=name, batch=b))
            for name in ("Net", "CIFAR10Net") for b in BATCHES]
