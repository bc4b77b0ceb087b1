"""Regenerate the README's generated tables: parity (from `jloss parity --json`) and performance
(from `jloss bench --json`).

    jloss parity --json parity.json && python tools/update_readme.py parity.json
    jloss bench --json benchmarks/results/X.json && python tools/update_readme.py --bench benchmarks/results/X.json

Replaces the text between the `<!-- parity:start -->` and `<!-- parity:end -->` markers, or, with
`--bench`, between `<!-- bench:start -->` and `<!-- bench:end -->`. `--readme PATH` edits another file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

START, END = "<!-- parity:start -->", "<!-- parity:end -->"
BENCH_START, BENCH_END = "<!-- bench:start -->", "<!-- bench:end -->"
README = Path(__file__).resolve().parent.parent / "README.md"
#: ratio columns of each family's performance table
BENCH_PEERS = {"losses": ("torch", "torch.compile", "optax"), "optim": ("torch", "torch.fused", "optax"),
               "train": ("torch", "torch.compile", "flax")}


def fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.1e}"


def table(rows: list[dict]) -> str:
    out = ["| component | cases | worst f64 | worst f32 | verdict |", "|---|---:|---:|---:|---|"]
    for r in rows:
        out.append(f"| {r['component']} | {r['cases']} | {fmt(r['worst_float64'])} | {fmt(r['worst_float32'])} | "
                   f"{'ok' if r['passed'] else 'MISMATCH'} |")
    total = sum(r["cases"] for r in rows)
    out.append(f"\n{len(rows)} components, {total} cases.")
    return "\n".join(out)


def _time(s: float | None) -> str:
    if s is None:
        return "-"
    return f"{s:.2f} s" if s >= 1 else (f"{s * 1e3:.2f} ms" if s >= 1e-3 else f"{s * 1e6:.0f} us")


def _ratio(r: float | None) -> str:
    return "-" if r is None else (f"{r:.2f}x" if r >= 0.1 else f"{r:.3f}x")


def bench_table(result: dict) -> str:
    """The README's performance section from a `jloss bench --json` result."""
    m, pr, st = result["machine"], result["probe"], result["settings"]
    load = st.get("load_average_start")
    mem = "?" if m.get("memory_gb") is None else f"{m['memory_gb']:.0f}"
    out = [f"Measured by `jloss bench` on {m['cpu']} ({m['usable_cores']} cores, {mem} GB, "
           f"{m['os']}), jax {m['versions']['jax']}, optax {m['versions']['optax']}, flax {m['versions']['flax']}, "
           f"torch {m['versions']['torch']}; memory bandwidth probe {pr['gbs']:.1f} GB/s ({pr['best']})"
           + ("; **--quick sample: sizes shrunk ~100x, not a measurement**" if st.get("quick") else "")
           + (f"; **loaded machine: load average {load[0]} on {m['usable_cores']} cores, ratios unreliable**"
              if load and load[0] > m["usable_cores"] else "") + ".",
           "Times are medians per iteration; ratios are jloss / peer, so below 1.00x jloss is faster.", ""]
    for fam, peers in BENCH_PEERS.items():
        rows = [r for r in result["results"] if r["family"] == fam]
        if not rows:
            continue
        extra = "steps/s" if fam == "train" else "GB/s (% of probe)"
        out += [f"**{fam}**", "",
                "| workload | variant | jloss | " + " | ".join(f"vs {p}" for p in peers) + f" | {extra} |",
                "|---|---|---:|" + "---:|" * len(peers) + "---:|"]
        for r in rows:
            med = r["peers"].get("jloss", {}).get("median_s")
            if fam == "train":
                last = "-" if not med else f"{1 / med:.0f}"
            else:
                last = "-" if r["jloss_gbs"] is None else f"{r['jloss_gbs']:.1f} ({100 * r['bw_fraction']:.0f}%)"
            ratios = " | ".join(_ratio(r["ratios"].get(p)) for p in peers)
            out.append(f"| {r['name']} | {r['variant']} | {_time(med)} | {ratios} | {last} |")
        out.append("")
    measured = [t for t in result["targets"] if t["met"] is not None]
    out.append(f"Issue-7 targets: {sum(t['met'] for t in measured)} of {len(measured)} measured met.")
    missed = [t for t in measured if not t["met"]]
    if missed:
        out += ["", "| target not met | workload | ratio | threshold |", "|---|---|---:|---:|"]
        out += [f"| {t['target']} | {t['workload']} {t['variant']} vs {t['peer']} | {_ratio(t['ratio'])} | "
                f"{t['threshold']:.2f}x |" for t in missed]
    return "\n".join(out)


def replace_between(text: str, start: str, end: str, body: str) -> str:
    """``text`` with everything between the ``start`` and ``end`` markers replaced by ``body``."""
    if start not in text or end not in text:
        raise SystemExit(f"update_readme: the markers {start} ... {end} are not in the README")
    a, b = text.index(start) + len(start), text.index(end)
    return text[:a] + "\n" + body + "\n" + text[b:]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("parity", nargs="?", default="parity.json", help="a `jloss parity --json` file")
    ap.add_argument("--bench", metavar="PATH", help="a `jloss bench --json` file: update the performance table")
    ap.add_argument("--readme", default=str(README), help="the file to edit (default: the repository's README.md)")
    a = ap.parse_args(argv)
    readme = Path(a.readme)
    text = readme.read_text()
    if a.bench:
        text = replace_between(text, BENCH_START, BENCH_END, bench_table(json.loads(Path(a.bench).read_text())))
    else:
        text = replace_between(text, START, END, table(json.loads(Path(a.parity).read_text())))
    readme.write_text(text)


if __name__ == "__main__":
    main()
