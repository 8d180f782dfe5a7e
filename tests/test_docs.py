"""Every ```python block in README.md and docs/*.md runs, so the documentation cannot drift from the code.

The blocks of one file run in order in one fresh namespace, like a doctest session: a later block may use
names an earlier one defined. Each file runs in its own temporary working directory, so examples may write
files. Tracebacks point at the Markdown file and its line numbers.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


def markdown_files() -> list[Path]:
    """README.md first, then every Markdown file under docs/ (the API pages too) in path order."""
    files = [ROOT / "README.md"] if (ROOT / "README.md").exists() else []
    return files + sorted((ROOT / "docs").rglob("*.md"))


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """The ```python (or ```py) blocks of a Markdown file as (first code line, 1-based; source) pairs."""
    blocks: list[tuple[int, str]] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = m["indent"], m["fence"], m["info"].strip()
        start = i + 1
        j = start
        while j < len(lines) and not (
            lines[j].strip().startswith(fence[0] * len(fence)) and not lines[j].strip().strip(fence[0])
        ):
            j += 1
        if j == len(lines):
            raise ValueError(f"{path.name}:{i + 1}: code fence {fence!r} is never closed")
        if info.split()[:1] in (["python"], ["py"]):
            body = [line[len(indent) :] if line.startswith(indent) else line for line in lines[start:j]]
            blocks.append((start + 1, "\n".join(body) + "\n"))
        i = j + 1
    return blocks


def _run_blocks(path: Path) -> int:
    namespace: dict = {"__name__": "__doc_example__"}
    blocks = python_blocks(path)
    for first_line, source in blocks:
        # Pad with blank lines so line numbers in a traceback are the Markdown file's own.
        code = compile("\n" * (first_line - 1) + source, str(path), "exec")
        exec(code, namespace)
    return len(blocks)


def test_readme_has_a_runnable_example() -> None:
    """Guards against a silent pass: the README must exist and hold at least one python block."""
    assert (ROOT / "README.md").exists(), "README.md is missing"
    assert python_blocks(ROOT / "README.md"), "README.md has no ```python block"


def test_readme_prints_what_its_comments_say(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In README.md a ``print(...)  # text`` line promises its output: each such line prints exactly ``text``."""
    monkeypatch.chdir(tmp_path)
    promised = [m[1] for _, source in python_blocks(ROOT / "README.md")
                for m in re.finditer(r"^print\(.*\)\s+# (.+)$", source, re.MULTILINE)]
    assert promised, "README.md's example has no commented print line"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        _run_blocks(ROOT / "README.md")
    assert printed.getvalue().splitlines() == promised


@pytest.mark.parametrize("path", markdown_files(), ids=[str(p.relative_to(ROOT)) for p in markdown_files()])
def test_markdown_python_blocks_run(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    _run_blocks(path)


def test_fence_parser(tmp_path: Path) -> None:
    """The parser itself: python/py blocks only, other languages skipped, indented fences, line numbers."""
    md = tmp_path / "x.md"
    md.write_text(
        "# t\n"
        "```python\nx = 1\n```\n"
        "```text\nnot code\n```\n"
        "- item\n\n  ```py\n  y = x + 1\n  ```\n"
        "````python\nz = '```'\n````\n",
        encoding="utf-8",
    )
    assert python_blocks(md) == [(3, "x = 1\n"), (11, "y = x + 1\n"), (14, "z = '```'\n")]
    ns_count = _run_blocks(md)
    assert ns_count == 3
    md.write_text("```python\nnever closed\n", encoding="utf-8")
    with pytest.raises(ValueError, match="never closed"):
        python_blocks(md)


def test_failing_block_points_at_markdown_line(tmp_path: Path) -> None:
    md = tmp_path / "bad.md"
    md.write_text("text\n\n```python\na = 1\nraise RuntimeError('boom')\n```\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="boom") as info:
        _run_blocks(md)
    assert info.traceback[-1].lineno + 1 == 5
    assert str(info.traceback[-1].path) == str(md)
