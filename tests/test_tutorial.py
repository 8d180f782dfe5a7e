"""docs/tutorial.md, the tutorial notebook: it runs from top to bottom in a Jupyter kernel, and the committed
docs/tutorial.ipynb is the same notebook without outputs.

tests/test_docs.py runs the notebook's code cells as well (each is a ```python block of the Markdown file); this
file runs them the way Jupyter does, in an IPython kernel driven by nbclient, where each cell's last expression
is displayed (the graph renders itself there).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import pytest
from test_docs import python_blocks

_MISSING = "the tutorial notebook needs the docs extra: pip install -e '.[docs]'"
jupytext = pytest.importorskip("jupytext", reason=_MISSING)
nbformat = pytest.importorskip("nbformat", reason=_MISSING)
nbclient = pytest.importorskip("nbclient", reason=_MISSING)
pytest.importorskip("ipykernel", reason=_MISSING)
from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402 - nbclient's own dependency
from jupyter_client.manager import KernelManager  # noqa: E402

DOCS = Path(__file__).resolve().parent.parent / "docs"
MARKDOWN, NOTEBOOK = DOCS / "tutorial.md", DOCS / "tutorial.ipynb"
KERNEL = "tinygrad-lite-tutorial"


def _kernel_manager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> KernelManager:
    """A kernel manager for an IPython kernel run by this very interpreter.

    The kernel spec is written into a temporary directory, with ``sys.executable`` as its program, instead of
    relying on an installed ``python3`` spec: that one is found through the user's and the system's Jupyter
    paths, and may belong to another Python. So this works on a fresh clone, needs no network and no
    ``ipykernel install``. The kernel's connection file and IPython's profile (its history database) go to the
    temporary directory too, so nothing is written under the user's home."""
    spec_dir = tmp_path / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "tinygrad_lite tutorial", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # jupyter_core's future default, without its warning
    monkeypatch.setenv("MPLBACKEND", "Agg")
    specs = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")])
    return KernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)


@pytest.mark.slow  # a kernel's start and the notebook: a few seconds
def test_notebook_runs_top_to_bottom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = jupytext.read(MARKDOWN)
    work = tmp_path / "work"  # the kernel's working directory
    work.mkdir()
    client = nbclient.NotebookClient(notebook, km=_kernel_manager(tmp_path, monkeypatch), timeout=120,
                                     resources={"metadata": {"path": str(work)}})
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError, naming the cell, on any error
    seconds = time.perf_counter() - start
    assert seconds < 60, f"the tutorial took {seconds:.0f} s; keep it well under a minute"

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code), "a code cell did not run"
    streams = [out for cell in code for out in cell.outputs if out.output_type == "stream"]
    stderr = "".join(out.text for out in streams if out.name == "stderr")
    assert not stderr, f"the notebook wrote to stderr (a warning?):\n{stderr}"
    printed = "".join(out.text for out in streams if out.name == "stdout")
    assert "backward of loss, shape (): 6 steps" in printed  # tl.explain's table
    assert "gradcheck: gradient mismatch" in printed  # the wrong derivative, caught

    # The graph cell: Jupyter shows the graph itself when Graphviz's dot is installed, a sentence otherwise.
    graph_cell = next(cell for cell in code if "viz.draw_graph" in cell.source)
    kinds = {kind for out in graph_cell.outputs for kind in out.get("data", {})}
    if shutil.which("dot"):
        assert "image/svg+xml" in kinds, f"the graph did not render: {graph_cell.outputs}"
    else:
        assert "no Graphviz `dot` here" in "".join(out.get("text", "") for out in graph_cell.outputs)


def test_ipynb_is_the_markdown_without_outputs() -> None:
    """docs/tutorial.ipynb is what ``jupytext --sync docs/tutorial.md`` writes: the same cells, no outputs."""
    ours, paired = jupytext.read(MARKDOWN), jupytext.read(NOTEBOOK)
    assert [(c.cell_type, c.source) for c in paired.cells] == [(c.cell_type, c.source) for c in ours.cells], (
        "docs/tutorial.ipynb is out of date: run .venv/bin/jupytext --sync docs/tutorial.md"
    )
    stored = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(stored)
    assert stored.metadata.jupytext.formats == "ipynb,md" and stored.metadata.kernelspec.name == "python3"
    for cell in stored.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"a stored output in: {cell.source[:60]}"


def test_every_code_cell_is_a_block_test_docs_runs() -> None:
    """Each code cell is a ```python block of the Markdown, so tests/test_docs.py runs it too; a cell hidden
    behind another marker would be run by the notebook test alone."""
    code = [c.source for c in jupytext.read(MARKDOWN).cells if c.cell_type == "code"]
    blocks = [source.rstrip("\n") for _, source in python_blocks(MARKDOWN)]
    assert len(code) > 10 and code == blocks


def test_section_2_gives_both_causes_of_the_drift_and_checks_them() -> None:
    """The eager run parts from the hand-written one by σ's formula and by the order of multiplications; the
    section says both, and a cell asserts that matching both makes the runs equal bit for bit."""
    text = MARKDOWN.read_text(encoding="utf-8")
    section = text.split("## 2. ", 1)[1].split("\n## 3. ", 1)[0]
    assert "½ + ½·tanh(x/2)" in section and "(err·out)·(1 − out)" in section
    code = "".join(c.source for c in jupytext.reads(section, fmt="md").cells if c.cell_type == "code")
    assert "assert both == framework_losses" in code and "assert np.count_nonzero(ulps) > 0" in code
    assert "Every claim below is checked" not in text  # some prose claims are not asserted
