"""Connectionist Temporal Classification: ctc_loss, as ``torch.nn.functional.ctc_loss``.

The forward pass is torch's CPU algorithm (Graves et al. 2006, eqs. 6-8) written as a batched
``lax.scan`` over time in log space on the extended label sequence ``l'`` (blank, l_1, blank, l_2,
..., blank; length ``2S + 1``). The backward pass is a ``jax.custom_vjp`` that runs the beta
recursion (eqs. 10-11) and returns torch's gradient (eq. 16) with torch's special cases; see the
warning in :func:`ctc_loss`.
"""

from __future__ import annotations

import operator
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.typing import ArrayLike

from .. import _checks as C
from . import _reduction as R

_NEG = -jnp.inf
# The scans are not unrolled. Measured (T=200, C=30, S=50, 2-core CPU, forward + gradient): B=32
# 8.9 ms / B=1 0.56 ms as written; unroll=2 32 / 1.4 ms, unroll=8 104 / 4 ms (XLA CPU compiles the
# unrolled body into many small kernels instead of one fused step).


# ---- the recursions ---------------------------------------------------------------------------


def _lse3(a: jax.Array, b: jax.Array, c: jax.Array) -> jax.Array:
    """log(e^a + e^b + e^c) exactly as torch's CPU kernel writes it (max 0 when all are -inf)."""
    m = jnp.maximum(jnp.maximum(a, b), c)
    m = jnp.where(m == _NEG, jnp.zeros((), m.dtype), m)
    return jnp.log(jnp.exp(a - m) + jnp.exp(b - m) + jnp.exp(c - m)) + m


def _shift(x: jax.Array, k: int, fill=_NEG) -> jax.Array:
    """``x[:, s - k]`` along the state axis (``k`` > 0: from the left, < 0: from the right), ``fill`` outside."""
    n, L = x.shape
    pad = jnp.full((n, abs(k)), fill, x.dtype)
    if k > 0:
        return jnp.concatenate([pad, x], axis=1)[:, :L]
    return jnp.concatenate([x, pad], axis=1)[:, abs(k) :]


def _extended(labels: jax.Array, blank: int) -> tuple[jax.Array, jax.Array]:
    """The extended labels (N, 2S+1) and where the skip s-2 -> s is allowed (l'_s != l'_{s-2})."""
    n, S = labels.shape
    blanks = jnp.full((n, S + 1), blank, jnp.int32)
    ext = jnp.stack([blanks[:, :S], labels.astype(jnp.int32)], axis=2).reshape(n, 2 * S)
    ext = jnp.concatenate([ext, blanks[:, S:]], axis=1)
    # false for blank states (equal to their s-2 neighbour); s < 2 has no s-2 (-inf there)
    prev2 = jnp.concatenate([jnp.full((n, 2), blank, jnp.int32), ext], axis=1)[:, : 2 * S + 1]
    return ext, ext != prev2


def _alphas(lp_ext: jax.Array, skip: jax.Array, il: jax.Array, tl: jax.Array):
    """log alpha for every frame (T, N, L) and the negative log-likelihood (N,)."""
    T, n, L = lp_ext.shape
    s = jnp.arange(L)[None, :]
    first = ((s == 0) & (il > 0)[:, None]) | ((s == 1) & (tl > 0)[:, None])
    a0 = jnp.where(first, lp_ext[0], _NEG)

    def step(alpha, xs):
        lpt, t = xs
        skip_in = jnp.where(skip, _shift(alpha, 2), _NEG)
        new = _lse3(alpha, _shift(alpha, 1), skip_in) + lpt
        alpha = jnp.where((t < il)[:, None], new, alpha)  # frames past input_length are ignored
        return alpha, alpha

    last, rest = lax.scan(step, a0, (lp_ext[1:], jnp.arange(1, T)))
    alphas = jnp.concatenate([a0[None], rest], axis=0)
    # eq. (8): the last blank and the last label; an empty target has only the blank
    l1 = jnp.max(jnp.where(s == 2 * tl[:, None], last, _NEG), axis=1)
    l2 = jnp.max(jnp.where((s == 2 * tl[:, None] - 1) & (tl > 0)[:, None], last, _NEG), axis=1)
    m = jnp.maximum(l1, l2)
    m = jnp.where(m == _NEG, jnp.zeros((), m.dtype), m)
    ll = jnp.log(jnp.exp(l1 - m) + jnp.exp(l2 - m)) + m
    # no frames: likelihood 1 for the empty target, 0 otherwise (torch's -0.0 / inf)
    ll = jnp.where(il == 0, jnp.where(tl == 0, jnp.zeros((), ll.dtype), _NEG), ll)
    return alphas, -ll


def _betas(lp_ext: jax.Array, skip: jax.Array, il: jax.Array, tl: jax.Array) -> jax.Array:
    """log beta for every frame (T, N, L); -inf at frames >= input_length and states > 2 tl."""
    T, n, L = lp_ext.shape
    s = jnp.arange(L)[None, :]
    skip_out = _shift(skip, -2, False)  # s -> s+2 allowed
    last_states = (s == 2 * tl[:, None]) | ((s == 2 * tl[:, None] - 1) & (tl > 0)[:, None])

    def step(beta_next, xs):
        lpt, t = xs
        skip_in = jnp.where(skip_out, _shift(beta_next, -2), _NEG)
        new = _lse3(beta_next, _shift(beta_next, -1), skip_in) + lpt
        init = jnp.where(last_states, lpt, _NEG)
        beta = jnp.where((t == il - 1)[:, None], init, jnp.where((t < il - 1)[:, None], new, _NEG))
        return beta, beta

    _, betas = lax.scan(
        step, jnp.full((n, L), _NEG, lp_ext.dtype), (lp_ext, jnp.arange(T)), reverse=True
    )
    return betas


@partial(jax.custom_vjp, nondiff_argnums=(4,))
def _ctc_nll(lp, ext, skip, lengths, zero_infinity):
    il, tl = lengths
    lp_ext = jnp.take_along_axis(lp, jnp.broadcast_to(ext[None], (lp.shape[0], *ext.shape)), axis=2)
    _, nll = _alphas(lp_ext, skip, il, tl)
    return _zero_inf(nll, zero_infinity)


def _zero_inf(nll, zero_infinity):
    return jnp.where(nll == jnp.inf, jnp.zeros((), nll.dtype), nll) if zero_infinity else nll


def _ctc_nll_fwd(lp, ext, skip, lengths, zero_infinity):
    il, tl = lengths
    lp_ext = jnp.take_along_axis(lp, jnp.broadcast_to(ext[None], (lp.shape[0], *ext.shape)), axis=2)
    alphas, nll = _alphas(lp_ext, skip, il, tl)
    return _zero_inf(nll, zero_infinity), (lp, lp_ext, ext, skip, il, tl, alphas, nll)


def _ctc_nll_bwd(zero_infinity, res, g):
    lp, lp_ext, ext, skip, il, tl, alphas, nll = res
    T, n, num_classes = lp.shape
    L = ext.shape[1]
    betas = _betas(lp_ext, skip, il, tl)
    # eq. (16): the occupancy of state s at t is alpha * beta / (y * p), summed per class
    occ = jnp.exp(alphas + betas + nll[None, :, None] - lp_ext)
    flat = (jnp.arange(n, dtype=jnp.int32)[:, None] * num_classes + ext).reshape(n * L)
    occ_c = (
        jnp.zeros((T, n * num_classes), lp.dtype)
        .at[:, flat]
        .add(occ.reshape(T, n * L), mode="promise_in_bounds")
        .reshape(T, n, num_classes)
    )
    grad = (jnp.exp(lp) - occ_c) * g[None, :, None]
    inf = (nll == jnp.inf)[None, :, None]
    nan = jnp.full((), jnp.nan, grad.dtype)
    if zero_infinity:
        grad = jnp.where(inf, jnp.zeros((), grad.dtype), grad)
        # torch: exp(-inf + nll - (-inf)) -> NaN wherever a log-probability is -inf
        grad = jnp.where((lp == _NEG) & ~inf, nan, grad)
    else:  # ... and on every frame of an impossible alignment (-inf + inf)
        grad = jnp.where(inf | (lp == _NEG), nan, grad)
    frames = (jnp.arange(T)[:, None] < il[None, :])[:, :, None]
    grad = jnp.where(frames, grad, jnp.zeros((), grad.dtype))
    return grad, None, None, (None, None)


_ctc_nll.defvjp(_ctc_nll_fwd, _ctc_nll_bwd)


# ---- the jitted core ----------------------------------------------------------------------------


def _unconcat(targets: jax.Array, tl: jax.Array, width: int, blank: int) -> jax.Array:
    """Concatenated targets (sum(tl),) -> padded (N, width); positions past a length hold blank."""
    total = targets.shape[0]
    n = tl.shape[0]
    if total == 0 or width == 0:
        return jnp.full((n, width), blank, targets.dtype)
    offsets = jnp.cumsum(tl) - tl
    idx = offsets[:, None] + jnp.arange(width)[None, :]
    return targets[jnp.clip(idx, 0, total - 1)]


@partial(jax.jit, static_argnames=("blank", "reduction", "zero_infinity", "width", "batched"))
def _ctc_core(lp, targets, il, tl, *, blank, reduction, zero_infinity, width, batched):
    T, n, num_classes = lp.shape
    if targets.ndim == 1:
        labels = _unconcat(targets, tl, width, blank)
        lengths_ok = jnp.sum(tl) == targets.shape[0]
    else:
        labels, lengths_ok = targets, jnp.asarray(True)
    S = labels.shape[1]
    inside = jnp.arange(S)[None, :] < tl[:, None]
    good = (labels >= 0) & (labels < num_classes) & (labels != blank)
    # What the eager checks refuse gives NaN under a plain jit (see ctc_loss's docstring).
    ok = (
        jnp.all(good | ~inside, axis=1) & (il >= 0) & (il <= T) & (tl >= 0) & (tl <= S) & lengths_ok
    )
    labels = jnp.where(inside & good, labels, blank).astype(jnp.int32)
    il32 = jnp.clip(il, 0, T).astype(jnp.int32)
    tl32 = jnp.clip(tl, 0, S).astype(jnp.int32)
    ext, skip = _extended(labels, blank)
    nll = _ctc_nll(lp, ext, skip, (il32, tl32), zero_infinity)
    nll = jnp.where(ok, nll, jnp.full((), jnp.nan, nll.dtype))
    if reduction == "mean":
        # torch: each sequence's loss over its target length (at least 1), then the batch mean
        return R.reduce(nll / jnp.maximum(tl, 1).astype(nll.dtype), "mean")
    out = R.reduce(nll, reduction)
    return out if batched or reduction != "none" else out[0]


# ---- the public function ------------------------------------------------------------------------


def _lengths(fn: str, name: str, x, n: int) -> jax.Array:
    if x is None:
        raise TypeError(f"{fn}: {name} must be an integer array or a sequence of ints, got None")
    try:
        arr = jnp.asarray(x)
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"{fn}: {name} must be an integer array or a sequence of ints, got {type(x).__name__}"
        ) from e
    if not jnp.issubdtype(arr.dtype, jnp.integer):
        raise TypeError(f"{fn}: {name} must be integral, got dtype {arr.dtype}")
    if arr.size != n:
        raise ValueError(
            f"{fn}: {name} must have one entry per sequence (batch size {n}), got shape {tuple(arr.shape)}"
        )
    return arr.reshape(n)


def _got(x, unknown: str = "an out-of-range value") -> str:
    return str(np.asarray(x).tolist()) if C.is_concrete(x) else unknown


def _check_values(fn, tg, il, tl, T, num_classes, blank) -> int:
    """torch's value checks (ctc_loss_allocate_outputs), then the target values; returns the padded width."""
    C.check_values(fn, lambda: tl >= 0, f"target_lengths must be >= 0, got {_got(tl)}", tl)
    if tg.ndim == 1:
        C.check_values(
            fn,
            lambda: jnp.sum(tl) == tg.shape[0],
            f"concatenated targets must have sum(target_lengths) = {_got(jnp.sum(tl), 'sum(target_lengths)')} elements, "
            f"got {tg.shape[0]}",
            tl,
        )
    else:
        C.check_values(
            fn,
            lambda: tl <= tg.shape[1],
            f"target_lengths must be <= {tg.shape[1]} (the padded length of targets), got {_got(tl)}",
            tl,
        )
    C.check_values(fn, lambda: il >= 0, f"input_lengths must be >= 0, got {_got(il)}", il)
    C.check_values(
        fn,
        lambda: il <= T,
        f"input_lengths must be <= {T} (the frames of log_probs), got {_got(il)}",
        il,
    )

    if tg.ndim == 1:
        # the padded width: the longest target when the lengths are known, else an upper bound
        width = int(np.max(np.asarray(tl))) if C.is_concrete(tl) else tg.shape[0]
        width = max(width, 0)
    else:
        width = tg.shape[1]

    def bad_targets():
        labels = _unconcat(tg, tl, width, blank) if tg.ndim == 1 else tg
        inside = jnp.arange(labels.shape[1])[None, :] < tl[:, None]
        return labels, inside & ((labels < 0) | (labels >= num_classes) | (labels == blank))

    got = "an invalid index"
    if C.is_concrete(tg, tl):
        labels, bad = (np.asarray(a) for a in bad_targets())
        got = str(np.unique(labels[bad]).tolist())
    C.check_values(
        fn,
        lambda: ~jnp.any(bad_targets()[1]),
        f"targets must be class indices in [0, {num_classes}) other than blank={blank}, got {got}",
        tg,
        tl,
    )

    return width


def _prepare(fn, log_probs, targets, input_lengths, target_lengths, blank, zero_infinity):
    """Eager validation: arrays, ranks, dtypes, options, then the value checks."""
    lp = C.float_array(fn, "log_probs", log_probs)
    C.ndim_in(fn, "log_probs", lp, (2, 3), "2- (T, C) or 3 (T, N, C)")
    batched = lp.ndim == 3
    if not batched:
        lp = lp[:, None, :]
    T, n, num_classes = lp.shape
    if lp.size == 0:
        raise ValueError(
            f"{fn}: log_probs must not be empty, got shape {tuple(jnp.shape(log_probs))}"
        )
    try:
        blank = operator.index(blank)
    except TypeError:
        raise TypeError(f"{fn}: blank must be an int, got {type(blank).__name__}") from None
    if not 0 <= blank < num_classes:
        raise ValueError(
            f"{fn}: blank must be in [0, {num_classes}) (the label range), got {blank}"
        )
    if not isinstance(zero_infinity, (bool, np.bool_)):
        raise TypeError(f"{fn}: zero_infinity must be a bool, got {type(zero_infinity).__name__}")
    tg = C.any_array(fn, "targets", targets)
    if tg.size == 0 and not jnp.issubdtype(tg.dtype, jnp.integer):
        tg = tg.astype(jnp.int32)  # torch: "may be an empty tensor" (of any dtype)
    tg = C.int_array(fn, "targets", tg)
    C.ndim_in(fn, "targets", tg, (1, 2), "1- (concatenated) or 2 (N, S)")
    il = _lengths(fn, "input_lengths", input_lengths, n)
    tl = _lengths(fn, "target_lengths", target_lengths, n)
    if tg.ndim == 2 and tg.shape[0] != n:
        raise ValueError(
            f"{fn}: padded targets must have shape (N, S) with N = {n} (the batch of log_probs), "
            f"got shape {tuple(tg.shape)}"
        )
    width = _check_values(fn, tg, il, tl, T, num_classes, blank)
    return lp, tg, il, tl, blank, width, batched


def ctc_loss(
    log_probs: ArrayLike,
    targets: ArrayLike,
    input_lengths: ArrayLike,
    target_lengths: ArrayLike,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> jax.Array:
    r"""Connectionist Temporal Classification loss, as ``torch.nn.functional.ctc_loss``.

    .. math::
        \ell_n = -\log \sum_{\pi \in \mathcal{B}^{-1}(y_n)} \prod_{t=1}^{T_n} p_t(\pi_t),
        \qquad \log p_t = \text{log\_probs}[t, n]

    summed over every alignment :math:`\pi` of length :math:`T_n` = ``input_lengths[n]`` that
    collapses (merge repeats, drop blanks) to the target :math:`y_n` =
    ``targets[n, :target_lengths[n]]``; frames past :math:`T_n` are ignored. A target that no
    alignment can produce (too few frames for its labels and the blanks between repeated labels)
    gives :math:`\ell_n = +\infty`, or 0 with ``zero_infinity=True``.

    ``'mean'`` is :math:`\frac1N \sum_n \ell_n / \max(\text{target\_lengths}[n], 1)`;
    ``'sum'`` is :math:`\sum_n \ell_n`; ``'none'`` returns :math:`(\ell_n)`.

    Args:
        log_probs: log-probabilities of the classes per frame (e.g. ``jax.nn.log_softmax``).
        targets: class indices (not ``blank``), padded ``(N, S)``, or the ``N`` targets
            concatenated into one ``(sum(target_lengths),)`` array.
        input_lengths: frames used per sequence, each ``<= T``: an integer array or a
            sequence of ints.
        target_lengths: labels per sequence; ``<= S`` for padded targets, summing to
            ``len(targets)`` for concatenated ones.
        blank: the blank label, in ``[0, C)``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        zero_infinity: replace infinite losses (impossible alignments) and their gradients by 0.

    Shape: ``log_probs`` (T, N, C) or unbatched (T, C); ``targets`` (N, S) or
    (sum(target_lengths),), unbatched (S,) with S = ``target_lengths`` or (1, S);
    ``input_lengths`` / ``target_lengths`` (N,) or, unbatched, () or (1,); output scalar, or
    (N,) (unbatched ()) for ``'none'``.

    Bad values (a negative length, ``input_lengths > T``, ``target_lengths > S``, concatenated
    lengths not summing to ``len(targets)``, a target outside ``[0, C)`` or equal to ``blank``)
    raise ``ValueError`` on concrete inputs and under :func:`jloss.checked`; under a plain
    ``jit`` / ``vmap`` the loss of each such sequence (of all, for a concatenated length
    mismatch) is NaN. (torch on CPU does not check target values: out-of-range ones read out of
    bounds, ``blank`` ones are silently used as labels.) bfloat16 / float16 inputs are computed
    in float32 and cast back (torch has no CPU kernel for them).

    .. warning::
        The gradient is torch's, which is **not** the derivative of the loss w.r.t. a free
        ``log_probs``: it is :math:`\exp(\log p_t(k)) - \gamma_t(k)` (``exp(log_probs)`` minus
        the occupancy of class k at frame t), i.e. the gradient w.r.t. logits as if
        ``log_softmax`` were inside. Through ``log_softmax(logits)`` it is the true gradient
        w.r.t. the logits. Frames past ``input_lengths`` get 0; an impossible alignment gets NaN
        on its used frames (0 with ``zero_infinity``), and so does an entry of ``log_probs``
        equal to ``-inf``. As in torch, only reverse mode is defined (``jax.grad``,
        ``jax.vjp``), not ``jax.jvp``.
    """
    fn = "ctc_loss"
    reduction = R.resolve(fn, None, None, reduction)
    # under ensure_compile_time_eval, concrete arrays closed over by a jit trace (numpy ones
    # included) stay concrete, so their values are still checked
    with jax.ensure_compile_time_eval():
        lp, tg, il, tl, blank, width, batched = _prepare(
            fn, log_probs, targets, input_lengths, target_lengths, blank, zero_infinity
        )

    cdt = C.compute_dtype(lp)
    out = _ctc_core(
        lp.astype(cdt),
        tg,
        il,
        tl,
        blank=blank,
        reduction=reduction,
        zero_infinity=bool(zero_infinity),
        width=width,
        batched=batched,
    )
    return out.astype(lp.dtype)
