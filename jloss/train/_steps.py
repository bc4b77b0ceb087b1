"""Jitted train and eval steps over a Flax NNX model, as pure functions of the parameters.

A model is split once into a pure ``apply(params, x)`` and a pytree of parameters (a plain nested
dict of the ``nnx.Param`` values). The train step fuses the forward pass, the gradient and the
optimizer's update in one ``jax.jit`` with the parameters and the optimizer state donated (updated in
place, no fresh buffers per step); the eval step runs the model in eval mode without gradients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax.sharding import Mesh

from .._xla import jit
from ._sharding import replicated

Params = Any
#: ``update(params, grads, opt_state) -> (new_params, new_opt_state)``.
UpdateFn = Callable[[Params, Params, Any], tuple[Params, Any]]


class Metrics(NamedTuple):
    """Per-batch sums: ``loss_sum`` (the batch loss times the batch size), ``correct`` (top-1
    hits, 0 when the targets are not class indices) and ``count`` (samples)."""

    loss_sum: jax.Array
    correct: jax.Array
    count: jax.Array


class SplitModel(NamedTuple):
    """A model as pure functions: ``apply_train(params, x)`` / ``apply_eval(params, x)`` run it in
    train / eval mode (``nnx.Module.train()`` / ``.eval()``: dropout and batch-norm switch), and
    ``params`` is a nested dict of its ``nnx.Param`` values."""

    apply_train: Callable[[Params, jax.Array], jax.Array]
    apply_eval: Callable[[Params, jax.Array], jax.Array]
    params: Params


def split_model(model: nnx.Module) -> SplitModel:
    """Split an NNX module into pure apply functions and its parameters (see :class:`SplitModel`).

    Only ``nnx.Param`` state is trained; any other state (constants) is carried unchanged. Models
    whose forward pass mutates state (BatchNorm running statistics, dropout RNG streams) are not
    supported by this loop yet: a ``ValueError`` says so instead of silently dropping the update.
    """
    if not isinstance(model, nnx.Module):
        raise TypeError(f"split_model: model must be a flax.nnx.Module, got {type(model).__name__}")
    mutable = nnx.state(model, nnx.BatchStat, nnx.RngState)
    if jax.tree.leaves(mutable):
        raise ValueError(f"split_model: {type(model).__name__} has state the forward pass updates "
                         "(BatchNorm statistics or RNG streams); jloss.train handles parameter-only models")
    graphs = {}
    for mode in ("train", "eval"):
        getattr(model, mode)()
        graphs[mode], template, rest = nnx.split(model, nnx.Param, ...)
    model.train()
    params = template.to_pure_dict()

    def make(graphdef):
        def apply(params: Params, x: jax.Array) -> jax.Array:
            state = jax.tree.map(lambda v: v, template)
            nnx.replace_by_pure_dict(state, params)
            return nnx.merge(graphdef, state, rest)(x)

        return apply

    return SplitModel(make(graphs["train"]), make(graphs["eval"]), params)


def _metrics(loss: jax.Array, output: jax.Array, target: jax.Array, n: int) -> Metrics:
    if jnp.issubdtype(target.dtype, jnp.integer) and output.ndim == target.ndim + 1:
        correct = jnp.sum(jnp.argmax(output, axis=-1) == target)
    else:
        correct = jnp.zeros((), jnp.int32)
    loss = loss.astype(jnp.promote_types(loss.dtype, jnp.float32))  # bf16 models: sum in f32
    return Metrics(loss * n, correct.astype(jnp.int32), jnp.asarray(n, jnp.int32))


def optax_update(tx: optax.GradientTransformation) -> UpdateFn:
    """The :data:`UpdateFn` of an optax transformation."""

    def update(params: Params, grads: Params, state: Any) -> tuple[Params, Any]:
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return update


def make_train_step(apply: Callable[[Params, jax.Array], jax.Array],
                    loss_fn: Callable[[jax.Array, jax.Array], jax.Array],
                    update: UpdateFn, *, mesh: Mesh | None = None,
                    state_sharding: Any = None) -> Callable[..., tuple[Params, Any, Metrics]]:
    """``step(params, opt_state, x, y) -> (params, opt_state, metrics)``, jitted, with ``params``
    and ``opt_state`` donated: the loss ``loss_fn(apply(params, x), y)``, its gradient and one
    optimizer update, fused.

    With ``mesh`` (a :class:`jax.sharding.Mesh` with a ``'data'`` axis) the same step runs SPMD
    over the mesh: pass ``x`` / ``y`` split along the data axis (``shard_batch``), ``params``
    replicated and ``opt_state`` placed as ``state_sharding`` (a pytree of shardings from
    ``state_shardings``; default replicated); the outputs keep those placements. The loss is the
    global-batch loss: XLA all-reduces what the devices compute, so the step equals the
    single-device step up to the order of floating-point sums.
    """

    def step(params: Params, opt_state: Any, x: jax.Array, y: jax.Array):
        def objective(p):
            out = apply(p, x)
            return loss_fn(out, y), out

        (loss, out), grads = jax.value_and_grad(objective, has_aux=True)(params)
        params, opt_state = update(params, grads, opt_state)
        return params, opt_state, _metrics(loss, out, y, x.shape[0])

    # compiled with jloss.compiler_options() when called at the top level; a plain jit inside a
    # caller's own jax.jit / lax.scan, where JAX refuses compiler options
    if mesh is None:
        return jit(step, donate_argnums=(0, 1))
    rep = replicated(mesh)
    return jit(step, donate_argnums=(0, 1),
               out_shardings=(rep, rep if state_sharding is None else state_sharding, rep))


def make_eval_step(apply: Callable[[Params, jax.Array], jax.Array],
                   loss_fn: Callable[[jax.Array, jax.Array], jax.Array], *,
                   mesh: Mesh | None = None) -> Callable[..., Metrics]:
    """``step(params, x, y) -> metrics``, jitted, no gradients. With ``mesh`` (as in
    :func:`make_train_step`) the metrics come back replicated, readable on every host."""

    def step(params: Params, x: jax.Array, y: jax.Array) -> Metrics:
        out = apply(params, x)
        return _metrics(loss_fn(out, y), out, y, x.shape[0])

    return jit(step) if mesh is None else jit(step, out_shardings=replicated(mesh))
