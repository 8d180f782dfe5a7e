"""Every differentiable operation of the API, checked against central finite differences (first and second
order, float64) through the public toolkit, tinygrad_lite.testing, as any user checks their own; against numpy
for its values; and for dtype preservation; plus the specific behaviours the contract promises (tie sharing,
accumulation of repeated indices, numerical stability, type promotion).

The operations are one table, ``OPS``: name → (function of Tensors, numpy reference, input strategy). The input
strategy draws the differentiable tensors and the keyword arguments (axes, constants, index expressions) that
the function and the reference take. Each property test is parametrised over the table.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import strategies as S
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lite as tl
from tinygrad_lite.nn import functional as F
from tinygrad_lite.testing import (
    away_from,
    axes,
    broadcastable_shapes,
    check_function,
    floats,
    grid,
    positive,
    shapes,
    tensors,
    unit_interval,
)


@dataclass(frozen=True)
class Op:
    fn: Callable[..., tl.Tensor]  # fn(*tensors, **kwargs)
    ref: Callable[..., np.ndarray]  # ref(*arrays, **kwargs): the value fn must have
    inputs: st.SearchStrategy  # draws (tensors, kwargs): float64 leaves that require grad, keyword arguments


# --------------------------------------------------------------------------------------------------------------
# Input strategies. ``elements`` arguments are the toolkit's domains (None: floats in [-3, 3]).
# --------------------------------------------------------------------------------------------------------------

GRID = 0.1  # spacing of the grid that tie-free values are drawn from (see testing.grid)


@st.composite
def unary(draw: st.DrawFn, elements: Any = None, min_dims: int = 0, **kwargs: st.SearchStrategy) -> Any:
    """One tensor of any shape; ``kwargs`` are strategies for the keyword arguments."""
    x = draw(tensors(shapes(min_dims=min_dims), elements=elements))
    return (x,), {k: draw(v) for k, v in kwargs.items()}


@st.composite
def binary(draw: st.DrawFn, x_elements: Any = None, y_elements: Any = None, **kwargs: st.SearchStrategy) -> Any:
    """Two tensors of mutually broadcastable shapes."""
    sx, sy = draw(broadcastable_shapes(2))
    x, y = draw(tensors(sx, elements=x_elements)), draw(tensors(sy, elements=y_elements))
    return (x, y), {k: draw(v) for k, v in kwargs.items()}


@st.composite
def with_constant(draw: st.DrawFn, x_elements: Any = None, c_elements: Any = None, array: bool = False) -> Any:
    """One tensor and a constant ``c`` (a Python float, or a numpy array of a broadcastable shape)."""
    if array:
        sx, sc = draw(broadcastable_shapes(2))
        return (draw(tensors(sx, elements=x_elements)),), {"c": draw(tensors(sc, elements=c_elements)).data}
    return (draw(tensors(elements=x_elements)),), {"c": draw(floats() if c_elements is None else c_elements)}


@st.composite
def reduction(
    draw: st.DrawFn, elements: Any = None, unique: bool = False, correction: bool = False, min_count: int = 1
) -> Any:
    """One tensor with a random ``axis``/``keepdim`` (and ``correction``), reducing ≥ ``min_count`` elements."""
    shape = draw(shapes())
    kwargs = draw(S.reduction_args(len(shape)))
    if correction:
        kwargs["correction"] = draw(st.sampled_from([0, 1]))
    assume(S.reduced_count(shape, kwargs["axis"]) >= max(min_count, kwargs.get("correction", 0) + 1))
    return (draw(tensors(shape, elements=elements, unique=unique)),), kwargs


@st.composite
def matmul_pair(draw: st.DrawFn, **kwargs: st.SearchStrategy) -> Any:
    sx, sy = draw(S.matmul_shapes())
    return (draw(tensors(sx)), draw(tensors(sy))), {k: draw(v) for k, v in kwargs.items()}


@st.composite
def matmul_constant(draw: st.DrawFn) -> Any:
    sx, sc = draw(S.matmul_shapes())
    left = draw(st.booleans())
    if left:
        sx, sc = sc, sx  # the constant on the left: c @ x
    return (draw(tensors(sx)),), {"c": draw(tensors(sc)).data, "left": left}


@st.composite
def linear_case(draw: st.DrawFn) -> Any:
    """F.linear(x, W, b): x of shape (*batch, in) with 0 to 2 batch axes, W (out, in), b (out,) or no bias."""
    n_in, n_out = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    batch = draw(shapes(max_dims=2, max_side=3))
    arrays = (draw(tensors((*batch, n_in))), draw(tensors((n_out, n_in))))
    if draw(st.booleans()):
        arrays += (draw(tensors((n_out,))),)
    return arrays, {}


@st.composite
def dot_pair(draw: st.DrawFn) -> Any:
    n = draw(st.integers(1, 4))
    return (draw(tensors((n,))), draw(tensors((n,)))), {}


@st.composite
def clip_case(draw: st.DrawFn) -> Any:
    """Values on the grid offset by half a step; bounds on the grid: never within 0.05 of each other."""
    x = draw(tensors(elements=grid(GRID, offset=GRID / 2)))
    low = draw(st.none() | st.integers(-30, 10).map(lambda k: k * GRID))
    high = draw(st.none() | st.integers(-10, 30).map(lambda k: k * GRID))
    assume(low is not None or high is not None)
    if low is not None and high is not None:
        low, high = min(low, high), max(low, high)
    return (x,), {"min": low, "max": high}


@st.composite
def maximum_case(draw: st.DrawFn, constant: bool = False) -> Any:
    """x on the grid, y on the grid shifted by half a step: |x - y| ≥ 0.05 everywhere, no ties."""
    sx, sy = draw(broadcastable_shapes(2))
    x, y = draw(tensors(sx, elements=grid(GRID))), draw(tensors(sy, elements=grid(GRID, offset=GRID / 2)))
    if constant:
        return (x,), {"c": float(y.data.ravel()[0]) if draw(st.booleans()) else y.data}
    return (x, y), {}


@st.composite
def where_case(draw: st.DrawFn, constant: bool = False, **kwargs: st.SearchStrategy) -> Any:
    sc, sx, sy = draw(broadcastable_shapes(3))
    extra = {"cond": draw(hnp.arrays(np.bool_, sc)), **{k: draw(v) for k, v in kwargs.items()}}
    if constant:
        return (draw(tensors(sx)),), {"c": draw(floats()), **extra}
    return (draw(tensors(sx)), draw(tensors(sy))), extra


@st.composite
def reshape_case(draw: st.DrawFn) -> Any:
    """A new shape of the same size (factors drawn from its divisors), maybe with one -1, as ints or tuple."""
    shape = draw(shapes())
    rest, target = math.prod(shape), []
    for _ in range(draw(st.integers(0, 3))):
        target.append(draw(st.sampled_from([d for d in range(1, rest + 1) if rest % d == 0])))
        rest //= target[-1]
    if rest != 1 or draw(st.booleans()):
        target.append(rest)
    target = list(draw(st.permutations(target)))
    if target and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return (draw(tensors(shape)),), {"shape": tuple(target), "as_tuple": draw(st.booleans())}


@st.composite
def transpose_case(draw: st.DrawFn) -> Any:
    shape = draw(shapes(min_dims=1))
    n = len(shape)
    return (draw(tensors(shape)),), {"dim0": draw(st.integers(-n, n - 1)), "dim1": draw(st.integers(-n, n - 1))}


@st.composite
def permute_case(draw: st.DrawFn) -> Any:
    shape = draw(shapes())
    return (draw(tensors(shape)),), {"dims": draw(S.permutations(len(shape)))}


@st.composite
def expand_case(draw: st.DrawFn) -> Any:
    """Prepend axes and stretch size-1 axes; -1 keeps an existing axis's size."""
    shape = draw(shapes(max_size=8))
    target = [draw(st.integers(1, 3)) if n == 1 else n for n in shape]
    target = [-1 if draw(st.booleans()) else n for n in target]
    lead = [draw(st.integers(1, 2)) for _ in range(draw(st.integers(0, 2)))]
    return (draw(tensors(shape)),), {"shape": tuple(lead + target)}


@st.composite
def flatten_case(draw: st.DrawFn) -> Any:
    shape = draw(shapes())
    n = len(shape)
    if n == 0 or draw(st.booleans()):
        return (draw(tensors(shape)),), {"start_dim": None, "end_dim": None}
    start, end = draw(st.integers(-n, n - 1)), draw(st.integers(-n, n - 1))
    assume(start % n <= end % n)
    return (draw(tensors(shape)),), {"start_dim": start, "end_dim": end}


@st.composite
def squeeze_case(draw: st.DrawFn) -> Any:
    shape = draw(shapes())
    return (draw(tensors(shape)),), {"axis": draw(axes(len(shape)))}


@st.composite
def unsqueeze_case(draw: st.DrawFn) -> Any:
    shape = draw(shapes())
    return (draw(tensors(shape)),), {"axis": draw(st.integers(-len(shape) - 1, len(shape)))}


@st.composite
def getitem_case(draw: st.DrawFn, advanced: bool) -> Any:
    shape = draw(shapes(min_dims=1 if advanced else 0))
    index = draw(S.advanced_indices(shape) if advanced else S.basic_indices(shape))
    return (draw(tensors(shape)),), {"index": index}


@st.composite
def cat_case(draw: st.DrawFn) -> Any:
    shape = list(draw(shapes(min_dims=1, max_size=6)))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        shape[axis] = draw(st.integers(1, 3))
        parts.append(draw(tensors(tuple(shape))))
    return tuple(parts), {"axis": axis}


@st.composite
def stack_case(draw: st.DrawFn) -> Any:
    shape = draw(shapes(max_size=6))
    n = len(shape)
    parts = tuple(draw(tensors(shape)) for _ in range(draw(st.integers(1, 3))))
    return parts, {"axis": draw(st.integers(-n - 1, n))}


@st.composite
def softmax_case(draw: st.DrawFn) -> Any:
    """Any axis; a 0-d tensor takes axis 0 or -1 (itself), as in PyTorch."""
    shape = draw(shapes())
    n = max(len(shape), 1)
    return (draw(tensors(shape)),), {"axis": draw(st.none() | st.integers(-n, n - 1))}


_REDUCTIONS = st.sampled_from(["mean", "sum", "none"])


@st.composite
def loss_case(draw: st.DrawFn, x_elements: Any = None, y_elements: Any = None) -> Any:
    """Input and target of one shape (losses never broadcast the target), both differentiable, and a reduction."""
    shape = draw(shapes())
    x, y = draw(tensors(shape, elements=x_elements)), draw(tensors(shape, elements=y_elements))
    return (x, y), {"reduction": draw(_REDUCTIONS)}


@st.composite
def l1_case(draw: st.DrawFn) -> Any:
    """A target at least 0.05 away from the input: |x - y| has a kink where they meet."""
    shape = draw(shapes())
    x, gap = draw(tensors(shape)), draw(tensors(shape, elements=away_from(0.0)))
    return (x, tl.Tensor(x.data + gap.data, requires_grad=True)), {"reduction": draw(_REDUCTIONS)}


@st.composite
def cross_entropy_case(draw: st.DrawFn, class_indices: bool) -> Any:
    """Logits of shape (C,), (N, C) or (N, C, d), the classes on axis 1 (0 for 1-D), with a target of integer
    class indices (a constant) or of class probabilities (the logits' shape, differentiable)."""
    shape = draw(shapes(min_dims=1, max_dims=3))
    axis = 0 if len(shape) == 1 else 1
    x = draw(tensors(shape))
    if class_indices:
        labels = hnp.arrays(np.int64, shape[:axis] + shape[axis + 1 :], elements=st.integers(0, shape[axis] - 1))
        return (x,), {"target": draw(labels), "reduction": draw(_REDUCTIONS)}
    return (x, draw(S.class_probabilities(shape, axis))), {"reduction": draw(_REDUCTIONS)}


# --------------------------------------------------------------------------------------------------------------
# numpy references (written from the definitions, not from the implementation)
# --------------------------------------------------------------------------------------------------------------


def _np_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    if x.ndim == 0:
        return np.ones_like(x)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_logsumexp(x: np.ndarray, axis: Any, keepdim: bool) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdim else np.squeeze(out, axis=axis) if axis is not None else out.reshape(())


def _np_gelu(x: np.ndarray) -> np.ndarray:
    # PyTorch's gelu(approximate='tanh'): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))


def _np_squeeze(x: np.ndarray, axis: Any) -> np.ndarray:
    # PyTorch: axes of size other than 1 are left alone (numpy would raise)
    axes = range(x.ndim) if axis is None else [a % x.ndim for a in (axis if isinstance(axis, tuple) else (axis,))]
    return x.reshape([n for i, n in enumerate(x.shape) if not (i in axes and n == 1)])


def _np_flatten(x: np.ndarray, start_dim: int | None, end_dim: int | None) -> np.ndarray:
    if start_dim is None:
        return x.reshape(-1)
    s, e = start_dim % x.ndim, end_dim % x.ndim
    return x.reshape(x.shape[:s] + (-1,) + x.shape[e + 1 :])


def _np_expand(x: np.ndarray, shape: tuple) -> np.ndarray:
    lead = len(shape) - x.ndim
    return np.broadcast_to(x, [x.shape[i - lead] if n == -1 else n for i, n in enumerate(shape)])


def _np_transpose(x: np.ndarray, dim0: int, dim1: int) -> np.ndarray:
    return np.swapaxes(x, dim0, dim1)


def _np_var(x: np.ndarray, axis: Any, keepdim: bool, correction: int) -> np.ndarray:
    return np.var(x, axis=axis, keepdims=keepdim, ddof=correction)


def _np_clip(x: np.ndarray, min: Any, max: Any) -> np.ndarray:  # noqa: A002
    return np.clip(x, min, max)


def _np_reduce(losses: np.ndarray, reduction: str) -> np.ndarray:
    return {"mean": np.mean, "sum": np.sum, "none": np.asarray}[reduction](losses)


def _np_bce(p: np.ndarray, y: np.ndarray, reduction: str) -> np.ndarray:
    return _np_reduce(-(y * np.log(p) + (1 - y) * np.log(1 - p)), reduction)


def _np_cross_entropy(x: np.ndarray, target: np.ndarray, reduction: str) -> np.ndarray:
    axis = 0 if x.ndim == 1 else 1
    log_p = np.log(_np_softmax(x, axis))
    if target.dtype.kind == "i":  # class indices: the log-probability of each sample's class
        return _np_reduce(-np.take_along_axis(log_p, np.expand_dims(target, axis), axis).squeeze(axis), reduction)
    return _np_reduce(-(target * log_p).sum(axis=axis), reduction)


# --------------------------------------------------------------------------------------------------------------
# The table. Second order: every entry is checked with gradgradcheck too. At the sampled points (away from kinks)
# abs, relu, leaky_relu, clip, max, min, maximum, minimum, where, getitem and l1_loss are piecewise linear, so
# their second derivative is zero there; the check then proves the create_graph path gives that zero (and, for
# mul-like formulas, the cross terms with the seed v).
# --------------------------------------------------------------------------------------------------------------

_slope = st.floats(0.01, 0.5)

_M = st.booleans()  # `method`: call the method (x.add(y)) or the operator (x + y); both must behave the same


def _binary_op(operator: Callable, method: str) -> Callable:
    return lambda x, y, method_form: getattr(x, method)(y) if method_form else operator(x, y)


def _ref(fn: Callable) -> Callable:
    """A numpy reference that ignores the ``method_form`` flag."""
    return lambda *arrays, method_form=None, **kwargs: fn(*arrays, **kwargs)


OPS: dict[str, Op] = {
    # operators, tensor with tensor (broadcasting), each also as its method
    "add": Op(_binary_op(lambda x, y: x + y, "add"), _ref(np.add), binary(method_form=_M)),
    "sub": Op(_binary_op(lambda x, y: x - y, "sub"), _ref(np.subtract), binary(method_form=_M)),
    "mul": Op(_binary_op(lambda x, y: x * y, "mul"), _ref(np.multiply), binary(method_form=_M)),
    "div": Op(
        _binary_op(lambda x, y: x / y, "div"), _ref(np.divide), binary(y_elements=away_from(0.0), method_form=_M)
    ),
    "pow": Op(
        _binary_op(lambda x, y: x**y, "pow"), _ref(np.power), binary(positive(), floats(-2, 2), method_form=_M)
    ),
    "matmul": Op(_binary_op(lambda x, y: x @ y, "matmul"), _ref(np.matmul), matmul_pair(method_form=_M)),
    "neg": Op(lambda x, method_form: x.neg() if method_form else -x, _ref(np.negative), unary(method_form=_M)),
    "dot": Op(lambda x, y: x.dot(y), np.dot, dot_pair()),
    "linear": Op(  # nn.functional.linear: one recorded op (ops.Linear) for x @ Wᵀ + b
        lambda x, w, *b: tl.nn.functional.linear(x, w, *b),
        lambda x, w, *b: x @ w.T + (b[0] if b else 0),
        linear_case(),
    ),
    # operators with a Python number on either side
    "add_scalar": Op(lambda x, c: x + c, lambda x, c: x + c, with_constant()),
    "radd_scalar": Op(lambda x, c: c + x, lambda x, c: c + x, with_constant()),
    "sub_scalar": Op(lambda x, c: x - c, lambda x, c: x - c, with_constant()),
    "rsub_scalar": Op(lambda x, c: c - x, lambda x, c: c - x, with_constant()),
    "mul_scalar": Op(lambda x, c: x * c, lambda x, c: x * c, with_constant()),
    "rmul_scalar": Op(lambda x, c: c * x, lambda x, c: c * x, with_constant()),
    "div_scalar": Op(lambda x, c: x / c, lambda x, c: x / c, with_constant(c_elements=away_from(0.0))),
    "rdiv_scalar": Op(lambda x, c: c / x, lambda x, c: c / x, with_constant(x_elements=away_from(0.0))),
    "pow_scalar": Op(lambda x, c: x**c, lambda x, c: x**c, with_constant(positive(), floats(-2, 2))),
    "pow_int": Op(lambda x, c: x ** int(c), lambda x, c: x ** int(c), with_constant(c_elements=floats(0, 3))),
    "rpow_scalar": Op(lambda x, c: c**x, lambda x, c: c**x, with_constant(c_elements=positive())),
    # operators with a numpy array on either side (a constant: only x is differentiated)
    "add_array": Op(lambda x, c: x + c, lambda x, c: x + c, with_constant(array=True)),
    "radd_array": Op(lambda x, c: c + x, lambda x, c: c + x, with_constant(array=True)),
    "rsub_array": Op(lambda x, c: c - x, lambda x, c: c - x, with_constant(array=True)),
    "rmul_array": Op(lambda x, c: c * x, lambda x, c: c * x, with_constant(array=True)),
    "rdiv_array": Op(lambda x, c: c / x, lambda x, c: c / x, with_constant(away_from(0.0), array=True)),
    "rpow_array": Op(lambda x, c: c**x, lambda x, c: c**x, with_constant(c_elements=positive(), array=True)),
    "matmul_array": Op(
        lambda x, c, left: c @ x if left else x @ c, lambda x, c, left: c @ x if left else x @ c, matmul_constant()
    ),
    # elementwise
    "exp": Op(lambda x: x.exp(), np.exp, unary()),
    "log": Op(lambda x: x.log(), np.log, unary(positive())),
    "sqrt": Op(lambda x: x.sqrt(), np.sqrt, unary(positive())),
    "abs": Op(  # kink at 0 avoided; method and builtin abs()
        lambda x, method_form: x.abs() if method_form else abs(x), _ref(np.abs), unary(away_from(0.0), method_form=_M)
    ),
    "square": Op(lambda x: x.square(), np.square, unary()),
    "sin": Op(lambda x: x.sin(), np.sin, unary()),
    "cos": Op(lambda x: x.cos(), np.cos, unary()),
    "tanh": Op(lambda x: x.tanh(), np.tanh, unary()),
    "sigmoid": Op(lambda x: x.sigmoid(), lambda x: 1 / (1 + np.exp(-x)), unary(floats(-8, 8))),
    "relu": Op(lambda x: x.relu(), lambda x: np.maximum(x, 0), unary(away_from(0.0))),  # kink at 0 avoided
    "softplus": Op(lambda x: x.softplus(), lambda x: np.log1p(np.exp(x)), unary(floats(-8, 8))),
    "leaky_relu": Op(  # kink at 0 avoided; s=None: the default slope 0.01
        lambda x, s: x.leaky_relu() if s is None else x.leaky_relu(s),
        lambda x, s: np.where(x > 0, x, (0.01 if s is None else s) * x),
        unary(away_from(0.0), s=st.none() | _slope),
    ),
    "gelu": Op(lambda x: x.gelu(), _np_gelu, unary()),
    "clip": Op(lambda x, min, max: x.clip(min, max), _np_clip, clip_case()),  # kinks at the bounds avoided
    "maximum": Op(lambda x, y: x.maximum(y), np.maximum, maximum_case()),  # no ties (tested separately)
    "minimum": Op(lambda x, y: x.minimum(y), np.minimum, maximum_case()),
    "maximum_constant": Op(lambda x, c: x.maximum(c), lambda x, c: np.maximum(x, c), maximum_case(constant=True)),
    "minimum_constant": Op(lambda x, c: x.minimum(c), lambda x, c: np.minimum(x, c), maximum_case(constant=True)),
    "where": Op(  # the condition as a numpy array or a bool Tensor
        lambda x, y, cond, method_form: tl.where(tl.Tensor(cond) if method_form else cond, x, y),
        _ref(lambda x, y, cond: np.where(cond, x, y)),
        where_case(method_form=_M),
    ),
    "where_scalar": Op(  # a Python number on either side
        lambda x, cond, c, method_form: tl.where(cond, x, c) if method_form else tl.where(cond, c, x),
        lambda x, cond, c, method_form: np.where(cond, x, c) if method_form else np.where(cond, c, x),
        where_case(constant=True, method_form=_M),
    ),
    # reductions
    "sum": Op(
        lambda x, axis, keepdim: x.sum(axis, keepdim),
        lambda x, axis, keepdim: np.sum(x, axis, keepdims=keepdim),
        reduction(),
    ),
    "mean": Op(
        lambda x, axis, keepdim: x.mean(axis=axis, keepdim=keepdim),
        lambda x, axis, keepdim: np.mean(x, axis, keepdims=keepdim),
        reduction(),
    ),
    "max": Op(  # distinct values: no ties (tested separately)
        lambda x, axis, keepdim: x.max(axis, keepdim),
        lambda x, axis, keepdim: np.max(x, axis, keepdims=keepdim),
        reduction(grid(GRID), unique=True),
    ),
    "min": Op(
        lambda x, axis, keepdim: x.min(axis, keepdim),
        lambda x, axis, keepdim: np.min(x, axis, keepdims=keepdim),
        reduction(grid(GRID), unique=True),
    ),
    "var": Op(lambda x, **kw: x.var(**kw), _np_var, reduction(correction=True)),
    "std": Op(  # distinct values: std > 0, away from sqrt's kink at 0
        lambda x, **kw: x.std(**kw),
        lambda x, **kw: np.sqrt(_np_var(x, **kw)),
        reduction(grid(GRID), unique=True, correction=True, min_count=2),
    ),
    "logsumexp": Op(lambda x, axis, keepdim: x.logsumexp(axis, keepdim), _np_logsumexp, reduction()),
    # shapes
    "reshape": Op(
        lambda x, shape, as_tuple: x.reshape(shape) if as_tuple else x.reshape(*shape),
        lambda x, shape, as_tuple: x.reshape(shape),
        reshape_case(),
    ),
    "transpose": Op(lambda x, dim0, dim1: x.transpose(dim0, dim1), _np_transpose, transpose_case()),
    "permute": Op(lambda x, dims: x.permute(*dims), lambda x, dims: np.transpose(x, dims), permute_case()),
    "T": Op(lambda x: x.T, lambda x: x.T, unary()),
    "expand": Op(lambda x, shape: x.expand(*shape), _np_expand, expand_case()),
    "squeeze": Op(  # axis None, an int or a tuple; axes whose size is not 1 are left alone
        lambda x, axis: x.squeeze(axis),
        _np_squeeze,
        squeeze_case(),
    ),
    "unsqueeze": Op(lambda x, axis: x.unsqueeze(axis), lambda x, axis: np.expand_dims(x, axis), unsqueeze_case()),
    "flatten": Op(  # start_dim=None: the defaults (a 0-d tensor becomes shape (1,))
        lambda x, start_dim, end_dim: x.flatten() if start_dim is None else x.flatten(start_dim, end_dim),
        _np_flatten,
        flatten_case(),
    ),
    "getitem_basic": Op(lambda x, index: x[index], lambda x, index: x[index], getitem_case(advanced=False)),
    "getitem_advanced": Op(lambda x, index: x[index], lambda x, index: x[index], getitem_case(advanced=True)),
    "cat": Op(lambda *xs, axis: tl.cat(xs, axis=axis), lambda *xs, axis: np.concatenate(xs, axis=axis), cat_case()),
    "stack": Op(lambda *xs, axis: tl.stack(xs, axis=axis), lambda *xs, axis: np.stack(xs, axis=axis), stack_case()),
    # softmax family (axis=None: the default, -1)
    "softmax": Op(
        lambda x, axis: x.softmax() if axis is None else x.softmax(axis),
        lambda x, axis: _np_softmax(x, -1 if axis is None else axis),
        softmax_case(),
    ),
    "log_softmax": Op(
        lambda x, axis: x.log_softmax() if axis is None else x.log_softmax(axis),
        lambda x, axis: np.log(_np_softmax(x, -1 if axis is None else axis)),
        softmax_case(),
    ),
    # losses (nn.functional), each reduced by mean, sum or none; differentiable in the target too, except class
    # indices. Fused into one node: mse_loss (SquaredError), binary_cross_entropy_with_logits (BCEWithLogits),
    # the probability target's negative log-likelihood after log_softmax (NegativeLogLikelihood); the logs of
    # binary_cross_entropy are ClampedLog; class indices pick through a ClassMask.
    "mse_loss": Op(F.mse_loss, lambda x, y, reduction: _np_reduce((x - y) ** 2, reduction), loss_case()),
    "l1_loss": Op(F.l1_loss, lambda x, y, reduction: _np_reduce(np.abs(x - y), reduction), l1_case()),
    "binary_cross_entropy": Op(F.binary_cross_entropy, _np_bce, loss_case(unit_interval(), unit_interval())),
    "binary_cross_entropy_with_logits": Op(
        F.binary_cross_entropy_with_logits,
        lambda x, y, reduction: _np_bce(1 / (1 + np.exp(-x)), y, reduction),
        loss_case(y_elements=unit_interval()),
    ),
    "cross_entropy_indices": Op(F.cross_entropy, _np_cross_entropy, cross_entropy_case(class_indices=True)),
    "cross_entropy_probabilities": Op(F.cross_entropy, _np_cross_entropy, cross_entropy_case(class_indices=False)),
    # dtype conversion within float64 (a float64 -> float32 cast is checked separately, below)
    "astype_same": Op(
        lambda x, method_form: (x.double() if method_form else x.astype(tl.float64)) * 1.0,
        _ref(lambda x: x),
        unary(method_form=_M),
    ),
}
NAMES = sorted(OPS)


def _tensors(arrays: list[np.ndarray], dtype: Any = np.float64, requires_grad: bool = True) -> list[tl.Tensor]:
    return [tl.Tensor(a.astype(dtype), requires_grad=requires_grad) for a in arrays]


def _function(name: str) -> Callable[..., tl.Tensor]:
    """``OPS[name]`` as a function of positional arguments only, as check_function calls it: the tensors, then
    the keyword arguments as one dict (a constant). Named after the operation, so that a report says which."""
    op = OPS[name]

    def call(*args: Any) -> tl.Tensor:
        return op.fn(*args[:-1], **args[-1])

    call.__name__ = call.__qualname__ = name
    return call


def _arguments(name: str) -> st.SearchStrategy:
    """The arguments of ``_function(name)``."""
    return OPS[name].inputs.map(lambda case: (*case[0], case[1]))


# --------------------------------------------------------------------------------------------------------------
# Properties of every operation
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_gradients(name: str) -> None:
    """First and second derivatives against finite differences, with the toolkit a user would use."""
    check_function(_function(name), args=_arguments(name))


@pytest.mark.slow
def test_no_false_alarm_over_a_thousand_examples() -> None:
    """Every operation in the table is right, so no example may fail: 1,000 examples spread over the whole
    table (forty times the profile's examples: 10,000 under the thorough profile). A failure here would mean a
    domain lets a central difference straddle a kink or lose its digits, not that an operation is wrong."""

    def any_operation(name: str, *args: Any) -> tl.Tensor:
        return OPS[name].fn(*args[:-1], **args[-1])

    cases = st.sampled_from(NAMES).flatmap(lambda name: _arguments(name).map(lambda args: (name, *args)))
    check_function(any_operation, args=cases, max_examples=40 * settings().max_examples)


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_forward_matches_numpy(name: str, data: st.DataObject) -> None:
    op = OPS[name]
    inputs, kwargs = data.draw(op.inputs, label="tensors, kwargs")
    arrays = [t.data for t in inputs]
    out = op.fn(*_tensors(arrays, requires_grad=False), **kwargs)
    expected = np.asarray(op.ref(*arrays, **kwargs))
    assert isinstance(out, tl.Tensor)
    assert out.shape == expected.shape
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", [n for n in NAMES if n != "astype_same"])  # that one converts by design
@given(data=st.data(), dtype=st.sampled_from([tl.float32, tl.float64]))
def test_dtype_preserved(name: str, dtype: np.dtype, data: st.DataObject) -> None:
    """The output, and the gradient of every input, keep the inputs' dtype (Python numbers never change it;
    numpy constants are given in the same dtype, since a float64 array would promote as a tensor does)."""
    op = OPS[name]
    inputs, kwargs = data.draw(op.inputs, label="tensors, kwargs")
    kwargs = {k: v.astype(dtype) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v for k, v in kwargs.items()}
    leaves = _tensors([t.data for t in inputs], dtype)
    out = op.fn(*leaves, **kwargs)
    assert out.dtype == dtype
    out.backward(np.ones(out.shape, dtype), retain_graph=True)
    for t in leaves:
        assert t.grad is not None and t.grad.dtype == dtype
    # and through a create_graph backward
    grads = tl.grad(out, leaves, grad_outputs=tl.ones(*out.shape, dtype=dtype), create_graph=True, allow_unused=True)
    for g in grads:
        assert g is None or g.dtype == dtype


# --------------------------------------------------------------------------------------------------------------
# Casting between float dtypes
# --------------------------------------------------------------------------------------------------------------


def test_astype_float32_gradients() -> None:
    """float64 → float32 cannot be checked with eps = 1e-6 (float32 rounds it away). Values k/8 and eps = 2⁻¹⁰
    are exact in float32 and the function is linear, so central differences are exact: the check is as strict."""
    eighths = tensors(elements=st.integers(-64, 64).map(lambda k: k / 8))
    check_function(lambda t: t.astype(tl.float32) * 2.0, eighths, eps=2**-10)
    check_function(lambda t: t.float() * 2.0, eighths, eps=2**-10, order=1)


def test_astype_gradient_dtypes() -> None:
    x32 = tl.Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    y = x32.astype(tl.float64)
    assert y.dtype == tl.float64 and y.grad_fn is not None
    (y * y).sum().backward()
    assert x32.grad.dtype == tl.float32
    np.testing.assert_array_equal(x32.grad.data, [2.0, 4.0])
    x64 = tl.Tensor(np.array([1.5, -2.0]), requires_grad=True)
    z = x64.astype(tl.float32)
    assert z.dtype == tl.float32
    z.backward(np.array([3.0, 4.0], np.float32))
    assert x64.grad.dtype == tl.float64
    np.testing.assert_array_equal(x64.grad.data, [3.0, 4.0])
    assert x64.astype(tl.float64) is x64  # no-op casts record nothing


# --------------------------------------------------------------------------------------------------------------
# Values where the API says "as in PyTorch" (expected values written by hand)
# --------------------------------------------------------------------------------------------------------------


def test_gelu_is_pytorchs_tanh_approximation() -> None:
    # torch.nn.functional.gelu(x, approximate='tanh') for x = -2, -1, 0, 1, 2 (float64)
    x = tl.Tensor(np.array([-2.0, -1.0, 0.0, 1.0, 2.0]))
    expected = [-0.04540230591222, -0.15880800939172, 0.0, 0.84119199060828, 1.95459769408778]
    np.testing.assert_allclose(x.gelu().data, expected, rtol=1e-10, atol=1e-13)
    # the exact (erf) GELU of 1 is 0.8413447460685429: the approximation is distinguishable from it
    assert abs(x.gelu().data[3] - 0.8413447460685429) > 1e-4


def test_var_std_correction() -> None:
    x = tl.Tensor(np.array([1.0, 2.0, 3.0, 4.0]))
    assert x.var().item() == pytest.approx(5 / 3)  # default correction=1, as torch.var
    assert x.var(correction=0).item() == pytest.approx(1.25)
    assert x.std().item() == pytest.approx(math.sqrt(5 / 3))
    assert x.std(correction=0).item() == pytest.approx(math.sqrt(1.25))
    m = tl.Tensor(np.array([[1.0, 3.0], [2.0, 6.0]]))
    np.testing.assert_allclose(m.var(axis=0).data, [0.5, 4.5])
    np.testing.assert_allclose(m.var(axis=1, keepdim=True).data, [[2.0], [8.0]])


def test_leaky_relu_default_slope() -> None:
    x = tl.Tensor(np.array([-2.0, 3.0]))
    np.testing.assert_allclose(x.leaky_relu().data, [-0.02, 3.0])


def test_clip_one_sided() -> None:
    x = tl.Tensor(np.array([-2.0, 0.5, 3.0]), requires_grad=True)
    np.testing.assert_array_equal(x.clip(min=0.0).data, [0.0, 0.5, 3.0])
    np.testing.assert_array_equal(x.clip(max=1.0).data, [-2.0, 0.5, 1.0])
    x.clip(-1.0, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 0.0])
    with pytest.raises(ValueError):
        x.clip()


def test_kink_gradients_follow_pytorch() -> None:
    """At the kink itself: |x|' = 0, relu' = 0, leaky_relu' = slope, clip passes the gradient at its bounds."""
    x = tl.Tensor(np.array([0.0, 1.0]), requires_grad=True)
    (g,) = tl.grad(x.abs().sum(), x)
    np.testing.assert_array_equal(g.data, [0.0, 1.0])
    (g,) = tl.grad(x.relu().sum(), x)
    np.testing.assert_array_equal(g.data, [0.0, 1.0])
    (g,) = tl.grad(x.leaky_relu(0.1).sum(), x)
    np.testing.assert_array_equal(g.data, [0.1, 1.0])
    (g,) = tl.grad(x.clip(0.0, 1.0).sum(), x)
    np.testing.assert_array_equal(g.data, [1.0, 1.0])


def test_pow_at_zero_base_follows_pytorch() -> None:
    """x**0 is constant, so its gradient is 0 even at x = 0; d(0**y)/dy is 0 for y ≥ 0. No nan, no warning."""
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        x = tl.Tensor(np.array([0.0, 2.0]), requires_grad=True)
        (g,) = tl.grad((x**0).sum(), x)
        np.testing.assert_array_equal(g.data, [0.0, 0.0])
        (g,) = tl.grad((x**2).sum(), x)
        np.testing.assert_array_equal(g.data, [0.0, 4.0])
        e = tl.Tensor(np.array([0.0, 1.0]), requires_grad=True)
        (gx, ge) = tl.grad((x**e).sum(), [x, e])
        np.testing.assert_array_equal(gx.data, [0.0, 1.0])
        np.testing.assert_allclose(ge.data, [0.0, 2.0 * math.log(2.0)])
        (g,) = tl.grad((0.0**e).sum(), e)
        np.testing.assert_array_equal(g.data, [0.0, 0.0])


# --------------------------------------------------------------------------------------------------------------
# Ties, repeated indices
# --------------------------------------------------------------------------------------------------------------


def test_max_min_ties_share_gradient_equally() -> None:
    x = tl.Tensor(np.array([[1.0, 3.0, 3.0], [5.0, 5.0, 5.0]]), requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad.data, [[0, 0, 0], [1 / 3, 1 / 3, 1 / 3]])
    x.grad = None
    x.max(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad.data, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    y = tl.Tensor(np.array([2.0, 1.0, 1.0, 4.0]), requires_grad=True)
    y.min().backward()
    np.testing.assert_allclose(y.grad.data, [0, 0.5, 0.5, 0])
    y.grad = None
    y.min(axis=0, keepdim=True).backward(np.array([4.0]))
    np.testing.assert_allclose(y.grad.data, [0, 2.0, 2.0, 0])


@given(st.data())
def test_max_ties_property(data: st.DataObject) -> None:
    """On values with ties (a small integer grid), max's gradient is 1/k on each of the k maximal elements."""
    shape = data.draw(shapes(min_dims=1))
    x = data.draw(hnp.arrays(np.float64, shape, elements=st.integers(0, 2).map(float)))
    axis = data.draw(axes(len(shape)))
    for reduce, pick in (("max", np.max), ("min", np.min)):
        t = tl.Tensor(x, requires_grad=True)
        getattr(t, reduce)(axis, keepdim=True).sum().backward()
        chosen = x == pick(x, axis=axis, keepdims=True)
        expected = chosen / chosen.sum(axis=axis, keepdims=True)
        np.testing.assert_allclose(t.grad.data, expected)


def test_maximum_minimum_ties_split_half() -> None:
    x = tl.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = tl.Tensor(np.array([2.0, 2.0, 2.0]), requires_grad=True)
    x.maximum(y).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(y.grad.data, [1.0, 0.5, 0.0])
    x.grad = y.grad = None
    x.minimum(y).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 0.5, 0.0])
    np.testing.assert_array_equal(y.grad.data, [0.0, 0.5, 1.0])
    # broadcast: one y against three x, tied with one of them
    b = tl.Tensor(np.array(2.0), requires_grad=True)
    x.grad = None
    x.maximum(b).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.5, 1.0])
    assert b.grad.item() == 1.5
    # against a Python number
    x.grad = None
    x.maximum(2.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.5, 1.0])


def test_repeated_indices_accumulate() -> None:
    x = tl.Tensor(np.arange(4.0), requires_grad=True)
    x[[0, 2, 2, 2, -4]].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 0.0, 3.0, 0.0])
    m = tl.Tensor(np.zeros((2, 3)), requires_grad=True)
    idx = tl.Tensor(np.array([[1, 1], [0, 1]]))
    m[idx, np.array([2, 2])].backward(np.array([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_array_equal(m.grad.data, [[0, 0, 3.0], [0, 0, 7.0]])
    # second order through the accumulating backward
    x.grad = None
    (g,) = tl.grad((x[[1, 1, 3]] ** 2).sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.data, [0.0, 4.0, 0.0, 6.0])
    (h,) = tl.grad(g.sum(), x)
    np.testing.assert_array_equal(h.data, [0.0, 4.0, 0.0, 2.0])


def test_boolean_mask_and_tensor_index() -> None:
    x = tl.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    mask = x > 2.5
    y = x[mask]
    np.testing.assert_array_equal(y.data, [3.0, 4.0, 5.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0, 0, 0], [1, 1, 1]])


# --------------------------------------------------------------------------------------------------------------
# Numerical stability
# --------------------------------------------------------------------------------------------------------------

_STABLE = {
    "sigmoid": lambda x: x.sigmoid(),
    "softplus": lambda x: x.softplus(),
    "softmax": lambda x: x.softmax(-1),
    "log_softmax": lambda x: x.log_softmax(-1),
    "logsumexp": lambda x: x.logsumexp(-1),
}


@pytest.mark.parametrize("dtype", [tl.float32, tl.float64])
@pytest.mark.parametrize("name", sorted(_STABLE))
def test_stable_for_large_inputs(name: str, dtype: np.dtype) -> None:
    """Finite values and gradients, and no numpy warning, for inputs up to ±1e4. (Underflow to 0, e.g.
    exp(-2e4), is not a warning numpy emits by default and is not an error: it is the correct rounded value.)"""
    rows = np.array(
        [[-1e4, -1.0, 0.0, 1.0, 1e4], [1e4, 1e4, 9999.0, 1e4, 1e4], [-1e4] * 5, [-1e4, 1e4, -3e3, 3e3, 0.5]],
        dtype=dtype,
    )
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        x = tl.Tensor(rows, requires_grad=True)
        out = _STABLE[name](x)
        assert out.dtype == dtype
        assert np.all(np.isfinite(out.data))
        out.backward(np.ones(out.shape, dtype))
        assert x.grad.dtype == dtype
        assert np.all(np.isfinite(x.grad.data))
        (g,) = tl.grad(_STABLE[name](x).sum(), x, create_graph=True)
        (h,) = tl.grad((g * g).sum(), x)
        assert np.all(np.isfinite(h.data))


def test_stable_values() -> None:
    x = tl.Tensor(np.array([-1e4, 1e4]), requires_grad=True)
    np.testing.assert_array_equal(x.sigmoid().data, [0.0, 1.0])
    np.testing.assert_array_equal(x.softplus().data, [0.0, 1e4])
    np.testing.assert_allclose(x.log_softmax().data, [-2e4, 0.0])
    assert x.logsumexp(0).item() == 1e4
    np.testing.assert_array_equal(x.softmax().data, [0.0, 1.0])
    x.softplus().sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0])


# --------------------------------------------------------------------------------------------------------------
# Type promotion (PyTorch's rules)
# --------------------------------------------------------------------------------------------------------------


def test_python_numbers_never_change_a_float_dtype() -> None:
    for dtype in (tl.float32, tl.float64):
        x = tl.Tensor(np.array([1.0, 2.0], dtype), requires_grad=True)
        for out in (
            x * 2.5,
            2.5 * x,
            x + 1,
            1 - x,
            x / 3,
            3 / x,
            x**2,
            x**0.5,
            2.0**x,
            x.maximum(1.5),
            tl.where(np.array([True, False]), x, 0.0),
            x * np.float64(2.0),
        ):
            assert out.dtype == dtype
            (g,) = tl.grad(out.sum(), x)
            assert g.dtype == dtype


def test_int_tensor_promotion() -> None:
    i = tl.Tensor([1, 2, 3])
    assert i.dtype == tl.int64
    assert (i * 2.5).dtype == tl.float32
    assert (i * 2).dtype == tl.int64
    assert (i / 2).dtype == tl.float32  # true division of integers gives the default float
    assert (2 / i).dtype == tl.float32
    np.testing.assert_allclose((6 / i).data, [6.0, 3.0, 2.0])
    assert (2.5 / i).dtype == tl.float32
    assert (i / i).dtype == tl.float32
    f32 = tl.Tensor(np.array([1.0, 2.0, 3.0], np.float32), requires_grad=True)
    assert (i + f32).dtype == tl.float32
    assert (f32 + i).dtype == tl.float32
    (i * f32).sum().backward()
    assert f32.grad.dtype == tl.float32
    np.testing.assert_array_equal(f32.grad.data, [1, 2, 3])


def test_float32_with_float64() -> None:
    a = tl.Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    b = tl.Tensor(np.array([3.0, 4.0], np.float64), requires_grad=True)
    c = a * b
    assert c.dtype == tl.float64
    c.sum().backward()
    assert a.grad.dtype == tl.float32 and b.grad.dtype == tl.float64
    np.testing.assert_array_equal(a.grad.data, [3.0, 4.0])
    assert (b @ a).dtype == tl.float64
    assert tl.cat([a, b]).dtype == tl.float64
    assert tl.where(np.array([True, False]), a, b).dtype == tl.float64


def test_default_dtype_promotion() -> None:
    try:
        tl.set_default_dtype(tl.float64)
        assert (tl.Tensor([1, 2]) * 2.5).dtype == tl.float64
    finally:
        tl.set_default_dtype(tl.float32)
    assert (tl.Tensor([1, 2]) * 2.5).dtype == tl.float32
