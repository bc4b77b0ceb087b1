"""Parity cases: ctc_loss.

``functional.ctc_loss`` compares values and gradients THROUGH ``log_softmax`` of logits in both
frameworks (``ctc_loss(log_softmax(logits, -1), ...)``): the usual way CTC is used, and the
gradient w.r.t. the logits is the true derivative of the loss. ``functional.ctc_loss[log_probs]``
compares torch's gradient w.r.t. a leaf ``log_probs`` directly (exp(log_probs) - occupancy, not
the derivative of the loss), which jloss reproduces too, unnormalized log-probabilities included.

torch 2.13 has no CPU kernel for ctc_loss in bfloat16 / float16 ("ctc_loss_cpu" not implemented
for 'BFloat16'), so there are no low-precision cases here; tests/losses/test_ctc.py checks that
jloss's bfloat16 result matches torch's float32 one at bfloat16 precision.
"""

from __future__ import annotations

import jax
import numpy as np

from ...losses._ctc import ctc_loss
from .._gen import rng, with_dtypes
from .._harness import Case
from .._registry import Component, register


def _jax_through_log_softmax(logits, *args, **kwargs):
    return ctc_loss(jax.nn.log_softmax(logits, -1), *args, **kwargs)


def _torch_through_log_softmax(torch):
    def f(logits, *args, **kwargs):
        return torch.nn.functional.ctc_loss(logits.log_softmax(-1), *args, **kwargs)

    return f


def _labels(r, shape, num_classes, blank):
    """Random class indices other than ``blank``."""
    labels = r.integers(0, num_classes - 1, size=shape)
    return np.asarray(labels + (labels >= blank))


def _concat(padded, lengths):
    return np.asarray(np.concatenate([row[:n] for row, n in zip(padded, lengths, strict=True)]))


def _cases():
    out = []
    # ---- batched, varied lengths: frames past input_length, repeated labels that need every frame
    # (1 1 2 2 in 6 frames), empty targets with and without frames -----------------------------
    T, N, C, S = 10, 5, 5, 4
    r = rng("ctc_loss", "batched")
    x = np.asarray(r.standard_normal((T, N, C)) * 1.5)
    il, tl = np.asarray([10, 7, 6, 4, 0]), np.asarray([4, 2, 4, 0, 0])
    tg = _labels(r, (N, S), C, 0)
    tg[2] = [1, 1, 2, 2]
    out.append(
        Case("10x5x5-padded-blank=0-none", (x, tg, il, tl), {"reduction": "none"}, grad=(0,))
    )
    tg_last = _labels(r, (N, S), C, C - 1)
    tg_last[2] = [3, 3, 0, 0]
    out.append(
        Case(
            "10x5x5-concat-blank=4-mean",
            (x, _concat(tg_last, tl), il, tl),
            {"blank": C - 1},
            grad=(0,),
        )
    )
    tg_mid = _labels(r, (N, S), C, 2)
    tg_mid[2] = [4, 4, 4, 1]
    out.append(
        Case(
            "10x5x5-padded-blank=2-sum-tuple-lengths-int32",
            (x, tg_mid.astype(np.int32), tuple(il), tuple(tl)),
            {"blank": 2, "reduction": "sum"},
            grad=(0,),
        )
    )
    # ---- impossible alignments: one frame short for 3 3 3 (needs 5), no frames for a label -----
    T, N, C = 7, 3, 4
    r = rng("ctc_loss", "impossible")
    x = np.asarray(r.standard_normal((T, N, C)))
    tg = np.asarray([[1, 1, 2, 2], [3, 3, 3, 0], [1, 2, 0, 0]])
    il, tl = np.asarray([6, 4, 0]), np.asarray([4, 3, 2])
    out.append(Case("impossible-none", (x, tg, il, tl), {"reduction": "none"}, grad=(0,)))
    out.append(
        Case(
            "impossible-zero_infinity-mean",
            (x, _concat(tg, tl), il, tl),
            {"zero_infinity": True},
            grad=(0,),
        )
    )
    # ---- unbatched: (S,) targets hold exactly target_lengths labels; (1, S) is the padded form --
    T, C = 6, 4
    r = rng("ctc_loss", "unbatched")
    x1 = np.asarray(r.standard_normal((T, C)))
    out.append(
        Case(
            "unbatched-mean",
            (x1, np.asarray([2, 3, 3]), np.asarray(6), np.asarray(3)),
            {},
            grad=(0,),
        )
    )
    out.append(
        Case(
            "unbatched-padded(1,S)-none",
            (x1, np.asarray([[1, 2, 0, 0]]), np.asarray([5]), np.asarray([2])),
            {"reduction": "none"},
            grad=(0,),
        )
    )
    # float32 on a subset: each case costs ~1 s of XLA compilation (three programs with a scan)
    f32 = [out[i] for i in (0, 1, 3, 5)]  # padded/none, concatenated/mean, impossible, unbatched
    cases = list(with_dtypes(out, ("float64",))) + list(with_dtypes(f32, ("float32",)))
    # ---- bad values: torch refuses, so must jloss (eager; one dtype is enough) ------------------
    T, N, C, S = 5, 2, 4, 3
    x = np.asarray(rng("ctc_loss", "bad").standard_normal((T, N, C)))
    tg = np.asarray([[1, 2, 3], [3, 1, 1]])
    il, tl = np.asarray([5, 5]), np.asarray([3, 2])
    bad = {
        "input_lengths>T": ((x, tg, np.asarray([6, 5]), tl), {}),
        "input_lengths<0": ((x, tg, np.asarray([-1, 5]), tl), {}),
        "target_lengths<0": ((x, tg, il, np.asarray([3, -1])), {}),
        "target_lengths>S": ((x, tg, il, np.asarray([4, 2])), {}),
        "concat-length-mismatch": ((x, np.asarray([1, 2, 3, 3]), il, tl), {}),
        "lengths-wrong-size": ((x, tg, np.asarray([5, 5, 5]), tl), {}),
        "targets-batch-mismatch": ((x, tg[:1], il, tl), {}),
        "targets-3d": ((x, tg[None], il, tl), {}),
        "blank=C": ((x, tg, il, tl), {"blank": C}),
        "blank=-1": ((x, tg, il, tl), {"blank": -1}),
        "reduction": ((x, tg, il, tl), {"reduction": "avg"}),
    }
    cases += [Case(f"raises-{name}", args, kw, grad=(0,)) for name, (args, kw) in bad.items()]
    return cases


def _leaf_cases():
    out = []
    T, N, C = 6, 3, 5
    r = rng("ctc_loss", "leaf")
    x = r.standard_normal((T, N, C))
    lp = np.asarray(x - np.log(np.exp(x).sum(-1, keepdims=True)))
    tg = np.asarray([[1, 1, 1], [2, 3, 0], [4, 0, 0]])
    il, tl = np.asarray([4, 6, 3]), np.asarray([3, 2, 1])  # the first is impossible (needs 5)
    # -inf log-probabilities (a class outside the target, a target class): NaN gradients in torch
    lp[1, 1, 4] = -np.inf
    lp[3, 1, 2] = -np.inf
    out.append(
        Case(
            "normalized-impossible-neg-inf-none", (lp, tg, il, tl), {"reduction": "none"}, grad=(0,)
        )
    )
    # torch's leaf gradient does not assume normalized inputs: exp(x) - occupancy all the same;
    # zero_infinity zeroes the impossible sequence, -inf entries included
    x = np.asarray(x)
    x[0, 0, 1] = -np.inf
    x[2, 2, 0] = -np.inf
    out.append(
        Case(
            "unnormalized-neg-inf-zero_infinity-mean",
            (x, tg, il, tl),
            {"zero_infinity": True},
            grad=(0,),
        )
    )
    return list(with_dtypes(out, ("float64",))) + list(with_dtypes(out[1:], ("float32",)))


register(
    Component(
        name="functional.ctc_loss",
        family="losses",
        jax_fn=_jax_through_log_softmax,
        torch_fn=_torch_through_log_softmax,
        cases=_cases,
    )
)
register(
    Component(
        name="functional.ctc_loss[log_probs]",
        family="losses",
        jax_fn=ctc_loss,
        torch_fn=lambda torch: torch.nn.functional.ctc_loss,
        cases=_leaf_cases,
    )
)
