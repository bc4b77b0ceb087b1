"""Rprop, as ``torch.optim.Rprop`` (etas, step_sizes, maximize; per-element step sizes)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from . import _base as B


class RpropState(NamedTuple):
    """torch's per-parameter entries: ``step``, ``prev`` (the last gradient used, zeroed where its
    sign flipped) and ``step_size`` (per element)."""

    step: jax.Array
    prev: Any
    step_size: Any


TORCH_STATE_KEYS = ("step", "prev", "step_size")


def scale_by_torch_rprop(
    lr: Any, etaminus: Any, etaplus: Any, step_size_min: Any, step_size_max: Any, *, maximize: bool,
) -> optax.GradientTransformation:
    """One torch Rprop step (single-tensor path). ``lr`` only seeds ``step_size`` at the first update."""

    def init(params):
        full = jax.tree.map(lambda p: jnp.full_like(p, B.cast_like(lr, p)), params)
        return RpropState(jnp.zeros([], jnp.int32), B.tree_zeros_like(params), full)

    def update(grads, state, params=None):
        step = B.next_count(state.step)
        g = B.maybe_negate(grads, maximize)
        first = state.step == 0

        def one(gi, prev, size):
            # torch fills step_size with the lr of the first step() (lazy state initialisation)
            size = jnp.where(first, B.cast_like(lr, size), size)
            s = B.sign(gi * prev)  # torch.sign: 0 at NaN (an inf / NaN gradient)
            factor = jnp.where(s > 0, B.cast_like(etaplus, s),
                               jnp.where(s < 0, B.cast_like(etaminus, s), jnp.where(s == 0, 1, s)))
            size = jnp.clip(size * factor, B.cast_like(step_size_min, size), B.cast_like(step_size_max, size))
            # torch: grad[sign == etaminus] = 0, then p -= sign(grad) * step_size. The update is
            # written without reading the zeroed gradient (the new `prev`): XLA can then write
            # `prev` in place after the other passes read the old one, instead of via a temporary
            # and a copy. -(0 * size) is torch's -sign(0) * size (a -0.0 step).
            update = jnp.where(s < 0, -(jnp.zeros_like(size) * size), -B.sign(gi) * size)
            return update, jnp.where(s < 0, jnp.zeros_like(gi), gi), size

        out = jax.tree.map(one, g, state.prev, state.step_size)
        pick = lambda i: jax.tree.map(lambda _, o: o[i], g, out)  # noqa: E731
        return pick(0), RpropState(step, pick(1), pick(2))

    return optax.GradientTransformation(init, update)


def rprop(
    lr: B.ScalarOrSchedule = 1e-2,
    etas: tuple[float, float] = (0.5, 1.2),
    step_sizes: tuple[float, float] = (1e-6, 50),
    *,
    maximize: bool = False,
) -> optax.GradientTransformation:
    r"""Resilient backpropagation, as ``torch.optim.Rprop``.

    .. math::
        s = \operatorname{sign}(g_t\, g_{t-1});\quad
        \eta_t = \operatorname{clamp}(\eta_{t-1} \cdot (\eta_+ \text{ if } s>0,\ \eta_- \text{ if } s<0,
        \ 1 \text{ else}),\ \Gamma_{min}, \Gamma_{max});\\
        g_t \leftarrow 0 \text{ where } s < 0;\quad
        \theta_t = \theta_{t-1} - \eta_t \operatorname{sign}(g_t);\quad \eta_0 = \gamma

    per element, with :math:`g_{t-1}` the stored (possibly zeroed) gradient ``prev``.

    .. warning:: ``optax.rprop`` lags one step: its first update is 0 and each update applies the
       previous step's ``sign * step_size``. torch moves on the first step, clamps the step sizes
       every step (so an ``lr`` above ``step_sizes[1]`` is clamped at once) and reads ``lr`` only
       when it creates the state, at the first step: later changes of ``lr`` (or a schedule) have
       no effect, here as in torch.

    ``lr``, ``etaminus``, ``etaplus``, ``step_size_min`` and ``step_size_max`` (``etas`` and
    ``step_sizes`` split) are injected hyperparameters.
    """
    fn = "rprop"
    B.check_lr(fn, lr)
    if not isinstance(etas, (tuple, list)) or len(etas) != 2:
        raise TypeError(f"{fn}: etas must be a pair (etaminus, etaplus), got {etas!r}")
    if not isinstance(step_sizes, (tuple, list)) or len(step_sizes) != 2:
        raise TypeError(f"{fn}: step_sizes must be a pair (min, max), got {step_sizes!r}")
    if not 0.0 < float(etas[0]) < 1.0 < float(etas[1]):
        raise ValueError(f"{fn}: Invalid eta values: etas must satisfy 0 < etas[0] < 1 < etas[1], got {tuple(etas)}")
    return B.inject(
        scale_by_torch_rprop,
        static_args=("maximize",),
        lr=lr if callable(lr) else float(lr), etaminus=float(etas[0]), etaplus=float(etas[1]),
        step_size_min=float(step_sizes[0]), step_size_max=float(step_sizes[1]), maximize=maximize,
    )
