"""Argument checking shared by every public function of jloss.

Two kinds of checks:

* What is visible at trace time (ranks, shapes, dtypes, option values) is checked eagerly and raises
  ``ValueError`` / ``TypeError`` naming the function, the argument, what was expected and what came.
* What depends on array *values* (a class index out of range, a negative length) is checked by
  :func:`check_values`: on concrete arrays it raises ``ValueError`` like torch; while tracing under
  :func:`jloss.checked` it becomes a :mod:`jax.experimental.checkify` check; under a plain ``jit`` it
  is skipped and the loss documents the value it returns instead (NaN, usually).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

_CHECKIFY = contextvars.ContextVar("jloss_checkify", default=False)

_LOW_PRECISION = (jnp.bfloat16, jnp.float16)


def is_concrete(*xs: Any) -> bool:
    """True when no argument is a JAX tracer (so values can be inspected on the host)."""
    return not any(isinstance(x, jax.core.Tracer) for x in xs)


def float_array(fn: str, name: str, x: Any) -> jax.Array:
    """``x`` as a floating JAX array, or a TypeError naming it."""
    if x is None:
        raise TypeError(f"{fn}: {name} must be an array, got None")
    try:
        arr = jnp.asarray(x)
    except TypeError as e:
        raise TypeError(f"{fn}: {name} must be an array, got {type(x).__name__}") from e
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        raise TypeError(f"{fn}: {name} must have a floating dtype, got {arr.dtype}")
    return arr


def int_array(fn: str, name: str, x: Any) -> jax.Array:
    """``x`` as an integer JAX array, or a TypeError naming it."""
    if x is None:
        raise TypeError(f"{fn}: {name} must be an integer array, got None")
    try:
        arr = jnp.asarray(x)
    except TypeError as e:
        raise TypeError(f"{fn}: {name} must be an integer array, got {type(x).__name__}") from e
    if not jnp.issubdtype(arr.dtype, jnp.integer):
        raise TypeError(f"{fn}: {name} must have an integer dtype, got {arr.dtype}")
    return arr


def any_array(fn: str, name: str, x: Any) -> jax.Array:
    if x is None:
        raise TypeError(f"{fn}: {name} must be an array, got None")
    try:
        return jnp.asarray(x)
    except TypeError as e:
        raise TypeError(f"{fn}: {name} must be an array, got {type(x).__name__}") from e


def compute_dtype(*arrays: jax.Array) -> Any:
    """The dtype a loss computes in: the promoted floating dtype, with bf16/f16 raised to f32.

    torch accumulates low-precision losses in float32 on CPU; jloss computes them in float32 and
    casts the result back to the input's dtype.
    """
    dt = jnp.result_type(*[a.dtype for a in arrays])
    if not jnp.issubdtype(dt, jnp.floating):
        dt = jnp.result_type(float)
    if dt in _LOW_PRECISION:
        return jnp.float32
    return dt


def same_shape(fn: str, name_a: str, a: jax.Array, name_b: str, b: jax.Array) -> None:
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(
            f"{fn}: {name_b} must have the same shape as {name_a} {tuple(a.shape)}, "
            f"got {tuple(b.shape)}"
        )


def broadcastable(fn: str, name_a: str, a_shape: Sequence[int], name_b: str, b_shape: Sequence[int]) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(tuple(a_shape), tuple(b_shape)))
    except ValueError:
        raise ValueError(
            f"{fn}: {name_b} of shape {tuple(b_shape)} does not broadcast with {name_a} of shape "
            f"{tuple(a_shape)}"
        ) from None


def ndim_in(fn: str, name: str, x: jax.Array, allowed: Sequence[int] | range, what: str = "") -> None:
    if x.ndim not in allowed:
        exp = what or " or ".join(str(d) for d in allowed)
        raise ValueError(f"{fn}: {name} must be {exp}-dimensional, got shape {tuple(x.shape)}")


def option_in(fn: str, name: str, value: Any, allowed: Sequence[Any]) -> None:
    if value not in allowed:
        raise ValueError(
            f"{fn}: {name} must be one of {', '.join(repr(a) for a in allowed)}, got {value!r}"
        )


def check_values(fn: str, pred: Callable[[], Any], message: str, *arrays: Any) -> None:
    """Check a condition on array values.

    ``pred()`` returns a boolean (array) that must be true. On concrete ``arrays`` a false
    ``pred`` raises ``ValueError(f"{fn}: {message}")``. While tracing inside :func:`checked`, it is
    a checkify check; while tracing under a plain ``jit`` the check is skipped.
    """
    if is_concrete(*arrays):
        # concrete arrays closed over inside a jit trace: evaluate pred eagerly, not staged
        with jax.ensure_compile_time_eval():
            ok = bool(np.all(np.asarray(pred())))
        if not ok:
            raise ValueError(f"{fn}: {message}")
    elif _CHECKIFY.get():
        checkify.check(jnp.all(pred()), f"{fn}: {message}")


@contextlib.contextmanager
def _checking():
    token = _CHECKIFY.set(True)
    try:
        yield
    finally:
        _CHECKIFY.reset(token)


def checked(fn: Callable[..., Any], *, jit: bool = True) -> Callable[..., Any]:
    """Wrap ``fn`` so that value checks which cannot run under ``jit`` become checkify checks.

    ``checked(F.cross_entropy)(logits, target)`` runs the (jitted) loss and raises ``ValueError``
    when, for example, a class index is out of range -- the condition torch refuses -- although
    the values are never seen on the host. Array arguments are traced; every other argument
    (options, callables) is passed through as a static value.
    """

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        arr_pos = [i for i, a in enumerate(args) if _is_arraylike(a)]
        arr_kw = {k: v for k, v in kwargs.items() if _is_arraylike(v)}
        static_kw = {k: v for k, v in kwargs.items() if k not in arr_kw}

        def call(arrs: list[Any], akw: dict[str, Any]) -> Any:
            full = list(args)
            for i, a in zip(arr_pos, arrs, strict=True):
                full[i] = a
            with _checking():
                return fn(*full, **akw, **static_kw)

        c = checkify.checkify(call, errors=checkify.user_checks)
        if jit:
            c = jax.jit(c)
        err, out = c([args[i] for i in arr_pos], arr_kw)
        msg = err.get()
        if msg is not None:
            raise ValueError(msg.split(" (check failed at")[0])
        return out

    wrapped.__wrapped__ = fn  # type: ignore[attr-defined]
    wrapped.__name__ = f"checked_{getattr(fn, '__name__', 'fn')}"
    wrapped.__doc__ = f"checked({getattr(fn, '__name__', 'fn')}): " + (fn.__doc__ or "")
    return wrapped


def _is_arraylike(v: Any) -> bool:
    return isinstance(v, (jax.Array, np.ndarray)) or (
        hasattr(v, "shape") and hasattr(v, "dtype")
    )
