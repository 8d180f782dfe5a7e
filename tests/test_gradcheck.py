"""tl.gradcheck and tl.gradgradcheck: what a failure reports (the Mismatch record, in-place changes, which
first-order gradient broke), and that the analytical Jacobian costs one backward pass per output element.

The basic contract (float64 only, the one-line message, raise_exception=False) is in test_engine.py; the
hypothesis toolkit built on these checks is in test_testing.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from functions import Cube, Mul, MulMutatingY

import tinygrad_lite as tl


def _leaf(values: list[float]) -> tl.Tensor:
    return tl.Tensor(np.array(values, dtype=np.float64), requires_grad=True)


class CountedMul(Mul):
    """Mul, counting its backward passes."""

    calls = 0

    @staticmethod
    def backward(ctx, g):
        CountedMul.calls += 1
        return Mul.backward(ctx, g)


class HalfGradientOfY(Mul):
    """The gradient of y is half what it should be; x's is right."""

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * y, g * x * 0.5


class FrozenY(Mul):
    """Right gradients, but x's is computed from y's raw array (``.data`` leaves the graph): under create_graph
    it is a constant, so the derivative of x's gradient with respect to y is lost. The engine cannot see this
    (a ctx attribute or a saved intermediate it refuses): only gradgradcheck can."""

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * (y.data if isinstance(y, tl.Tensor) else y), g * x


class CubeWithConstantSeed(Cube):
    """z = x³ with a backward that turns its incoming gradient into a plain array: right at first order, but
    under create_graph the gradient no longer depends on the seed v in a way the engine can differentiate."""

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return np.asarray(g) * 3 * x * x


def test_a_mismatch_records_where_and_both_values() -> None:
    x, y = _leaf([1.0, -2.0]), _leaf([3.0, 0.5])
    with pytest.raises(tl.GradcheckError) as info:
        tl.gradcheck(HalfGradientOfY.apply, (x, y))
    m = info.value.mismatch
    assert (m.order, m.input, m.element, m.input_shape) == (1, 1, (0,), (2,))  # y, not x
    assert (m.output, m.output_element, m.output_shape) == (0, (0,), (2,))
    assert m.numerical == pytest.approx(1.0) and m.analytical == pytest.approx(0.5)  # dz0/dy0 = x0 = 1
    assert m.difference == pytest.approx(0.5)
    assert m.tolerance == pytest.approx(1e-5 + 1e-3 * 1.0)
    assert (m.count, m.total) == (2, 4)  # both diagonal entries of y's Jacobian are wrong
    assert "input 1 (shape (2,)) at element (0,)" in str(info.value)
    assert info.value.example is None  # only the toolkit's checks attach the example


def test_one_backward_pass_per_output_element_serves_every_input() -> None:
    x, y = _leaf([1.0, 2.0, 3.0]), _leaf([4.0, 5.0, 6.0])
    CountedMul.calls = 0
    assert tl.gradcheck(CountedMul.apply, (x, y))
    assert CountedMul.calls == 3  # three rows of the Jacobian, each for both inputs at once


def test_an_input_changed_in_place_is_named() -> None:
    x, y = _leaf([1.0, 2.0]), _leaf([3.0, 4.0])
    with pytest.raises(tl.GradcheckError) as info:
        tl.gradcheck(MulMutatingY.apply, (x, y))
    message = str(info.value)
    assert info.value.mismatch is None
    assert "input 1 (shape (2,)) was changed in place" in message
    assert "element (0,) was 3.0 and is now" in message
    x, y = _leaf([1.0, 2.0]), _leaf([3.0, 4.0])
    assert tl.gradcheck(MulMutatingY.apply, (x, y), raise_exception=False) is False
    assert tl.gradcheck(Mul.apply, (x, _leaf([3.0, 4.0])))  # the same without the increment passes


def test_gradgradcheck_names_the_first_order_gradient_that_broke() -> None:
    x, y = _leaf([1.0, -2.0]), _leaf([3.0, 0.5])
    assert tl.gradcheck(FrozenY.apply, (x, y))  # the first derivatives are right
    with pytest.raises(tl.GradcheckError) as info:
        tl.gradgradcheck(FrozenY.apply, (x, y))
    m = info.value.mismatch
    assert m.order == 2 and not m.wrt_v
    assert m.output == 0  # the gradient of x ...
    assert m.input == 1  # ... differentiated with respect to y
    assert m.element == m.output_element  # ∂(v·y)/∂y is diagonal
    assert m.analytical == 0.0  # the constant copy of y has no derivative
    message = str(info.value)
    assert message.startswith("gradgradcheck: second-derivative mismatch in the first-order gradient of input 0")
    assert "differentiated with respect to input 1 element" in message
    assert tl.gradgradcheck(Mul.apply, (x, y))


def test_gradgradcheck_names_the_seed_when_the_gradient_is_not_differentiable_in_it() -> None:
    x = _leaf([1.0, -2.0])
    assert tl.gradcheck(CubeWithConstantSeed.apply, (x,))
    with pytest.raises(tl.GradcheckError) as info:
        tl.gradgradcheck(CubeWithConstantSeed.apply, (x,))
    m = info.value.mismatch
    assert m.order == 2 and m.wrt_v  # the derivative in x is right (6x·v); the one in v, 3x², is lost
    assert (m.output, m.output_element, m.input, m.element) == (0, (0,), 0, (0,))
    assert m.numerical == pytest.approx(3.0) and m.analytical == 0.0
    assert "with respect to v, the vector seeding output 0 (shape (2,)), element (0,)" in str(info.value)


def test_inputs_keep_their_values_when_the_function_raises() -> None:
    x = _leaf([1.0, 2.0])

    def fails_when_perturbed(t: tl.Tensor) -> tl.Tensor:
        if t.data[0] != 1.0:
            raise FloatingPointError("perturbed")
        return t * 2.0

    with pytest.raises(FloatingPointError):
        tl.gradcheck(fails_when_perturbed, (x,))
    assert x.data.tolist() == [1.0, 2.0]
