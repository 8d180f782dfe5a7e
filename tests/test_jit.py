"""tl.jit: a captured training step replays with the same results as eager, bit for bit."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import Tensor, nn, optim
from tinygrad_lite.nn import functional as F


def _mlp(sizes: tuple[int, ...], activation: type, dtype: type, seed: int, bias: bool = True) -> nn.Sequential:
    tl.manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out, bias=bias, dtype=dtype))
        if i < len(sizes) - 2 or activation is nn.Sigmoid:
            layers.append(activation())
    return nn.Sequential(*layers)


def _pair(sizes, activation, dtype, make_opt, loss_fn, bias=True):
    """The same model twice (eager and jit) with its optimizer, and a step function for each."""
    systems = []
    for jitted in (False, True):
        model = _mlp(sizes, activation, dtype, seed=0, bias=bias)
        opt = make_opt(model.parameters())

        def step(x, y, model=model, opt=opt):
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        systems.append((model, tl.jit(step) if jitted else step))
    return systems


def _batches(n_steps, batch, n_in, n_out, dtype, seed=1, one_hot=True):
    rs = np.random.RandomState(seed)
    for _ in range(n_steps):
        x = rs.standard_normal((batch, n_in)).astype(dtype)
        labels = rs.randint(0, n_out, batch)
        y = np.eye(n_out, dtype=dtype)[labels] if one_hot else labels
        yield Tensor(x), Tensor(y)


def _assert_same_models(a: nn.Module, b: nn.Module) -> None:
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        assert p.dtype == q.dtype
        assert np.array_equal(p.data, q.data), f"{name} differs"
        assert np.array_equal(p.grad.data, q.grad.data), f"{name}.grad differs"


def test_article_network_replays_bit_for_bit():
    """W1: 4-5-3 sigmoid, no biases, ½·Σ(Y − out)², SGD, float64, new data every step."""
    (eager_model, eager), (jit_model, jitted) = _pair(
        (4, 5, 3), nn.Sigmoid, np.float64, lambda p: optim.SGD(p, lr=0.1),
        lambda out, y: 0.5 * ((out - y) ** 2).sum(), bias=False)
    for x, y in _batches(25, 100, 4, 3, np.float64):
        assert eager(x, y).data == jitted(x, y).data
    _assert_same_models(eager_model, jit_model)
    assert len(jitted.captures) == 1


@pytest.mark.parametrize("make_opt", [
    lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda p: optim.Adam(p, lr=1e-2),
    lambda p: optim.AdamW(p, lr=1e-2),
])
def test_relu_cross_entropy_with_stateful_optimizers_replays_bit_for_bit(make_opt):
    (eager_model, eager), (jit_model, jitted) = _pair((6, 8, 4), nn.ReLU, np.float32, make_opt, F.cross_entropy)
    for x, y in _batches(15, 16, 6, 4, np.float32):
        assert eager(x, y).data == jitted(x, y).data
    _assert_same_models(eager_model, jit_model)


def test_a_new_shape_or_dtype_captures_again():
    (eager_model, eager), (jit_model, jitted) = _pair(
        (3, 4, 2), nn.Tanh, np.float64, lambda p: optim.SGD(p, lr=0.1), F.mse_loss)
    for batch in (5, 7, 5, 7):
        for x, y in _batches(3, batch, 3, 2, np.float64, seed=batch):
            assert eager(x, y).data == jitted(x, y).data
    assert len(jitted.captures) == 2
    _assert_same_models(eager_model, jit_model)


def test_comparisons_and_where_inside_the_step_follow_new_inputs():
    """Masks computed from the inputs are recorded operations, not constants of the capture."""
    def loss_fn(x, w):
        z = x * w
        return tl.where(z > 0, z, z * 0.1).sum() + (x.argmax(axis=1) == 0).astype(tl.float64).sum()

    w_eager, w_jit = Tensor(np.ones(3), requires_grad=True), Tensor(np.ones(3), requires_grad=True)

    def step(x, w):
        loss = loss_fn(x, w)
        w.grad = None
        loss.backward()
        return loss

    jitted = tl.jit(step)
    rs = np.random.RandomState(0)
    for _ in range(5):
        x = Tensor(rs.standard_normal((4, 3)))
        assert step(x, w_eager).data == jitted(x, w_jit).data
        assert np.array_equal(w_eager.grad.data, w_jit.grad.data)


def test_replayed_outputs_carry_no_graph():
    w = Tensor(np.ones(2), requires_grad=True)
    fn = tl.jit(lambda x: (x * w).sum())
    first, second = fn(Tensor([1.0, 2.0])), fn(Tensor([3.0, 4.0]))
    assert first.grad_fn is not None and second.grad_fn is None
    assert second.item() == 7.0


def test_reading_a_value_during_capture_is_a_clear_error():
    def step(x):
        loss = (x * 2).sum()
        if loss.item() > 0:  # Python control flow on a tensor's value cannot be replayed
            loss = loss * 2
        return loss

    with pytest.raises(RuntimeError, match=r"jit: item\(\) reads a tensor's value"):
        tl.jit(step)(Tensor([1.0]))


def test_a_jitted_function_inside_another_capture_is_a_clear_error():
    """Captured or not, the inner function cannot run inside the outer capture: its replay would not be recorded,
    and the outer replays would return the values of the capture."""
    inner = tl.jit(lambda x: x * 2.0)
    outer = tl.jit(lambda x: inner(x) + 1.0)
    x = Tensor([1.0, 2.0])
    for _ in range(2):  # first with inner not captured yet, then with inner captured
        with pytest.raises(RuntimeError, match="cannot be called while another one is being captured"):
            outer(x)
        inner(x)


def test_bad_outputs_and_arguments_are_clear_errors():
    with pytest.raises(TypeError, match="must return a Tensor or a tuple of Tensors; output 0 is a float"):
        tl.jit(lambda x: 1.0)(Tensor([1.0]))
    with pytest.raises(TypeError, match="argument 1 is a list"):
        tl.jit(lambda x, c: x)(Tensor([1.0]), [1, 2])


def test_cross_entropy_with_class_indices_follows_new_labels():
    """The labels pick the log-probabilities through a recorded mask, so each replay uses the new labels."""
    (eager_model, eager), (jit_model, jitted) = _pair(
        (5, 6, 3), nn.ReLU, np.float64, lambda p: optim.SGD(p, lr=0.1), F.cross_entropy)
    for x, y in _batches(10, 8, 5, 3, np.float64, one_hot=False):
        assert eager(x, y).data == jitted(x, y).data
    _assert_same_models(eager_model, jit_model)


def test_the_iris_step_is_plain_numpy_named_after_parameters_with_the_update_last(capsys):
    """`tinygrad-lite iris --show-code`: every operation inlined, values named after parameters and operations,
    a comment per block naming the operation and its layer, the SGD update last."""
    from tinygrad_lite.cli import main

    assert main(["iris", "--show-code"]) == 0
    source = capsys.readouterr().out
    body = source[source.index("# the step"):]
    assert source.startswith("def train_step(X_t, Y_t):")
    assert ".forward(" not in body and ".backward(" not in body  # plain numpy: no Function is called
    assert "    # Linear forward in model_0 (Linear)\n    linear = np.dot(X, w0.T, buffer_linear)\n" in body
    assert "grad_w0 = np.dot(grad_linear.T, X)" in body
    lines = [line.strip() for line in body.splitlines()]
    assert lines[-8:] == ["lr = float(opt.lr)", "lr_as_float64[()] = lr  # a 0-d array: numpy's faster operand",
                          "step_w0 = np.multiply(lr_as_float64, w0_t.grad.data, out=buffer_step_w0)",
                          "w0 -= step_w0", "step_w2 = np.multiply(lr_as_float64, w2_t.grad.data, out=buffer_step_w2)",
                          "w2 -= step_w2", "mark_modified(w0_t, w2_t)",
                          "return Tensor._make(sigmoid_2)"]
    compile(source, "<show-code>", "exec")  # what it prints is the code that runs


def test_the_listing_in_docs_jit_is_the_generated_step():
    from pathlib import Path

    from tinygrad_lite.casestudy import step_source

    doc = (Path(__file__).resolve().parents[1] / "docs" / "jit.md").read_text()
    listing = doc.split("```text\n", 1)[1].split("```", 1)[0]
    source = step_source()
    assert listing == source[source.index("    # the step"):]


def test_a_sum_stays_a_scalar_only_while_it_does_not_leave_the_step():
    x = Tensor(np.linspace(-1.0, 2.0, 12).reshape(3, 4).astype(np.float32))

    def halved(t):
        return 0.5 * (t * t).sum()

    def both(t):
        total = (t * t).sum()
        return 0.5 * total, total

    for fn, wrapped in ((halved, False), (both, True)):  # returned, the sum is the engine's 0-d array
        jitted = tl.jit(fn)
        eager = fn(x)
        for _ in range(3):
            replayed = jitted(x)
        assert ("sum = np.asarray(sum)" in jitted.source) is wrapped
        for e, r in zip(eager if isinstance(eager, tuple) else (eager,),
                        replayed if isinstance(replayed, tuple) else (replayed,)):
            assert type(r.data) is np.ndarray and r.data.ndim == 0
            assert r.data.dtype == e.data.dtype and r.data.tobytes() == e.data.tobytes()


def test_np_dot_gives_the_bits_of_matmul_for_two_matrices():
    """The compiled step writes a product of two matrices as np.dot (less overhead per call than @): the same
    BLAS routine, so the same bits, for every shape, memory layout and float dtype tried here, including the
    transposed views backward multiplies and a matrix times its own transpose (BLAS's syrk)."""
    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32):
        for m, k, n in itertools.product((1, 2, 5, 17, 100), (1, 3, 4, 33), (1, 3, 5, 64)):
            a, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
            g = rng.standard_normal((m, n)).astype(dtype)
            pairs = [(a, b), (np.asfortranarray(a), b), (a, np.asfortranarray(b)), (g.T, a), (a.T, g), (g, b.T),
                     (a, a.T), (a.T, a)]
            for x, y in pairs:
                assert (x @ y).tobytes() == np.dot(x, y).tobytes(), (dtype, x.shape, y.shape)


def test_two_models_with_the_same_parameter_names_each_keep_their_own_variable():
    """Two models of the same layout both have a ``0.weight``; the step trains one and can reach the other (a
    dict of models, say), so the guards check both. Each gets a name of its own in the generated code: a shared
    name once bound the other model's weight in place of the trained one, and every call captured again."""
    systems = []
    for jitted in (False, True):
        models = {"student": _mlp((3, 4, 2), nn.Tanh, np.float64, seed=0),
                  "teacher": _mlp((3, 4, 2), nn.Tanh, np.float64, seed=1)}
        opt = optim.SGD(models["student"].parameters(), lr=0.1)

        def step(x, models=models, opt=opt):
            loss = (models["student"](x) ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        systems.append((models["student"], tl.jit(step) if jitted else step))
    (eager_student, eager), (jit_student, jitted) = systems
    for x, _ in _batches(6, 5, 3, 2, np.float64):
        assert eager(x).data.tobytes() == jitted(x).data.tobytes()
    _assert_same_models(eager_student, jit_student)
    assert jitted.captured == 1 and jitted.calls == 6
