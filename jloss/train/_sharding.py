"""Data parallelism on ``jax.sharding``: a 1-D device mesh, the batch split along its ``'data'`` axis,
parameters replicated, the optimizer state replicated or (ZeRO-1) split along the same axis.

Nothing here communicates by hand: the jitted step is compiled once for the whole mesh and XLA's
SPMD partitioner inserts the all-reduce of the gradients (and, with a sharded optimizer state, the
all-gather of the updated parameters). A loss written for one device therefore keeps its global
semantics on many (a ``'mean'`` divides by the global batch, a weighted mean by the global weight
sum), and ``jax.distributed.initialize()`` turns the same code into a multi-host run: every process
builds the same mesh over ``jax.devices()`` and feeds the rows of each global batch its own devices
hold (:func:`shard_batch`, :func:`process_rows`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

#: The name of the mesh axis the batch is split along.
DATA_AXIS = "data"
#: ZeRO-1: optimizer-state arrays with fewer elements than this stay replicated.
ZERO_MIN_SIZE = 1024


def default_mesh(devices: int | Sequence[jax.Device] | None = None, *, axis_name: str = DATA_AXIS) -> Mesh:
    """A 1-D :class:`jax.sharding.Mesh` with one axis ``axis_name`` over ``devices``.

    Args:
        devices: ``None`` (default) for every device of the run (``jax.devices()``: all hosts' devices
            after ``jax.distributed.initialize()``), an int ``n`` for the first ``n`` of them, or a
            sequence of devices.
        axis_name: the name of the axis (default ``'data'``).
    """
    if devices is None:
        devs = jax.devices()
    elif isinstance(devices, int) and not isinstance(devices, bool):
        have = jax.devices()
        if devices < 1 or devices > len(have):
            raise ValueError(f"default_mesh: devices must be between 1 and the {len(have)} available "
                             f"{have[0].platform} device(s), got {devices}{_simulate_hint(devices, have)}")
        devs = have[:devices]
    else:
        devs = list(devices)
        if not devs:
            raise ValueError("default_mesh: devices must not be empty")
    return Mesh(np.asarray(devs, dtype=object), (axis_name,))


def _simulate_hint(n: int, have: Sequence[jax.Device]) -> str:
    if have and have[0].platform != "cpu":
        return ""
    return (f"; to simulate {n} devices on CPU set XLA_FLAGS=--xla_force_host_platform_device_count={n} "
            "(or jax.config.update('jax_num_cpu_devices', n)) before JAX starts")


def resolve_mesh(fn: str, mesh: Mesh | None, axis_name: str = DATA_AXIS) -> Mesh | None:
    """``mesh`` checked, or the default: every device when there is more than one, else ``None``
    (the single-device path)."""
    if mesh is None:
        return default_mesh(axis_name=axis_name) if jax.device_count() > 1 else None
    if not isinstance(mesh, Mesh):
        raise TypeError(f"{fn}: mesh must be a jax.sharding.Mesh or None, got {type(mesh).__name__}")
    if axis_name not in mesh.axis_names:
        raise ValueError(f"{fn}: mesh must have a {axis_name!r} axis to split the batch along, got axes "
                         f"{tuple(mesh.axis_names)}")
    return mesh


def data_size(mesh: Mesh, axis_name: str = DATA_AXIS) -> int:
    """The number of batch shards: the size of the mesh's data axis."""
    return int(mesh.shape[axis_name])


def data_sharding(mesh: Mesh, axis_name: str = DATA_AXIS) -> NamedSharding:
    """The sharding of a batch: leading dimension split along ``axis_name``, the rest replicated
    (over any other mesh axes too)."""
    return NamedSharding(mesh, P(axis_name))


def replicated(mesh: Mesh) -> NamedSharding:
    """The sharding of a fully replicated array (parameters, scalars)."""
    return NamedSharding(mesh, P())


def state_shardings(state: Any, mesh: Mesh, *, zero: bool = False, min_size: int = ZERO_MIN_SIZE,
                    axis_name: str = DATA_AXIS) -> Any:
    """A pytree of :class:`NamedSharding` for an optimizer state: every leaf replicated, or with
    ``zero=True`` (ZeRO-1) each array of at least ``min_size`` elements split along its first
    dimension divisible by the data-axis size (the rest replicated). The parameters stay
    replicated either way; XLA all-gathers the updated parameters after the sharded update."""
    rep = replicated(mesh)
    n = data_size(mesh, axis_name)

    def pick(leaf: Any) -> NamedSharding:
        shape = np.shape(leaf)
        if not zero or n == 1 or int(np.prod(shape, dtype=np.int64)) < min_size:
            return rep
        for d, size in enumerate(shape):
            if size % n == 0:
                return NamedSharding(mesh, P(*([None] * d), axis_name))
        return rep

    return jax.tree.map(pick, state)


def process_rows(n: int, sharding: NamedSharding) -> np.ndarray:
    """The rows of a global batch of ``n`` rows that this process feeds for ``sharding``: the
    slices its devices hold, in order (all ``n`` rows for a replicated sharding; all of them with
    one process). ``x[rows]`` is what :func:`jax.make_array_from_process_local_data` expects."""
    index_map = sharding.addressable_devices_indices_map((n,))
    spans = sorted({(s[0].start or 0, n if s[0].stop is None else s[0].stop) for s in index_map.values()})
    if len(spans) == 1:
        return np.arange(*spans[0])
    return np.concatenate([np.arange(lo, hi) for lo, hi in spans])


def shard_batch(batch: Any, mesh: Mesh, *, global_size: int | None = None, axis_name: str = DATA_AXIS) -> Any:
    """Place this process's part of a global batch on the mesh, split along the data axis.

    ``batch``: a pytree of host arrays (numpy), the rows this process loaded: with one process the
    whole batch; with several (``jax.distributed``) each process passes its own equal share, in
    process order (``global_size`` defaults to ``rows * jax.process_count()``). Built with
    :func:`jax.make_array_from_process_local_data`, so no host ever holds the global batch.

    Returns:
        the same pytree of global ``jax.Array`` s, sharded ``P(axis_name)``.
    """
    sharding = data_sharding(mesh, axis_name)

    def put(a: Any) -> jax.Array:
        a = np.asarray(a)
        n = global_size if global_size is not None else a.shape[0] * jax.process_count()
        return jax.make_array_from_process_local_data(sharding, a, (n, *a.shape[1:]))

    return jax.tree.map(put, batch)


def put_rows(arrays: Sequence[np.ndarray], index: np.ndarray, sharding: NamedSharding) -> tuple[jax.Array, ...]:
    """The global batch ``tuple(a[index] for a in arrays)`` placed with ``sharding``, gathering on
    this host only the rows its devices hold (every host holds all of ``arrays``)."""
    n = len(index)
    local = index[process_rows(n, sharding)]
    return tuple(jax.make_array_from_process_local_data(sharding, a[local], (n, *a.shape[1:])) for a in arrays)


def gather_to_host(tree: Any) -> Any:
    """``tree`` with every array that spans other processes' devices all-gathered (replicated), so
    that ``np.asarray`` reads it on every host (what a checkpoint needs). A no-op with one process."""
    def fetch(a: Any) -> Any:
        if isinstance(a, jax.Array) and not a.is_fully_addressable and not a.is_fully_replicated:
            mesh = getattr(a.sharding, "mesh", None)
            if mesh is None:
                from jax.experimental import multihost_utils  # noqa: PLC0415

                return multihost_utils.process_allgather(a, tiled=True)
            return jax.jit(lambda v: v, out_shardings=replicated(mesh))(a)
        return a

    return jax.tree.map(fetch, tree)
