"""The engine's behaviour (recording, backward order, accumulation, freed graphs, gradient modes, higher order,
custom Functions, gradient checking that can fail) and the Tensor API basics of the contract."""

from __future__ import annotations

import re

import numpy as np
import pytest
from functions import Cube

import tinygrad_lite as tl

# --------------------------------------------------------------------------------------------------------------
# Helpers: Functions that count their backward calls, and custom Functions right and wrong
# --------------------------------------------------------------------------------------------------------------


class CountingIdentity(tl.Function):
    """z = x; counts how many times its backward runs."""

    calls = 0

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        CountingIdentity.calls += 1
        return g


class WrongCube(Cube):
    """A deliberate mistake: dz/dx = 2x² instead of 3x²."""

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 2 * x * x


class FrozenCube(Cube):
    """The right first derivative, computed from x's raw array (``.data`` leaves the graph): under create_graph
    it stays a constant, so the gradient is not differentiable in x (its second derivative is lost)."""

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        raw = x.data if isinstance(x, tl.Tensor) else x
        return g * 3 * raw * raw


class ScaledAdd(tl.Function):
    """z = x + s·y with a non-tensor argument s: its gradient is None."""

    @staticmethod
    def forward(ctx, x, y, s):
        ctx.s = s
        return x + s * y

    @staticmethod
    def backward(ctx, g):
        return g, g * ctx.s, None


def _leaf(values, requires_grad: bool = True) -> tl.Tensor:
    return tl.Tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


# --------------------------------------------------------------------------------------------------------------
# Backward order, reuse, accumulation
# --------------------------------------------------------------------------------------------------------------


def test_reuse_and_diamond() -> None:
    a = _leaf([1.0, -2.0, 3.0])
    b = a + a
    c = b * b
    c.sum().backward()
    np.testing.assert_allclose(a.grad.data, 8 * a.data)  # c = 4a², dc/da = 8a


def test_each_node_visited_once() -> None:
    CountingIdentity.calls = 0
    a = _leaf([1.0, 2.0])
    b = CountingIdentity.apply(a)
    # four paths from the output to b: b*b, b, and b.exp() (twice through the sum below)
    c = b * b + b + b.exp() * 2
    c.sum().backward()
    assert CountingIdentity.calls == 1
    np.testing.assert_allclose(a.grad.data, 2 * a.data + 1 + 2 * np.exp(a.data))


def test_gradient_accumulates_across_backwards() -> None:
    a = _leaf([1.0, 2.0])
    (a * 3).sum().backward()
    (a * a).sum().backward()
    np.testing.assert_allclose(a.grad.data, 3 + 2 * a.data)
    a.grad = None
    (a * 3).sum().backward()
    np.testing.assert_allclose(a.grad.data, [3.0, 3.0])


def test_grads_are_independent_arrays() -> None:
    """Two leaves never share one gradient array, so editing one grad in place cannot change another."""
    a, b = _leaf([1.0, 2.0]), _leaf([3.0, 4.0])
    (a + b).sum().backward()
    a.grad.data += 1
    np.testing.assert_array_equal(b.grad.data, [1.0, 1.0])


def test_retain_graph_and_freed_graph_error() -> None:
    a = _leaf([1.0, 2.0])
    y = (a * a).exp().sum()
    y.backward(retain_graph=True)
    first = a.grad.data.copy()
    y.backward()  # allowed: the first kept the saved values
    np.testing.assert_allclose(a.grad.data, 2 * first)
    with pytest.raises(RuntimeError, match=r"second time.*retain_graph=True"):
        y.backward()
    # the structure is still there (e.g. to draw it), only the saved values were freed
    assert y.grad_fn is not None
    assert y.grad_fn.next_functions[0] is not None
    assert y.grad_fn.next_functions[0].inputs[0] is not None


def test_second_backward_through_shared_subgraph_raises() -> None:
    a = _leaf([1.0, 2.0])
    h = a * a
    h.sum().backward()
    with pytest.raises(RuntimeError, match="second time"):
        (h * 2).sum().backward()


def test_create_graph_implies_retain_graph() -> None:
    a = _leaf([1.0, 2.0])
    y = (a**3).sum()
    y.backward(create_graph=True)
    assert a.grad.requires_grad
    np.testing.assert_allclose(a.grad.data, 3 * a.data**2)
    y.backward()  # still allowed
    np.testing.assert_allclose(a.grad.data, 6 * a.data**2)


@pytest.mark.slow
def test_deep_chain_has_no_recursion_limit() -> None:
    """100,000 operations in a chain: the topological sort is iterative, so neither grad() nor backward() can
    hit Python's recursion limit."""
    x = _leaf(2.0)
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0
    (g,) = tl.grad(y, x, retain_graph=True)
    assert g.item() == 1.0
    y.backward()
    assert x.grad.item() == 1.0
    with pytest.raises(RuntimeError, match="second time"):  # backward() freed the whole chain
        y.backward()


# --------------------------------------------------------------------------------------------------------------
# Gradient modes, detach, retain_grad
# --------------------------------------------------------------------------------------------------------------


def test_no_grad_context_and_decorator() -> None:
    a = _leaf([1.0, 2.0])
    assert tl.is_grad_enabled()
    with tl.no_grad():
        assert not tl.is_grad_enabled()
        b = a * 2
        with tl.enable_grad():
            assert tl.is_grad_enabled()
            c = a * 2
        assert not tl.is_grad_enabled()
    assert tl.is_grad_enabled()
    assert not b.requires_grad and b.grad_fn is None and b.is_leaf
    assert c.requires_grad and c.grad_fn is not None

    @tl.no_grad()
    def infer(x: tl.Tensor) -> tl.Tensor:
        assert not tl.is_grad_enabled()
        return x * 3

    @tl.enable_grad()
    def train(x: tl.Tensor) -> tl.Tensor:
        return x * 3

    assert not infer(a).requires_grad
    assert tl.is_grad_enabled()
    with tl.no_grad():
        assert train(a).requires_grad
    # restored even when the block raises
    with pytest.raises(ZeroDivisionError), tl.no_grad():
        raise ZeroDivisionError
    assert tl.is_grad_enabled()


def test_nothing_recorded_without_requires_grad() -> None:
    a = _leaf([1.0, 2.0], requires_grad=False)
    b = (a * 2).exp()
    assert not b.requires_grad and b.grad_fn is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        b.sum().backward()


def test_detach() -> None:
    a = _leaf([1.0, 2.0])
    d = (a * 2).detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    np.testing.assert_array_equal(d.data, [2.0, 4.0])
    y = (a * d).sum()
    y.backward()
    np.testing.assert_array_equal(a.grad.data, [2.0, 4.0])  # d is a constant
    assert d.grad is None
    assert np.shares_memory(a.detach().data, a.data)


def test_retain_grad() -> None:
    a = _leaf([1.0, 2.0])
    h = a * 3
    h.retain_grad()
    k = a * 2
    (h * k).sum().backward()
    np.testing.assert_allclose(h.grad.data, k.data)
    assert k.grad is None  # non-leaves do not keep theirs by default
    np.testing.assert_allclose(a.grad.data, 12 * a.data)
    with pytest.raises(RuntimeError):
        _leaf([1.0], requires_grad=False).retain_grad()


# --------------------------------------------------------------------------------------------------------------
# tl.grad and backward(gradient=...)
# --------------------------------------------------------------------------------------------------------------


def test_grad_returns_without_accumulating() -> None:
    a, b = _leaf([1.0, 2.0]), _leaf([3.0, 4.0])
    y = (a * b).sum()
    ga, gb = tl.grad(y, [a, b])
    np.testing.assert_array_equal(ga.data, b.data)
    np.testing.assert_array_equal(gb.data, a.data)
    assert a.grad is None and b.grad is None


def test_grad_allow_unused() -> None:
    a, unused = _leaf([1.0, 2.0]), _leaf([5.0])
    y = (a * a).sum()
    with pytest.raises(RuntimeError, match="allow_unused"):
        tl.grad(y, [a, unused], retain_graph=True)
    ga, gu = tl.grad(y, [a, unused], allow_unused=True)
    np.testing.assert_array_equal(ga.data, 2 * a.data)
    assert gu is None


def test_grad_non_leaf_inputs() -> None:
    a = _leaf([1.0, 2.0])
    h = a * 2
    y = (h * h).sum()
    (gh,) = tl.grad(y, h)
    np.testing.assert_array_equal(gh.data, 2 * h.data)
    assert a.grad is None and h.grad is None


def test_grad_outputs_and_several_outputs() -> None:
    a = _leaf([1.0, 2.0])
    y1, y2 = a * 2, a * a
    (g,) = tl.grad([y1, y2], a, grad_outputs=[np.array([1.0, 1.0]), np.array([10.0, 100.0])])
    np.testing.assert_allclose(g.data, [2 + 20 * 1.0, 2 + 200 * 2.0])


def test_hessian_vector_product_matches_analytic_hessian() -> None:
    """f(x) = Σ x³ + x₀x₁ + sin(x₂)·x₀: H = diag(6x) + ∂²(x₀x₁) + ∂²(x₀ sin x₂)."""
    x_np = np.array([0.7, -1.3, 0.4])
    v_np = np.array([0.5, 2.0, -1.0])
    x = tl.Tensor(x_np, requires_grad=True)
    f = (x**3).sum() + x[0] * x[1] + x[2].sin() * x[0]
    (g,) = tl.grad(f, x, create_graph=True)
    assert g.requires_grad
    grad_expected = 3 * x_np**2 + np.array([x_np[1] + np.sin(x_np[2]), x_np[0], np.cos(x_np[2]) * x_np[0]])
    np.testing.assert_allclose(g.data, grad_expected)
    (hv,) = tl.grad((g * tl.Tensor(v_np)).sum(), x)
    hessian = np.diag(6 * x_np)
    hessian[0, 1] += 1
    hessian[1, 0] += 1
    hessian[0, 2] += np.cos(x_np[2])
    hessian[2, 0] += np.cos(x_np[2])
    hessian[2, 2] += -np.sin(x_np[2]) * x_np[0]
    np.testing.assert_allclose(hv.data, hessian @ v_np)
    # third order, on a scalar: d³/dx³ x⁴ = 24x
    s = tl.Tensor(np.array(1.5), requires_grad=True)
    (d1,) = tl.grad(s**4, s, create_graph=True)
    (d2,) = tl.grad(d1, s, create_graph=True)
    (d3,) = tl.grad(d2, s)
    assert d3.item() == pytest.approx(24 * 1.5)


def test_backward_with_gradient() -> None:
    a = _leaf(np.arange(6.0).reshape(2, 3))
    y = a * 2
    y.backward(gradient=np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(a.grad.data, 2 * np.arange(6.0).reshape(2, 3))
    y2 = a * 2
    with pytest.raises(RuntimeError, match=re.escape("(4,)")) as info:
        y2.backward(gradient=np.ones(4))
    assert "(2, 3)" in str(info.value)
    a.grad = None
    y2.backward(gradient=tl.ones(2, 3, dtype=tl.float64))
    np.testing.assert_array_equal(a.grad.data, np.full((2, 3), 2.0))


# --------------------------------------------------------------------------------------------------------------
# Errors users see
# --------------------------------------------------------------------------------------------------------------


def test_non_scalar_backward_raises() -> None:
    a = _leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=re.escape("(2,)")):
        (a * 2).backward()


def test_shape_mismatch_names_operation_and_shapes() -> None:
    x, y = tl.Tensor(np.zeros((2, 3))), tl.Tensor(np.zeros(4))
    for op, name in (
        (lambda: x + y, "add"),
        (lambda: x * y, "mul"),
        (lambda: x - y, "sub"),
        (lambda: x / y, "div"),
        (lambda: x.maximum(y), "maximum"),
    ):
        with pytest.raises(ValueError) as info:
            op()
        message = str(info.value)
        assert name in message.lower() and "(2, 3)" in message and "(4,)" in message, message
    with pytest.raises(ValueError) as info:
        x @ tl.Tensor(np.zeros((4, 2)))
    assert "matmul" in str(info.value) and "(2, 3)" in str(info.value) and "(4, 2)" in str(info.value)
    with pytest.raises(ValueError) as info:
        x.reshape(4, 2)
    assert "reshape" in str(info.value) and "(2, 3)" in str(info.value)
    with pytest.raises(ValueError, match=re.escape("(2, 3)")):
        x.sum(axis=2)


def test_requires_grad_on_integers_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="int64"):
        tl.Tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError):
        tl.Tensor([1, 2]).requires_grad_()
    with pytest.raises(TypeError):
        tl.zeros(2, dtype=tl.int64, requires_grad=True)
    with pytest.raises(TypeError):
        tl.Tensor([True, False], requires_grad=True)


# --------------------------------------------------------------------------------------------------------------
# Custom Functions and gradient checking
# --------------------------------------------------------------------------------------------------------------


def test_custom_function() -> None:
    x = _leaf([1.0, -2.0, 0.5])
    y = Cube.apply(x)
    assert isinstance(y.grad_fn, Cube)
    np.testing.assert_allclose(y.data, x.data**3)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 3 * x.data**2)
    assert tl.gradcheck(Cube.apply, [x])
    assert tl.gradgradcheck(Cube.apply, [x])


def test_custom_function_with_non_tensor_argument() -> None:
    x, y = _leaf([1.0, 2.0]), _leaf([3.0, 4.0])
    z = ScaledAdd.apply(x, y, 0.5)
    z.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0])
    np.testing.assert_array_equal(y.grad.data, [0.5, 0.5])
    assert tl.gradcheck(lambda a, b: ScaledAdd.apply(a, b, 0.5), [x, y])


def test_needs_input_grad_is_recorded_with_the_node() -> None:
    """Which inputs want a gradient is fixed when the node is recorded (as in PyTorch): backward can skip the
    others, and a constant or a Python number is never asked for one."""
    x, c = _leaf([1.0, 2.0]), _leaf([3.0, 4.0], requires_grad=False)
    z = ScaledAdd.apply(c, x, 0.5)
    assert z.grad_fn.needs_input_grad == (False, True, False)
    assert z.grad_fn.inputs == (c, x, None)
    x.requires_grad_(False)  # after recording: the node keeps what it recorded
    assert z.grad_fn.needs_input_grad == (False, True, False)


def test_custom_function_without_grad_records_nothing() -> None:
    x = _leaf([1.0, 2.0], requires_grad=False)
    assert Cube.apply(x).grad_fn is None
    with tl.no_grad():
        assert Cube.apply(_leaf([1.0])).grad_fn is None


def test_gradcheck_rejects_a_wrong_function() -> None:
    x = _leaf([0.5, -1.5])
    with pytest.raises(tl.GradcheckError) as info:
        tl.gradcheck(WrongCube.apply, [x])
    message = str(info.value)
    assert "input 0" in message
    assert "element (0,)" in message
    # both values of the first bad entry: numerical 3·0.5² = 0.75, analytical 2·0.5² = 0.5
    numbers = [float(v) for v in re.findall(r"(?:numerical|analytical) (-?[0-9.e+-]+)", message)]
    assert numbers[0] == pytest.approx(0.75, rel=1e-6)
    assert numbers[1] == pytest.approx(0.5)
    assert isinstance(info.value, AssertionError)  # so a bare `assert tl.gradcheck(...)` reads naturally
    assert tl.gradcheck(WrongCube.apply, [x], raise_exception=False) is False
    # the second input is named when it is the wrong one
    y = _leaf([2.0])
    with pytest.raises(tl.GradcheckError, match="input 1"):
        tl.gradcheck(lambda a, b: a.sum() + WrongCube.apply(b), [x, y])


def test_gradgradcheck_rejects_a_non_differentiable_backward() -> None:
    x = _leaf([0.5, -1.5])
    assert tl.gradcheck(FrozenCube.apply, [x])  # the first derivative is right
    with pytest.raises(tl.GradcheckError):
        tl.gradgradcheck(FrozenCube.apply, [x])
    assert tl.gradgradcheck(FrozenCube.apply, [x], raise_exception=False) is False
    # (gradgradcheck checks that the backward is differentiated consistently, not the first derivative itself:
    # a wrong but smooth backward such as WrongCube's is gradcheck's to catch, as in PyTorch)


def test_gradcheck_needs_float64() -> None:
    with pytest.raises(TypeError, match="float64"):
        tl.gradcheck(lambda t: t * 2, [tl.Tensor(np.ones(2, np.float32), requires_grad=True)])


# --------------------------------------------------------------------------------------------------------------
# Tensor API basics
# --------------------------------------------------------------------------------------------------------------


def test_constructor_dtypes() -> None:
    assert tl.Tensor(1.5).dtype == tl.float32
    assert tl.Tensor([1.0, 2.0]).dtype == tl.float32
    assert tl.Tensor(3).dtype == tl.int64
    assert tl.Tensor([[1, 2]]).dtype == tl.int64
    assert tl.Tensor(True).dtype == tl.bool_
    assert tl.Tensor(np.ones(2, np.float64)).dtype == tl.float64
    assert tl.Tensor(np.ones(2, np.float32)).dtype == tl.float32
    assert tl.Tensor(np.ones(2, np.int32)).dtype == np.int32
    assert tl.Tensor([1, 2], dtype=tl.float64).dtype == tl.float64
    assert tl.tensor([1.0]).dtype == tl.float32
    assert tl.Tensor(tl.Tensor([1.0])).dtype == tl.float32
    for dt in (tl.float32, tl.float64, tl.int64, tl.bool_):
        assert isinstance(dt, np.dtype)
    try:
        tl.set_default_dtype(tl.float64)
        assert tl.get_default_dtype() == tl.float64
        assert tl.Tensor(1.5).dtype == tl.float64
        assert tl.zeros(2).dtype == tl.float64
        assert tl.Tensor(np.ones(2, np.float32)).dtype == tl.float32
    finally:
        tl.set_default_dtype(tl.float32)
    assert tl.Tensor(1.5).dtype == tl.float32
    with pytest.raises(TypeError):
        tl.set_default_dtype(tl.int64)


def test_constructor_copies_numpy_input() -> None:
    a = np.ones(3)
    t = tl.Tensor(a)
    a[0] = 5
    assert t.data[0] == 1.0


def test_properties() -> None:
    x = tl.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert x.shape == (2, 3) and x.ndim == 2 and x.dtype == tl.float64
    assert x.is_leaf and x.grad_fn is None and x.requires_grad and x.grad is None
    assert x.T.shape == (3, 2)
    np.testing.assert_array_equal(x.T.data, x.data.T)
    y = x * 2
    assert not y.is_leaf and y.grad_fn is not None and y.requires_grad
    x.data = np.zeros(4, np.float32)  # assigning replaces the array, dtype included
    assert x.shape == (4,) and x.dtype == tl.float32
    assert isinstance(x.numpy(), np.ndarray)


def test_methods() -> None:
    x = tl.Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert x.numel() == 4
    assert x.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert tl.Tensor(np.array(2.5)).item() == 2.5
    assert isinstance(tl.Tensor(np.array([7])).item(), int)
    with pytest.raises(ValueError):
        x.item()
    assert x.requires_grad_() is x and x.requires_grad
    assert x.requires_grad_(False) is x and not x.requires_grad
    assert x.float().dtype == tl.float32 and x.double().dtype == tl.float64
    assert x.astype(tl.float32).dtype == tl.float32
    assert x.astype(np.int64).dtype == tl.int64
    np.testing.assert_array_equal(x.numpy(), x.data)
    h = tl.Tensor(np.ones(2), requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="detach"):
        h.requires_grad_(False)


def test_factories() -> None:
    for make in (tl.zeros, tl.Tensor.zeros):
        assert make(2, 3).shape == (2, 3) and make((2, 3)).shape == (2, 3)
        assert make(2).dtype == tl.float32
    assert np.all(tl.ones(2, 2).data == 1) and tl.Tensor.ones(3).shape == (3,)
    assert tl.full((2, 2), 3.0).dtype == tl.float32 and np.all(tl.full((2, 2), 3.0).data == 3)
    assert tl.full(3, 7).dtype == tl.int64
    assert tl.Tensor.full((1,), 2.0, dtype=tl.float64).dtype == tl.float64
    np.testing.assert_array_equal(tl.eye(3).data, np.eye(3))
    np.testing.assert_array_equal(tl.arange(4).data, [0, 1, 2, 3])
    assert tl.arange(4).dtype == tl.int64
    assert tl.arange(0.0, 1.0, 0.25).dtype == tl.float32
    np.testing.assert_array_equal(tl.arange(1, 7, 2).data, [1, 3, 5])
    assert tl.Tensor.arange(3, dtype=tl.float64).dtype == tl.float64
    r = tl.rand(100)
    assert r.dtype == tl.float32 and r.shape == (100,) and np.all((r.data >= 0) & (r.data < 1))
    u = tl.uniform(200, low=2.0, high=3.0)
    assert np.all((u.data >= 2.0) & (u.data < 3.0))
    assert tl.Tensor.uniform(2, 2).shape == (2, 2)
    n = tl.randn(2, 3, dtype=tl.float64)
    assert n.shape == (2, 3) and n.dtype == tl.float64
    base = tl.Tensor(np.ones((2, 3), np.float64))
    assert tl.zeros_like(base).dtype == tl.float64 and np.all(tl.zeros_like(base).data == 0)
    assert tl.ones_like(base, dtype=tl.float32).dtype == tl.float32
    for t in (
        tl.zeros(2, requires_grad=True),
        tl.randn(2, requires_grad=True),
        tl.eye(2, requires_grad=True),
        tl.ones_like(base, requires_grad=True),
        tl.Tensor.rand(2, requires_grad=True),
        tl.full((2,), 1.0, requires_grad=True),
        tl.arange(0.0, 2.0, requires_grad=True),
    ):
        assert t.requires_grad and t.is_leaf


def test_manual_seed_is_reproducible() -> None:
    tl.manual_seed(123)
    first = [tl.rand(3).data, tl.randn(3).data, tl.uniform(3).data]
    tl.manual_seed(123)
    second = [tl.rand(3).data, tl.randn(3).data, tl.uniform(3).data]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    tl.manual_seed(124)
    assert not np.array_equal(tl.rand(3).data, first[0])


def test_comparisons_give_bool_tensors() -> None:
    x = tl.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = tl.Tensor(np.array([3.0, 2.0, 1.0]))
    for out, expected in (
        (x < y, [1, 0, 0]),
        (x <= y, [1, 1, 0]),
        (x > y, [0, 0, 1]),
        (x >= y, [0, 1, 1]),
        (x == y, [0, 1, 0]),
        (x != y, [1, 0, 1]),
        (x > 1.5, [0, 1, 1]),
        (x == np.array([1.0, 0.0, 3.0]), [1, 0, 1]),
    ):
        assert isinstance(out, tl.Tensor) and out.dtype == tl.bool_
        assert not out.requires_grad
        np.testing.assert_array_equal(out.data, np.array(expected, bool))


def test_argmax_argmin() -> None:
    x = tl.Tensor(np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]]))
    assert x.argmax().item() == 3
    assert x.argmin().item() == 4
    np.testing.assert_array_equal(x.argmax(axis=1).data, [1, 0])
    np.testing.assert_array_equal(x.argmin(axis=0).data, [0, 1, 0])
    assert x.argmax(axis=-1, keepdim=True).shape == (2, 1)
    assert x.argmax().dtype == tl.int64
    assert not tl.Tensor(np.ones(2), requires_grad=True).argmax().requires_grad


# ------------------------------------------------------------------------ the custom Function contract


def test_forward_or_backward_without_staticmethod_is_refused_at_class_definition() -> None:
    with pytest.raises(TypeError, match=r"Twice\.backward must be a @staticmethod taking ctx first"):

        class Twice(tl.Function):  # noqa: F841 - the definition itself must fail
            @staticmethod
            def forward(ctx, x):
                return 2 * x

            def backward(ctx, g):  # forgot @staticmethod
                return 2 * g


def _function_returning(grads):
    class Custom(tl.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, g):
            return grads(g)

    return Custom


@pytest.mark.parametrize("grads, count", [(lambda g: g, 1), (lambda g: (g, g, g), 3)])
def test_backward_returning_the_wrong_number_of_gradients_names_the_function(grads, count) -> None:
    a, b = tl.Tensor([1.0, 2.0], requires_grad=True), tl.Tensor([3.0, 4.0], requires_grad=True)
    out = _function_returning(grads).apply(a, b).sum()
    with pytest.raises(RuntimeError, match=rf"Custom\.backward returned {count} gradients, but forward took 2 "):
        out.backward()


def test_a_gradient_that_cannot_be_summed_to_its_input_names_the_function_index_and_shapes() -> None:
    a, b = tl.Tensor(np.ones(5), requires_grad=True), tl.Tensor(np.ones(5), requires_grad=True)
    out = _function_returning(lambda g: (g, np.ones(7))).apply(a, b).sum()
    with pytest.raises(ValueError, match=r"Custom\.backward: the gradient for input 1 has shape \(7,\), which "
                                         r"cannot be summed to the input's shape \(5,\)") as info:
        out.backward()
    assert isinstance(info.value, RuntimeError)  # a shape error is both, as everywhere


def test_a_gradient_of_the_wrong_type_names_the_function_and_index() -> None:
    a, b = tl.Tensor([1.0, 2.0], requires_grad=True), tl.Tensor([3.0, 4.0], requires_grad=True)
    out = _function_returning(lambda g: (g, [1.0, 1.0])).apply(a, b).sum()
    with pytest.raises(TypeError, match=r"Custom\.backward: the gradient for input 1 is a list, not an array"):
        out.backward()


def test_a_gradient_of_a_broadcast_shape_is_still_summed_back() -> None:
    a, b = tl.Tensor(np.ones((1, 3)), requires_grad=True), tl.Tensor(np.ones((1, 3)), requires_grad=True)
    out = _function_returning(lambda g: (np.ones((4, 3)), np.ones((2, 4, 3)))).apply(a, b).sum()
    out.backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.full((1, 3), 4.0))
    np.testing.assert_array_equal(b.grad.numpy(), np.full((1, 3), 8.0))


# --------------------------------------------------------------------------- grad mode on generators


@pytest.mark.parametrize("mode, inside, outside", [(tl.no_grad, False, True), (tl.enable_grad, True, False)])
def test_grad_mode_decorating_a_generator_covers_every_step_and_only_its_steps(mode, inside, outside) -> None:
    w = tl.Tensor([1.0, 2.0], requires_grad=True)

    @mode()
    def steps(n):
        for _ in range(n):
            received = yield w * 2, tl.is_grad_enabled()
            assert tl.is_grad_enabled() is inside and received == "next"

    def caller():
        gen = steps(3)
        results = [next(gen)]
        while True:
            assert tl.is_grad_enabled() is outside  # between steps the caller's own mode holds
            try:
                results.append(gen.send("next"))
            except StopIteration:
                return results

    with (tl.enable_grad() if outside else tl.no_grad()):
        results = caller()
    assert [enabled for _, enabled in results] == [inside] * 3
    assert all(t.requires_grad is inside for t, _ in results)


def test_a_generator_under_no_grad_handles_what_the_caller_throws_in_and_closes() -> None:
    seen = []

    @tl.no_grad()
    def gen():
        try:
            yield 1
        except KeyError:
            seen.append(("caught", tl.is_grad_enabled()))
            yield 2
        finally:
            seen.append(("closed", tl.is_grad_enabled()))

    g = gen()
    assert next(g) == 1
    assert g.throw(KeyError("k")) == 2
    g.close()
    assert seen == [("caught", False), ("closed", False)] and tl.is_grad_enabled()


# ------------------------------------------------------- second derivatives and values saved in forward


class _TanhSavingIntermediate(tl.Function):
    """d tanh = 1 - tanh², from a tanh computed in forward and saved: neither an input nor the output."""

    @staticmethod
    def forward(ctx, x):
        t = np.tanh(x)
        ctx.save_for_backward(t)
        return 2 * t

    @staticmethod
    def backward(ctx, g):
        (t,) = ctx.saved_tensors
        return 2 * g * (1 - t * t)


class _TanhRecomputing(tl.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 2 * np.tanh(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        t = ctx.xp.tanh(x)
        return 2 * g * (1 - t * t)


def test_a_saved_intermediate_is_refused_under_create_graph_instead_of_a_silently_wrong_second_derivative():
    x = tl.Tensor(np.array([0.3, -1.2]), requires_grad=True)
    _TanhSavingIntermediate.apply(x).sum().backward()  # first order: fine
    np.testing.assert_allclose(x.grad.numpy(), 2 * (1 - np.tanh(x.numpy()) ** 2))
    y = _TanhSavingIntermediate.apply(x).sum()
    with pytest.raises(RuntimeError, match=r"_TanhSavingIntermediate\.backward under create_graph=True: forward "
                                           r"kept an array of shape \(2,\) that is neither an input nor the output"):
        tl.grad(y, x, create_graph=True)
    with pytest.raises(RuntimeError, match="Save inputs and outputs only"):
        tl.gradgradcheck(_TanhSavingIntermediate.apply, (x,))
    assert tl.gradgradcheck(_TanhRecomputing.apply, (x,))  # the same derivative, recomputed: right


def test_an_intermediate_kept_as_a_ctx_attribute_is_refused_too():
    class Attribute(tl.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.derivative = 1 - np.tanh(x) ** 2
            return np.tanh(x)

        @staticmethod
        def backward(ctx, g):
            return g * ctx.derivative

    x = tl.Tensor(np.array([0.3, -1.2]), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Attribute\.backward under create_graph=True: forward kept an array"):
        tl.grad(Attribute.apply(x).sum(), x, create_graph=True)


def test_once_differentiable_refuses_higher_order_and_saves_constants_allows_masks():
    class Once(_TanhSavingIntermediate):
        once_differentiable = True

    class Masked(tl.Function):
        saves_constants = True  # the mask's derivative is zero almost everywhere

        @staticmethod
        def forward(ctx, x):
            positive = (x > 0).astype(x.dtype)
            ctx.save_for_backward(positive)
            return x * positive

        @staticmethod
        def backward(ctx, g):
            (positive,) = ctx.saved_tensors
            return g * positive

    x = tl.Tensor(np.array([0.3, -1.2]), requires_grad=True)
    with pytest.raises(RuntimeError, match="Once is once-differentiable"):
        tl.grad(Once.apply(x).sum(), x, create_graph=True)
    (g,) = tl.grad(Masked.apply(x).sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.numpy(), [1.0, 0.0])
    assert tl.gradgradcheck(Masked.apply, (tl.Tensor(np.array([0.3, -1.2]), requires_grad=True),))


# ------------------------------------------------------------------------------ grad mode per thread


def test_no_grad_in_one_thread_does_not_stop_recording_in_another() -> None:
    import threading

    inside, release = threading.Event(), threading.Event()

    def evaluator() -> None:
        with tl.no_grad():
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=evaluator)
    thread.start()
    try:
        assert inside.wait(10)
        w = tl.Tensor([1.0, 2.0], requires_grad=True)
        assert tl.is_grad_enabled() and (w * 2).requires_grad  # this thread still records
    finally:
        release.set()
        thread.join()


def _train(steps: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    nn = tl.nn
    model = nn.Sequential(nn.Linear(3, 4, dtype=np.float64), nn.Sigmoid(), nn.Linear(4, 1, dtype=np.float64))
    for p in model.parameters():
        p.data = rng.standard_normal(p.shape)
    opt = tl.optim.SGD(model.parameters(), lr=0.1)
    x, y = tl.Tensor(rng.standard_normal((8, 3))), tl.Tensor(rng.standard_normal((8, 1)))
    for _ in range(steps):
        loss = tl.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return [p.data.copy() for p in model.parameters()]


def test_training_beside_threads_that_evaluate_under_no_grad_matches_training_alone() -> None:
    import sys
    import threading

    steps = 3000
    alone = _train(steps, seed=0)
    stop, failures = threading.Event(), []

    def evaluate() -> None:  # another model, evaluated in a loop under no_grad (and backward's own switch)
        model = tl.nn.Linear(3, 1)
        x = tl.Tensor(np.ones((4, 3), np.float32))
        while not stop.is_set():
            with tl.no_grad():
                if model(x).requires_grad:
                    failures.append("recorded under no_grad")

    results: dict[str, list[np.ndarray]] = {}

    def train() -> None:
        try:
            results["params"] = _train(steps, seed=0)
        except Exception as error:  # noqa: BLE001 - any failure is the finding
            failures.append(repr(error))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter allows
    try:
        evaluators = [threading.Thread(target=evaluate) for _ in range(2)]
        trainer = threading.Thread(target=train)
        for t in (*evaluators, trainer):
            t.start()
        trainer.join(120)
        stop.set()
        for t in evaluators:
            t.join(10)
    finally:
        sys.setswitchinterval(interval)
    assert failures == []
    for got, want in zip(results["params"], alone, strict=True):
        np.testing.assert_array_equal(got, want)


def test_an_input_kept_as_a_ctx_attribute_is_refused_under_create_graph() -> None:
    class CubeFromAttribute(tl.Function):
        @staticmethod
        def forward(ctx, x):
            z = x**3
            ctx.save_for_backward(x)
            ctx.z = z  # the output's own array, as an attribute: never swapped for its Tensor
            return z

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * ctx.z / x * g

    x = tl.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"CubeFromAttribute\.backward under create_graph=True: forward kept"):
        tl.grad(CubeFromAttribute.apply(x).sum(), x, create_graph=True)
