"""Loss workloads: every jloss.functional loss with a torch counterpart (and dice / focal against
their torch-formula references), forward and forward + gradient, against torch eager,
``torch.compile`` and optax where optax has the piece.

The jloss callables are ``jax.jit(fn)`` and ``jax.jit(jax.value_and_grad(fn, argnums=diff))`` of
jloss.functional; torch's forward runs under ``torch.no_grad()`` and its gradient is
``torch.autograd.grad`` w.r.t. the same inputs (the ones a training step differentiates: the
prediction, and every embedding / ``var`` input). ``torch.compile`` (default mode, ``dynamic=False``)
compiles one function, used for both variants. Bytes: the inputs read plus the outputs written
(the scalar loss, or the per-row output of ``pairwise_distance`` / ``cosine_similarity``, whose
gradient is that of the output's sum), plus the gradients written.
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

from .. import functional as F
from ._workload import Case, Context, Workload

__all__ = ["workloads"]

Maker = Callable[[np.random.Generator, int], tuple[np.ndarray, ...]]
ELEMENTWISE = (4096, 4096)  # 16M elements
ROWWISE = (65536, 128)


def _rows(ctx: Context, n: int) -> int:
    return max(2, math.ceil(n / 100)) if ctx.quick else n


def _cases(ctx: Context, make: Maker, rows: int, jl: Callable[..., Any], th: Callable[..., Any] | None,
           ox: Callable[..., Any] | None, diff: tuple[int, ...], *, vector_out: bool = False, gather: bool = False,
           note: str = "") -> Iterator[Case]:
    args = make(np.random.default_rng(0), _rows(ctx, rows))
    shape = "x".join(map(str, args[0].shape))
    jargs = tuple(jax.device_put(a) for a in args)
    scal = (lambda fn: lambda *a: jnp.sum(fn(*a))) if vector_out else (lambda fn: fn)
    out_bytes = 4 * math.prod(jax.eval_shape(jl, *jargs).shape)
    fwd_bytes = sum(a.nbytes for a in args) + out_bytes
    if gather:  # the value reads one entry per row of the input (nll_loss), not the whole of it
        fwd_bytes = args[0].dtype.itemsize * args[0].shape[0] + sum(a.nbytes for a in args[1:]) + out_bytes
    grad_bytes = sum(a.nbytes for a in args) + 4 + sum(args[i].nbytes for i in diff)
    fwd: dict[str, Callable[[], Any]] = {}
    grad: dict[str, Callable[[], Any]] = {}
    skipped: dict[str, str] = {}
    jf, jg = jax.jit(jl), jax.jit(jax.value_and_grad(scal(jl), argnums=diff))
    fwd["jloss"], grad["jloss"] = (lambda: jf(*jargs)), (lambda: jg(*jargs))
    if ctx.torch is None:
        skipped["torch"] = skipped["torch.compile"] = "torch is not installed"
    elif th is None:
        skipped["torch"] = skipped["torch.compile"] = "no torch counterpart"
    else:
        torch = ctx.torch
        targs = [torch.from_numpy(a).long() if a.dtype.kind in "iu" else torch.from_numpy(a) for a in args]
        for i in diff:
            targs[i].requires_grad_(True)
        wrt = [targs[i] for i in diff]
        tf = partial(th, torch)
        tscal = (lambda fn: lambda *a: fn(*a).sum()) if vector_out else (lambda fn: fn)

        def t_fwd(fn: Callable[..., Any]) -> Callable[[], None]:
            def run() -> None:
                with torch.no_grad():
                    fn(*targs)
            return run

        def t_grad(fn: Callable[..., Any]) -> Callable[[], None]:
            def run() -> None:
                torch.autograd.grad(tscal(fn)(*targs), wrt)
            return run

        fwd["torch"], grad["torch"] = t_fwd(tf), t_grad(tf)
        if ctx.compile:
            tc = torch.compile(tf, dynamic=False)
            fwd["torch.compile"], grad["torch.compile"] = t_fwd(tc), t_grad(tc)
        else:
            skipped["torch.compile"] = "torch.compile left out (compile=False)"
    if ox is None:
        skipped["optax"] = "optax has no such loss"
    else:
        of, og = jax.jit(ox), jax.jit(jax.value_and_grad(scal(ox), argnums=diff))
        fwd["optax"], grad["optax"] = (lambda: of(*jargs)), (lambda: og(*jargs))
    yield Case("fwd", fwd, fwd_bytes, shape, dict(skipped), note)
    yield Case("fwd+grad", grad, grad_bytes, shape, dict(skipped), note)


# ---- inputs ------------------------------------------------------------------------------------


def _normal(r: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> np.ndarray:
    x = r.standard_normal(shape, dtype=np.float32)
    return x * np.float32(scale) if scale != 1.0 else x


def _sign(r: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return np.where(r.random(shape, dtype=np.float32) < 0.5, np.float32(-1), np.float32(1))


def _bits(r: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return (r.random(shape, dtype=np.float32) < 0.3).astype(np.float32)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=1, keepdims=True)
    return (x - np.log(np.exp(x).sum(axis=1, keepdims=True))).astype(np.float32)


def _ew(kind: str) -> Maker:
    """Inputs of an elementwise loss, (rows, 4096)."""

    def make(r: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
        s = (n, ELEMENTWISE[1])
        x = _normal(r, s)
        if kind == "reg":
            return x, _normal(r, s)
        if kind == "sign":
            return x, _sign(r, s)
        if kind == "bits":
            return x, _bits(r, s)
        if kind == "prob":
            return (1 / (1 + np.exp(-x))).astype(np.float32), r.random(s, dtype=np.float32)
        if kind == "poisson":
            return x * np.float32(0.5), r.poisson(1.0, s).astype(np.float32)
        if kind == "gauss":
            return x, _normal(r, s), r.uniform(0.5, 2.0, s).astype(np.float32)
        if kind == "kl":
            return _log_softmax(x), np.exp(_log_softmax(_normal(r, s)))
        if kind == "rank":
            return x, _normal(r, s), _sign(r, s)
        raise ValueError(kind)

    return make


def _classes(c: int, log: bool = False) -> Maker:
    def make(r: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
        x = _normal(r, (n, c), 2.0)
        return (_log_softmax(x) if log else x), r.integers(0, c, n).astype(np.int32)

    return make


def _multilabel(r: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    c = ROWWISE[1]
    t = np.full((n, c), -1, np.int32)
    k = r.integers(1, 5, n)
    for j in range(4):  # up to 4 labels per row, then -1 padding
        t[:, j] = np.where(j < k, r.integers(0, c, n), -1)
    return _normal(r, (n, c)), t


def _emb(k: int, target: bool = False) -> Maker:
    def make(r: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
        xs = tuple(_normal(r, (n, ROWWISE[1])) for _ in range(k))
        return (*xs, _sign(r, (n,))) if target else xs

    return make


def _linear_ce(r: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    return _normal(r, (n, 128)), _normal(r, (8192, 128), 0.1), r.integers(0, 8192, n).astype(np.int32)


def _ctc(b: int) -> Maker:
    def make(r: np.random.Generator, t: int) -> tuple[np.ndarray, ...]:
        c, s = 30, 50
        lp = _log_softmax(_normal(r, (t * b, c))).reshape(t, b, c)
        tl = r.integers(30, s + 1, b).astype(np.int32) if t >= 100 else np.full(b, max(1, t // 4), np.int32)
        return lp, r.integers(1, c, (b, s)).astype(np.int32), np.full(b, t, np.int32), tl

    return make


# ---- torch and optax references ---------------------------------------------------------------


def _t_sigmoid_focal(torch: Any, x: Any, y: Any, alpha: float = 0.25, gamma: float = 2.0) -> Any:
    """torchvision.ops.sigmoid_focal_loss, reduction='mean'."""
    p = torch.sigmoid(x)
    ce = torch.nn.functional.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * ((1 - p_t) ** gamma)
    return ((alpha * y + (1 - alpha) * (1 - y)) * loss).mean()


def _t_softmax_focal(torch: Any, x: Any, t: Any, gamma: float = 2.0) -> Any:
    logp_t = torch.log_softmax(x, dim=1).gather(1, t[:, None])[:, 0]
    return (-((1 - logp_t.exp()) ** gamma) * logp_t).mean()


def _t_dice(torch: Any, x: Any, y: Any, smooth: float = 1.0) -> Any:
    p = torch.sigmoid(x).reshape(x.shape[0], -1)
    y = y.reshape(y.shape[0], -1)
    dice = (2 * (p * y).sum(1) + smooth) / (p.sum(1) + y.sum(1) + smooth)
    return (1 - dice).mean()


def _o_ctc(lp: jax.Array, labels: jax.Array, il: jax.Array, tl: jax.Array) -> jax.Array:
    t, b, _ = lp.shape
    lpad = (jnp.arange(t)[None, :] >= il[:, None]).astype(lp.dtype)
    ypad = (jnp.arange(labels.shape[1])[None, :] >= tl[:, None]).astype(lp.dtype)
    per_seq = optax.losses.ctc_loss(jnp.transpose(lp, (1, 0, 2)), lpad, labels, ypad, blank_id=0)
    return jnp.mean(per_seq / jnp.maximum(tl, 1).astype(lp.dtype))


def _o_cos_emb(x1: jax.Array, x2: jax.Array, y: jax.Array) -> jax.Array:
    cos = optax.losses.cosine_similarity(x1, x2, epsilon=1e-8)
    return jnp.mean(jnp.where(y == 1, 1 - cos, jnp.maximum(cos, 0.0)))


def _o_triplet(a: jax.Array, p: jax.Array, n: jax.Array) -> jax.Array:
    return jnp.mean(optax.losses.triplet_margin_loss(a, p, n, margin=1.0, eps=1e-6))


def _tf(name: str, **kw: Any) -> Callable[..., Any]:
    """``torch.nn.functional.<name>(*args, **kw)`` as a ``(torch, *args)`` callable."""
    return lambda torch, *a: getattr(torch.nn.functional, name)(*a, **kw)


def _jf(name: str, **kw: Any) -> Callable[..., Any]:
    fn = getattr(F, name)
    return lambda *a: fn(*a, **kw)


def _om(fn: Callable[..., Any], **kw: Any) -> Callable[..., Any]:
    """An optax per-element loss, averaged."""
    return lambda *a: jnp.mean(fn(*a, **kw))


L = optax.losses
_N, _R = ELEMENTWISE[0], ROWWISE[0]

#: (component, size label, input maker, rows, jloss callable, torch callable, optax callable, diff, options)
_SPECS: list[tuple[Any, ...]] = [
    ("l1_loss", "16M", _ew("reg"), _N, _jf("l1_loss"), _tf("l1_loss"), None, (0,), {}),
    ("mse_loss", "16M", _ew("reg"), _N, _jf("mse_loss"), _tf("mse_loss"), _om(L.squared_error), (0,), {}),
    ("huber_loss", "16M", _ew("reg"), _N, _jf("huber_loss"), _tf("huber_loss"), _om(L.huber_loss, delta=1.0), (0,), {}),
    ("smooth_l1_loss", "16M", _ew("reg"), _N, _jf("smooth_l1_loss"), _tf("smooth_l1_loss"),
     _om(L.huber_loss, delta=1.0), (0,), {"note": "optax: huber_loss(delta=1), equal at beta=1"}),
    ("poisson_nll_loss", "16M", _ew("poisson"), _N, _jf("poisson_nll_loss"), _tf("poisson_nll_loss"), None, (0,), {}),
    ("gaussian_nll_loss", "16M", _ew("gauss"), _N, _jf("gaussian_nll_loss"), _tf("gaussian_nll_loss"), None, (0, 2),
     {"note": "gradient w.r.t. input and var"}),
    ("kl_div", "16M", _ew("kl"), _N, _jf("kl_div", reduction="batchmean"), _tf("kl_div", reduction="batchmean"),
     lambda x, y: jnp.mean(L.kl_divergence(x, y)), (0,), {"note": "reduction='batchmean'"}),
    ("binary_cross_entropy", "16M", _ew("prob"), _N, _jf("binary_cross_entropy"), _tf("binary_cross_entropy"),
     None, (0,), {}),
    ("binary_cross_entropy_with_logits", "16M", _ew("prob"), _N, _jf("binary_cross_entropy_with_logits"),
     _tf("binary_cross_entropy_with_logits"), _om(L.sigmoid_binary_cross_entropy), (0,), {}),
    ("margin_ranking_loss", "16M", _ew("rank"), _N, _jf("margin_ranking_loss"), _tf("margin_ranking_loss"), None,
     (0, 1), {}),
    ("hinge_embedding_loss", "16M", _ew("sign"), _N, _jf("hinge_embedding_loss"), _tf("hinge_embedding_loss"),
     None, (0,), {}),
    ("soft_margin_loss", "16M", _ew("sign"), _N, _jf("soft_margin_loss"), _tf("soft_margin_loss"), None, (0,), {}),
    ("multilabel_soft_margin_loss", "16M", _ew("bits"), _N, _jf("multilabel_soft_margin_loss"),
     _tf("multilabel_soft_margin_loss"), _om(L.sigmoid_binary_cross_entropy), (0,), {}),
    ("sigmoid_focal_loss", "16M", _ew("bits"), _N, _jf("sigmoid_focal_loss", reduction="mean"), _t_sigmoid_focal,
     lambda x, y: jnp.mean(L.sigmoid_focal_loss(x, y, alpha=0.25, gamma=2.0)), (0,),
     {"note": "torch: torchvision's formula written out"}),
    ("dice_loss", "16M", _ew("bits"), _N, _jf("dice_loss"), _t_dice, None, (0,),
     {"note": "torch: the tutorial's formula per sample, written out"}),
    ("cross_entropy", "4096x32000", _classes(32000), 4096, _jf("cross_entropy"), _tf("cross_entropy"),
     _om(L.softmax_cross_entropy_with_integer_labels), (0,), {}),
    ("cross_entropy", "65536x10", _classes(10), 65536, _jf("cross_entropy"), _tf("cross_entropy"),
     _om(L.softmax_cross_entropy_with_integer_labels), (0,), {}),
    ("nll_loss", "4096x32000", _classes(32000, log=True), 4096, _jf("nll_loss"), _tf("nll_loss"), None, (0,),
     {"gather": True, "note": "the value reads one entry per row; the gradient writes the whole input"}),
    ("nll_loss", "65536x10", _classes(10, log=True), 65536, _jf("nll_loss"), _tf("nll_loss"), None, (0,),
     {"gather": True, "note": "the value reads one entry per row; the gradient writes the whole input"}),
    ("softmax_focal_loss", "65536x128", _classes(128), _R, _jf("softmax_focal_loss"), _t_softmax_focal, None, (0,),
     {"note": "torch: the focal formula over log_softmax, written out"}),
    ("multi_margin_loss", "65536x128", _classes(128), _R, _jf("multi_margin_loss"), _tf("multi_margin_loss"), None,
     (0,), {}),
    ("multilabel_margin_loss", "65536x128", _multilabel, _R, _jf("multilabel_margin_loss"),
     _tf("multilabel_margin_loss"), None, (0,), {"note": "1-4 labels per row"}),
    ("cosine_embedding_loss", "65536x128", _emb(2, target=True), _R, _jf("cosine_embedding_loss"),
     _tf("cosine_embedding_loss"), _o_cos_emb, (0, 1), {"note": "optax: cosine_similarity + the formula"}),
    ("triplet_margin_loss", "65536x128", _emb(3), _R, _jf("triplet_margin_loss"), _tf("triplet_margin_loss"),
     _o_triplet, (0, 1, 2), {}),
    ("triplet_margin_with_distance_loss", "65536x128", _emb(3), _R, _jf("triplet_margin_with_distance_loss"),
     _tf("triplet_margin_with_distance_loss"), _o_triplet, (0, 1, 2), {"note": "default distance"}),
    ("pairwise_distance", "65536x128", _emb(2), _R, _jf("pairwise_distance"), _tf("pairwise_distance"), None,
     (0, 1), {"vector_out": True, "note": "output (N,); gradient of its sum"}),
    ("cosine_similarity", "65536x128", _emb(2), _R, _jf("cosine_similarity"), _tf("cosine_similarity"),
     lambda a, b: L.cosine_similarity(a, b, epsilon=1e-8), (0, 1),
     {"vector_out": True, "note": "output (N,); gradient of its sum"}),
    ("linear_cross_entropy", "4096x128x8192", _linear_ce, 4096, _jf("linear_cross_entropy"),
     _tf("linear_cross_entropy"), lambda x, w, t: jnp.mean(L.softmax_cross_entropy_with_integer_labels(x @ w.T, t)),
     (0, 1), {"note": "matmul-bound (vocab 8192); optax: x @ W.T + cross entropy; gradient w.r.t. input and weight"}),
    ("ctc_loss", "T200xB32", _ctc(32), 200, _jf("ctc_loss"), _tf("ctc_loss"), _o_ctc, (0,),
     {"note": "C=30 S=50; optax: ctc_loss / target_lengths, mean"}),
    ("ctc_loss", "T200xB1", _ctc(1), 200, _jf("ctc_loss"), _tf("ctc_loss"), _o_ctc, (0,),
     {"note": "C=30 S=50; optax: ctc_loss / target_lengths, mean"}),
]


def workloads() -> list[Workload]:
    """The loss workloads, in a stable order."""
    out = []
    for comp, size, make, rows, jl, th, ox, diff, opts in _SPECS:
        note = opts.get("note", "")
        setup = partial(_cases, make=make, rows=rows, jl=jl, th=th, ox=ox, diff=diff,
                        vector_out=opts.get("vector_out", False), gather=opts.get("gather", False), note=note)
        out.append(Workload("losses", comp, size, setup, note))
    return out
