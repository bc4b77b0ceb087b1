"""``fit`` and ``evaluate``: the tutorials' train / eval loop, jitted, with checkpoints that resume
bit-identically."""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import jax
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh

from ..optim._stateful import LBFGS, Optimizer
from ..optim.lr_scheduler import ReduceLROnPlateau
from ._checkpoint import load_checkpoint, save_checkpoint
from ._sharding import (
    data_sharding,
    data_size,
    gather_to_host,
    put_rows,
    replicated,
    resolve_mesh,
    state_shardings,
)
from ._steps import Metrics, make_eval_step, make_train_step, optax_update, split_model

Data = Any  # a jloss.data.Dataset, or an (images, labels) pair of arrays


@dataclasses.dataclass
class History:
    """Per-epoch records of :func:`fit` (one list entry per epoch; ``test_*`` are ``None`` without
    ``eval_data``; ``lr`` is the first param group's LR used during the epoch)."""

    epoch: list[int] = dataclasses.field(default_factory=list)
    train_loss: list[float] = dataclasses.field(default_factory=list)
    train_accuracy: list[float | None] = dataclasses.field(default_factory=list)
    test_loss: list[float | None] = dataclasses.field(default_factory=list)
    test_accuracy: list[float | None] = dataclasses.field(default_factory=list)
    lr: list[float | None] = dataclasses.field(default_factory=list)
    seconds: list[float] = dataclasses.field(default_factory=list)

    def append(self, **record: Any) -> None:
        for k, v in record.items():
            getattr(self, k).append(v)

    def as_dict(self) -> dict[str, list[Any]]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> History:
        return cls(**{f.name: list(d.get(f.name, [])) for f in dataclasses.fields(cls)})


def parameters(model: nnx.Module) -> Any:
    """The model's trainable parameters as a nested dict (``net.parameters()`` of torch): what a
    ``jloss.optim`` optimizer object is built over, ``optim.SGD(parameters(net), lr=0.01)``."""
    return split_model(model).params


def _arrays(fn: str, name: str, data: Data) -> tuple[np.ndarray, np.ndarray]:
    if hasattr(data, "images") and hasattr(data, "labels"):
        x, y = data.images, data.labels
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = data
    else:
        raise TypeError(f"{fn}: {name} must be a jloss.data.Dataset or an (inputs, targets) pair, "
                        f"got {type(data).__name__}")
    x, y = np.asarray(x), np.asarray(y)
    if x.shape[:1] != y.shape[:1] or x.shape[0] == 0:
        raise ValueError(f"{fn}: {name} needs as many targets as inputs (> 0), got {x.shape[0]} inputs "
                         f"and {y.shape[0] if y.ndim else 0} targets")
    return x, y


def _batches(x: np.ndarray, y: np.ndarray, batch_size: int, *, shuffle: bool, seed: int, epoch: int,
             drop_last: bool) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    from ..data import batches  # noqa: PLC0415

    yield from batches((x, y), batch_size, shuffle=shuffle, seed=seed, epoch=epoch, drop_last=drop_last)


def _index_batches(n: int, batch_size: int, *, shuffle: bool, seed: int, epoch: int,
                   drop_last: bool) -> Iterator[np.ndarray]:
    """The row indices of :func:`jloss.data.batches`' batches (same order, same sizes)."""
    from ..data import epoch_permutation  # noqa: PLC0415

    order = epoch_permutation(n, seed=seed, epoch=epoch) if shuffle else np.arange(n)
    count = n // batch_size if drop_last else -(-n // batch_size)
    for b in range(count):
        yield order[b * batch_size:(b + 1) * batch_size]


class _Placer:
    """Where fit's arrays live on a mesh: batches split along the data axis (a batch that does not
    divide: replicated), parameters replicated, the optimizer state replicated or ZeRO-1 split."""

    def __init__(self, mesh: Mesh, *, zero: bool) -> None:
        self.mesh, self.zero = mesh, zero
        self.rep, self.data, self.n = replicated(mesh), data_sharding(mesh), data_size(mesh)
        self._treedef: Any = None
        self._state_sharding: Any = None

    def batches(self, x: np.ndarray, y: np.ndarray, batch_size: int, **kw: Any) -> Iterator[tuple[jax.Array, ...]]:
        for idx in _index_batches(len(y), batch_size, **kw):
            yield put_rows((x, y), idx, self.data if len(idx) % self.n == 0 else self.rep)

    def state_sharding(self, state: Any) -> Any:
        treedef = jax.tree.structure(state)
        if self._treedef is None or treedef != self._treedef:
            self._treedef = treedef
            self._state_sharding = state_shardings(state, self.mesh, zero=self.zero)
        return self._state_sharding

    def place(self, params: Any, state: Any) -> tuple[Any, Any]:
        return jax.device_put(params, self.rep), jax.device_put(state, self.state_sharding(state))


def _summary(ms: list[Metrics], classify: bool) -> tuple[float, float | None]:
    tot = jax.device_get(jax.tree.map(lambda *a: np.sum(np.stack(a), dtype=np.float64), *ms))
    loss = float(tot.loss_sum / tot.count)
    return loss, (float(tot.correct / tot.count) if classify else None)


def _classifies(y: np.ndarray) -> bool:
    return np.issubdtype(y.dtype, np.integer)


def evaluate(model: nnx.Module, loss_fn: Callable[[jax.Array, jax.Array], jax.Array], data: Data, *,
             batch_size: int = 256, params: Any = None, mesh: Mesh | None = None) -> dict[str, float | None]:
    """The mean loss and top-1 accuracy of ``model`` (eval mode, no gradients) over ``data``.

    ``loss`` averages the per-batch losses weighted by batch size; ``accuracy`` is ``None`` when the
    targets are not class indices. ``params`` overrides the model's parameters. ``mesh``: as in
    :func:`fit` (batches split along its ``'data'`` axis; by default every device when there are
    several).
    """
    x, y = _arrays("evaluate", "data", data)
    mesh = resolve_mesh("evaluate", mesh)
    sm = split_model(model)
    step = make_eval_step(sm.apply_eval, loss_fn, mesh=mesh)
    p = sm.params if params is None else params
    if mesh is None:
        it = _batches(x, y, batch_size, shuffle=False, seed=0, epoch=0, drop_last=False)
    else:
        placer = _Placer(mesh, zero=False)
        p = jax.device_put(p, placer.rep)
        it = placer.batches(x, y, batch_size, shuffle=False, seed=0, epoch=0, drop_last=False)
    ms = [step(p, bx, by) for bx, by in it]
    loss, acc = _summary(ms, _classifies(y))
    return {"loss": loss, "accuracy": acc}


class _Engine:
    """The optimizer side of fit: a jloss Optimizer object or an optax transformation."""

    def __init__(self, optimizer: Any, params: Any) -> None:
        if isinstance(optimizer, LBFGS):
            raise TypeError("fit: LBFGS needs a closure per step; drive it with optimizer.step(closure=...)")
        if isinstance(optimizer, Optimizer):
            if len(optimizer.param_groups) != 1:
                raise ValueError(f"fit: the optimizer must have one param group over parameters(model), "
                                 f"got {len(optimizer.param_groups)}")
            have = jax.tree.structure(optimizer.param_groups[0]["params"])
            if have != jax.tree.structure(params):
                raise ValueError("fit: the optimizer's params must be jloss.train.parameters(model) "
                                 f"(structure {jax.tree.structure(params)}), got {have}")
            self.obj, self.tx = optimizer, None
            optimizer.param_groups[0]["params"] = params  # the model is the source of truth
        elif isinstance(optimizer, optax.GradientTransformation):
            self.obj, self.tx = None, optimizer
            self.params, self.state = params, optimizer.init(params)
        else:
            raise TypeError("fit: optimizer must be a jloss.optim optimizer object (SGD, Adam, ...) or an "
                            f"optax GradientTransformation, got {type(optimizer).__name__}")
        self._update_fn: Any = None
        self._update: Any = None

    def update_fn(self) -> Callable[..., Any]:
        """The pure update; a new object only when the optimizer's static configuration changed."""
        if self.obj is None:
            if self._update is None:
                self._update = optax_update(self.tx)
            return self._update
        fn = self.obj.update_fn()
        if fn is not self._update_fn:
            self._update_fn = fn

            def update(params, grads, states):
                new_p, new_s = fn([params], [grads], states)
                return new_p[0], new_s

            self._update = update
        return self._update

    def pull(self) -> tuple[Any, Any]:
        """``(params, opt_state)`` for the next donated step (no buffer appears twice: a loaded
        state_dict may share one array between entries, and a buffer can be donated only once)."""
        if self.obj is None:
            return _unshared((self.params, self.state))
        ps, states = self.obj.functional_state()
        return ps[0], states

    def push(self, params: Any, state: Any) -> None:
        if self.obj is None:
            self.params, self.state = params, state
        else:
            self.obj.set_functional_state([params], state)

    def lr(self) -> float | None:
        if self.obj is not None:
            return float(self.obj.param_groups[0]["lr"])
        for name in ("lr", "learning_rate"):
            v = optax.tree_utils.tree_get(self.state, name, None)
            if v is not None:
                return float(v)
        return None

    def state_dict(self) -> Any:
        if self.obj is not None:
            return self.obj.state_dict()
        return {"optax_leaves": jax.tree.leaves(self.state)}

    def load_state_dict(self, sd: Mapping[str, Any], path: str) -> None:
        if self.obj is not None:
            self.obj.load_state_dict(sd)
            return
        leaves, treedef = jax.tree.flatten(self.state)
        saved = list(sd.get("optax_leaves", []))
        if len(saved) != len(leaves) or any(np.shape(a) != np.shape(b) for a, b in zip(saved, leaves, strict=True)):
            raise ValueError(f"fit: the optimizer state in {path!r} does not match this optimizer "
                             f"({len(saved)} arrays saved, {len(leaves)} expected)")
        self.state = treedef.unflatten([jax.numpy.asarray(a, b.dtype) for a, b in zip(saved, leaves, strict=True)])


class _NoBar:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass


def _unshared(tree: Any) -> Any:
    seen: set[int] = set()

    def fresh(a: Any) -> Any:
        if isinstance(a, jax.Array):
            if id(a) in seen:
                return a.copy()
            seen.add(id(a))
        return a

    return jax.tree.map(fresh, tree)


def _load_params(model: nnx.Module, params: Any) -> None:
    state = nnx.state(model, nnx.Param)
    nnx.replace_by_pure_dict(state, params)
    nnx.update(model, state)


def fit(model: nnx.Module, optimizer: Any, loss_fn: Callable[[jax.Array, jax.Array], jax.Array],
        train_data: Data, *, epochs: int = 1, batch_size: int = 64, eval_data: Data | None = None,
        scheduler: Any = None, scheduler_interval: str = "epoch", seed: int = 0, shuffle: bool = True,
        drop_last: bool = False, eval_batch_size: int = 256, checkpoint: str | os.PathLike[str] | None = None,
        resume: bool = False, progress: bool = True,
        callback: Callable[[int, dict[str, Any]], None] | None = None, mesh: Mesh | None = None,
        shard_optimizer_state: bool = False,
        step_callback: Callable[[int, int, Metrics], None] | None = None) -> History:
    """Train ``model`` in place for ``epochs`` epochs; returns the per-epoch :class:`History`.

    Each batch runs one jitted step (forward, ``loss_fn(output, target)``, gradient, optimizer update,
    parameters and optimizer state donated). ``optimizer``: a ``jloss.optim`` object over
    ``parameters(model)`` (its ``param_groups`` LRs, set by ``scheduler``, take effect at the next
    step) or an optax ``GradientTransformation`` (then put schedules inside it; ``scheduler`` must be
    None). ``scheduler``: a ``jloss.optim.lr_scheduler`` object stepped after every epoch
    (``scheduler_interval="epoch"``, the tutorials' way) or every batch (``"batch"``);
    ``ReduceLROnPlateau`` is stepped per epoch with the eval loss (the train loss without eval data).

    Batches are drawn from a permutation derived from ``(seed, epoch)``, so an epoch's order does not
    depend on what ran before it. With ``checkpoint=path`` the model, optimizer, scheduler, history,
    seed and epoch are saved after every epoch (atomically; see ``save_checkpoint``); with
    ``resume=True`` an existing checkpoint at ``path`` is loaded first and training continues from the
    epoch after it, bit-identically to an uninterrupted run. ``progress`` shows a tqdm bar with the
    running loss, accuracy and LR. ``callback(epoch, record)`` runs after each epoch (and its
    checkpoint); ``step_callback(epoch, step, metrics)`` after each training step (1-based epoch,
    0-based step; ``metrics`` are the step's device arrays, not yet blocked on).

    Data parallelism: ``mesh`` is a :class:`jax.sharding.Mesh` with a ``'data'`` axis (see
    ``jloss.train.default_mesh``); by default, when the run has more than one device, a 1-D mesh
    over all of them (``jax.devices()``, every host's after ``jax.distributed.initialize()``). Each
    batch is then split along the data axis, the parameters and the optimizer state are replicated
    (``shard_optimizer_state=True``: optimizer-state arrays of >= 1024 elements are split along
    the data axis instead, ZeRO-1) and the same jitted step runs SPMD: the loss, gradients and
    metrics are those of the global batch, as on one device. ``batch_size`` is the global batch
    and must be divisible by the data-axis size (``ValueError`` otherwise); a last partial batch
    (``drop_last=False``) or an eval batch that does not divide runs replicated on every device,
    unpadded, so no loss ever sees padding. Every process passes the same data and seed and loads
    only the rows of each batch its devices hold; checkpoints hold plain host arrays (written by
    process 0), so a sharded run's checkpoint resumes on one device and vice versa.
    """
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 0:
        raise ValueError(f"fit: epochs must be an int >= 0, got {epochs!r}")
    for name, v in (("batch_size", batch_size), ("eval_batch_size", eval_batch_size)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"fit: {name} must be an int >= 1, got {v!r}")
    if scheduler_interval not in ("epoch", "batch"):
        raise ValueError(f"fit: scheduler_interval must be 'epoch' or 'batch', got {scheduler_interval!r}")
    if resume and checkpoint is None:
        raise ValueError("fit: resume=True needs checkpoint=path")
    if not isinstance(shard_optimizer_state, bool):
        raise TypeError(f"fit: shard_optimizer_state must be a bool, got {shard_optimizer_state!r}")
    mesh = resolve_mesh("fit", mesh)
    placer = None if mesh is None else _Placer(mesh, zero=shard_optimizer_state)
    if placer is not None and batch_size % placer.n:
        raise ValueError(f"fit: batch_size must be divisible by the size of the mesh's 'data' axis "
                         f"({placer.n} devices share each batch evenly), got {batch_size}")
    x, y = _arrays("fit", "train_data", train_data)
    ex, ey = _arrays("fit", "eval_data", eval_data) if eval_data is not None else (None, None)
    sm = split_model(model)
    engine = _Engine(optimizer, sm.params)
    if scheduler is not None:
        if engine.obj is None:
            raise ValueError("fit: a scheduler object drives a jloss.optim optimizer object; with an optax "
                             "transformation pass a schedule as its lr instead")
        if getattr(scheduler, "optimizer", None) is not optimizer:
            raise ValueError("fit: the scheduler must be built on the optimizer passed to fit")
    plateau = isinstance(scheduler, ReduceLROnPlateau)
    if plateau and scheduler_interval == "batch":
        raise ValueError("fit: ReduceLROnPlateau steps on a metric once per epoch; use scheduler_interval='epoch'")
    history, start = History(), 0
    if resume and Path(checkpoint).exists():  # type: ignore[arg-type]
        ck = load_checkpoint(checkpoint)  # type: ignore[arg-type]
        if ck.get("seed") != seed:
            raise ValueError(f"fit: checkpoint {str(checkpoint)!r} was trained with seed {ck.get('seed')}, "
                             f"fit got seed={seed}; pass the same seed to resume")
        params = jax.tree.map(lambda a, b: jax.numpy.asarray(a, b.dtype), ck["model"], sm.params)
        _load_params(model, params)
        sm = split_model(model)
        engine = _Engine(optimizer, sm.params)
        engine.load_state_dict(ck["optimizer"], str(checkpoint))
        if scheduler is not None and ck.get("scheduler") is not None:
            scheduler.load_state_dict(ck["scheduler"])
        history, start = History.from_dict(ck["history"]), int(ck["epoch"])

    classify = _classifies(y)
    train_step, step_key = None, None
    eval_step = make_eval_step(sm.apply_eval, loss_fn, mesh=mesh)
    n_batches = len(y) // batch_size if drop_last else math.ceil(len(y) / batch_size)
    if progress:
        from tqdm.auto import tqdm  # noqa: PLC0415
    else:  # no tqdm import at all (tqdm.auto warns in kernels without ipywidgets)
        tqdm = _NoBar

    for epoch in range(start, epochs):
        t0 = time.perf_counter()
        lr_used = engine.lr()
        ms: list[Metrics] = []
        bar = tqdm(total=n_batches, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress, leave=True,
                   dynamic_ncols=True)
        order = {"shuffle": shuffle, "seed": seed, "epoch": epoch, "drop_last": drop_last}
        for i, (bx, by) in enumerate(_batches(x, y, batch_size, **order) if placer is None
                                     else placer.batches(x, y, batch_size, **order)):
            update_fn = engine.update_fn()
            params, state = engine.pull()
            state_sharding = None
            if placer is not None:
                params, state = placer.place(params, state)
                state_sharding = placer.state_sharding(state)
            if step_key != (update_fn, id(state_sharding)):  # new optimizer configuration or layout
                step_key = (update_fn, id(state_sharding))
                train_step = make_train_step(sm.apply_train, loss_fn, update_fn, mesh=mesh,
                                             state_sharding=state_sharding)
            params, state, m = train_step(params, state, bx, by)
            engine.push(params, state)
            ms.append(m)
            if step_callback is not None:
                step_callback(epoch + 1, i, m)
            if scheduler is not None and scheduler_interval == "batch":
                scheduler.step()
            if progress and (i % 20 == 0 or i == n_batches - 1):
                loss, acc = _summary(ms[-20:], classify)
                post = {"loss": f"{loss:.4f}"}
                if acc is not None:
                    post["acc"] = f"{acc:.3f}"
                if (lr := engine.lr()) is not None:
                    post["lr"] = f"{lr:.3g}"
                bar.set_postfix(post, refresh=False)
            bar.update(1)
        bar.close()
        train_loss, train_acc = _summary(ms, classify) if ms else (math.nan, None)
        test_loss = test_acc = None
        if ex is not None:
            params, _ = engine.pull()
            eorder = {"shuffle": False, "seed": 0, "epoch": 0, "drop_last": False}
            if placer is None:
                ebatches = _batches(ex, ey, eval_batch_size, **eorder)
            else:
                params = jax.device_put(params, placer.rep)
                ebatches = placer.batches(ex, ey, eval_batch_size, **eorder)
            ems = [eval_step(params, bx, by) for bx, by in ebatches]
            test_loss, test_acc = _summary(ems, _classifies(ey))
        if scheduler is not None and scheduler_interval == "epoch":
            if plateau:
                scheduler.step(test_loss if test_loss is not None else train_loss)
            else:
                scheduler.step()
        record = {"epoch": epoch + 1, "train_loss": train_loss, "train_accuracy": train_acc,
                  "test_loss": test_loss, "test_accuracy": test_acc, "lr": lr_used,
                  "seconds": time.perf_counter() - t0}
        history.append(**record)
        _load_params(model, engine.pull()[0])
        if checkpoint is not None and placer is not None and jax.process_count() > 1:
            engine.push(*gather_to_host(engine.pull()))  # ZeRO-1 shards on other hosts: all-gather
        if checkpoint is not None and jax.process_index() == 0:
            save_checkpoint(checkpoint, {
                "epoch": epoch + 1, "seed": seed, "model": engine.pull()[0], "optimizer": engine.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "history": history.as_dict(),
            })
        if callback is not None:
            callback(epoch + 1, record)
    return history
