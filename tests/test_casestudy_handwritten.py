"""tinygrad_lite.casestudy.handwritten: the article's hand-written numpy loop, corrected and as published.

The corrected update is gradient descent on ½·Σ(Y − out)² (checked against finite differences); the fast loop
equals plain backprop step by step; full 100,000-step runs reproduce the reference figures of docs/article.md.
Those full runs are marked ``trajectory``: their last digits depend on the CPU's BLAS kernel, so
tools/blas_kernels.py runs them under every kernel, and each tolerance below is the measured spread over the
kernels Prescott, Nehalem, Sandybridge, Haswell, Zen, SkylakeX and Cooperlake, with margin.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from oracles import ART_TOL, CORRECTED_REFERENCE, L_TOL, backprop

from tinygrad_lite import casestudy
from tinygrad_lite.casestudy.handwritten import forward, sigmoid, train_numpy
from tinygrad_lite.casestudy.protocol import half_sse_loss, split_and_init

# The article's loop over seeds 0-99: min and max of the same five figures, the widest over the seven kernels
# (docs/article.md): seed 92 diverges on six of them, not on Prescott, and ends further out on Nehalem and
# Sandybridge.
ARTICLE_SPREAD_MIN = (67.49, 61.99, 53, 48, 0.0001)
ARTICLE_SPREAD_MAX = (99.98, 99.47, 100, 100, 24.38)
# The article's loop at seed 5, its most stable seed of 0-9: over the seven kernels its figures moved by at
# most 1.2e-4 in a percentage and 2.1e-7 in the loss (under a 1e-15 scaling of the weights 2.8e-5 and 9e-8).
# Tolerance: about three times that.
ARTICLE_SEED5 = (98.318117, 94.300057, 99, 92, 1.2161816)  # the middle of the measured ranges
ART5_TOL, L5_TOL = 4e-4, 1e-6
# Seed 0 is chaotic for the article's loop; over the seven kernels its figures spanned these ranges.
ARTICLE_SEED0_RANGE = ((98.09, 98.47), (95.58, 96.13), (97, 98), (94, 94), (1.2433, 1.3548))


@pytest.mark.slow
@pytest.mark.trajectory
@pytest.mark.parametrize("seed", sorted(CORRECTED_REFERENCE))
def test_corrected_variant_reproduces_the_reference(seed: int) -> None:
    got = casestudy.run(seed, "corrected").figures
    art_train, art_val, cls_train, cls_val, loss = CORRECTED_REFERENCE[seed]
    assert got[0] == pytest.approx(art_train, abs=ART_TOL)
    assert got[1] == pytest.approx(art_val, abs=ART_TOL)
    assert got[2:4] == (cls_train, cls_val)
    assert got[4] == pytest.approx(loss, abs=L_TOL)


@pytest.mark.slow
@pytest.mark.trajectory
def test_article_variant_is_reproduced_where_it_is_stable() -> None:
    got = casestudy.run(5, "article").figures
    np.testing.assert_allclose(got[:2], ARTICLE_SEED5[:2], rtol=0, atol=ART5_TOL)
    assert got[2:4] == ARTICLE_SEED5[2:4]
    assert got[4] == pytest.approx(ARTICLE_SEED5[4], abs=L5_TOL)


@pytest.mark.slow
@pytest.mark.trajectory
def test_article_variant_at_a_chaotic_seed_stays_inside_its_measured_range() -> None:
    # Only what held on every kernel is asserted: each figure inside the range the kernels spanned (widened by
    # half its width on each side, for a CPU whose rounding falls between them), hence inside the spread over
    # 100 seeds, and a loss clearly above the true gradient's.
    got = casestudy.run(0, "article").figures
    names = ("art train", "art val", "cls train", "cls val", "loss")
    for name, value, (lo, hi), lowest, highest in zip(
        names, got, ARTICLE_SEED0_RANGE, ARTICLE_SPREAD_MIN, ARTICLE_SPREAD_MAX, strict=True
    ):
        margin = (hi - lo) / 2
        assert lo - margin <= value <= hi + margin, f"{name} = {value} outside the measured range [{lo}, {hi}]"
        assert lowest <= value <= highest
    assert got[4] > CORRECTED_REFERENCE[0][4] + 0.2


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
        ({"variant": "torch"}, ValueError, r"variant must be one of \('corrected', 'article'\)"),
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


def test_sigmoid_is_stable_at_extremes() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(sigmoid(np.array([-1e4, 0.0, 1e4])), [0.0, 0.5, 1.0])
