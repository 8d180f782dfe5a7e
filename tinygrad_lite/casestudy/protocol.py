"""The case study's protocol: the seed protocol (split and initial weights), the figures, and a run's result.

Everything random comes from one ``numpy.random.RandomState(seed)``, so that the framework, the hand-written
loops and any other tool see the same rows and the same initial weights (docs/article.md).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..data import load_iris, normalize, one_hot, train_test_split

__all__ = [
    "ARTICLE_TRAIN_ACCURACY",
    "ARTICLE_VAL_ACCURACY",
    "article_accuracy",
    "classification_accuracy",
    "half_sse_loss",
    "init_weights",
    "CaseStudySetup",
    "split_and_init",
    "CaseStudyResult",
]

#: The figures the article prints for an unknown seed, both computed with its metric (1 − mean|Y − out|)·100.
ARTICLE_TRAIN_ACCURACY = 99.04
ARTICLE_VAL_ACCURACY = 92.86


# ---------------------------------------------------------------------------------------------- figures


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


# ---------------------------------------------------------------------------------------- seed protocol


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
    """The data and initial weights for one seed, exactly per the seed protocol (docs/article.md).

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


# ----------------------------------------------------------------------------------------------- result


class CaseStudyResult(NamedTuple):
    """The figures the article reports (and the true ones) for one run of one variant on one seed."""

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

    @property
    def figures(self) -> tuple[float, float, float, float, float]:
        """``(art train, art val, cls train, cls val, final L)``, the five figures every table shows."""
        return (self.art_train, self.art_val, self.cls_train, self.cls_val, self.loss)
