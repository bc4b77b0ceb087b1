"""XLA compiler options for the programs jloss compiles itself (``jloss.train``'s steps, ``jloss bench``).

Public as :func:`jloss.compiler_options`, for a hand-written ``jax.jit`` of a training step.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["compiler_options", "jit"]

#: XLA:CPU's copy insertion with region analysis. An optimizer step whose parameter update reads the
#: *old* optimizer state while the state is updated in place (donated) gets a full-size copy of
#: that state per step without it: Adadelta's ``acc_delta``, Rprop's ``prev`` and ``step_size``.
#: Measured on 50M float32 parameters (2-core CPU, ``jloss bench``): Adadelta 131 -> 61-69 ms a step
#: (Rprop 216 -> 138 ms before its update was rewritten to need no copy at all); the other
#: optimizer steps within run-to-run noise. It changes which buffers XLA copies, never a value.
#:
#: YNN (XLA:CPU's default library for dots, convolutions and reductions) for dots and reductions
#: only: convolutions then run on XLA's Eigen kernels, 1.3-2x faster for the tutorial nets' 5x5
#: convolutions and their gradients (``jloss bench``'s CIFAR10Net step at batch 64: 65 -> 41 ms).
#: The list replaces XLA's default set, so it names what stays: individual dots (without them
#: Muon's Newton-Schulz matmuls measured 2x slower) and reductions (without them the losses'
#: reductions measured up to 6x slower: mse_loss 16M forward 6 -> 36 ms). Values differ from
#: YNN's in float rounding only (a different summation order inside a convolution).
_CPU: dict[str, Any] = {
    "xla_cpu_copy_insertion_use_region_analysis": True,
    "xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT,LIBRARY_FUSION_TYPE_REDUCE",
}


@functools.cache
def _accepted() -> bool:
    # An XLA that does not know an option fails the compile with INVALID_ARGUMENT: then use none.
    try:
        jax.jit(lambda a: a + 1, compiler_options=_CPU).lower(jnp.zeros(2)).compile()
    except Exception:  # noqa: BLE001 -- any failure means "do not pass these options"
        return False
    return True


def compiler_options() -> dict[str, Any]:
    """Options for ``jax.jit(..., compiler_options=...)`` that jloss compiles its own steps with.

    On CPU: XLA's region-analysis copy insertion, which lets a donated optimizer state be updated
    in place where the parameter update still reads its old value (no per-step copy of a full-size
    state buffer), and XLA's Eigen convolutions instead of YNN's (1.3-2x faster for the tutorial
    nets' convolutions and gradients). Elementwise programs (the optimizer updates) give bit-for-bit
    the results of a plain ``jax.jit``; a convolution's may differ in float rounding. On other
    backends, and on an XLA that does not know the options: ``{}``. Decided for JAX's default
    backend. ``jax.jit`` takes ``compiler_options`` at the top level only (not on a jit nested in
    another).

    Example::

        step = jax.jit(train_step, donate_argnums=(0, 1), compiler_options=jloss.compiler_options())
    """
    if jax.default_backend() != "cpu" or not _accepted():
        return {}
    return dict(_CPU)


def _traced(tree: Any) -> bool:
    return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(tree))


class _Jitted:
    """A ``jax.jit`` compiled with :func:`compiler_options` at the top level, and a plain
    ``jax.jit`` of the same function when called inside another transformation (JAX accepts
    ``compiler_options`` on a top-level jit only: nested in a user's ``jax.jit``, ``jax.grad`` or
    ``lax.scan`` the options-carrying jit raises ``ValueError``)."""

    def __init__(self, fun: Any, **jit_kwargs: Any) -> None:
        self._plain = jax.jit(fun, **jit_kwargs)
        options = compiler_options()
        self._top = jax.jit(fun, compiler_options=options, **jit_kwargs) if options else self._plain
        functools.update_wrapper(self, fun)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _traced((args, kwargs)):
            return self._plain(*args, **kwargs)
        try:
            return self._top(*args, **kwargs)
        except ValueError as e:  # inside a trace with only concrete arguments (closed-over values)
            if "compiler_options" not in str(e):
                raise
            return self._plain(*args, **kwargs)

    def lower(self, *args: Any, **kwargs: Any) -> Any:
        return self._top.lower(*args, **kwargs)


def jit(fun: Any, **jit_kwargs: Any) -> Any:
    """``jax.jit(fun, **jit_kwargs)`` compiled with :func:`compiler_options` when called at the top
    level, and without them when called inside another ``jax.jit`` / ``jax.grad`` / ``lax.scan``
    (where JAX refuses them; the enclosing program's options apply). ``.lower`` lowers the top-level
    form. What :func:`jloss.train.make_train_step` and ``make_eval_step`` return."""
    return _Jitted(fun, **jit_kwargs)
