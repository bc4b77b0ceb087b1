"""The bench report: the machine, the ratio tables (text), the issue-7 targets and the JSON."""

from __future__ import annotations

import json
import os
import platform
import sys
from importlib import metadata
from typing import Any

__all__ = ["PEERS", "machine", "table", "targets", "text", "to_json"]

#: the peer columns of each family's table, in order
PEERS: dict[str, tuple[str, ...]] = {
    "losses": ("torch", "torch.compile", "optax"),
    "optim": ("torch", "torch.foreach", "torch.fused", "optax"),
    "train": ("torch", "torch.compile", "flax"),
}
_SHORT = {"torch": "torch", "torch.compile": "t.compile", "optax": "optax", "torch.foreach": "t.foreach",
          "torch.fused": "t.fused", "flax": "flax"}


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_gb() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024 / 1e9
    except OSError:
        pass
    return None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine(torch_available: bool = True) -> dict[str, Any]:
    """CPU model, cores, memory, OS, the versions of python / jax / jaxlib / optax / flax / torch."""
    import jax  # noqa: PLC0415

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count()
    return {
        "cpu": _cpu_model(), "cores": os.cpu_count(), "usable_cores": usable, "memory_gb": _memory_gb(),
        "os": platform.platform(), "python": platform.python_version(),
        "versions": {d: _version(d) for d in ("jloss", "jax", "jaxlib", "optax", "flax", "numpy")}
        | {"torch": _version("torch") if torch_available else None},
        "jax_backend": jax.default_backend(), "jax_devices": [str(d) for d in jax.devices()],
        "xla_flags": os.environ.get("XLA_FLAGS"),
    }


# ---- targets -----------------------------------------------------------------------------------


def _ratio(rows: list[dict], name: str, variant: str, peer: str) -> float | None:
    for r in rows:
        if r["name"] == name and r["variant"] == variant:
            return r["ratios"].get(peer)
    return None


def targets(rows: list[dict], backend: str = "cpu") -> list[dict[str, Any]]:
    """Each issue-7 target that the measured rows cover: ``{"target", "workload", "variant",
    "peer", "ratio" (jloss / peer, times), "threshold", "met" (None: not measured)}``."""
    out: list[dict[str, Any]] = []

    def add(target: str, name: str, variant: str, peer: str, threshold: float, note: str = "") -> None:
        ratio = _ratio(rows, name, variant, peer)
        out.append({"target": target, "workload": name, "variant": variant, "peer": peer, "ratio": ratio,
                    "threshold": threshold, "met": None if ratio is None else ratio <= threshold, "note": note})

    names = {r["name"]: r for r in rows}
    for name, r in names.items():
        if r["family"] == "losses":
            add("loss fwd+grad <= 1.0x torch.compile", name, "fwd+grad", "torch.compile", 1.0)
            add("loss fwd+grad <= 0.5x torch eager", name, "fwd+grad", "torch", 0.5)
    if "cross_entropy:4096x32000" in names:
        add("cross entropy 4096x32000 fwd+grad <= 0.8x torch.compile", "cross_entropy:4096x32000", "fwd+grad",
            "torch.compile", 0.8)
    if "ctc_loss:T200xB32" in names:
        add("CTC B=32 fwd+grad <= 0.5x torch", "ctc_loss:T200xB32", "fwd+grad", "torch", 0.5)
    if "ctc_loss:T200xB1" in names:
        add("CTC B=1 fwd+grad <= 1.0x torch", "ctc_loss:T200xB1", "fwd+grad", "torch", 1.0)
    for name, r in names.items():
        if r["family"] == "optim":
            if r["component"] in ("adam", "adamw", "sgd"):
                add("Adam / AdamW / SGD-momentum step <= 1.0x torch fused=True", name, "step", "torch.fused", 1.0)
            else:
                add("other optimizer step <= 0.5x torch default", name, "step", "torch", 0.5)
        elif r["family"] == "train":
            add("train step >= 1.0x torch eager steps/s (time ratio <= 1.0)", name, "train", "torch", 1.0)
    out.append({"target": "jloss train first step <= 3 s on a warm compilation cache", "workload": None,
                "variant": None, "peer": None, "ratio": None, "threshold": 3.0, "met": None,
                "note": "not measured by jloss bench: time `jloss train` twice (the second on a warm cache)"})
    if backend != "gpu":
        out.append({"target": "GPU: cross entropy and Adam >= 70% of the card's peak bandwidth", "workload": None,
                    "variant": None, "peer": None, "ratio": None, "threshold": 0.7, "met": None,
                    "note": f"not applicable: this run's JAX backend is {backend}"})
    return out


# ---- text --------------------------------------------------------------------------------------


def _t(s: float | None) -> str:
    if s is None:
        return "-"
    if s >= 1.0:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} us"


def _x(r: float | None) -> str:
    return "-" if r is None else (f"{r:.2f}x" if r >= 0.1 else f"{r:.3f}x")


def table(rows: list[dict], family: str) -> str:
    """The text table of one family: times (medians per iteration), ratios jloss / peer, GB/s,
    fraction of the probe's bandwidth and compile seconds."""
    peers = PEERS[family]
    rows = [r for r in rows if r["family"] == family]
    if not rows:
        return ""
    head = ["workload", "variant", "jloss", *(_SHORT[p] for p in peers), *(f"/{_SHORT[p]}" for p in peers)]
    if family == "train":
        head += ["jloss steps/s", "torch steps/s"]
    else:
        head += ["GB/s", "%bw"]
    head += ["compile s (jloss" + (", t.compile)" if "torch.compile" in peers else ")")]
    lines = []
    for r in rows:
        p = r["peers"]
        med = {k: v.get("median_s") for k, v in p.items()}
        cells = [r["name"], r["variant"], _t(med.get("jloss"))]
        cells += [_t(med.get(k)) if k in p and "error" not in p[k] else ("err" if k in p else "-") for k in peers]
        cells += [_x(r["ratios"].get(k)) for k in peers]
        if family == "train":
            cells += [f"{1 / med['jloss']:.1f}" if med.get("jloss") else "-",
                      f"{1 / med['torch']:.1f}" if med.get("torch") else "-"]
        else:
            cells += ["-" if r["jloss_gbs"] is None else f"{r['jloss_gbs']:.1f}",
                      "-" if r["bw_fraction"] is None else f"{100 * r['bw_fraction']:.0f}%"]
        comp = [p.get("jloss", {}).get("compile_s")]
        if "torch.compile" in peers:
            comp.append(p.get("torch.compile", {}).get("compile_s"))
        cells.append(", ".join("-" if c is None else f"{c:.2f}" for c in comp))
        lines.append(cells)
    widths = [max(len(str(c)) for c in col) for col in zip(head, *lines, strict=True)]
    fmt = lambda cs: "  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w)  # noqa: E731
                               for i, (c, w) in enumerate(zip(cs, widths, strict=True)))
    out = [f"== {family} ==", fmt(head), fmt(["-" * w for w in widths])]
    out += [fmt(c) for c in lines]
    return "\n".join(out)


def text(result: dict[str, Any]) -> str:
    """The whole report as text: machine, probe, one table per family, targets, errors."""
    m, pr = result["machine"], result["probe"]
    mem = "?" if m.get("memory_gb") is None else f"{m['memory_gb']:.0f}"
    out = [f"jloss bench{' --quick' if result['settings']['quick'] else ''}: {m['cpu']}, {m['usable_cores']} "
           f"cores, {mem} GB, {m['os']}; jax {m['versions']['jax']} ({m['jax_backend']}), "
           f"torch {m['versions']['torch']}",
           "memory bandwidth probe: " + ", ".join(f"{k} {v['gbs']:.1f} GB/s" for k, v in pr["probes"].items())
           + f" (reference: {pr['gbs']:.1f} GB/s, {pr['best']})",
           f"load average at start / end: {result['settings'].get('load_average_start')} / "
           f"{result['settings'].get('load_average_end')}; torch threads {result['settings'].get('torch_threads')}",
           "times are medians per iteration; ratios are jloss / peer (< 1: jloss faster)", ""]
    for fam in PEERS:
        t = table(result["results"], fam)
        if t:
            out += [t, ""]
    tg = result["targets"]
    measured = [t for t in tg if t["met"] is not None]
    out.append(f"== targets (issue 7): {sum(t['met'] for t in measured)} of {len(measured)} measured met ==")
    for t in tg:
        mark = "n/a" if t["met"] is None else ("met" if t["met"] else "NOT met")
        where = f"{t['workload']} {t['variant']} vs {t['peer']}: {_x(t['ratio'])} " if t["workload"] else ""
        out.append(f"  [{mark:7s}] {t['target']}: {where}{t['note']}".rstrip())
    errs = [(r["name"], r["variant"], k, v["error"]) for r in result["results"] for k, v in r["peers"].items()
            if "error" in v]
    if errs:
        out += ["", "== errors =="] + [f"  {n} {v} {k}: {e}" for n, v, k, e in errs]
    if result.get("skipped"):
        out += ["", "== skipped =="] + [f"  {k}: {v}" for k, v in result["skipped"].items()]
    out.append(f"\n{len(result['results'])} measurements in {result['elapsed_s']:.0f} s")
    return "\n".join(out)


def to_json(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=1, default=lambda o: repr(o))


def _main() -> None:  # pragma: no cover - `python -m jloss.bench._report result.json` reprints a report
    with open(sys.argv[1]) as f:
        print(text(json.load(f)))


if __name__ == "__main__":  # pragma: no cover
    _main()
