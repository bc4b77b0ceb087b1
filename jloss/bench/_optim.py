"""Optimizer workloads: one step of every jloss.optim optimizer on 50M float32 parameters in 20
tensors of mixed shapes, against torch (default, ``foreach=True``, ``fused=True`` where torch has a
fused CPU kernel) and optax's equivalent.

jloss (and optax) run ``jax.jit(step, donate_argnums=(0, 1), compiler_options=jloss.compiler_options())``
(as ``jloss.train`` compiles its steps) with ``step(params, state, grads) = tx.update(...)`` +
``optax.apply_updates``: parameters and state are updated in place; the gradients are fixed arrays
(not donated). torch's peers each own their
parameters and state and share one set of gradient tensors. Bytes: parameters, gradients and
every full-size state buffer read, parameters and state written. Only one optimizer's buffers are
alive at a time (the setup generator drops them before the next workload).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import optim
from .._xla import compiler_options
from ._workload import Case, Context, Workload

__all__ = ["SKIPPED", "SHAPES", "workloads"]

#: 20 tensors, 50,000,000 float32 parameters (200 MB a copy)
SHAPES: tuple[tuple[int, ...], ...] = (((2048, 2048),) * 10 + ((1024, 1536),) * 4 + ((768, 1024),) * 2
                                       + ((48160,),) * 4)
#: Muon orthogonalises every matrix (Newton-Schulz, 5 matmul iterations): compute-bound, so it
#: runs on 20 matrices of 256 x 256 instead (50M parameters would take seconds a step).
MUON_SHAPES: tuple[tuple[int, ...], ...] = ((256, 256),) * 20

#: optimizers that do not fit "one step on fixed gradients", and why
SKIPPED: dict[str, str] = {
    "lbfgs": "LBFGS steps with a closure (up to max_iter loss and gradient evaluations per step), "
             "not on fixed gradients",
    "sparse_adam": "torch's SparseAdam takes sparse gradients only; a dense 50M step has no torch peer",
}


def _quick_shape(s: tuple[int, ...]) -> tuple[int, ...]:
    return (max(1, s[0] // 100),) if len(s) == 1 else tuple(max(2, d // 10) for d in s)


def _cases(ctx: Context, *, jl: Callable[[], optax.GradientTransformation], torch_cls: str,
           torch_kw: dict[str, Any], ox: Callable[[], optax.GradientTransformation] | None,
           n_state: int, fused: bool, shapes: tuple[tuple[int, ...], ...], note: str) -> Iterator[Case]:
    shapes = tuple(_quick_shape(s) for s in shapes) if ctx.quick else shapes
    r = np.random.default_rng(0)
    p_np = [r.standard_normal(s, dtype=np.float32) for s in shapes]
    g_np = [r.standard_normal(s, dtype=np.float32) * np.float32(1e-2) for s in shapes]
    n = sum(math.prod(s) for s in shapes)
    nbytes = (3 + 2 * n_state) * 4 * n
    grads = [jnp.array(g) for g in g_np]
    peers: dict[str, Callable[[], Any]] = {}
    skipped: dict[str, str] = {}

    def jax_peer(tx: optax.GradientTransformation) -> Callable[[], Any]:
        def step(params, state, grads):
            updates, state = tx.update(grads, state, params)
            return optax.apply_updates(params, updates), state

        jstep = jax.jit(step, donate_argnums=(0, 1), compiler_options=compiler_options())
        params = [jnp.array(p, copy=True) for p in p_np]  # owned buffers: donation reuses them
        box = [params, tx.init(params)]

        def run() -> Any:
            box[0], box[1] = jstep(box[0], box[1], grads)
            return box

        return run

    peers["jloss"] = jax_peer(jl())
    if ctx.torch is None:
        for name in ("torch", "torch.foreach", "torch.fused"):
            skipped[name] = "torch is not installed"
    else:
        torch = ctx.torch
        cls = getattr(torch.optim, torch_cls)
        t_grads = [torch.from_numpy(g) for g in g_np]
        variants = {"torch": {}, "torch.foreach": {"foreach": True}, "torch.fused": {"fused": True}}
        for name, extra in variants.items():
            if name == "torch.fused" and not fused:
                skipped[name] = f"torch {torch_cls} has no fused CPU implementation"
                continue
            if name == "torch.foreach" and torch_cls == "Muon":
                skipped[name] = "torch Muon has no foreach implementation"
                continue
            try:
                ps = [torch.from_numpy(p.copy()).requires_grad_(True) for p in p_np]
                for p, g in zip(ps, t_grads, strict=True):
                    p.grad = g
                opt = cls(ps, **torch_kw, **extra)
            except (RuntimeError, TypeError, ValueError) as e:
                skipped[name] = f"{type(e).__name__}: {e}"[:200]
                continue

            def run(opt: Any = opt) -> None:
                opt.step()

            peers[name] = run
    if ox is None:
        skipped["optax"] = "optax has no such optimizer"
    else:
        peers["optax"] = jax_peer(ox())
    shape = f"{n:,} params in {len(shapes)} tensors"
    yield Case("step", peers, nbytes, shape, skipped, note)


#: component -> (jloss transform, torch class, torch kwargs, optax transform or None, full-size
#: state buffers, torch has fused=True on CPU, note)
_SPECS: dict[str, tuple[Any, ...]] = {
    "sgd": (partial(optim.sgd, lr=0.01, momentum=0.9), "SGD", {"lr": 0.01, "momentum": 0.9},
            partial(optax.sgd, 0.01, momentum=0.9), 1, True, "momentum=0.9"),
    "adam": (optim.adam, "Adam", {}, partial(optax.adam, 1e-3), 2, True, ""),
    "adamw": (optim.adamw, "AdamW", {}, partial(optax.adamw, 1e-3, weight_decay=0.01), 2, True, ""),
    "adagrad": (optim.adagrad, "Adagrad", {},
                partial(optax.adagrad, 0.01, initial_accumulator_value=0.0, eps=1e-10), 1, True, ""),
    "adadelta": (optim.adadelta, "Adadelta", {}, partial(optax.adadelta, 1.0, rho=0.9, eps=1e-6), 2, False, ""),
    "adamax": (optim.adamax, "Adamax", {}, partial(optax.adamax, 0.002), 2, False, ""),
    "nadam": (optim.nadam, "NAdam", {}, partial(optax.nadam, 0.002), 2, False, "optax's NAdam differs from torch's"),
    "radam": (optim.radam, "RAdam", {}, partial(optax.radam, 1e-3), 2, False, ""),
    "rmsprop": (optim.rmsprop, "RMSprop", {}, partial(optax.rmsprop, 0.01, decay=0.99, eps=1e-8), 1, False, ""),
    "rprop": (optim.rprop, "Rprop", {}, partial(optax.rprop, 0.01), 2, False, ""),
    "asgd": (optim.asgd, "ASGD", {}, None, 1, False, "state: the average ax"),
    "adafactor": (optim.adafactor, "Adafactor", {}, optax.adafactor, 0, False,
                  "factored second moments (row + column vectors); optax's Adafactor is another variant"),
    "muon": (optim.muon, "Muon", {}, partial(optax.contrib.muon, 1e-3), 1, False,
             "20 matrices 256x256: Newton-Schulz is matmul-bound"),
}


def workloads() -> list[Workload]:
    """The optimizer workloads (LBFGS and SparseAdam are in :data:`SKIPPED`)."""
    out = []
    for comp, (jl, tcls, tkw, ox, n_state, fused, note) in _SPECS.items():
        shapes = MUON_SHAPES if comp == "muon" else SHAPES
        size = "20x256x256" if comp == "muon" else "50M"
        setup = partial(_cases, jl=jl, torch_cls=tcls, torch_kw=tkw, ox=ox, n_state=n_state, fused=fused,
                        shapes=shapes, note=note)
        out.append(Workload("optim", comp, size, setup, note))
    return out
