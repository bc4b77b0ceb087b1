"""Muon, as ``torch.optim.Muon`` (momentum, Newton-Schulz orthogonalisation in bfloat16, shape-adjusted lr)."""

from __future__ import annotations

import math
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax

from . import _base as B

#: torch's defaults (Keller Jordan's quintic Newton-Schulz coefficients).
DEFAULT_NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)

ParamLayout = Literal["torch", "flax"]


class MuonState(NamedTuple):
    """``step``: updates made (torch's Muon keeps no step; not exported). ``momentum_buffer``: torch's."""

    step: jax.Array
    momentum_buffer: Any


TORCH_STATE_KEYS = ("momentum_buffer",)


def _bf16(x: jax.Array) -> jax.Array:
    """torch's ``.bfloat16()``: round to nearest even, float64 going through float32 as torch does."""
    return x.astype(jnp.float32).astype(jnp.bfloat16)


def _addmm(c: jax.Array | None, a: jax.Array, b: jax.Array, beta: float, alpha: float) -> jax.Array:
    """torch's CPU bfloat16 ``addmm`` / ``mm``: the product accumulated in float32, then
    ``fma(beta, c, alpha*dot)`` in float32 (measured: torch's kernel fuses the ``beta*c`` product,
    not ``alpha*dot``), rounded to bfloat16 once."""
    ab = jnp.matmul(a, b, preferred_element_type=jnp.float32, precision=jax.lax.Precision.HIGHEST)
    if alpha != 1:
        ab = jnp.float32(alpha) * ab
    if c is not None:
        beta32 = jnp.float32(beta)
        if B.scalar_dtype() == jnp.float64:
            # exact: beta*c (24 x 8 significant bits) and the sum are exact or correctly rounded in float64
            ab = (beta32.astype(jnp.float64) * c.astype(jnp.float64) + ab.astype(jnp.float64)).astype(jnp.float32)
        else:
            # no float64: XLA contracts ``x*y + z`` into an FMA under jit; the barrier keeps it from
            # fusing ``alpha*dot`` instead of ``beta*c``
            ab = beta32 * c.astype(jnp.float32) + jax.lax.optimization_barrier(ab)
    return ab.astype(jnp.bfloat16)


def zeropower_via_newtonschulz(
    grad: jax.Array, ns_coefficients: tuple[float, float, float], ns_steps: int, eps: Any
) -> jax.Array:
    """torch's ``_zeropower_via_newtonschulz``: the quintic Newton-Schulz iteration on a 2-D array,
    in bfloat16, every torch op (normalisation, ``mm``, ``addmm``) accumulated in float32 and rounded
    to bfloat16 once; returns a bfloat16 array of ``grad``'s shape."""
    if grad.ndim != 2:
        raise ValueError(f"muon: Input tensor gradient must be a 2D matrix, got shape {grad.shape}")
    a, b, c = ns_coefficients
    x = _bf16(grad)
    tall = grad.shape[0] > grad.shape[1]
    if tall:
        x = x.T
    # ortho_grad.div_(ortho_grad.norm().clamp(min=eps)): a bfloat16 norm, a bfloat16 clamp, one rounding
    norm = jnp.sqrt(jnp.sum(jnp.square(x.astype(jnp.float32)))).astype(jnp.bfloat16)
    norm = jnp.maximum(norm, _bf16(jnp.asarray(eps)))
    x = (x.astype(jnp.float32) / norm.astype(jnp.float32)).astype(jnp.bfloat16)
    for _ in range(ns_steps):
        gram = _addmm(None, x, x.T, 0.0, 1.0)
        gram_update = _addmm(gram, gram, gram, b, c)
        x = _addmm(x, gram_update, x, a, 1.0)
    return x.T if tall else x


def adjusted_lr_ratio(shape: tuple[int, ...], adjust_lr_fn: str | None = None,
                      param_layout: ParamLayout = "torch") -> float:
    """torch's ``_adjust_lr`` factor for a 2-D parameter: ``sqrt(max(1, A/B))`` ("original", the
    default) or ``0.2*sqrt(max(A, B))`` ("match_rms_adamw"), with ``(A, B)`` = (out, in) features.

    torch's ``nn.Linear.weight`` is ``(out, in)``, so ``A, B = shape``; a Flax ``Dense`` kernel is
    ``(in, out)``, so ``param_layout="flax"`` reads ``B, A = shape`` and gives the factor torch gives
    the same layer.
    """
    A, B_ = shape[:2] if param_layout == "torch" else (shape[1], shape[0])
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return math.sqrt(max(1, A / B_))
    if adjust_lr_fn == "match_rms_adamw":
        return 0.2 * math.sqrt(max(A, B_))
    raise ValueError(f"muon: Adjust learning rate function {adjust_lr_fn} is not supported")


def _check_2d(params: Any) -> None:
    for path, p in jax.tree_util.tree_leaves_with_path(params):
        if jnp.ndim(p) != 2:
            raise ValueError(f"muon: Muon only supports 2D parameters whereas we found a parameter "
                             f"with size: {tuple(jnp.shape(p))} at {jax.tree_util.keystr(path)}")


def scale_by_torch_muon(
    lr: Any, weight_decay: Any, momentum: Any, eps: Any, *, nesterov: bool,
    ns_coefficients: tuple[float, float, float], ns_steps: int, adjust_lr_fn: str | None,
    param_layout: ParamLayout,
) -> optax.GradientTransformation:
    """One torch Muon step (single-tensor path), lr and decoupled weight decay included."""

    def init(params):
        _check_2d(params)
        return MuonState(jnp.zeros([], jnp.int32), B.tree_zeros_like(params))

    def update(grads, state, params=None):
        B.needs_params("muon", params)
        _check_2d(grads)
        buf = jax.tree.map(lambda b, g: B.lerp(b, g, 1 - momentum), state.momentum_buffer, grads)
        upd = jax.tree.map(lambda g, b: B.lerp(g, b, momentum), grads, buf) if nesterov else buf

        def delta(p, u):
            o = zeropower_via_newtonschulz(u, ns_coefficients, ns_steps, eps)
            adjusted = lr * adjusted_lr_ratio(p.shape, adjust_lr_fn, param_layout)
            p1 = p * B.cast_like(1 - lr * weight_decay, p)
            return (p1 + B.cast_like(-adjusted, p) * o.astype(p.dtype)) - p

        updates = jax.tree.map(delta, params, upd)
        return updates, MuonState(B.next_count(state.step), buf)

    return optax.GradientTransformation(init, update)


def muon(
    lr: B.ScalarOrSchedule = 1e-3,
    weight_decay: float = 0.1,
    momentum: float = 0.95,
    nesterov: bool = True,
    ns_coefficients: tuple[float, float, float] = DEFAULT_NS_COEFFICIENTS,
    eps: float = 1e-7,
    ns_steps: int = 5,
    adjust_lr_fn: str | None = None,
    *,
    param_layout: ParamLayout = "torch",
) -> optax.GradientTransformation:
    r"""Muon, as ``torch.optim.Muon``: for 2-D parameters only (a ``ValueError`` otherwise).

    .. math::
        B_t = \mu B_{t-1} + (1-\mu) g_t,\quad
        \tilde B_t = (1-\mu) g_t + \mu B_t \text{ if nesterov else } B_t,\quad
        O_t = \mathrm{NS}^{(a,b,c)}_k(\tilde B_t),\\
        \theta_t = \theta_{t-1}(1 - \gamma\lambda) - \gamma\,r(\theta)\,O_t

    The momentum is an exponential moving average with no bias correction (torch's
    ``buf.lerp_(g, 1 - momentum)``; nesterov is ``g.lerp(buf, momentum)``). :math:`\mathrm{NS}` is
    torch's Newton-Schulz iteration (:func:`zeropower_via_newtonschulz`), run in bfloat16 with
    float32 accumulation and one rounding per torch op, including the fused multiply-add torch's
    kernel applies to ``beta*c``: for small matrices the update matches torch's CPU result bit for
    bit. With inner dimensions of ~32 and more, the float32 summation order inside a product
    (which torch leaves to its CPU kernel, and which changes when ``torch.backends.mkldnn`` is
    switched off) can flip a bfloat16 rounding; the result is then as close to torch's as torch's
    two backends are to each other. :math:`r(\theta)` is
    ``sqrt(max(1, A/B))`` (``adjust_lr_fn=None`` or ``"original"``) or ``0.2*sqrt(max(A, B))``
    (``"match_rms_adamw"``) for a parameter of ``(A, B)`` = (out, in) features; weight decay is
    decoupled and not adjusted.

    Other parameters (biases, norms, embeddings) belong to another optimizer, as in torch's own
    example: ``optax.multi_transform({"muon": muon(...), "adamw": adamw(...)}, labels)`` with
    ``labels = jax.tree.map(lambda p: "muon" if p.ndim == 2 else "adamw", params)``.

    ``param_layout`` (a jloss addition): torch reads ``(A, B)`` from the weight's shape, which is
    ``(out, in)`` for ``torch.nn.Linear``; a Flax ``nnx.Linear`` / ``Dense`` kernel is ``(in, out)``.
    Pass ``param_layout="flax"`` for Flax kernels to get the factor torch uses for the same layer
    (the Newton-Schulz result is the transpose either way). See :func:`adjusted_lr_ratio`.

    .. warning:: ``optax.contrib.muon`` differs: it bias-corrects its momentum (torch's EMA has no
       bias correction) and its Nesterov term, runs Newton-Schulz in the update's dtype rather than
       torch's bfloat16, and reads its ``sqrt(max(1, fan_out/fan_in))`` from the (in, out) layout.

    ``lr`` (a float or an optax schedule), ``weight_decay``, ``momentum`` and ``eps`` are
    injected hyperparameters (``state.hyperparams``); ``ns_coefficients``, ``ns_steps``,
    ``nesterov``, ``adjust_lr_fn`` and ``param_layout`` are static.
    """
    fn = "muon"
    B.check_lr(fn, lr)
    B.check_nonneg(fn, "momentum", momentum)
    B.check_nonneg(fn, "weight_decay", weight_decay)
    if adjust_lr_fn is not None and adjust_lr_fn not in ("original", "match_rms_adamw"):
        raise ValueError(f"{fn}: Adjust learning rate function {adjust_lr_fn} is not supported "
                         f"(expected None, 'original' or 'match_rms_adamw')")
    # torch checks these at the first step; jloss checks them here
    if not isinstance(ns_coefficients, (tuple, list)) or len(ns_coefficients) != 3:
        raise ValueError(f"{fn}: Coefficients must be a tuple of exactly 3 values, got {ns_coefficients!r}")
    if isinstance(ns_steps, bool) or not isinstance(ns_steps, int) or ns_steps < 0:
        raise ValueError(f"{fn}: ns_steps must be a non-negative int, got {ns_steps!r}")
    if ns_steps >= 100:
        raise ValueError(f"{fn}: Number of steps must be less than 100 for computational efficiency, got {ns_steps}")
    if param_layout not in ("torch", "flax"):
        raise ValueError(f"{fn}: param_layout must be 'torch' (out, in) or 'flax' (in, out), got {param_layout!r}")
    return B.inject(
        scale_by_torch_muon,
        static_args=("nesterov", "ns_coefficients", "ns_steps", "adjust_lr_fn", "param_layout"),
        lr=lr, weight_decay=weight_decay, momentum=momentum, eps=eps, nesterov=nesterov,
        ns_coefficients=tuple(float(c) for c in ns_coefficients), ns_steps=ns_steps,
        adjust_lr_fn=adjust_lr_fn, param_layout=param_layout,
    )
