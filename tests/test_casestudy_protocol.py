"""tinygrad_lite.casestudy.protocol: the seed protocol draws the split and the weights in its order; the figures."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_lite.casestudy.protocol import (
    article_accuracy,
    classification_accuracy,
    half_sse_loss,
    init_weights,
    split_and_init,
)
from tinygrad_lite.data import load_iris, normalize, one_hot

# ----------------------------------------------------------------------------------- seed protocol


@pytest.mark.parametrize("seed", [0, 5])
def test_split_and_init_follows_seed_protocol(seed: int) -> None:
    X, y, _, _ = load_iris()
    Xn, Y = normalize(X), one_hot(y)
    rs = np.random.RandomState(seed)
    perm = rs.permutation(150)
    w0 = 2 * rs.random_sample((4, 5)) - 1
    w1 = 2 * rs.random_sample((5, 3)) - 1
    s = split_and_init(seed)
    expected = (Xn[perm[50:]], Xn[perm[:50]], Y[perm[50:]], Y[perm[:50]], y[perm[50:]], y[perm[:50]], w0, w1)
    assert len(s) == 8
    for name, got, want in zip(s._fields, s, expected, strict=True):
        assert got.dtype == want.dtype, name
        np.testing.assert_array_equal(got, want, err_msg=name)
    assert s.X_train.shape == (100, 4) and s.Y_val.shape == (50, 3) and s.w1.shape == (5, 3)


def test_init_weights_uniform_in_minus_one_one() -> None:
    w0, w1 = init_weights(np.random.RandomState(0), 4, 50, 3)
    assert w0.shape == (4, 50) and w1.shape == (50, 3)
    both = np.concatenate([w0.ravel(), w1.ravel()])
    assert both.min() >= -1 and both.max() < 1 and both.min() < -0.9 and both.max() > 0.9



# ----------------------------------------------------------------------------------------- metrics


def test_metrics() -> None:
    Y = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    out = np.array([[0.9, 0.2, 0.1], [0.6, 0.3, 0.1]])
    assert article_accuracy(Y, out) == pytest.approx((1 - np.mean([0.1, 0.2, 0.1, 0.6, 0.7, 0.1])) * 100)
    assert classification_accuracy(Y, out) == 50.0
    assert classification_accuracy(np.array([0, 0]), out) == 100.0
    assert half_sse_loss(Y, out) == pytest.approx(0.5 * (0.01 + 0.04 + 0.01 + 0.36 + 0.49 + 0.01))
    with pytest.raises(ValueError, match=r"classification_accuracy: targets of shape \(3,\)"):
        classification_accuracy(np.array([0, 1, 2]), out)
