"""SparseAdam, as ``torch.optim.SparseAdam``: lazy Adam that moves only the rows a lookup touched."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from . import _base as B


class SparseAdamState(NamedTuple):
    """torch's per-parameter entries: ``step``, ``exp_avg``, ``exp_avg_sq``."""

    step: jax.Array
    exp_avg: Any
    exp_avg_sq: Any


TORCH_STATE_KEYS = ("step", "exp_avg", "exp_avg_sq")


def touched_rows(grad: jax.Array) -> jax.Array:
    """The rows (indices along axis 0) whose gradient is not all zero: a bool array of shape
    ``grad.shape[:1]`` (a scalar for a 0-D gradient)."""
    nonzero = grad != 0
    return jnp.any(nonzero, axis=tuple(range(1, grad.ndim))) if grad.ndim > 1 else nonzero


def scale_by_torch_sparse_adam(
    lr: Any, beta1: Any, beta2: Any, eps: Any, *, maximize: bool
) -> optax.GradientTransformationExtraArgs:
    """One torch SparseAdam step: Adam on the touched rows only, lr included.

    ``update(grads, state, params, touched=None)``: ``touched`` is an optional pytree like
    ``params`` of bool row masks (shape ``(param.shape[0],)``, or ``()`` for a scalar); without it
    a row is touched when its gradient is not all zero (:func:`touched_rows`).
    """

    def init(params):
        z = B.tree_zeros_like
        return SparseAdamState(jnp.zeros([], jnp.int32), z(params), z(params))

    def update(grads, state, params=None, touched=None, **extra_args):
        del extra_args
        step = B.next_count(state.step)
        t = step.astype(B.scalar_dtype())
        g = B.maybe_negate(grads, maximize)
        bc1 = B.one_minus_pow(beta1, t)
        bc2 = B.one_minus_pow(beta2, t)
        step_size = lr * jnp.sqrt(bc2) / bc1
        treedef = jax.tree.structure(g)
        if touched is None:
            masks = [touched_rows(x) for x in treedef.flatten_up_to(g)]
        else:
            masks = treedef.flatten_up_to(touched)
        ps = [None] * len(masks) if params is None else treedef.flatten_up_to(params)

        def one(gi, m, v, p, mask):
            mask = jnp.asarray(mask, bool)
            if mask.shape != gi.shape[:1]:
                raise ValueError(f"sparse_adam: a touched mask must have shape {gi.shape[:1]} "
                                 f"(the parameter's rows), got {mask.shape}")
            rows = mask.reshape(mask.shape + (1,) * (gi.ndim - mask.ndim))
            # torch: old + (new - old)*(1 - beta) on the gradient's indices, recombined for the step
            upd_m = (gi - m) * B.cast_like(1 - beta1, gi)
            upd_v = (gi * gi - v) * B.cast_like(1 - beta2, gi)
            numer = upd_m + m
            denom = jnp.sqrt(upd_v + v) + B.cast_like(eps, v)
            val = B.cast_like(-step_size, gi) * (numer / denom)
            u = val if p is None else (p + val) - p
            zero = jnp.zeros((), gi.dtype)
            return jnp.where(rows, u, zero), jnp.where(rows, numer, m), jnp.where(rows, upd_v + v, v)

        out = [one(*a) for a in zip(treedef.flatten_up_to(g), treedef.flatten_up_to(state.exp_avg),
                                     treedef.flatten_up_to(state.exp_avg_sq), ps, masks, strict=True)]
        updates, m, v = (treedef.unflatten(list(x)) for x in zip(*out, strict=True))
        return updates, SparseAdamState(step, m, v)

    return optax.GradientTransformationExtraArgs(init, update)


def sparse_adam(
    lr: B.ScalarOrSchedule = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    maximize: bool = False,
) -> optax.GradientTransformationExtraArgs:
    r"""SparseAdam (lazy Adam), as ``torch.optim.SparseAdam``, on JAX's dense gradients.

    torch's SparseAdam takes the sparse gradient of an ``nn.Embedding(sparse=True)``: only the rows
    present in it (the tokens the batch looked up) are touched, and for those rows alone

    .. math::
        m \leftarrow m + (1-\beta_1)(g - m),\quad v \leftarrow v + (1-\beta_2)(g^2 - v),\quad
        \theta \leftarrow \theta - \gamma\,\frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t}\,\frac{m}{\sqrt v + \epsilon}

    while every other row keeps its parameters *and* its moments (plain Adam would decay them).

    JAX gradients are dense, so "touched" is decided per row, a row being an index along axis 0
    (an element for a vector): by default a row is touched when its gradient is not all zero
    (:func:`touched_rows`). A touched row whose gradient happens to be exactly zero (torch would
    still move it) needs the explicit mask: ``tx.update(grads, state, params, touched=masks)``
    with ``masks`` a pytree like ``params`` of bool arrays of shape ``(param.shape[0],)``, e.g.
    ``jnp.zeros(num_embeddings, bool).at[token_ids].set(True)``. ``step`` (for the bias
    corrections) counts every update, as torch's does for a parameter that has a gradient.

    torch's SparseAdam has no ``weight_decay`` (passing one is a ``TypeError``, as in torch), and
    requires ``lr > 0`` and ``eps > 0``.

    ``lr`` (a float or an optax schedule), ``beta1``, ``beta2`` and ``eps`` are injected
    hyperparameters (``state.hyperparams``).
    """
    fn = "sparse_adam"
    if isinstance(lr, (int, float)) and not lr > 0.0:  # torch: lr > 0, strictly
        raise ValueError(f"{fn}: Invalid learning rate: lr must be > 0, got {lr}")
    B.check_lr(fn, lr)
    if not float(eps) > 0.0:
        raise ValueError(f"{fn}: Invalid epsilon value: eps must be > 0, got {eps}")
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise TypeError(f"{fn}: betas must be a pair (beta1, beta2), got {betas!r}")
    B.check_beta(fn, "beta parameter at index 0", betas[0])
    B.check_beta(fn, "beta parameter at index 1", betas[1])
    return B.inject(
        scale_by_torch_sparse_adam, static_args=("maximize",),
        lr=lr, beta1=betas[0], beta2=betas[1], eps=eps, maximize=maximize,
    )
