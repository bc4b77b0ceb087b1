"""Training checkpoints: one ``.npz`` file per checkpoint, no pickle, written atomically.

Why a plain format rather than orbax-checkpoint: a checkpoint here is small (a tutorial network, its
optimizer state in torch's layout, a scheduler's few numbers, the epoch and the data seed), and what
matters is that it is (a) safe to open -- ``numpy.load(..., allow_pickle=False)`` never runs code,
(b) atomic -- written to a temporary file in the same folder, flushed and ``os.replace``-d, so a
process killed mid-save leaves the previous checkpoint intact, (c) exact -- arrays are stored
bit-for-bit in their dtype, so a resumed run continues bit-identically, and (d) readable with numpy
alone. orbax's asynchronous, sharded, multi-file layout solves problems (multi-host, terabyte
models) this loop does not have.

Layout: the arrays under keys ``a0, a1, ...`` and one entry ``__meta__``: UTF-8 JSON of the nested
structure, where an array is ``{"$a": "a3"}``, a tuple ``{"$t": [...]}``, a dict with non-string keys
``{"$d": [[key, value], ...]}``, a non-finite float ``{"$f": "nan"}``, and a JAX PRNG key
``{"$k": "a4", "impl": "threefry2x32"}``; bfloat16 / float8 arrays are stored as their bits with
``"dtype"`` naming the type.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import numpy as np

FORMAT = "jloss-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file that is missing, corrupt, or not a jloss checkpoint."""


def _encode(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, jax.Array) and jax.dtypes.issubdtype(obj.dtype, jax.dtypes.prng_key):
        key = f"a{len(arrays)}"
        arrays[key] = np.asarray(jax.random.key_data(obj))
        return {"$k": key, "impl": str(jax.random.key_impl(obj))}
    if isinstance(obj, (jax.Array, np.ndarray, np.generic)):
        key = f"a{len(arrays)}"
        a = np.asarray(obj)
        if type(a.dtype).__module__ != "numpy.dtypes" or a.dtype.kind == "V":
            # ml_dtypes (bfloat16, float8...): .npz has no such dtype; store the bits and the name.
            arrays[key] = a.view(f"u{a.dtype.itemsize}")
            return {"$a": key, "dtype": a.dtype.name}
        arrays[key] = a
        return {"$a": key}
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"$f": repr(obj)}
    if isinstance(obj, tuple):
        return {"$t": [_encode(v, arrays) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, arrays) for v in obj]
    if isinstance(obj, Mapping):
        if all(isinstance(k, str) and not k.startswith("$") for k in obj):
            return {k: _encode(v, arrays) for k, v in obj.items()}
        for k in obj:
            if not isinstance(k, (str, int, bool, type(None))):
                raise TypeError(f"save_checkpoint: dict keys must be str or int, got {type(k).__name__} ({k!r})")
        return {"$d": [[k, _encode(v, arrays)] for k, v in obj.items()]}
    if hasattr(obj, "detach") and hasattr(obj, "numpy"):  # a torch tensor, without importing torch
        return _encode(obj.detach().cpu().numpy(), arrays)
    raise TypeError(f"save_checkpoint: cannot store a {type(obj).__name__} ({obj!r:.80}); "
                    "expected arrays, numbers, strings, None, and lists / tuples / dicts of them")


def _decode(obj: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    if isinstance(obj, list):
        return [_decode(v, arrays) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "$a" in obj:
        a = arrays[obj["$a"]]
        return a.view(jax.numpy.dtype(obj["dtype"])) if "dtype" in obj else a
    if "$k" in obj:
        return jax.random.wrap_key_data(arrays[obj["$k"]], impl=obj["impl"])
    if "$f" in obj:
        return float(obj["$f"])
    if "$t" in obj:
        return tuple(_decode(v, arrays) for v in obj["$t"])
    if "$d" in obj:
        return {k: _decode(v, arrays) for k, v in obj["$d"]}
    return {k: _decode(v, arrays) for k, v in obj.items()}


def save_checkpoint(path: str | os.PathLike[str], payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` (nested dicts / lists / tuples of arrays, numbers, strings, None) to
    ``path`` atomically: a reader sees the old file or the new one, never half of one.

    Returns the path written.
    """
    if not isinstance(payload, Mapping):
        raise TypeError(f"save_checkpoint: payload must be a dict, got {type(payload).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    meta = {"format": FORMAT, "version": VERSION, "payload": _encode(dict(payload), arrays)}
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (arrays come back as numpy arrays).

    Raises:
      FileNotFoundError: no file at ``path``.
      CheckpointError: the file is truncated, corrupt, or not a jloss checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_checkpoint: no checkpoint at {str(path)!r}")
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as e:
        raise CheckpointError(f"load_checkpoint: {str(path)!r} is not a readable checkpoint "
                              f"(truncated or corrupt: {e})") from e
    raw = arrays.pop("__meta__", None)
    try:
        meta = json.loads(bytes(raw).decode("utf-8")) if raw is not None else None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"load_checkpoint: {str(path)!r} has a corrupt header ({e})") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"load_checkpoint: {str(path)!r} is not a jloss checkpoint")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"load_checkpoint: {str(path)!r} has format version {meta.get('version')}, "
                              f"this jloss reads version {VERSION}")
    try:
        return _decode(meta["payload"], arrays)
    except KeyError as e:
        raise CheckpointError(f"load_checkpoint: {str(path)!r} is missing array {e}") from e
