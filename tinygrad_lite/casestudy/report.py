"""The article's Iris case study, run with tinygrad_lite and measured honestly.

One place for each concept of the case study, shared by the command line (``tinygrad-lite iris``) and
``examples/iris.py``:

- :func:`build_model`: the article's 4-5-3 network, no biases, sigmoid after both layers, as an
  ``nn.Sequential``, with the seed protocol's initial weights.
- :func:`train`: the training loop — forward, ``L = ½·Σ(Y − out)²``, ``loss.backward()``, ``opt.step()``;
  the step is captured once with ``tl.jit`` and replayed (same results bit for bit, half the time).
- :func:`run`: one seed, one variant (``framework``, ``corrected`` or ``article``), evaluated with both the
  article's metric and the true classification accuracy.
- :func:`format_table`, :func:`summarize`, :func:`plot_history`: what the command line prints and draws.

The two hand-written variants come from :mod:`tinygrad_lite.reference` (plain numpy); the framework computes
the true gradient, so it reproduces the ``corrected`` variant, not the article's as published.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import nn, optim, reference
from .engine import no_grad
from .jit import jit as tl_jit
from .nn import functional as F
from .reference import (
    ARTICLE_TRAIN_ACCURACY,
    ARTICLE_VAL_ACCURACY,
    CaseStudyResult,
    half_sse_loss,
    split_and_init,
)
from .tensor import Tensor

__all__ = [
    "VARIANTS",
    "DESCRIPTIONS",
    "METRICS_NOTE",
    "REFERENCE_SPREAD",
    "build_model",
    "loss_fn",
    "train",
    "step_graph",
    "run",
    "summarize",
    "format_table",
    "plot_history",
    "CaseStudyResult",
]

VARIANTS = ("framework", "corrected", "article")
DESCRIPTIONS = {
    "framework": "tinygrad_lite nn.Sequential + optim.SGD + loss.backward(): the true gradient of ½·Σ(Y − out)²",
    "corrected": "hand-written numpy backprop with the true sigmoid derivative a(1 − a)",
    "article": "hand-written numpy backprop with the article's derivative σ(a)(1 − σ(a)), exactly as published",
}
METRICS_NOTE = (
    "art = (1 − mean|Y − out|)·100, what the article calls accuracy: a distance between the outputs and the "
    "one-hot targets; cls = the true classification accuracy (the largest output is the right species)."
)
#: ARTICLE.md's reference table (plain numpy, seeds 0–99): min / median / max of the five figures.
REFERENCE_SPREAD = {
    "article": ((68.00, 97.59, 99.98), (64.00, 95.55, 99.47), (54, 98, 100), (50, 94, 100), (0.0001, 1.71, 24.0)),
    "corrected": ((97.29, 99.07, 99.87), (92.72, 97.01, 99.86), (96, 99, 100), (90, 96, 100), (0.0021, 1.01, 2.60)),
}
FIGURES = ("art train %", "art val %", "cls train %", "cls val %", "final L")

Progress = Callable[[int, float], object]  # progress(steps_done, current loss)


# ---------------------------------------------------------------------------------------------------- network


def build_model(w0: np.ndarray, w1: np.ndarray, dtype: Any = np.float64) -> nn.Sequential:
    """The article's network with its initial weights ``w0`` (inputs × hidden) and ``w1`` (hidden × outputs).

    ``nn.Linear`` stores its weight as (out, in) and computes ``x @ W.T``, so the article's ``X·w0`` is the
    first Linear with weight ``w0ᵀ``.
    """
    (n_in, n_hidden), n_out = w0.shape, w1.shape[1]
    model = nn.Sequential(
        nn.Linear(n_in, n_hidden, bias=False, dtype=dtype),
        nn.Sigmoid(),
        nn.Linear(n_hidden, n_out, bias=False, dtype=dtype),
        nn.Sigmoid(),
    )
    model.load_state_dict({"0.weight": w0.T, "2.weight": w1.T})
    return model


def loss_fn(out: Tensor, Y: Tensor) -> Tensor:
    """The loss the article's update descends: ``L = ½·Σ(Y − out)²``, summed (not averaged) over the batch.

    Written as ``0.5 * ((out - Y) ** 2).sum()`` it is the same loss; ``F.mse_loss`` computes it as one
    operation instead of four, which matters when per-operation overhead is most of a step's time."""
    return 0.5 * F.mse_loss(out, Y, reduction="sum")


def train(
    model: nn.Module,
    X: np.ndarray,
    Y: np.ndarray,
    steps: int = 100_000,
    lr: float = 0.1,
    progress: Progress | None = None,
    progress_every: int = 1000,
    jit: bool = True,
) -> np.ndarray:
    """Full-batch gradient descent on ``L = ½·Σ(Y − out)²``; returns mean|Y − out| of every step.

    With ``jit`` (the default) the step is captured once by :func:`tinygrad_lite.jit` and replayed: the same
    numpy operations in the same order, so the same weights bit for bit, at about half the time per step
    (the arrays are tiny; the time goes to building and walking the graph). ``progress(steps_done, loss)`` is
    called every ``progress_every`` steps and after the last one.
    """
    X, Y = Tensor(X), Tensor(Y)
    opt = optim.SGD(model.parameters(), lr=lr)

    def step(X: Tensor, Y: Tensor) -> tuple[Tensor, Tensor]:
        out = model(X)
        loss = loss_fn(out, Y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return out, loss

    if jit:
        step = tl_jit(step)
    abs_err_sums = np.empty(steps)
    for i in range(steps):
        out, loss = step(X, Y)
        abs_err_sums[i] = np.abs(out.data - Y.data).sum()  # for the curve the article plots
        if progress is not None and ((i + 1) % progress_every == 0 or i + 1 == steps):
            progress(i + 1, float(loss.data))
    return abs_err_sums / Y.data.size  # mean|Y − out| of each step


def step_graph(seed: int = 0, hidden: int = 5, dtype: Any = np.float64, **draw_options: Any) -> Any:
    """The graph of one training step (forward and loss, after ``loss.backward()``) for one seed, with the
    parameters named (``0.weight``, ``2.weight``): a ``graphviz.Digraph`` from :func:`viz.draw_graph`."""
    from . import viz  # imports graphviz only when drawing

    s = split_and_init(seed, hidden)
    model = build_model(s.w0, s.w1, dtype)
    with viz.trace_modules(model):  # so each layer's operations are drawn in that layer's box
        out = model(Tensor(s.X_train.astype(dtype)))
    loss = loss_fn(out, Tensor(s.Y_train.astype(dtype)))
    loss.backward()
    return viz.draw_graph(loss, params=model, **draw_options)


def _article_weights(model: nn.Module) -> tuple[np.ndarray, np.ndarray]:
    """The model's weights in the article's layout: ``w0`` (inputs × hidden), ``w1`` (hidden × outputs)."""
    return model[0].weight.data.T.copy(), model[2].weight.data.T.copy()


# ---------------------------------------------------------------------------------------------------- one run


def run(
    seed: int = 0,
    variant: str = "framework",
    steps: int = 100_000,
    lr: float = 0.1,
    hidden: int = 5,
    dtype: Any = np.float64,
    progress: Progress | None = None,
    progress_every: int = 1000,
    jit: bool = True,
) -> CaseStudyResult:
    """Train one variant on one seed's split and initial weights (the seed protocol) and measure it.

    The figures are computed on the final weights: the article's metric and the classification accuracy on
    the training and validation rows, and the loss ``½·Σ(Y − out)²`` on the training rows. ``seconds`` is the
    time of the training loop alone. ``jit`` applies to the framework variant (see :func:`train`).
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    dtype = np.dtype(dtype)
    s = split_and_init(seed, hidden)
    X_train, Y_train, X_val = (a.astype(dtype) for a in (s.X_train, s.Y_train, s.X_val))
    w0, w1 = s.w0.astype(dtype), s.w1.astype(dtype)

    if variant == "framework":
        model = build_model(w0, w1, dtype)
        t0 = time.perf_counter()
        history = train(model, X_train, Y_train, steps, lr, progress, progress_every, jit)
        seconds = time.perf_counter() - t0
        with no_grad():
            out_train, out_val = model(Tensor(X_train)).data, model(Tensor(X_val)).data
        w0, w1 = _article_weights(model)
    else:
        callback = None
        if progress is not None:
            def callback(step: int, w0: np.ndarray, w1: np.ndarray, _mae: float) -> None:
                progress(step + 1, half_sse_loss(Y_train, reference.forward(X_train, w0, w1)[1]))

        t0 = time.perf_counter()
        w0, w1, history = reference.train_numpy(
            X_train, Y_train, w0, w1, steps, lr, variant, callback=callback, callback_every=progress_every
        )
        seconds = time.perf_counter() - t0
        out_train, out_val = reference.forward(X_train, w0, w1)[1], reference.forward(X_val, w0, w1)[1]

    return CaseStudyResult.measure(seed, variant, s, out_train, out_val, history, w0, w1, seconds)


# ---------------------------------------------------------------------------------------------------- report


def _figures(r: CaseStudyResult) -> tuple[float, ...]:
    return (r.art_train, r.art_val, r.cls_train, r.cls_val, r.loss)


def summarize(results: Sequence[CaseStudyResult]) -> dict[str, list[tuple[float, float, float]]]:
    """For each variant: (min, median, max) over its runs of each of the five figures and of the time."""
    summary: dict[str, list[tuple[float, float, float]]] = {}
    for variant in dict.fromkeys(r.variant for r in results):
        rows = np.array([(*_figures(r), r.seconds) for r in results if r.variant == variant])
        summary[variant] = [(float(c.min()), float(np.median(c)), float(c.max())) for c in rows.T]
    return summary


def _fmt(value: float, column: int) -> str:
    if column == 4:  # the loss: small values need digits
        return f"{value:.4f}" if value < 10 else f"{value:.2f}"
    if column == 5:  # seconds
        return f"{value:.1f} s"
    if column in (2, 3) and value == round(value):  # classification accuracy: whole rows out of 100 or 50
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
    reference spread over seeds 0–99 from ARTICLE.md for comparison.
    """
    seeds = sorted({r.seed for r in results})
    many = len(seeds) > 1
    header = ["variant", *FIGURES, "train time"]
    rows: list[list[str]] = []
    if many:
        for variant, stats in summarize(results).items():
            rows.append([variant, *(" / ".join(_fmt(v, i) for v in s) for i, s in enumerate(stats))])
    else:
        rows += [[r.variant, *(_fmt(v, i) for i, v in enumerate((*_figures(r), r.seconds)))] for r in results]
    rows.append(["article (as printed)", f"{ARTICLE_TRAIN_ACCURACY:.2f}", f"{ARTICLE_VAL_ACCURACY:.2f}",
                 "-", "-", "-", "-"])
    if many:
        shown = {r.variant for r in results}
        for variant, spread in REFERENCE_SPREAD.items():
            if variant in shown or (variant == "corrected" and "framework" in shown):
                cells = [" / ".join(_fmt(v, i) for v in s) for i, s in enumerate(spread)]
                rows.append([f"ARTICLE.md {variant}, seeds 0-99", *cells, "-"])
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


def plot_history(results: Sequence[Any], path: str | Path, max_points: int = 2000) -> Path:
    """Save the curve the article plots, mean|Y − out| against the iteration, one line per run.

    Each run is a :class:`CaseStudyResult`, or anything with its ``variant``, ``seed`` and ``history``.

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
