"""Model weights between torch and jloss.models (jloss/interop/_modules.py), and torch.save files.

Named test_interop_modules.py, not test_modules.py: the test dirs have no __init__.py, so basenames
must be unique (tests/losses/test_modules.py exists). Every expected number comes from torch at test
time: the torch twins are the tutorials' classes, with the same weights and inputs.
"""

import functools
import io
import pickle
import re
import sys
from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
import torch
from flax import nnx
from torch import nn

from jloss.interop import (
    load_torch_checkpoint,
    load_torch_state_dict,
    save_torch_checkpoint,
    torch_state_dict,
)
from jloss.models import CIFAR10Net, LinearNet, Net
from jloss.models.torch_reference import torch_twin

TorchNet = torch_twin("Net")  # tutorial 004, as written there
Tudui = torch_twin("CIFAR10Net")  # tutorial 002

# jloss class, torch twin, torch (NCHW / feature) input shape
CASES = {
    "Net": (Net, TorchNet, (4, 1, 32, 32)),
    "CIFAR10Net": (CIFAR10Net, Tudui, (4, 3, 32, 32)),
    "LinearNet": (LinearNet, torch_twin("LinearNet"), (4, 10)),
}
TOL = {"float32": (1e-5, 1e-6), "float64": (1e-10, 1e-12)}  # (rtol, atol): SPEC's "the same numbers"
DTYPES = {"float32": (torch.float32, jnp.float32), "float64": (torch.float64, jnp.float64)}


def _twin(name, dtype="float32", seed=0):
    torch.manual_seed(seed)
    return CASES[name][1]().to(DTYPES[dtype][0])


def _abstract(name, dtype="float32"):
    """The jloss net without running its initialiser (every parameter is then loaded)."""
    cls = CASES[name][0]
    return nnx.eval_shape(lambda: cls(rngs=nnx.Rngs(0), param_dtype=DTYPES[dtype][1]))


def _nhwc(x):
    return x.transpose(0, 2, 3, 1) if x.ndim == 4 else x


@functools.cache
def _value_and_grads(graphdef):
    """jit(out, d(sum(out * cot))/d(params, x)), compiled once per net class and dtype."""

    @jax.jit
    def f(state, x, cot):
        def loss(state, x):
            out = nnx.merge(graphdef, state)(x)
            return jnp.sum(out * cot), out

        (_, out), (gs, gx) = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(state, x)
        return out, gs, gx

    return f


def _assert_close(name, got, want, dtype):
    rtol, atol = TOL[dtype]
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=name)


# ---- outputs and gradients against torch ---------------------------------------------------------


@pytest.mark.parametrize("dtype", list(TOL))
@pytest.mark.parametrize("name", list(CASES))
def test_outputs_and_gradients_match_torch(name, dtype):
    tmod = _twin(name, dtype)
    net = _abstract(name, dtype)
    assert load_torch_state_dict(net, tmod.state_dict()) == ([], [])
    r = np.random.default_rng(1)
    x = r.standard_normal(CASES[name][2])
    cot = r.standard_normal((x.shape[0], 10))
    # torch: d(sum(out * cot)) w.r.t. the input and every parameter
    tx = torch.tensor(x, dtype=DTYPES[dtype][0], requires_grad=True)
    tout = tmod(tx)
    (tout * torch.tensor(cot, dtype=DTYPES[dtype][0])).sum().backward()
    # jloss: the same, NHWC input, gradients w.r.t. the parameters converted back to torch's layout
    graphdef, state = nnx.split(net)
    jdt = DTYPES[dtype][1]
    out, gstate, gx = _value_and_grads(graphdef)(state, jnp.asarray(_nhwc(x), jdt), jnp.asarray(cot, jdt))
    assert out.dtype == jdt
    _assert_close("output", np.asarray(out), tout.detach().numpy(), dtype)
    _assert_close("grad input", np.asarray(gx), _nhwc(tx.grad.numpy()), dtype)
    grads = torch_state_dict(nnx.merge(graphdef, gstate))
    assert list(grads) == [k for k, _ in tmod.named_parameters()]
    for k, p in tmod.named_parameters():
        _assert_close(f"grad {k}", grads[k], p.grad.numpy(), dtype)


# ---- the conversion itself ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", list(TOL))
@pytest.mark.parametrize("name", list(CASES))
def test_round_trip_is_exact_and_torch_loads_it(name, dtype):
    tmod = _twin(name, dtype)
    sd = tmod.state_dict()
    net = _abstract(name, dtype)
    load_torch_state_dict(net, sd)
    back = torch_state_dict(net)
    assert list(back) == list(sd)  # torch's key order
    for k, v in sd.items():
        assert isinstance(back[k], np.ndarray) and back[k].flags.c_contiguous and back[k].flags.writeable
        assert back[k].dtype == v.numpy().dtype
        np.testing.assert_array_equal(back[k], v.numpy(), err_msg=k)
    # torch takes it as is, strictly; and so does jloss (numpy arrays in, no torch needed)
    other = _twin(name, dtype, seed=1)
    other.load_state_dict({k: torch.from_numpy(v) for k, v in back.items()})
    again = _abstract(name, dtype)
    load_torch_state_dict(again, back)
    assert all(np.array_equal(torch_state_dict(again)[k], back[k]) for k in back)


def test_jloss_weights_exported_to_torch_give_the_same_outputs():
    net = LinearNet(rngs=nnx.Rngs(3))
    tmod = nn.Linear(10, 10)
    tmod.load_state_dict({k: torch.from_numpy(v) for k, v in torch_state_dict(net).items()})
    x = np.random.default_rng(0).standard_normal((5, 10)).astype(np.float32)
    _assert_close("output", np.asarray(net(x)), tmod(torch.from_numpy(x)).detach().numpy(), "float32")


def test_flatten_permutation_is_what_makes_outputs_match():
    """Control: loading fc1 without the (C,H,W) -> (H,W,C) row permutation changes the output."""
    tmod = _twin("Net")
    net = _abstract("Net")
    load_torch_state_dict(net, tmod.state_dict())
    x = np.random.default_rng(2).standard_normal((2, 1, 32, 32)).astype(np.float32)
    want = tmod(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(np.asarray(net(_nhwc(x))), want, rtol=1e-5, atol=1e-6)
    net.fc1.kernel.set_value(jnp.asarray(tmod.fc1.weight.detach().numpy().T))  # naive transpose only
    assert np.max(np.abs(np.asarray(net(_nhwc(x))) - want)) > 1e-3


def test_casts_to_the_parameter_dtype_and_takes_bfloat16_tensors():
    tmod = _twin("LinearNet", "float64")
    net = _abstract("LinearNet", "float32")
    load_torch_state_dict(net, tmod.state_dict())
    assert net.kernel.dtype == jnp.float32
    np.testing.assert_array_equal(torch_state_dict(net)["weight"], tmod.weight.detach().numpy().astype(np.float32))
    bf = {k: v.to(torch.bfloat16) for k, v in tmod.state_dict().items()}
    net16 = nnx.eval_shape(lambda: LinearNet(rngs=nnx.Rngs(0), param_dtype=jnp.bfloat16))
    load_torch_state_dict(net16, bf)
    got = torch_state_dict(net16)["weight"]
    assert got.dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(got.astype(np.float32), bf["weight"].float().numpy())


# ---- strictness and named errors ------------------------------------------------------------------


def test_strict_missing_and_unexpected_keys_are_named():
    sd = dict(_twin("Net").state_dict())
    del sd["fc3.bias"]
    sd["fc4.weight"] = torch.zeros(3)
    with pytest.raises(ValueError, match=r"^load_torch_state_dict: .*missing keys \['fc3.bias'\].*unexpected keys \['fc4.weight'\]"):
        load_torch_state_dict(_abstract("Net"), sd)
    # not strict: the rest is loaded, the keys come back as torch's load_state_dict returns them
    net = _abstract("Net")
    res = load_torch_state_dict(net, sd, strict=False)
    assert res.missing_keys == ["fc3.bias"] and res.unexpected_keys == ["fc4.weight"]
    np.testing.assert_array_equal(np.asarray(net.fc3.kernel.get_value()).T, sd["fc3.weight"].numpy())
    assert isinstance(net.fc3.bias.get_value(), jax.ShapeDtypeStruct)  # not loaded: left as it was


@pytest.mark.parametrize(
    ("name", "key", "bad", "expected"),
    [("Net", "conv1.weight", (6, 1, 3, 3), (6, 1, 5, 5)), ("Net", "fc1.weight", (120, 256), (120, 400)),
     ("CIFAR10Net", "model1.7.weight", (64, 1025), (64, 1024)), ("LinearNet", "bias", (11,), (10,))],
)
def test_wrong_shape_names_key_expected_and_got(name, key, bad, expected):
    sd = dict(_twin(name).state_dict())
    sd[key] = torch.zeros(bad)
    msg = f"^{re.escape(f'load_torch_state_dict: {key} must have shape {expected}')}.*{re.escape(f'got {bad}')}"
    with pytest.raises(ValueError, match=msg):
        load_torch_state_dict(_abstract(name), sd)
    with pytest.raises(ValueError, match=key):  # shapes are checked when not strict too
        load_torch_state_dict(_abstract(name), sd, strict=False)


def test_failed_load_writes_nothing():
    net = LinearNet(rngs=nnx.Rngs(0))
    before = torch_state_dict(net)
    sd = {"weight": np.ones((10, 10), np.float32), "bias": np.ones((9,), np.float32)}  # weight ok, bias not
    with pytest.raises(ValueError, match="bias"):
        load_torch_state_dict(net, sd)
    assert all(np.array_equal(torch_state_dict(net)[k], before[k]) for k in before)


def test_unsupported_module_and_bad_state_dict_are_type_errors():
    with pytest.raises(TypeError, match=r"^load_torch_state_dict: module must be one of jloss.models.Net, jloss.models.CIFAR10Net, jloss.models.LinearNet, got Linear"):
        load_torch_state_dict(nnx.eval_shape(lambda: nnx.Linear(2, 2, rngs=nnx.Rngs(0))), {})
    with pytest.raises(TypeError, match="^torch_state_dict: module must be one of"):
        torch_state_dict(object())
    with pytest.raises(TypeError, match="^load_torch_state_dict: state_dict must be a mapping"):
        load_torch_state_dict(_abstract("LinearNet"), [("weight", np.zeros((10, 10)))])
    with pytest.raises(TypeError, match="^load_torch_state_dict: weight must be a numeric"):
        load_torch_state_dict(_abstract("LinearNet"), {"weight": "w", "bias": np.zeros(10)})


def test_loaded_weights_do_not_retrace_a_jitted_forward():
    traces = []

    @nnx.jit
    def forward(m, x):
        traces.append(1)
        return m(x)

    net = _abstract("LinearNet")
    load_torch_state_dict(net, _twin("LinearNet", seed=0).state_dict())
    x = jnp.ones((2, 10), jnp.float32)
    y0 = forward(net, x)
    t1 = _twin("LinearNet", seed=1)
    load_torch_state_dict(net, t1.state_dict())
    y1 = forward(net, x)
    assert len(traces) == 1 and not np.allclose(np.asarray(y0), np.asarray(y1))
    _assert_close("output", np.asarray(y1), t1(torch.ones(2, 10)).detach().numpy(), "float32")


# ---- checkpoint files -----------------------------------------------------------------------------


def _no_tensors(obj):
    if isinstance(obj, dict):
        return all(_no_tensors(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return all(_no_tensors(v) for v in obj)
    return not isinstance(obj, torch.Tensor)


def test_reads_a_torch_training_checkpoint(tmp_path):
    tmod = _twin("Net")
    opt = torch.optim.Adam(tmod.parameters(), lr=1e-3)
    tmod(torch.randn(2, 1, 32, 32)).square().sum().backward()
    opt.step()
    path = tmp_path / "ckpt.pt"
    torch.save({"model": tmod.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}, path)
    ckpt = load_torch_checkpoint(path)
    assert ckpt["epoch"] == 3 and _no_tensors(ckpt)
    assert list(ckpt["model"]) == list(tmod.state_dict())
    for k, v in tmod.state_dict().items():
        assert isinstance(ckpt["model"][k], np.ndarray)
        np.testing.assert_array_equal(ckpt["model"][k], v.numpy())
    tsd = opt.state_dict()
    assert ckpt["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert ckpt["optimizer"]["param_groups"][0]["params"] == tsd["param_groups"][0]["params"]
    for i, st in tsd["state"].items():
        for k in ("step", "exp_avg", "exp_avg_sq"):
            np.testing.assert_array_equal(ckpt["optimizer"]["state"][i][k], st[k].numpy())
    net = _abstract("Net")
    load_torch_state_dict(net, ckpt["model"])  # straight into the jloss net
    np.testing.assert_array_equal(torch_state_dict(net)["fc1.weight"], tmod.fc1.weight.detach().numpy())


_SIDE_EFFECTS = []


def _side_effect():
    _SIDE_EFFECTS.append("ran")
    return "pwned"


class _Evil:
    def __reduce__(self):
        return (_side_effect, ())


def test_arbitrary_pickled_objects_are_refused_and_never_run(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": {"w": torch.zeros(2)}, "payload": _Evil()}, path)
    with pytest.raises(ValueError, match=r"^load_torch_checkpoint: refused to load .*evil\.pt.*unsafe"):
        load_torch_checkpoint(path)
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(ValueError, match=r"^load_torch_checkpoint: refused to load .*plain\.pkl"):
        load_torch_checkpoint(plain)
    assert _SIDE_EFFECTS == []


def test_missing_garbage_empty_and_directory_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^load_torch_checkpoint: no such file: .*nope\.pt"):
        load_torch_checkpoint(tmp_path / "nope.pt")
    for fname, data in (("garbage.pt", b"this is not a checkpoint" * 8), ("empty.pt", b"")):
        (tmp_path / fname).write_bytes(data)
        with pytest.raises(ValueError, match=rf"^load_torch_checkpoint: .*{fname.replace('.', '[.]')}.* is not a valid torch checkpoint"):
            load_torch_checkpoint(tmp_path / fname)
    with pytest.raises(ValueError, match="is a directory"):
        load_torch_checkpoint(tmp_path)


class _Pair(NamedTuple):
    a: int
    b: int


def test_save_is_read_back_by_torch_weights_only(tmp_path):
    r = np.random.default_rng(0)
    bf = jnp.asarray(r.standard_normal(3), jnp.bfloat16)
    obj = {
        "model": torch_state_dict(_loaded("LinearNet")),
        "jax": {"f32": jnp.arange(3, dtype=jnp.float32), "f64": jnp.asarray(r.standard_normal((2, 2))),
                "i32": jnp.arange(4, dtype=jnp.int32), "bf16": bf},
        "misc": [1, 2.5, "s", None, (np.float64(3.0), True), torch.ones(2)],
        "epoch": 3,
    }
    path = tmp_path / "out.pt"
    save_torch_checkpoint(obj, path)
    got = torch.load(path, weights_only=True)
    assert got["epoch"] == 3 and got["misc"][:4] == [1, 2.5, "s", None]
    assert isinstance(got["misc"][4], tuple) and got["misc"][4][1] is True
    assert got["misc"][4][0].dtype == torch.float64 and float(got["misc"][4][0]) == 3.0
    for k, v in obj["model"].items():
        assert torch.equal(got["model"][k], torch.from_numpy(v))
    assert got["jax"]["f32"].dtype == torch.float32 and got["jax"]["f64"].dtype == torch.float64
    assert got["jax"]["i32"].dtype == torch.int32 and got["jax"]["bf16"].dtype == torch.bfloat16
    np.testing.assert_array_equal(got["jax"]["f64"].numpy(), np.asarray(obj["jax"]["f64"]))
    np.testing.assert_array_equal(got["jax"]["bf16"].float().numpy(), np.asarray(bf, np.float32))
    # and back through jloss: same structure, numpy arrays, exact values
    back = load_torch_checkpoint(path)
    assert back["jax"]["bf16"].dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(back["jax"]["bf16"], np.asarray(bf))
    np.testing.assert_array_equal(back["model"]["weight"], obj["model"]["weight"])
    from_file_object = load_torch_checkpoint(io.BytesIO(path.read_bytes()))
    np.testing.assert_array_equal(from_file_object["jax"]["f64"], np.asarray(obj["jax"]["f64"]))
    # a nested torch module can load it
    tmod = nn.Linear(10, 10)
    tmod.load_state_dict(got["model"])


def _loaded(name):
    net = _abstract(name)
    load_torch_state_dict(net, _twin(name).state_dict())
    return net


def test_save_refuses_what_weights_only_could_not_read(tmp_path):
    with pytest.raises(TypeError, match=r"^save_torch_checkpoint: obj\['a'\]\[1\] is a _Evil"):
        save_torch_checkpoint({"a": [1, _Evil()]}, tmp_path / "x.pt")
    with pytest.raises(TypeError, match=r"obj\['p'\] is a _Pair \(a NamedTuple"):
        save_torch_checkpoint({"p": _Pair(1, 2)}, tmp_path / "x.pt")
    with pytest.raises(TypeError, match="only numeric arrays"):
        save_torch_checkpoint({"o": np.array([object()])}, tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()
    with pytest.raises(FileNotFoundError, match="^save_torch_checkpoint: the directory of"):
        save_torch_checkpoint({"a": 1}, tmp_path / "no" / "x.pt")


def test_without_torch_checkpoints_say_how_to_install_and_arrays_still_load(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    with pytest.raises(ImportError, match=r"^load_torch_checkpoint needs torch.*pip install 'jloss\[parity\]'"):
        load_torch_checkpoint(tmp_path / "x.pt")
    with pytest.raises(ImportError, match=r"^save_torch_checkpoint needs torch.*pip install 'jloss\[parity\]'"):
        save_torch_checkpoint({}, tmp_path / "x.pt")
    net = _abstract("LinearNet")  # numpy state_dicts need no torch
    load_torch_state_dict(net, {"weight": np.eye(10, dtype=np.float32), "bias": np.zeros(10, np.float32)})
    np.testing.assert_array_equal(torch_state_dict(net)["weight"], np.eye(10, dtype=np.float32))


def test_loaded_weights_do_not_alias_torch_memory():
    """jnp.asarray can wrap a numpy view of a torch tensor without copying on CPU: training the torch
    model afterwards must not move the jloss weights."""
    import torch  # noqa: PLC0415

    from jloss import interop, models  # noqa: PLC0415

    lin = torch.nn.Linear(10, 10)
    net = models.LinearNet(rngs=nnx.Rngs(0))
    interop.load_torch_state_dict(net, lin.state_dict())
    before = {k: v.copy() for k, v in interop.torch_state_dict(net).items()}
    with torch.no_grad():
        lin.weight.add_(1.0)
        lin.bias.add_(1.0)
    after = interop.torch_state_dict(net)
    assert all(np.array_equal(before[k], after[k]) for k in before)
