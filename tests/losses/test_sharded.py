"""Every jloss.functional loss gives the same value and gradient on a batch split over 8 devices as on
one device (global means, weighted-mean denominators, ignore_index counts, CTC per-sequence
normalisation, kl_div batchmean).

The comparison runs in a subprocess (tests/_sharded/losses.py) with 8 simulated CPU devices: JAX
reads ``--xla_force_host_platform_device_count`` once, at start, and this process keeps one device.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import jloss.functional as F

HELPER = Path(__file__).resolve().parents[1] / "_sharded" / "losses.py"
# the LLVM backend at -O0 halves the compile time of the helper's two big programs; both placements
# are compiled with it, and the partitioning (what is tested) is XLA's, upstream of LLVM
XLA_FLAGS = "--xla_force_host_platform_device_count=8 --xla_backend_optimization_level=0"
TOL = {"float32": 1e-6, "float64": 1e-12}


@pytest.fixture(scope="module")
def report():
    env = dict(os.environ, XLA_FLAGS=XLA_FLAGS, JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, str(HELPER)], env=env, capture_output=True, text=True, timeout=900,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout)


def test_ran_on_8_devices_and_covered_every_loss(report):
    assert report["devices"] == 8
    assert set(F.__all__) <= set(report["functions"]), set(F.__all__) - set(report["functions"])
    for semantics in ("cross_entropy/weight-ignore", "nll_loss/weight-ignore", "kl_div/batchmean",
                      "ctc_loss/mean-zero_infinity", "softmax_focal_loss/weight-ignore"):
        assert semantics in report["cases"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sharded_equals_single_device(report, dtype):
    """Normwise relative error of the value and of every gradient: <= 1e-6 (f32), <= 1e-12 (f64)."""
    errs = {name: by_dtype[dtype] for name, by_dtype in report["cases"].items()}
    bad = {name: e for name, e in errs.items() if not max(e) <= TOL[dtype]}  # NaN fails too
    assert not bad, f"{dtype}: sharded != single-device for {bad}"
