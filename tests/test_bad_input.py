"""Bad input as users write it, with numpy and PyTorch habits: each ends as PyTorch behaves (value, dtype,
exception class) or as a clear error naming the operation, never as a silent conversion or a numpy warning."""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_lite as tl
import tinygrad_lite.nn.functional as F
from tinygrad_lite import Tensor
from tinygrad_lite.errors import AxisError, ShapeError


@pytest.fixture(autouse=True)
def _numpy_warnings_are_errors():
    """Every warning that escapes is an error. The package's filter for numpy's warnings inside it is put back
    in front: importing tinygrad_lite installed it, but pytest resets warning filters after collection."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tl.errors.silence_numpy_warnings()
        yield


def x23() -> Tensor:
    return Tensor(np.arange(6.0).reshape(2, 3))


# ---- the exception classes ------------------------------------------------------------------------------------


def test_shape_errors_are_value_and_runtime_errors_and_write_shapes_as_tuples():
    cases = [
        lambda: x23() + Tensor.zeros(4),
        lambda: x23().reshape(4, 2),
        lambda: x23().expand(4, 3),
        lambda: tl.where(np.ones((2, 3), bool), Tensor.zeros(4, 3), 0.0),
        lambda: x23() @ Tensor.zeros(2, 2),
        lambda: tl.cat([x23(), Tensor.zeros(3, 2)]),
        lambda: tl.stack([x23(), Tensor.zeros(3, 2)]),
        lambda: Tensor.zeros(0).max(),
    ]
    for case in cases:
        with pytest.raises(ShapeError) as info:
            case()
        assert isinstance(info.value, ValueError) and isinstance(info.value, RuntimeError)
        message = str(info.value)
        assert message.split(":")[0] in ("add", "reshape", "expand", "where", "matmul", "cat", "stack", "max")
        assert "(2,3)" not in message and "(4,3)" not in message and "(4,2)" not in message, message


@pytest.mark.parametrize("call", [
    lambda x: x.sum(2), lambda x: x.mean(-3), lambda x: x.softmax(5), lambda x: x.transpose(0, 2),
    lambda x: x.permute(3, 0), lambda x: x.permute(0, 5), lambda x: x.unsqueeze(4), lambda x: x.argmax(2),
    lambda x: x.squeeze(7), lambda x: tl.cat([x, x], axis=2),
])
def test_axis_errors_are_index_and_value_errors(call):
    with pytest.raises(AxisError) as info:
        call(x23())
    assert isinstance(info.value, IndexError) and isinstance(info.value, ValueError)
    assert "(2, 3)" in str(info.value)


def test_expand_says_which_axis_cannot_grow():
    with pytest.raises(ShapeError, match=r"expand: .* shape \(2, 3\) to \(4, 3\): axis 0 has size 2"):
        x23().expand(4, 3)
    assert x23()[:1].expand(4, 3).shape == (4, 3) and x23().expand(5, -1, 3).shape == (5, 2, 3)


def test_permute_does_not_wrap_axes():
    assert x23().permute(1, 0).shape == (3, 2) and x23().permute(-1, -2).shape == (3, 2)
    for dims in [(0, 0), (0,), (0, 1, 2)]:
        with pytest.raises(AxisError, match="permute"):
            x23().permute(*dims)


# ---- silent wrong results -------------------------------------------------------------------------------------


@pytest.mark.parametrize("mask_shape", [(2, 2), (3,), (3, 3), (1, 3)])
def test_a_boolean_mask_of_the_wrong_shape_is_an_index_error(mask_shape):
    with pytest.raises(IndexError, match=r"getitem: a boolean mask of shape"):
        x23()[np.ones(mask_shape, bool)]


def test_boolean_masks_of_the_right_shape_select_as_numpy_does():
    a = np.arange(24.0).reshape(2, 3, 4)
    x = Tensor(a)
    masks = [
        (np.array([True, False]),),
        (np.arange(6).reshape(2, 3) % 2 == 0,),
        (slice(None), np.array([True, False, True])),
        (Ellipsis, np.array([True, False, True, False])),
        (0, np.array([False, True, True])),
        (None, np.array([True, True]),),
        (Tensor(np.array([True, False])), Ellipsis, 1),
    ]
    for index in masks:
        numpy_index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        np.testing.assert_array_equal(x[index].data, a[numpy_index])
    with pytest.raises(IndexError, match="mask"):
        x[..., np.array([True, False, True])]


def test_an_empty_index_list_selects_nothing():
    assert x23()[[]].shape == (0, 3)
    assert np.array_equal(x23()[[]].data, np.arange(6.0).reshape(2, 3)[[]])


@pytest.mark.parametrize("bad", [np.array(["1.5"]), np.array([1 + 2j]), np.array([None], dtype=object),
                                 np.array([1], dtype=object)])
def test_non_numeric_arrays_are_refused_not_converted(bad):
    for make in (lambda: Tensor([1.0]) + bad, lambda: Tensor([1]) + bad, lambda: Tensor(bad),
                 lambda: Tensor(bad, dtype=tl.float32)):
        with pytest.raises(TypeError, match="unsupported data of dtype"):
            make()


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, [1, 2**64], 10**30])
def test_integers_beyond_int64_are_refused_not_wrapped(value):
    with pytest.raises(OverflowError, match="int64"):
        Tensor(value)
    assert Tensor(2**63 - 1).item() == 2**63 - 1 and Tensor(-(2**63)).item() == -(2**63)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int32, np.int64, np.bool_])
@pytest.mark.parametrize("op", ["exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "softplus", "gelu",
                                "leaky_relu", "softmax", "log_softmax", "logsumexp"])
def test_float_functions_of_integer_and_bool_tensors_are_float32(dtype, op):
    a = np.array([1, 12], dtype=dtype)
    x = Tensor(a)
    out = getattr(x, op)(0) if op == "logsumexp" else getattr(x, op)()
    assert out.dtype == tl.float32
    expected = getattr(Tensor(a.astype(np.float32)), op)(0) if op == "logsumexp" else \
        getattr(Tensor(a.astype(np.float32)), op)()
    np.testing.assert_array_equal(out.data, expected.data)


def test_float_functions_follow_the_default_dtype():
    tl.set_default_dtype(tl.float64)
    try:
        assert Tensor([1, 2]).exp().dtype == tl.float64
    finally:
        tl.set_default_dtype(tl.float32)


def test_integer_dtypes_of_powers_and_sums_are_pytorchs():
    assert (Tensor([True, False]) ** 2).dtype == tl.int64
    assert (Tensor([True, False]) + 1).dtype == tl.int64
    assert (Tensor([True, False]) * True).dtype == tl.bool_
    for dtype in (np.uint8, np.uint16, np.uint32, np.int8, np.int16, np.int32, np.int64, np.bool_):
        total = Tensor(np.array([1, 0], dtype=dtype)).sum()
        assert total.dtype == tl.int64, dtype
    assert Tensor(np.array([200, 100], np.uint8)).sum().item() == 300
    assert Tensor(np.array([1], np.uint64)).sum().dtype == np.uint64


# ---- crashes and unclear messages -----------------------------------------------------------------------------


def test_cat_of_0d_tensors_says_to_stack():
    with pytest.raises(ShapeError, match="cat: the tensor at position 0 is 0-d.*tl.stack"):
        tl.cat([Tensor(1.0), Tensor(2.0)])
    assert tl.stack([Tensor(1.0), Tensor(2.0)]).shape == (2,)


@pytest.mark.parametrize("loss", [F.mse_loss, F.l1_loss, F.binary_cross_entropy,
                                  F.binary_cross_entropy_with_logits])
def test_losses_of_empty_tensors_are_nan_for_the_mean_and_zero_for_the_sum(loss):
    x, y = Tensor.zeros(0, requires_grad=True), Tensor.zeros(0)
    mean = loss(x, y)
    assert np.isnan(mean.item()) and mean.dtype == tl.float32
    mean.backward()
    assert x.grad.shape == (0,)
    total = loss(x, y, reduction="sum")
    assert total.item() == 0 and total.dtype == tl.float32
    assert loss(x, y, reduction="none").shape == (0,)


def test_softmax_along_an_empty_axis_is_empty():
    for op in ("softmax", "log_softmax"):
        out = getattr(Tensor.zeros(2, 0), op)(1)
        assert out.shape == (2, 0) and out.dtype == tl.float32


def test_binary_cross_entropy_names_a_nan_input():
    for values in ([float("nan")], [float("nan"), 0.5]):
        with pytest.raises(ValueError, match="binary_cross_entropy: input contains NaN"):
            F.binary_cross_entropy(Tensor(values), Tensor.ones(len(values)))


def test_results_pytorch_defines_come_without_warnings():
    out = Tensor([1e4, -1e4]).exp()
    assert out.data.tolist() == [np.inf, 0.0]
    assert np.isnan(Tensor([]).mean().item()) and Tensor([]).mean().dtype == tl.float32
    assert Tensor.zeros(2, 0).mean(1).shape == (2,)


def test_max_with_a_nan_is_nan_and_its_gradient_goes_to_the_nan():
    for reduce in ("max", "min"):
        x = Tensor([1.0, float("nan"), 3.0], requires_grad=True)
        out = getattr(x, reduce)()
        assert np.isnan(out.item())
        out.backward()
        np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 0.0])


# ---- numpy's RuntimeWarnings stay inside --------------------------------------------------------------------

_INF_NAN_PROGRAM = """
import numpy as np, tinygrad_lite as tl, tinygrad_lite.nn.functional as F
for dtype in (tl.float32, tl.float64):
    big = np.finfo(dtype).max
    for values in ([np.inf, -np.inf, 1.0], [np.nan, 1.0, 0.0], [big, -big, 0.0], [0.0, -0.0, 0.0]):
        x = tl.Tensor(np.array(values, dtype=dtype), requires_grad=True)
        outs = [x + x, x - x, x * x, x / x, x ** x, x ** 2, 2 ** x, x.exp(), x.log(), x.sqrt(), x.sin(), x.cos(),
                x.tanh(), x.sigmoid(), x.softplus(), x.gelu(), x.leaky_relu(), x.maximum(x * 2), x.sum(), x.mean(),
                x.var(), x.std(), x.max(), x.min(), x.logsumexp(0), x.softmax(), x.log_softmax(), x @ x,
                F.mse_loss(x, x.detach() * 2), F.l1_loss(x, x.detach() * 2),
                F.binary_cross_entropy_with_logits(x, x.detach().sigmoid()),
                F.cross_entropy(x.reshape(1, 3), x.detach().reshape(1, 3).softmax())]
        sum(o.sum() for o in outs).backward()
tl.Tensor([1e4, -1e4]).exp()
tl.Tensor([]).mean()
"""


def test_no_numpy_warning_escapes_on_inf_nan_and_overflow(tmp_path):
    """In a fresh interpreter where every warning is an error (the package's filter is installed on import;
    pytest resets filters after collecting, so the check runs outside it)."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-W", "error", "-c", _INF_NAN_PROGRAM], capture_output=True,
                            text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_numpy_code_outside_the_package_still_warns():
    tl.errors.silence_numpy_warnings()
    with pytest.warns(RuntimeWarning, match="overflow"):
        np.exp(np.array([1e4]))


# ---- numpy interop: operators work, numpy functions say what to write ------------------------------------------


def test_operators_between_an_array_and_a_tensor_stay_in_the_graph():
    t = Tensor([1.0, 2.0], requires_grad=True)
    a = np.array([3.0, 4.0])
    for out, expected in [(a * t, [3.0, 8.0]), (a - t, [2.0, 2.0]), (a / t, [3.0, 2.0]), (a ** t, [3.0, 16.0]),
                          (a + t, [4.0, 6.0]), (a @ t, 11.0)]:
        assert isinstance(out, Tensor) and out.requires_grad
        np.testing.assert_allclose(out.data, expected)
    assert (a < t).tolist() == [False, False] and (a > t).tolist() == [True, True]
    assert (a == t).tolist() == [False, False]


@pytest.mark.parametrize(("call", "hint"), [
    (lambda t: np.exp(t), r"np.exp does not take a Tensor: write t.exp\(...\)"),
    (lambda t: np.sum(t), r"np.sum does not take a Tensor: write t.sum\(...\)"),
    (lambda t: np.mean(t, axis=0), r"t.mean\(...\)"),
    (lambda t: np.concatenate([t, t]), r"tl.cat\(...\)"),
    (lambda t: np.add.reduce(t), r"np.add.reduce does not take a Tensor"),
    (lambda t: np.arctan(t), r"np.arctan\(t.numpy\(\)\)"),
])
def test_numpy_functions_of_a_tensor_say_what_to_write(call, hint):
    with pytest.raises(TypeError, match=hint):
        call(Tensor([1.0, 2.0], requires_grad=True))


def test_an_in_place_numpy_update_with_a_tensor_says_to_use_the_arrays():
    w = Tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    with pytest.raises(TypeError, match=r"w.data -= lr \* w.grad.data"):
        w.data -= 0.1 * w.grad
    w.data -= 0.1 * w.grad.data
    np.testing.assert_allclose(w.data, [0.8, 1.6])


def test_arrays_are_still_made_from_tensors():
    t = Tensor([1.0, 2.0])
    assert np.asarray(t) is t.data and np.array(t).tolist() == [1.0, 2.0]


# ---- PyTorch's and numpy's names -----------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["sum", "mean", "var", "std", "max", "min", "logsumexp", "argmax", "argmin"])
def test_dim_and_keepdims_are_aliases_of_axis_and_keepdim(op):
    x = Tensor(np.arange(6.0).reshape(2, 3))
    expected = getattr(x, op)(axis=1, keepdim=True)
    for kwargs in ({"dim": 1, "keepdim": True}, {"axis": 1, "keepdims": True}, {"dim": 1, "keepdims": True}):
        out = getattr(x, op)(**kwargs)
        assert out.shape == (2, 1)
        np.testing.assert_array_equal(out.data, expected.data)
    with pytest.raises(TypeError, match=f"{op}: got both axis= and its alias dim="):
        getattr(x, op)(axis=1, dim=1)


def test_aliases_in_functions_and_shape_methods():
    x = Tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(tl.nn.Softmax(dim=0)(x).data, x.softmax(0).data)
    assert tl.cat([x, x], dim=1).shape == (2, 6) and tl.stack([x, x], dim=2).shape == (2, 3, 2)
    assert F.softmax(x, dim=0).shape == (2, 3) and F.log_softmax(x, dim=0).shape == (2, 3)
    np.testing.assert_array_equal(x.softmax(dim=0).data, x.softmax(0).data)
    assert x.unsqueeze(dim=0).shape == (1, 2, 3) and x.unsqueeze(0).squeeze(dim=0).shape == (2, 3)


def test_common_pytorch_methods():
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert x.view(3, 2).shape == (3, 2) and x.view(-1).shape == (6,)
    assert x.size() == (2, 3) and x.size(-1) == 3 and x.size(dim=0) == 2 and x.dim() == 2
    with pytest.raises(AxisError, match="size"):
        x.size(2)
    assert x.t().shape == (3, 2) and Tensor([1.0, 2.0]).t().shape == (2,)
    with pytest.raises(ShapeError, match=r"t: .*\(1, 2, 3\)"):
        Tensor.zeros(1, 2, 3).t()
    np.testing.assert_array_equal(x.clamp(1, 3).data, x.clip(1, 3).data)
    assert x.clamp(max=2).data.max() == 2
    assert x.to(tl.float32).dtype == tl.float32 and x.to(tl.float64) is x
    x.to(tl.float32).sum().backward()
    assert x.grad.dtype == tl.float64


def test_module_double_and_float():
    model = tl.nn.Sequential(tl.nn.Linear(2, 3), tl.nn.Sigmoid(), tl.nn.Linear(3, 1))
    assert model.double() is model
    assert all(p.dtype == tl.float64 for p in model.parameters())
    out = model(Tensor([[1.0, 2.0]], dtype=tl.float64))
    assert out.dtype == tl.float64
    out.sum().backward()
    model.float()
    assert all(p.dtype == tl.float32 and p.grad.dtype == tl.float32 for p in model.parameters())
    assert model(Tensor([[1.0, 2.0]])).dtype == tl.float32
    with pytest.raises(TypeError, match="floating-point"):
        model.to(tl.int64)


# ---- the command line -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "message"), [
    (["iris", "--hidden", "10000000000", "--steps", "1"], r"--hidden 10000000000 with --steps 1 over 1 run needs"),
    (["iris", "--steps", "10000000000000", "--variant", "all"], r"over 3 runs needs about [\d,.]+ GiB of memory"),
])
def test_iris_refuses_sizes_beyond_the_machines_memory_before_allocating(argv, message, capsys):
    from tinygrad_lite.cli import main

    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert re.search(message, err) and "this machine has" in err and "Traceback" not in err


def test_iris_with_a_huge_learning_rate_prints_no_numpy_warning():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "tinygrad_lite", "iris", "--lr", "1e300", "--steps", "30",
                             "--quiet", "--variant", "all"], capture_output=True, text=True)
    assert result.returncode == 0 and "Warning" not in result.stderr, result.stderr


def test_an_integer_beyond_a_tensors_dtype_names_the_operation():
    with pytest.raises(OverflowError, match=r"add: Python integer 300 out of bounds for uint8"):
        Tensor(np.array([1], np.uint8)) + 300


def test_loss_shape_errors_are_shape_errors():
    for call in (lambda: F.mse_loss(Tensor.zeros(3, 1), Tensor.zeros(3)),
                 lambda: F.cross_entropy(Tensor.zeros(2, 3), Tensor([0, 1, 2])),
                 lambda: F.linear(Tensor.zeros(2, 3), Tensor.zeros(4, 2))):
        with pytest.raises(ShapeError):
            call()


# ---- random bad input: dtype × shape × operation family ------------------------------------------------------

_DTYPES = [np.float32, np.float64, np.int64, np.int32, np.uint8, np.bool_]
_SHAPES = [(), (0,), (1,), (3,), (2, 3), (2, 0), (0, 3), (1, 3)]
_SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e4, -1e4, 1.0, 0.5]
_FLOAT_FUNCTIONS = ["exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "softplus", "gelu", "leaky_relu"]
_BINARY = {"add": "__add__", "sub": "__sub__", "mul": "__mul__", "div": "__truediv__", "pow": "__pow__",
           "maximum": "maximum", "minimum": "minimum"}
# Every exception is one of these, and its message starts with the operation's name
_DOCUMENTED = (ShapeError, AxisError, IndexError, TypeError, OverflowError, ValueError)


@st.composite
def _bad_tensors(draw: st.DrawFn) -> Tensor:
    """A tensor of any dtype and shape, NaN, inf, empty and 0-d included."""
    dtype, shape = np.dtype(draw(st.sampled_from(_DTYPES))), draw(st.sampled_from(_SHAPES))
    size = int(np.prod(shape))
    if dtype.kind == "f":
        values = draw(st.lists(st.sampled_from(_SPECIAL), min_size=size, max_size=size))
    elif dtype.kind == "b":
        values = draw(st.lists(st.booleans(), min_size=size, max_size=size))
    else:
        values = draw(st.lists(st.integers(0, 100), min_size=size, max_size=size))
    return Tensor(np.array(values, dtype=dtype).reshape(shape))


def _float_result(dtype: np.dtype) -> np.dtype:
    """PyTorch's dtype for a float function (exp, mean, division) of a tensor of ``dtype``."""
    return dtype if dtype.kind == "f" else np.dtype(np.float32)


def _pytorch_promotion(a: np.dtype, b: np.dtype) -> np.dtype:
    """torch.promote_types for the dtypes drawn here, written out: a float wins as it is; bool with bool is
    bool; otherwise the wider integer (uint8 with int32 is int32, with int64 int64)."""
    if a.kind == "f" or b.kind == "f":
        floats = [d for d in (a, b) if d.kind == "f"]
        return max(floats, key=lambda d: d.itemsize)
    if a == b:
        return a
    if a.kind == "b" or b.kind == "b":
        return b if a.kind == "b" else a
    return np.promote_types(a, b)


def _operation(draw: st.DrawFn, x: Tensor) -> tuple[str, Any, Any]:
    """An operation on ``x`` (and maybe a second bad tensor or a bad axis): its name, a call, and PyTorch's
    dtype of the result (None where PyTorch refuses or the dtype is not checked)."""
    family = draw(st.sampled_from(["float", "binary", "compare", "matmul", "where", "reduce", "softmax", "shape",
                                   "index", "join", "loss"]))
    if family == "float":
        name = draw(st.sampled_from(_FLOAT_FUNCTIONS))
        return name, lambda: getattr(x, name)(), _float_result(x.dtype)
    if family == "binary":
        name = draw(st.sampled_from(sorted(_BINARY)))
        y = draw(_bad_tensors())
        expected = _pytorch_promotion(x.dtype, y.dtype)
        if name == "div":
            expected = _float_result(expected)
        if expected.kind == "b" and name in ("sub", "pow", "div"):
            expected = None  # PyTorch refuses bool - bool; bool ** bool is not checked
        return name, lambda: getattr(x, _BINARY[name])(y), expected
    if family in ("compare", "matmul", "where"):
        y = draw(_bad_tensors())
        if family == "compare":
            return "compare", lambda: x < y, np.dtype(np.bool_)
        if family == "matmul":
            return "matmul", lambda: x @ y, _pytorch_promotion(x.dtype, y.dtype)
        return "where", lambda: tl.where(x > 0, x, y), _pytorch_promotion(x.dtype, y.dtype)
    if family == "reduce":
        name = draw(st.sampled_from(["sum", "mean", "max", "min", "var", "argmax"]))
        axis = draw(st.sampled_from([None, 0, 1, -1, 2, -3, (0, 1)]))
        expected = {"sum": np.dtype(np.int64) if x.dtype.kind in "biu" else x.dtype, "mean": _float_result(x.dtype),
                    "max": x.dtype, "min": x.dtype, "var": _float_result(x.dtype), "argmax": np.dtype(np.int64)}
        if name == "argmax" and isinstance(axis, tuple):
            axis = 0
        return name, lambda: getattr(x, name)(axis=axis), expected[name]
    if family == "softmax":
        name = draw(st.sampled_from(["softmax", "log_softmax", "logsumexp"]))
        axis = draw(st.sampled_from([0, -1, 1, 2]))
        return name, lambda: getattr(x, name)(axis), _float_result(x.dtype)
    if family == "shape":
        name = draw(st.sampled_from(["reshape", "permute", "expand", "transpose", "squeeze", "unsqueeze"]))
        args = draw(st.sampled_from([(), (0,), (1, 0), (3, 0), (2, 3), (-1,), (4, 2), (0, 5), (3, 2, 1)]))
        if name == "transpose" and len(args) != 2:
            args = (0, -1)
        if name in ("squeeze", "unsqueeze"):
            args = args[:1] or (0,)
        return name, lambda: getattr(x, name)(*args), x.dtype
    if family == "index":
        mask_shape = draw(st.sampled_from(_SHAPES))
        return "getitem", lambda: x[np.ones(mask_shape, bool)], x.dtype
    if family == "join":
        name = draw(st.sampled_from(["cat", "stack"]))
        y = draw(_bad_tensors())
        return name, lambda: getattr(tl, name)([x, y]), _pytorch_promotion(x.dtype, y.dtype)
    name = draw(st.sampled_from(["mse_loss", "l1_loss", "binary_cross_entropy_with_logits"]))
    y = draw(_bad_tensors())
    return name, lambda: getattr(F, name)(x, y), None


@given(st.data())
def test_bad_input_gives_pytorchs_result_or_a_documented_error(data):
    x = data.draw(_bad_tensors(), label="x")
    name, call, expected = _operation(data.draw, x)
    try:
        out = call()  # any warning that escapes fails the test (the autouse fixture)
    except _DOCUMENTED as error:
        assert str(error).startswith(f"{name}:") or str(error).startswith("Tensor:"), (name, error)
        return
    assert isinstance(out, Tensor)
    if expected is not None:
        assert out.dtype == expected, (name, x.dtype, out.dtype, expected)


def test_shape_and_axis_errors_outside_tensor_operations_use_the_same_classes():
    from tinygrad_lite import data
    from tinygrad_lite.nn import init

    y = Tensor([1.0, 2.0], requires_grad=True) * 2
    for call, kind in [(lambda: y.backward(), ShapeError), (lambda: y.backward(Tensor.ones(3)), ShapeError),
                       (lambda: data.normalize(np.ones((2, 3)), axis=2), AxisError),
                       (lambda: data.train_test_split(np.ones((4, 2)), np.ones(3)), ShapeError),
                       (lambda: init.xavier_uniform_(Tensor.zeros(3)), ShapeError)]:
        with pytest.raises(kind):
            call()
