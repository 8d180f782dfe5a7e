"""tinygrad_lite.casestudy: the framework reproduces the article's corrected hand-written backprop.

Gradients match the hand-derived backprop to 1e-12, 100 steps match 100 hand-written steps to 1e-10, and full
100,000-step runs reproduce the reference figures of docs/article.md (``slow`` and ``trajectory``: several
seconds each, and their last digits depend on the BLAS kernel, see tests/test_casestudy_handwritten.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from oracles import ART_TOL, CORRECTED_REFERENCE, L_TOL, backprop

from tinygrad_lite import Tensor, casestudy, nn
from tinygrad_lite.casestudy.handwritten import forward, train_numpy
from tinygrad_lite.casestudy.protocol import split_and_init


def _rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def test_model_is_the_articles_network() -> None:
    s = split_and_init(0)
    model = casestudy.build_model(s.w0, s.w1)
    assert isinstance(model, nn.Sequential)
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "2.weight"]  # no biases
    assert model[0].weight.shape == (5, 4) and model[2].weight.shape == (3, 5)
    np.testing.assert_array_equal(model[0].weight.data, s.w0.T)
    np.testing.assert_array_equal(model[2].weight.data, s.w1.T)
    assert model[0].weight.dtype == np.float64
    out = model(Tensor(s.X_train)).data
    h = 1 / (1 + np.exp(-(s.X_train @ s.w0)))
    np.testing.assert_allclose(out, 1 / (1 + np.exp(-(h @ s.w1))), rtol=1e-14)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_gradients_equal_hand_written_backprop(seed: int) -> None:
    s = split_and_init(seed)
    model = casestudy.build_model(s.w0, s.w1)
    loss = casestudy.loss_fn(model(Tensor(s.X_train)), Tensor(s.Y_train))
    loss.backward()
    g0, g1 = backprop(s.X_train, s.Y_train, s.w0, s.w1, "corrected")
    assert _rel_err(model[0].weight.grad.data.T, g0) < 1e-12
    assert _rel_err(model[2].weight.grad.data.T, g1) < 1e-12
    # and the loss is the one the hand-written update descends
    out = forward(s.X_train, s.w0, s.w1)[1]
    assert loss.item() == pytest.approx(0.5 * np.sum((s.Y_train - out) ** 2), rel=1e-14)


@pytest.mark.parametrize("jit", [True, False], ids=["jit", "eager"])
@pytest.mark.parametrize("seed", [0, 3, 7])
def test_100_steps_equal_hand_written_steps(seed: int, jit: bool) -> None:
    s = split_and_init(seed)
    model = casestudy.build_model(s.w0, s.w1)
    history = casestudy.train(model, s.X_train, s.Y_train, steps=100, lr=0.1, jit=jit)
    w0, w1, ref_history = train_numpy(s.X_train, s.Y_train, s.w0, s.w1, steps=100, lr=0.1, variant="corrected")
    np.testing.assert_allclose(model[0].weight.data.T, w0, rtol=0, atol=1e-10)
    np.testing.assert_allclose(model[2].weight.data.T, w1, rtol=0, atol=1e-10)
    np.testing.assert_allclose(history, ref_history, rtol=1e-10)


def test_jit_replay_is_bit_for_bit_eager() -> None:
    s = split_and_init(1)  # an ill-conditioned seed: any change in rounding would show
    eager, jitted = casestudy.build_model(s.w0, s.w1), casestudy.build_model(s.w0, s.w1)
    h_eager = casestudy.train(eager, s.X_train, s.Y_train, steps=500, jit=False)
    h_jit = casestudy.train(jitted, s.X_train, s.Y_train, steps=500, jit=True)
    np.testing.assert_array_equal(h_jit, h_eager)
    for (name, a), (_, b) in zip(eager.named_parameters(), jitted.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)


def test_run_figures_match_the_numpy_loop_after_a_few_steps() -> None:
    fw = casestudy.run(seed=2, variant="framework", steps=200)
    ref = casestudy.run(seed=2, variant="corrected", steps=200)
    for a, b in zip(fw.figures, ref.figures):
        assert a == pytest.approx(b, rel=1e-9)
    assert fw.history.shape == (200,) and fw.seconds > 0
    np.testing.assert_allclose(fw.w0, ref.w0, atol=1e-10)


def test_float32_runs_in_float32() -> None:
    s = split_and_init(0)
    model = casestudy.build_model(s.w0, s.w1, np.float32)
    assert model[0].weight.dtype == np.float32
    casestudy.train(model, s.X_train.astype(np.float32), s.Y_train.astype(np.float32), steps=5)
    assert model[0].weight.dtype == np.float32 and model[2].weight.dtype == np.float32
    r = casestudy.run(seed=0, variant="framework", steps=50, dtype=np.float32)
    ref = casestudy.run(seed=0, variant="corrected", steps=50)
    assert r.w0.dtype == np.float32
    assert r.art_train == pytest.approx(ref.art_train, abs=1e-3)


def test_progress_callback_sees_decreasing_loss() -> None:
    seen: list[tuple[int, float]] = []
    casestudy.run(seed=0, steps=250, progress=lambda done, loss: seen.append((done, loss)), progress_every=100)
    assert [d for d, _ in seen] == [100, 200, 250]
    assert seen[0][1] > seen[-1][1] > 0
    seen.clear()
    casestudy.run(seed=0, variant="article", steps=250, progress=lambda d, loss: seen.append((d, loss)),
                  progress_every=100)
    assert [d for d, _ in seen] == [100, 200, 250]


def test_unknown_variant_is_rejected() -> None:
    with pytest.raises(ValueError, match="variant must be one of"):
        casestudy.run(variant="pytorch", steps=1)


@pytest.mark.slow
@pytest.mark.trajectory
@pytest.mark.parametrize("seed", sorted(CORRECTED_REFERENCE))
def test_full_run_reproduces_the_reference(seed: int) -> None:
    got = casestudy.run(seed=seed, variant="framework").figures
    art_train, art_val, cls_train, cls_val, loss = CORRECTED_REFERENCE[seed]
    assert got[0] == pytest.approx(art_train, abs=ART_TOL)
    assert got[1] == pytest.approx(art_val, abs=ART_TOL)
    assert got[2:4] == (cls_train, cls_val)
    assert got[4] == pytest.approx(loss, abs=L_TOL)


@pytest.mark.parametrize("doc", ["article.md", "iris.md"])
def test_the_reference_table_is_the_same_in_the_docs_and_the_command_line(doc: str) -> None:
    """The reference figures are written in three places (report.REFERENCE, docs/article.md, docs/iris.md):
    each doc's table row for a variant holds the command line's cells, in order."""
    from pathlib import Path

    from tinygrad_lite.casestudy.report import REFERENCE

    text = (Path(__file__).resolve().parent.parent / "docs" / doc).read_text(encoding="utf-8")
    for variant, cells in REFERENCE.items():
        assert any(" | ".join(cells) in line for line in text.splitlines()), (doc, variant)

