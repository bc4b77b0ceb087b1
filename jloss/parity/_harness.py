"""Run a jloss callable and its torch counterpart on the same cases; compare values and gradients.

torch is imported lazily, inside :func:`compare`, never at import time of jloss.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

# Tolerances of SPEC.md: (relative, absolute-near-zero) per dtype.
TOLERANCES: dict[str, tuple[float, float]] = {
    "float64": (1e-10, 1e-12),
    "float32": (1e-5, 1e-6),
    "bfloat16": (3e-2, 3e-2),
    "float16": (5e-3, 5e-3),
}


@dataclasses.dataclass(frozen=True)
class Pair:
    """An argument that differs between the frameworks (a callable, a module, ...)."""

    jax: Any
    torch: Any


@dataclasses.dataclass(frozen=True)
class Case:
    """One call: positional ``args`` and ``kwargs`` given as numpy arrays or plain values.

    Floating numpy arrays are cast to ``dtype`` for both frameworks; integer and bool arrays keep
    their kind (torch gets int64 / bool). ``grad`` lists the positions (ints) or keyword names of the
    arguments whose gradients are compared. ``tol`` overrides the relative tolerance.
    """

    name: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    grad: tuple[int | str, ...] = ()
    dtype: str = "float64"
    tol: float | None = None
    check_grad: bool = True


@dataclasses.dataclass
class CaseResult:
    name: str
    dtype: str
    value_err: float
    grad_err: float
    tol: float
    passed: bool
    message: str = ""

    @property
    def err(self) -> float:
        return max(self.value_err, self.grad_err)


@dataclasses.dataclass
class Report:
    """The outcome of :func:`compare`: one :class:`CaseResult` per case."""

    name: str
    results: list[CaseResult]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def worst(self, dtype: str) -> float | None:
        errs = [r.err for r in self.results if r.dtype == dtype]
        return max(errs) if errs else None

    def failures(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]

    def __str__(self) -> str:
        lines = [f"{self.name}: {len(self.results)} cases, {'ok' if self.passed else 'MISMATCH'}"]
        for r in self.failures():
            lines.append(
                f"  {r.name} [{r.dtype}] value {r.value_err:.3g} grad {r.grad_err:.3g} "
                f"tol {r.tol:.1g} {r.message}"
            )
        return "\n".join(lines)


def rel_error(a: Any, b: Any, dtype: str = "float64") -> float:
    """Max element-wise relative error of ``a`` against the reference ``b``.

    ``|a - b| / max(|b|, (atol / rtol) * max(1, max|b|))``: relative for entries of ordinary size,
    absolute (at ``atol`` on the array's scale) for entries near zero. Matching non-finite entries
    (same inf, both NaN) count as equal; any other non-finite difference is ``inf``.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return math.inf
    if a.size == 0:
        return 0.0
    rtol, atol = TOLERANCES.get(dtype, TOLERANCES["float64"])
    same_nonfinite = (np.isnan(a) & np.isnan(b)) | ((a == b) & ~np.isfinite(b))
    finite = np.isfinite(a) & np.isfinite(b)
    if not np.all(same_nonfinite | finite):
        return math.inf
    if not finite.any():
        return 0.0
    af, bf = a[finite], b[finite]
    scale = max(1.0, float(np.max(np.abs(bf))))
    denom = np.maximum(np.abs(bf), (atol / rtol) * scale)
    return float(np.max(np.abs(af - bf) / denom))


def _torch():
    import torch  # noqa: PLC0415  (lazy: torch is a test/parity dependency only)

    return torch


_TORCH_DTYPES = {"float64": "float64", "float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}


def _to_jax(x: Any, dtype: str) -> Any:
    if isinstance(x, np.generic):
        x = np.asarray(x)
    if isinstance(x, Pair):
        return x.jax
    if isinstance(x, np.ndarray):
        if np.issubdtype(x.dtype, np.floating):
            return jnp.asarray(x.astype(np.float32 if dtype in ("bfloat16", "float16") else dtype)).astype(
                dtype
            )
        return jnp.asarray(x)
    return x


def _to_torch(x: Any, dtype: str, requires_grad: bool = False) -> Any:
    torch = _torch()
    if isinstance(x, np.generic):
        x = np.asarray(x)
    if isinstance(x, Pair):
        return x.torch
    if isinstance(x, np.ndarray):
        if np.issubdtype(x.dtype, np.floating):
            base = x.astype(np.float32 if dtype in ("bfloat16", "float16") else dtype)
            t = torch.from_numpy(np.array(base, copy=True, order="C")).to(getattr(torch, _TORCH_DTYPES[dtype]))
            if requires_grad:
                t.requires_grad_(True)
            return t
        if x.dtype == np.bool_:
            return torch.from_numpy(np.array(x, copy=True, order="C"))
        return torch.from_numpy(np.array(x.astype(np.int64), copy=True, order="C"))
    return x


def _flatten_out(out: Any) -> list[Any]:
    if isinstance(out, (tuple, list)):
        return [o for item in out for o in _flatten_out(item)]
    return [out]


def _cotangents(outs: Sequence[np.ndarray], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(np.shape(o)) if np.ndim(o) else np.array(1.0) for o in outs]


def run_case(
    jax_fn: Callable[..., Any],
    torch_fn: Callable[..., Any],
    case: Case,
    *,
    jit: bool = True,
) -> CaseResult:
    """Run one case in both frameworks and measure the value and gradient errors.

    Warnings (torch's and jloss's legacy-argument deprecations, say) are silenced here: the parity
    harness compares numbers; warnings have their own tests.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _run_case(jax_fn, torch_fn, case, jit=jit)


def array_fn(jax_fn: Callable[..., Any], j_args: Sequence[Any],
             j_kwargs: dict[str, Any]) -> tuple[Callable[..., Any], list[Any], dict[str, Any], list[int]]:
    """``jax_fn`` as a function of its array arguments only: ``f(arrs, kw_arrs)`` over the positional
    and keyword arrays of ``j_args`` / ``j_kwargs`` (the rest held fixed: options stay static), with
    those arrays and the positions of the positional ones (``arrs[k]`` is ``j_args[pos[k]]``)."""
    pos = [i for i, a in enumerate(j_args) if isinstance(a, jax.Array)]
    kws = [k for k, v in j_kwargs.items() if isinstance(v, jax.Array)]

    def f(arrs: list[Any], kw_arrs: dict[str, Any]) -> Any:
        args = list(j_args)
        for i, a in zip(pos, arrs, strict=True):
            args[i] = a
        return jax_fn(*args, **{**j_kwargs, **kw_arrs})

    return f, [j_args[i] for i in pos], {k: j_kwargs[k] for k in kws}, pos


def _run_case(jax_fn: Callable[..., Any], torch_fn: Callable[..., Any], case: Case, *, jit: bool) -> CaseResult:
    torch = _torch()
    dtype = case.dtype
    rtol = case.tol if case.tol is not None else TOLERANCES[dtype][0]
    grad_keys = tuple(case.grad) if case.check_grad else ()

    # ---- torch (the reference) -------------------------------------------------------------
    t_args = [_to_torch(a, dtype, i in grad_keys) for i, a in enumerate(case.args)]
    t_kwargs = {k: _to_torch(v, dtype, k in grad_keys) for k, v in case.kwargs.items()}
    try:
        t_out = torch_fn(*t_args, **t_kwargs)
    except Exception as e:  # torch refuses: jloss must refuse too
        try:
            jax_fn(*[_to_jax(a, dtype) for a in case.args], **{k: _to_jax(v, dtype) for k, v in case.kwargs.items()})
        except (ValueError, TypeError):
            return CaseResult(case.name, dtype, 0.0, 0.0, rtol, True, "both raise")
        return CaseResult(case.name, dtype, math.inf, math.inf, rtol, False, f"torch raised {e!r}, jloss did not")
    t_outs = _flatten_out(t_out)
    t_vals = [o.detach().to(torch.float64).numpy() for o in t_outs]
    cots = _cotangents(t_vals)
    t_grads: list[np.ndarray] = []
    if grad_keys:
        inputs = [t_args[k] if isinstance(k, int) else t_kwargs[k] for k in grad_keys]
        diff_outs = [(o, c) for o, c in zip(t_outs, cots, strict=True) if o.requires_grad]
        if diff_outs:
            gs = torch.autograd.grad(
                [o for o, _ in diff_outs],
                inputs,
                grad_outputs=[torch.as_tensor(c, dtype=o.dtype) for o, c in diff_outs],
                allow_unused=True,
            )
            t_grads = [
                np.zeros(tuple(i.shape)) if g is None else g.detach().to(torch.float64).numpy()
                for g, i in zip(gs, inputs, strict=True)
            ]
        else:
            t_grads = [np.zeros(tuple(i.shape)) for i in inputs]

    # ---- jloss ---------------------------------------------------------------------------
    j_args = [_to_jax(a, dtype) for a in case.args]
    j_kwargs = {k: _to_jax(v, dtype) for k, v in case.kwargs.items()}
    f, arrs, kw_arrs, array_pos = array_fn(jax_fn, j_args, j_kwargs)
    if jit:
        # a jitted function, as users call it (the gradient is that of the jitted function); traced
        # inside ``both`` below, it becomes part of one XLA program, not a compilation of its own
        f = jax.jit(f)
    fdt = None if dtype == "float64" else jnp.float32  # the cotangent contraction's precision

    def scalar(arrs: list[Any], kw_arrs: dict[str, Any]) -> Any:
        outs = _flatten_out(f(arrs, kw_arrs))
        total = 0.0
        for o, c, to in zip(outs, cots, t_outs, strict=True):
            if not to.requires_grad:
                continue
            total = total + jnp.sum(o.astype(fdt or o.dtype) * jnp.asarray(c, dtype=fdt or o.dtype))
        return total

    def grads(arrs: list[Any], kw_arrs: dict[str, Any]) -> Any:
        return jax.grad(scalar, argnums=(0, 1), allow_int=True)(arrs, kw_arrs)

    def both(arrs: list[Any], kw_arrs: dict[str, Any]) -> Any:
        return f(arrs, kw_arrs), (grads(arrs, kw_arrs) if grad_keys else None)

    # One program per case: the values and the gradients are traced and compiled together (one XLA
    # compilation, not one per output and per transformation: the suite's cost is compile time).
    # When it fails, the value and the gradient run apart, to say which of the two raised.
    try:
        j_out, j_g = (jax.jit(both) if jit else both)(arrs, kw_arrs)
    except Exception:
        try:
            j_out = f(arrs, kw_arrs)
        except Exception as e:
            return CaseResult(case.name, dtype, math.inf, math.inf, rtol, False, f"jloss raised {e!r}")
        j_g = None
    j_outs = _flatten_out(j_out)
    msg = ""
    if len(j_outs) != len(t_outs):
        return CaseResult(case.name, dtype, math.inf, math.inf, rtol, False, "output structure differs")
    value_err = 0.0
    for jo, to, tv in zip(j_outs, t_outs, t_vals, strict=True):
        if str(jo.dtype) != str(to.dtype).replace("torch.", ""):
            msg += f"dtype {jo.dtype} != torch {to.dtype}; "
            value_err = math.inf
        value_err = max(value_err, rel_error(np.asarray(jo.astype(jnp.float64) if dtype == "float64" else jo.astype(jnp.float32)), tv, dtype))

    grad_err = 0.0
    if grad_keys:
        pos_keys = [k for k in grad_keys if isinstance(k, int)]
        kw_keys = [k for k in grad_keys if isinstance(k, str)]
        if j_g is None:
            try:
                j_g = (jax.jit(grads) if jit else grads)(arrs, kw_arrs)
            except Exception as e:
                return CaseResult(case.name, dtype, value_err, math.inf, rtol, False, f"jloss grad raised {e!r}")
        g_arrs, g_kw = j_g
        j_grads = [g_arrs[array_pos.index(k)] for k in pos_keys] + [g_kw[k] for k in kw_keys]
        t_order = [t_grads[grad_keys.index(k)] for k in pos_keys + kw_keys]
        for jg, tg in zip(j_grads, t_order, strict=True):
            grad_err = max(grad_err, rel_error(np.asarray(jg.astype(jnp.float64) if dtype == "float64" else jg.astype(jnp.float32)), tg, dtype))
    passed = value_err <= rtol and grad_err <= rtol
    return CaseResult(case.name, dtype, value_err, grad_err, rtol, passed, msg)


def compare(
    jax_fn: Callable[..., Any],
    torch_fn: Callable[..., Any],
    cases: Iterable[Case],
    *,
    name: str = "",
    jit: bool = True,
) -> Report:
    """Run every case through ``jax_fn`` and ``torch_fn``; report value and gradient errors.

    Values are compared output by output (tuples are flattened); gradients are the vector-Jacobian
    products with the same random cotangent in both frameworks, for the arguments each case names
    in ``grad``. A case on which torch raises passes only if jloss raises ValueError/TypeError too.
    float64 cases need ``jax.config.update("jax_enable_x64", True)``.
    """
    cases = list(cases)
    if any(c.dtype == "float64" for c in cases) and jax.dtypes.canonicalize_dtype(np.float64) != np.float64:
        raise RuntimeError("compare: float64 cases need jax_enable_x64 (jax.config.update('jax_enable_x64', True))")
    results = [run_case(jax_fn, torch_fn, c, jit=jit) for c in cases]
    return Report(name or getattr(jax_fn, "__name__", "component"), results)
