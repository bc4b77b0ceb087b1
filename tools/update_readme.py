"""Regenerate the README's parity table from `jloss parity --json` (run it, then this).

    jloss parity --json parity.json && python tools/update_readme.py parity.json

Replaces the text between the `<!-- parity:start -->` and `<!-- parity:end -->` markers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

START, END = "<!-- parity:start -->", "<!-- parity:end -->"


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


def main(path: str) -> None:
    rows = json.loads(Path(path).read_text())
    readme = Path(__file__).resolve().parent.parent / "README.md"
    text = readme.read_text()
    a, b = text.index(START) + len(START), text.index(END)
    readme.write_text(text[:a] + "\n" + table(rows) + "\n" + text[b:])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "parity.json")
