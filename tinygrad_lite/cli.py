"""The command line: ``tinygrad-lite iris`` (the article's case study) and ``tinygrad-lite graph``.

Also ``python -m tinygrad_lite ...``. The work is done by :mod:`tinygrad_lite.casestudy` and
:mod:`tinygrad_lite.viz`; this module parses arguments, shows progress, and prints.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["main", "build_parser", "parse_seeds"]

_DTYPES = {"float64": np.float64, "float32": np.float32}
_PLOT_FORMATS = ("png", "svg", "pdf", "jpg", "jpeg")  # what matplotlib writes
_GRAPH_FORMATS = ("svg", "png", "pdf", "gv", "dot")  # what viz.render writes


# ------------------------------------------------------------------------------------------- argument types


def parse_seeds(text: str) -> list[int]:
    """``"0-9"`` → 0..9, ``"0,2,3"`` → [0, 2, 3], and mixtures such as ``"0-3,7"``; no repeats."""
    seeds: list[int] = []
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
        seeds += [s for s in range(first, last + 1) if s not in seeds]
    return seeds


def _int_at_least(minimum: int) -> Callable[[str], int]:
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


def _path_with_suffix(suffixes: tuple[str, ...]) -> Callable[[str], str]:
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


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


# ------------------------------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinygrad-lite",
        description="tinygrad_lite: a small reverse-mode autodiff framework on numpy.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    iris = sub.add_parser(
        "iris",
        help="the article's Iris case study (4-5-3 sigmoid network, 100,000 steps)",
        description=(
            "Reproduce the article's case study: L2-normalised Iris rows, one-hot labels, a 100/50 split, a "
            "4-5-3 sigmoid network without biases, uniform [-1, 1) initial weights, full-batch SGD with lr 0.1 "
            "on ½·Σ(Y − out)², 100,000 steps, float64, and the seed protocol of ARTICLE.md."
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
    seeds.add_argument("--seed", type=_int_at_least(0), default=0, help="seed of the split and weights (default 0)")
    seeds.add_argument("--seeds", type=parse_seeds, metavar="LIST",
                       help="several seeds, e.g. 0-9 or 0,2,3: prints min / median / max of each figure")
    iris.add_argument("--steps", type=_int_at_least(1), default=100_000, help="training steps (default 100000)")
    iris.add_argument("--lr", type=_positive_float, default=0.1, help="learning rate (default 0.1)")
    iris.add_argument("--hidden", type=_int_at_least(1), default=5, help="hidden units (default 5)")
    iris.add_argument("--dtype", choices=sorted(_DTYPES), default="float64", help="float type (default float64)")
    iris.add_argument("--plot", metavar="PATH", type=_path_with_suffix(_PLOT_FORMATS),
                      help="save the error curve (mean|Y − out| per iteration), e.g. loss.png")
    iris.add_argument("--graph", metavar="PATH", type=_path_with_suffix(_GRAPH_FORMATS),
                      help="render one training step's graph (forward and loss), e.g. graph.svg (needs Graphviz)")
    iris.add_argument("--jit", action=argparse.BooleanOptionalAction, default=True,
                      help="framework variant: replay the step tl.jit captured once (default), or with --no-jit "
                      "run every step eagerly (the same results bit for bit, about twice as slow)")
    iris.add_argument("--quiet", action="store_true", help="no progress bar")
    iris.set_defaults(handler=_cmd_iris)

    graph = sub.add_parser(
        "graph",
        help="draw the classic scalar example o = tanh(x1·w1 + x2·w2 + b) with values and gradients",
        description="Render the computation graph of a one-neuron scalar expression after backward().",
    )
    graph.add_argument("--output", "-o", metavar="PATH", default="graph.svg", type=_path_with_suffix(_GRAPH_FORMATS),
                       help="output file, its format from the extension: .svg, .png, .pdf, .gv (default graph.svg)")
    graph.set_defaults(handler=_cmd_graph)
    return parser


# ------------------------------------------------------------------------------------------------ commands


def _progress_bar(total: int, desc: str, enabled: bool, leave: bool) -> tuple[Any, Any]:
    """A tqdm bar and the ``progress(steps_done, loss)`` callback that advances it; ``(None, None)`` when
    disabled, when tqdm is not installed, or (tqdm's own rule) when stderr is not a terminal."""
    if not enabled:
        return None, None
    try:
        from tqdm import tqdm
    except ImportError:
        return None, None
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
    seeds = args.seeds if args.seeds is not None else [args.seed]
    dtype = _DTYPES[args.dtype]
    every = max(1, min(1000, args.steps // 100))  # the bar moves in ~100 ticks: no measurable cost
    runs = [(seed, variant) for seed in seeds for variant in variants]
    print(
        f"tinygrad-lite iris: 4-{args.hidden}-3 sigmoid network without biases, "
        f"SGD lr {args.lr:g} on ½·Σ(Y − out)², {args.steps:,} full-batch steps, {args.dtype}; "
        f"{len(runs)} run{'s' if len(runs) > 1 else ''}"
        + ("" if args.jit or "framework" not in variants else " (framework eager: --no-jit)"),
        flush=True,
    )
    t0 = time.perf_counter()
    results = []
    for seed, variant in runs:
        bar, progress = _progress_bar(args.steps, f"{variant} seed {seed}", not args.quiet, leave=len(runs) == 1)
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

    path = viz.render(viz.scalar_demo(), args.output)
    print(f"graph of o = tanh(x1·w1 + x2·w2 + b) written to {path}")
    return 0


# -------------------------------------------------------------------------------------------------- entry


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (argparse exits with 2 on bad arguments)."""
    parser = build_parser()
    args = parser.parse_args(argv)
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
