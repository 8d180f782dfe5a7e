"""The Tensor: a numpy array that remembers how it was computed, so gradients can flow back through it.

Methods here check and normalise arguments, then apply a primitive from ``ops.py`` or compose several of them
(``mean`` is a sum divided by a count, ``var`` is built from ``mean``, ...). The engine in ``engine.py`` does the
recording and the backward pass.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from . import engine
from .errors import AxisError, ShapeError
from .ops import (
    Abs,
    Add,
    ArgReduce,
    Cast,
    Cat,
    Clip,
    Compare,
    Cos,
    Detach,
    Div,
    Exp,
    Expand,
    Gelu,
    GetItem,
    LeakyRelu,
    Log,
    LogSoftmax,
    LogSumExp,
    Matmul,
    Max,
    Maximum,
    Min,
    Minimum,
    Mul,
    Neg,
    Permute,
    Pow,
    Relu,
    Reshape,
    Sigmoid,
    Sin,
    Softmax,
    Softplus,
    Sqrt,
    Sub,
    Sum,
    Tanh,
    Where,
)

# --------------------------------------------------------------------------------------------------------------
# dtypes
# --------------------------------------------------------------------------------------------------------------

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int64 = np.dtype(np.int64)
bool_ = np.dtype(np.bool_)

_default_float = float32


def set_default_dtype(dtype: Any) -> None:
    """Set the dtype that Python floats (and float factories) become: ``tl.float32`` (default) or ``tl.float64``."""
    global _default_float
    dtype = np.dtype(dtype)
    if dtype not in (float32, float64):
        raise TypeError(f"set_default_dtype: only float32 and float64 are supported; got {dtype}")
    _default_float = dtype


def get_default_dtype() -> np.dtype:
    """The dtype Python floats and float factories become: ``tl.float32`` unless ``set_default_dtype`` changed
    it. A numpy dtype."""
    return _default_float


def _promote_dtypes(a: np.dtype, b: np.dtype) -> np.dtype:
    """PyTorch's promotion: a float beats any integer or bool as it is (int64 with float32 gives float32);
    otherwise the wider type wins (float32 with float64 gives float64)."""
    if a.kind == "f" and b.kind != "f":
        return a
    if b.kind == "f" and a.kind != "f":
        return b
    return np.promote_types(a, b)


def _to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """A fresh numpy array for ``Tensor(data)``: numpy inputs keep their dtype, Python floats become the default
    float dtype and Python ints int64."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, (np.ndarray, np.generic)):
        _check_numeric(data.dtype)  # before converting: numpy would turn "1.5" or 1+2j into a float
        array = np.array(data, dtype=dtype)
    else:
        try:
            array = np.array(data, dtype=dtype)
        except OverflowError:
            raise _overflow(np.dtype(dtype)) from None
        except ValueError as error:
            raise ValueError(f"Tensor: cannot make a tensor from {type(data).__name__}: {error}") from None
        if dtype is None:
            if array.dtype.kind in "uO" and _int_out_of_range(data):
                raise _overflow(int64)
            if array.dtype.kind == "f":
                array = array.astype(_default_float, copy=False)
            elif array.dtype.kind in "iu":
                array = array.astype(int64, copy=False)
    _check_numeric(array.dtype)
    return array


def _check_numeric(dtype: np.dtype) -> None:
    if dtype.kind not in "biuf":
        raise TypeError(f"Tensor: unsupported data of dtype {dtype} (real numbers and booleans only; "
                        "strings, complex numbers and Python objects are not converted)")


def _overflow(dtype: np.dtype) -> OverflowError:
    info = np.iinfo(dtype) if dtype.kind in "iu" else None
    bounds = f" ({info.min} to {info.max})" if info else ""
    return OverflowError(f"Tensor: an integer in the data does not fit in {dtype}{bounds}; PyTorch refuses it "
                         "too, rather than wrapping around")


def _int_out_of_range(data: Any) -> bool:
    """Whether Python ints in ``data`` overflow int64: numpy then makes uint64 (2**63) or object arrays."""
    try:
        np.array(data, dtype=int64)
    except OverflowError:
        return True
    except (TypeError, ValueError):
        pass
    return False


def _shape_arg(shape: tuple) -> tuple[int, ...]:
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(n) for n in shape)


def _axes(axis: Any, shape: tuple, op: str) -> tuple[int, ...]:
    """Normalise ``axis`` (None, an int or a tuple of ints, negatives allowed) to sorted non-negative axes."""
    ndim = len(shape)
    if axis is None:
        return tuple(range(ndim))
    items = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    if ndim == 0 and all(a in (0, -1) for a in items):
        return ()  # as in PyTorch, axis 0 / -1 of a 0-d tensor is the tensor itself
    axes = []
    for a in items:
        if not isinstance(a, (int, np.integer)) or not -ndim <= a < ndim:
            raise AxisError(f"{op}: axis {a!r} is out of range for a tensor of shape {shape}")
        axes.append(int(a) % ndim)
    if len(set(axes)) != len(axes):
        raise AxisError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(axes))


def _axis(axis: int, ndim: int, op: str, shape: tuple) -> int:
    """Normalise one axis of a tensor with ``ndim`` dimensions."""
    if not isinstance(axis, (int, np.integer)) or not -ndim <= axis < ndim:
        raise AxisError(f"{op}: axis {axis!r} is out of range for a tensor of shape {shape}")
    return int(axis) % ndim


def _normalize_index(index: Any, shape: tuple) -> tuple[tuple, bool]:
    """Turn an indexing expression into what numpy takes, and say whether it uses advanced indexing.
    Tensors and lists become arrays; a boolean mask becomes the integer arrays of its True positions, once its
    shape is checked against the axes it covers (np.nonzero alone would accept a mask of any shape)."""
    items = index if isinstance(index, tuple) else (index,)
    out: list[Any] = []
    advanced = False
    for position, item in enumerate(items):
        if isinstance(item, Tensor):
            item = item.data
        elif isinstance(item, list):
            item = np.asarray(item, dtype=None if item else np.int64)  # x[[]] selects nothing, as in numpy
        if isinstance(item, np.ndarray):
            advanced = True
            if item.dtype == np.bool_:
                if item.ndim == 0:
                    raise IndexError("getitem: a 0-d boolean index is not supported; use None to add an axis")
                _check_mask(item, _first_axis(items, position, len(shape)), shape)
                out.extend(np.nonzero(item))
                continue
            if item.dtype.kind not in "iu":
                raise IndexError(f"getitem: index arrays must hold integers or booleans; got dtype {item.dtype}")
        elif isinstance(item, (bool, np.bool_)):
            raise IndexError("getitem: a bare True/False index is not supported; use None to add an axis")
        out.append(item)
    return tuple(out), advanced


def _axes_taken(item: Any) -> int:
    """How many axes of the indexed tensor one index item consumes."""
    if item is None or item is Ellipsis:
        return 0
    if isinstance(item, (Tensor, np.ndarray)) and item.dtype == np.bool_:
        return item.ndim
    if isinstance(item, list) and item and np.asarray(item).dtype == np.bool_:
        return np.asarray(item).ndim
    return 1


def _first_axis(items: tuple, position: int, ndim: int) -> int:
    """The first axis of the indexed tensor that ``items[position]`` applies to (items after an Ellipsis
    count from the end)."""
    if any(item is Ellipsis for item in items[:position]):
        return ndim - sum(_axes_taken(item) for item in items[position:])
    return sum(_axes_taken(item) for item in items[:position])


def _check_mask(mask: np.ndarray, first: int, shape: tuple) -> None:
    covered = shape[first : first + mask.ndim]
    if first < 0 or mask.shape != covered:
        raise IndexError(f"getitem: a boolean mask of shape {mask.shape} does not match the shape {covered} "
                         f"of the axes it indexes in a tensor of shape {shape}")


_ALIASES = {"dim": "axis", "keepdims": "keepdim"}  # PyTorch's dim and numpy's keepdims, for our names


def _pytorch_names(function: Callable) -> Callable:
    """Accept ``dim=`` for ``axis=`` and ``keepdims=`` for ``keepdim=``. Only calls that pass keywords pay
    for the renaming."""

    @functools.wraps(function)
    def accepting_aliases(*args: Any, **kwargs: Any) -> Any:
        for alias in _ALIASES.keys() & kwargs.keys():
            name = _ALIASES[alias]
            if name in kwargs:
                raise TypeError(f"{function.__name__}: got both {name}= and its alias {alias}=")
            kwargs[name] = kwargs.pop(alias)
        return function(*args, **kwargs)

    return accepting_aliases


# --------------------------------------------------------------------------------------------------------------
# Tensor
# --------------------------------------------------------------------------------------------------------------

Scalar = int | float | bool


class Tensor:
    """A numpy array plus what reverse-mode autodiff needs: ``requires_grad``, ``grad`` and the node
    (``grad_fn``) of the operation that produced it."""

    __slots__ = ("data", "grad", "requires_grad", "_node", "_retains_grad", "__weakref__")

    # ---- numpy interop: operators work, numpy functions are refused with what to write instead --------------

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """``ndarray + Tensor`` arrives here as ``np.add(ndarray, Tensor)``: it runs the Tensor operator, so the
        result stays in the graph. Every other ufunc of a Tensor (``np.exp(t)``, ``a -= t``) is refused: numpy
        would compute on the bare array and silently leave the graph."""
        names = _OPERATOR_UFUNCS.get(ufunc)
        if names is not None and method == "__call__" and not kwargs and len(inputs) == 2:
            a, b = inputs
            return getattr(a, names[0])(b) if isinstance(a, Tensor) else getattr(b, names[1])(a)
        if "out" in kwargs:
            raise TypeError(f"np.{ufunc.__name__}: numpy cannot write a Tensor's result into an array; compute "
                            "on the arrays (w.data -= lr * w.grad.data) or with Tensor operators")
        raise TypeError(_numpy_refusal(f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")))

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        """``np.sum(t)``, ``np.concatenate([t])``, ...: refused, as numpy functions would leave the graph."""
        raise TypeError(_numpy_refusal(f"np.{func.__name__}"))

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data: np.ndarray = _to_array(data, dtype)
        self.grad: Tensor | None = None
        self.requires_grad = False
        self._node: engine.Function | None = None
        self._retains_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _make(data: np.ndarray, requires_grad: bool = False) -> Tensor:
        """Wrap an array without copying or checking: the fast path every operation's result takes."""
        t = object.__new__(Tensor)
        t.data = data
        t.grad = None
        t.requires_grad = requires_grad
        t._node = None
        t._retains_grad = False
        return t

    # ---- properties -----------------------------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        """The length of each axis, a plain tuple (PyTorch's ``torch.Size`` is a subclass of tuple)."""
        return self.data.shape

    @property
    def ndim(self) -> int:
        """The number of axes, as numpy's ``ndim`` and PyTorch's ``dim()``."""
        return self.data.ndim

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        """PyTorch's ``size()``: the shape, or the length of axis ``dim`` (not numpy's ``size``, the element
        count, which is :meth:`numel`)."""
        return self.data.shape if dim is None else self.data.shape[_axis(dim, self.ndim, "size", self.shape)]

    def dim(self) -> int:
        """PyTorch's name for :attr:`ndim`."""
        return self.data.ndim

    @property
    def _version(self) -> int:
        """How many in-place changes the tensor's memory has seen: shared with its views, as in PyTorch."""
        return engine.version_of(self.data)

    @property
    def dtype(self) -> np.dtype:
        """The element type, a numpy dtype (``tl.float32`` is ``np.dtype('float32')``), not a ``torch.dtype``."""
        return self.data.dtype

    @property
    def grad_fn(self) -> engine.Function | None:
        """The node of the operation that made this tensor; ``None`` for leaves."""
        return self._node

    @property
    def is_leaf(self) -> bool:
        """True for tensors created by the user rather than by a recorded operation."""
        return self._node is None

    @property
    def T(self) -> Tensor:  # noqa: N802 - the name users know
        """The tensor with its axes reversed (the matrix transpose for 2-D)."""
        return self.permute(*reversed(range(self.ndim)))

    # ---- conversions ----------------------------------------------------------------------------------------

    def numpy(self) -> np.ndarray:
        """The tensor's own array, not a copy, as in PyTorch; unlike PyTorch also for a tensor that requires grad.
        A value read: the engine reports it (``engine.read_value``), and a compiled step refuses it."""
        engine.read_value("numpy()")
        return self.data

    def item(self) -> Scalar:
        """The one element as a Python number; more elements are a ``ShapeError`` (a ``RuntimeError`` too, as in
        PyTorch). A value read: the engine reports it (``engine.read_value``), and a compiled step refuses it."""
        engine.read_value("item()")
        if self.data.size != 1:
            raise ShapeError(f"item: only a tensor with one element can be converted; got shape {self.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        """The values as nested Python lists (a plain number for a 0-d tensor). A value read: the engine reports
        it (``engine.read_value``), and a compiled step refuses it."""
        engine.read_value("tolist()")
        return self.data.tolist()

    def numel(self) -> int:
        """The number of elements: numpy's ``size`` (here ``size()`` is PyTorch's, the shape)."""
        return int(self.data.size)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        return (self[i] for i in range(len(self)))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        engine.read_value("np.asarray()")
        return self.data if dtype is None else self.data.astype(dtype)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        engine.read_value("bool()")
        if self.data.size != 1:
            raise ShapeError(f"bool: the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.data)

    __hash__ = object.__hash__  # tensors are identified by identity (== builds an elementwise comparison)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(", precision=4)
        extras = [f"dtype={self.dtype}"]
        if self._node is not None:
            extras.append(f"grad_fn={self._node!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"Tensor({body}, {', '.join(extras)})"

    def astype(self, dtype: Any) -> Tensor:
        """This tensor in another dtype (differentiable between float dtypes); itself if already that dtype.
        Converting to an integer or bool dtype ends the graph, as in PyTorch: such tensors carry no gradient."""
        dtype = np.dtype(dtype)
        if dtype == self.data.dtype:
            return self
        return Cast.apply(self, dtype) if dtype.kind == "f" else Tensor._make(self.data.astype(dtype))

    def to(self, dtype: Any) -> Tensor:
        """PyTorch's spelling of :meth:`astype` (dtypes only: there is one device)."""
        return self.astype(dtype)

    def float(self) -> Tensor:
        """This tensor as float32, whatever the default dtype, as PyTorch's ``float()``: a Tensor, not a Python
        ``float`` (that is ``item()``); itself if already float32."""
        return self.astype(float32)

    def double(self) -> Tensor:
        """This tensor as float64, as PyTorch's ``double()``; itself if already float64."""
        return self.astype(float64)

    # ---- autograd -------------------------------------------------------------------------------------------

    def backward(self, gradient: Any = None, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Compute the gradient of this tensor with respect to every leaf that requires one, adding it to the
        leaves' ``.grad``. A non-scalar tensor needs ``gradient`` (the vector of a vector-Jacobian product)."""
        engine.backward(self, gradient, retain_graph, create_graph)

    def detach(self) -> Tensor:
        """The same data, cut off from the graph (shares memory, requires no gradient)."""
        return Detach.apply(self)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        """Set ``requires_grad`` in place and return the tensor, as in PyTorch. Only floating-point tensors can
        require grad (else a ``TypeError``); a non-leaf cannot be switched off (use ``detach()``)."""
        if flag and self.data.dtype.kind != "f":
            raise TypeError(f"requires_grad=True needs a floating-point tensor; got dtype {self.data.dtype}")
        if not flag and self._node is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor: use detach() instead")
        self.requires_grad = flag
        return self

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward (leaves always keep theirs)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: the tensor does not require grad")
        self._retains_grad = True

    # ---- in place, PyTorch's way ----------------------------------------------------------------------------
    # The array is changed where it is (views and other references see it) and the version goes up, so a graph
    # that saved this array for backward refuses to run with the new values. A leaf that requires grad is
    # changed only inside no_grad (the manual update ``w -= lr * w.grad`` keeps w a leaf); a tensor of the
    # recorded graph is not changed in place: ``y += x`` gives the name y the recorded result of ``y + x``.

    def _change_in_place(self, name: str, values: Callable[[np.ndarray], Any], *operands: Any) -> Tensor:
        recording = engine.is_grad_enabled()
        if recording and any(isinstance(v, Tensor) and v.requires_grad for v in operands):
            raise RuntimeError(
                f"{name}: the value requires grad, and writing it into this tensor in place would drop it from the "
                "graph; write y = y + x (or build the result with tl.cat / tl.where) instead"
            )
        if self.requires_grad and recording:
            if self._node is None:
                raise RuntimeError(
                    f"{name}: a leaf tensor that requires grad cannot be changed in place while gradients are "
                    "recorded; change it inside tl.no_grad() (as optimizers do), or work on a copy"
                )
            raise RuntimeError(f"{name}: the tensor is part of the recorded graph (it has a grad_fn); changing it "
                               "in place is not supported: write y = y + x (or the operation you meant) instead")
        engine.change_in_place(name)
        new = values(self.data)
        try:
            np.copyto(self.data, new, casting="same_kind")
        except ValueError:
            raise ShapeError(f"{name}: a result of shape {np.shape(new)} cannot be written into a tensor of shape "
                             f"{self.shape}") from None
        except TypeError:
            raise TypeError(f"{name}: a result of dtype {np.result_type(new)} cannot be written into a tensor of "
                            f"dtype {self.data.dtype}") from None
        engine.mark_modified(self)
        return self

    def _in_place_operator(self, name: str, ufunc: np.ufunc, other: Any) -> Tensor:
        records = (self._node is not None and self.requires_grad) or (isinstance(other, Tensor) and other.requires_grad)
        if records and engine.is_grad_enabled():
            return NotImplemented  # part of the graph: Python computes self + other and rebinds the name
        return self._change_in_place(name, lambda data: ufunc(data, _raw(other)), other)

    def __iadd__(self, other: Any) -> Tensor:
        return self._in_place_operator("+=", np.add, other)

    def __isub__(self, other: Any) -> Tensor:
        return self._in_place_operator("-=", np.subtract, other)

    def __imul__(self, other: Any) -> Tensor:
        return self._in_place_operator("*=", np.multiply, other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._in_place_operator("/=", np.true_divide, other)

    def add_(self, other: Any) -> Tensor:
        """Add ``other`` into this tensor in place and return it (PyTorch's ``add_``, without ``alpha``). As in
        PyTorch a leaf that requires grad is changed only inside ``tl.no_grad()``; unlike PyTorch, so is a tensor
        of the recorded graph. A compiled step refuses in-place changes (``engine.change_in_place``)."""
        return self._change_in_place("add_", lambda data: data + _raw(other), other)

    def sub_(self, other: Any) -> Tensor:
        """Subtract ``other`` from this tensor in place and return it (no ``alpha``); the same rules as ``add_``
        (a tensor that requires grad only inside ``tl.no_grad()``)."""
        return self._change_in_place("sub_", lambda data: data - _raw(other), other)

    def mul_(self, other: Any) -> Tensor:
        """Multiply this tensor by ``other`` in place and return it; the same rules as ``add_`` (a tensor that
        requires grad only inside ``tl.no_grad()``)."""
        return self._change_in_place("mul_", lambda data: data * _raw(other), other)

    def div_(self, other: Any) -> Tensor:
        """Divide this tensor by ``other`` in place and return it (an integer tensor cannot hold the quotient: a
        ``TypeError``); the same rules as ``add_`` (a tensor that requires grad only inside ``tl.no_grad()``)."""
        return self._change_in_place("div_", lambda data: data / _raw(other), other)

    def zero_(self) -> Tensor:
        """Set every element to 0 in place and return the tensor; the same rules as ``add_`` (a tensor that
        requires grad only inside ``tl.no_grad()``)."""
        return self._change_in_place("zero_", lambda data: 0)

    def fill_(self, value: Any) -> Tensor:
        """Set every element to ``value`` in place and return the tensor; a float into an integer tensor is a
        ``TypeError`` (PyTorch truncates). The same rules as ``add_`` (requires grad: only inside ``tl.no_grad()``)."""
        return self._change_in_place("fill_", lambda data: _raw(value), value)

    def copy_(self, source: Any) -> Tensor:
        """Write ``source``'s values (broadcast to this shape) into this tensor and return it; floats into an integer
        tensor are a ``TypeError`` (PyTorch casts). The same rules as ``add_`` (requires grad: only in ``no_grad``)."""
        return self._change_in_place("copy_", lambda data: _raw(source), source)

    def clamp_(self, min: Scalar | None = None, max: Scalar | None = None) -> Tensor:  # noqa: A002 - API names
        """Limit values to [min, max] in place and return the tensor (at least one bound); the same rules as
        ``add_`` (a tensor that requires grad only inside ``tl.no_grad()``)."""
        if min is None and max is None:
            raise ValueError("clamp_: at least one of min and max must be given")
        return self._change_in_place("clamp_", lambda data: np.clip(data, _raw(min), _raw(max)), min, max)

    def __setitem__(self, index: Any, value: Any) -> None:
        def assigned(data: np.ndarray) -> np.ndarray:
            changed = data.copy()
            changed[_raw(index)] = _raw(value)
            return changed

        self._change_in_place("__setitem__", assigned, value)

    # ---- arithmetic -----------------------------------------------------------------------------------------

    def __add__(self, other: Any) -> Tensor:
        """``self + other``, also ``add`` (no ``alpha``), promoting as PyTorch does: a Python number never changes
        the tensor's dtype, except a float with an integer tensor (the default float dtype)."""
        return Add.apply(*_promote_operands(self, other))

    def __radd__(self, other: Any) -> Tensor:
        x, y = _promote_operands(self, other)
        return Add.apply(y, x)

    def __sub__(self, other: Any) -> Tensor:
        """``self - other``, also ``sub`` (no ``alpha``), promoting as ``+`` does."""
        return Sub.apply(*_promote_operands(self, other))

    def __rsub__(self, other: Any) -> Tensor:
        x, y = _promote_operands(self, other)
        return Sub.apply(y, x)

    def __mul__(self, other: Any) -> Tensor:
        """``self * other``, also ``mul``, promoting as ``+`` does."""
        return Mul.apply(*_promote_operands(self, other))

    def __rmul__(self, other: Any) -> Tensor:
        x, y = _promote_operands(self, other)
        return Mul.apply(y, x)

    def __truediv__(self, other: Any) -> Tensor:
        """``self / other``, also ``div``: true division, so integers give the default float dtype, as in PyTorch
        (no ``rounding_mode``; ``//`` is not defined for Tensors)."""
        x, y = _promote_operands(self, other)
        return Div.apply(*_true_division(x, y))

    def __rtruediv__(self, other: Any) -> Tensor:
        x, y = _promote_operands(self, other)
        return Div.apply(*_true_division(y, x))

    def __pow__(self, other: Any) -> Tensor:
        """``self ** other``, also ``pow``; where the gradient formula would give 0 times infinity it is 0, as in
        PyTorch."""
        return Pow.apply(*_promote_operands(self, other))

    def __rpow__(self, other: Any) -> Tensor:
        x, y = _promote_operands(self, other)
        return Pow.apply(y if isinstance(y, Tensor) else Tensor._make(np.asarray(y, x.data.dtype)), x)

    def __matmul__(self, other: Any) -> Tensor:
        return self.matmul(other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _as_tensor(other).matmul(self)

    def __neg__(self) -> Tensor:
        """``-self``, also ``neg``."""
        return Neg.apply(self)

    def __abs__(self) -> Tensor:
        return Abs.apply(self)

    add, sub, mul, div, pow, neg = __add__, __sub__, __mul__, __truediv__, __pow__, __neg__

    # ---- comparisons (no gradient) --------------------------------------------------------------------------

    def __lt__(self, other: Any) -> Tensor:
        return _compare(np.less, self, other)

    def __le__(self, other: Any) -> Tensor:
        return _compare(np.less_equal, self, other)

    def __gt__(self, other: Any) -> Tensor:
        return _compare(np.greater, self, other)

    def __ge__(self, other: Any) -> Tensor:
        return _compare(np.greater_equal, self, other)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _compare(np.equal, self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _compare(np.not_equal, self, other)

    # ---- elementwise functions ------------------------------------------------------------------------------

    def exp(self) -> Tensor:
        """Elementwise e to the x. Integer and bool tensors give the default float dtype, as in PyTorch (numpy:
        float16 or float64); so do ``log``, ``sqrt``, ``sin``, ``tanh``, ``sigmoid``, ``softmax`` and the like."""
        return Exp.apply(_floating(self))

    def log(self) -> Tensor:
        """Elementwise natural logarithm: ``-inf`` at 0, ``nan`` below. Integers give the default float dtype."""
        return Log.apply(_floating(self))

    def sqrt(self) -> Tensor:
        """Elementwise square root: ``nan`` below 0. Integers give the default float dtype."""
        return Sqrt.apply(_floating(self))

    def abs(self) -> Tensor:
        """Elementwise absolute value, in the same dtype; its gradient at 0 is 0, as in PyTorch."""
        return Abs.apply(self)

    def square(self) -> Tensor:
        """Elementwise ``x * x``, in the same dtype (recorded as one ``Mul`` of the tensor with itself)."""
        return Mul.apply(self, self)

    def sin(self) -> Tensor:
        """Elementwise sine (radians). Integers give the default float dtype."""
        return Sin.apply(_floating(self))

    def cos(self) -> Tensor:
        """Elementwise cosine (radians). Integers give the default float dtype."""
        return Cos.apply(_floating(self))

    def tanh(self) -> Tensor:
        """Elementwise hyperbolic tangent. Integers give the default float dtype."""
        return Tanh.apply(_floating(self))

    def sigmoid(self) -> Tensor:
        """Elementwise logistic function 1 / (1 + exp(-x)), computed as 0.5 + 0.5 * tanh(x / 2) so it never
        overflows."""
        return Sigmoid.apply(_floating(self))

    def relu(self) -> Tensor:
        """Elementwise ``max(x, 0)``, in the same dtype; its gradient at 0 is 0, as in PyTorch (``maximum(0)``
        would give 0.5 there)."""
        return Relu.apply(self)

    def softplus(self) -> Tensor:
        """Elementwise log(1 + exp(x)) computed without overflow: PyTorch's ``F.softplus`` with ``beta=1``; it
        takes neither ``beta`` nor ``threshold``."""
        return Softplus.apply(_floating(self))

    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        """Elementwise ``x`` where ``x > 0``, else ``negative_slope * x``, as PyTorch's ``F.leaky_relu``."""
        return LeakyRelu.apply(_floating(self), negative_slope)

    def gelu(self) -> Tensor:
        """GELU, tanh approximation (PyTorch's ``gelu(approximate='tanh')``)."""
        return Gelu.apply(_floating(self))

    def clip(self, min: Scalar | None = None, max: Scalar | None = None) -> Tensor:  # noqa: A002 - API names
        """Limit values to [min, max]; the gradient passes where min ≤ x ≤ max. Bounds are numbers."""
        if min is None and max is None:
            raise ValueError("clip: at least one of min and max must be given")
        return Clip.apply(self, min, max)

    clamp = clip  # PyTorch's name

    def maximum(self, other: Any) -> Tensor:
        """Elementwise larger of this tensor and ``other`` (a tensor, array or number), promoting as ``+`` does;
        where the two are equal each gets half the gradient."""
        return Maximum.apply(*_promote_operands(self, other))

    def minimum(self, other: Any) -> Tensor:
        """Elementwise smaller of this tensor and ``other`` (a tensor, array or number), promoting as ``+`` does;
        where the two are equal each gets half the gradient."""
        return Minimum.apply(*_promote_operands(self, other))

    # ---- reductions -----------------------------------------------------------------------------------------

    @_pytorch_names
    def sum(self, axis: Any = None, keepdim: bool = False) -> Tensor:
        """Sum over ``axis`` (None: all axes; an int or a tuple), keeping them as size 1 with ``keepdim``; PyTorch's
        ``dim=`` and numpy's ``keepdims=`` work too. Bool and integer tensors sum to int64, as in PyTorch."""
        return Sum.apply(self, _axes(axis, self.shape, "sum"), keepdim)

    @_pytorch_names
    def mean(self, axis: Any = None, keepdim: bool = False) -> Tensor:
        """Mean over ``axis``, as ``sum`` takes it. An integer tensor gives the default float dtype, where PyTorch
        refuses to average integers; a mean of no elements is ``nan``, as in PyTorch."""
        axes = _axes(axis, self.shape, "mean")
        count = _reduced_count(self.shape, axes)
        return self.sum(axes, keepdim) / count if count else self.sum(axes, keepdim) * math.nan  # as in PyTorch

    @_pytorch_names
    def var(self, axis: Any = None, keepdim: bool = False, correction: int = 1) -> Tensor:
        """Σ(x - mean)² / (N - correction): correction=1 is the unbiased sample variance, 0 the population's."""
        axes = _axes(axis, self.shape, "var")
        centred = self - self.mean(axes, keepdim=True)
        return (centred * centred).sum(axes, keepdim) / max(_reduced_count(self.shape, axes) - correction, 0)

    @_pytorch_names
    def std(self, axis: Any = None, keepdim: bool = False, correction: int = 1) -> Tensor:
        """Standard deviation over ``axis``, the square root of ``var``: with Bessel's ``correction=1`` by default,
        as PyTorch's ``std`` (numpy's default is ``ddof=0``); ``correction=0`` gives the population's."""
        return self.var(axis, keepdim, correction).sqrt()

    @_pytorch_names
    def max(self, axis: Any = None, keepdim: bool = False) -> Tensor:
        """Largest value over ``axis``; the gradient is shared equally among tied maxima."""
        return Max.apply(self, _nonempty_axes(self, axis, "max"), keepdim)

    @_pytorch_names
    def min(self, axis: Any = None, keepdim: bool = False) -> Tensor:
        """Smallest value over ``axis``; the gradient is shared equally among tied minima."""
        return Min.apply(self, _nonempty_axes(self, axis, "min"), keepdim)

    @_pytorch_names
    def logsumexp(self, axis: Any, keepdim: bool = False) -> Tensor:
        """log Σ exp(x) over ``axis``, computed without overflow."""
        return LogSumExp.apply(_floating(self), _nonempty_axes(self, axis, "logsumexp"), keepdim)

    @_pytorch_names
    def argmax(self, axis: int | None = None, keepdim: bool = False) -> Tensor:
        """Index of the largest value (of the flattened tensor when ``axis`` is None). No gradient."""
        _nonempty_axes(self, axis, "argmax")  # numpy's message would name ArgReduce
        axis = None if axis is None else _axis(axis, self.ndim, "argmax", self.shape)
        return ArgReduce.apply(self, np.argmax, axis, keepdim)

    @_pytorch_names
    def argmin(self, axis: int | None = None, keepdim: bool = False) -> Tensor:
        """Index of the smallest value (of the flattened tensor when ``axis`` is None). No gradient."""
        _nonempty_axes(self, axis, "argmin")  # numpy's message would name ArgReduce
        axis = None if axis is None else _axis(axis, self.ndim, "argmin", self.shape)
        return ArgReduce.apply(self, np.argmin, axis, keepdim)

    @_pytorch_names
    def softmax(self, axis: int = -1) -> Tensor:
        """Softmax along ``axis``, computed without overflow. ``axis`` defaults to the last, where PyTorch wants
        ``dim`` given."""
        if self.ndim == 0:  # as in PyTorch, axis 0 / -1 of a 0-d tensor is the tensor itself
            return self.reshape(1).softmax(_axis(axis, 1, "softmax", self.shape)).reshape(())
        return Softmax.apply(_floating(self), _axis(axis, self.ndim, "softmax", self.shape))

    @_pytorch_names
    def log_softmax(self, axis: int = -1) -> Tensor:
        """log(softmax) along ``axis`` (default the last, where PyTorch wants ``dim`` given), computed in one step
        without overflow or log(0)."""
        if self.ndim == 0:
            return self.reshape(1).log_softmax(_axis(axis, 1, "log_softmax", self.shape)).reshape(())
        return LogSoftmax.apply(_floating(self), _axis(axis, self.ndim, "log_softmax", self.shape))

    # ---- matrix products ------------------------------------------------------------------------------------

    def matmul(self, other: Any) -> Tensor:
        """Matrix product with numpy's rules: 1-D operands are treated as a row (left) or a column (right)
        vector and that axis is dropped from the result; batch axes broadcast."""
        x, y = _promote_operands(self, _as_tensor(other))
        if x.ndim == 0 or y.ndim == 0:
            raise ShapeError(f"matmul: both operands need at least one dimension; got shapes {x.shape} and {y.shape}")
        k_x, k_y = x.shape[-1], y.shape[-2 if y.ndim > 1 else 0]
        if k_x != k_y:
            raise ShapeError(f"matmul: shapes {x.shape} and {y.shape} are not aligned ({k_x} != {k_y})")
        if x.ndim >= 2 and y.ndim >= 2:
            return Matmul.apply(x, y)
        z = Matmul.apply(x.unsqueeze(0) if x.ndim == 1 else x, y.unsqueeze(-1) if y.ndim == 1 else y)
        if x.ndim == 1:
            z = z.squeeze(-2)
        if y.ndim == 1:
            z = z.squeeze(-1)
        return z

    def dot(self, other: Any) -> Tensor:
        """Inner product of two 1-D tensors."""
        other = _as_tensor(other)
        if self.ndim != 1 or other.ndim != 1:
            raise ShapeError(f"dot: needs two 1-D tensors; got shapes {self.shape} and {other.shape}")
        return self.matmul(other)

    # ---- shapes ---------------------------------------------------------------------------------------------

    def reshape(self, *shape: Any) -> Tensor:
        """The same elements in a new shape (ints or a tuple; one -1 is inferred)."""
        return Reshape.apply(self, _shape_arg(shape))

    view = reshape  # PyTorch's name (every tensor here is contiguous, so view and reshape agree)

    def t(self) -> Tensor:
        """The transpose of a tensor with at most 2 dimensions, as PyTorch's ``t()``."""
        if self.ndim > 2:
            raise ShapeError(f"t: expects a tensor with at most 2 dimensions; got shape {self.shape} "
                             "(use transpose(dim0, dim1) or permute)")
        return self.T

    def permute(self, *dims: Any) -> Tensor:
        """The axes in the order ``dims`` (ints, or one tuple), as PyTorch's ``permute``; numpy's name for it is
        ``transpose(axes)``."""
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        axes = tuple(_axis(d, self.ndim, "permute", self.shape) for d in dims)  # no wrapping of 3 to 1
        if sorted(axes) != list(range(self.ndim)):
            raise AxisError(f"permute: {dims} is not a permutation of the axes of a tensor of shape {self.shape}")
        return Permute.apply(self, axes)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        """Axes ``dim0`` and ``dim1`` swapped, as PyTorch's ``transpose``; not numpy's ``transpose``, which
        reorders all axes (that is ``permute``, or ``T``)."""
        dims = list(range(self.ndim))
        a, b = _axis(dim0, self.ndim, "transpose", self.shape), _axis(dim1, self.ndim, "transpose", self.shape)
        dims[a], dims[b] = dims[b], dims[a]
        return Permute.apply(self, tuple(dims))

    def expand(self, *shape: Any) -> Tensor:
        """Broadcast to a larger shape without copying; -1 keeps an axis's size. The gradient is summed back."""
        shape = _shape_arg(shape)
        lead = len(shape) - self.ndim
        if lead < 0:
            raise ShapeError(f"expand: cannot expand a tensor of shape {self.shape} to fewer dimensions {shape}")
        shape = tuple(self.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(shape))
        for axis, (n, m) in enumerate(zip(self.shape, shape[lead:])):
            if n != m and n != 1:
                raise ShapeError(f"expand: cannot expand a tensor of shape {self.shape} to {shape}: axis {axis} has "
                                 f"size {n}, and only an axis of size 1 can grow")
        return Expand.apply(self, shape)

    @_pytorch_names
    def squeeze(self, axis: Any = None) -> Tensor:
        """Drop axes of size 1 (all of them, or those in ``axis`` that have size 1, as in PyTorch)."""
        axes = _axes(axis, self.shape, "squeeze")
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if not (i in axes and n == 1)))

    @_pytorch_names
    def unsqueeze(self, axis: int) -> Tensor:
        """Insert an axis of size 1 at position ``axis`` (-1 appends)."""
        axis = _axis(axis, self.ndim + 1, "unsqueeze", self.shape)
        return self.reshape(self.shape[:axis] + (1,) + self.shape[axis:])

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge the axes ``start_dim..end_dim`` (inclusive) into one."""
        if self.ndim == 0:
            return self.reshape(1)
        start = _axis(start_dim, self.ndim, "flatten", self.shape)
        end = _axis(end_dim, self.ndim, "flatten", self.shape)
        if start > end:
            raise AxisError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        merged = math.prod(self.shape[start : end + 1])
        return self.reshape(self.shape[:start] + (merged,) + self.shape[end + 1 :])

    def __getitem__(self, index: Any) -> Tensor:
        """numpy indexing: ints, slices, None, Ellipsis, integer arrays, lists or tensors, boolean masks.
        Where an index repeats, the gradients of the repeated elements add up."""
        index, advanced = _normalize_index(index, self.data.shape)
        return GetItem.apply(self, index, advanced)

    # ---- factories ------------------------------------------------------------------------------------------

    @classmethod
    def zeros(cls, *shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """A new leaf of zeros of ``shape`` (ints, or one tuple), in the default float dtype unless ``dtype`` is
        given; also ``tl.zeros``."""
        return _new_leaf(np.zeros(_shape_arg(shape), dtype=dtype or _default_float), requires_grad)

    @classmethod
    def ones(cls, *shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """A new leaf of ones of ``shape`` (ints, or one tuple), in the default float dtype unless ``dtype`` is
        given; also ``tl.ones``."""
        return _new_leaf(np.ones(_shape_arg(shape), dtype=dtype or _default_float), requires_grad)

    @classmethod
    def full(cls, shape: Any, value: Scalar, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """A new leaf of ``shape`` (an int or a tuple) filled with ``value``, whose dtype follows ``Tensor(value)``
        (a float: the default float dtype; an int: int64) unless ``dtype`` is given; also ``tl.full``."""
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        return _new_leaf(np.full(shape, value, dtype=dtype or _to_array(value).dtype), requires_grad)

    @classmethod
    def rand(cls, *shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """Uniform on [0, 1)."""
        return _new_leaf(_rng.random(_shape_arg(shape)).astype(dtype or _default_float), requires_grad)

    @classmethod
    def randn(cls, *shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """Standard normal."""
        return _new_leaf(_rng.standard_normal(_shape_arg(shape)).astype(dtype or _default_float), requires_grad)

    @classmethod
    def uniform(cls, *shape: Any, low: float = -1.0, high: float = 1.0, dtype: Any = None,
                requires_grad: bool = False) -> Tensor:
        """Uniform on [low, high)."""
        data = _rng.uniform(low, high, _shape_arg(shape)).astype(dtype or _default_float)
        return _new_leaf(data, requires_grad)

    @classmethod
    def eye(cls, n: int, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """The ``n`` by ``n`` identity matrix as a new leaf, in the default float dtype unless ``dtype`` is given;
        square only (no ``m``, unlike PyTorch). Also ``tl.eye``."""
        return _new_leaf(np.eye(n, dtype=dtype or _default_float), requires_grad)

    @classmethod
    def arange(cls, start: Scalar, stop: Scalar | None = None, step: Scalar = 1, dtype: Any = None,
               requires_grad: bool = False) -> Tensor:
        """Evenly spaced values in [start, stop); integers unless an argument or ``dtype`` is a float."""
        if stop is None:
            start, stop = 0, start
        if dtype is None:
            integral = all(isinstance(v, (int, np.integer)) for v in (start, stop, step))
            dtype = int64 if integral else _default_float
        return _new_leaf(np.arange(start, stop, step).astype(dtype), requires_grad)

    @classmethod
    def zeros_like(cls, t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """A new leaf of zeros with the shape and dtype of ``t`` (or ``dtype``), not requiring grad unless asked;
        also ``tl.zeros_like``."""
        return _new_leaf(np.zeros(t.shape, dtype=dtype or t.dtype), requires_grad)

    @classmethod
    def ones_like(cls, t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        """A new leaf of ones with the shape and dtype of ``t`` (or ``dtype``), not requiring grad unless asked;
        also ``tl.ones_like``."""
        return _new_leaf(np.ones(t.shape, dtype=dtype or t.dtype), requires_grad)


# --------------------------------------------------------------------------------------------------------------
# Helpers for the methods above
# --------------------------------------------------------------------------------------------------------------


def _promote_operands(x: Tensor, other: Any) -> tuple[Tensor, Any]:
    """The two operands of a binary operation, promoted as PyTorch does. A Python number stays a number and
    never changes the tensor's dtype (float32 · 2.5 is float32), except that a float turns an integer tensor
    into the default float dtype. Arrays and lists become constant tensors."""
    if isinstance(other, Tensor):
        if other.data.dtype != x.data.dtype:
            dtype = _promote_dtypes(x.data.dtype, other.data.dtype)
            return x.astype(dtype), other.astype(dtype)
        return x, other
    if isinstance(other, np.generic):
        other = other.item()  # numpy scalars count as Python numbers, as in PyTorch
    if isinstance(other, (int, float)):
        kind = x.data.dtype.kind
        if kind != "f" and isinstance(other, float):
            x = x.astype(_default_float)
        elif kind == "b" and type(other) is int:  # bool tensor, int number: int64 as in PyTorch (numpy: int8)
            x = x.astype(int64)
        return x, other
    return _promote_operands(x, _as_tensor(other))


def _as_tensor(value: Any) -> Tensor:
    """``value`` as a Tensor: tensors as they are, numeric numpy arrays wrapped without copying (so they keep
    their dtype), anything else through ``Tensor()``'s rules, which reject data that is not numbers."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return Tensor._make(value)
    return Tensor(value)


def _true_division(x: Any, y: Any) -> tuple[Any, Any]:
    """Dividing integers gives the default float dtype, as in PyTorch. One operand may be a Python number
    (``2 / t`` divides a number by a tensor)."""
    if all(not isinstance(v, Tensor) or v.data.dtype.kind != "f" for v in (x, y)):
        x, y = (v.astype(_default_float) if isinstance(v, Tensor) else v for v in (x, y))
    return x, y


# The ufuncs numpy calls for ``ndarray <op> Tensor``: the Tensor method, and the reflected one for a Tensor on
# the right
_OPERATOR_UFUNCS = {
    np.add: ("__add__", "__radd__"), np.subtract: ("__sub__", "__rsub__"),
    np.multiply: ("__mul__", "__rmul__"), np.true_divide: ("__truediv__", "__rtruediv__"),
    np.power: ("__pow__", "__rpow__"), np.matmul: ("__matmul__", "__rmatmul__"),
    np.less: ("__lt__", "__gt__"), np.less_equal: ("__le__", "__ge__"), np.greater: ("__gt__", "__lt__"),
    np.greater_equal: ("__ge__", "__le__"), np.equal: ("__eq__", "__eq__"), np.not_equal: ("__ne__", "__ne__"),
}


def _numpy_refusal(function: str) -> str:
    """What to write instead of a numpy function of a Tensor: the Tensor's own operation, or the array."""
    name = function.removeprefix("np.")
    ours = {"concatenate": "tl.cat", "stack": "tl.stack", "where": "tl.where", "clip": "t.clip"}.get(name)
    ours = ours or (f"t.{name}" if hasattr(Tensor, name) else None)
    instead = f"write {ours}(...)" if ours else "use Tensor operations"
    return (f"{function} does not take a Tensor: {instead} to stay in the graph, or {function}(t.numpy()) for a "
            "plain array (t.grad.numpy() for a gradient)")


def _floating(x: Tensor) -> Tensor:
    """``x`` itself if it holds floats, else ``x`` in the default float dtype: PyTorch's exp, log, ... of an
    integer or bool tensor are float32, where numpy's would be float16 (uint8, bool) or float64 (int64)."""
    return x if x.data.dtype.kind == "f" else x.astype(_default_float)


def _compare(fn: Any, x: Tensor, other: Any) -> Tensor:
    return Compare.apply(x, other if isinstance(other, Tensor) else np.asarray(other), fn)


def _reduced_count(shape: tuple, axes: tuple) -> int:
    """How many elements a reduction over ``axes`` combines into each result: the N of a mean."""
    return math.prod(shape[a] for a in axes)


def _nonempty_axes(x: Tensor, axis: Any, op: str) -> tuple[int, ...]:
    axes = _axes(axis, x.shape, op)
    if any(x.shape[a] == 0 for a in axes):
        raise ShapeError(f"{op}: cannot reduce an empty axis of a tensor of shape {x.shape}")
    return axes


def _raw(value: Any) -> Any:
    """The array behind a Tensor (an in-place change reads values, it records nothing); anything else as it is."""
    return value.data if isinstance(value, Tensor) else value


def _new_leaf(data: np.ndarray, requires_grad: bool) -> Tensor:
    """A factory's fresh array as a leaf, without another copy (requires_grad_ refuses a non-float dtype)."""
    t = Tensor._make(data)
    return t.requires_grad_(True) if requires_grad else t


_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Make ``rand``, ``randn``, ``uniform`` (and layer initialisation, dropout) reproducible."""
    global _rng
    _rng = np.random.default_rng(seed)


def get_rng() -> np.random.Generator:
    """The generator behind random factories, initialisers and dropout (reset by :func:`manual_seed`)."""
    return _rng


# --------------------------------------------------------------------------------------------------------------
# Functions of several tensors
# --------------------------------------------------------------------------------------------------------------


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """The same as ``Tensor(data, requires_grad, dtype)``."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def _promote_tensors(tensors: Sequence[Tensor]) -> list[Tensor]:
    """The tensors converted to the one dtype that :func:`_promote_dtypes` gives for all of them."""
    dtype = tensors[0].data.dtype
    for t in tensors[1:]:
        dtype = _promote_dtypes(dtype, t.data.dtype)
    return [t.astype(dtype) for t in tensors]


@_pytorch_names
def cat(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis; all other axes must match."""
    tensors = [_as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat: needs at least one tensor")
    first = tensors[0]
    for position, t in enumerate(tensors):
        if t.ndim == 0:
            raise ShapeError(f"cat: the tensor at position {position} is 0-d and has no axis to join along; "
                             "use tl.stack to join 0-d tensors")
    axis = _axis(axis, first.ndim, "cat", first.shape)
    for t in tensors[1:]:
        if t.ndim != first.ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, first.shape)) if i != axis):
            raise ShapeError(f"cat: tensors must have the same shape except along axis {axis}; "
                             f"got {first.shape} and {t.shape}")
    return Cat.apply(*_promote_tensors(tensors), axis=axis)


@_pytorch_names
def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors of one shape along a new axis."""
    tensors = [_as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    for t in tensors[1:]:
        if t.shape != tensors[0].shape:
            raise ShapeError(f"stack: all tensors must have the same shape; got {tensors[0].shape} and {t.shape}")
    axis = _axis(axis, tensors[0].ndim + 1, "stack", tensors[0].shape)
    return cat([t.unsqueeze(axis) for t in tensors], axis=axis)


def where(cond: Any, x: Any, y: Any) -> Tensor:
    """Elementwise ``x`` where ``cond`` is true, else ``y``; the gradient flows to the chosen input only."""
    cond = cond if isinstance(cond, Tensor) else np.asarray(cond)  # a Tensor stays one: see engine's rule
    if cond.dtype != np.bool_:
        raise TypeError(f"where: the condition must be boolean; got dtype {cond.dtype}")
    if not isinstance(x, Tensor) and not isinstance(y, Tensor):
        x = Tensor(x)
    if isinstance(x, Tensor):
        x, y = _promote_operands(x, y)
    else:
        y, x = _promote_operands(y, x)
    return Where.apply(cond, x, y)


# The factories as functions too: tl.zeros(2, 3) is Tensor.zeros(2, 3).
zeros, ones, full = Tensor.zeros, Tensor.ones, Tensor.full
rand, randn, uniform = Tensor.rand, Tensor.randn, Tensor.uniform
eye, arange, zeros_like, ones_like = Tensor.eye, Tensor.arange, Tensor.zeros_like, Tensor.ones_like
