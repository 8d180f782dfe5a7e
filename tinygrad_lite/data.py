"""Data helpers: numpy in, numpy out.

Nothing here depends on the Tensor engine, so the same helpers feed the framework and the article's
hand-written numpy loops (``tinygrad_lite.casestudy``) identical arrays. ``train_test_split`` follows the
seed protocol of the article's case study (one ``RandomState(seed).permutation(n)``, test rows from its
front), which is also the order scikit-learn's ``train_test_split`` draws.
"""

from __future__ import annotations

import csv
import io
import math
import numbers
from collections.abc import Iterator
from importlib import resources

import numpy as np

from .errors import AxisError, ShapeError

__all__ = ["load_iris", "train_test_split", "one_hot", "normalize", "DataLoader", "IRIS_TARGET_NAMES"]

#: Species in label order: the article maps setosa→0, versicolor→1, virginica→2.
IRIS_TARGET_NAMES: tuple[str, ...] = ("setosa", "versicolor", "virginica")

SeedLike = int | np.integer | np.random.RandomState | None


def load_iris() -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Fisher's Iris data from the CSV shipped inside the package (no network, no scikit-learn).

    Returns ``(X, y, feature_names, target_names)``: ``X`` float64 of shape (150, 4), ``y`` int64 of shape
    (150,) with labels 0/1/2 in the order of ``target_names``.
    """
    text = (resources.files("tinygrad_lite") / "datasets" / "iris.csv").read_text(encoding="utf-8")
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    feature_names = header[:-1]
    label_of = {name: i for i, name in enumerate(IRIS_TARGET_NAMES)}
    features: list[list[float]] = []
    labels: list[int] = []
    for line_no, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(header) or row[-1] not in label_of:
            raise ValueError(f"load_iris: malformed row {line_no} of iris.csv: {row!r}")
        features.append([float(v) for v in row[:-1]])
        labels.append(label_of[row[-1]])
    X = np.array(features, dtype=np.float64)
    y = np.array(labels, dtype=np.int64)
    return X, y, list(feature_names), list(IRIS_TARGET_NAMES)


def _random_state(seed: SeedLike, func: str) -> np.random.RandomState:
    """An int seeds a new RandomState; a RandomState is used (and advanced) as is; None means numpy's global
    legacy RandomState, as scikit-learn does (so ``np.random.seed(s)`` reproduces a split)."""
    if isinstance(seed, np.random.RandomState):
        return seed
    if seed is None:
        return np.random.mtrand._rand  # the RandomState behind np.random.seed / np.random.permutation
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"{func}: seed must be an int, None or a numpy RandomState, got {type(seed).__name__}"
        )
    if seed < 0:
        raise ValueError(f"{func}: seed must be non-negative, got {seed}")
    return np.random.RandomState(int(seed))


def _same_length(arrays: tuple, func: str) -> tuple[list[np.ndarray], int]:
    """Convert to numpy and check every array has the same number of rows (first axis)."""
    if not arrays:
        raise ValueError(f"{func}: at least one array is required")
    out = [np.asarray(a) for a in arrays]
    for a in out:
        if a.ndim == 0:
            raise ShapeError(f"{func}: arrays must have at least one dimension, got a scalar")
    lengths = {a.shape[0] for a in out}
    if len(lengths) != 1:
        shapes = ", ".join(str(a.shape) for a in out)
        raise ShapeError(f"{func}: all arrays must have the same number of rows, got shapes {shapes}")
    return out, out[0].shape[0]


def train_test_split(
    *arrays: np.ndarray, test_size: float | int = 0.33, seed: SeedLike = None
) -> list[np.ndarray]:
    """Split arrays into shuffled train and test rows: ``X_train, X_test, y_train, y_test, ...``.

    One permutation ``rs.permutation(n)`` is drawn; the test rows are its first ``n_test`` entries and the
    training rows the rest, in permutation order (the article's seed protocol and scikit-learn's order).
    ``test_size`` is a fraction in (0, 1), giving ``n_test = ceil(test_size * n)`` (50 of 150 for 0.33), or
    a row count. ``seed`` is an int, None (numpy's global RandomState), or a ``np.random.RandomState``,
    which is advanced, so a caller can keep drawing from the same stream afterwards (the case study draws
    its initial weights that way).
    """
    func = "train_test_split"
    arrs, n = _same_length(arrays, func)
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise TypeError(
            f"{func}: test_size must be a float in (0, 1) or an int, got {type(test_size).__name__}"
        )
    if isinstance(test_size, numbers.Integral):
        n_test = int(test_size)
        if not 0 < n_test < n:
            raise ValueError(f"{func}: test_size={n_test} rows must be between 1 and {n - 1} for {n} rows")
    else:
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"{func}: test_size must be in (0, 1) as a fraction, got {test_size}")
        n_test = math.ceil(test_size * n)
        if not 0 < n_test < n:
            raise ValueError(
                f"{func}: test_size={test_size} with {n} rows leaves {n_test} test, {n - n_test} train rows"
            )
    perm = _random_state(seed, func).permutation(n)
    test_idx, train_idx = perm[:n_test], perm[n_test:]
    out: list[np.ndarray] = []
    for a in arrs:
        out += [a[train_idx], a[test_idx]]
    return out


def one_hot(y: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """Integer labels of any shape to float64 one-hot rows of shape ``y.shape + (num_classes,)``.

    ``num_classes`` defaults to ``max(y) + 1``; labels outside ``[0, num_classes)`` are an error rather than
    silently wrapping around.
    """
    y = np.asarray(y)
    if y.dtype == np.bool_ or not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"one_hot: labels must be integers, got dtype {y.dtype}")
    if num_classes is None:
        if y.size == 0:
            raise ValueError("one_hot: num_classes is required for empty labels")
        num_classes = int(y.max()) + 1
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 1:
        raise ValueError(f"one_hot: num_classes must be a positive int, got {num_classes!r}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"one_hot: labels must be in [0, {num_classes}), got min {y.min()} and max {y.max()} "
            f"(labels of shape {y.shape})"
        )
    return np.eye(num_classes, dtype=np.float64)[y]


def normalize(X: np.ndarray, order: float = 2, axis: int = -1) -> np.ndarray:
    """Scale each vector along ``axis`` to unit ``order``-norm (default: each row to unit L2 norm).

    A zero vector is left unchanged (its norm is taken as 1), so no NaN appears. Float inputs keep their
    dtype; integer inputs become float64.
    """
    X = np.asarray(X)
    if X.ndim == 0:
        raise ShapeError("normalize: X must have at least one dimension, got a scalar")
    if not -X.ndim <= axis < X.ndim:
        raise AxisError(f"normalize: axis {axis} is out of range for X of shape {X.shape}")
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float64)
    try:
        norms = np.linalg.norm(X, ord=order, axis=axis, keepdims=True)
    except ValueError as e:
        raise ValueError(f"normalize: invalid norm order {order!r} for vectors ({e})") from e
    norms[norms == 0] = 1
    return X / norms


class DataLoader:
    """Iterate over aligned arrays in mini-batches of rows: each item is a tuple of numpy batches.

    With ``shuffle=True`` the rows are reshuffled at the start of every epoch (every ``iter()``), from a
    RandomState made once from ``seed``, so a run with the same seed sees the same sequence of epochs.
    ``drop_last=True`` drops a final batch smaller than ``batch_size``.
    """

    def __init__(
        self,
        *arrays: np.ndarray,
        batch_size: int,
        shuffle: bool = False,
        seed: SeedLike = None,
        drop_last: bool = False,
    ) -> None:
        self.arrays, self.num_rows = _same_length(arrays, "DataLoader")
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        # A fresh, unpredictable stream when seed is None: shuffling must not consume the global state.
        self._rs = np.random.RandomState() if seed is None else _random_state(seed, "DataLoader")

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_rows // self.batch_size
        return -(-self.num_rows // self.batch_size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, ...]]:
        order = self._rs.permutation(self.num_rows) if self.shuffle else None
        for b in range(len(self)):
            start, stop = b * self.batch_size, min((b + 1) * self.batch_size, self.num_rows)
            if order is None:
                yield tuple(a[start:stop] for a in self.arrays)
            else:
                idx = order[start:stop]
                yield tuple(a[idx] for a in self.arrays)

    def __repr__(self) -> str:
        return (
            f"DataLoader(rows={self.num_rows}, arrays={len(self.arrays)}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last})"
        )
