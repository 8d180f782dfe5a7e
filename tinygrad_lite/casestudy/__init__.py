"""The article's Iris case study: a 4-5-3 sigmoid network, 100,000 full-batch steps, measured honestly.

An application of the library, kept apart from it. :func:`run` is its one entry point (the command line
``tinygrad-lite iris`` and ``examples/iris.py`` call it): one seed, one variant, the article's figures and the
true ones. The modules hold one concept each:

- :mod:`.protocol`: the seed protocol (split, initial weights), the figures, a run's result;
- :mod:`.handwritten`: the article's hand-written numpy loop, with its derivative as published or corrected;
- :mod:`.framework`: the same network with tinygrad_lite, trained by ``loss.backward()``;
- :mod:`.report`: the tables, the error curve, the graph and the generated code of one training step.

docs/article.md describes the case study; docs/iris.md walks through it.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

import tinygrad_lite as tl

from . import framework, handwritten
from .framework import Progress, build_model, loss_fn, train
from .handwritten import HANDWRITTEN
from .protocol import CaseStudyResult, CaseStudySetup, half_sse_loss, split_and_init
from .report import format_table, plot_history, step_backward_page, step_graph, step_source, summarize

__all__ = [
    "VARIANTS",
    "run",
    "build_model",
    "loss_fn",
    "train",
    "split_and_init",
    "CaseStudySetup",
    "CaseStudyResult",
    "format_table",
    "summarize",
    "plot_history",
    "step_backward_page",
    "step_graph",
    "step_source",
]

#: The variants a run can train: the framework, then the hand-written loop corrected and as published.
VARIANTS = ("framework", *HANDWRITTEN)


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
    time of the training loop alone. ``jit`` applies to the framework variant (see :func:`framework.train`).
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
        with tl.no_grad():
            out_train, out_val = model(tl.Tensor(X_train)).data, model(tl.Tensor(X_val)).data
        w0, w1 = framework.article_weights(model)
    else:
        callback = None
        if progress is not None:
            def callback(step: int, w0: np.ndarray, w1: np.ndarray, _mae: float) -> None:
                progress(step + 1, half_sse_loss(Y_train, handwritten.forward(X_train, w0, w1)[1]))

        t0 = time.perf_counter()
        w0, w1, history = handwritten.train_numpy(
            X_train, Y_train, w0, w1, steps, lr, variant, callback=callback, callback_every=progress_every
        )
        seconds = time.perf_counter() - t0
        out_train, out_val = handwritten.forward(X_train, w0, w1)[1], handwritten.forward(X_val, w0, w1)[1]

    return CaseStudyResult.measure(seed, variant, s, out_train, out_val, history, w0, w1, seconds)
