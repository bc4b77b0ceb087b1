"""Smoke tests of jloss.bench, `jloss bench` and the README performance table (quick sizes; nothing
here is timed: the figures of a --quick run mean nothing, only their structure is checked)."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

import jloss.functional as F
import jloss.optim
from jloss import bench, cli
from jloss.bench import _optim

ROOT = Path(__file__).resolve().parent.parent
ONLY = ["mse_loss", "cross_entropy:65536x10", "sgd", "Net:b64"]


def _update_readme():
    spec = importlib.util.spec_from_file_location("update_readme", ROOT / "tools" / "update_readme.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def result():
    pytest.importorskip("torch")
    return bench.run(only=ONLY, quick=True, repeats=2, compile=False, torch_threads=1, progress=None)


def _rows(res, name):
    return {r["variant"]: r for r in res["results"] if r["name"] == name}


# ---- the workload registry ---------------------------------------------------------------------


def test_every_loss_and_optimizer_has_a_workload():
    comps = {w.component for w in bench.workloads()}
    for name in (*F.TORCH_LOSSES, "pairwise_distance", "cosine_similarity", "dice_loss", "sigmoid_focal_loss",
                 "softmax_focal_loss"):
        assert name in comps, name
    lowercase = [n for n in jloss.optim.__all__ if n.islower()]
    assert len(lowercase) == 15
    for name in lowercase:
        assert (name in comps) != (name in _optim.SKIPPED), name
    assert sum(math.prod(s) for s in _optim.SHAPES) == 50_000_000 and len(_optim.SHAPES) == 20
    names = [w.name for w in bench.workloads()]
    assert len(names) == len(set(names))


def test_select_matches_name_family_component():
    assert {w.family for w in bench.select(["optim"])} == {"optim"}
    assert [w.name for w in bench.select(["cross_entropy"])] == ["cross_entropy:4096x32000", "cross_entropy:65536x10"]
    assert [w.name for w in bench.select(["ctc_loss:T200xB1"])] == ["ctc_loss:T200xB1"]
    assert {w.name for w in bench.select(["Net", "adam"])} == {"Net:b64", "Net:b256", "adam:50M"}
    assert len(bench.select(None)) == len(bench.workloads())
    with pytest.raises(ValueError, match="select: no workload matches \\['nope'\\]"):
        bench.select(["adam", "nope"])
    with pytest.raises(ValueError, match="select: lbfgs is not benchmarked: LBFGS steps with a closure"):
        bench.select(["lbfgs"])


# ---- timing and probe --------------------------------------------------------------------------


def test_measure_reports_failures_and_statistics():
    def bad():
        raise RuntimeError("boom")

    out = bench.measure({"jloss": lambda: None, "bad": bad, "torch": lambda: sum(range(100))},
                        repeats=3, min_time=1e-4)
    assert out["bad"] == {"error": "RuntimeError: boom"}
    for name in ("jloss", "torch"):
        s = out[name]
        assert len(s["times_s"]) == 3 and s["iters"] >= 1
        assert s["min_s"] <= s["q1_s"] <= s["median_s"] <= s["q3_s"] <= s["max_s"]
    assert out["jloss"]["compile_s"] is not None and out["torch"]["compile_s"] is None


def test_probe_structure():
    p = bench.probe(n=1 << 14, repeats=2)
    assert set(p["probes"]) == {"numpy_copy", "numpy_triad", "jax_triad", "jax_triad_fresh"}
    assert p["best"] in ("numpy_copy", "numpy_triad", "jax_triad")
    assert p["gbs"] == max(p["probes"][k]["gbs"] for k in ("numpy_copy", "numpy_triad", "jax_triad")) > 0
    assert p["probes"]["jax_triad"]["bytes"] == 3 * 4 * (1 << 14)


def test_run_rejects_bad_repeats():
    with pytest.raises(ValueError, match="run: repeats must be an int >= 1, got 0"):
        bench.run(only=["mse_loss"], repeats=0, progress=None)


# ---- a quick run with torch --------------------------------------------------------------------


def test_run_schema_and_ratios(result):
    assert result["schema"] == bench.SCHEMA
    assert result["settings"]["quick"] is True and result["settings"]["only"] == ONLY
    assert result["machine"]["versions"]["torch"] and result["machine"]["cores"] >= 1
    assert {r["name"] for r in result["results"]} == {"mse_loss:16M", "cross_entropy:65536x10", "sgd:50M", "Net:b64"}
    for r in result["results"]:
        jl = r["peers"]["jloss"]
        assert "error" not in jl and jl["median_s"] > 0
        for peer, ratio in r["ratios"].items():
            assert ratio == pytest.approx(jl["median_s"] / r["peers"][peer]["median_s"])
    mse = _rows(result, "mse_loss:16M")
    assert set(mse) == {"fwd", "fwd+grad"}
    assert set(mse["fwd+grad"]["peers"]) == {"jloss", "torch", "optax"}
    assert "torch.compile" in mse["fwd"]["skipped"]
    n = math.prod(int(d) for d in mse["fwd"]["shape"].split("x"))
    assert mse["fwd"]["bytes"] == 8 * n + 4 and mse["fwd+grad"]["bytes"] == 12 * n + 4  # read x, y (+ write grad)
    gbs = mse["fwd+grad"]["bytes"] / mse["fwd+grad"]["peers"]["jloss"]["median_s"] / 1e9
    assert mse["fwd+grad"]["jloss_gbs"] == pytest.approx(gbs)
    assert mse["fwd+grad"]["bw_fraction"] == pytest.approx(gbs / result["probe"]["gbs"])
    sgd = _rows(result, "sgd:50M")["step"]
    assert {"jloss", "torch", "torch.foreach", "torch.fused", "optax"} <= set(sgd["peers"])
    n_params = int(sgd["shape"].split()[0].replace(",", ""))
    assert sgd["bytes"] == 5 * 4 * n_params  # p, g, momentum read; p, momentum written
    net = _rows(result, "Net:b64")["train"]
    assert {"jloss", "torch", "flax"} <= set(net["peers"]) and net["bytes"] is None


def test_targets_and_text(result):
    tg = {(t["target"], t["workload"]): t for t in result["targets"]}
    t = tg[("loss fwd+grad <= 0.5x torch eager", "mse_loss:16M")]
    assert t["ratio"] == _rows(result, "mse_loss:16M")["fwd+grad"]["ratios"]["torch"]
    assert t["met"] == (t["ratio"] <= 0.5)
    assert tg[("loss fwd+grad <= 1.0x torch.compile", "mse_loss:16M")]["met"] is None  # compile left out
    assert tg[("Adam / AdamW / SGD-momentum step <= 1.0x torch fused=True", "sgd:50M")]["peer"] == "torch.fused"
    assert ("train step >= 1.0x torch eager steps/s (time ratio <= 1.0)", "Net:b64") in tg
    txt = bench.text(result)
    for piece in ("== losses ==", "== optim ==", "== train ==", "== targets (issue 7)", "mse_loss:16M"):
        assert piece in txt
    assert result["skipped"] == {} and "== skipped ==" not in txt  # LBFGS / SparseAdam: with the optim family
    back = json.loads(bench.to_json(result))
    assert back["results"][0]["peers"]["jloss"]["times_s"] == result["results"][0]["peers"]["jloss"]["times_s"]


def test_readme_bench_table(result, tmp_path):
    ur = _update_readme()
    path = tmp_path / "bench.json"
    path.write_text(bench.to_json(result))
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- bench:start -->\nOLD-TABLE\n<!-- bench:end -->\n<!-- parity:start -->\np\n"
                      "<!-- parity:end -->\noutro\n")
    ur.main(["--bench", str(path), "--readme", str(readme)])
    text = readme.read_text()
    body = text.split("<!-- bench:start -->")[1].split("<!-- bench:end -->")[0]
    assert "OLD-TABLE" not in body and "--quick sample" in body
    assert "| mse_loss:16M | fwd+grad |" in body and "| Net:b64 | train |" in body
    assert "| workload | variant | jloss | vs torch | vs torch.fused | vs optax | GB/s (% of probe) |" in body
    assert text.startswith("intro\n") and text.endswith("<!-- parity:end -->\noutro\n") and "\np\n" in text
    # the parity mode still works
    parity = tmp_path / "parity.json"
    parity.write_text(json.dumps([{"component": "mse_loss", "cases": 3, "worst_float64": 1e-16,
                                   "worst_float32": 2e-7, "passed": True}]))
    ur.main([str(parity), "--readme", str(readme)])
    assert "| mse_loss | 3 | 1.0e-16 | 2.0e-07 | ok |" in readme.read_text()
    assert "| Net:b64 | train |" in readme.read_text()
    with pytest.raises(SystemExit, match="markers"):
        ur.main(["--bench", str(path), "--readme", str(parity)])


# ---- without torch, and the command line -------------------------------------------------------


def test_run_without_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    res = bench.run(only=["mse_loss", "sgd"], quick=True, repeats=2, progress=None)
    assert res["machine"]["versions"]["torch"] is None and res["settings"]["torch_threads"] is None
    for r in res["results"]:
        assert set(r["peers"]) == {"jloss", "optax"} and set(r["ratios"]) == {"optax"}
        assert r["skipped"]["torch"] == "torch is not installed"
    assert "== losses ==" in bench.text(res)


def test_cli_exit_codes(tmp_path, capsys):
    assert cli.main(["bench", "--only", "nope"]) == 2
    assert "no workload matches ['nope']" in capsys.readouterr().err
    assert cli.main(["bench", "--only", "mse_loss", "--repeats", "0"]) == 2
    assert "--repeats must be >= 1, got 0" in capsys.readouterr().err
    out = tmp_path / "b.json"
    assert cli.main(["bench", "--quick", "--only", "l1_loss", "--repeats", "1", "--no-compile", "--torch-threads",
                     "1", "-q", "--json", str(out)]) == 0
    printed = capsys.readouterr()
    assert "l1_loss:16M" in printed.out and printed.err == ""
    data = json.loads(out.read_text())
    assert [r["variant"] for r in data["results"]] == ["fwd", "fwd+grad"]
    assert data["settings"]["repeats"] == 1 and data["settings"]["torch_compile"] is False
