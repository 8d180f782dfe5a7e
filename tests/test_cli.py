"""The command line: ``tinygrad-lite iris`` / ``tinygrad-lite graph`` through ``main([...])``, with few steps."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_lite import casestudy
from tinygrad_lite.casestudy.report import FIGURES, REFERENCE, format_figure, summarize
from tinygrad_lite.cli import main, parse_seeds

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def row(out: str, name: str) -> list[str]:
    """The cells of the table row that starts with ``name`` (cells are separated by two or more spaces)."""
    line = next(line for line in out.splitlines() if line.startswith(name + "  "))
    return re.split(r"\s{2,}", line.strip())[1:]


def expected_cells(result: casestudy.CaseStudyResult) -> list[str]:
    """The five figures of a run computed here, as the table prints them."""
    return [format_figure(f, v) for f, v in zip(FIGURES, result.figures, strict=True)]


def test_iris_prints_the_figures_the_run_computes(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_cli(capsys, "iris", "--steps", "100", "--quiet")
    assert row(out, "framework")[:5] == expected_cells(casestudy.run(0, "framework", 100))
    # The framework computes the true gradient: its figures equal the hand-written corrected loop's. (Only over
    # the first ~200 steps: at seed 0 the two part by 0.05 in a weight near step 300, where training passes a
    # point so sensitive that the last bit of rounding decides; see docs/article.md.)
    assert row(out, "framework")[:5] == expected_cells(casestudy.run(0, "corrected", 100))
    for text in ("art train %", "art val %", "cls train %", "cls val %", "final L", "1 − mean|Y − out|",
                 "classification accuracy", "wall time", "seed 0"):
        assert text in out, text
    assert "corrected  " not in out  # one variant only


def test_iris_variant_all_is_one_table_saying_which_is_which(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_cli(capsys, "iris", "--variant", "all", "--steps", "100", "--quiet")
    rows = [line.split()[0] for line in out.splitlines() if line.split() and line.split()[0] in
            ("framework", "corrected", "article")]
    assert rows == ["framework", "corrected", "article", "article"]  # three rows and the article's own figures
    assert "the true sigmoid derivative a(1 − a)" in out
    assert "the article's derivative σ(a)(1 − σ(a)), exactly as published" in out
    assert "loss.backward()" in out
    # each row is that variant's own run; framework and corrected compute the same thing
    for variant in casestudy.VARIANTS:
        assert row(out, variant)[:5] == expected_cells(casestudy.run(0, variant, 100)), variant
    assert row(out, "framework")[:5] == row(out, "corrected")[:5]
    assert row(out, "article")[:5] != row(out, "corrected")[:5]


@pytest.mark.parametrize("spec, seeds", [("0-2", [0, 1, 2]), ("0,2,3", [0, 2, 3]), ("0-2,7", [0, 1, 2, 7]),
                                         ("4", [4]), ("1,1-2", [1, 2])])
def test_parse_seeds(spec: str, seeds: list[int]) -> None:
    assert parse_seeds(spec) == seeds


@pytest.mark.parametrize("spec", ["", "a", "3-1", "-1", "0-", "1.5", "0-99999999999", "0-5000,6000-11000"])
def test_parse_seeds_rejects(spec: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_seeds(spec)


def test_iris_many_seeds_prints_min_median_max(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_cli(capsys, "iris", "--seeds", "0-2", "--steps", "100", "--quiet")
    assert "seeds 0-2 (min / median / max)" in out
    stats = summarize([casestudy.run(seed, "framework", 100) for seed in (0, 1, 2)])["framework"]
    assert row(out, "framework")[:5] == [" / ".join(format_figure(f, v) for v in s) for f, s in zip(FIGURES, stats)]
    assert row(out, "article's loop corrected, seeds 0-99") == [*REFERENCE["corrected"], "-"]


def test_iris_plot_writes_png(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "loss.png"
    out = run_cli(capsys, "iris", "--variant", "all", "--steps", "50", "--quiet", "--plot", str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(path) in out


@needs_dot
def test_iris_graph_writes_svg_with_parameter_names(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "graph.svg"
    run_cli(capsys, "iris", "--steps", "5", "--quiet", "--graph", str(path))
    svg = path.read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "0.weight" in svg and "2.weight" in svg


@needs_dot
def test_graph_command_renders_the_scalar_demo(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "demo.svg"
    out = run_cli(capsys, "graph", "--output", str(path))
    assert "<svg" in path.read_text() and str(path) in out


@needs_dot
def test_graph_steps_writes_only_the_step_through_page(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out = run_cli(capsys, "graph", "--steps", "steps.html")
    assert out == "the backward pass of o = tanh(x1·w1 + x2·w2 + b), step by step, written to steps.html\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["steps.html"]  # no graph.svg unless asked for
    page = (tmp_path / "steps.html").read_text()
    assert page.count('"operation": "') == 5 and "The backward pass of o, step by step" in page
    run_cli(capsys, "graph", "--steps", "again.html", "-o", "both.svg")
    assert (tmp_path / "again.html").read_text() == page and "<svg" in (tmp_path / "both.svg").read_text()


@needs_dot
def test_iris_explain_writes_the_page_of_the_seeds_first_step(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "steps.html"
    out = run_cli(capsys, "iris", "--steps", "5", "--quiet", "--seed", "2", "--hidden", "4", "--explain", str(path))
    assert f"the backward pass of the first training step, step by step, written to {path}" in out
    expected = casestudy.step_backward_page(tmp_path / "expected.html", seed=2, hidden=4).read_text()
    assert path.read_text() == expected
    assert "Iris, seed 2: the backward pass of the first training step" in expected and "(4, 4) float64" in expected
    assert expected != casestudy.step_backward_page(tmp_path / "seed0.html").read_text()


def test_graph_command_dot_source_needs_no_graphviz(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "demo.gv"
    run_cli(capsys, "graph", "-o", str(path))
    assert path.read_text().startswith("digraph")


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "required: COMMAND"),
        (["fly"], "invalid choice: 'fly'"),
        (["iris", "--variant", "pytorch"], "invalid choice: 'pytorch'"),
        (["iris", "--steps", "0"], "must be at least 1"),
        (["iris", "--steps", "many"], "expected an integer"),
        (["iris", "--lr", "-0.1"], "must be a positive number"),
        (["iris", "--lr", "fast"], "expected a number"),
        (["iris", "--hidden", "0"], "must be at least 1"),
        (["iris", "--dtype", "float16"], "invalid choice: 'float16'"),
        (["iris", "--seeds", "9-0"], "invalid seed range"),
        (["iris", "--seed", "1", "--seeds", "0-2"], "not allowed with argument"),
        (["iris", "--seed", "0", "--seeds", "0-2"], "not allowed with argument"),  # 0 is --seed's default
        (["iris", "--seeds", "0", "--seed", "0"], "not allowed with argument"),
        (["iris", "--plot", "loss"], "cannot tell the format"),
        (["iris", "--graph", "graph.txt"], "cannot tell the format"),
        (["graph", "--output", "x.doc"], "cannot tell the format"),
        (["graph", "--steps", "steps.svg"], "cannot tell the format of 'steps.svg': use a file ending in .html"),
        (["iris", "--explain", "steps"], "cannot tell the format of 'steps': use a file ending in .html"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fails the test if the case study starts training: the checks below must stop the run before it."""
    def run(*args: object, **kwargs: object) -> None:
        raise AssertionError("training started although the arguments could not succeed")

    monkeypatch.setattr(casestudy, "run", run)


def _exit_2_before_training(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err  # one line, no traceback
    return err


@pytest.mark.parametrize("option, name", [("--plot", "loss.png"), ("--graph", "graph.svg"), ("--graph", "g.gv"),
                                          ("--explain", "steps.html")])
def test_output_in_a_missing_folder_is_an_error_before_training(
    option: str, name: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, no_training: None
) -> None:
    target = tmp_path / "missing" / name
    err = _exit_2_before_training(capsys, ["iris", "--quiet", option, str(target)])
    assert f"the folder {str(target.parent)!r} does not exist" in err
    assert not target.parent.exists()  # not created silently


@pytest.mark.parametrize(
    "module, argv, extra",
    [("matplotlib", ["iris", "--plot", "loss.png"], "tinygrad-lite[examples]"),
     ("graphviz", ["iris", "--graph", "graph.gv"], "tinygrad-lite[viz]"),
     ("graphviz", ["graph", "-o", "graph.gv"], "tinygrad-lite[viz]"),
     ("graphviz", ["iris", "--explain", "steps.html"], "tinygrad-lite[viz]"),
     ("graphviz", ["graph", "--steps", "steps.html"], "tinygrad-lite[viz]")],
)
def test_missing_extra_is_named_before_training(
    module: str, argv: list[str], extra: str, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, no_training: None,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, module, None)  # import fails, as when it is not installed
    err = _exit_2_before_training(capsys, argv)
    assert f"needs the {module} package: pip install '{extra}'" in err


def test_an_installed_but_broken_extra_is_named_before_training(tmp_path: Path) -> None:
    broken = tmp_path / "site" / "matplotlib"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('broken on purpose')\n")
    proc = subprocess.run(
        [sys.executable, "-m", "tinygrad_lite", "iris", "--quiet", "--plot", str(tmp_path / "loss.png")],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(broken.parent)},
    )
    assert proc.returncode == 2 and proc.stdout == ""  # nothing ran: no header, no table
    assert "--plot needs the matplotlib package, which fails to import (broken on purpose)" in proc.stderr


@pytest.mark.parametrize("argv", [["iris", "--graph", "graph.svg"], ["graph", "-o", "graph.png"],
                                  ["iris", "--explain", "steps.html"], ["graph", "--steps", "steps.html"]])
def test_missing_dot_is_named_before_training(
    argv: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    no_training: None,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot on PATH
    err = _exit_2_before_training(capsys, argv)
    assert "needs Graphviz's dot program" in err and "apt-get install graphviz" in err and "brew" in err


def test_dot_source_needs_no_dot_program(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    run_cli(capsys, "graph", "-o", str(tmp_path / "demo.gv"))
    assert (tmp_path / "demo.gv").read_text().startswith("digraph")


def test_without_tqdm_one_line_says_the_progress_bar_needs_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)
    assert main(["iris", "--steps", "20", "--seeds", "0-1"]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "tinygrad-lite iris: the progress bar needs the tqdm package: pip install 'tinygrad-lite[examples]' "
        "(training goes on without it)"
    ]
    assert "cls train %" in captured.out
    assert main(["iris", "--steps", "20", "--quiet"]) == 0
    assert capsys.readouterr().err == ""  # --quiet asks for no bar: nothing to say


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from tinygrad_lite import __version__

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"tinygrad-lite {__version__}\n"


@pytest.mark.parametrize("argv", [["iris", "--plot", "out.png"], ["iris", "--graph", "out.svg"],
                                  ["iris", "--explain", "out.html"], ["graph", "--output", "out.svg"],
                                  ["graph", "--steps", "out.html"]])
def test_an_output_path_that_is_a_folder_is_an_error_before_training(
    argv: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    no_training: None,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / argv[-1]).mkdir()
    err = _exit_2_before_training(capsys, argv)
    assert f"to {argv[-1]!r}: it is an existing folder; give a file name" in err


@pytest.mark.parametrize("outputs", [["--explain", "steps.html"], ["--plot", "loss.png"], ["--graph", "g.gv"],
                                     ["--graph", "g.gv", "--explain", "steps.html"]])
def test_show_code_refuses_the_outputs_it_would_not_write(
    outputs: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    no_training: None,
) -> None:
    monkeypatch.chdir(tmp_path)
    err = _exit_2_before_training(capsys, ["iris", "--show-code", *outputs])
    asked = ", ".join(o for o in outputs if o.startswith("--"))
    assert err == (f"tinygrad-lite iris: error: --show-code prints the training step's code and exits without "
                   f"writing files: run {asked} without it\n")
    assert list(tmp_path.iterdir()) == []


def test_one_step_is_said_in_the_singular(capsys: pytest.CaptureFixture[str]) -> None:
    out = run_cli(capsys, "iris", "--steps", "1", "--quiet")
    assert "1 full-batch step, float64; 1 run" in out.splitlines()[0]
    assert "2 full-batch steps, float64" in run_cli(capsys, "iris", "--steps", "2", "--quiet")


def test_plot_path_through_a_file_is_an_error_before_training(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, no_training: None
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    err = _exit_2_before_training(capsys, ["iris", "--quiet", "--plot", str(blocker / "loss.png")])
    assert f"{str(blocker)!r} is not a folder" in err


@pytest.mark.parametrize(
    "option, value, run_kwargs",
    [("--steps", "30", {"steps": 30}), ("--lr", "0.5", {"lr": 0.5}), ("--hidden", "7", {"hidden": 7}),
     ("--seed", "3", {"seed": 3}),
     ("--variant", "article", {"variant": "article"})],
)
def test_each_option_changes_the_run_as_it_says(
    option: str, value: str, run_kwargs: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    base = {"seed": 0, "variant": "framework", "steps": 20}
    out = run_cli(capsys, "iris", "--steps", "20", option, value, "--quiet")
    printed = row(out, run_kwargs.get("variant", "framework"))[:5]
    assert printed == expected_cells(casestudy.run(**{**base, **run_kwargs}))
    assert printed != expected_cells(casestudy.run(**base))  # the option took effect


def test_no_jit_trains_eagerly_to_the_same_figures(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tinygrad_lite as tl

    compiled = []
    real_jit = tl.jit
    monkeypatch.setattr(tl, "jit", lambda fn: compiled.append(fn) or real_jit(fn))
    jitted = run_cli(capsys, "iris", "--steps", "150", "--quiet")
    assert len(compiled) == 1  # the default compiles the training step once
    eager = run_cli(capsys, "iris", "--steps", "150", "--quiet", "--no-jit")
    assert len(compiled) == 1  # --no-jit compiled nothing: every step ran eagerly
    assert "--no-jit" in eager and "--no-jit" not in jitted
    assert row(jitted, "framework")[:5] == row(eager, "framework")[:5]


def test_dtype_float32_trains_in_float32(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    results = []

    def spy(*args: object, **kwargs: object) -> casestudy.CaseStudyResult:
        results.append(real_run(*args, **kwargs))
        return results[-1]

    real_run = casestudy.run
    monkeypatch.setattr(casestudy, "run", spy)
    out = run_cli(capsys, "iris", "--steps", "20", "--dtype", "float32", "--variant", "all", "--quiet")
    assert [r.w0.dtype for r in results] == [np.float32] * 3  # the weights were trained in float32
    assert row(out, "framework")[:5] == expected_cells(results[0])


def test_python_dash_m_runs_the_case_study() -> None:
    proc = subprocess.run([sys.executable, "-m", "tinygrad_lite", "iris", "--steps", "10", "--quiet"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert row(proc.stdout, "framework")[:5] == expected_cells(casestudy.run(0, "framework", 10))
    assert proc.stderr == ""  # no progress bar with --quiet
