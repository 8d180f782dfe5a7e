"""The article's case study as hand-written numpy backprop: the yardstick the framework is measured against.

The network is 4 inputs → 5 hidden → 3 outputs, no biases, a sigmoid after both layers, trained full batch
with learning rate 0.1 (see ``shared/ARTICLE.md``). Two variants of the hand-written update exist:

- ``"corrected"``: the sigmoid's derivative at an activated value ``a`` is ``a(1 − a)``. The update is then
  exactly gradient descent on ``L = ½·Σ(Y − out)²`` (summed over the batch), which is what an autodiff
  framework computes, so the framework reproduces this variant.
- ``"article"``: the derivative as the article wrote it, ``σ(a)(1 − σ(a))`` applied to values that already
  went through the sigmoid. That is not the gradient of any loss; only hand-written code can reproduce it.

Nothing here uses the Tensor engine: it is plain numpy, written for speed (about 20 µs a step) without
hiding the formulas.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from tinygrad_lite.data import load_iris, normalize, one_hot, train_test_split

__all__ = [
    "VARIANTS",
    "ARTICLE_TRAIN_ACCURACY",
    "ARTICLE_VAL_ACCURACY",
    "sigmoid",
    "forward",
    "backprop",
    "train_numpy",
    "init_weights",
    "split_and_init",
    "case_study",
    "article_accuracy",
    "classification_accuracy",
    "half_sse_loss",
    "TrainResult",
    "CaseStudySetup",
    "CaseStudyResult",
]

VARIANTS = ("article", "corrected")
#: The figures the article prints, both computed with its metric (1 − mean|Y − out|)·100.
ARTICLE_TRAIN_ACCURACY = 99.04
ARTICLE_VAL_ACCURACY = 92.86


# ---------------------------------------------------------------------------------------------- metrics


def article_accuracy(Y: np.ndarray, out: np.ndarray) -> float:
    """The article's "accuracy": ``(1 − mean|Y − out|)·100``, a distance between outputs and one-hot targets,
    not a classification accuracy."""
    return float((1.0 - np.mean(np.abs(np.asarray(Y) - np.asarray(out)))) * 100.0)


def classification_accuracy(Y: np.ndarray, out: np.ndarray) -> float:
    """Percentage of rows whose largest output is the true class. ``Y`` is one-hot rows or integer labels."""
    Y, out = np.asarray(Y), np.asarray(out)
    labels = Y.argmax(axis=-1) if Y.ndim == out.ndim else Y
    if labels.shape != out.shape[:-1]:
        raise ValueError(
            f"classification_accuracy: targets of shape {Y.shape} do not match outputs of shape {out.shape}"
        )
    return float(np.mean(out.argmax(axis=-1) == labels) * 100.0)


def half_sse_loss(Y: np.ndarray, out: np.ndarray) -> float:
    """``L = ½·Σ(Y − out)²`` summed (not averaged) over the batch: the loss the corrected update descends."""
    diff = np.asarray(Y) - np.asarray(out)
    return float(0.5 * np.sum(diff * diff))


# ------------------------------------------------------------------------------------- the network


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``σ(x) = 1 / (1 + e^(−x))`` as the article writes it; exp overflow (x < −709) correctly gives 0."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def _sigmoid_(x: np.ndarray) -> np.ndarray:
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
        a = _sigmoid_(tmp)  # the article's defect: σ applied a second time
    np.subtract(1.0, a, out=out)
    out *= a
    return out


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")


def forward(X: np.ndarray, w0: np.ndarray, w1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``h = σ(X·w0)``, ``out = σ(h·w1)``; returns ``(h, out)``."""
    h = sigmoid(X @ w0)
    return h, sigmoid(h @ w1)


def backprop(
    X: np.ndarray, Y: np.ndarray, w0: np.ndarray, w1: np.ndarray, variant: str = "corrected"
) -> tuple[np.ndarray, np.ndarray]:
    """One hand-written backward pass; returns ``(g0, g1)`` such that the update is ``w −= lr·g``.

    For ``"corrected"``, ``g0, g1`` are exactly ``∂L/∂w0, ∂L/∂w1`` of ``L = ½·Σ(Y − out)²``:
    ``δ2 = (Y − out) ⊙ out(1 − out)``, ``δ1 = (δ2·w1ᵀ) ⊙ h(1 − h)``, ``g1 = −hᵀ·δ2``, ``g0 = −Xᵀ·δ1``.
    """
    _check_variant(variant)
    h, out = forward(X, w0, w1)
    err = Y - out
    d_out = sigmoid(out) * (1.0 - sigmoid(out)) if variant == "article" else out * (1.0 - out)
    d_h = sigmoid(h) * (1.0 - sigmoid(h)) if variant == "article" else h * (1.0 - h)
    delta2 = err * d_out
    delta1 = (delta2 @ w1.T) * d_h
    return -(X.T @ delta1), -(h.T @ delta2)


class TrainResult(NamedTuple):
    """Final weights; ``history[i]`` is mean|Y − out| of step ``i``'s forward pass (before its update)."""

    w0: np.ndarray
    w1: np.ndarray
    history: np.ndarray


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
    The inputs are not modified; the weights are copied. All work happens in preallocated buffers, so one
    step costs about 20 µs. ``callback(step, w0, w1, mean_abs_err)`` (if given) runs after every
    ``callback_every``-th update and after the last; the weights it sees are live, so it must not modify them.
    """
    _check_variant(variant)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"train_numpy: steps must be a non-negative int, got {steps!r}")
    if callback_every < 1:
        raise ValueError(f"train_numpy: callback_every must be >= 1, got {callback_every}")
    dtype = np.result_type(X_train, Y_train, w0, w1)
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"train_numpy: inputs must be floating point, got {dtype}")
    X = np.ascontiguousarray(X_train, dtype=dtype)
    Y = np.ascontiguousarray(Y_train, dtype=dtype)
    w0 = np.array(w0, dtype=dtype, order="C", copy=True)
    w1 = np.array(w1, dtype=dtype, order="C", copy=True)
    if (
        X.ndim != 2
        or Y.ndim != 2
        or w0.shape != (X.shape[1], w0.shape[-1])
        or w1.shape
        != (
            w0.shape[1],
            Y.shape[1],
        )
        or X.shape[0] != Y.shape[0]
    ):
        raise ValueError(
            f"train_numpy: shapes do not chain: X {X.shape}, Y {Y.shape}, w0 {w0.shape}, w1 {w1.shape} "
            f"(need X (n, i), w0 (i, h), w1 (h, o), Y (n, o))"
        )
    n, n_hidden, n_out = X.shape[0], w0.shape[1], w1.shape[1]
    lr = dtype.type(lr)

    XT = np.ascontiguousarray(X.T)
    h, dh, tmp_h, delta1 = (np.empty((n, n_hidden), dtype) for _ in range(4))
    out, err, dout, tmp_o = (np.empty((n, n_out), dtype) for _ in range(4))
    g0, g1 = np.empty_like(w0), np.empty_like(w1)
    history = np.empty(steps, dtype=np.float64)
    size = err.size

    with np.errstate(over="ignore"):  # exp(−x) overflows to inf for x < −709 and σ correctly gives 0
        for step in range(steps):
            _sigmoid_(np.dot(X, w0, out=h))  # h = σ(X·w0)
            _sigmoid_(np.dot(h, w1, out=out))  # out = σ(h·w1)
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


# ------------------------------------------------------------------------------------- seed protocol


def init_weights(
    rs: np.random.RandomState, n_in: int = 4, n_hidden: int = 5, n_out: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """Uniform [-1, 1) weights from ``rs``: first ``w0`` (n_in×n_hidden), then ``w1`` (n_hidden×n_out)."""
    w0 = 2.0 * rs.random_sample((n_in, n_hidden)) - 1.0
    w1 = 2.0 * rs.random_sample((n_hidden, n_out)) - 1.0
    return w0, w1


class CaseStudySetup(NamedTuple):
    """Everything the seed protocol produces, in the order it is drawn."""

    X_train: np.ndarray
    X_val: np.ndarray
    Y_train: np.ndarray
    Y_val: np.ndarray
    y_train: np.ndarray
    y_val: np.ndarray
    w0: np.ndarray
    w1: np.ndarray


def split_and_init(seed: int | np.random.RandomState, n_hidden: int = 5) -> CaseStudySetup:
    """The article's data and initial weights for one seed, exactly per the seed protocol in ARTICLE.md.

    Rows are normalised to unit L2 norm and labels one-hot encoded; then, from one
    ``rs = RandomState(seed)``: ``perm = rs.permutation(150)`` (validation rows ``perm[:50]``, training rows
    ``perm[50:]``), then ``w0``, then ``w1``. All float64.
    """
    X, y, _, target_names = load_iris()
    Xn, Y = normalize(X), one_hot(y, len(target_names))
    rs = seed if isinstance(seed, np.random.RandomState) else np.random.RandomState(seed)
    X_train, X_val, Y_train, Y_val, y_train, y_val = train_test_split(Xn, Y, y, test_size=0.33, seed=rs)
    w0, w1 = init_weights(rs, X.shape[1], n_hidden, Y.shape[1])
    return CaseStudySetup(X_train, X_val, Y_train, Y_val, y_train, y_val, w0, w1)


class CaseStudyResult(NamedTuple):
    """The figures the article reports (and the true ones) for one hand-written run."""

    seed: int
    variant: str
    art_train: float
    art_val: float
    cls_train: float
    cls_val: float
    loss: float
    history: np.ndarray
    w0: np.ndarray
    w1: np.ndarray
    seconds: float

    @classmethod
    def measure(cls, seed: int, variant: str, setup: CaseStudySetup, out_train: np.ndarray, out_val: np.ndarray,
                history: np.ndarray, w0: np.ndarray, w1: np.ndarray, seconds: float) -> CaseStudyResult:
        """The figures of a finished run from its outputs on the training and validation rows."""
        return cls(
            seed=seed,
            variant=variant,
            art_train=article_accuracy(setup.Y_train, out_train),
            art_val=article_accuracy(setup.Y_val, out_val),
            cls_train=classification_accuracy(setup.y_train, out_train),
            cls_val=classification_accuracy(setup.y_val, out_val),
            loss=half_sse_loss(setup.Y_train, out_train),
            history=history,
            w0=w0,
            w1=w1,
            seconds=seconds,
        )


def case_study(
    seed: int = 0,
    variant: str = "corrected",
    steps: int = 100_000,
    lr: float = 0.1,
    n_hidden: int = 5,
    callback: Callable[[int, np.ndarray, np.ndarray, float], object] | None = None,
    callback_every: int = 1,
) -> CaseStudyResult:
    """Run the article's case study with the hand-written loop and measure it both ways.

    ``loss`` is ``½·Σ(Y − out)²`` on the training rows after the last step; ``seconds`` is the training time.
    """
    s = split_and_init(seed, n_hidden)
    t0 = time.perf_counter()
    w0, w1, history = train_numpy(
        s.X_train, s.Y_train, s.w0, s.w1, steps, lr, variant, callback=callback, callback_every=callback_every
    )
    seconds = time.perf_counter() - t0
    _, out_train = forward(s.X_train, w0, w1)
    _, out_val = forward(s.X_val, w0, w1)
    return CaseStudyResult.measure(seed, variant, s, out_train, out_val, history, w0, w1, seconds)
