"""tinygrad_lite.reference: the article's hand-written numpy loops reproduce the ARTICLE.md reference figures.

The full 100,000-step runs take about 2 s each; they are marked ``slow`` but run by default.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tinygrad_lite.data import load_iris, normalize, one_hot
from tinygrad_lite.reference import (
    article_accuracy,
    backprop,
    case_study,
    classification_accuracy,
    forward,
    half_sse_loss,
    init_weights,
    sigmoid,
    split_and_init,
    train_numpy,
)

# ARTICLE.md, corrected variant, per seed: (art train, art val, cls train, cls val, final L on train).
CORRECTED_REFERENCE = {
    0: (99.15, 94.30, 99, 92, 1.0094),
    2: (99.10, 99.06, 99, 98, 1.0098),
    3: (99.80, 95.88, 100, 94, 0.0074),
    4: (99.15, 97.26, 99, 96, 1.0072),
}
# ARTICLE.md, article variant, min and max over seeds 0-99 of the same five figures.
ARTICLE_SPREAD_MIN = (68.00, 64.00, 54, 50, 0.0001)
ARTICLE_SPREAD_MAX = (99.98, 99.47, 100, 100, 24.0)
# Our own measurement of the article variant at seed 0 (not in ARTICLE.md), pinned against regressions.
ARTICLE_SEED0 = (98.09, 95.63, 97, 94, 1.2442)


def _figures(result) -> tuple[float, float, float, float, float]:
    return (result.art_train, result.art_val, result.cls_train, result.cls_val, result.loss)


# ------------------------------------------------------------------------------- full runs (slow)


@pytest.mark.slow
@pytest.mark.parametrize("seed", sorted(CORRECTED_REFERENCE))
def test_corrected_variant_reproduces_article_reference(seed: int) -> None:
    got = _figures(case_study(seed, variant="corrected", steps=100_000, lr=0.1))
    art_train, art_val, cls_train, cls_val, loss = CORRECTED_REFERENCE[seed]
    # Two decimals: the reference is rounded to 0.01, and well-conditioned seeds move by at most 3e-4.
    assert got[0] == pytest.approx(art_train, abs=0.005 + 3e-4)
    assert got[1] == pytest.approx(art_val, abs=0.005 + 3e-4)
    assert got[2] == cls_train
    assert got[3] == cls_val
    assert got[4] == pytest.approx(loss, abs=5e-4)


@pytest.mark.slow
def test_article_variant_seed0_is_computed_and_inside_article_spread() -> None:
    got = _figures(case_study(0, variant="article", steps=100_000, lr=0.1))
    for name, value, lo, hi in zip(
        ("art train", "art val", "cls train", "cls val", "loss"),
        got,
        ARTICLE_SPREAD_MIN,
        ARTICLE_SPREAD_MAX,
        strict=True,
    ):
        assert lo <= value <= hi, f"{name} = {value} outside the article variant's spread [{lo}, {hi}]"
    np.testing.assert_allclose(got[:2], ARTICLE_SEED0[:2], atol=0.005 + 3e-4)
    assert got[2:4] == ARTICLE_SEED0[2:4]
    assert got[4] == pytest.approx(ARTICLE_SEED0[4], abs=5e-4)
    # The defect matters: at seed 0 the corrected update ends with a lower loss.
    assert got[4] > CORRECTED_REFERENCE[0][4]


# ------------------------------------------------------------------ the update is gradient descent


def _numerical_gradient(f, w: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of f() for each element of w (w is perturbed in place and restored)."""
    grad = np.empty_like(w)
    for idx in np.ndindex(w.shape):
        orig = w[idx]
        w[idx] = orig + eps
        up = f()
        w[idx] = orig - eps
        down = f()
        w[idx] = orig
        grad[idx] = (up - down) / (2 * eps)
    return grad


@pytest.mark.parametrize("seed", [0, 4])
def test_corrected_update_is_a_gradient_descent_step_on_half_sse(seed: int) -> None:
    s = split_and_init(seed)
    w0, w1 = s.w0.copy(), s.w1.copy()

    def loss() -> float:
        return half_sse_loss(s.Y_train, forward(s.X_train, w0, w1)[1])

    num_g0, num_g1 = _numerical_gradient(loss, w0), _numerical_gradient(loss, w1)
    lr = 0.1
    new_w0, new_w1, _ = train_numpy(s.X_train, s.Y_train, s.w0, s.w1, steps=1, lr=lr, variant="corrected")
    np.testing.assert_allclose((s.w0 - new_w0) / lr, num_g0, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose((s.w1 - new_w1) / lr, num_g1, rtol=1e-6, atol=1e-8)
    g0, g1 = backprop(s.X_train, s.Y_train, s.w0, s.w1, "corrected")
    np.testing.assert_allclose(g0, num_g0, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(g1, num_g1, rtol=1e-6, atol=1e-8)


def test_article_update_is_not_the_gradient() -> None:
    s = split_and_init(0)
    g0, g1 = backprop(s.X_train, s.Y_train, s.w0, s.w1, "corrected")
    a0, a1 = backprop(s.X_train, s.Y_train, s.w0, s.w1, "article")
    # Far beyond rounding (at seed 0: 7 % for w1, 13 % for w0), though the same sign pattern at the start.
    assert np.linalg.norm(a1 - g1) > 0.03 * np.linalg.norm(g1)
    assert np.linalg.norm(a0 - g0) > 0.03 * np.linalg.norm(g0)


@pytest.mark.parametrize("variant", ["corrected", "article"])
def test_fast_loop_matches_plain_backprop_step_by_step(variant: str) -> None:
    s = split_and_init(2)
    w0, w1 = s.w0.copy(), s.w1.copy()
    history = []
    for _ in range(20):
        history.append(np.mean(np.abs(s.Y_train - forward(s.X_train, w0, w1)[1])))
        g0, g1 = backprop(s.X_train, s.Y_train, w0, w1, variant)
        w0, w1 = w0 - 0.1 * g0, w1 - 0.1 * g1
    result = train_numpy(s.X_train, s.Y_train, s.w0, s.w1, steps=20, variant=variant)
    np.testing.assert_allclose(result.w0, w0, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(result.w1, w1, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(result.history, history, rtol=1e-12)


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


# ------------------------------------------------------------------------------- train_numpy API


def test_train_numpy_history_callback_and_inputs_untouched() -> None:
    s = split_and_init(0)
    w0_before, w1_before = s.w0.copy(), s.w1.copy()
    calls = []
    result = train_numpy(
        s.X_train, s.Y_train, s.w0, s.w1, steps=10, callback=lambda *a: calls.append(a), callback_every=4
    )
    np.testing.assert_array_equal(s.w0, w0_before)
    np.testing.assert_array_equal(s.w1, w1_before)
    assert result.history.shape == (10,)
    assert result.history[0] == pytest.approx(np.mean(np.abs(s.Y_train - forward(s.X_train, s.w0, s.w1)[1])))
    assert [c[0] for c in calls] == [3, 7, 9]
    assert calls[-1][3] == result.history[9]
    assert calls[-1][1] is result.w0  # live weights


def test_train_numpy_zero_steps_and_float32() -> None:
    s = split_and_init(0)
    r = train_numpy(s.X_train, s.Y_train, s.w0, s.w1, steps=0)
    assert r.history.shape == (0,) and r.w0 is not s.w0
    np.testing.assert_array_equal(r.w0, s.w0)
    f32 = [a.astype(np.float32) for a in (s.X_train, s.Y_train, s.w0, s.w1)]
    r32 = train_numpy(*f32, steps=50)
    assert r32.w0.dtype == np.float32 and r32.w1.dtype == np.float32
    r64 = train_numpy(s.X_train, s.Y_train, s.w0, s.w1, steps=50)
    np.testing.assert_allclose(r32.w1, r64.w1, rtol=1e-4, atol=1e-5)


def test_training_reduces_the_error() -> None:
    s = split_and_init(3)
    r = train_numpy(s.X_train, s.Y_train, s.w0, s.w1, steps=2000)
    assert r.history[-1] < 0.5 * r.history[0]
    assert np.all(np.isfinite(r.history))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"variant": "torch"}, ValueError, r"variant must be one of \('article', 'corrected'\)"),
        ({"steps": -1}, ValueError, r"train_numpy: steps must be a non-negative int"),
        ({"steps": 2.0}, ValueError, r"train_numpy: steps must be a non-negative int"),
        ({"callback_every": 0}, ValueError, r"train_numpy: callback_every"),
        ({"w1": np.zeros((4, 3))}, ValueError, r"train_numpy: shapes do not chain: .*w1 \(4, 3\)"),
        ({"Y_train": np.zeros((99, 3))}, ValueError, r"train_numpy: shapes do not chain"),
        (
            {
                "X_train": np.zeros((100, 4), dtype=np.int64),
                "w0": np.zeros((4, 5), dtype=np.int64),
                "w1": np.zeros((5, 3), dtype=np.int64),
                "Y_train": np.zeros((100, 3), dtype=np.int64),
            },
            TypeError,
            r"train_numpy: inputs must be floating point",
        ),
    ],
)
def test_train_numpy_bad_inputs(kwargs: dict, error: type, match: str) -> None:
    s = split_and_init(0)
    args = {"X_train": s.X_train, "Y_train": s.Y_train, "w0": s.w0, "w1": s.w1, "steps": 1, **kwargs}
    with pytest.raises(error, match=match):
        train_numpy(**args)


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


def test_sigmoid_is_stable_at_extremes() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(sigmoid(np.array([-1e4, 0.0, 1e4])), [0.0, 0.5, 1.0])
