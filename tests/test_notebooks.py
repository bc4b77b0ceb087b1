"""The tutorial notebooks: each ``notebooks/*.ipynb`` executes without error, with and without
torch, and matches its jupytext ``.py`` source.

Every notebook in the folder is picked up. Execution uses nbclient with the ``python3`` kernel,
``notebooks/`` as the working directory (the notebooks write their figures to
``notebooks/figures/``; the run without torch works in a copy), matplotlib's Agg backend and JAX
on CPU. The numbers each notebook must reproduce are asserted inside the notebook, so a wrong
number fails its cell and thus this test.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
jupytext = pytest.importorskip("jupytext")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
IPYNBS = sorted(NOTEBOOKS.glob("*.ipynb"))
CELL_TIMEOUT = 300  # seconds per cell; a notebook takes ~10-30 s on one CPU core

# prepended to a notebook to run it as if torch were not installed: ``import torch`` then raises
# ImportError, and the notebook must fall back to showing jloss alone.
HIDE_TORCH = "import sys\nsys.modules['torch'] = None  # as if torch were not installed"
# appended after the notebook: nothing imported torch behind our back
TORCH_STILL_HIDDEN = "import sys\nassert sys.modules['torch'] is None\nprint('torch was hidden')"


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def _cells(nb) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source) for cell in nb.cells]


def _execute(path: Path, *, hide_torch: bool = False, check: str | None = None, cwd: Path = NOTEBOOKS):
    nb = nbformat.read(path, as_version=4)
    if hide_torch:
        nb.cells.insert(0, nbformat.v4.new_code_cell(HIDE_TORCH))
    if check is not None:
        nb.cells.append(nbformat.v4.new_code_cell(check))
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(cwd)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    return nb


@pytest.fixture
def notebook_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel inherits this environment: headless matplotlib, JAX on CPU, no GPU probing."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")


def test_notebooks_found():
    assert IPYNBS, f"no notebooks in {NOTEBOOKS}"
    sources = {p.stem for p in NOTEBOOKS.glob("*.py")}
    notebooks = {p.stem for p in IPYNBS}
    assert sources == notebooks, f"every notebook needs both a .py and an .ipynb: .py {sorted(sources)}, .ipynb {sorted(notebooks)}"


@pytest.mark.parametrize("path", IPYNBS, ids=_ids(IPYNBS))
def test_ipynb_in_sync_with_py(path: Path):
    source = path.with_suffix(".py")
    assert source.exists(), f"{path.name} has no jupytext source {source.name}"
    ipynb, py = nbformat.read(path, as_version=4), jupytext.read(source)
    fix = f"run: jupytext --to ipynb notebooks/{source.name} (or jupytext --sync if you edited the .ipynb)"
    assert [c for c in _cells(py) if c[0] == "code"] == [c for c in _cells(ipynb) if c[0] == "code"], \
        f"the code cells of {path.name} differ from {source.name}; {fix}"
    assert _cells(py) == _cells(ipynb), f"the markdown cells of {path.name} differ from {source.name}; {fix}"
    assert ipynb.metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent", \
        f"{path.name} is not paired with its percent-format .py; {fix}"
    assert ipynb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", IPYNBS, ids=_ids(IPYNBS))
def test_ipynb_committed_without_outputs(path: Path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, (f"{path.name}: cells {dirty} carry outputs; notebooks are committed without them "
                       f"(regenerate it from its source: jupytext --to ipynb notebooks/{path.stem}.py)")


@pytest.mark.parametrize("path", IPYNBS, ids=_ids(IPYNBS))
def test_notebook_executes(path: Path, notebook_env: None):
    _execute(path)  # any error, a failed assert included, raises CellExecutionError naming the cell


#: torch-free execution is checked on the notebook leaning most on torch (the suite's time budget
#: does not allow running every notebook twice); the others take the same ``try: import torch`` path.
WITHOUT_TORCH = [p for p in IPYNBS if p.name.startswith("01_")]


@pytest.mark.parametrize("path", WITHOUT_TORCH, ids=_ids(WITHOUT_TORCH))
def test_notebook_executes_without_torch(path: Path, notebook_env: None, tmp_path: Path):
    # in a copy of the folder, so that the committed figures stay the ones drawn beside torch's
    cwd = shutil.copytree(NOTEBOOKS, tmp_path / "notebooks")
    nb = _execute(path, hide_torch=True, check=TORCH_STILL_HIDDEN, cwd=cwd)
    assert "torch was hidden" in "".join(o.get("text", "") for o in nb.cells[-1].get("outputs", []))
