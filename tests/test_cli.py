"""`jloss parity`: prints the table, writes JSON, exits non-zero on a mismatch."""

import json

import pytest

from jloss import cli, parity
from jloss.parity import Case, Component


def test_parity_table_and_json(tmp_path, capsys):
    out = tmp_path / "parity.json"
    rc = cli.main(["parity", "--only", "lr_scheduler.MultiStepLR", "--json", str(out), "-q"])
    text = capsys.readouterr().out
    assert rc == 0
    assert "| component | cases | worst f64 | worst f32 | verdict |" in text
    assert "| lr_scheduler.MultiStepLR |" in text and "| ok |" in text
    data = json.loads(out.read_text())
    assert data[0]["component"] == "lr_scheduler.MultiStepLR" and data[0]["passed"]
    assert data[0]["worst_float64"] <= 1e-10


def test_parity_mismatch_exits_nonzero(capsys):
    import numpy as np

    parity.register(
        Component(
            name="test.broken_l1",
            family="test-only",
            jax_fn=lambda x, y: abs(x - y).sum() * 1.001,
            torch_fn=lambda torch: lambda x, y: (x - y).abs().sum(),
            cases=lambda: [Case("a", (np.ones(3), np.zeros(3)))],
        )
    )
    try:
        rc = cli.main(["parity", "--only", "test.broken_l1", "-q"])
        captured = capsys.readouterr()
        assert rc == 1
        assert "MISMATCH" in captured.out
    finally:
        from jloss.parity import _registry

        _registry._REGISTRY.pop("test.broken_l1")


def test_parity_unknown_component(capsys):
    assert cli.main(["parity", "--only", "nope"]) == 2
    assert "no component matches" in capsys.readouterr().err


def test_no_subcommand_is_an_error():
    with pytest.raises(SystemExit):
        cli.main([])
