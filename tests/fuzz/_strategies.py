"""Shared pieces of the differential fuzz suite: the budget switch, case counting, strategies and
the comparison against torch.

The comparison is the parity harness's (:func:`jloss.parity._harness.run_case`, its dtype handling
and :func:`rel_error`); this module adds what fuzzing needs around it:

* float64 / float32 cases go through ``run_case`` unchanged (torch raises => jloss raises, values
  and vector-Jacobian products within SPEC.md's tolerance), and where torch raises, the checked
  path ``jloss.checked(fn)`` (values traced, checkify) must raise too;
* bfloat16 / float16 cases are compared with the dtype's loose tolerance against torch evaluated in
  float32 on the same (rounded) inputs -- or against torch's own low-precision result, which forms
  some terms in the low dtype -- and must be finite wherever torch's own low-precision result is
  finite (SPEC.md: "accumulate in float32 as torch does on CPU").

Inputs are generated with numpy from a seed that hypothesis draws; every structural choice (shape,
dtype, option, edge-value kind) is a hypothesis draw, so failures shrink to small cases.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import os
import warnings
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import jloss
from jloss.parity._harness import (
    TOLERANCES,
    Case,
    _cotangents,
    _flatten_out,
    _to_jax,
    _to_torch,
    array_fn,
    rel_error,
    run_case,
)

# ---- the budget ---------------------------------------------------------------------------------

#: the long campaign (``JLOSS_FUZZ_LONG=1`` or ``pytest --fuzz-long``, which sets the variable).
LONG = os.environ.get("JLOSS_FUZZ_LONG", "") not in ("", "0")
#: optional: a seed for a fresh (non-derandomized) campaign.
SEED = os.environ.get("JLOSS_FUZZ_SEED")
#: optional: multiplies every test's long budget (``JLOSS_FUZZ_SCALE=0.1`` for a quick long run).
SCALE = float(os.environ.get("JLOSS_FUZZ_SCALE", "1"))


def fuzz(default: int, long: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Hypothesis settings: ``default`` examples in the normal run (derandomized: the same cases
    every run), ``long`` in the long campaign."""
    n = max(1, round(long * SCALE)) if LONG else default
    s = settings(
        max_examples=n,
        derandomize=SEED is None,
        deadline=None,
        database=None,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
    )

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn = s(fn)
        if SEED is not None:
            from hypothesis import seed  # noqa: PLC0415

            fn = seed(int(SEED))(fn)
        return fn

    return deco


# ---- counting -----------------------------------------------------------------------------------

#: COUNTS[component][outcome]: "match" (same value and gradient), "both-raise", "deliberate" (a
#: documented difference, checked), "mismatch".
COUNTS: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)


def record(component: str, outcome: str) -> None:
    COUNTS[component][outcome] += 1


# ---- strategies ---------------------------------------------------------------------------------

REDUCTIONS = st.sampled_from(["none", "mean", "sum"])
#: eager most often, sometimes under ``jax.jit``
JIT = st.sampled_from([False, False, False, True])
#: float64 most often (the tight tolerance), then float32; bf16 / f16 sometimes.
DTYPES = st.sampled_from(["float64", "float64", "float32", "float32", "bfloat16", "float16"])
DIM = st.sampled_from([1, 2, 3, 2, 3, 0, 4])  # small: XLA compile caches hit across examples
SEEDS = st.integers(0, 2**32 - 1)
#: how values are drawn: ordinary, large, tiny, all zero, or ordinary with inf / nan entries.
VALUE_KINDS = st.sampled_from(["normal", "normal", "normal", "large", "tiny", "zeros", "nonfinite"])


@st.composite
def shapes(draw: Any, min_rank: int = 0, max_rank: int = 4, dim: Any = DIM) -> tuple[int, ...]:
    rank = draw(st.integers(min_rank, max_rank))
    return tuple(draw(dim) for _ in range(rank))


def values(r: np.random.Generator, shape: tuple[int, ...], kind: str = "normal", scale: float = 1.0) -> np.ndarray:
    """Float64 numpy values of ``shape`` of the given kind."""
    x = r.standard_normal(shape) * scale
    if kind == "large":
        x = x * 1e4
    elif kind == "tiny":
        x = x * 1e-6
    elif kind == "zeros":
        x = np.zeros(shape)
    elif kind == "nonfinite" and x.size:
        flat = x.reshape(-1)
        k = max(1, flat.size // 4)
        idx = r.choice(flat.size, size=k, replace=False)
        flat[idx] = r.choice([np.inf, -np.inf, np.nan], size=k)
        x = flat.reshape(shape)
    return np.asarray(x, np.float64)


def probs(r: np.random.Generator, shape: tuple[int, ...], axis: int, hard: bool = False) -> np.ndarray:
    """Probability vectors along ``axis`` (with exact zeros, and ones, when ``hard``)."""
    if not all(shape):
        return np.zeros(shape)
    axis = axis % len(shape)
    e = np.exp(r.standard_normal(shape) * 2)
    if hard:
        e = np.where(r.random(shape) < 0.6, 0.0, e)
        first = (slice(None),) * axis + (0,)
        e[first] = np.where(e.sum(axis=axis) == 0, 1.0, e[first])
    return np.asarray(e / e.sum(axis=axis, keepdims=True), np.float64)


def log(p: np.ndarray) -> np.ndarray:
    """``np.log`` with log(0) = -inf and no warning."""
    with np.errstate(divide="ignore"):
        return np.log(p)


# ---- the comparison -------------------------------------------------------------------------------


def describe(case: Case) -> str:
    def d(v: Any) -> str:
        if isinstance(v, np.ndarray):
            return f"array{v.shape}:{v.dtype}"
        return repr(v)

    args = ", ".join(d(a) for a in case.args)
    kw = ", ".join(f"{k}={d(v)}" for k, v in case.kwargs.items())
    return f"{case.name}({args}; {kw}) [{case.dtype}] grad={case.grad}"


def _checked_raises(jfn: Callable[..., Any], case: Case) -> str | None:
    """Run ``jloss.checked(jfn)`` on the case; the error message, or None if it did not raise."""
    j_args = [_to_jax(a, case.dtype) for a in case.args]
    j_kwargs = {k: _to_jax(v, case.dtype) for k, v in case.kwargs.items()}
    try:
        jloss.checked(jfn, jit=False)(*j_args, **j_kwargs)
    except (ValueError, TypeError) as e:
        return str(e)
    return None


def compare(component: str, jfn: Callable[..., Any], tfn: Callable[..., Any], case: Case, *,
            jit: bool = False, deliberate: Callable[[Case], bool] | None = None) -> str:
    """Compare ``jfn`` with ``tfn`` on ``case``; record and return the outcome, or raise AssertionError.

    ``deliberate(case)`` marks cases where a documented difference from torch applies; the caller
    checks those itself (the outcome is then ``"deliberate"`` and nothing is asserted here).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if deliberate is not None and deliberate(case):
            record(component, "deliberate")
            return "deliberate"
        if case.dtype in ("bfloat16", "float16"):
            outcome, msg = _recompare(jfn, tfn, case, jit=jit, low=True)
        else:
            res = run_case(jfn, tfn, case, jit=jit)
            outcome = "both-raise" if res.message == "both raise" else "match"
            msg = "" if res.passed else (f"value err {res.value_err:.3g}, grad err {res.grad_err:.3g} "
                                         f"(tol {res.tol:.1g}) {res.message}")
            if msg and res.value_err <= res.tol and res.grad_err == math.inf:
                # a gradient that is non-finite in torch may differ in kind (inf vs NaN): inf
                # arithmetic depends on the order of the sums (c1 inf + c2 inf). Recheck entrywise.
                outcome, msg2 = _recompare(jfn, tfn, case, jit=jit, low=False)
                if not msg2:
                    outcome, msg = "match-nonfinite-grad", ""
        if not msg and outcome == "both-raise":
            err = _checked_raises(jfn, case)
            if err is None:
                msg = "torch raises, jloss raises eagerly, but jloss.checked(fn) does not"
    if msg:
        record(component, "mismatch")
        raise AssertionError(f"{component}: {describe(case)}: {msg}")
    record(component, outcome)
    return outcome


def _recompare(jfn: Callable[..., Any], tfn: Callable[..., Any], case: Case, *, jit: bool,
               low: bool) -> tuple[str, str]:
    """``(outcome, message)``; an empty message when jloss agrees.

    ``low``: a bf16 / f16 case. torch in float32 on the rounded inputs is the reference (the
    dtype's loose tolerance; or torch's own low-precision value / gradient, where it computes), and
    jloss must be finite wherever torch's own low-precision result is.
    Otherwise (f64 / f32, after ``run_case`` found only a non-finite gradient difference): the
    reference is torch in the case's dtype, values compare as in ``run_case``, and a gradient entry
    that is non-finite in torch must be non-finite (inf or NaN) in jloss; finite ones must agree.
    """
    import torch  # noqa: PLC0415

    dtype = case.dtype
    ref_dtype = "float32" if low else dtype
    rtol = TOLERANCES[dtype][0]
    grad_keys = tuple(case.grad) if case.check_grad else ()

    def rounded(x: Any) -> Any:  # the low-precision input, back in float32
        if low and isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.floating):
            return _to_torch(x, dtype).float().numpy()
        return x

    # torch in its own low precision (finiteness reference; may not be implemented on CPU)
    low_vals = low_dtypes = lo = None
    if low:
        try:
            lo_args = [_to_torch(a, dtype, i in grad_keys) for i, a in enumerate(case.args)]
            lo_kwargs = {k: _to_torch(v, dtype, k in grad_keys) for k, v in case.kwargs.items()}
            lo = _flatten_out(tfn(*lo_args, **lo_kwargs))
            low_vals = [o.detach().to(torch.float64).numpy() for o in lo]
            low_dtypes = [str(o.dtype).replace("torch.", "") for o in lo]
        except Exception:
            lo = None
    # torch in float32 on the rounded inputs (the value / gradient reference)
    f_args = [_to_torch(rounded(a), ref_dtype, i in grad_keys) for i, a in enumerate(case.args)]
    f_kwargs = {k: _to_torch(rounded(v), ref_dtype, k in grad_keys) for k, v in case.kwargs.items()}
    j_args = [_to_jax(a, dtype) for a in case.args]
    j_kwargs = {k: _to_jax(v, dtype) for k, v in case.kwargs.items()}
    try:
        ref = _flatten_out(tfn(*f_args, **f_kwargs))
    except Exception as e:
        try:
            jfn(*j_args, **j_kwargs)
        except (ValueError, TypeError):
            return "both-raise", ""
        return "", f"torch raised {e!r}, jloss did not"
    ref_vals = [o.detach().to(torch.float64).numpy() for o in ref]
    cots = _cotangents(ref_vals)

    f, arrs, kw_arrs, pos = array_fn(jfn, j_args, j_kwargs)
    if jit:
        f = jax.jit(f)
    try:
        outs = _flatten_out(f(arrs, kw_arrs))
    except Exception as e:
        return "", f"jloss raised {e!r}"
    if len(outs) != len(ref):
        return "", "output structure differs"
    cdt = jnp.float64 if ref_dtype == "float64" else jnp.float32
    for i, o in enumerate(outs):
        ov = np.asarray(o.astype(cdt), np.float64)
        if low_dtypes is not None and str(o.dtype) != low_dtypes[i]:
            return "", f"dtype {o.dtype} != torch {low_dtypes[i]}"
        if low_vals is not None:
            lv = low_vals[i]
            if lv.shape != ov.shape or np.any(np.isfinite(lv) & ~np.isfinite(ov)):
                return "", "not finite where torch's low-precision result is finite"
        if not low:
            e = rel_error(ov, ref_vals[i], dtype)
            if e > rtol:
                return "", f"value err {e:.3g} > {rtol:g}"
            continue
        # the reference rounded to the output dtype, where it is finite in that dtype
        rv = np.asarray(jnp.asarray(ref_vals[i], jnp.float32).astype(o.dtype).astype(jnp.float32), np.float64)
        keep = np.isfinite(rv) if rv.shape == ov.shape else None
        if keep is None:
            return "", f"shape {ov.shape} != torch {rv.shape}"
        e = rel_error(np.where(keep, ov, 0.0), np.where(keep, rv, 0.0), dtype)
        if e > rtol and low_vals is not None and low_vals[i].shape == ov.shape:
            # or torch's own low-precision result (it forms some terms in the low dtype)
            lv = low_vals[i]
            keep2 = np.isfinite(lv)
            e = min(e, rel_error(np.where(keep2, ov, 0.0), np.where(keep2, lv, 0.0), dtype))
        if e > rtol:
            return "", f"value err {e:.3g} > {rtol:g}"
    if not grad_keys:
        return "match", ""
    diff = [(o, c) for o, c in zip(ref, cots, strict=True) if o.requires_grad]
    inputs = [f_args[k] if isinstance(k, int) else f_kwargs[k] for k in grad_keys]
    if diff:
        tg = torch.autograd.grad([o for o, _ in diff], inputs,
                                 grad_outputs=[torch.as_tensor(c, dtype=o.dtype) for o, c in diff],
                                 allow_unused=True)
        t_grads = [np.zeros(tuple(i.shape)) if g is None else g.detach().to(torch.float64).numpy()
                   for g, i in zip(tg, inputs, strict=True)]
    else:
        t_grads = [np.zeros(tuple(i.shape)) for i in inputs]

    def scalar(arrs: list[Any], kw: dict[str, Any]) -> Any:
        total = jnp.zeros((), cdt)
        for o, c, r in zip(_flatten_out(f(arrs, kw)), cots, ref, strict=True):
            if r.requires_grad:
                total = total + jnp.sum(o.astype(cdt) * jnp.asarray(c, cdt))
        return total

    try:
        g_arrs, g_kw = jax.grad(scalar, argnums=(0, 1), allow_int=True)(arrs, kw_arrs)
    except Exception as e:
        return "", f"jloss grad raised {e!r}"
    low_grads: list[Any] = [None] * len(grad_keys)
    if lo is not None:
        try:
            lo_in = [lo_args[k] if isinstance(k, int) else lo_kwargs[k] for k in grad_keys]
            lo_diff = [(o, c) for o, c in zip(lo, cots, strict=True) if o.requires_grad]
            if lo_diff:
                lg = torch.autograd.grad([o for o, _ in lo_diff], lo_in, allow_unused=True,
                                         grad_outputs=[torch.as_tensor(c, dtype=o.dtype) for o, c in lo_diff])
                low_grads = [None if g is None else g.detach().to(torch.float64).numpy() for g in lg]
        except Exception:
            pass
    for k, tgr, lgr in zip(grad_keys, t_grads, low_grads, strict=True):
        jg = g_arrs[pos.index(k)] if isinstance(k, int) else g_kw[k]
        jv = np.asarray(jnp.asarray(jg).astype(cdt), np.float64)
        rv = np.asarray(jnp.asarray(tgr, jnp.float32).astype(dtype).astype(jnp.float32), np.float64) if low else tgr
        keep = np.isfinite(rv)
        if np.any(keep & ~np.isfinite(jv)):
            return "", f"gradient {k!r} not finite where torch's is"
        if not low and np.any(~keep & np.isfinite(jv)):
            return "", f"gradient {k!r} finite where torch's is not"
        e = rel_error(np.where(keep, jv, 0.0), np.where(keep, rv, 0.0), dtype)
        if e > rtol and lgr is not None and lgr.shape == jv.shape:
            keep2 = np.isfinite(lgr)
            e = min(e, rel_error(np.where(keep2, jv, 0.0), np.where(keep2, lgr, 0.0), dtype))
        if e > rtol:
            return "", f"gradient {k!r} err {e:.3g} > {rtol:g}"
    return "match", ""


@dataclasses.dataclass
class Drawn:
    """What a loss strategy draws: the case, and whether to run jloss under ``jax.jit``."""

    case: Case
    jit: bool = False


def finite(x: Any) -> bool:
    return bool(np.all(np.isfinite(np.asarray(x, np.float64))))


def close(a: Any, b: Any, dtype: str = "float64") -> bool:
    return rel_error(a, b, dtype) <= TOLERANCES[dtype][0]


__all__ = [
    "COUNTS", "DIM", "DTYPES", "Drawn", "JIT", "LONG", "REDUCTIONS", "SEEDS", "VALUE_KINDS", "close", "compare",
    "describe", "finite", "fuzz", "log", "math", "probs", "record", "shapes", "values",
]
