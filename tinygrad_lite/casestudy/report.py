"""What the case study prints and draws: the results table, the error curve, the graph of one training step."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import tinygrad_lite as tl

from .framework import build_model, loss_fn, training_step
from .protocol import ARTICLE_TRAIN_ACCURACY, ARTICLE_VAL_ACCURACY, CaseStudyResult, split_and_init

__all__ = ["DESCRIPTIONS", "METRICS_NOTE", "REFERENCE", "FIGURES", "format_figure", "format_table", "summarize",
           "plot_history", "step_backward_page", "step_graph", "step_source"]

DESCRIPTIONS = {
    "framework": "tinygrad_lite nn.Sequential + optim.SGD + loss.backward(): the true gradient of ½·Σ(Y − out)²",
    "corrected": "hand-written numpy backprop with the true sigmoid derivative a(1 − a)",
    "article": "hand-written numpy backprop with the article's derivative σ(a)(1 − σ(a)), exactly as published",
}
METRICS_NOTE = (
    "art = (1 − mean|Y − out|)·100, what the article calls accuracy: a distance between the outputs and the "
    "one-hot targets; cls = the true classification accuracy (the largest output is the right species)."
)
#: The reference table of docs/article.md: the article's hand-written loop over seeds 0–99, min / median / max of
#: each figure; ``a–b`` is the range over seven CPUs' BLAS kernels, where the figure moves with the CPU.
REFERENCE = {
    "article": ("67.50–95.27 / 97.56–97.66 / 99.98", "62.00–90.26 / 95.55–95.57 / 99.32–99.47", "53–95 / 98 / 100",
                "48–86 / 94 / 100", "0.0001 / 1.6665–1.7662 / 3.5142–24.38"),
    "corrected": ("97.29–97.39 / 99.07 / 99.87", "92.72 / 96.87–97.06 / 99.86", "96–97 / 99 / 100", "90 / 96 / 100",
                  "0.0021 / 1.0126–1.0133 / 2.2692–2.5992"),
}
FIGURES = ("art train %", "art val %", "cls train %", "cls val %", "final L")


def summarize(results: Sequence[CaseStudyResult]) -> dict[str, list[tuple[float, float, float]]]:
    """For each variant: (min, median, max) over its runs of each of the five figures and of the time."""
    summary: dict[str, list[tuple[float, float, float]]] = {}
    for variant in dict.fromkeys(r.variant for r in results):
        rows = np.array([(*r.figures, r.seconds) for r in results if r.variant == variant])
        summary[variant] = [(float(c.min()), float(np.median(c)), float(c.max())) for c in rows.T]
    return summary


def format_figure(figure: str, value: float) -> str:
    """One figure as every table shows it: percentages to 0.01, classification accuracy in whole rows, the loss
    to four decimals (two past 10), the time in seconds."""
    if figure == "final L":
        return f"{value:.4f}" if value < 10 else f"{value:.2f}"
    if figure == "train time":
        return f"{value:.1f} s"
    if figure.startswith("cls") and value == round(value):  # whole rows out of 100 or 50
        return f"{value:.0f}"
    return f"{value:.2f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = []
    for row in (header, *rows):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_table(results: Sequence[CaseStudyResult]) -> str:
    """The results side by side, one row per variant, with the article's own figures and an explanation.

    One run per variant: the figures. Several seeds: ``min / median / max`` of each figure, followed by the
    reference spread over seeds 0–99 (docs/article.md) for comparison.
    """
    seeds = sorted({r.seed for r in results})
    many = len(seeds) > 1
    header = ["variant", *FIGURES, "train time"]
    rows: list[list[str]] = []
    if many:
        for variant, stats in summarize(results).items():
            rows.append([variant, *(" / ".join(format_figure(f, v) for v in s) for f, s in zip(header[1:], stats))])
    else:
        rows += [[r.variant, *map(format_figure, header[1:], (*r.figures, r.seconds))] for r in results]
    rows.append(["article (as printed)", f"{ARTICLE_TRAIN_ACCURACY:.2f}", f"{ARTICLE_VAL_ACCURACY:.2f}",
                 "-", "-", "-", "-"])
    if many:
        shown = {r.variant for r in results}
        for variant, cells in REFERENCE.items():
            if variant in shown or (variant == "corrected" and "framework" in shown):
                name = "as published" if variant == "article" else variant
                rows.append([f"article's loop {name}, seeds 0-99", *cells, "-"])
    variants = list(dict.fromkeys(r.variant for r in results))
    seed_text = f"seed {seeds[0]}" if not many else f"seeds {_seed_list(seeds)} (min / median / max)"
    lines = [
        f"Iris case study, {seed_text}:",
        "",
        _table(header, rows),
        "",
        *(f"{v}: {DESCRIPTIONS[v]}" for v in variants),
        METRICS_NOTE,
        "final L = ½·Σ(Y − out)² on the 100 training rows after the last step.",
    ]
    return "\n".join(lines)


def _seed_list(seeds: Sequence[int]) -> str:
    """``0-9`` for a contiguous range, else ``0,2,3``."""
    if len(seeds) > 2 and list(seeds) == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(str(s) for s in seeds)


def plot_history(results: Sequence[CaseStudyResult], path: str | Path, max_points: int = 2000) -> Path:
    """Save the curve the article plots, mean|Y − out| against the iteration, one line per run.

    Each run is a :class:`CaseStudyResult` (its ``variant``, ``seed`` and ``history`` are drawn).

    matplotlib is imported here, with the headless Agg backend; long runs are thinned to ``max_points``
    points per line, which changes nothing visible.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - matplotlib is in the examples/dev extras
        raise RuntimeError("plotting needs matplotlib: pip install 'tinygrad-lite[examples]'") from error
    path = Path(path)
    colors = {"framework": "tab:blue", "corrected": "tab:orange", "article": "tab:green"}
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    labelled: set[str] = set()
    single_seed = len({r.seed for r in results}) == 1
    for r in results:
        n = len(r.history)
        stride = max(1, n // max_points)
        x = np.arange(0, n, stride)
        label = None
        if r.variant not in labelled:
            label = r.variant if single_seed else f"{r.variant} (one line per seed)"
            labelled.add(r.variant)
        style = "--" if r.variant == "corrected" else "-"  # dashed: it lies exactly on the framework's line
        ax.plot(x + 1, r.history[::stride], style, color=colors.get(r.variant), lw=1.2 if single_seed else 0.7,
                alpha=1.0 if single_seed else 0.6, label=label)
    ax.set_xlabel("iteration")
    ax.set_ylabel("error: mean |Y − out|")
    seeds = sorted({r.seed for r in results})
    ax.set_title(f"Iris, 4-5-3 sigmoid network, lr 0.1 — seed{'s' if len(seeds) > 1 else ''} {_seed_list(seeds)}")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _first_step(seed: int, hidden: int, dtype: Any) -> tuple[tl.nn.Module, tl.Tensor]:
    """The model with the seed's initial weights and its loss on the training rows, before ``backward()``; the
    forward pass is traced, so that each layer's operations are drawn in that layer's box."""
    from tinygrad_lite import viz  # imports graphviz only when drawing

    s = split_and_init(seed, hidden)
    model = build_model(s.w0, s.w1, dtype)
    with viz.trace_modules(model):
        out = model(tl.Tensor(s.X_train.astype(dtype)))
    return model, loss_fn(out, tl.Tensor(s.Y_train.astype(dtype)))


def step_graph(seed: int = 0, hidden: int = 5, dtype: Any = np.float64, **draw_options: Any) -> Any:
    """The graph of one training step (forward and loss, after ``loss.backward()``) for one seed, with the
    parameters named (``0.weight``, ``2.weight``): a ``graphviz.Digraph`` from :func:`viz.draw_graph`."""
    from tinygrad_lite import viz

    model, loss = _first_step(seed, hidden, dtype)
    loss.backward()
    return viz.draw_graph(loss, params=model, **draw_options)


def step_backward_page(path: str | Path, seed: int = 0, hidden: int = 5, dtype: Any = np.float64) -> Path:
    """Write the page of :func:`viz.backward_steps` for the first training step of one seed (its initial
    weights, before any update), the layers drawn top to bottom; returns its path."""
    from tinygrad_lite import viz

    model, loss = _first_step(seed, hidden, dtype)
    title = f"Iris, seed {seed}: the backward pass of the first training step"
    return viz.backward_steps(loss, path, params=model, rankdir="TB", title=title)


def step_source(seed: int = 0, hidden: int = 5, dtype: Any = np.float64, lr: float = 0.1) -> str:
    """The Python source ``tl.jit`` generates for the case study's training step (:func:`training_step`: forward,
    ½·Σ(Y − out)², ``zero_grad``, backward, SGD), captured once on the seed's training rows."""
    s = split_and_init(seed, hidden)
    step = tl.jit(training_step(build_model(s.w0.astype(dtype), s.w1.astype(dtype), dtype), lr))
    step(tl.Tensor(s.X_train.astype(dtype)), tl.Tensor(s.Y_train.astype(dtype)))
    return step.source
