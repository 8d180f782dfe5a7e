"""tinygrad_lite.testing: its strategies draw what they promise, its checks pass correct operations and
models, and they catch deliberately wrong Functions, each report naming the right input and element.

Every wrong Function here has a right twin that the same check passes, so no test passes by accident.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from functions import Cube, Mul, MulMutatingY, Square
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_lite as tl
from tinygrad_lite import nn
from tinygrad_lite.testing import (
    away_from,
    axes,
    broadcastable_shapes,
    check_function,
    check_module,
    floats,
    grid,
    positive,
    shapes,
    tensors,
    unit_interval,
)

# --------------------------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------------------------


@given(shapes(min_dims=1, max_dims=3, max_side=5, max_size=12))
def test_shapes_stay_within_their_bounds(shape: tuple[int, ...]) -> None:
    assert 1 <= len(shape) <= 3 and all(1 <= n <= 5 for n in shape) and math.prod(shape) <= 12


@given(broadcastable_shapes(3))
def test_broadcastable_shapes_broadcast(shapes3: tuple[tuple[int, ...], ...]) -> None:
    assert len(shapes3) == 3
    np.broadcast_shapes(*shapes3)  # raises if they do not


@given(st.integers(0, 4).flatmap(lambda n: st.tuples(st.just(n), axes(n))))
def test_axes_are_valid_for_their_ndim(case: tuple[int, object]) -> None:
    ndim, axis = case
    np.sum(np.zeros((2,) * ndim), axis=axis)  # raises if the axis is not valid


def test_axes_without_none_or_tuples() -> None:
    @given(axes(2, allow_none=False, allow_tuple=False), axes(0, allow_none=False))
    def drawn(axis: object, scalar_axis: object) -> None:
        assert isinstance(axis, int) and -2 <= axis <= 1
        assert scalar_axis in (0, -1)

    drawn()


@given(
    tensors(shape=(4,), elements=positive()),
    tensors(shape=(4,), elements=unit_interval()),
    tensors(shape=(4,), elements=away_from(-1.0, 1.0, margin=0.1)),
    tensors(shape=(6,), elements=grid(), unique=True),
)
def test_domains_keep_their_margins(pos: tl.Tensor, prob: tl.Tensor, kinked: tl.Tensor, tie_free: tl.Tensor) -> None:
    assert np.all(pos.data >= 0.1) and np.all(pos.data <= 3.0)
    assert np.all(prob.data >= 0.05) and np.all(prob.data <= 0.95)
    rounding = 1e-12  # 0.9 is 0.09999999999999998 from 1.0 in floating point
    assert np.all(np.abs(kinked.data - 1.0) >= 0.1 - rounding) and np.all(np.abs(kinked.data + 1.0) >= 0.1 - rounding)
    assert np.all(np.abs(kinked.data) <= 3.0)
    gaps = np.abs(tie_free.data[:, None] - tie_free.data[None, :]) + np.eye(6)
    assert gaps.min() >= 0.1 - rounding


def test_domains_refuse_empty_ranges() -> None:
    with pytest.raises(ValueError, match="> 0"):
        positive(low=0.0)
    with pytest.raises(ValueError, match="margin"):
        unit_interval(margin=0.5)
    with pytest.raises(ValueError, match="no value"):
        away_from(0.0, margin=1.0, low=-0.5, high=0.5)
    with pytest.raises(ValueError, match="no point"):
        grid(spacing=1.0, offset=0.5, low=0.6, high=1.4)


@given(
    tensors(),
    tensors(shape=3, dtype=tl.float32),
    tensors(shape=(2,), dtype=tl.int64, elements=st.integers(0, 4)),
    tensors(shape=(), requires_grad=False),
)
def test_tensors_dtype_and_requires_grad(
    default: tl.Tensor, f32: tl.Tensor, labels: tl.Tensor, constant: tl.Tensor
) -> None:
    assert default.dtype == tl.float64 and default.requires_grad and default.is_leaf
    assert np.all(np.abs(default.data) <= 3.0) and default.data.size <= 16
    assert f32.dtype == tl.float32 and f32.shape == (3,) and f32.requires_grad
    assert labels.dtype == tl.int64 and not labels.requires_grad and set(labels.data.tolist()) <= set(range(5))
    assert not constant.requires_grad and constant.shape == ()


def test_floats_bounds() -> None:
    @given(floats(-0.5, 0.25))
    def drawn(v: float) -> None:
        assert -0.5 <= v <= 0.25 and math.isfinite(v)

    drawn()


# --------------------------------------------------------------------------------------------------------------
# Right and wrong Functions
# --------------------------------------------------------------------------------------------------------------


class Exp(tl.Function):
    @staticmethod
    def forward(ctx, x):
        out = np.exp(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out


class ExpWrongSign(Exp):
    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return -(g * out)


class SquareMissingTwo(Square):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x


class AddBias(tl.Function):
    """x (n, n) plus a bias b (n,) broadcast along the rows: b's gradient sums g over axis 0."""

    @staticmethod
    def forward(ctx, x, b):
        return x + b

    @staticmethod
    def backward(ctx, g):
        return g, g.sum(axis=0)


class AddBiasWrongAxis(AddBias):
    """Sums over axis 1. The shapes still fit (the inputs are square), so nothing but the values is wrong."""

    @staticmethod
    def backward(ctx, g):
        return g, g.sum(axis=1)


class CubeWrongForNegatives(Cube):
    """3x² written as 3x·|x|: the same for x ≥ 0, of the wrong sign for x < 0."""

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * (x * ctx.xp.sign(x))


class RowSquares(Square):
    """Square on a batch (rows) of vectors."""


class RowSquaresWrongInRow2(Square):
    """Right for every row of the batch but row 2, whose gradient is scaled by 1.5."""

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        scale = np.ones((x.shape[0],) + (1,) * (x.ndim - 1))
        scale[2] = 1.5
        return 2 * g * x * scale


class Tanh(tl.Function):
    @staticmethod
    def forward(ctx, x):
        out = np.tanh(x)
        ctx.save_for_backward(out)  # the output itself: swapped for its Tensor under create_graph
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * (1 - out * out)


class TanhFrozenDerivative(tl.Function):
    """The right first derivative, computed in backward from the saved output's raw array (``.data`` leaves the
    graph): a constant under create_graph, which the engine cannot see."""

    @staticmethod
    def forward(ctx, x):
        out = np.tanh(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        raw = out.data if isinstance(out, tl.Tensor) else out
        return g * (1 - raw * raw)


def _failure(f, *strategies, **kwargs) -> tl.GradcheckError:
    """The error check_function raises for ``f``; fails the test if it raises none."""
    with pytest.raises(tl.GradcheckError) as info:
        check_function(f, *strategies, **kwargs)
    return info.value


def _value(error: tl.GradcheckError, k: int, element: tuple[int, ...]) -> float:
    return float(error.example[k].data[element])


def test_right_functions_pass() -> None:
    square_pair = st.integers(2, 4).flatmap(lambda n: st.tuples(tensors(shape=(n, n)), tensors(shape=(n,))))
    check_function(Exp.apply, tensors())
    check_function(Square.apply, tensors())
    check_function(AddBias.apply, args=square_pair)
    check_function(Cube.apply, tensors())
    check_function(RowSquares.apply, tensors(shape=st.tuples(st.integers(3, 5), st.integers(1, 3))))
    check_function(Tanh.apply, tensors())
    check_function(Mul.apply, tensors(shape=(3,)), tensors(shape=(3,)))


def test_wrong_sign() -> None:
    error = _failure(ExpWrongSign.apply, tensors())
    m = error.mismatch
    assert (m.order, m.input) == (1, 0)
    assert m.element == (0,) * len(m.input_shape)  # every element is wrong, so the first is named
    assert m.analytical == pytest.approx(-m.numerical, rel=1e-6)
    assert m.numerical == pytest.approx(math.exp(_value(error, 0, m.element)), rel=1e-6)


def test_missing_factor_two() -> None:
    error = _failure(SquareMissingTwo.apply, tensors())
    m = error.mismatch
    assert (m.order, m.input) == (1, 0)
    x = _value(error, 0, m.element)
    assert x != 0 and m.analytical == pytest.approx(x) and m.numerical == pytest.approx(2 * x, rel=1e-6)


def test_broadcasting_reduced_over_the_wrong_axis() -> None:
    square_pair = st.integers(2, 4).flatmap(lambda n: st.tuples(tensors(shape=(n, n)), tensors(shape=(n,))))
    m = _failure(AddBiasWrongAxis.apply, args=square_pair).mismatch
    assert (m.order, m.input) == (1, 1)  # the bias, not x (whose gradient is right)
    # the first wrong entry: output (0, 1) does not depend on b[0], but the wrong axis says it does
    assert (m.element, m.output_element) == ((0,), (0, 1))
    assert (m.analytical, m.numerical) == (1.0, pytest.approx(0.0, abs=1e-9))


def test_wrong_only_for_negative_inputs() -> None:
    error = _failure(CubeWrongForNegatives.apply, tensors())
    m = error.mismatch
    assert (m.order, m.input) == (1, 0)
    assert _value(error, 0, m.element) < 0
    assert f"value       input 0 is {_value(error, 0, m.element)!r} there" in str(error)
    check_function(CubeWrongForNegatives.apply, tensors(elements=floats(0.0, 3.0)))  # right where x ≥ 0


def test_wrong_only_at_one_element_of_a_batch() -> None:
    batches = tensors(shape=st.tuples(st.integers(3, 5), st.integers(1, 3)))
    error = _failure(RowSquaresWrongInRow2.apply, batches)
    m = error.mismatch
    assert (m.order, m.input) == (1, 0)
    assert m.element[0] == 2 and m.output_element == m.element  # row 2, on the Jacobian's diagonal
    assert m.analytical == pytest.approx(1.5 * m.numerical, rel=1e-6)


def test_right_first_derivative_wrong_second() -> None:
    check_function(TanhFrozenDerivative.apply, tensors(), order=1)  # the gradient is right ...
    error = _failure(TanhFrozenDerivative.apply, tensors())  # ... its derivative is not
    m = error.mismatch
    assert (m.order, m.input, m.output, m.wrt_v) == (2, 0, 0, False)
    assert m.element == m.output_element  # elementwise: only the diagonal of the Hessian-like block is nonzero
    assert m.analytical == 0.0 and _value(error, 0, m.element) != 0
    message = str(error)
    assert "a second derivative does not match" in message and "ctx.xp" in message
    assert f"where       the first-order gradient of input 0 (shape {m.output_shape}) at element {m.element}" in message


def test_backward_that_mutates_its_input() -> None:
    error = _failure(MulMutatingY.apply, tensors(shape=(3,)), tensors(shape=(3,)))
    assert error.mismatch is None
    message = str(error)
    assert "an input was changed in place" in message
    pattern = r"input 1 \(shape \(3,\)\) was changed in place .*: element \((\d),\) was (\S+) and is now (\S+)\."
    found = re.search(pattern, message)
    assert found, message
    element, before, after = int(found[1]), float(found[2]), float(found[3])
    assert element == 0 and after == before + 3.0  # the first element of y, once per backward pass (3 rows)
    assert before == _value(error, 1, (0,))  # the report shows the values from before the check


# --------------------------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------------------------


def test_the_report_of_a_fixed_example() -> None:
    x = tl.Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    error = _failure(SquareMissingTwo.apply, args=st.just((x,)))
    lines = str(error).splitlines()
    assert lines[0] == "check_function(SquareMissingTwo.apply): a gradient does not match finite differences."
    assert lines[1] == "  where       input 0 (shape (3,)) at element (0,), output 0 (shape (3,)) element (0,)"
    assert lines[2] == "  value       input 0 is 1.0 there"
    assert re.fullmatch(r"  analytical  1\.0  \(the engine's backward\)", lines[3])
    assert re.fullmatch(r"  numerical   2\.0000000000\d*  \(central difference, eps=1e-06\)", lines[4])
    assert re.fullmatch(r"  difference  1 > tolerance 0\.00201 = atol 1e-05 \+ rtol 0\.001·\|numerical\|", lines[5])
    assert lines[6] == "  3 of 9 entries of this Jacobian differ"
    assert lines[7] == "Falsifying example (shrunk by hypothesis; checked in float64):"
    assert lines[8] == "  input 0 = [ 1., -2.,  3.]  (shape (3,), float64, requires grad)"
    assert x.data.tolist() == [1.0, -2.0, 3.0] and x.grad is None  # the drawn tensor itself is untouched
    assert isinstance(error, AssertionError)


def test_the_report_notes_a_function_that_leaves_float64() -> None:
    message = str(_failure(lambda x: x.float() * 2.0, tensors(shape=(2,), elements=floats(1.0, 3.0))))
    assert "note: output 0 is float32" in message


def test_constants_and_dependent_arguments() -> None:
    check_function(lambda x, c: x * c, tensors(), floats())  # a drawn Python float is a constant
    with_axis = shapes().flatmap(lambda s: st.tuples(tensors(shape=s), axes(len(s)), st.booleans()))
    check_function(lambda x, axis, keepdim: x.sum(axis, keepdim) * x.mean(axis, keepdim), args=with_axis)
    message = str(_failure(lambda x, c: SquareMissingTwo.apply(x) * c, tensors(shape=(1,)), st.just(3.0)))
    assert "  input 1 = 3.0" in message  # constants are shown too


def test_a_module_forward_is_a_function_of_its_inputs() -> None:
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    check_function(net, tensors(shape=(2, 3)), max_examples=10)


# --------------------------------------------------------------------------------------------------------------
# Settings and misuse
# --------------------------------------------------------------------------------------------------------------


def test_settings_are_arguments() -> None:
    drawn = []
    check_function(Square.apply, tensors(shape=(2,)).map(lambda t: drawn.append(t) or t), order=1, max_examples=7,
                   settings=settings(database=None))
    assert 1 <= len(drawn) <= 7

    class ExpOnePercentOff(Exp):
        @staticmethod
        def backward(ctx, g):
            (out,) = ctx.saved_tensors
            return g * out * 1.01

    _failure(ExpOnePercentOff.apply, tensors(), order=1)  # rtol 1e-3 sees a 1 % error ...
    check_function(ExpOnePercentOff.apply, tensors(), order=1, rtol=0.02)  # ... a tolerance of 2 % does not

    def float32_twice(t: tl.Tensor) -> tl.Tensor:
        return t.astype(tl.float32) * 2.0

    # a linear function on values k/8: central differences with eps = 2⁻¹⁰ are exact even in float32
    eighths = tensors(elements=st.integers(-24, 24).map(lambda k: k / 8))
    check_function(float32_twice, eighths, eps=2**-10)
    _failure(float32_twice, eighths)  # with eps = 1e-6, float32 rounds the step away


def test_misuse_is_explained() -> None:
    with pytest.raises(TypeError, match="one strategy per argument"):
        check_function(Exp.apply)
    with pytest.raises(TypeError, match="not both"):
        check_function(Mul.apply, tensors(), args=st.tuples(tensors(), tensors()))
    with pytest.raises(ValueError, match="order must be 1"):
        check_function(Exp.apply, tensors(), order=3)
    with pytest.raises(ValueError, match="nothing to check"):
        check_function(Exp.apply, tensors(requires_grad=False))
    with pytest.raises(TypeError, match="nn.Module"):
        check_module(Exp.apply, tensors())


# --------------------------------------------------------------------------------------------------------------
# check_module
# --------------------------------------------------------------------------------------------------------------


class Scale(nn.Module):
    """y = x · w, elementwise, through a Function whose gradient for w may be wrong."""

    def __init__(self, op: type[tl.Function] = Mul) -> None:
        super().__init__()
        self.op = op
        self.weight = nn.Parameter(np.array([0.5, -1.5, 2.0]))

    def forward(self, x: tl.Tensor) -> tl.Tensor:
        return self.op.apply(x, self.weight)


class MulWrongForY(Mul):
    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * y, g * x * 0.5


def _module_failure(model: nn.Module, *strategies) -> tl.GradcheckError:
    with pytest.raises(tl.GradcheckError) as info:
        check_module(model, *strategies)
    return info.value


def test_check_module_passes_a_right_model_and_leaves_it_alone() -> None:
    tl.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Dropout(0.5), nn.Linear(4, 2))
    before = {name: value.copy() for name, value in net.state_dict().items()}
    net[0].weight.grad = tl.Tensor(np.ones((4, 3), np.float32))
    check_module(net, tensors(shape=(2, 3)))  # in evaluation mode: dropout would be random otherwise
    assert net.training and all(m.training for m in net.modules())
    for name, value in net.state_dict().items():
        assert value.dtype == np.float32 and np.array_equal(value, before[name]), name
    assert net[0].weight.grad.data.tolist() == np.ones((4, 3)).tolist() and net[3].weight.grad is None


def test_check_module_names_the_wrong_parameter() -> None:
    check_module(nn.Sequential(nn.Tanh(), Scale()), tensors(shape=(2, 3)))
    error = _module_failure(nn.Sequential(nn.Tanh(), Scale(MulWrongForY)), tensors(shape=(2, 3)))
    m = error.mismatch
    assert (m.order, m.input) == (1, 1)  # after input 0 come the parameters: '1.weight' is number 1
    message = str(error)
    assert "where       parameter '1.weight' (shape (3,)) at element" in message
    assert "(the parameters: the model's own values, in float64)" in message


def test_check_module_checks_the_inputs_too() -> None:
    class Bad(nn.Module):
        def forward(self, x: tl.Tensor) -> tl.Tensor:
            return SquareMissingTwo.apply(x)

    m = _module_failure(Bad(), tensors(shape=(2,), elements=away_from(0.0))).mismatch
    assert (m.order, m.input) == (1, 0)


# --------------------------------------------------------------------------------------------------------------
# Without hypothesis
# --------------------------------------------------------------------------------------------------------------

_WITHOUT_HYPOTHESIS = textwrap.dedent("""
    import sys
    import tinygrad_lite, tinygrad_lite.testing
    assert "hypothesis" not in sys.modules, "importing the package must not import hypothesis"
    sys.modules["hypothesis"] = None  # from here on, as if it were not installed
    assert "check_function" in dir(tinygrad_lite.testing)
    for name in ("tensors", "check_function"):
        try:
            getattr(tinygrad_lite.testing, name)
        except ImportError as error:
            print(error)
        else:
            raise SystemExit(name + " did not raise ImportError")
    try:
        tinygrad_lite.testing.no_such_name
    except AttributeError:
        print("AttributeError")
""")


def test_the_extra_it_names_is_declared() -> None:
    """The ImportError's advice works: pyproject.toml declares the extra ``testing``, and it brings hypothesis."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text(encoding="utf-8"))
    assert config["project"]["optional-dependencies"]["testing"] == ["hypothesis"]


def test_the_package_imports_without_hypothesis_and_names_the_extra() -> None:
    run = subprocess.run([sys.executable, "-c", _WITHOUT_HYPOTHESIS], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 3 and lines[2] == "AttributeError", run.stdout
    for line in lines[:2]:
        assert "needs hypothesis" in line and "pip install 'tinygrad-lite[testing]'" in line, line
