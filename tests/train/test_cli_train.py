"""`jloss train` (jloss/_train_cli.py): the README's main job."""

import json

import pytest

from jloss.cli import main


def test_defaults_reach_96_percent_on_held_out_mnist(tmp_path, capsys):
    """The headline claim: LeNet on the 5,000 real MNIST digits, defaults, >= 96% on the 1,000 held out."""
    out = tmp_path / "m.json"
    png = tmp_path / "curves.png"
    assert main(["train", "--no-progress", "--json", str(out), "--plot", str(png)]) == 0
    m = json.loads(out.read_text())
    assert m["test_accuracy"] >= 0.96
    assert len(m["train_loss"]) == len(m["lr"]) == m["epochs"] == 12
    assert m["lr"][0] == 2e-3 and m["lr"][4] == 1e-3  # StepLR(step_size=4, gamma=0.5), per epoch
    assert 0 < m["seconds_to_first_step"] <= m["seconds_to_first_epoch"] <= m["seconds_total"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"test accuracy {m['test_accuracy']:.4f}" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["--model", "cifar10net", "--optimizer", "sgd", "--momentum", "0.9", "--lr", "0.01", "--scheduler", "onecycle"],
    ["--dataset", "digits", "--optimizer", "adamw", "--weight-decay", "0.01", "--scheduler", "plateau"],
])
def test_other_models_optimizers_and_schedulers(argv, tmp_path):
    out = tmp_path / "m.json"
    assert main(["train", "--epochs", "1", "--batch-size", "128", "--no-progress", "--json", str(out), *argv]) == 0
    m = json.loads(out.read_text())
    assert 0.0 <= m["test_accuracy"] <= 1.0 and len(m["lr"]) == 1


def test_resume_continues_from_the_checkpoint(tmp_path):
    ck, out = tmp_path / "c.ckpt", tmp_path / "m.json"
    base = ["train", "--dataset", "digits", "--batch-size", "128", "--no-progress", "--checkpoint", str(ck)]
    assert main([*base, "--epochs", "1"]) == 0
    assert main([*base, "--epochs", "2", "--resume", "--json", str(out)]) == 0
    assert len(json.loads(out.read_text())["train_loss"]) == 2


@pytest.mark.parametrize("argv, message", [
    (["--optimizer", "lbfgs"], "unknown optimizer 'lbfgs'"),
    (["--model", "resnet"], "invalid choice"),
])
def test_bad_flags_exit_2_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", *argv])
    assert e.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--optimizer", "adam", "--momentum", "0.9"], "--momentum: Adam has no momentum argument"),
    (["--dataset", "cifar10"], "--dataset cifar10 needs --data-dir"),
    (["--dataset", "mnist", "--model", "cifar10net"], "has 1 channel(s); --model cifar10net takes 3"),
    (["--batch-size", "0"], "--batch-size must be >= 1"),
])
def test_inconsistent_flags_return_2(argv, message, capsys):
    assert main(["train", "--no-progress", *argv]) == 2
    assert message in capsys.readouterr().err
