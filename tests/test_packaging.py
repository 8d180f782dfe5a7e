"""The package as someone adopting it gets it: a licence, a changelog, and a plain ``pip install`` that works.

The slow test installs the checkout into a fresh virtual environment with its core dependency only (numpy,
from the normal pip index or cache) and runs the Iris command from another directory, so that nothing can be
imported from the checkout by accident.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parent.parent


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_licence_is_mit_and_declared_in_the_metadata() -> None:
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License")
    assert "Copyright (c) 2026 the tinygrad_lite developers" in licence
    config = pyproject()
    project = config["project"]
    assert project["license"] == "MIT"  # an SPDX expression (PEP 639) ...
    assert project["license-files"] == ["LICENSE"]
    assert not [c for c in project["classifiers"] if c.startswith("License ::")]  # ... which replaces these
    # ... and which setuptools reads from 77.0.3 on
    assert "setuptools>=77.0.3" in config["build-system"]["requires"]
    assert project["authors"] == [{"name": "the tinygrad_lite developers"}]


def test_changelog_has_unreleased_and_the_current_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## \[([^\]]+)\]", changelog, flags=re.MULTILINE)
    assert headings[0] == "Unreleased"
    assert pyproject()["project"]["version"] == "0.1.0"
    assert "0.1.0" in headings


def _copy_of_the_checkout(destination: Path) -> Path:
    """The checkout without its virtual environment, git data, caches or build output.

    ``pip install ROOT`` would build inside the checkout and leave ``build/`` and ``*.egg-info`` there; a copy
    keeps the working tree untouched.
    """
    ignored = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache",
                                     ".hypothesis")
    shutil.copytree(ROOT, destination, ignore=ignored)
    return destination


CHECK_THE_INSTALL = """
import importlib.metadata, importlib.util, pathlib, sys
import tinygrad_lite
package = pathlib.Path(tinygrad_lite.__file__).resolve().parent
assert package.is_relative_to(pathlib.Path(sys.prefix).resolve()), package
assert (package / "datasets" / "iris.csv").is_file()
for extra in ("matplotlib", "tqdm", "graphviz"):
    assert importlib.util.find_spec(extra) is None, extra + " is installed: not core-only"
metadata = importlib.metadata.metadata("tinygrad-lite")
assert metadata["License-Expression"] == "MIT", metadata["License-Expression"]
assert "LICENSE" in (metadata.get_all("License-File") or []), metadata.get_all("License-File")
assert importlib.metadata.requires("tinygrad-lite")[0] == "numpy"
print("install ok")
"""


@pytest.mark.slow
def test_pip_install_into_a_fresh_venv_runs_iris_with_numpy_only(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env, timeout=120)
    python, pip = venv / "bin" / "python", venv / "bin" / "pip"
    source = _copy_of_the_checkout(tmp_path / "src")
    install = subprocess.run([str(pip), "install", "--quiet", str(source)], env=env, capture_output=True,
                             text=True, timeout=600)
    assert install.returncode == 0, install.stdout + install.stderr

    elsewhere = tmp_path / "elsewhere"  # not the checkout: tinygrad_lite must come from the venv
    elsewhere.mkdir()
    check = subprocess.run([str(python), "-c", CHECK_THE_INSTALL], cwd=elsewhere, env=env, capture_output=True,
                           text=True, timeout=120)
    assert check.returncode == 0 and "install ok" in check.stdout, check.stdout + check.stderr

    iris = subprocess.run([str(python), "-m", "tinygrad_lite", "iris", "--steps", "1000", "--quiet"],
                          cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert iris.returncode == 0, iris.stdout + iris.stderr
    for text in ("cls train %", "cls val %", "art train %", "final L"):
        assert text in iris.stdout, text

    script = subprocess.run([str(venv / "bin" / "tinygrad-lite"), "--version"], cwd=elsewhere, env=env,
                            capture_output=True, text=True, timeout=60)
    assert script.returncode == 0 and "0.1.0" in script.stdout, script.stdout + script.stderr
