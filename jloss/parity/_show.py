"""Side-by-side printing of jloss and torch values, for notebooks and examples."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["show", "to_torch"]


def to_torch(a: Any) -> Any:
    """A jax / numpy array as a torch tensor: a copy (never aliasing the array's memory), with
    integer arrays as int64, torch's index dtype. Needs torch."""
    import torch  # noqa: PLC0415

    a = np.array(a)
    return torch.from_numpy(a.astype(np.int64) if a.dtype.kind in "iu" else a)


def show(name: str, ours: Any, theirs: Any = None, rtol: float = 1e-5, atol: float = 1e-6, width: int = 28) -> None:
    """Print jloss's value ``ours`` beside torch's ``theirs`` and assert that they agree.

    Args:
        name: the label printed first.
        ours: a jloss result (any array-like).
        theirs: the torch tensor to compare with, or ``None`` (torch not installed): then jloss's
            value is printed alone.
        rtol, atol: the agreement required (``numpy.testing.assert_allclose``); the defaults are
            SPEC.md's float32 bounds.
        width: the width of the label column.

    Raises:
        AssertionError: the two disagree beyond ``rtol`` / ``atol``.
    """
    ours = np.asarray(ours, dtype=np.float64)
    if theirs is None:
        print(f"{name:<{width}} jloss {np.array2string(ours, precision=6)}")
        return
    theirs = np.asarray(theirs.detach().cpu().numpy() if hasattr(theirs, "detach") else theirs, dtype=np.float64)
    err = float(np.max(np.abs(ours - theirs))) if ours.size else 0.0
    print(f"{name:<{width}} jloss {np.array2string(ours, precision=6)}   "
          f"torch {np.array2string(theirs, precision=6)}   max |diff| {err:.1e}")
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=name)
