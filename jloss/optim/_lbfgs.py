"""L-BFGS, as ``torch.optim.LBFGS``: one ``update`` is one torch ``step(closure)``, inside ``jit``.

torch's step runs up to ``max_iter`` inner iterations, each a two-loop L-BFGS direction, a step
length (fixed ``lr``, or torch's strong-Wolfe line search) and up to ``max_eval`` closure calls in
all. Here the closure is ``value_fn(params) -> loss``, differentiated with ``jax.value_and_grad``; the
iterations, the two-loop recursion and the line search are ``lax.while_loop`` / ``fori_loop`` so the
whole step compiles once. Parameters are flattened (``ravel_pytree``, the order of ``jax.tree``), as
torch flattens its parameter list.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax import lax
from jax.flatten_util import ravel_pytree

from . import _base as B


class LBFGSState(NamedTuple):
    """torch's LBFGS state (kept for the first parameter in torch), over the flattened parameters.

    ``old_dirs`` / ``old_stps`` / ``ro`` are torch's history lists as ``(history_size, n)`` /
    ``(history_size,)`` buffers whose first ``num_old`` rows hold the list, oldest first (torch's
    order). ``al`` is torch's scratch list. ``step`` (updates made), ``num_old`` (``len(old_dirs)``)
    and ``loss`` (the value at the parameters passed to the last update: what torch's ``step``
    returns) are not torch entries."""

    step: jax.Array
    func_evals: jax.Array
    n_iter: jax.Array
    d: jax.Array
    t: jax.Array
    old_dirs: jax.Array
    old_stps: jax.Array
    ro: jax.Array
    H_diag: jax.Array
    prev_flat_grad: jax.Array
    prev_loss: jax.Array
    al: jax.Array
    num_old: jax.Array
    loss: jax.Array


TORCH_STATE_KEYS = ("func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag",
                    "prev_flat_grad", "prev_loss", "al")


class _S(NamedTuple):
    """A scalar of torch's line search: a Python float (``tensor`` False; ``v`` in float64 when x64
    is on) or a 0-dim tensor of the parameter dtype (``tensor`` True; ``v`` holds its value exactly).

    torch's ``t``, ``t_prev`` and bracket ends switch between the two (``min``/``max`` against Python
    bounds pick either); an operation with a tensor operand casts the Python float to the tensor's
    dtype and computes there, float-with-float computes in float64. Mirroring that keeps float32
    line searches on torch's rounding; for float64 parameters both kinds are float64."""

    v: jax.Array
    tensor: jax.Array


class _Arith:
    """torch's Python-float / 0-dim-tensor arithmetic for :class:`_S` scalars (``dt``: the tensor dtype)."""

    def __init__(self, dt: Any):
        self.dt = dt
        self.hi = jnp.promote_types(dt, B.scalar_dtype())

    def py(self, v) -> _S:
        return _S(jnp.asarray(v, self.hi), jnp.asarray(False))

    def ten(self, v) -> _S:
        return _S(jnp.asarray(v, self.dt).astype(self.hi), jnp.asarray(True))

    def lo(self, a: _S) -> jax.Array:
        """``a`` as an operand of a tensor operation (a Python float is cast to the tensor dtype)."""
        return a.v.astype(self.dt)

    def op(self, fn, a: _S, b: _S) -> _S:
        tensor = a.tensor | b.tensor
        return _S(jnp.where(tensor, fn(self.lo(a), self.lo(b)).astype(self.hi), fn(a.v, b.v)), tensor)

    def cmp(self, fn, a: _S, b: _S) -> jax.Array:
        return jnp.where(a.tensor | b.tensor, fn(self.lo(a), self.lo(b)), fn(a.v, b.v))

    @staticmethod
    def pick(c, a: _S, b: _S) -> _S:
        return _S(jnp.where(c, a.v, b.v), jnp.where(c, a.tensor, b.tensor))

    def max(self, a: _S, b: _S) -> _S:
        """Python's ``max(a, b)``: ``b`` if ``b > a`` else ``a``."""
        return self.pick(self.cmp(jnp.greater, b, a), b, a)

    def min(self, a: _S, b: _S) -> _S:
        """Python's ``min(a, b)``: ``b`` if ``b < a`` else ``a``."""
        return self.pick(self.cmp(jnp.less, b, a), b, a)

    def sub(self, a: _S, b: _S) -> _S:
        return self.op(jnp.subtract, a, b)

    def add(self, a: _S, b: _S) -> _S:
        return self.op(jnp.add, a, b)

    def mul(self, a: _S, b: _S) -> _S:
        return self.op(jnp.multiply, a, b)


def _index(s: _S, i) -> _S:
    return _S(s.v[i], s.tensor[i])


def _cubic_interpolate(A: _Arith, x1: _S, f1, g1, x2: _S, f2, g2, bounds=None) -> _S:
    """torch's ``_cubic_interpolate``: the minimiser of the cubic through two points (``f`` Python
    floats, ``g`` tensors), clamped to ``bounds`` (default: between ``x1`` and ``x2``)."""
    if bounds is None:
        le = A.cmp(jnp.less_equal, x1, x2)
        bounds = (A.pick(le, x1, x2), A.pick(le, x2, x1))
    lo, hi = bounds
    d1 = g1 + g2 - A.lo(A.op(jnp.divide, A.py(3 * (f1 - f2)), A.sub(x1, x2)))
    d2_square = d1 * d1 - g1 * g2
    d2 = jnp.sqrt(jnp.maximum(d2_square, 0))
    min_pos = A.ten(jnp.where(
        A.cmp(jnp.less_equal, x1, x2),
        A.lo(x2) - A.lo(A.sub(x2, x1)) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2)),
        A.lo(x1) - A.lo(A.sub(x1, x2)) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2)),
    ))
    middle = A.op(jnp.divide, A.add(lo, hi), A.py(2.0))
    return A.pick(d2_square >= 0, A.min(A.max(min_pos, lo), hi), middle)


def _strong_wolfe(A: _Arith, evaluate, x, t: _S, d, f, g, gtd, tolerance_change, max_ls, c1=1e-4, c2=0.9):
    """torch's ``_strong_wolfe``: returns ``(f_new, g_new, t, ls_func_evals)``.

    ``f`` values are Python floats (dtype ``A.hi``), ``gtd`` values and gradients tensors."""
    dt = A.dt
    d_norm = jnp.max(jnp.abs(d))
    f_new, g_new = evaluate(x + A.lo(t) * d)
    neg_c2_gtd = B.cast_like(-c2, gtd) * gtd
    tol = B.cast_like(tolerance_change, d)

    def armijo_fails(t, f_new):
        # f_new > f + c1 * t * gtd: (c1 * t) * gtd is a tensor, so the sum and the test are in dt
        return f_new.astype(dt) > f.astype(dt) + A.lo(A.mul(A.py(c1), t)) * gtd

    # bracketing phase: carry (ls_iter, t_prev, f_prev, g_prev, gtd_prev, t, f_new, g_new, gtd_new)
    def tests(c):
        ls_iter, _, f_prev, _, _, t, f_new, _, gtd_new = c
        a = armijo_fails(t, f_new) | ((ls_iter > 1) & (f_new >= f_prev))
        return a, jnp.abs(gtd_new) <= neg_c2_gtd, gtd_new >= 0

    def bracket_cond(c):
        a, w, p = tests(c)
        return (c[0] < max_ls) & ~(a | w | p)

    def bracket_body(c):
        ls_iter, t_prev, f_prev, g_prev, gtd_prev, t, f_new, g_new, gtd_new = c
        min_step = A.add(t, A.mul(A.py(0.01), A.sub(t, t_prev)))
        max_step = A.mul(t, A.py(10))
        t_next = _cubic_interpolate(A, t_prev, f_prev, gtd_prev, t, f_new, gtd_new, (min_step, max_step))
        f_next, g_next = evaluate(x + A.lo(t_next) * d)
        return ls_iter + 1, t, f_new, g_new, gtd_new, t_next, f_next, g_next, jnp.dot(g_next, d)

    c = (jnp.zeros([], jnp.int32), A.py(0), f, g, gtd, t, f_new, g_new, jnp.dot(g_new, d))
    c = lax.while_loop(bracket_cond, bracket_body, c)
    ls_iter, t_prev, f_prev, g_prev, gtd_prev, t, f_new, g_new, gtd_new = c
    a, w, _ = tests(c)
    hit_max = ls_iter >= max_ls  # torch: bracket [0, t]
    single = ~hit_max & ~a & w  # the Wolfe conditions hold at t: bracket [t], done
    first = A.pick(hit_max, A.py(0), A.pick(single, t, t_prev))
    bracket = _S(jnp.stack([first.v, t.v]), jnp.stack([first.tensor, t.tensor]))
    bracket_f = jnp.stack([jnp.where(hit_max, f, jnp.where(single, f_new, f_prev)), f_new])
    bracket_g = jnp.stack([jnp.where(hit_max, g, jnp.where(single, g_new, g_prev)), g_new])
    bracket_gtd = jnp.stack([jnp.where(single, gtd_new, gtd_prev), gtd_new])  # unused when hit_max
    low = jnp.where(bracket_f[0] <= bracket_f[1], 0, 1)

    # zoom phase
    def zoom_cond(z):
        ls_iter, br, _, _, _, _, _, done = z
        width = jnp.abs(A.lo(A.sub(_index(br, 1), _index(br, 0))))  # abs(b1 - b0) * d_norm: a tensor
        return ~done & (ls_iter < max_ls) & ~(width * d_norm < tol)

    def zoom_body(z):
        ls_iter, br, bf, bg, bgtd, low, insuf, done = z
        high = 1 - low
        b0, b1 = _index(br, 0), _index(br, 1)
        t = _cubic_interpolate(A, b0, bf[0], bgtd[0], b1, bf[1], bgtd[1])
        bmax, bmin = A.max(b0, b1), A.min(b0, b1)
        eps = A.mul(A.py(0.1), A.sub(bmax, bmin))
        near = A.cmp(jnp.less, A.min(A.sub(bmax, t), A.sub(t, bmin)), eps)
        move = near & (insuf | A.cmp(jnp.greater_equal, t, bmax) | A.cmp(jnp.less_equal, t, bmin))
        dmax, dmin = A.sub(t, bmax), A.sub(t, bmin)
        closer_max = A.cmp(jnp.less, _S(jnp.abs(dmax.v), dmax.tensor), _S(jnp.abs(dmin.v), dmin.tensor))
        t = A.pick(move, A.pick(closer_max, A.sub(bmax, eps), A.add(bmin, eps)), t)
        insuf = near & ~move
        f_new, g_new = evaluate(x + A.lo(t) * d)
        gtd_new = jnp.dot(g_new, d)
        to_high = armijo_fails(t, f_new) | (f_new >= bf[low])
        wolfe = ~to_high & (jnp.abs(gtd_new) <= neg_c2_gtd)
        span = A.lo(A.sub(_index(br, high), _index(br, low)))
        swap = ~to_high & ~wolfe & (gtd_new * span >= 0)
        # to_high: the new point replaces the high end; otherwise (the old low becoming the high
        # end first when swapping) it replaces the low end
        tgt = jnp.where(to_high, high, low)

        def put(arr, new):
            return jnp.where(swap, arr.at[high].set(arr[low]), arr).at[tgt].set(new)

        br = _S(put(br.v, t.v), put(br.tensor, t.tensor))
        bf, bg, bgtd = put(bf, f_new), put(bg, g_new), put(bgtd, gtd_new)
        low = jnp.where(to_high, jnp.where(bf[0] <= bf[1], 0, 1), low)
        return ls_iter + 1, br, bf, bg, bgtd, low, insuf, done | wolfe

    z = (ls_iter, bracket, bracket_f, bracket_g, bracket_gtd, low, jnp.asarray(False), single)
    ls_iter, br, bf, bg, _, low, _, _ = lax.while_loop(zoom_cond, zoom_body, z)
    return bf[low], bg[low], _index(br, low), ls_iter + 1


def scale_by_torch_lbfgs(
    lr: Any, max_iter: Any, max_eval: Any, tolerance_grad: Any, tolerance_change: Any, *,
    history_size: int, line_search_fn: str | None,
) -> optax.GradientTransformationExtraArgs:
    """One torch ``LBFGS.step(closure)`` per update; the closure is the ``value_fn`` extra argument."""
    m = history_size

    def init(params):
        x, _ = ravel_pytree(params)
        n, dt = x.size, x.dtype
        i0 = jnp.zeros([], jnp.int32)
        z = jnp.zeros([], dt)
        zf = jnp.zeros([], _Arith(dt).hi)  # torch's losses are Python floats
        return LBFGSState(
            step=i0, func_evals=i0, n_iter=i0, d=jnp.zeros(n, dt), t=z, old_dirs=jnp.zeros((m, n), dt),
            old_stps=jnp.zeros((m, n), dt), ro=jnp.zeros(m, dt), H_diag=jnp.ones([], dt),
            prev_flat_grad=jnp.zeros(n, dt), prev_loss=zf, al=jnp.zeros(m, dt), num_old=i0, loss=zf,
        )

    def update(grads, state, params=None, *, value_fn=None, value=None, **extra_args):
        del extra_args
        B.needs_params("lbfgs", params)
        if value_fn is None:
            raise ValueError("lbfgs: update(grads, state, params, value_fn=f) needs value_fn, "
                             "the loss of the params (torch's closure)")
        x0, unravel = ravel_pytree(params)
        dt = x0.dtype
        A = _Arith(dt)
        g0 = ravel_pytree(grads)[0].astype(dt)
        vg = jax.value_and_grad(value_fn)

        def as_float(v):  # torch: loss = float(closure()), a Python float of a dt value
            return jnp.asarray(v).astype(dt).astype(A.hi)

        def evaluate(x):
            v, gr = vg(unravel(x))
            return as_float(v), ravel_pytree(gr)[0].astype(dt)

        loss0 = as_float(value_fn(params) if value is None else value)
        # tensor-vs-float tests compare in dt; abs(loss - prev_loss) < tolerance_change in floats
        tol_grad, tol_change = B.cast_like(tolerance_grad, x0), B.cast_like(tolerance_change, x0)
        tol_change_float = jnp.asarray(tolerance_change, A.hi)
        one = jnp.ones([], dt)

        def direction(c):
            """torch's direction update: the history push (if y.s > 1e-10) and the two-loop recursion."""
            g = c["g"]
            y = g - c["prev_flat_grad"]
            s = c["d"] * c["t"]
            ys = jnp.dot(y, s)

            def push(h):
                dirs, stps, ro, num_old, _ = h
                full = num_old == m
                pos = jnp.where(full, m - 1, num_old)
                roll = lambda b: jnp.where(full, jnp.roll(b, -1, axis=0), b)  # noqa: E731
                return (roll(dirs).at[pos].set(y), roll(stps).at[pos].set(s), roll(ro).at[pos].set(1.0 / ys),
                        jnp.minimum(num_old + 1, m), ys / jnp.dot(y, y))

            h = (c["old_dirs"], c["old_stps"], c["ro"], c["num_old"], c["H_diag"])
            dirs, stps, ro, num_old, h_diag = lax.cond(ys > B.cast_like(1e-10, ys), push, lambda h: h, h)

            def first_loop(k, qa):
                q, al = qa
                i = num_old - 1 - k
                a = jnp.dot(stps[i], q) * ro[i]
                return q + (-a) * dirs[i], al.at[i].set(a)

            q, al = lax.fori_loop(0, num_old, first_loop, (-g, c["al"]))

            def second_loop(i, r):
                be_i = jnp.dot(dirs[i], r) * ro[i]
                return r + (al[i] - be_i) * stps[i]

            d = lax.fori_loop(0, num_old, second_loop, q * h_diag)
            return d, dirs, stps, ro, num_old, h_diag, al

        def first_direction(c):
            # torch's first iteration ever: d = -g, empty history, H_diag = 1
            return (-c["g"], jnp.zeros_like(c["old_dirs"]), jnp.zeros_like(c["old_stps"]),
                    jnp.zeros_like(c["ro"]), jnp.zeros([], jnp.int32), one, c["al"])

        def body(c):
            c = dict(c)
            n_iter = c["n_iter"] + 1
            c["n_iter"] = n_iter
            c["state_n_iter"] = c["state_n_iter"] + 1
            first = c["state_n_iter"] == 1
            d, c["old_dirs"], c["old_stps"], c["ro"], c["num_old"], c["H_diag"], c["al"] = lax.cond(
                first, first_direction, direction, c)
            c["d"] = d
            g, x, loss = c["g"], c["x"], c["loss"]
            c["prev_flat_grad"], c["prev_loss"] = g, loss
            # t = min(1.0, 1.0 / |g|_1) * lr on the first iteration ever (a tensor, or the float lr), else lr
            inv = 1.0 / jnp.sum(jnp.abs(g))
            t_first = A.mul(A.pick(inv < 1, A.ten(inv), A.py(1.0)), A.py(lr))
            t_s = A.pick(first, t_first, A.py(lr))
            t = A.lo(t_s)
            gtd = jnp.dot(g, d)
            flat = gtd > -tol_change

            def skip(_):
                return x, loss, g, t, c["opt_cond"], jnp.zeros([], jnp.int32)

            def move(_):
                if line_search_fn == "strong_wolfe":
                    max_ls = max_eval - c["current_evals"]
                    f_new, g_new, t_new, evals = _strong_wolfe(A, evaluate, x, t_s, d, loss, g, gtd, tolerance_change,
                                                               max_ls)
                    t_new = A.lo(t_new)
                    return x + t_new * d, f_new, g_new, t_new, jnp.max(jnp.abs(g_new)) <= tol_grad, evals
                x_new = x + t * d

                def reevaluate(_):
                    f_new, g_new = evaluate(x_new)
                    return f_new, g_new, jnp.max(jnp.abs(g_new)) <= tol_grad, jnp.ones([], jnp.int32)

                def keep(_):  # torch does not re-evaluate after the last iteration
                    return loss, g, c["opt_cond"], jnp.zeros([], jnp.int32)

                f_new, g_new, opt, evals = lax.cond(n_iter != max_iter, reevaluate, keep, None)
                return x_new, f_new, g_new, t, opt, evals

            x, loss, g, t, opt, evals = lax.cond(flat, skip, move, None)
            c.update(x=x, loss=loss, g=g, t=t, opt_cond=opt)
            c["current_evals"] = c["current_evals"] + evals
            c["func_evals"] = c["func_evals"] + evals
            c["stop"] = (flat | (n_iter == max_iter) | (c["current_evals"] >= max_eval) | opt
                         | (jnp.max(jnp.abs(d * t)) <= tol_change) | (jnp.abs(loss - c["prev_loss"]) < tol_change_float))
            return c

        opt0 = jnp.max(jnp.abs(g0)) <= tol_grad
        i32 = lambda v: jnp.asarray(v, jnp.int32)  # noqa: E731
        carry = {
            "x": x0, "loss": loss0, "g": g0, "opt_cond": opt0, "stop": opt0, "n_iter": i32(0),
            "current_evals": i32(1), "func_evals": i32(state.func_evals + 1), "state_n_iter": i32(state.n_iter),
            "d": state.d, "t": state.t, "old_dirs": state.old_dirs, "old_stps": state.old_stps, "ro": state.ro,
            "num_old": i32(state.num_old), "H_diag": state.H_diag, "prev_flat_grad": state.prev_flat_grad,
            "prev_loss": state.prev_loss, "al": state.al,
        }
        c = lax.while_loop(lambda c: ~c["stop"] & (c["n_iter"] < max_iter), body, carry)
        new_state = LBFGSState(
            step=B.next_count(state.step), func_evals=c["func_evals"], n_iter=c["state_n_iter"], d=c["d"], t=c["t"],
            old_dirs=c["old_dirs"], old_stps=c["old_stps"], ro=c["ro"], H_diag=c["H_diag"],
            prev_flat_grad=c["prev_flat_grad"], prev_loss=c["prev_loss"], al=c["al"], num_old=c["num_old"],
            loss=loss0,
        )
        updates = jax.tree.map(lambda new, p: new - p, unravel(c["x"]), params)
        return updates, new_state

    return optax.GradientTransformationExtraArgs(init, update)


def lbfgs(
    lr: float = 1,
    max_iter: int = 20,
    max_eval: int | None = None,
    tolerance_grad: float = 1e-7,
    tolerance_change: float = 1e-9,
    history_size: int = 100,
    line_search_fn: str | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""L-BFGS, as ``torch.optim.LBFGS``; ``update(grads, state, params, value_fn=f)`` is one
    ``step(closure)``.

    ``grads`` is the gradient of ``f`` at ``params`` (torch's first closure call); ``value=`` may pass
    ``f(params)`` too (else ``update`` evaluates it). Each step runs up to ``max_iter`` iterations:
    the L-BFGS direction from the last ``history_size`` pairs :math:`(y, s)` (a pair is kept only if
    :math:`y^\top s > 10^{-10}`; :math:`H_0 = y^\top s / y^\top y`), a step length :math:`t` (the
    first ever :math:`\min(1, 1/\lVert g\rVert_1)\,\gamma`, then :math:`\gamma`), optionally refined
    by torch's strong-Wolfe line search (``line_search_fn="strong_wolfe"``, ``c1=1e-4, c2=0.9``),
    then :math:`\theta \leftarrow \theta + t d`. It stops early after ``max_eval`` evaluations of
    ``f`` (default ``max_iter * 5 // 4``), when :math:`\max|g| \le` ``tolerance_grad``, or when the
    step, the directional derivative or the change of ``f`` falls below ``tolerance_change``.

    .. warning:: ``optax.lbfgs`` is one iteration per update, with a zoom line search and
       ``memory_size=10``; torch's step is a whole inner loop with its own (or no) line search, so
       the two follow different trajectories. ``f`` must be traceable by JAX (it is evaluated
       inside ``lax.while_loop``); parameters are flattened in ``jax.tree`` order.

    ``lr``, ``max_iter``, ``max_eval``, ``tolerance_grad`` and ``tolerance_change`` are injected
    hyperparameters; ``history_size`` (the history buffers' size) and ``line_search_fn`` are static.
    The inner state is torch's (``d``, ``t``, ``old_dirs``, ``ro``, ``H_diag``, ``n_iter``,
    ``func_evals``, ...); ``state.inner_state.loss`` is what torch's ``step`` returns.
    """
    fn = "lbfgs"
    B.check_lr(fn, lr)
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 0:
        raise ValueError(f"{fn}: Invalid max_iter: must be an int >= 0, got {max_iter!r}")
    if max_eval is None:
        max_eval = max_iter * 5 // 4
    if isinstance(max_eval, bool) or not isinstance(max_eval, int):
        raise ValueError(f"{fn}: Invalid max_eval: must be an int or None, got {max_eval!r}")
    if isinstance(history_size, bool) or not isinstance(history_size, int) or history_size < 1:
        raise ValueError(f"{fn}: Invalid history_size: must be an int >= 1, got {history_size!r}")
    if line_search_fn not in (None, "strong_wolfe"):
        raise ValueError(f"{fn}: Invalid line_search_fn: only 'strong_wolfe' or None is supported, "
                         f"got {line_search_fn!r}")
    return B.inject(
        scale_by_torch_lbfgs,
        static_args=("history_size", "line_search_fn"),
        lr=lr if callable(lr) else float(lr), max_iter=max_iter, max_eval=max_eval,
        tolerance_grad=float(tolerance_grad), tolerance_change=float(tolerance_change),
        history_size=history_size, line_search_fn=line_search_fn,
    )
