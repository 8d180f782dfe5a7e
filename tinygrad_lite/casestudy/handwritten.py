"""The article's training loop as hand-written numpy backprop, in both variants: the yardstick for the framework.

The network is 4 inputs → 5 hidden → 3 outputs, no biases, a sigmoid after both layers, trained full batch
with learning rate 0.1 (docs/article.md). Two variants of the hand-written update exist:

- ``"corrected"``: the sigmoid's derivative at an activated value ``a`` is ``a(1 − a)``. The update is then
  exactly gradient descent on ``L = ½·Σ(Y − out)²`` (summed over the batch), which is what an autodiff
  framework computes, so the framework reproduces this variant.
- ``"article"``: the derivative as the article wrote it, ``σ(a)(1 − σ(a))`` applied to values that already
  went through the sigmoid. That is not the gradient of any loss; only hand-written code can reproduce it.

Nothing here uses the Tensor engine: it is plain numpy, every intermediate in a buffer allocated once, without
hiding the formulas.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

__all__ = ["HANDWRITTEN", "sigmoid", "sigmoid_", "forward", "train_numpy", "TrainResult"]

#: The hand-written variants, named by the sigmoid derivative their update uses.
HANDWRITTEN = ("corrected", "article")


# ------------------------------------------------------------------------------------- the network


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``σ(x) = 1 / (1 + e^(−x))`` as the article writes it; exp overflow (x < −709) correctly gives 0."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def sigmoid_(x: np.ndarray) -> np.ndarray:
    """In-place ``σ``, the same floating-point operations as ``sigmoid`` without allocating."""
    np.negative(x, out=x)
    np.exp(x, out=x)
    x += 1.0
    np.divide(1.0, x, out=x)
    return x


def _derivative_(a: np.ndarray, out: np.ndarray, tmp: np.ndarray, variant: str) -> np.ndarray:
    """Write the variant's "σ'" of the activated values ``a`` into ``out`` (``tmp``: scratch of a's shape)."""
    if variant == "article":
        np.copyto(tmp, a)
        a = sigmoid_(tmp)  # the article's defect: σ applied a second time
    np.subtract(1.0, a, out=out)
    out *= a
    return out


def _check_variant(variant: str) -> None:
    if variant not in HANDWRITTEN:
        raise ValueError(f"variant must be one of {HANDWRITTEN}, got {variant!r}")


def forward(X: np.ndarray, w0: np.ndarray, w1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``h = σ(X·w0)``, ``out = σ(h·w1)``; returns ``(h, out)``."""
    h = sigmoid(X @ w0)
    return h, sigmoid(h @ w1)


class TrainResult(NamedTuple):
    """Final weights; ``history[i]`` is mean|Y − out| of step ``i``'s forward pass (before its update)."""

    w0: np.ndarray
    w1: np.ndarray
    history: np.ndarray


def _checked_arrays(
    X_train: np.ndarray, Y_train: np.ndarray, w0: np.ndarray, w1: np.ndarray, steps: int, callback_every: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``train_numpy``'s inputs as contiguous arrays of one float dtype (the weights copied), after checking
    that the counts make sense and the shapes chain: X (n, i) · w0 (i, h) · w1 (h, o) against Y (n, o)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"train_numpy: steps must be a non-negative int, got {steps!r}")
    if callback_every < 1:
        raise ValueError(f"train_numpy: callback_every must be >= 1, got {callback_every}")
    dtype = np.result_type(X_train, Y_train, w0, w1)
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"train_numpy: inputs must be floating point, got {dtype}")
    X, Y = np.ascontiguousarray(X_train, dtype=dtype), np.ascontiguousarray(Y_train, dtype=dtype)
    w0, w1 = np.array(w0, dtype=dtype, order="C"), np.array(w1, dtype=dtype, order="C")
    chains = X.ndim == Y.ndim == w0.ndim == w1.ndim == 2 and X.shape[0] == Y.shape[0]
    if not chains or w0.shape[0] != X.shape[1] or w1.shape != (w0.shape[1], Y.shape[1]):
        raise ValueError(
            f"train_numpy: shapes do not chain: X {X.shape}, Y {Y.shape}, w0 {w0.shape}, w1 {w1.shape} "
            f"(need X (n, i), w0 (i, h), w1 (h, o), Y (n, o))"
        )
    return X, Y, w0, w1


def train_numpy(
    X_train: np.ndarray,
    Y_train: np.ndarray,
    w0: np.ndarray,
    w1: np.ndarray,
    steps: int = 100_000,
    lr: float = 0.1,
    variant: str = "corrected",
    callback: Callable[[int, np.ndarray, np.ndarray, float], object] | None = None,
    callback_every: int = 1,
) -> TrainResult:
    """The article's training loop, hand-written: full batch, ``steps`` updates of size ``lr``.

    Each step: ``h = σ(X·w0)``, ``out = σ(h·w1)``, ``err = Y − out``, ``δ2 = err ⊙ σ'(out)``,
    ``δ1 = (δ2·w1ᵀ) ⊙ σ'(h)``, ``w1 += lr·hᵀ·δ2``, ``w0 += lr·Xᵀ·δ1`` — with ``σ'`` per ``variant``.
    The inputs are not modified; the weights are copied. Every intermediate lives in a buffer allocated once
    (docs/performance.md times this loop). ``callback(step, w0, w1, mean_abs_err)`` (if given) runs after every
    ``callback_every``-th update and after the last; the weights it sees are live, so it must not modify them.
    """
    _check_variant(variant)
    X, Y, w0, w1 = _checked_arrays(X_train, Y_train, w0, w1, steps, callback_every)
    n, n_hidden, n_out = X.shape[0], w0.shape[1], w1.shape[1]
    lr = X.dtype.type(lr)

    XT = np.ascontiguousarray(X.T)
    h, dh, tmp_h, delta1 = (np.empty((n, n_hidden), X.dtype) for _ in range(4))
    out, err, dout, tmp_o = (np.empty((n, n_out), X.dtype) for _ in range(4))
    g0, g1 = np.empty_like(w0), np.empty_like(w1)
    history = np.empty(steps, dtype=np.float64)
    size = err.size

    with np.errstate(over="ignore"):  # exp(−x) overflows to inf for x < −709 and σ correctly gives 0
        for step in range(steps):
            sigmoid_(np.dot(X, w0, out=h))  # h = σ(X·w0)
            sigmoid_(np.dot(h, w1, out=out))  # out = σ(h·w1)
            np.subtract(Y, out, out=err)  # err = Y − out
            history[step] = np.abs(err, out=tmp_o).sum() / size
            np.multiply(err, _derivative_(out, dout, tmp_o, variant), out=dout)  # δ2 = err ⊙ σ'(out)
            np.dot(dout, w1.T, out=delta1)
            delta1 *= _derivative_(h, dh, tmp_h, variant)  # δ1 = (δ2·w1ᵀ) ⊙ σ'(h)
            np.dot(h.T, dout, out=g1)
            g1 *= lr
            w1 += g1  # w1 += lr·hᵀ·δ2
            np.dot(XT, delta1, out=g0)
            g0 *= lr
            w0 += g0  # w0 += lr·Xᵀ·δ1
            if callback is not None and ((step + 1) % callback_every == 0 or step + 1 == steps):
                callback(step, w0, w1, float(history[step]))
    return TrainResult(w0, w1, history)
