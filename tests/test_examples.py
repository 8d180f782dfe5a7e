"""examples/: the scripts run and do what they promise (short runs)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_lite import casestudy

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_moons_is_two_balanced_reproducible_classes() -> None:
    moons = _load("moons")
    X, y = moons.make_moons(101, noise=0.1, seed=3)
    assert X.shape == (101, 2) and y.shape == (101,) and X.dtype == np.float32
    assert set(np.unique(y)) == {0.0, 1.0} and int(y.sum()) == 51
    X2, y2 = moons.make_moons(101, noise=0.1, seed=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    # not linearly separable: the best least-squares line misclassifies a good share of the points
    A = np.c_[X, np.ones(len(X))]
    w, *_ = np.linalg.lstsq(A, y * 2 - 1, rcond=None)
    assert np.mean((A @ w > 0) == (y > 0.5)) < 0.95


def test_moons_reaches_97_percent_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    moons = _load("moons")
    path = tmp_path / "moons.png"
    accuracy = moons.main(["--steps", "300", "--plot", str(path)])
    assert accuracy >= 97.0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "training accuracy" in capsys.readouterr().out


def test_iris_example_prints_the_figures_of_its_run(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(EXAMPLES / "iris.py"), "--steps", "50", "--plot", "loss.png"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    expected = casestudy.run(seed=0, variant="corrected", steps=50)  # the same run, hand-written
    printed = re.findall(r"= ([\d.]+) %", proc.stdout)
    assert printed == [f"{expected.art_train:.2f}", f"{expected.cls_train:.0f}",
                       f"{expected.art_val:.2f}", f"{expected.cls_val:.0f}"]
    assert f"to {expected.history[-1]:.4f}" in proc.stdout  # the last step's mean|Y − out|
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("missing", ["folder", "matplotlib"])
def test_moons_plot_problems_stop_before_training(
    missing: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    moons = _load("moons")
    monkeypatch.setattr(moons, "train", lambda *a, **k: pytest.fail("training started"))
    path = tmp_path / "no such folder" / "moons.png" if missing == "folder" else tmp_path / "moons.png"
    if missing == "matplotlib":
        monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(SystemExit) as info:
        moons.main(["--plot", str(path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert ("does not exist" if missing == "folder" else "pip install 'tinygrad-lite[examples]'") in err
