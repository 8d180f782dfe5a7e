"""The command line: ``tinygrad-lite iris`` (the article's case study) and ``tinygrad-lite graph``.

Also ``python -m tinygrad_lite ...``. The work is done by :mod:`tinygrad_lite.casestudy` and
:mod:`tinygrad_lite.viz`; this module parses arguments, shows progress, and prints.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "main", "build_parser", "parse_seeds", "int_at_least", "positive_float", "path_with_suffix", "PLOT_FORMATS",
    "missing_extra", "check_output_path", "plot_problem",
]

_DTYPES = {"float64": np.float64, "float32": np.float32}
PLOT_FORMATS = ("png", "svg", "pdf", "jpg", "jpeg")  # what matplotlib writes
_GRAPH_FORMATS = ("svg", "png", "pdf", "gv", "dot")  # what viz.render writes
_PAGE_FORMATS = ("html",)  # what viz.backward_steps writes
_INSTALL_DOT = "apt-get install graphviz, dnf install graphviz, pacman -S graphviz or brew install graphviz"


# ------------------------------------------------------------------------------------------- argument types


MAX_SEEDS = 10_000  # each seed is a full training run: more would take days, and the list itself could fill memory


def parse_seeds(text: str) -> list[int]:
    """``"0-9"`` → 0..9, ``"0,2,3"`` → [0, 2, 3], and mixtures such as ``"0-3,7"``; no repeats; at most
    :data:`MAX_SEEDS` seeds."""
    seeds: dict[int, None] = {}  # ordered, and a repeat costs nothing to skip
    for part in text.split(","):
        part = part.strip()
        lo, dash, hi = part.partition("-")
        try:
            first, last = (int(lo), int(hi)) if dash else (int(part), int(part))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"invalid seed list {text!r}: use a range like 0-9, a list like 0,2,3, or both (0-3,7)"
            ) from None
        if first < 0 or last < first:
            raise argparse.ArgumentTypeError(f"invalid seed range {part!r}: need 0 <= first <= last")
        if len(seeds) + last - first + 1 > MAX_SEEDS:
            raise argparse.ArgumentTypeError(f"too many seeds in {text!r}: at most {MAX_SEEDS:,} runs")
        seeds.update(dict.fromkeys(range(first, last + 1)))
    return list(seeds)


def int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text.replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    parse.__name__ = "int"
    return parse


def path_with_suffix(suffixes: tuple[str, ...]) -> Callable[[str], str]:
    """A path whose extension names one of ``suffixes`` (the output format comes from it)."""

    def parse(text: str) -> str:
        suffix = text.rpartition(".")[2].lower() if "." in text.rpartition("/")[2] else ""
        if suffix not in suffixes:
            raise argparse.ArgumentTypeError(
                f"cannot tell the format of {text!r}: use a file ending in " + ", ".join(f".{s}" for s in suffixes)
            )
        return text

    parse.__name__ = "path"
    return parse


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


# ---------------------------------------------------------------------------------- checks before any work


def missing_extra(module: str, extra: str, purpose: str) -> str | None:
    """``None`` when ``module`` can be imported, else one line saying which extra installs it for ``purpose``.

    Checked before training starts, so that a missing package ends the run at once instead of after
    100,000 steps."""
    try:
        importlib.import_module(module)  # not just found: a broken install fails here, not after training
    except ImportError as error:
        installed = importlib.util.find_spec(module) is not None  # but broken
        why = f"the {module} package, which fails to import ({error})" if installed else f"the {module} package"
        return f"{purpose} needs {why}: pip install 'tinygrad-lite[{extra}]'"
    return None


def check_output_path(path: str, what: str) -> str | None:
    """``None`` when ``path`` can be written later, else why not: it is a folder, or its folder is missing or is
    not a folder. Said before any work, since writing would fail only at the end of it."""
    if Path(path).is_dir():
        return f"cannot write the {what} to {path!r}: it is an existing folder; give a file name"
    folder = Path(path).parent
    if folder.is_dir():
        return None
    why = f"{str(folder)!r} is not a folder" if folder.exists() else f"the folder {str(folder)!r} does not exist"
    return f"cannot write the {what} to {path!r}: {why}"


def plot_problem(path: str) -> str | None:
    """Why a plot could not be saved to ``path`` (matplotlib or the folder is missing), else ``None``."""
    return missing_extra("matplotlib", "examples", "--plot") or check_output_path(path, "plot")


_ROWS = 150  # the Iris data set: no array of a run has more rows
_ARRAYS_PER_HIDDEN_UNIT = 16  # rows × hidden arrays alive at once (activations, gradients, saved for backward)


def _physical_memory() -> int | None:
    """The machine's RAM in bytes, or None where the platform does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _memory_problem(args: argparse.Namespace, runs: int) -> str | None:
    """Why ``--hidden`` and ``--steps`` cannot fit in this machine's memory, else ``None``: said before any
    allocation, instead of a MemoryError traceback. Each of the ``runs`` keeps a float64 per step (its error
    curve); one run at a time holds about 16 arrays of 150 rows × hidden units."""
    needed = 8 * (args.steps * runs + _ARRAYS_PER_HIDDEN_UNIT * _ROWS * args.hidden)
    memory = _physical_memory()
    if memory is None or needed <= memory:
        return None
    return (f"--hidden {args.hidden} with --steps {args.steps} over {runs} run{'s' if runs > 1 else ''} needs "
            f"about {needed / 2**30:,.1f} GiB of memory; this machine has {memory / 2**30:,.1f} GiB")


def _graph_output(args: argparse.Namespace) -> str | None:
    """Where ``graph`` draws its picture: ``--output``, else graph.svg unless only ``--steps`` was asked for."""
    return args.output or (None if args.steps else "graph.svg")


def _drawings(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    """The files a command draws with Graphviz, as (path, option, what it is)."""
    if args.command == "iris":
        asked = [(args.graph, "--graph", "graph"), (args.explain, "--explain", "step-through page")]
    else:
        asked = [(_graph_output(args), "--output", "graph"), (args.steps, "--steps", "step-through page")]
    return [(path, option, what) for path, option, what in asked if path]


def _show_code_conflict(args: argparse.Namespace) -> str | None:
    """``iris --show-code`` prints the step's code and exits, writing nothing: an output asked for beside it
    would be silently skipped, so it is refused instead."""
    asked = [option for option, value in (("--plot", args.plot), ("--graph", args.graph), ("--explain", args.explain))
             if value]
    if not asked:
        return None
    return (f"--show-code prints the training step's code and exits without writing files: run {', '.join(asked)} "
            "without it")


def _problems_before_work(args: argparse.Namespace) -> list[str]:
    """What would make a command fail only after its work (100,000 training steps for ``iris``): a missing
    extra or program, a path that is a folder or in a folder that does not exist, or more memory than the
    machine has."""
    if args.command == "iris" and args.show_code:  # no training, no files: only a conflicting option can fail
        return [p for p in [_show_code_conflict(args)] if p is not None]
    plot = getattr(args, "plot", None)
    problems = []
    if args.command == "iris":
        from .casestudy import VARIANTS

        seeds = 1 if args.seeds is None else len(args.seeds)
        problems.append(_memory_problem(args, seeds * (len(VARIANTS) if args.variant == "all" else 1)))
    if plot:
        problems.append(plot_problem(plot))
    for path, option, what in _drawings(args):
        problems += [missing_extra("graphviz", "viz", option), check_output_path(path, what)]
        if Path(path).suffix.lower() in (".gv", ".dot"):
            continue
        if shutil.which("dot") is None:
            image = what == "graph"
            problems.append(f"{option} needs Graphviz's dot program to write {'an image' if image else 'it'} "
                            f"({_INSTALL_DOT})" + ("; a .gv file needs no dot" if image else ""))
    return [p for p in problems if p is not None]


# ------------------------------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="tinygrad-lite",
        description="tinygrad_lite: a small reverse-mode autodiff framework on numpy.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    iris = sub.add_parser(
        "iris",
        help="the article's Iris case study (4-5-3 sigmoid network, 100,000 steps)",
        description=(
            "Reproduce the article's case study: L2-normalised Iris rows, one-hot labels, a 100/50 split, a "
            "4-5-3 sigmoid network without biases, uniform [-1, 1) initial weights, full-batch SGD with lr 0.1 "
            "on ½·Σ(Y − out)², 100,000 steps, float64, and the seed protocol (docs/article.md in the source "
            "repository)."
        ),
    )
    iris.add_argument(
        "--variant",
        choices=["framework", "corrected", "article", "all"],
        default="framework",
        help="framework: tinygrad_lite nn + optim + backward() (default); corrected: hand-written numpy with "
        "the true derivative; article: hand-written numpy with the article's derivative as published; "
        "all: the three side by side",
    )
    seeds = iris.add_mutually_exclusive_group()
    # default None, not 0: argparse lets a mutually exclusive option through when its value is the default
    seeds.add_argument("--seed", type=int_at_least(0), help="seed of the split and weights (default 0)")
    seeds.add_argument("--seeds", type=parse_seeds, metavar="LIST",
                       help="several seeds, e.g. 0-9 or 0,2,3: prints min / median / max of each figure")
    iris.add_argument("--steps", type=int_at_least(1), default=100_000, help="training steps (default 100000)")
    iris.add_argument("--lr", type=positive_float, default=0.1, help="learning rate (default 0.1)")
    iris.add_argument("--hidden", type=int_at_least(1), default=5, help="hidden units (default 5)")
    iris.add_argument("--dtype", choices=sorted(_DTYPES), default="float64", help="float type (default float64)")
    iris.add_argument("--plot", metavar="PATH", type=path_with_suffix(PLOT_FORMATS),
                      help="save the error curve (mean|Y − out| per iteration), e.g. loss.png")
    iris.add_argument("--graph", metavar="PATH", type=path_with_suffix(_GRAPH_FORMATS),
                      help="render one training step's graph (forward and loss), e.g. graph.svg (needs Graphviz)")
    iris.add_argument("--explain", metavar="PATH", type=path_with_suffix(_PAGE_FORMATS),
                      help="write a page that steps through the backward pass of the first training step (the "
                      "seed's initial weights, before any update), one operation at a time, e.g. steps.html: one "
                      "HTML file to open in a browser (needs Graphviz); written after the run, so --steps 1 skips "
                      "the training")
    iris.add_argument("--jit", action=argparse.BooleanOptionalAction, default=True,
                      help="framework variant: run the step tl.jit compiled once (default), or with --no-jit "
                      "record and walk the graph at every step (the same figures bit for bit; the W1 benchmark of "
                      "docs/performance.md measured an eager step at 2.0-2.3x a compiled one on a 2-core AMD EPYC "
                      "machine). The time each run took is printed at the end.")
    iris.add_argument("--show-code", action="store_true",
                      help="print the training step tl.jit derives for the article's network (one function of "
                      "numpy code, its guards first) and exit without training or writing files, so it is refused "
                      "with --plot, --graph or --explain; docs/iris.md sets it beside the hand-written loop")
    iris.add_argument("--quiet", action="store_true", help="no progress bar")
    iris.set_defaults(handler=_cmd_iris)

    graph = sub.add_parser(
        "graph",
        help="draw the classic scalar example o = tanh(x1·w1 + x2·w2 + b) with values and gradients",
        description="Render the computation graph of a one-neuron scalar expression after backward().",
    )
    graph.add_argument("--output", "-o", metavar="PATH", type=path_with_suffix(_GRAPH_FORMATS),
                       help="output file, its format from the extension: .svg, .png, .pdf, .gv (default graph.svg, "
                       "unless --steps alone is given)")
    graph.add_argument("--steps", metavar="PATH", type=path_with_suffix(_PAGE_FORMATS),
                       help="write a page that steps through its backward pass, one operation at a time, e.g. "
                       "steps.html: one HTML file to open in a browser (needs Graphviz)")
    graph.set_defaults(handler=_cmd_graph)
    return parser


# ------------------------------------------------------------------------------------------------ commands


def _progress_bar(total: int, desc: str, enabled: bool, leave: bool) -> tuple[Any, Any]:
    """A tqdm bar and the ``progress(steps_done, loss)`` callback that advances it; ``(None, None)`` when
    disabled or (tqdm's own rule) when stderr is not a terminal. tqdm must be installed when ``enabled``."""
    if not enabled:
        return None, None
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="step", unit_scale=True, leave=leave, disable=None, dynamic_ncols=True)
    if bar.disable:
        return None, None

    def progress(done: int, loss: float) -> None:
        bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        bar.update(done - bar.n)

    return bar, progress


def _cmd_iris(args: argparse.Namespace) -> int:
    from . import casestudy

    variants = list(casestudy.VARIANTS) if args.variant == "all" else [args.variant]
    seeds = args.seeds if args.seeds is not None else [0 if args.seed is None else args.seed]
    dtype = _DTYPES[args.dtype]
    if args.show_code:
        print(casestudy.step_source(seeds[0], args.hidden, dtype, args.lr), end="")
        return 0
    every = max(1, min(1000, args.steps // 100))  # the bar moves in ~100 ticks: no measurable cost
    runs = [(seed, variant) for seed in seeds for variant in variants]
    show_progress = not args.quiet
    if show_progress and (hint := missing_extra("tqdm", "examples", "the progress bar")):
        print(f"tinygrad-lite iris: {hint} (training goes on without it)", file=sys.stderr)
        show_progress = False
    print(
        f"tinygrad-lite iris: 4-{args.hidden}-3 sigmoid network without biases, "
        f"SGD lr {args.lr:g} on ½·Σ(Y − out)², {args.steps:,} full-batch step{'s' if args.steps > 1 else ''}, "
        f"{args.dtype}; "
        f"{len(runs)} run{'s' if len(runs) > 1 else ''}"
        + ("" if args.jit or "framework" not in variants else " (framework eager: --no-jit)"),
        flush=True,
    )
    t0 = time.perf_counter()
    results = []
    for seed, variant in runs:
        bar, progress = _progress_bar(args.steps, f"{variant} seed {seed}", show_progress, leave=len(runs) == 1)
        try:
            results.append(
                casestudy.run(seed, variant, args.steps, args.lr, args.hidden, dtype, progress, every, args.jit)
            )
        finally:
            if bar is not None:
                bar.close()
    wall = time.perf_counter() - t0
    print()
    print(casestudy.format_table(results))
    print(f"wall time: {wall:.1f} s in total ({'; '.join(_time_per_variant(results))})")
    if args.plot:
        path = casestudy.plot_history(results, args.plot)
        print(f"error curve written to {path}")
    if args.graph:
        from . import viz

        path = viz.render(casestudy.step_graph(seeds[0], args.hidden, dtype), args.graph)
        print(f"graph of one training step written to {path}")
    if args.explain:
        path = casestudy.step_backward_page(args.explain, seeds[0], args.hidden, dtype)
        print(f"the backward pass of the first training step, step by step, written to {path}")
    return 0


def _time_per_variant(results: Sequence[Any]) -> list[str]:
    parts = []
    for variant in dict.fromkeys(r.variant for r in results):
        times = [r.seconds for r in results if r.variant == variant]
        per_step = sum(times) / sum(len(r.history) for r in results if r.variant == variant) * 1e6
        parts.append(f"{variant} {sum(times) / len(times):.1f} s a run, {per_step:.0f} µs a step")
    return parts


def _cmd_graph(args: argparse.Namespace) -> int:
    from . import viz

    if output := _graph_output(args):
        path = viz.render(viz.scalar_demo(), output)
        print(f"graph of o = tanh(x1·w1 + x2·w2 + b) written to {path}")
    if args.steps:
        o, names = viz.scalar_neuron()
        path = viz.backward_steps(o, args.steps, params=names)
        print(f"the backward pass of o = tanh(x1·w1 + x2·w2 + b), step by step, written to {path}")
    return 0


# -------------------------------------------------------------------------------------------------- entry


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (argparse exits with 2 on bad arguments)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if problems := _problems_before_work(args):
        parser.exit(2, "".join(f"tinygrad-lite {args.command}: error: {p}\n" for p in problems))
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ImportError, OSError) as error:  # a missing optional package, an unwritable path: say so plainly
        print(f"tinygrad-lite {args.command}: error: {error}", file=sys.stderr)
        return 1
    except RuntimeError as error:
        from .viz import GraphvizNotFoundError

        if not isinstance(error, GraphvizNotFoundError):
            raise
        print(f"tinygrad-lite {args.command}: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
