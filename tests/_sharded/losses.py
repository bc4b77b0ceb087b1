"""Every jloss.functional loss on a batch split over 8 devices against the same call on one device.

Run by tests/losses/test_sharded.py in a subprocess with
``XLA_FLAGS=--xla_force_host_platform_device_count=8`` (JAX reads it once, at start); prints one JSON
object ``{"devices": 8, "cases": {name: {dtype: [value_err, grad_err]}}}``. The errors are
normwise relative: ``max|sharded - single| / max|single|`` over the value and over every gradient.

All cases of a dtype run in ONE jitted function (compiled once on the 8-device mesh, with each
batch-carrying input ``NamedSharding(mesh, P('data'))`` along its batch axis, and once on device 0
alone): one compile per placement instead of one per case.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_default_matmul_precision", "float32")

import jloss.functional as F  # noqa: E402

N = 16  # the batch: 2 rows per device
C = 5


class Case:
    """``fn(*inputs)``: inputs are numpy arrays; ``axes[i]`` is input i's batch axis (None: a
    replicated input such as class weights); ``grad`` the float inputs differentiated."""

    def __init__(self, name: str, fn: Callable[..., Any], inputs: list[np.ndarray],
                 axes: list[int | None] | None = None, grad: tuple[int, ...] | None = None) -> None:
        self.name, self.fn, self.inputs = name, fn, inputs
        self.axes = axes if axes is not None else [0] * len(inputs)
        floats = tuple(i for i, a in enumerate(inputs) if np.issubdtype(a.dtype, np.floating))
        self.grad = floats if grad is None else grad


def _kl_mean(i: Any, tt: Any) -> Any:
    with warnings.catch_warnings():  # torch's (and jloss's) warning that 'mean' is not 'batchmean'
        warnings.simplefilter("ignore", UserWarning)
        return F.kl_div(i, tt, reduction="mean")


def cases() -> list[Case]:
    r = np.random.default_rng(0)
    x, y = r.standard_normal((N, 3)), r.standard_normal((N, 3))
    w_el = r.uniform(0.1, 2.0, (N, 3))
    logits = r.standard_normal((N, C)) * 2
    w = r.uniform(0.2, 3.0, C)
    t = r.integers(0, C, N)
    t_ign = t.copy()
    t_ign[[1, 2, 9]] = -100  # ignored rows land on different devices: per-device counts differ
    t_ign7 = np.where(np.arange(N) % 5 == 0, 7, t)  # a custom ignore_index
    probs = np.exp(r.standard_normal((N, C)))
    probs /= probs.sum(1, keepdims=True)
    logits_k = r.standard_normal((N, C, 4))
    t_k = r.integers(0, C, (N, 4))
    t_k[0, :] = -100
    t_k[5, 1] = -100
    p01 = 1 / (1 + np.exp(-r.standard_normal((N, 3))))
    lbl01 = (r.uniform(size=(N, 3)) > 0.5).astype(np.float64)
    sign = np.where(r.uniform(size=N) > 0.5, 1.0, -1.0)
    sign3 = np.where(r.uniform(size=(N, 3)) > 0.5, 1.0, -1.0)
    pw = r.uniform(0.5, 2.0, 3)
    w3 = r.uniform(0.5, 2.0, 3)
    ml_t = np.full((N, C), -1)
    for n in range(N):
        k = n % 3 + 1
        ml_t[n, :k] = r.choice(C, k, replace=False)
    logp = np.log(probs)
    logq = np.log(np.roll(probs, 1, axis=0))
    # CTC: (T, N, C) log-probs, padded (N, S) targets of varied lengths, varied input lengths
    T, S = 12, 4
    ctc_lp = np.asarray(jax.nn.log_softmax(jnp.asarray(r.standard_normal((T, N, C))), axis=-1))
    tl = np.asarray([1 + n % S for n in range(N)])
    tl[3] = 0  # an empty target: per-sequence normalisation by max(len, 1)
    il = np.asarray([T - n % 4 for n in range(N)])
    ctc_t = r.integers(1, C, (N, S))
    ctc_bad = ctc_t.copy()
    ctc_bad[6] = 2  # 4 repeats of one label in 3 frames: impossible, inf (or 0 with zero_infinity)
    il_bad = il.copy()
    il_bad[6] = 3
    tl_bad = tl.copy()
    tl_bad[6] = S
    concat = np.concatenate([ctc_t[n, :tl[n]] for n in range(N)])
    emb_d = 6
    a, pos, neg = (r.standard_normal((N, emb_d)) for _ in range(3))
    lin_w = r.standard_normal((C, emb_d)) * 0.5
    lin_b = r.standard_normal(C) * 0.1
    mask = (r.uniform(size=(N, 2, 3, 3)) > 0.5).astype(np.float64)
    seg = r.standard_normal((N, 2, 3, 3))
    mean_var = r.uniform(0.2, 2.0, (N, 1))

    def l1(v: Any, u: Any) -> Any:
        return jnp.sum(jnp.abs(v - u), axis=-1)

    return [
        Case("l1_loss/sum-weight", lambda i, o, ww: F.l1_loss(i, o, reduction="sum", weight=ww), [x, y, w_el]),
        Case("mse_loss/weight", lambda i, o, ww: F.mse_loss(i, o, weight=ww), [x, y, w_el], grad=(0, 1)),
        Case("huber_loss", lambda i, o: F.huber_loss(i, o, delta=0.5), [x, y]),
        Case("smooth_l1_loss", lambda i, o: F.smooth_l1_loss(i, o, beta=0.5), [x, y]),
        Case("cross_entropy/weight-ignore",  # weighted mean over the non-ignored rows of ALL devices
             lambda i, tt, ww: F.cross_entropy(i, tt, weight=ww), [logits, t_ign, w], [0, 0, None], (0, 2)),
        Case("cross_entropy/ls-weight-ignore7",
             lambda i, tt: F.cross_entropy(i, tt, weight=jnp.asarray(w, i.dtype), ignore_index=7,
                                           label_smoothing=0.3), [logits, t_ign7]),
        Case("cross_entropy/probs-weight", lambda i, p, ww: F.cross_entropy(i, p, weight=ww),
             [logits, probs, w], [0, 0, None]),
        Case("cross_entropy/kdim-ignore", lambda i, tt: F.cross_entropy(i, tt), [logits_k, t_k]),
        Case("cross_entropy/sum-ls", lambda i, tt: F.cross_entropy(i, tt, reduction="sum", label_smoothing=0.1),
             [logits, t_ign]),
        Case("nll_loss/weight-ignore", lambda i, tt, ww: F.nll_loss(i, tt, weight=ww),
             [logp, t_ign, w], [0, 0, None], (0,)),
        Case("nll_loss/kdim-none", lambda i, tt: F.nll_loss(i, tt, reduction="none"), [logits_k, t_k]),
        Case("binary_cross_entropy/weight", lambda i, o, ww: F.binary_cross_entropy(i, o, weight=ww),
             [p01, lbl01, w_el], grad=(0, 1)),
        Case("binary_cross_entropy_with_logits/pos_weight",
             lambda i, o, ww, pp: F.binary_cross_entropy_with_logits(i, o, weight=ww, pos_weight=pp),
             [x, lbl01, w3, pw], [0, 0, None, None], (0, 1)),
        Case("poisson_nll_loss/full", lambda i, o: F.poisson_nll_loss(i, o, full=True), [x, np.abs(y) * 3]),
        Case("poisson_nll_loss/rate", lambda i, o: F.poisson_nll_loss(i, o, log_input=False),
             [np.abs(x) + 0.1, np.abs(y)]),
        Case("gaussian_nll_loss/full-var", lambda i, o, v: F.gaussian_nll_loss(i, o, v, full=True),
             [x, y, mean_var]),
        Case("kl_div/batchmean", lambda i, tt: F.kl_div(i, tt, reduction="batchmean"), [logq, probs]),
        Case("kl_div/batchmean-log_target",
             lambda i, tt: F.kl_div(i, tt, reduction="batchmean", log_target=True), [logp, logq]),
        Case("kl_div/mean", _kl_mean, [logq, probs]),
        Case("ctc_loss/mean-zero_infinity",  # each sequence / its own target length, then the global mean
             lambda lp, tt, il_, tl_: F.ctc_loss(lp, tt, il_, tl_, zero_infinity=True),
             [ctc_lp, ctc_bad, il_bad, tl_bad], [1, 0, 0, 0]),
        Case("ctc_loss/sum-concatenated",  # concatenated targets cannot be split by row: replicated
             lambda lp, tt, il_, tl_: F.ctc_loss(lp, tt, il_, tl_, reduction="sum"),
             [ctc_lp, concat, il, tl], [1, None, 0, 0]),
        Case("margin_ranking_loss", lambda i, o, s: F.margin_ranking_loss(i, o, s, margin=0.3),
             [x[:, 0], y[:, 0], sign], grad=(0, 1)),
        Case("hinge_embedding_loss", lambda i, s: F.hinge_embedding_loss(i, s, margin=1.5), [x, sign3], grad=(0,)),
        Case("multilabel_margin_loss", lambda i, tt: F.multilabel_margin_loss(i, tt), [logits, ml_t]),
        Case("soft_margin_loss", lambda i, s: F.soft_margin_loss(i, s), [x, sign3], grad=(0,)),
        Case("multilabel_soft_margin_loss/weight",
             lambda i, o, ww: F.multilabel_soft_margin_loss(i, o, weight=ww), [x, lbl01, w3], [0, 0, None], (0,)),
        Case("cosine_embedding_loss", lambda u, v, s: F.cosine_embedding_loss(u, v, s, margin=0.2),
             [a, pos, sign], grad=(0, 1)),
        Case("multi_margin_loss/p2-weight", lambda i, tt, ww: F.multi_margin_loss(i, tt, p=2, margin=0.7, weight=ww),
             [logits, t, w], [0, 0, None], (0,)),
        Case("triplet_margin_loss/swap", lambda u, v, q: F.triplet_margin_loss(u, v, q, p=1.5, swap=True),
             [a, pos, neg]),
        Case("triplet_margin_with_distance_loss",
             lambda u, v, q: F.triplet_margin_with_distance_loss(u, v, q, distance_function=l1, margin=2.0),
             [a, pos, neg]),
        Case("linear_cross_entropy/weight-ignore-ls",
             lambda i, lw, tt, b, ww: F.linear_cross_entropy(i, lw, tt, linear_bias=b, weight=ww, ignore_index=-100,
                                                             label_smoothing=0.2, options=4),
             [a, lin_w, t_ign, lin_b, w], [0, None, 0, None, None], (0, 1, 3)),
        Case("cosine_similarity", lambda u, v: F.cosine_similarity(u, v), [a, pos]),
        Case("pairwise_distance", lambda u, v: F.pairwise_distance(u, v, p=3.0), [a, pos]),
        Case("dice_loss", lambda i, o: F.dice_loss(i, o), [seg, mask], grad=(0,)),
        Case("sigmoid_focal_loss/mean", lambda i, o: F.sigmoid_focal_loss(i, o, reduction="mean"), [seg, mask]),
        Case("softmax_focal_loss/weight-ignore", lambda i, tt, ww: F.softmax_focal_loss(i, tt, weight=ww),
             [logits, t_ign, w], [0, 0, None], (0, 2)),
    ]


def _spec(ndim: int, axis: int | None) -> P:
    if axis is None:
        return P()
    return P(*([None] * axis), "data")


def run(dtype: Any, all_cases: list[Case], mesh: Mesh) -> dict[str, list[float]]:
    def one(c: Case, inputs: list[Any]) -> Any:
        value = c.fn(*inputs)

        def total(*diff: Any) -> Any:
            args = list(inputs)
            for i, d in zip(c.grad, diff, strict=True):
                args[i] = d
            return jnp.sum(c.fn(*args))

        return value, jax.grad(total, argnums=tuple(range(len(c.grad))))(*(inputs[i] for i in c.grad))

    @jax.jit
    def every(all_inputs: list[list[Any]]) -> Any:
        return [one(c, ins) for c, ins in zip(all_cases, all_inputs, strict=True)]

    def cast(a: np.ndarray) -> np.ndarray:
        return a.astype(dtype) if np.issubdtype(a.dtype, np.floating) else a.astype(np.int32)

    host = [[cast(a) for a in c.inputs] for c in all_cases]
    one_dev = jax.devices()[0]
    single = jax.device_put(host, one_dev)
    sharded = [[jax.device_put(a, NamedSharding(mesh, _spec(a.ndim, ax))) for a, ax in zip(ins, c.axes, strict=True)]
               for c, ins in zip(all_cases, host, strict=True)]
    ref = jax.device_get(every(single))
    out_tree = every(sharded)
    placed = {len(leaf.sharding.device_set) for leaf in jax.tree.leaves(out_tree)}
    got = jax.device_get(out_tree)
    assert max(placed) == len(mesh.devices.flat), placed

    def err(g: Any, r: Any) -> float:
        g, r = np.asarray(g, np.float64), np.asarray(r, np.float64)
        finite = np.isfinite(r)
        if not np.array_equal(finite, np.isfinite(g)) or not np.array_equal(g[~finite], r[~finite]):
            return float("inf")
        if not finite.any():
            return 0.0
        return float(np.max(np.abs(g[finite] - r[finite])) / max(np.max(np.abs(r[finite])), 1e-300))

    res = {}
    for c, (gv, gg), (rv, rg) in zip(all_cases, got, ref, strict=True):
        res[c.name] = [err(gv, rv), max((err(a, b) for a, b in zip(gg, rg, strict=True)), default=0.0)]
    return res


def main() -> None:
    devices = jax.devices()
    mesh = Mesh(np.asarray(devices), ("data",))
    all_cases = cases()
    out: dict[str, Any] = {"devices": len(devices), "functions": sorted({c.name.split("/")[0] for c in all_cases}),
                           "cases": {}}
    for dtype in (np.float32, np.float64):
        for name, errs in run(dtype, all_cases, mesh).items():
            out["cases"].setdefault(name, {})[np.dtype(dtype).name] = errs
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
