"""The project stands on its own: nothing a user receives points at files outside the repository.

The package, the docs, the README, the examples, the benchmarks, the tools, CI and the tests explain the case study in
docs/article.md; none of them may send a reader to a file they do not have or to a tracker's issue number.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_SUFFIXES = {".py", ".md", ".txt", ".toml", ".cfg", ".csv", ".ipynb", ".sh", ".yml", ".yaml"}
# Written in pieces so that this file does not match itself.
_OUTSIDE = re.compile("|".join([
    r"\.\./" + "shared",                       # the folder beside the repository
    r"\b" + "shared" + r"/(?:data|design|hooks|ARTICLE)",
    "ARTICLE" + r"\.md",
    r"\b[Ii]ssue" + r"s? #?\d+",                 # a tracker's issue number
]))


def _project_files() -> list[Path]:
    places = [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "Makefile", ROOT / "pyproject.toml"]
    places += [ROOT / ".ci" / "run"]
    for folder in ("tinygrad_lite", "docs", "tests", "examples", "benchmarks", "tools"):
        places += [p for p in (ROOT / folder).rglob("*") if p.suffix in _SUFFIXES and "__pycache__" not in p.parts]
    return [p for p in places if p.is_file()]


def test_the_scan_sees_the_project() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in _project_files()}
    assert {"README.md", "docs/article.md", "tinygrad_lite/cli.py", "tests/test_standalone.py"} <= names


@pytest.mark.parametrize(
    "text", ["see ../" + "shared", "in shared" + "/data", "ARTICLE" + ".md", "issue" + " 9", "Issue" + " #12"]
)
def test_the_pattern_catches_outside_references(text: str) -> None:
    assert _OUTSIDE.search(text)


def test_no_file_refers_outside_the_repository() -> None:
    found = []
    for path in _project_files():
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if _OUTSIDE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "references to files or issues outside the repository:\n" + "\n".join(found)
