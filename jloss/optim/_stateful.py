"""The torch-named optimizer objects (``SGD``, ``Adam``, ...): thin stateful shells over the transforms.

An object holds ``param_groups`` in torch's layout (a list of dicts with ``"params"`` and every
hyperparameter), one optax state per group, and a single jitted update over all groups. Setting
``param_groups[i]["lr"]`` (or momentum, betas, ...) takes effect at the next ``step`` without
recompiling: the values are written into the transforms' injected hyperparameters.

``state_dict()`` / ``load_state_dict()`` use torch's exact layout: ``state`` keyed by parameter index
(parameters numbered group by group, in each group's ``jax.tree_util`` leaf order) with torch's entry
names, and ``param_groups`` with ``params`` as index lists. A torch optimizer's ``state_dict()`` loads
as is (tensors are read through ``__array__``); ours goes to torch through
:func:`jloss.interop.optimizer_state_to_torch`.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import optax

#: torch per-parameter state entries that are scalars (the same value for every parameter of a group).
SCALAR_KEYS = frozenset({"step", "eta", "mu", "mu_product"})

#: torch hyperparameter tuples that jloss injects as separate scalars.
_SPLIT = {"beta1": ("betas", 0), "beta2": ("betas", 1)}

#: param-group entries that torch's LR schedulers write (``initial_lr``, OneCycleLR's ``max_lr`` /
#: ``min_lr``, the cyclic momenta, SWALR's ``swa_lr``): accepted in groups and state_dicts, unused here.
SCHEDULER_KEYS = frozenset({"initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum", "swa_lr"})


def _to_numpy(x: Any) -> Any:
    """A torch tensor (duck-typed: torch is never imported here), jax or numpy array -> numpy."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu()
        if hasattr(x, "numpy"):
            # a copy: torch updates its state tensors in place, and jax may alias host memory
            return (x.numpy() if str(getattr(x, "dtype", "")) != "torch.bfloat16" else x.float().numpy()).copy()
    if isinstance(x, (jax.Array, np.ndarray, np.generic)):
        return np.array(x, copy=True)
    return x


def _is_group_list(params: Any) -> bool:
    return isinstance(params, (list, tuple)) and len(params) > 0 and all(isinstance(g, Mapping) for g in params)


class Optimizer:
    """Base of the torch-named optimizers. Subclasses set ``_factory`` (the jloss transform alias),
    ``_torch_keys`` (torch's per-parameter state entries) and ``_torch_extra`` (torch's defaults that
    have no meaning in JAX, kept so ``param_groups`` has torch's keys)."""

    _factory: ClassVar[Callable[..., optax.GradientTransformation]]
    _torch_keys: ClassVar[tuple[str, ...]] = ()
    _torch_extra: ClassVar[dict[str, Any]] = {}
    _split: ClassVar[dict[str, tuple[str, int]]] = _SPLIT
    _int_step: ClassVar[bool] = False  # torch keeps ``step`` as a Python int (SparseAdam)
    _jloss_only: ClassVar[tuple[str, ...]] = ()  # group keys torch lacks: left out of state_dict()
    #: hyperparameters torch takes from the constructor's ``defaults`` for every group (a group's own
    #: value is kept in ``param_groups`` but ignored): Adagrad's ``initial_accumulator_value``
    _from_defaults: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: Any, **kwargs: Any) -> None:
        name = type(self).__name__
        sig = inspect.signature(type(self)._factory)
        known = set(sig.parameters) | set(self._torch_extra)
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise TypeError(f"{name}: unexpected argument(s) {unknown}; expected some of {sorted(known)}")
        self.defaults: dict[str, Any] = {
            **{k: p.default for k, p in sig.parameters.items()},
            **self._torch_extra,
            **kwargs,
        }
        self._factory_call(self.defaults)  # validates like torch's __init__
        self.param_groups: list[dict[str, Any]] = []
        self._txs: list[optax.GradientTransformation] = []
        self._statics: list[tuple[Any, ...]] = []
        self._states: list[Any] = []
        self._step_fn: Callable[..., Any] | None = None
        groups = list(params) if _is_group_list(params) else [{"params": params}]
        if _is_group_list(params) is False and isinstance(params, (list, tuple)) and len(params) == 0:
            raise ValueError(f"{name}: params must not be empty (optimizer got an empty parameter list)")
        for g in groups:
            self.add_param_group(g)

    # ---- construction -------------------------------------------------------------------------
    def _factory_kwargs(self, group: Mapping[str, Any]) -> dict[str, Any]:
        sig = inspect.signature(type(self)._factory)
        kw = {k: group[k] for k in sig.parameters if k in group}
        defaults = getattr(self, "defaults", None)
        for k in self._from_defaults:  # torch reads these from the constructor's arguments, not the group
            if defaults is not None and k in kw:
                kw[k] = defaults[k]
        return kw

    def _factory_call(self, group: Mapping[str, Any]) -> optax.GradientTransformation:
        return type(self)._factory(**self._factory_kwargs(group))

    def _rebuild_call(self, group: Mapping[str, Any]) -> optax.GradientTransformation:
        """The transform for a group whose values changed after construction (``_refresh``,
        ``load_state_dict``). torch validates hyperparameters only in ``__init__``: a value written
        later is used as is -- a scheduler's LR may round to ``-1e-20`` -- so a numeric ``lr``
        (an injected hyperparameter, written from the group before every step) is not re-checked."""
        kw = self._factory_kwargs(group)
        lr = kw.get("lr")
        if isinstance(lr, (int, float, np.number)) and not isinstance(lr, bool) and not lr >= 0:
            kw["lr"] = 0.0
        return type(self)._factory(**kw)

    def _static_key(self, group: Mapping[str, Any]) -> tuple[Any, ...]:
        """The group values that shape the compiled transform (booleans, and zero/non-zero switches;
        a numeric ``lr`` never does)."""
        items = []
        for k, v in sorted(self._factory_kwargs(group).items()):
            if k == "lr" and isinstance(v, (int, float, np.number)) and not isinstance(v, bool):
                items.append((k, "number"))
            elif isinstance(v, bool) or isinstance(v, str) or v is None or callable(v):
                items.append((k, v))
            elif isinstance(v, (int, float)):
                items.append((k, v != 0))
            elif isinstance(v, (tuple, list)):
                items.append((k, tuple(x != 0 if isinstance(x, (int, float)) and not isinstance(x, bool) else x
                                       for x in v)))
            else:
                items.append((k, "array"))
        return tuple(items)

    def add_param_group(self, param_group: Mapping[str, Any]) -> None:
        """Add a group ``{"params": pytree, **hyperparameters}``; missing hyperparameters take the defaults."""
        name = type(self).__name__
        if not isinstance(param_group, Mapping) or "params" not in param_group:
            raise TypeError(f"{name}.add_param_group: expected a dict with a 'params' entry, got {type(param_group).__name__}")
        group = dict(param_group)
        leaves = jax.tree.leaves(group["params"])
        if not leaves:
            raise ValueError(f"{name}: params must not be empty (optimizer got an empty parameter list)")
        for leaf in leaves:
            if not (isinstance(leaf, (jax.Array, np.ndarray)) and jnp.issubdtype(leaf.dtype, jnp.inexact)):
                raise TypeError(f"{name}: params must be floating arrays, got {type(leaf).__name__} "
                                f"{getattr(leaf, 'dtype', '')}")
        unknown = sorted(set(group) - {"params"} - set(self.defaults) - SCHEDULER_KEYS)
        if unknown:
            raise ValueError(f"{name}.add_param_group: unknown hyperparameter(s) {unknown}")
        for k, v in self.defaults.items():
            group.setdefault(k, v)
        group["params"] = jax.tree.map(jnp.asarray, group["params"])
        tx = self._factory_call(group)
        self.param_groups.append(group)
        self._txs.append(tx)
        self._statics.append(self._static_key(group))
        self._states.append(tx.init(group["params"]))
        self._step_fn = None

    # ---- the parameters -------------------------------------------------------------------------
    @property
    def params(self) -> Any:
        """The current parameters: the pytree of a single group, else a list with one per group."""
        trees = [g["params"] for g in self.param_groups]
        return trees[0] if len(trees) == 1 else trees

    def zero_grad(self, set_to_none: bool = True) -> None:
        """A no-op kept for ported code: JAX gradients are values returned by ``jax.grad``, not buffers."""

    # ---- stepping -------------------------------------------------------------------------------
    def _refresh(self) -> None:
        """Rebuild transforms whose static configuration changed; write group values into hyperparams."""
        for i, group in enumerate(self.param_groups):
            key = self._static_key(group)
            if key != self._statics[i]:
                tx = self._rebuild_call(group)
                fresh = tx.init(group["params"])
                if jax.tree.structure(fresh) != jax.tree.structure(self._states[i]):
                    raise ValueError(
                        f"{type(self).__name__}: changing {dict(set(key) - set(self._statics[i]))} in param group {i} "
                        "changes the optimizer state layout; create a new optimizer instead"
                    )
                self._txs[i], self._statics[i] = tx, key
                self._step_fn = None
            st = self._states[i]
            if hasattr(st, "hyperparams"):
                hp = dict(st.hyperparams)
                for hname, cur in hp.items():
                    value = self._group_value(group, hname)
                    if value is not None and not callable(value):
                        hp[hname] = jnp.asarray(value, dtype=cur.dtype)
                self._states[i] = st._replace(hyperparams=hp)

    def _group_value(self, group: Mapping[str, Any], hname: str) -> Any:
        if hname in group:
            return group[hname]
        if hname in self._split:
            key, idx = self._split[hname]
            if key in group:
                return group[key][idx]
        return None

    # ---- the functional view (for jitted training loops: jloss.train) ---------------------------
    def update_fn(self) -> Callable[[list[Any], list[Any], list[Any]], tuple[list[Any], list[Any]]]:
        """The pure update ``(params, grads, states) -> (new_params, new_states)`` over all groups
        (one list entry per param group), for the current configuration; what :meth:`step` jits.

        A training loop that fuses the gradient and the update into one ``jax.jit`` uses it with
        :meth:`functional_state` / :meth:`set_functional_state`. The function changes (a new object)
        only when a group's static configuration changes (e.g. ``nesterov`` toggled).
        """
        txs = tuple(self._txs)
        if getattr(self, "_update_fn_txs", None) != txs:

            def update(params, grads, states):
                new_p, new_s = [], []
                for tx, p, g, s in zip(txs, params, grads, states, strict=True):
                    u, s = tx.update(g, s, p)
                    new_p.append(jax.tree.map(lambda a, b: (a + b).astype(a.dtype), p, u))
                    new_s.append(s)
                return new_p, new_s

            self._update_fn_txs, self._update_fn = txs, update
        return self._update_fn

    def functional_state(self) -> tuple[list[Any], list[Any]]:
        """``(params, states)``, one entry per group, with the groups' current hyperparameters (a
        scheduler's ``lr``, cycled momentum) written into the states. No array appears twice, so
        both may be donated to a jitted step."""
        self._refresh()
        seen: set[int] = set()

        def unshared(a: Any) -> Any:  # a buffer may be donated once: copy any array seen twice
            if isinstance(a, jax.Array):
                if id(a) in seen:
                    return a.copy()
                seen.add(id(a))
            return a

        return jax.tree.map(unshared, ([g["params"] for g in self.param_groups], list(self._states)))

    def set_functional_state(self, params: Sequence[Any], states: Sequence[Any]) -> None:
        """Store the result of :meth:`update_fn` back into the object."""
        if len(params) != len(self.param_groups) or len(states) != len(self.param_groups):
            raise ValueError(f"{type(self).__name__}.set_functional_state: expected {len(self.param_groups)} "
                             f"params and states, got {len(params)} and {len(states)}")
        for group, p in zip(self.param_groups, params, strict=True):
            group["params"] = p
        self._states = list(states)

    def _compiled_step(self) -> Callable[..., Any]:
        if self._step_fn is None:
            self._step_fn = jax.jit(self.update_fn())
        return self._step_fn

    def _check_grads(self, grads: Any) -> list[Any]:
        name = type(self).__name__
        n = len(self.param_groups)
        glist = [grads] if n == 1 else grads
        if n > 1 and (not isinstance(grads, (list, tuple)) or len(grads) != n):
            raise ValueError(f"{name}.step: with {n} param groups, grads must be a list of {n} pytrees")
        out = []
        for i, (g, group) in enumerate(zip(glist, self.param_groups, strict=True)):
            ps, gs = jax.tree.structure(group["params"]), jax.tree.structure(g)
            if ps != gs:
                raise ValueError(f"{name}.step: grads for param group {i} must have the structure of its params "
                                 f"{ps}, got {gs}")
            for (path, p), gl in zip(jax.tree_util.tree_leaves_with_path(group["params"]), jax.tree.leaves(g),
                                     strict=True):
                if tuple(np.shape(gl)) != tuple(p.shape):
                    raise ValueError(f"{name}.step: grads{jax.tree_util.keystr(path)} has shape {tuple(np.shape(gl))}, "
                                     f"its parameter {tuple(p.shape)} (param group {i})")
            out.append(jax.tree.map(lambda a, p: jnp.asarray(a, p.dtype), g, group["params"]))
        return out

    def step(self, grads: Any = None, closure: Callable[..., Any] | None = None) -> Any:
        """One update. ``step(grads)`` returns the new parameters; ``step(closure=f)`` evaluates
        ``f(params)`` (a scalar loss), takes its gradient, updates, and returns the loss."""
        name = type(self).__name__
        loss = None
        if closure is not None:
            if grads is not None:
                raise ValueError(f"{name}.step: pass grads or closure, not both")
            loss, grads = jax.value_and_grad(closure)(self.params)
        elif grads is None:
            raise ValueError(f"{name}.step: needs grads (shaped like params) or a closure")
        glist = self._check_grads(grads)
        self._refresh()
        params = [g["params"] for g in self.param_groups]
        new_params, new_states = self._compiled_step()(params, glist, self._states)
        for group, p in zip(self.param_groups, new_params, strict=True):
            group["params"] = p
        self._states = list(new_states)
        return loss if closure is not None else self.params

    # ---- torch-layout state ---------------------------------------------------------------------
    @staticmethod
    def _inner(state: Any) -> Any:
        return getattr(state, "inner_state", state)

    @property
    def state(self) -> dict[int, dict[str, Any]]:
        """torch's per-parameter state, keyed by parameter index (empty before the first step)."""
        return self.state_dict()["state"]

    def _param_entries(self, inner: Any, treedef: Any) -> list[dict[str, Any]]:
        """torch's per-parameter state entries of one group (empty dicts before the first step).

        A family state field is either a scalar (``SCALAR_KEYS``: the same value for every parameter)
        or a pytree shaped like the params whose leaves may be ``None`` where torch has no entry for
        that parameter (Adafactor's ``row_var`` of a vector)."""
        n = treedef.num_leaves
        if int(inner.step) == 0:
            return [{} for _ in range(n)]
        out: list[dict[str, Any]] = [{} for _ in range(n)]
        for key in self._torch_keys:
            val = getattr(inner, key)
            if val is None:
                continue
            if key in SCALAR_KEYS:
                arr = np.asarray(val)
                v = (int(arr) if self._int_step else np.asarray(arr, np.float32)) if key == "step" else arr
                for entry in out:
                    entry[key] = copy.deepcopy(v)
            else:
                for entry, leaf in zip(out, treedef.flatten_up_to(val), strict=True):
                    if leaf is not None:
                        entry[key] = np.asarray(leaf).copy()
        return out

    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {entry: array}}, "param_groups": [{..., "params": [indices]}]}`` (torch's layout)."""
        state: dict[int, dict[str, Any]] = {}
        groups = []
        idx = 0
        for group, st in zip(self.param_groups, self._states, strict=True):
            treedef = jax.tree.structure(group["params"])
            n = treedef.num_leaves
            for j, entry in enumerate(self._param_entries(self._inner(st), treedef)):
                if entry:
                    state[idx + j] = entry
            g = {k: copy.deepcopy(v) for k, v in group.items() if k != "params" and k not in self._jloss_only}
            g["params"] = list(range(idx, idx + n))
            groups.append(g)
            idx += n
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Load ours or torch's ``state_dict()`` (torch tensors are accepted as is).

        Everything is validated and converted before anything changes: on error the optimizer is
        unchanged.
        """
        name = type(self).__name__
        if not isinstance(state_dict, Mapping) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups'")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: loaded state dict has {len(saved_groups)} parameter groups, "
                             f"this optimizer has {len(self.param_groups)}")
        saved_state = {int(k): v for k, v in dict(state_dict["state"]).items()}
        new_groups, new_states, new_txs, new_statics = [], [], [], []
        for i, (group, sg) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            leaves, treedef = jax.tree.flatten(group["params"])
            ids = list(sg.get("params", []))
            if len(ids) != len(leaves):
                raise ValueError(f"{name}.load_state_dict: loaded parameter group {i} has {len(ids)} parameters, "
                                 f"this optimizer's has {len(leaves)}")
            unknown = sorted(set(sg) - {"params"} - set(self.defaults) - SCHEDULER_KEYS)
            if unknown:
                raise ValueError(f"{name}.load_state_dict: parameter group {i} has unknown hyperparameter(s) {unknown} "
                                 f"(a state_dict of another optimizer?)")
            ng = {**group, **{k: copy.deepcopy(_to_numpy(v)) if not isinstance(v, (int, float, bool, tuple, str, type(None))) else v
                              for k, v in sg.items() if k != "params"}}
            tx = self._rebuild_call(ng)
            fresh = tx.init(group["params"])
            inner = self._inner(fresh)
            entries = [saved_state.get(pid) for pid in ids]
            if all(e is None or len(e) == 0 for e in entries):
                new_inner = inner  # never stepped: torch has no state yet
            else:
                if any(e is None for e in entries):
                    raise ValueError(f"{name}.load_state_dict: parameter group {i} has state for some parameters only")
                updates = {}
                for key in self._torch_keys:
                    cur = getattr(inner, key)
                    if cur is None:
                        continue
                    if key in SCALAR_KEYS:
                        if not all(key in e for e in entries):
                            raise ValueError(f"{name}.load_state_dict: state entry {key!r} missing for a parameter of group {i}")
                        vals = [_to_numpy(e[key]) for e in entries]
                        first = np.asarray(vals[0])
                        if any(not np.array_equal(np.asarray(v), first) for v in vals):
                            raise ValueError(f"{name}.load_state_dict: {key!r} differs between parameters of group {i}; "
                                             "jloss keeps one value per param group")
                        updates[key] = jnp.asarray(first).astype(jnp.asarray(cur).dtype)
                        continue
                    cur_leaves = treedef.flatten_up_to(cur)
                    new_leaves = []
                    for e, c in zip(entries, cur_leaves, strict=True):
                        if c is None:
                            new_leaves.append(None)
                            continue
                        if key not in e:
                            raise ValueError(f"{name}.load_state_dict: state entry {key!r} missing for a parameter of group {i}")
                        v = _to_numpy(e[key])
                        if tuple(np.shape(v)) != tuple(c.shape):
                            raise ValueError(f"{name}.load_state_dict: state entry {key!r} has shape {np.shape(v)}, "
                                             f"expected {tuple(c.shape)}")
                        new_leaves.append(jnp.asarray(v).astype(c.dtype))
                    updates[key] = treedef.unflatten(new_leaves)
                extra = set().union(*[set(e) for e in entries]) - set(self._torch_keys)
                if extra:
                    raise ValueError(f"{name}.load_state_dict: unknown state entries {sorted(extra)} "
                                     f"(a state_dict of another optimizer?)")
                if "step" not in self._torch_keys:
                    # torch keeps no step for this family (SGD): having state means past the first step.
                    updates["step"] = jnp.maximum(inner.step, 1).astype(inner.step.dtype)
                new_inner = inner._replace(**updates)
            if hasattr(fresh, "inner_state"):
                count = jnp.asarray(new_inner.step).astype(fresh.count.dtype)
                new_state = fresh._replace(inner_state=new_inner, count=count)
            else:
                new_state = new_inner
            new_groups.append(ng)
            new_states.append(new_state)
            new_txs.append(tx)
            new_statics.append(self._static_key(ng))
        # commit
        self.param_groups = new_groups
        self._states, self._txs, self._statics = new_states, new_txs, new_statics
        self._step_fn = None

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        return "\n".join(lines) + "\n)"


def _make(name: str, factory: Callable[..., Any], torch_keys: tuple[str, ...], extra: dict[str, Any],
          doc: str, split: dict[str, tuple[str, int]] | None = None, int_step: bool = False,
          jloss_only: tuple[str, ...] = (), from_defaults: tuple[str, ...] = ()) -> type[Optimizer]:
    attrs = {
        "_factory": staticmethod(factory),
        "_torch_keys": torch_keys,
        "_torch_extra": extra,
        "__doc__": doc,
        "__module__": "jloss.optim",
    }
    if split is not None:
        attrs["_split"] = split
    if int_step:
        attrs["_int_step"] = True
    if jloss_only:
        attrs["_jloss_only"] = jloss_only
    if from_defaults:
        attrs["_from_defaults"] = from_defaults
    return type(name, (Optimizer,), attrs)


# ---- the torch-named classes -------------------------------------------------------------------
from . import (  # noqa: E402
    _adadelta,
    _adafactor,
    _adagrad,
    _adam,
    _adamax,
    _asgd,
    _lbfgs,
    _muon,
    _nadam,
    _radam,
    _rmsprop,
    _rprop,
    _sgd,
    _sparse_adam,
)

_NO_FOREACH = {"foreach": None, "differentiable": False}
_CAPTURABLE = {**_NO_FOREACH, "capturable": False}

SGD = _make("SGD", _sgd.sgd, _sgd.TORCH_STATE_KEYS, {**_NO_FOREACH, "fused": None},
            "``torch.optim.SGD`` over :func:`jloss.optim.sgd`.")
Adam = _make("Adam", _adam.adam, _adam.TORCH_STATE_KEYS, {**_CAPTURABLE, "fused": None},
             "``torch.optim.Adam`` over :func:`jloss.optim.adam`.")
AdamW = _make("AdamW", _adam.adamw, _adam.TORCH_STATE_KEYS,
              {**_CAPTURABLE, "fused": None, "decoupled_weight_decay": True},
              "``torch.optim.AdamW`` over :func:`jloss.optim.adamw`.")
RMSprop = _make("RMSprop", _rmsprop.rmsprop, _rmsprop.TORCH_STATE_KEYS, _CAPTURABLE,
                "``torch.optim.RMSprop`` over :func:`jloss.optim.rmsprop`.")
Adagrad = _make("Adagrad", _adagrad.adagrad, _adagrad.TORCH_STATE_KEYS, {**_NO_FOREACH, "fused": None},
                "``torch.optim.Adagrad`` over :func:`jloss.optim.adagrad` (as in torch, every group's ``sum`` "
                "starts at the constructor's ``initial_accumulator_value``; a group's own value is ignored).",
                from_defaults=("initial_accumulator_value",))
Adadelta = _make("Adadelta", _adadelta.adadelta, _adadelta.TORCH_STATE_KEYS, _CAPTURABLE,
                 "``torch.optim.Adadelta`` over :func:`jloss.optim.adadelta`.")
Adamax = _make("Adamax", _adamax.adamax, _adamax.TORCH_STATE_KEYS, _CAPTURABLE,
               "``torch.optim.Adamax`` over :func:`jloss.optim.adamax`.")
ASGD = _make("ASGD", _asgd.asgd, _asgd.TORCH_STATE_KEYS, _CAPTURABLE,
             "``torch.optim.ASGD`` over :func:`jloss.optim.asgd`.")
Rprop = _make("Rprop", _rprop.rprop, _rprop.TORCH_STATE_KEYS, _CAPTURABLE,
              "``torch.optim.Rprop`` over :func:`jloss.optim.rprop`.",
              split={"etaminus": ("etas", 0), "etaplus": ("etas", 1),
                     "step_size_min": ("step_sizes", 0), "step_size_max": ("step_sizes", 1)})

NAdam = _make("NAdam", _nadam.nadam, _nadam.TORCH_STATE_KEYS, _CAPTURABLE,
              "``torch.optim.NAdam`` over :func:`jloss.optim.nadam`.")
RAdam = _make("RAdam", _radam.radam, _radam.TORCH_STATE_KEYS, _CAPTURABLE,
              "``torch.optim.RAdam`` over :func:`jloss.optim.radam`.")
Adafactor = _make("Adafactor", _adafactor.adafactor, _adafactor.TORCH_STATE_KEYS, {"foreach": None},
                  "``torch.optim.Adafactor`` over :func:`jloss.optim.adafactor`.",
                  split={"eps1": ("eps", 0), "eps2": ("eps", 1)})
Muon = _make("Muon", _muon.muon, _muon.TORCH_STATE_KEYS, {},
             "``torch.optim.Muon`` over :func:`jloss.optim.muon` (2-D parameters only; ``param_layout`` "
             "is jloss's own and is not written to ``state_dict``).", jloss_only=("param_layout",))
SparseAdam = _make("SparseAdam", _sparse_adam.sparse_adam, _sparse_adam.TORCH_STATE_KEYS, {},
                   "``torch.optim.SparseAdam`` over :func:`jloss.optim.sparse_adam`: rows whose gradient is "
                   "all zero do not move (see the function's docstring).", int_step=True)


class LBFGS(Optimizer):
    """``torch.optim.LBFGS`` over :func:`jloss.optim.lbfgs`: ``step(closure=f)`` is torch's
    ``step(closure)``, where ``f(params)`` returns the loss (its gradient is taken by JAX).

    Like torch, LBFGS takes one parameter group, and its ``state_dict`` keeps the whole state under
    parameter 0 (``func_evals``, ``n_iter``, ``d``, ``t``, ``old_dirs``, ``old_stps``, ``ro``,
    ``H_diag``, ``prev_flat_grad``, ``prev_loss``, ``al``), with the history as lists as in torch.
    """

    _factory = staticmethod(_lbfgs.lbfgs)
    _torch_keys = _lbfgs.TORCH_STATE_KEYS

    def __init__(self, params: Any, **kwargs: Any) -> None:
        if kwargs.get("max_eval") is None:
            kwargs["max_eval"] = kwargs.get("max_iter", 20) * 5 // 4  # torch stores the resolved value
        super().__init__(params, **kwargs)
        self._closure_steps: dict[int, Callable[..., Any]] = {}

    def add_param_group(self, param_group: Mapping[str, Any]) -> None:
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    def step(self, grads: Any = None, closure: Callable[..., Any] | None = None) -> Any:
        if closure is None:
            raise ValueError("LBFGS.step: needs closure=f, a function of the params returning the loss "
                             "(torch's LBFGS requires a closure)")
        if grads is not None:
            raise ValueError("LBFGS.step: pass only the closure; its gradient is taken with jax.grad")
        self._refresh()
        if self._step_fn is None:
            self._closure_steps = {}
            self._step_fn = lambda *a: None  # marks the cache as current for _refresh
        key = id(closure)
        fn = self._closure_steps.get(key)
        if fn is None:
            tx = self._txs[0]

            def run(params, state):
                loss, g = jax.value_and_grad(closure)(params)
                u, state = tx.update(g, state, params, value_fn=closure, value=loss)
                return jax.tree.map(lambda a, b: (a + b).astype(a.dtype), params, u), state, loss

            fn = self._closure_steps[key] = jax.jit(run)
        new_p, new_s, loss = fn(self.param_groups[0]["params"], self._states[0])
        self.param_groups[0]["params"], self._states[0] = new_p, new_s
        return loss

    def _param_entries(self, inner: Any, treedef: Any) -> list[dict[str, Any]]:
        n_leaves = treedef.num_leaves
        entry: dict[str, Any] = {}
        if int(inner.func_evals) > 0:
            entry = {"func_evals": int(inner.func_evals), "n_iter": int(inner.n_iter)}
        if int(inner.n_iter) > 0:
            k = int(inner.num_old)
            entry.update(
                d=np.asarray(inner.d).copy(), t=float(inner.t),
                old_dirs=[np.asarray(inner.old_dirs[i]).copy() for i in range(k)],
                old_stps=[np.asarray(inner.old_stps[i]).copy() for i in range(k)],
                ro=[np.asarray(inner.ro[i]).copy() for i in range(k)],
                H_diag=np.asarray(inner.H_diag).copy(), prev_flat_grad=np.asarray(inner.prev_flat_grad).copy(),
                prev_loss=float(inner.prev_loss),
            )
            if int(inner.n_iter) > 1:
                entry["al"] = [np.asarray(inner.al[i]).copy() if i < k else None for i in range(inner.al.shape[0])]
        return [entry] + [{} for _ in range(n_leaves - 1)]

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        name = type(self).__name__
        if not isinstance(state_dict, Mapping) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups'")
        saved = {int(k): v for k, v in dict(state_dict["state"]).items()}
        extra = sorted(set(saved) - {0})
        if extra:
            raise ValueError(f"{name}.load_state_dict: LBFGS keeps its state under parameter 0, got entries for {extra}")
        entry = dict(saved.get(0, {}))
        unknown = sorted(set(entry) - set(self._torch_keys))
        if unknown:
            raise ValueError(f"{name}.load_state_dict: unknown state entries {unknown} (a state_dict of another optimizer?)")
        if entry:
            need = {"func_evals", "n_iter"}
            if int(_to_numpy(entry.get("n_iter", 0))) > 0:
                need |= {"d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss"}
            missing = sorted(need - set(entry))
            if missing:
                raise ValueError(f"{name}.load_state_dict: state entries {missing} missing for parameter 0")
        # param groups (validated and converted by the base class, with no per-parameter state)
        before = (copy.copy(self.param_groups), list(self._states), list(self._txs), list(self._statics))
        super().load_state_dict({"state": {}, "param_groups": state_dict["param_groups"]})
        try:
            st = self._states[0]
            inner = self._inner(st)
            if entry:
                upd: dict[str, Any] = {"func_evals": jnp.asarray(int(entry.get("func_evals", 0)), inner.func_evals.dtype),
                                       "n_iter": jnp.asarray(int(entry.get("n_iter", 0)), inner.n_iter.dtype)}
                if "d" in entry:
                    dt = inner.d.dtype
                    hist = inner.old_dirs.shape[0]
                    dirs = [_to_numpy(v) for v in entry["old_dirs"]]
                    k = len(dirs)
                    if k > hist:
                        raise ValueError(f"{name}.load_state_dict: {k} history entries exceed history_size={hist}")
                    n = inner.d.shape[0]
                    for v in [_to_numpy(entry["d"]), _to_numpy(entry["prev_flat_grad"]), *dirs,
                              *[_to_numpy(v) for v in entry["old_stps"]]]:
                        if np.shape(v) != (n,):
                            raise ValueError(f"{name}.load_state_dict: a state vector has shape {np.shape(v)}, "
                                             f"expected ({n},) (the flattened parameters)")

                    def buf(vals, cur):
                        out = np.zeros(cur.shape, dtype=np.dtype(cur.dtype))
                        for i, v in enumerate(vals):
                            out[i] = np.asarray(_to_numpy(v))
                        return jnp.asarray(out)

                    al = [v for v in entry.get("al", []) if v is not None][:hist]
                    upd.update(
                        d=jnp.asarray(_to_numpy(entry["d"]), dt), t=jnp.asarray(float(_to_numpy(entry["t"])), inner.t.dtype),
                        old_dirs=buf(dirs, inner.old_dirs), old_stps=buf(entry["old_stps"], inner.old_stps),
                        ro=buf(entry["ro"], inner.ro), al=buf(al, inner.al),
                        H_diag=jnp.asarray(float(_to_numpy(entry["H_diag"])), inner.H_diag.dtype),
                        prev_flat_grad=jnp.asarray(_to_numpy(entry["prev_flat_grad"]), dt),
                        prev_loss=jnp.asarray(float(_to_numpy(entry["prev_loss"])), inner.prev_loss.dtype),
                        num_old=jnp.asarray(k, inner.num_old.dtype),
                        step=jnp.maximum(inner.step, 1).astype(inner.step.dtype),
                    )
                new_inner = inner._replace(**upd)
                self._states[0] = st._replace(inner_state=new_inner, count=new_inner.step.astype(st.count.dtype))
        except Exception:
            self.param_groups, self._states, self._txs, self._statics = before
            raise
        self._closure_steps = {}


__all__ = ["ASGD", "LBFGS", "SGD", "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "Muon", "NAdam",
           "Optimizer", "RAdam", "RMSprop", "Rprop", "SparseAdam"]
