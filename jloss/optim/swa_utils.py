"""jloss.optim.swa_utils: ``torch.optim.swa_utils`` for JAX.

* :class:`SWALR` (a scheduler object driving a ``jloss.optim`` optimizer) and :func:`swalr` (the
  same LRs as an optax schedule): anneal each group's LR to ``swa_lr`` over ``anneal_epochs``.
* Parameter averaging as pure functions over parameter pytrees: :func:`swa_init` /
  :func:`swa_update` (what ``AveragedModel.update_parameters`` does), the averaging rules
  :func:`get_swa_avg_fn`, :func:`get_ema_avg_fn` (per array) and :func:`get_swa_multi_avg_fn`,
  :func:`get_ema_multi_avg_fn` (per pytree), and :class:`AveragedModel`, a small stateful shell for
  ported code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from ._base import lerp, scalar_dtype
from ._stateful import Optimizer
from .lr_scheduler._core import JNP, PY, TorchSchedule, check_concrete_steps, check_float
from .lr_scheduler._schedulers import LRScheduler, format_param

# ---- SWALR ---------------------------------------------------------------------------------------


def _anneal(strategy: str, t: Any, xp: Any) -> Any:
    """SWALR's ``_cosine_anneal`` / ``_linear_anneal``: 0 at t=0, 1 at t=1."""
    return (1 - xp.cos(xp.pi * t)) / 2 if strategy == "cos" else t


def swalr_step(lr: Any, swa_lr: Any, step: Any, anneal_epochs: int, strategy: str, xp: Any = PY) -> Any:
    """torch's ``SWALR.get_lr`` for one group: the LR at ``step`` (``_step_count - 1``) given the
    current ``lr``. It undoes the previous blend to recover the starting LR, then blends anew."""
    if anneal_epochs == 0:
        step = xp.maximum(1, step)
    n = max(1, anneal_epochs)
    prev_t = xp.maximum(0, xp.minimum(1, xp.div(step - 1, n)))
    prev_alpha = _anneal(strategy, prev_t, xp)
    prev_lr = xp.select(prev_alpha == 1, lambda: swa_lr, lambda: xp.div(lr - prev_alpha * swa_lr, 1 - prev_alpha))
    t = xp.maximum(0, xp.minimum(1, xp.div(step, n)))
    alpha = _anneal(strategy, t, xp)
    return swa_lr * alpha + prev_lr * (1 - alpha)


def _check_swalr(fn: str, anneal_epochs: Any, anneal_strategy: str) -> None:
    if anneal_strategy not in ("cos", "linear"):
        raise ValueError(f"{fn}: anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
    if isinstance(anneal_epochs, bool) or not isinstance(anneal_epochs, int) or anneal_epochs < 0:
        raise ValueError(f"{fn}: anneal_epochs must be equal or greater than 0, got {anneal_epochs}")


def swalr(lr: float, swa_lr: float, anneal_epochs: int = 10, anneal_strategy: str = "cos") -> TorchSchedule:
    r"""``torch.optim.swa_utils.SWALR`` as an optax schedule: the LR after ``k`` ``step()`` calls,
    annealed from ``lr`` to ``swa_lr`` over ``anneal_epochs`` (cosine or linear), then constant.

    torch's recursion (undo the previous blend, blend again), whose rounding the closed form does
    not reproduce near the end of the annealing, is replayed step by step in a loop of
    ``anneal_epochs + 1`` fixed iterations (jit- and GPU-friendly: no data-dependent trip count).
    """
    fn = "swalr"
    base, swa = check_float(fn, "lr", lr), check_float(fn, "swa_lr", swa_lr)
    _check_swalr(fn, anneal_epochs, anneal_strategy)
    dt = scalar_dtype

    def sched(k: Any) -> jax.Array:
        check_concrete_steps(fn, k)
        k = jnp.asarray(k)
        s_swa = jnp.asarray(swa, dt())

        def body(s: Any, v: Any) -> Any:
            nxt = swalr_step(v, s_swa, s.astype(dt()), anneal_epochs, anneal_strategy, JNP)
            return jnp.where(s <= k, nxt, v)

        v0 = swalr_step(jnp.broadcast_to(jnp.asarray(base, dt()), k.shape), s_swa, jnp.asarray(0.0, dt()),
                        anneal_epochs, anneal_strategy, JNP)
        return lax.fori_loop(1, anneal_epochs + 2, body, v0)

    return TorchSchedule("SWALR", sched, lr=base)


class SWALR(LRScheduler):
    """``torch.optim.swa_utils.SWALR``: anneals each group's LR to ``swa_lr`` (one value, or one
    per group, written to ``param_groups[i]["swa_lr"]``) over ``anneal_epochs`` epochs. See :func:`swalr`."""

    def __init__(self, optimizer: Optimizer, swa_lr: Any, anneal_epochs: int = 10, anneal_strategy: str = "cos",
                 last_epoch: int = -1) -> None:
        swa_lrs = format_param("swa_lr", optimizer, swa_lr)
        for s, group in zip(swa_lrs, optimizer.param_groups, strict=True):
            group["swa_lr"] = s
        _check_swalr("SWALR", anneal_epochs, anneal_strategy)
        self._anneal_strategy = anneal_strategy
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    def anneal_func(self, t: float) -> float:
        return _anneal(self._anneal_strategy, t, PY)

    def get_lr(self) -> list[float]:
        self._warn_outside_step()
        step = self._step_count - 1
        return [swalr_step(group["lr"], group["swa_lr"], step, self.anneal_epochs, self._anneal_strategy, PY)
                for group in self.optimizer.param_groups]


# ---- parameter averaging -------------------------------------------------------------------------


def get_ema_multi_avg_fn(decay: float = 0.999) -> Callable[[Any, Any, Any], Any]:
    """EMA over a whole pytree: ``ema.lerp(current, 1 - decay)`` with torch's CPU ``lerp`` rounding
    (what ``AveragedModel(multi_avg_fn=get_ema_multi_avg_fn(decay))`` does)."""
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")

    @jax.jit  # torch's lerp is one fused multiply-add; XLA fuses it the same way only when compiled
    def ema_update(ema: Any, current: Any, num_averaged: Any) -> Any:
        del num_averaged
        return jax.tree.map(lambda e, c: lerp(e, c.astype(e.dtype), 1 - decay), ema, current)

    return ema_update


def get_swa_multi_avg_fn() -> Callable[[Any, Any, Any], Any]:
    """Equal-weight running average over a whole pytree: ``avg.lerp(current, 1 / (n + 1))``.

    As torch, the weight ``1 / (n + 1)`` is computed from the integer count in float32 (torch's
    default dtype) before it meets the parameters."""

    @jax.jit  # see get_ema_multi_avg_fn
    def swa_update(avg: Any, current: Any, num_averaged: Any) -> Any:
        w = (1.0 / (jnp.asarray(num_averaged) + 1).astype(jnp.float32)).astype(jnp.float32)
        return jax.tree.map(lambda a, c: lerp(a, c.astype(a.dtype), w.astype(scalar_dtype())), avg, current)

    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> Callable[[Any, Any, Any], Any]:
    """EMA for one array: ``decay * ema + (1 - decay) * current``.

    Eagerly this is torch's rounding; under ``jit`` XLA on CPU fuses one product and the sum into
    a fused multiply-add, which can differ by one ulp. :func:`get_ema_multi_avg_fn` (torch's
    recommended form, a ``lerp``) matches torch exactly either way."""
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")

    def ema_update(ema: jax.Array, current: jax.Array, num_averaged: Any) -> jax.Array:
        del num_averaged
        return decay * ema + (1 - decay) * current

    return ema_update


def get_swa_avg_fn() -> Callable[[Any, Any, Any], Any]:
    """Equal-weight running average for one array: ``avg + (current - avg) / (n + 1)`` (the rule
    torch's ``AveragedModel`` applies on CPU by default)."""

    def swa_update(avg: jax.Array, current: jax.Array, num_averaged: Any) -> jax.Array:
        return avg + JNP.div(current - avg, (jnp.asarray(num_averaged) + 1).astype(avg.dtype))

    return swa_update


class SWAState(NamedTuple):
    """The averaged parameters and how many parameter sets they average (torch's ``n_averaged``)."""

    params: Any
    n_averaged: jax.Array


def swa_init(params: Any) -> SWAState:
    """Start an average (torch's ``AveragedModel(model)``: a copy of the parameters, ``n_averaged = 0``)."""
    return SWAState(params=jax.tree.map(jnp.array, params), n_averaged=jnp.zeros([], jnp.int32))


def swa_update(state: SWAState, params: Any, avg_fn: Callable[[Any, Any, Any], Any] | None = None,
               multi_avg_fn: Callable[[Any, Any, Any], Any] | None = None) -> SWAState:
    """One ``AveragedModel.update_parameters(model)``: the first call copies ``params``; later calls
    average with ``multi_avg_fn(avg_tree, params_tree, n)`` or ``avg_fn(avg, param, n)`` per array
    (default: :func:`get_swa_avg_fn`, torch's CPU rule). Pure and jit-safe."""
    if avg_fn is not None and multi_avg_fn is not None:
        raise ValueError("swa_update: Only one of avg_fn and multi_avg_fn should be provided")
    if jax.tree.structure(state.params) != jax.tree.structure(params):
        raise ValueError(f"swa_update: params have structure {jax.tree.structure(params)}, the average "
                         f"{jax.tree.structure(state.params)}")
    n = state.n_averaged
    if multi_avg_fn is not None:
        averaged = multi_avg_fn(state.params, params, n)
    else:
        fn = avg_fn if avg_fn is not None else get_swa_avg_fn()
        averaged = jax.tree.map(lambda a, p: fn(a, p.astype(a.dtype), n), state.params, params)
    new = jax.tree.map(lambda a, p: jnp.where(n == 0, p.astype(a.dtype), a), averaged, params)
    return SWAState(params=new, n_averaged=n + 1)


class AveragedModel:
    """``torch.optim.swa_utils.AveragedModel`` over a parameter pytree (a stateful shell for
    ported code; :func:`swa_init` / :func:`swa_update` are the pure functions it calls).

    ``AveragedModel(params, avg_fn=None, multi_avg_fn=None)``; ``update_parameters(params)``;
    ``.params`` (the average) and ``.n_averaged``. Apply ``.params`` with your model's apply
    function (``AveragedModel.forward`` has no meaning without a module).
    """

    def __init__(self, params: Any, avg_fn: Callable[[Any, Any, Any], Any] | None = None,
                 multi_avg_fn: Callable[[Any, Any, Any], Any] | None = None) -> None:
        if avg_fn is not None and multi_avg_fn is not None:
            raise ValueError("AveragedModel: Only one of avg_fn and multi_avg_fn should be provided")
        self.avg_fn, self.multi_avg_fn = avg_fn, multi_avg_fn
        self._state = swa_init(params)
        self._update = jax.jit(lambda s, p: swa_update(s, p, avg_fn, multi_avg_fn))

    @property
    def params(self) -> Any:
        return self._state.params

    @property
    def n_averaged(self) -> jax.Array:
        return self._state.n_averaged

    def update_parameters(self, params: Any) -> None:
        self._state = self._update(self._state, params)


__all__ = [
    "SWALR", "AveragedModel", "SWAState", "get_ema_avg_fn", "get_ema_multi_avg_fn", "get_swa_avg_fn",
    "get_swa_multi_avg_fn", "swa_init", "swa_update", "swalr",
]
