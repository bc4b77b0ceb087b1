"""Model weights between torch and the :mod:`jloss.models` nets, and ``torch.save`` files.

* :func:`load_torch_state_dict` / :func:`torch_state_dict`: a torch ``state_dict`` into an NNX net in
  place, and back, through an explicit name map per model class (Flax NNX's porting recipe): torch's
  key, the NNX attribute path, and the layout conversion (OIHW -> HWIO conv kernels, ``(out, in)`` ->
  ``(in, out)`` ``Linear`` kernels, and the flatten permutation in front of the first ``Linear``).
* :func:`load_torch_checkpoint` / :func:`save_torch_checkpoint`: ``torch.load(..., weights_only=True)``
  files with every tensor as a numpy array, and the inverse.

torch is imported only when a tensor is passed in or a checkpoint file is read or written.
"""

from __future__ import annotations

import os
import pickle
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, BinaryIO, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ..models._nets import CIFAR10Net, LinearNet, Net

_PIP_HINT = "pip install 'jloss[parity]'"

# ---- the name maps ------------------------------------------------------------------------------


class _Entry(NamedTuple):
    path: tuple[str | int, ...]
    """the attribute path of the ``nnx.Param`` (ints index an ``nnx.List``)."""
    kind: str
    """``"conv"`` (OIHW <-> HWIO), ``"linear"`` ((out, in) <-> (in, out)), ``"flat"`` (a ``Linear``
    after a flatten: rows permuted from torch's (C, H, W) order to NHWC's (H, W, C)), ``"bias"``."""
    chw: tuple[int, int, int] | None = None
    """for ``"flat"``: the (C, H, W) shape torch flattens."""


def _layer(prefix: str, path: tuple[str | int, ...], kind: str,
           chw: tuple[int, int, int] | None = None) -> dict[str, _Entry]:
    return {f"{prefix}.weight": _Entry((*path, "kernel"), kind, chw),
            f"{prefix}.bias": _Entry((*path, "bias"), "bias")}


_NET_MAP = {
    **_layer("conv1", ("conv1",), "conv"),
    **_layer("conv2", ("conv2",), "conv"),
    **_layer("fc1", ("fc1",), "flat", (16, 5, 5)),
    **_layer("fc2", ("fc2",), "linear"),
    **_layer("fc3", ("fc3",), "linear"),
}
_CIFAR10NET_MAP = {
    **_layer("model1.0", ("model1", "layers", 0), "conv"),
    **_layer("model1.2", ("model1", "layers", 2), "conv"),
    **_layer("model1.4", ("model1", "layers", 4), "conv"),
    **_layer("model1.7", ("model1", "layers", 7), "flat", (64, 4, 4)),
    **_layer("model1.8", ("model1", "layers", 8), "linear"),
}
_LINEARNET_MAP = {"weight": _Entry(("kernel",), "linear"), "bias": _Entry(("bias",), "bias")}

# torch's state_dict key order, per supported class
_NAME_MAPS: dict[type, dict[str, _Entry]] = {
    Net: _NET_MAP, CIFAR10Net: _CIFAR10NET_MAP, LinearNet: _LINEARNET_MAP,
}


def _name_map(fn: str, module: Any) -> dict[str, _Entry]:
    for cls, names in _NAME_MAPS.items():
        if isinstance(module, cls):
            return names
    supported = ", ".join(f"jloss.models.{c.__name__}" for c in _NAME_MAPS)
    raise TypeError(f"{fn}: module must be one of {supported}, got {type(module).__name__}")


def _param(module: Any, path: tuple[str | int, ...]) -> nnx.Variable:
    obj = module
    for p in path:
        obj = obj[p] if isinstance(p, int) else getattr(obj, p)
    return obj


def _to_nnx(x: np.ndarray, e: _Entry) -> np.ndarray:
    """torch layout -> NNX layout."""
    if e.kind == "conv":  # (O, I, kh, kw) -> (kh, kw, I, O)
        return x.transpose(2, 3, 1, 0)
    if e.kind == "linear":
        return x.T
    if e.kind == "flat":  # (O, C*H*W) -> (H*W*C, O)
        c, h, w = e.chw
        return x.reshape(x.shape[0], c, h, w).transpose(2, 3, 1, 0).reshape(h * w * c, x.shape[0])
    return x


def _to_torch(x: np.ndarray, e: _Entry) -> np.ndarray:
    """NNX layout -> torch layout (the inverse of :func:`_to_nnx`)."""
    if e.kind == "conv":  # (kh, kw, I, O) -> (O, I, kh, kw)
        return x.transpose(3, 2, 0, 1)
    if e.kind == "linear":
        return x.T
    if e.kind == "flat":  # (H*W*C, O) -> (O, C*H*W)
        c, h, w = e.chw
        return x.reshape(h, w, c, x.shape[1]).transpose(3, 2, 0, 1).reshape(x.shape[1], c * h * w)
    return x


def _torch_shape(shape: tuple[int, ...], e: _Entry) -> tuple[int, ...]:
    if e.kind == "conv":
        return (shape[3], shape[2], shape[0], shape[1])
    if e.kind in ("linear", "flat"):
        return (shape[1], shape[0])
    return tuple(shape)


# ---- arrays -------------------------------------------------------------------------------------

# dtypes numpy lacks: torch and ml_dtypes (jax's numpy dtypes) share the names; moved as raw bits
_BITS = {"bfloat16": "int16", "float8_e4m3fn": "uint8", "float8_e5m2": "uint8"}


def _tensor_to_numpy(t: Any) -> np.ndarray:
    """A torch tensor as a numpy array (detached, on the CPU, dense; bfloat16 / float8 as ml_dtypes)."""
    import torch  # noqa: PLC0415  (a tensor was passed in: torch is installed)

    t = t.detach()
    if t.layout != torch.strided:
        t = t.to_dense()
    t = t.cpu().resolve_conj().resolve_neg()
    name = str(t.dtype).removeprefix("torch.")
    if name in _BITS:
        import ml_dtypes  # noqa: PLC0415

        return t.view(getattr(torch, _BITS[name])).numpy().view(getattr(ml_dtypes, name))
    return t.numpy()


def _is_tensor(x: Any) -> bool:
    return hasattr(x, "detach") and hasattr(x, "numpy") and not isinstance(x, (np.ndarray, jax.Array))


def _numpy_to_tensor(x: np.ndarray) -> Any:
    import torch  # noqa: PLC0415

    x = np.array(x, copy=True, order="C")
    name = str(x.dtype)
    if name in _BITS:
        return torch.from_numpy(x.view(np.dtype(_BITS[name]))).view(getattr(torch, name))
    return torch.from_numpy(x)


# ---- state_dicts --------------------------------------------------------------------------------


class _IncompatibleKeys(NamedTuple):
    """What :func:`load_torch_state_dict` returns (torch's ``load_state_dict`` result)."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def load_torch_state_dict(module: nnx.Module, state_dict: Mapping[str, Any], *,
                          strict: bool = True) -> _IncompatibleKeys:
    r"""Copy a torch ``state_dict`` into a :mod:`jloss.models` net, in place, as ``load_state_dict``.

    Each torch key is mapped to its NNX parameter by an explicit per-class name map; layouts are
    converted (``Conv2d.weight`` OIHW to the HWIO ``kernel``, ``Linear.weight`` ``(out, in)`` to the
    ``(in, out)`` ``kernel``; the ``Linear`` after the flatten also has its rows permuted from torch's
    :math:`(C, H, W)` order to the NHWC :math:`(H, W, C)` order) and values are cast to the
    parameter's dtype. Nothing is written unless every tensor fits.

    Args:
        module: a :class:`~jloss.models.Net`, :class:`~jloss.models.CIFAR10Net` or
            :class:`~jloss.models.LinearNet` (an abstract one from ``nnx.eval_shape`` too).
        state_dict: torch key -> tensor (or numpy / JAX array) in torch's layout, e.g.
            ``torch_model.state_dict()``.
        strict: when True (the default), every key the module needs must be present and every key
            of ``state_dict`` must be used; when False, missing and unexpected keys are skipped and
            returned. Shapes are checked either way.

    Returns:
        ``(missing_keys, unexpected_keys)``, as torch's ``load_state_dict``.

    Raises:
        TypeError: ``module`` is not a supported net, or ``state_dict`` is not a mapping.
        ValueError: keys are missing / unexpected (``strict``), or a tensor's shape is not the
            torch shape its parameter needs.
    """
    fn = "load_torch_state_dict"
    names = _name_map(fn, module)
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"{fn}: state_dict must be a mapping of names to tensors, got {type(state_dict).__name__}")
    missing = [k for k in names if k not in state_dict]
    unexpected = [k for k in state_dict if k not in names]
    if strict and (missing or unexpected):
        raise ValueError(
            f"{fn}: state_dict does not match {type(module).__name__}: missing keys {missing}, "
            f"unexpected keys {unexpected}"
        )
    updates = []
    for key, entry in names.items():
        if key not in state_dict:
            continue
        value = state_dict[key]
        arr = _tensor_to_numpy(value) if _is_tensor(value) else np.asarray(value)
        if not (np.issubdtype(arr.dtype, np.number) or str(arr.dtype) in _BITS):
            raise TypeError(f"{fn}: {key} must be a numeric tensor or array, got dtype {arr.dtype}")
        dest = _param(module, entry.path)
        expected = _torch_shape(tuple(dest.shape), entry)
        if tuple(arr.shape) != expected:
            raise ValueError(
                f"{fn}: {key} must have shape {expected} (torch layout), got {tuple(arr.shape)}"
            )
        updates.append((dest, jnp.array(_to_nnx(arr, entry), dtype=dest.dtype, copy=True)))  # never alias torch memory
    for dest, value in updates:
        dest.set_value(value)
    return _IncompatibleKeys(missing, unexpected)


def torch_state_dict(module: nnx.Module) -> dict[str, np.ndarray]:
    """The ``state_dict()`` of the torch twin of a :mod:`jloss.models` net: torch's keys, in torch's
    order, torch's layouts, as C-contiguous numpy arrays (the inverse of :func:`load_torch_state_dict`).

    ``torch_model.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})`` loads it.
    """
    names = _name_map("torch_state_dict", module)
    out = {}
    for key, entry in names.items():
        value = np.array(_param(module, entry.path).get_value(), copy=True)
        out[key] = np.ascontiguousarray(_to_torch(value, entry))
    return out


# ---- checkpoint files ---------------------------------------------------------------------------


def _import_torch(fn: str) -> Any:
    try:
        import torch  # noqa: PLC0415
    except ImportError as e:
        raise ImportError(f"{fn} needs torch, which is not installed: {_PIP_HINT}") from e
    return torch


def _from_torch(obj: Any) -> Any:
    if _is_tensor(obj):
        return _tensor_to_numpy(obj)
    if isinstance(obj, Mapping):
        items = [(k, _from_torch(v)) for k, v in obj.items()]
        return OrderedDict(items) if isinstance(obj, OrderedDict) else dict(items)
    if isinstance(obj, list):
        return [_from_torch(v) for v in obj]
    if type(obj) is tuple:
        return tuple(_from_torch(v) for v in obj)
    return obj


def load_torch_checkpoint(path: str | os.PathLike[str] | BinaryIO) -> Any:
    """Read a ``torch.save`` file safely, with every tensor as a numpy array.

    The file is read by ``torch.load(path, weights_only=True, map_location="cpu")`` only: tensors,
    numbers, strings and dict / list / tuple containers, never arbitrary pickled objects. Every
    tensor in the nested structure becomes a numpy array (bfloat16 as ``ml_dtypes.bfloat16``), so a
    checkpoint ``{"model": sd, "optimizer": opt.state_dict(), "epoch": 3}`` comes back with the same
    structure, ready for :func:`load_torch_state_dict` and a jloss optimizer's ``load_state_dict``.

    Args:
        path: a file name, or a binary file object open for reading.

    Raises:
        ImportError: torch is not installed (``pip install 'jloss[parity]'``).
        FileNotFoundError: there is no file at ``path``.
        ValueError: the file is not a torch checkpoint (corrupt, truncated, a directory), or it holds
            objects ``weights_only=True`` refuses to unpickle.
    """
    fn = "load_torch_checkpoint"
    torch = _import_torch(fn)
    is_file = hasattr(path, "read")
    if not is_file:
        if not os.path.exists(path):
            raise FileNotFoundError(f"{fn}: no such file: {os.fspath(path)!r}")
        if os.path.isdir(path):
            raise ValueError(f"{fn}: {os.fspath(path)!r} is a directory, not a torch.save file")
    where = "the file object" if is_file else repr(os.fspath(path))
    try:
        obj = torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as e:
        msg = str(e)
        if "Weights only load failed" in msg:
            detail = msg.split("WeightsUnpickler error:", 1)[-1].strip().split("\n")[0] \
                if "WeightsUnpickler error:" in msg else ""
            raise ValueError(
                f"{fn}: refused to load {where}: it is not a plain torch checkpoint of tensors and "
                f"containers, and unpickling arbitrary objects is unsafe (weights_only=True): {detail}"
            ) from e
        raise ValueError(f"{fn}: {where} is not a valid torch checkpoint: {msg}") from e
    except FileNotFoundError as e:
        raise FileNotFoundError(f"{fn}: no such file: {where}") from e
    except Exception as e:  # noqa: BLE001  (torch raises KeyError, EOFError, RuntimeError ... on garbage)
        raise ValueError(
            f"{fn}: {where} is not a valid torch checkpoint (a torch.save file): "
            f"{type(e).__name__}: {str(e)[:200]}"
        ) from e
    return _from_torch(obj)


_LEAVES = (type(None), bool, int, float, str)


def _to_torch_tree(obj: Any, where: str, torch: Any) -> Any:
    fn = "save_torch_checkpoint"
    if isinstance(obj, torch.Tensor):
        return obj.detach()
    if isinstance(obj, (np.ndarray, np.generic, jax.Array)):
        arr = np.asarray(obj)
        if arr.dtype == object:
            raise TypeError(f"{fn}: {where} is an object array; only numeric arrays can be saved")
        return _numpy_to_tensor(arr)
    if isinstance(obj, (torch.dtype, torch.device, torch.Size, *_LEAVES)):
        return obj
    if isinstance(obj, Mapping):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int, float, bool, type(None))):
                raise TypeError(f"{fn}: key {k!r} of {where} is a {type(k).__name__}; keys must be str or numbers")
            items.append((k, _to_torch_tree(v, f"{where}[{k!r}]", torch)))
        return OrderedDict(items) if isinstance(obj, OrderedDict) else dict(items)
    if isinstance(obj, list) or type(obj) is tuple:
        out = [_to_torch_tree(v, f"{where}[{i}]", torch) for i, v in enumerate(obj)]
        return out if isinstance(obj, list) else tuple(out)
    hint = " (a NamedTuple: save its _asdict())" if isinstance(obj, tuple) else ""
    raise TypeError(
        f"{fn}: {where} is a {type(obj).__name__}{hint}; torch.load(weights_only=True) reads back only "
        "arrays / tensors, numbers, strings, None and dict / list / tuple containers"
    )


def save_torch_checkpoint(obj: Any, path: str | os.PathLike[str]) -> None:
    """Write ``obj`` with ``torch.save`` so that ``torch.load(path, weights_only=True)`` reads it.

    Every numpy / JAX array in the nested dict / list / tuple structure becomes a torch tensor (same
    dtype and shape; bfloat16 included); numbers, strings, ``None`` and tensors are kept. The file is
    written to a temporary name and renamed, so an interrupted save never leaves a truncated file.
    The inverse of :func:`load_torch_checkpoint`.

    Raises:
        ImportError: torch is not installed (``pip install 'jloss[parity]'``).
        TypeError: ``obj`` holds something ``weights_only=True`` could not read back (the message
            names where, e.g. ``obj['optimizer']['state'][0]``).
        FileNotFoundError: the directory of ``path`` does not exist.
    """
    fn = "save_torch_checkpoint"
    torch = _import_torch(fn)
    tree = _to_torch_tree(obj, "obj", torch)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{fn}: the directory of {path!r} does not exist")
    torch.save(tree, path)
