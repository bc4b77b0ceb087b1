"""Parity cases: NAdam, RAdam, Adafactor, Muon, SparseAdam — every torch option."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ...optim._adafactor import adafactor
from ...optim._muon import muon
from ...optim._nadam import nadam
from ...optim._radam import radam
from ...optim._sparse_adam import sparse_adam
from .._optim import OptCase, optimizer_component
from .._registry import register


def _nadam_cases():
    return [
        OptCase("defaults", {}),
        OptCase("lr-betas-eps", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-3}),
        OptCase("momentum_decay", {"lr": 0.01, "momentum_decay": 0.1}),
        OptCase("momentum_decay=0", {"lr": 0.01, "momentum_decay": 0.0}),
        OptCase("weight_decay", {"lr": 0.01, "weight_decay": 0.1}),
        OptCase("decoupled_weight_decay", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
        OptCase("maximize", {"lr": 0.01, "weight_decay": 0.05, "maximize": True}),
        OptCase("beta1<0.5", {"lr": 0.01, "betas": (0.3, 0.9)}),  # torch's lerp switches form at 0.5
    ]


def _radam_cases():
    return [
        OptCase("defaults", {}),  # rho_t > 5 from step 6: both branches
        OptCase("lr-betas-eps", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-3}),
        OptCase("beta2=0.9", {"lr": 0.01, "betas": (0.9, 0.9)}),
        OptCase("never-rectified", {"lr": 0.01, "betas": (0.9, 0.6)}),  # rho_inf = 4
        OptCase("weight_decay", {"lr": 0.01, "weight_decay": 0.1}),
        OptCase("decoupled_weight_decay", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
        OptCase("maximize", {"lr": 0.01, "weight_decay": 0.05, "maximize": True}),
        OptCase("beta1=0", {"lr": 0.01, "betas": (0.0, 0.999)}),
    ]


# factored (2-D, 3-D, a row of one) and unfactored (1-D, 0-D) parameters
_ADAFACTOR_SHAPES = {"w": (4, 3), "b": (3,), "k": (2, 3, 2), "s": (), "r": (1, 5), "c": (5, 1)}


def _adafactor_cases():
    s = _ADAFACTOR_SHAPES
    return [
        OptCase("defaults", {}, shapes=s),
        OptCase("lr>1/sqrt(t)", {"lr": 0.2}, shapes=s),  # rho_t = 1/sqrt(t) from step 26
        OptCase("eps1-clamp", {"lr": 0.05, "eps": (1e-2, 1e-3)}, shapes=s, grad_scale=1e-3),
        OptCase("eps2-floor", {"lr": 0.05, "eps": (None, 2.0)}, shapes=s),
        OptCase("d-beta2_decay", {"lr": 0.05, "d": 1.5, "beta2_decay": -0.5}, shapes=s),
        OptCase("beta2_decay=0", {"lr": 0.05, "beta2_decay": 0.0}, shapes=s),
        OptCase("weight_decay", {"lr": 0.05, "weight_decay": 0.1}, shapes=s),
        OptCase("maximize", {"lr": 0.05, "maximize": True, "weight_decay": 0.01}, shapes=s),
    ]


# Muon takes 2-D parameters only: wide, tall (transposed inside Newton-Schulz), square, larger
_MUON_SHAPES = {"w": (4, 3), "v": (3, 5), "u": (6, 6), "x": (16, 8)}


def _muon_cases():
    s = _MUON_SHAPES
    return [
        OptCase("defaults", {}, shapes=s),
        OptCase("no-nesterov", {"lr": 0.02, "momentum": 0.9, "nesterov": False, "weight_decay": 0.01}, shapes=s),
        OptCase("momentum=0-wd=0", {"lr": 0.02, "momentum": 0.0, "weight_decay": 0.0}, shapes=s),
        OptCase("match_rms_adamw", {"lr": 0.01, "adjust_lr_fn": "match_rms_adamw"}, shapes=s),
        OptCase("ns-options", {"lr": 0.01, "adjust_lr_fn": "original", "ns_steps": 3,
                               "ns_coefficients": (2.0, -1.5, 0.5), "eps": 1e-3}, shapes=s),
        OptCase("tiny-grads-eps", {"lr": 0.01, "eps": 1e-2}, shapes=s, grad_scale=1e-3),  # the norm clamp
    ]


# SparseAdam: embedding-like tables; a row (index along axis 0) is touched or not
_SPARSE_SHAPES = {"emb": (10, 4), "vec": (5,), "table": (4, 2, 3)}


def _sparse_feed(explicit_mask: bool, duplicates: bool):
    """torch gets ``sparse_coo_tensor`` gradients of the touched rows (those whose first entry is
    > 0.3, so some steps touch nothing); jloss gets the dense equivalent, and with
    ``explicit_mask`` the ``touched`` masks, one touched row carrying an all-zero gradient (torch
    still moves it). ``duplicates`` repeats indices, which torch sums when it coalesces."""

    def feed(grads, dtype):
        import torch  # noqa: PLC0415

        jg, tg, masks = {}, {}, {}
        for k, g in grads.items():
            g = g.astype(dtype)
            touched = g.reshape(g.shape[0], -1)[:, 0] > 0.3
            if explicit_mask:
                touched[0] = True
                g[0] = 0
            idx = np.flatnonzero(touched)
            values = g[idx]
            if duplicates and len(idx):
                half = (values / 2).astype(dtype)
                idx, values = np.concatenate([idx, idx]), np.concatenate([half, values - half])
            t = torch.sparse_coo_tensor(torch.tensor(idx[None], dtype=torch.int64), torch.tensor(values), g.shape,
                                        check_invariants=True)
            tg[k] = t
            jg[k] = jnp.asarray(t.coalesce().to_dense().numpy())  # the dense equivalent, summed as torch does
            masks[k] = jnp.asarray(touched)
        return jg, tg, ({"touched": masks} if explicit_mask else {})

    return feed


def _sparse_adam_cases():
    s = _SPARSE_SHAPES
    return [
        OptCase("defaults", {}, shapes=s, feed=_sparse_feed(False, False)),
        OptCase("lr-betas-eps", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-3}, shapes=s,
                feed=_sparse_feed(False, False)),
        OptCase("maximize-duplicates", {"lr": 0.01, "maximize": True}, shapes=s, feed=_sparse_feed(False, True)),
        OptCase("touched-mask", {"lr": 0.01, "betas": (0.3, 0.9)}, shapes=s, feed=_sparse_feed(True, False)),
    ]


register(optimizer_component("optim.nadam", nadam, "NAdam", _nadam_cases))
register(optimizer_component("optim.radam", radam, "RAdam", _radam_cases))
register(optimizer_component("optim.adafactor", adafactor, "Adafactor", _adafactor_cases))
register(optimizer_component("optim.muon", muon, "Muon", _muon_cases))
register(optimizer_component("optim.sparse_adam", sparse_adam, "SparseAdam", _sparse_adam_cases))
