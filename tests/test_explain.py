"""tl.explain: the narrated backward. Its record must be the engine's own pass (same order, same gradients, the
leaves' .grad bit for bit as backward leaves them) and its formulas the docstrings of ops.py, nothing else."""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import io
import re
from pathlib import Path

import numpy as np
import pytest
from functions import Cube, FirstOnly, Square
from test_docs import python_blocks

import tinygrad_lite as tl
from tinygrad_lite import Tensor, casestudy, engine, nn, ops, viz
from tinygrad_lite.explain import NOT_DOCUMENTED, Formula, formula_of, summarize

ROOT = Path(__file__).resolve().parent.parent
OPS_FUNCTIONS = [c for c in vars(ops).values()
                 if isinstance(c, type) and issubclass(c, tl.Function) and c is not tl.Function]


def leaf(values, dtype=np.float64) -> Tensor:
    return Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def docstring_parts(cls: type) -> tuple[str, str, str]:
    """The test's own reading of an ops.py docstring: (forward, derivative, words). Fails on any other shape."""
    paragraphs = [" ".join(line.strip() for line in p.splitlines())
                  for p in inspect.cleandoc(cls.__dict__["__doc__"]).split("\n\n")]
    forward, separator, derivative = paragraphs[0].partition(";  ")
    assert separator, f"{cls.__name__}: the first paragraph has no 'forward;  derivative' separator"
    words = [p.removeprefix("In words: ") for p in paragraphs[1:] if p.startswith("In words: ")]
    assert len(words) == 1, f"{cls.__name__}: needs exactly one paragraph starting 'In words: '"
    return forward, derivative, words[0]


def nodes_newest_first(root: Tensor) -> list:
    """Every node behind ``root``, by descending sequence number: the order the engine promises."""
    nodes, stack, seen = [], [root], set()
    while stack:
        node = stack.pop().grad_fn
        if node is not None and id(node) not in seen:
            seen.add(id(node))
            nodes.append(node)
            stack += [t for t in node.inputs if t is not None]
    return sorted(nodes, key=lambda n: -n.seq)


class NodesInEngineOrder(engine.Observer):
    """Records the nodes in the order the engine reports their backward."""

    def __init__(self) -> None:
        self.nodes: list = []

    def backward(self, node, output, grad, returned) -> None:
        self.nodes.append(node)


# --------------------------------------------------------------------------------------------------------------
# Formulas: ops.py's docstrings, read once
# --------------------------------------------------------------------------------------------------------------


def test_ops_has_functions_to_check() -> None:
    assert {"Add", "Sigmoid", "Linear", "SquaredError", "Detach"} <= {c.__name__ for c in OPS_FUNCTIONS}


@pytest.mark.parametrize("cls", OPS_FUNCTIONS, ids=lambda c: c.__name__)
def test_every_ops_function_documents_its_formula_in_symbols_and_words(cls: type) -> None:
    forward, derivative, words = docstring_parts(cls)
    assert re.match(r"^\S+ = ", forward), f"{cls.__name__}: the forward part should read 'z = ...': {forward!r}"
    assert derivative.endswith(".") and len(derivative) > 2
    assert words.endswith(".") and len(words.split()) >= 4
    assert formula_of(cls) == Formula(f"{forward};  {derivative}", words)


def test_custom_function_without_a_docstring_gets_its_name_and_no_formula() -> None:
    x = leaf([1.0, 2.0])
    step = tl.explain(Square.apply(x).sum()).steps[1]
    assert (step.operation, step.formula, step.formula_in_words) == ("Square", "Square", NOT_DOCUMENTED)
    assert np.array_equal(x.grad.numpy(), [2.0, 4.0])


def test_formula_comes_from_the_class_that_defines_the_math() -> None:
    class Renamed(ops.Sigmoid):  # the same math: Sigmoid's formula
        pass

    class Redefined(ops.Sigmoid):  # its own, undocumented backward: never its parent's formula
        @staticmethod
        def backward(ctx, g):
            return g

    assert formula_of(Renamed) == formula_of(ops.Sigmoid)
    assert formula_of(Redefined).symbols == "Redefined"
    assert formula_of(Cube).symbols.startswith("z = x³;  dz/dx = 3x².")  # documented, but not in words
    assert formula_of(Cube).words == ""


def test_a_formula_in_symbols_only_prints_no_words_line() -> None:
    x = leaf([1.0, 2.0])
    explanation = tl.explain(Cube.apply(x).sum())
    text, page = str(explanation), explanation._repr_html_()
    lines = text.splitlines()
    cube = lines.index(next(line for line in lines if line.startswith("1     Cube")))
    assert lines[cube + 1].strip() == explanation.steps[1].formula
    assert not lines[cube + 2].strip().startswith("In words")  # the leaf gradients follow
    assert NOT_DOCUMENTED not in text and NOT_DOCUMENTED not in page
    assert text.count("In words:") == page.count("In words:") == 1  # Sum's only
    undocumented = tl.explain(Square.apply(leaf([1.0])).sum())  # no docstring at all: say so
    assert f"In words: {NOT_DOCUMENTED}" in str(undocumented) and NOT_DOCUMENTED in undocumented._repr_html_()


def test_an_input_the_backward_returns_none_for_is_told_apart_from_one_that_needs_none() -> None:
    x, y, data = leaf([1.0, 2.0]), leaf([3.0, 4.0]), Tensor([5.0, 6.0])
    explanation = tl.explain(FirstOnly.apply(FirstOnly.apply(x, y), data).sum(), params={"x": x, "y": y})
    outer, inner = explanation.steps[1], explanation.steps[2]
    assert (outer.no_gradient, inner.no_gradient) == ((1,), (1,))
    assert not outer.returned_none(1) and inner.returned_none(1) and not inner.returned_none(0)
    assert "in 0 → step 2 (2,); in 1 needs none" in str(explanation)  # data requires no gradient
    assert "in 0 → x (2,); in 1 gets none (backward returned None)" in str(explanation)  # y does
    assert "in 1 gets none (backward returned None)" in explanation._repr_html_()
    assert y.grad is None and np.array_equal(x.grad.numpy(), [15.0, 24.0])


# --------------------------------------------------------------------------------------------------------------
# The article's network: a textbook derivation
# --------------------------------------------------------------------------------------------------------------


def iris_loss(traced: bool) -> tuple[Tensor, nn.Module, np.ndarray]:
    data = casestudy.split_and_init(seed=0)
    model = casestudy.build_model(data.w0, data.w1)
    with viz.trace_modules(model) if traced else contextlib.nullcontext():
        out = model(Tensor(data.X_train))
    return casestudy.loss_fn(out, Tensor(data.Y_train)), model, data.X_train


def test_iris_reads_loss_squared_error_sigmoid_linear_sigmoid_linear() -> None:
    loss, model, X = iris_loss(traced=True)
    explanation = tl.explain(loss, params=model)
    steps = explanation.steps
    assert [s.operation for s in steps] == ["Mul", "SquaredError", "Sigmoid", "Linear", "Sigmoid", "Linear"]
    assert [s.layer for s in steps] == [None, None, "3", "2", "1", "0"]
    assert [s.grad_output_shape for s in steps] == [(), (), (100, 3), (100, 3), (100, 5), (100, 5)]
    assert [[(i.index, i.shape) for i in s.inputs] for s in steps] == [
        [(1, ())], [(0, (100, 3))], [(0, (100, 3))], [(0, (100, 5)), (1, (3, 5))], [(0, (100, 5))], [(1, (5, 4))]]
    assert steps[1].no_gradient == (1,) and steps[5].no_gradient == (0,)  # the targets Y, the data X
    assert [i.runs_at_step for s in steps for i in s.inputs] == [1, 2, 3, 4, None, 5, None]
    assert [(s.name, s.shape, s.is_leaf, s.accumulated) for s in explanation.stored] == [
        ("2.weight", (3, 5), True, False), ("0.weight", (5, 4), True, False)]
    assert "z(1 - z)" in steps[2].formula and "Gᵀ @ X" in steps[3].formula and "2(x - y)" in steps[1].formula


def test_iris_formulas_are_the_ops_docstrings() -> None:
    loss, model, _ = iris_loss(traced=False)
    for step in tl.explain(loss, params=model).steps:
        forward, derivative, words = docstring_parts(getattr(ops, step.operation))
        assert (step.formula, step.formula_in_words) == (f"{forward};  {derivative}", words)


def test_iris_gradients_are_the_formulas_applied() -> None:
    """Each recorded gradient is its step's formula on the recorded incoming gradient, to the last bit."""
    loss, model, X = iris_loss(traced=False)
    steps = tl.explain(loss, params=model).steps
    for sigmoid in (steps[2], steps[4]):
        z = sigmoid.output.data
        assert np.array_equal(sigmoid.inputs[0].grad, sigmoid.grad_output * z * (1 - z))
    for linear, x in ((steps[3], steps[3].node.inputs[0].data), (steps[5], X)):
        assert np.array_equal(linear.inputs[-1].grad, linear.grad_output.T @ x)  # dW = Gᵀ @ X
    assert np.array_equal(steps[3].inputs[0].grad, steps[3].grad_output @ model[2].weight.data)  # dX = G @ W
    assert np.array_equal(steps[4].grad_output, steps[3].inputs[0].grad)  # one path: passed on as it is


def test_iris_grads_are_bit_identical_to_plain_backward() -> None:
    explained, model, _ = iris_loss(traced=False)
    plain, reference, _ = iris_loss(traced=False)
    tl.explain(explained, params=model)
    plain.backward()
    for (name, p), (_, q) in zip(model.named_parameters(), reference.named_parameters()):
        assert p.grad.dtype == q.grad.dtype == np.float64
        assert np.array_equal(p.grad.numpy(), q.grad.numpy()), name


def test_iris_layers_without_tags_follow_the_drawing_rules() -> None:
    loss, model, _ = iris_loss(traced=False)
    assert [s.layer for s in tl.explain(loss, params=model).steps] == [None, None, "2", "2", "0", "0"]


# --------------------------------------------------------------------------------------------------------------
# Order, broadcasting, paths that meet, names
# --------------------------------------------------------------------------------------------------------------


def test_steps_come_in_the_engine_s_order() -> None:
    x, w = leaf([[1.0, -2.0], [0.5, 3.0]]), leaf([[0.3], [-0.7]])
    h = (x @ w).tanh()
    loss = (h * h.exp() + (x * 2.0).sum(axis=1, keepdim=True)).mean()
    steps = tl.explain(loss, retain_graph=True).steps
    assert [s.node for s in steps] == nodes_newest_first(loss)
    assert [s.node_seq for s in steps] == sorted((s.node_seq for s in steps), reverse=True)
    watcher = NodesInEngineOrder()
    with engine.observing(watcher):
        loss.backward()
    assert [s.node for s in steps] == watcher.nodes
    assert all(s.index == i for i, s in enumerate(steps))


def test_a_broadcast_bias_reports_the_axes_summed_back() -> None:
    x, w = Tensor(np.ones((4, 2))), leaf(np.arange(6.0).reshape(2, 3))
    b, c = leaf([0.1, 0.2, 0.3]), leaf(np.zeros((4, 1)))
    loss = (x @ w + b + c).sum()
    explanation = tl.explain(loss, params={"w": w, "b": b, "c": c})
    adds = [s for s in explanation.steps if s.operation == "Add"]
    to_b = next(i for s in adds for i in s.inputs if i.tensor is b)
    to_c = next(i for s in adds for i in s.inputs if i.tensor is c)
    assert (to_b.returned_shape, to_b.summed_axes, to_b.shape, to_b.name) == ((4, 3), (0,), (3,), "b")
    assert (to_c.returned_shape, to_c.summed_axes, to_c.shape) == ((4, 3), (1,), (4, 1))
    assert np.array_equal(to_b.grad, to_b.returned.sum(axis=0))
    assert "in 1: broadcast undone, (4, 3) summed over axis 0 → (3,)" in str(explanation)
    matmul_step = next(s for s in explanation.steps if s.operation == "Matmul")
    assert [i.summed_axes for i in matmul_step.inputs] == [()]  # x needs none; w's gradient has w's shape


def test_a_tensor_used_twice_reports_the_addition() -> None:
    x = leaf([1.0, -2.0, 3.0])
    loss = (x * x + x.exp()).sum()
    explanation = tl.explain(loss, params={"x": x})
    mul = next(s for s in explanation.steps if s.operation == "Mul")
    exp = next(s for s in explanation.steps if s.operation == "Exp")
    assert exp.index < mul.index  # Exp was recorded last, so it runs first
    assert [i.added_to_earlier for i in exp.inputs] == [False]
    assert [i.added_to_earlier for i in mul.inputs] == [True, True]
    first, second = mul.inputs
    assert np.array_equal(first.total, exp.inputs[0].grad + first.grad)
    assert np.array_equal(second.total, first.total + second.grad)
    assert np.array_equal(x.grad.numpy(), second.total)
    assert "x was reached by another path too: the two gradients are added" in str(explanation)


def test_leaves_are_named_by_params_or_numbered() -> None:
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    named = tl.explain((x * y).sum(), params={"x": x, "y": y})
    assert [s.name for s in named.stored] == ["x", "y"]
    assert "x.grad ← (2,), stored" in str(named)
    x.grad = y.grad = None
    unnamed = tl.explain((x * y).sum())
    assert [s.name for s in unnamed.stored] == [None, None]
    assert [unnamed.label(s.tensor) for s in unnamed.stored] == ["leaf 0", "leaf 1"]
    with pytest.raises(TypeError, match="explain: params must be an nn.Module"):
        tl.explain((x * y).sum(), params=[x, y])


def test_a_retained_tensor_is_stored_before_its_node_runs() -> None:
    x = leaf([1.0, 2.0])
    h = x.sin()
    h.retain_grad()
    explanation = tl.explain((h * 3.0).sum())
    sin_step = next(s for s in explanation.steps if s.operation == "Sin")
    retained = next(s for s in explanation.stored if s.tensor is h)
    assert (retained.is_leaf, retained.at_step) == (False, sin_step.index)
    assert np.array_equal(retained.grad, [3.0, 3.0]) and np.array_equal(h.grad.numpy(), [3.0, 3.0])
    assert "output.grad ← (2,), stored (retain_grad)" in str(explanation)


def test_a_leaf_loss_has_no_steps_and_stores_one() -> None:
    x = leaf(2.0)
    explanation = tl.explain(x)
    (stored,) = explanation.stored
    assert explanation.steps == () and stored.tensor is x and stored.grad == 1.0 and stored.is_leaf
    assert x.grad.item() == 1.0


def test_a_mixed_dtype_gradient_reports_its_cast() -> None:
    x32, y64 = leaf([1.0, 2.0], np.float32), leaf([3.0, 4.0])
    steps = tl.explain((x32 * y64).sum()).steps
    assert [s.operation for s in steps] == ["Sum", "Mul", "Cast"]  # x32 is promoted to float64 by a Cast
    assert [(i.cast_to, i.summed_axes, i.returned.dtype, i.grad.dtype) for i in steps[2].inputs] == [
        ("float32", (), np.float64, np.float32)]
    assert [i.cast_to for i in steps[1].inputs] == [None, None]
    assert "in 0: cast from float64 to float32" in str(tl.explain((x32 * y64).sum()))
    assert x32.grad.dtype == np.float32


# --------------------------------------------------------------------------------------------------------------
# Printing
# --------------------------------------------------------------------------------------------------------------


def test_values_of_a_big_array_are_summarised_and_small_ones_shown() -> None:
    big = np.arange(1000.0).reshape(10, 100) / 10
    assert summarize(big) == "(10, 100) min 0 max 99.9 mean 49.95, first [0, 0.1, 0.2, …]"
    assert summarize(np.array([0.5, -1.25])) == "[0.5, -1.25]"
    w = leaf(big)
    explanation = tl.explain((w * w).sum(), params={"w": w}, values=True)
    assert "w.grad ← (10, 100), stored = (10, 100) min 0 max 199.8 mean 99.9, first [0, 0.2, 0.4, …]" in str(
        explanation)
    assert "first [" not in str(tl.explain((leaf(big) * 2.0).sum()))  # values only when asked


def test_html_escapes_everything() -> None:
    class Angle(tl.Function):
        """z = <b>x</b> & 1;  dz/dx = 1.

        In words: <script>alert(1)</script>."""

        @staticmethod
        def forward(ctx, x):
            return x.copy()

        @staticmethod
        def backward(ctx, g):
            return g

    x = leaf([1.0])
    page = tl.explain(Angle.apply(x).sum(), params={"<i>x</i>": x})._repr_html_()
    assert "<script>" not in page and "<b>x" not in page and "<i>x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;x&lt;/b&gt; &amp; 1" in page
    assert "&lt;i&gt;x&lt;/i&gt;.grad" in page
    assert page.count("<tr>") == 3  # the header and two steps


def test_repr_is_one_short_line_and_steps_are_frozen() -> None:
    explanation = tl.explain((leaf([1.0, 2.0]) * 2.0).sum())
    assert repr(explanation) == "<BackwardExplanation of a loss of shape (): 2 steps, 1 gradient stored>"
    assert "\n" not in repr(explanation.steps[0]) and "array" not in repr(explanation.steps[0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        explanation.steps[0].operation = "Add"


def test_one_step_is_said_in_the_singular() -> None:
    explanation = tl.explain(leaf([1.0, 2.0]).sum())
    assert repr(explanation) == "<BackwardExplanation of a loss of shape (): 1 step, 1 gradient stored>"
    assert str(explanation).startswith("backward of loss, shape (): 1 step, newest operation first")


def test_a_control_character_in_a_name_cannot_break_the_table() -> None:
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    plain = str(tl.explain((x * y).sum(), params={"x": x, "y": y}))
    x.grad = y.grad = None
    hostile = str(tl.explain((x * y).sum(), params={"x\nnew row": x, "y\t": y}))
    assert hostile.count("\n") == plain.count("\n")
    assert "in 0 → x\\nnew row (2,); in 1 → y\\t (2,)" in hostile
    assert "x\\nnew row.grad ← (2,), stored" in hostile


def test_the_record_does_not_change_when_grad_is_zeroed_in_place() -> None:
    x = leaf([1.0, 2.0])
    explanation = tl.explain((x * 5.0).sum())
    tl.engine.zero_grad([x], set_to_none=False)  # fills x.grad's array with zeros in place
    assert np.array_equal(explanation.stored[0].grad, [5.0, 5.0])


# --------------------------------------------------------------------------------------------------------------
# backward's rules, named explain
# --------------------------------------------------------------------------------------------------------------


def test_second_call_needs_retain_graph_as_backward_does() -> None:
    x = leaf([1.0, 2.0])
    loss = (x * x).sum()
    first = tl.explain(loss, retain_graph=True)
    second = tl.explain(loss)
    assert [s.accumulated for s in first.stored + second.stored] == [False, True]
    assert np.array_equal(x.grad.numpy(), [4.0, 8.0])  # two passes of 2x, added as backward adds them
    (stored,) = second.stored  # this pass's gradient, what it was added to, and the sum, each kept apart
    assert [a.tolist() for a in (stored.grad, stored.previous, stored.result)] == [[2, 4], [2, 4], [4, 8]]
    assert first.stored[0].previous is None and np.array_equal(first.stored[0].result, [2.0, 4.0])
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        tl.explain(loss)


def test_an_accumulating_pass_prints_its_own_gradient_and_the_resulting_grad() -> None:
    x = leaf([1.0, 2.0, 3.0])
    loss = (x * x).sum()
    assert "x.grad ← (3,), stored = [2, 4, 6]" in str(tl.explain(loss, params={"x": x}, values=True,
                                                             retain_graph=True))
    second = tl.explain(loss, params={"x": x}, values=True)
    assert str(second).splitlines()[-1] == ("  x.grad ← (3,), this pass's gradient [2, 4, 6] added to the .grad "
                                            "already there: x.grad = [4, 8, 12]")
    x.grad = None
    ((x * x).sum()).backward()
    assert str(tl.explain((x * x).sum(), params={"x": x})).splitlines()[-1] == (
        "  x.grad ← (3,), this pass's gradient added to the .grad already there")


def test_errors_name_explain() -> None:
    with pytest.raises(RuntimeError, match="explain: .* does not require grad"):
        tl.explain(Tensor([1.0, 2.0]).sum())
    x = leaf([1.0, 2.0])
    with pytest.raises(tl.ShapeError, match="explain: grad can be implicitly created only for scalar outputs"):
        tl.explain(x * 2.0)
    with pytest.raises(tl.ShapeError, match=r"explain: gradient of shape \(3,\) does not match"):
        tl.explain(x * 2.0, gradient=np.ones(3))
    with pytest.raises(TypeError, match="explain: loss must be a Tensor"):
        tl.explain(np.float64(1.0))
    assert x.grad is None
    explanation = tl.explain(x * 2.0, gradient=np.array([1.0, -1.0]))  # a vector-Jacobian product, as backward
    assert np.array_equal(explanation.root_grad, [1.0, -1.0]) and np.array_equal(x.grad.numpy(), [2.0, -2.0])


def test_refuses_to_run_under_another_observer() -> None:
    refusal = "explain: cannot run while another engine observer is installed"
    loss = (leaf([1.0]) * 2.0).sum()
    with engine.observing(engine.Observer()), pytest.raises(RuntimeError, match=refusal):
        tl.explain(loss)

    @tl.jit
    def step(x: Tensor) -> Tensor:
        loss = (x * x).sum()
        tl.explain(loss)
        return loss

    with pytest.raises(RuntimeError, match=refusal):
        step(leaf([1.0, 2.0]))


# --------------------------------------------------------------------------------------------------------------
# The docs print what explain prints
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["iris.md", "autodiff.md"])
def test_docs_show_the_output_explain_prints(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each ```python block of the page that calls tl.explain is followed by a ```text block: its output."""
    monkeypatch.chdir(tmp_path)
    path = ROOT / "docs" / name
    blocks = python_blocks(path)
    block = r"((?:(?!```).)*)```"  # the body of a fenced block: up to its closing fence
    pairs = re.finditer(r"```python\n" + block + r"\n+(?:prints\n+)?```text\n" + block,
                        path.read_text(encoding="utf-8"), re.S)
    shown = {m[1]: m[2] for m in pairs if "tl.explain(" in m[1]}
    assert shown, f"{name} has no tl.explain example followed by its output"
    namespace: dict = {"__name__": "__doc_example__"}
    for first_line, source in blocks:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile("\n" * (first_line - 1) + source, str(path), "exec"), namespace)
        if source in shown:
            assert printed.getvalue() == shown.pop(source), f"{name}:{first_line}: the text block is stale"
    assert not shown


def test_the_readme_shows_what_explain_prints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = ROOT / "README.md"
    namespace: dict = {"__name__": "__doc_example__"}
    with contextlib.redirect_stdout(io.StringIO()):
        for first_line, source in python_blocks(path):
            exec(compile("\n" * (first_line - 1) + source, str(path), "exec"), namespace)
    shown = path.read_text(encoding="utf-8").split("`print(explanation)` shows:\n\n```text\n", 1)[1].split("```")[0]
    assert shown == str(namespace["explanation"]) + "\n"
