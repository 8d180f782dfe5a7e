"""The case study with tinygrad_lite: the article's network as an ``nn.Sequential``, trained by ``loss.backward()``.

The framework computes the true gradient of ``L = ½·Σ(Y − out)²``, so it reproduces the hand-written loop's
``corrected`` variant, not the article's as published.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import tinygrad_lite as tl
from tinygrad_lite import Tensor, nn, optim
from tinygrad_lite.nn import functional as F

from .protocol import half_sse_loss

__all__ = ["build_model", "loss_fn", "training_step", "train", "article_weights", "Progress"]

Progress = Callable[[int, float], object]  # progress(steps_done, current loss)


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


def article_weights(model: nn.Module) -> tuple[np.ndarray, np.ndarray]:
    """The model's weights in the article's layout: ``w0`` (inputs × hidden), ``w1`` (hidden × outputs)."""
    return model[0].weight.data.T.copy(), model[2].weight.data.T.copy()


def loss_fn(out: Tensor, Y: Tensor) -> Tensor:
    """The loss the article's update descends: ``L = ½·Σ(Y − out)²``, summed (not averaged) over the batch.

    Written as ``0.5 * ((out - Y) ** 2).sum()`` it is the same loss; ``F.mse_loss`` computes it as one
    operation instead of four, which matters when per-operation overhead is most of a step's time."""
    return 0.5 * F.mse_loss(out, Y, reduction="sum")


def training_step(model: nn.Module, lr: float) -> Callable[[Tensor, Tensor], Tensor]:
    """One full-batch step of gradient descent with step ``lr`` on ``L = ½·Σ(Y − out)²``, as a function of
    ``(X, Y)`` that returns ``out``: forward, loss, ``zero_grad``, ``loss.backward()``, the SGD update.

    It returns the output, not the loss: the article's loop never computes the loss's value either, only its
    gradient, and under ``tl.jit`` a value nobody returns is not computed (``train`` works the loss out from
    ``out`` when it reports progress)."""
    opt = optim.SGD(model.parameters(), lr=lr)

    def train_step(X: Tensor, Y: Tensor) -> Tensor:
        out = model(X)
        loss = loss_fn(out, Y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return out

    return train_step


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
    numpy operations in the same order, so the same weights bit for bit, in less time per step (the arrays
    are tiny; the time goes to building and walking the graph). ``progress(steps_done, loss)`` is called
    every ``progress_every`` steps and after the last one.
    """
    X, Y = Tensor(X), Tensor(Y)
    step = training_step(model, lr)
    if jit:
        step = tl.jit(step)
    abs_err_sums = np.empty(steps)
    abs_err = None  # out − Y in the array the first step allocates: the same elements and sums, no new arrays
    for i in range(steps):
        out = step(X, Y)
        abs_err = np.subtract(out.data, Y.data, out=abs_err)
        abs_err_sums[i] = np.add.reduce(np.abs(abs_err, out=abs_err), axis=None)  # for the curve the article plots
        if progress is not None and ((i + 1) % progress_every == 0 or i + 1 == steps):
            progress(i + 1, half_sse_loss(Y.data, out.data))  # L of the weights before this step, as loss.backward saw
    return abs_err_sums / Y.data.size  # mean|Y − out| of each step
