"""``tl.jit``: a training step captured once, written down as one function of numpy code, replayed from it.

**Capture.** The first call runs the function eagerly while a :class:`_Recorder`, installed through the engine's
one seam (:class:`engine.Observer`), writes down every array computation the engine reports, in order: each
Function's forward, each node's backward, each gradient unbroadcast, added, or stored into a ``.grad``, each
``zero_grad`` and each optimizer update. The engine's rule (its module docstring) is that a step computes on
arrays nowhere else, so the list is the whole step.

**Program → code.** Each report becomes lines of Python doing the same numpy calls in the same order: a
built-in Function's forward or backward written out (``sigmoid = np.tanh(...)``), any other Function called
(``Cube.forward(op_cube, x)``), ``w0_t.grad = Tensor._make(grad_w0)``, ``w0 -= step_w0``. Every written-out
block is run on the capture's own arrays and must reproduce them bit for bit, else the Function is called.
Values are named after the parameters they hold (``w0`` for ``0.weight``) or the operation that made them.
Then, without changing a bit: values from constants only are computed once (folded), unread assignments go,
a product with a folded constant 1 becomes the other factor, and elementwise values and matrix products that
never leave the step are written into buffers allocated once (``out=``). The
lines become one function, its guards first, compiled once; a replay is one call of it, with no Tensors, no
graph and none of the user's Python.

**Guards.** A replay runs only while what the capture depended on still holds: the shapes, dtypes and
requires_grad of the Tensor arguments and whether each has a ``.grad``, the type and value of every other
argument, grad mode, and for every parameter read: its identity in its module, shape, dtype, requires_grad
and whether it has a ``.grad``, and every module's training flag. Otherwise the function is captured again
(at most ``max_captures`` captures are kept). Things a capture cannot replay raise a ``RuntimeError`` that
names them: reading a value (``item()``, ``float()``, ``bool()``, ``tolist()``, ``numpy()``), a tensor made
inside the function that the step computes with (a random mask, ``Tensor(array)``), ``tl.grad``,
``create_graph``. Reads of ``.data`` cannot be seen. See docs/jit.md.
"""

from __future__ import annotations

import ast
import inspect
import keyword
import math
import re
import sys
import threading
import types
import warnings
import weakref
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from . import engine
from .nn.module import Module
from .ops import NUMPY_MATH
from .optim import SGD, Optimizer
from .tensor import Tensor

__all__ = ["jit", "Jitted"]


# --------------------------------------------------------------------------------------------------------------
# What a call depends on, besides the parameters: its arguments, and what the function can reach
# --------------------------------------------------------------------------------------------------------------


def _constant_key(value: Any, where: str) -> Any:
    """A non-tensor argument as a cache key: its exact type and value (2, 2.0 and True are three captures, and
    -0.0 is not 0.0)."""
    if isinstance(value, (tuple, list, frozenset)) and not isinstance(value, str):
        if isinstance(value, list):
            raise TypeError(f"jit: {where} is a list: pass Tensors or hashable Python constants (a tuple)")
        return type(value), tuple(_constant_key(v, where) for v in value)
    if isinstance(value, Tensor):
        raise TypeError(f"jit: {where} holds a Tensor inside a container: pass each Tensor as an argument")
    try:
        hash(value)
    except TypeError:
        raise TypeError(f"jit: {where} is a {type(value).__name__}: pass Tensors or hashable Python "
                        "constants") from None
    if isinstance(value, (float, np.floating)):  # by its bytes: -0.0 is not 0.0, nor one NaN another
        return type(value), np.asarray(value).tobytes()
    return type(value), value


_FIXED = (types.ModuleType, types.BuiltinFunctionType)  # taken as never rebound: Python modules and built-ins


def _names_read(fn: Callable, forwards: list | None = None, depth: int = 3) -> list[tuple[str, Any, str, Any]]:
    """What ``fn`` looks up by name when it runs, and finds now: ``(holder, name, value)`` for each global its code
    names, each closure variable, each attribute of a bound method's ``self`` its code names and each keyword of a
    ``functools.partial``; and the same for the functions it finds that way (helpers), ``depth`` levels deep, as
    :func:`_reachable` follows them: ``(kind, holder, name, value)``, the holder a dict (of globals, attributes or
    keywords) or a closure cell. ``forwards`` (the ``forward`` functions of the modules found) are followed too:
    a global a module's forward reads (``EPS``) is read at every call.
    A replay holds the values of the capture, so each becomes a guard: rebinding ``model`` or ``opt`` to a new
    object, or a float the step reads, captures again."""
    read: list[tuple[str, Any, str, Any]] = []
    seen: set[tuple[int, str]] = set()

    def note(kind: str, holder: Any, name: str, value: Any, level: int) -> None:
        if isinstance(value, _FIXED) or (id(holder), name) in seen:
            return
        seen.add((id(holder), name))
        read.append((kind, holder, name, value))
        if level > 0 and (inspect.isfunction(value) or inspect.ismethod(value) or isinstance(value, partial)):
            visit(value, level - 1)

    def visit(f: Any, level: int) -> None:
        if isinstance(f, partial):
            for name, value in f.keywords.items():
                note("keywords", f.keywords, name, value, level)
            visit(f.func, level)
            return
        self_obj = f.__self__ if inspect.ismethod(f) else None
        f = getattr(f, "__func__", f)
        if not inspect.isfunction(f):
            return
        names: set[str] = set()
        codes = [f.__code__]
        while codes:  # the function's code and that of the functions (lambdas, ...) defined in it
            code = codes.pop()
            names.update(code.co_names)
            codes.extend(c for c in code.co_consts if inspect.iscode(c))
        for name in sorted(names & f.__globals__.keys()):
            note("globals", f.__globals__, name, f.__globals__[name], level)
        for name, cell in zip(f.__code__.co_freevars, f.__closure__ or ()):
            try:
                note("cell", cell, name, cell.cell_contents, level)
            except ValueError:  # an empty cell: nothing to hold
                pass
        attributes = getattr(self_obj, "__dict__", None)
        if attributes is not None:
            for name in sorted(names & attributes.keys()):
                note("attributes", attributes, name, attributes[name], level)

    visit(fn, depth)
    for forward in forwards or ():
        visit(forward, depth - 1)
    return read


def _same_constant(value: Any, key: Any) -> bool:
    """Whether ``value`` is the constant whose :func:`_constant_key` is ``key`` (exact type and value)."""
    try:
        return _constant_key(value, "") == key
    except TypeError:
        return False


def _check_arguments(args: tuple, kwargs: dict) -> None:
    """Refuse arguments a capture cannot depend on: lists, unhashable objects, tensors inside containers."""
    named = [(f"argument {i}", a) for i, a in enumerate(args)]
    for where, a in named + [(f"argument {name!r}", kwargs[name]) for name in sorted(kwargs)]:
        if not isinstance(a, Tensor):
            _constant_key(a, where)


def _reachable(fn: Callable, depth: int = 3) -> tuple[list, list, set]:
    """The modules, optimizers and ids of tensors and arrays ``fn`` can reach through its closure, defaults, bound
    ``self`` and the globals its code names (and, a few levels deep, those of the functions it reaches the same
    way). A tensor's array counts as reachable with it (``w.data`` handed to an operation)."""
    modules: dict[int, Any] = {}
    optimizers: dict[int, Any] = {}
    tensors: set[int] = set()
    seen: set[int] = set()

    def add(value: Any) -> None:
        if isinstance(value, Tensor):
            tensors.update((id(value), id(value.data)))
        elif isinstance(value, np.ndarray):
            tensors.add(id(value))

    def visit(obj: Any, level: int) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, (Tensor, np.ndarray)):
            add(obj)
        elif isinstance(obj, Module):
            for m in obj.modules():
                modules[id(m)] = m
                for v in vars(m).values():
                    add(v)
        elif isinstance(obj, Optimizer):
            optimizers[id(obj)] = obj
            for p in obj.params:
                add(p)
        elif isinstance(obj, (list, tuple)) and level > 0:
            for item in obj[:64]:
                visit(item, level)
        elif level > 0 and (inspect.isfunction(obj) or inspect.ismethod(obj)):
            if inspect.ismethod(obj):
                visit(obj.__self__, level)
                obj = obj.__func__
            for cell in obj.__closure__ or ():
                try:
                    visit(cell.cell_contents, level - 1)
                except ValueError:  # an empty cell
                    pass
            for value in (obj.__defaults__ or ()) + tuple((obj.__kwdefaults__ or {}).values()):
                visit(value, level - 1)
            codes = [obj.__code__]
            while codes:  # names used by the function and by the functions (lambdas, ...) defined in it
                code = codes.pop()
                codes.extend(c for c in code.co_consts if inspect.iscode(c))
                for name in code.co_names:
                    if name in obj.__globals__:
                        visit(obj.__globals__[name], level - 1)
        elif level > 0 and isinstance(obj, partial):
            visit(obj.func, level)
            for a in (*obj.args, *obj.keywords.values()):
                visit(a, level - 1)
        elif isinstance(obj, dict) and level > 0:
            for value in list(obj.values())[:64]:
                visit(value, level - 1)
        elif level > 0 and hasattr(obj, "__dict__") and not isinstance(obj, (type, types.ModuleType)):
            visit(vars(obj), level)  # an object holding a model and its optimizer

    visit(fn, depth)
    for m in modules.values():
        for p in m._parameters.values():
            add(p)
    return list(modules.values()), list(optimizers.values()), tensors


def _parameter_names(modules: list) -> dict[int, str]:
    """Short variable names for parameters (``w0`` for ``0.weight``, ``b_fc1`` for ``fc1.bias``) and modules
    (``model``, ``model_0``)."""
    names: dict[int, str] = {}
    inside = {id(c) for m in modules for c in m._modules.values()}
    tops = [m for m in modules if id(m) not in inside]
    for i, top in enumerate(tops):
        for path, m in top.named_modules():
            names.setdefault(id(m), ("model" if i == 0 else f"model{i}") + ("_" + path.replace(".", "_") if path
                                                                                  else ""))
    for top in tops:
        for path, p in top.named_parameters():
            *prefix, last = path.split(".")
            stem = {"weight": "w", "bias": "b"}.get(last, last)
            joined = "_".join(prefix)
            names.setdefault(id(p), stem + (joined if joined[:1].isdigit() else ("_" + joined if joined else "")))
    return names


# --------------------------------------------------------------------------------------------------------------
# Inlining: the numpy code of the built-in Functions, written out so that a step is plain numpy
# --------------------------------------------------------------------------------------------------------------
# Each entry writes a Function's forward (assigning ``out``) or backward (assigning each needed input gradient)
# as the same numpy calls ops.py makes, in the same order. Every use is checked during the capture: the lines
# run on the capture's own arrays and must give its results bit for bit, else the step calls the Function.
# A forward gets the argument expressions ``a`` (names or literals); a backward also gets ``out`` (the forward's
# result), ``g`` and ``gs`` (the names to assign, None where no gradient is needed), and ``new`` for temporaries.


def _reduced(total: str, reduction: str, count: int) -> str:
    """ops.reduce_losses written out: the sum, the mean (the sum / count) or the losses themselves."""
    if reduction == "none":
        return total
    total = f"np.add.reduce({total}, axis=None)"  # what ndarray.sum() calls, without its Python wrapper
    return total + ("" if reduction == "sum" else f" / {count}" if count else " * nan")


def _grads(gs: list, *exprs: str) -> list[str]:
    return [f"{name} = {expr}" for name, expr in zip(gs, exprs) if name is not None]


def _product(c: Any, a: str, b: str) -> str:
    """A matrix product as code. Of two matrices it is ``np.dot``: the same BLAS call as ``@`` (the same bits;
    checked at every capture all the same), with less of numpy's overhead per call, which W1 replays feel."""
    return f"np.dot({a}, {b})" if c.matrices_ else f"{a} @ {b}"


_FORWARD: dict[str, Callable[..., list[str]]] = {
    "Add": lambda c, a, out: [f"{out} = {a[0]} + {a[1]}"],
    "Sub": lambda c, a, out: [f"{out} = {a[0]} - {a[1]}"],
    "Mul": lambda c, a, out: [f"{out} = {a[0]} * {a[1]}"],
    "Div": lambda c, a, out: [f"{out} = {a[0]} / {a[1]}"],
    "Neg": lambda c, a, out: [f"{out} = -{a[0]}"],
    "Log": lambda c, a, out: [f"{out} = np.log({a[0]})"],
    "Tanh": lambda c, a, out: [f"{out} = np.tanh({a[0]})"],
    "Sigmoid": lambda c, a, out: [  # ops._sigmoid: ½ + ½·tanh(x/2), every step after the first in place
        f"{out} = {a[0]} * 0.5", f"np.tanh({out}, out={out})", f"{out} *= 0.5", f"{out} += 0.5"],
    "Relu": lambda c, a, out: [f"{out} = np.maximum({a[0]}, 0)"],
    "Cast": lambda c, a, out: [f"{out} = {a[0]}.astype({a[1]})"],
    "Reshape": lambda c, a, out: [f"{out} = {a[0]}.reshape({a[1]})"],
    "Matmul": lambda c, a, out: [f"{out} = {_product(c, a[0], a[1])}"],
    "Where": lambda c, a, out: [f"{out} = np.where({a[0]}, {a[1]}, {a[2]})"],
    "Linear": lambda c, a, out: [f"{out} = np.dot({a[0]}, {a[1]}.T)"]
                                + ([f"{out} += {a[2]}"] if a[2] != "None" else []),
    "SquaredError": lambda c, a, out: [  # x − y is kept for the backward (ops.py computes it again)
        f"{out}_diff = {a[0]} - {a[1]}", f"{out}_squares = {out}_diff * {out}_diff",
        f"{out} = {_reduced(out + '_squares', c.reduction_, c.count_)}"],
    "NegativeLogLikelihood": lambda c, a, out: [
        f"{out} = -np.add.reduce({a[0]} * {a[1]}, axis={a[2]})", f"{out} = {_reduced(out, c.reduction, c.count)}"],
    "LogSoftmax": lambda c, a, out: [  # ops._shifted_logsumexp, for an axis with elements
        f"{out}_max = np.maximum.reduce({a[0]}, axis=({a[1]},), keepdims=True, initial=-inf)",
        f"{out}_max = np.where(np.isfinite({out}_max), {out}_max, 0)",  # an inf or all -inf: shift by 0, as eager
        f"{out} = {a[0]} - {out}_max",
        f"{out} = {out} - np.log(np.add.reduce(np.exp({out}), axis=({a[1]},), keepdims=True))"],
    "Sum": lambda c, a, out: [f"{out} = np.add.reduce({a[0]}, axis={a[1]}, keepdims={a[2]})"],
    # ClassMask is not written out: its forward checks the labels, which change from call to call.
}

_BACKWARD: dict[str, Callable[..., list[str]]] = {
    "Add": lambda c, a, out, g, gs, new: _grads(gs, g, g),
    "Sub": lambda c, a, out, g, gs, new: _grads(gs, g, f"-{g}"),
    "Mul": lambda c, a, out, g, gs, new: _grads(gs, f"{g} * {a[1]}", f"{g} * {a[0]}"),
    "Neg": lambda c, a, out, g, gs, new: _grads(gs, f"-{g}"),
    "Log": lambda c, a, out, g, gs, new: _grads(gs, f"{g} / {a[0]}"),
    "Tanh": lambda c, a, out, g, gs, new: _grads(gs, f"{g} * (1 - {out} * {out})"),
    "Sigmoid": lambda c, a, out, g, gs, new: [f"{gs[0]} = {g} * {out}", f"{gs[0]} *= 1 - {out}"] if gs[0] else [],
    "Relu": lambda c, a, out, g, gs, new: _grads(gs, f"{g} * ({a[0]} > 0)"),
    "Cast": lambda c, a, out, g, gs, new: _grads(gs, g),
    "Reshape": lambda c, a, out, g, gs, new: _grads(gs, f"{g}.reshape({c.shape!r})"),
    "Sum": lambda c, a, out, g, gs, new: [f"{gs[0]} = np.empty({c.shape!r}, {g}.dtype)",  # NUMPY_MATH.broadcast_to
                                          f"{gs[0]}[...] = {g}.reshape({c.kept!r})"] if gs[0] else [],
    "Matmul": lambda c, a, out, g, gs, new: _grads(gs, _product(c, g, f"{a[1]}.swapaxes(-1, -2)"),
                                                   _product(c, f"{a[0]}.swapaxes(-1, -2)", g)),
    "Where": lambda c, a, out, g, gs, new: _grads(gs, None, f"np.where({a[0]}, {g}, 0)",
                                                  f"np.where({a[0]}, 0, {g})"),
    "Linear": lambda c, a, out, g, gs, new: _grads(gs, f"np.dot({g}, {a[1]})", f"np.dot({g}.T, {a[0]})",
                                                   f"np.add.reduce({g}, axis=(0,), keepdims=False)"),
    "LogSoftmax": lambda c, a, out, g, gs, new: _grads(
        gs, f"{g} - np.exp({out}) * np.add.reduce({g}, axis={c.axis}, keepdims=True)"),
}


def _backward_div(c: Any, a: list, out: str, g: str, gs: list, new: Callable[[str], str]) -> list[str]:
    gx = gs[0] or new("grad")  # ops.Div computes dz/dx even when only dz/dy is needed: it is part of dz/dy
    return [f"{gx} = {g} / {a[1]}"] + ([f"{gs[1]} = -{gx} * {out}"] if gs[1] else [])


def _backward_squared_error(c: Any, a: list, out: str, g: str, gs: list, new: Callable[[str], str]) -> list[str]:
    gx, scaled = gs[0] or new("grad"), new(f"{g}_scaled")  # two lines: g·2 alone is folded when g is constant
    return [f"{scaled} = {g} * {c.scale!r}", f"{gx} = {scaled} * {out}_diff"] + ([f"{gs[1]} = -{gx}"] if gs[1] else [])


def _backward_nll(c: Any, a: list, out: str, g: str, gs: list, new: Callable[[str], str]) -> list[str]:
    lines, scaled = [], g
    if c.reduction == "none":
        lines.append(f"{g}_kept = {g}.reshape({c.kept!r})")
        scaled = f"{g}_kept"
    elif c.reduction == "mean":
        scaled = new("scaled")
        lines.append(f"{scaled} = {g} / {c.count}")
    return lines + _grads(gs, f"-({a[1]} * {scaled})", f"-({a[0]} * {scaled})")


_BACKWARD.update({"Div": _backward_div, "SquaredError": _backward_squared_error,
                  "NegativeLogLikelihood": _backward_nll})


def _inlinable(ctx: engine.Function, args: tuple, kwargs: dict) -> bool:
    """Whether the table above writes this call exactly: a built-in Function, on the arrays it was written for."""
    from . import ops

    name = type(ctx).__name__
    if kwargs or name not in _FORWARD or getattr(ops, name, None) is not type(ctx):
        return False
    arrays = [a.data for a in args if isinstance(a, Tensor)]
    if name == "Linear":  # the 2-D case; more batch axes reshape first
        return arrays[0].ndim == 2
    if name == "Matmul":  # an operand may be a plain array (Matmul.apply(t, array))
        ctx.matrices_ = all(np.ndim(a.data if isinstance(a, Tensor) else a) == 2 for a in args[:2])
    if name == "LogSoftmax":  # an axis with elements: no log of an empty sum
        return arrays[0].shape[args[1]] > 0
    if name == "Sum":  # float sums; numpy and PyTorch differ on the dtype of integer sums (ops._SUM_DTYPES)
        return ops._SUM_DTYPES.get(arrays[0].dtype) is None
    if name == "SquaredError":
        ctx.reduction_, ctx.count_ = args[2], math.prod(np.broadcast_shapes(arrays[0].shape, arrays[1].shape))
    return True


# --------------------------------------------------------------------------------------------------------------
# The recorder: engine reports → lines of Python
# --------------------------------------------------------------------------------------------------------------

_LITERALS = (bool, int, str, type(None))


def _module_attributes(m: Module) -> tuple[tuple[str, Any], ...]:
    """A module's own attributes besides its parameters, children and training flag (guarded on their own)."""
    own = {"_parameters", "_modules", "training", *m._parameters, *m._modules}
    return tuple((k, v) for k, v in vars(m).items() if k not in own)


# Never a name the generated code gives to a value of the user's: its own globals, Python's keywords and the
# built-ins it calls.
_RESERVED = {"Tensor", "np", "zero_grad", "run_forward", "mark_modified", "inf", "nan", "MISS", "engine",
             "_constant_key", "_same_constant", "_now", "unbroadcast", "isinstance", "type", "len", "float",
             *keyword.kwlist}


class _Recorder(engine.Observer):
    """Writes the step down as it runs: one line of Python per report, over named values."""

    def __init__(self, fn_name: str, arg_names: list[str], values: list, modules: list, optimizers: list,
                 names_read: list) -> None:
        self.fn_name = fn_name
        self.names_read = names_read  # what the function looked up by name (_names_read): guarded by identity
        self.updated: list = []  # the optimizers whose update the step ran
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {"Tensor": Tensor, "np": np, "zero_grad": engine.zero_grad,
                                          "run_forward": engine.run_forward, "mark_modified": engine.mark_modified,
                                          "inf": math.inf, "nan": math.nan}
        self.constant_names: set[str] = set()  # names of read-only arrays the capture made (the root gradient)
        self.made_names: set[str] = set()  # names of the values forwards made
        self.global_of: dict[int, str] = {}  # id(object) -> its name among the globals
        self.values: dict[str, Any] = {}  # name -> the capture's own array of that name: to check inlined code
        self.inlined: dict[int, tuple[list[str], str]] = {}  # id(node) -> its forward's argument expressions, result
        self.used: set[str] = set(self.namespace) | _RESERVED | {fn_name}
        self.value_of: dict[int, str] = {}  # id(Tensor) made or read by the step -> its array's name
        self.array_of: dict[int, str] = {}  # id(ndarray) of every array the step made or read -> its name
        self.tensor_name: dict[int, str] = {}  # id(Tensor) whose object the step uses (.grad) -> its name
        self.grad_set: set[int] = set()  # tensors whose .grad the step set before reading it (zero_grad, store)
        self.grad_read: set[int] = set()  # tensors whose .grad (whether there is one) the step read first
        self.plain_sgd: list = []  # optimizers whose plain update is written out: guarded to stay plain
        self.layer_of: dict[int, str] = {}  # id(node) -> where its forward ran, for the comments
        self.op_name: dict[int, str] = {}  # id(Function instance) -> its name
        inputs = [v for v in values if isinstance(v, Tensor)]
        self.arg_ids = {id(t) for t in inputs}
        self.grad_state = {id(t): _grad_state(t) for t in inputs}  # the .grad's shape and dtype as the call began
        self.alive: list[Any] = []  # every object whose id is a key: no id is reused while recording
        self.param_names = self.names_of_objects = _parameter_names(modules)
        self.entry: dict[int, tuple] = {}  # id(Tensor) -> (tensor, its state when the call began)
        self.made: dict[int, weakref.ref] = {}  # tensors the step made: the results of forwards
        self.externals: list[Tensor] = []  # tensors read from outside: parameters
        self.modules, self.optimizers = modules, optimizers
        self.training = [m.training for m in modules]
        self.module_children = [(m, tuple(m._parameters.items()), tuple(m._modules.items()), _module_attributes(m))
                                for m in modules]
        self.raw_arrays: list[np.ndarray] = []  # plain arrays handed to Functions: they must be reachable
        self.params: list[tuple[str, Any]] = []  # the generated function's parameters: one per value of the call
        self.prologue: list[str] = []
        for name, v in zip(arg_names, values):
            if isinstance(v, Tensor):
                array = self._tensor_names(name)
                self.params.append((array + "_t", v))
                self._bind_tensor(v, array)
                self.prologue.append(f"{array} = {array}_t.data")
            else:
                self.params.append((self._name(name), v))
        for m in modules:
            for p in m._parameters.values():
                if p is not None:
                    self._snapshot(p)
        for opt in optimizers:
            for p in opt.params:
                self._snapshot(p)

    # ---- names ------------------------------------------------------------------------------------------------

    def _name(self, stem: str) -> str:
        stem = re.sub(r"\W", "_", stem) or "v"
        if stem[0].isdigit():
            stem = "v" + stem
        name, n = stem, 1
        while name in self.used:
            n += 1
            name = f"{stem}_{n}"
        self.used.add(name)
        return name

    def _tensor_names(self, stem: str) -> str:
        """A name for a tensor's array whose ``_t`` form (the Tensor's) is free too; both are taken."""
        name = self._name(stem)
        while name + "_t" in self.used:
            name = self._name(stem)
        self.used.add(name + "_t")
        return name

    def _global(self, stem: str, value: Any) -> str:
        """A name for ``value`` in the generated code's globals: the one it has, or a new one from ``stem``."""
        name = self.global_of.get(id(value))
        if name is None or self.namespace.get(name) is not value:
            name = self.global_of[id(value)] = self._name(stem)
            self.namespace[name] = value
            self.alive.append(value)
        return name

    def _bind_tensor(self, t: Tensor, array_name: str) -> None:
        self.values[array_name] = t.data
        self.value_of[id(t)] = array_name
        self.array_of[id(t.data)] = array_name
        self.tensor_name[id(t)] = array_name + "_t"
        self.alive += [t, t.data]

    def _snapshot(self, t: Tensor) -> None:
        if id(t) not in self.entry and id(t) not in self.arg_ids:  # arguments are checked by the cache key
            self.entry[id(t)] = (t, (t.data.shape, t.data.dtype, t.requires_grad, t.grad is None))
            self.grad_state[id(t)] = _grad_state(t)

    def _tensor(self, t: Tensor) -> str:
        """The name of a Tensor's array; a tensor the step has not seen is read from outside at every call."""
        name = self.value_of.get(id(t))
        if name is None:
            self._snapshot(t)
            name = self._tensor_names(self.param_names.get(id(t), "t"))
            self._bind_tensor(t, name)
            self.namespace[name + "_t"] = t
            self.prologue.append(f"{name} = {name}_t.data")
            self.externals.append(t)
        return name

    def _reads_grad(self, t: Tensor) -> None:
        if id(t) not in self.grad_set:
            self.grad_read.add(id(t))

    def _tensor_object(self, t: Tensor) -> str:
        self._tensor(t)
        return self.tensor_name[id(t)]

    def _array(self, a: Any) -> str:
        """The name of an array the step computes with; one it did not make (the root gradient) is a constant,
        kept read-only so that no replay can change it."""
        name = self.array_of.get(id(a))
        if name is None:
            constant = np.array(a)
            constant.setflags(write=False)
            name = self._global("const", constant)
            self.values[name] = constant
            self.constant_names.add(name)
            self.array_of[id(a)] = name
            self.alive.append(a)
        return name

    def _result(self, a: Any, stem: str) -> str:
        name = self._name(stem)
        self.values[name] = a
        self.array_of[id(a)] = name
        self.alive.append(a)
        return name

    def _argument(self, a: Any) -> str:
        """An argument of a Function as code: a tensor's array by name; an array the step knows (an index tensor's,
        inside an index tuple) by its name too, so that a replay reads the new one; any other value a constant.
        A plain array the step does not know must be reachable from the function (checked after the capture):
        one computed in numpy inside the step would be frozen."""
        if isinstance(a, Tensor):
            return self._tensor(a)
        if isinstance(a, np.ndarray) and id(a) in self.array_of:
            return self.array_of[id(a)]
        if isinstance(a, tuple) and any(isinstance(v, (np.ndarray, tuple)) for v in a):
            return "(" + "".join(f"{self._argument(v)}, " for v in a) + ")"
        if isinstance(a, np.ndarray) and a.ndim > 0:  # 0-d: a number the operators made from a literal of the code
            self.raw_arrays.append(a)
        return self._literal(a, "c")

    def _literal(self, value: Any, stem: str) -> str:
        if isinstance(value, _LITERALS) or (isinstance(value, float) and math.isfinite(value)):
            return repr(value)
        if isinstance(value, tuple) and all(isinstance(v, _LITERALS) for v in value):
            return repr(value)
        if isinstance(value, np.dtype):
            return self._global(str(value), value)
        return self._global(getattr(value, "__name__", stem), value)

    # ---- what the engine reports ------------------------------------------------------------------------------

    def _checked(self, lines: list[str], produced: dict[str, Any], keep: bool = True) -> bool:
        """Whether ``lines``, run on the capture's arrays, give the capture's results bit for bit."""
        scope = {**self.namespace, **self.values}
        try:
            with np.errstate(all="ignore"):
                exec("\n".join(lines), scope)  # noqa: S102 - code this module wrote
        except Exception:  # noqa: BLE001 - any failure means: do not inline
            return False
        if not all(_same_bits(scope[name], actual) for name, actual in produced.items()):
            return False
        for node in ast.walk(ast.parse("\n".join(lines)) if keep else ast.Module([], [])):  # temporaries (CSE)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id not in produced:
                self.values[node.id] = scope[node.id]
                self.used.add(node.id)
        return True

    def _layer(self) -> str:
        """The module whose forward is running (found on the call stack), as `` in model_0``, or nothing."""
        frame = sys._getframe(2)
        for _ in range(40):
            if frame is None:
                break
            if frame.f_code.co_name == "forward":  # only then f_locals: reading it keeps a copy of the frame's locals
                owner = frame.f_locals.get("self")
                if owner is not None and id(owner) in self.names_of_objects:
                    return f" in {self.names_of_objects[id(owner)]} ({type(owner).__name__})"
            frame = frame.f_back
        return ""

    def forward(self, ctx: engine.Function, args: tuple, kwargs: dict, result: Tensor) -> None:
        cls = type(ctx).__name__
        layer = self.layer_of[id(ctx)] = self._layer()
        values = [self._argument(a) for a in args]
        out = self._name(cls.lower())
        if _inlinable(ctx, args, kwargs):
            lines = _FORWARD[cls](ctx, values, out)
            if result.data.ndim == 0:  # numpy gives a scalar where the engine keeps a 0-d array
                lines.append(f"{out} = np.asarray({out})")
            if self._checked(lines, {out: result.data}):
                self.inlined[id(ctx)] = (values, out)
                self._emit(f"{cls} forward{layer}", lines)
                self._made(result, out)
                return
        op = self.op_name[id(ctx)] = self._global(f"op_{out}", ctx)
        cls_name = self._class(type(ctx))
        if result.data.ndim == 0:  # numpy may give a scalar here: run_forward turns it into an array as eager
            kw = self._global("kw", kwargs)
            call = f"run_forward({op}, ({', '.join(values)},), {kw})"
        else:
            kw = "".join(f", {k}={self._literal(v, k)}" for k, v in kwargs.items())
            call = f"{cls_name}.forward({op}, {', '.join(values)}{kw})"
        self._emit(f"{cls} forward{layer} (not inlined: a call of the Function)", [f"{out} = {call}"])
        self._made(result, out)

    def _made(self, result: Tensor, out: str) -> None:
        self.made_names.add(out)
        self.values[out] = result.data
        self.value_of[id(result)] = out
        self.array_of[id(result.data)] = out
        self.made[id(result)] = weakref.ref(result)
        self.alive += [result, result.data]

    def _class(self, cls: type) -> str:
        for name, value in self.namespace.items():
            if value is cls:
                return name
        return self._global(cls.__name__, cls)

    def _emit(self, comment: str, lines: list[str]) -> None:
        self.lines.append(f"# {comment}")
        self.lines += lines

    def backward(self, node: engine.Function, output: Tensor, grad: Any, returned: Any) -> None:
        cls = type(node)
        g = self._array(grad)
        grads = returned if type(returned) is tuple else (returned,)
        wanted = [a is not None and t is not None and t.requires_grad for t, a in zip(node.inputs, grads)]
        if id(node) in self.inlined:
            values, out = self.inlined[id(node)]
            gs = [self._result(a, "grad_" + self.value_of.get(id(t), "x")) if want else None
                  for t, a, want in zip(node.inputs, grads, wanted)]
            lines = _BACKWARD[cls.__name__](node, values, out, g, gs, self._name) if cls.__name__ in _BACKWARD \
                else None
            if lines is not None and self._checked(lines, {n: a for n, a in zip(gs, grads) if n is not None}):
                self._emit(f"{cls.__name__} backward{self.layer_of[id(node)]}", lines)
                return
            # the forward was inlined, so the Function's backward needs the arrays its forward saved
            saved = [self.array_of.get(id(a)) for a in node.saved_tensors]
            if None in saved:
                raise RuntimeError(f"jit: cannot replay the backward of {cls.__name__}: it saved an array the "
                                   "capture cannot name")
            op = self.op_name[id(node)] = self._global(f"op_{out}", node)
            self.lines.append(f"{op}.saved_tensors = ({''.join(name + ', ' for name in saved)})")
        else:
            op = self.op_name[id(node)]
            gs = [self._result(a, "grad_" + self.value_of.get(id(t), "x")) if want else None
                  for t, a, want in zip(node.inputs, grads, wanted)]
        targets = ", ".join(n or "_" for n in gs) + ("," if type(returned) is tuple and len(gs) == 1 else "")
        lines = [f"{targets} = {self._class(cls)}.backward({op}, {g})"]
        if node.saved_tensors:
            lines.append(f"{op}{_RELEASE}")
        self._emit(f"{cls.__name__} backward{self.layer_of.get(id(node), '')} (a call of the Function)", lines)

    def unbroadcast(self, tensor: Tensor, grad: Any, result: Any) -> None:
        from .ops import _broadcast_axes

        shape, dtype = tensor.data.shape, tensor.data.dtype
        g = self._array(grad)
        out = self._result(result, g.rsplit("_", 1)[0] if g.startswith("grad_") else "grad")
        expr = g
        if grad.shape != shape:  # NUMPY_MATH.sum_to
            expr = f"np.add.reduce({expr}, axis={_broadcast_axes(grad.shape, shape)!r}, keepdims=True)" \
                   f".reshape({shape!r})"
        if grad.dtype != dtype:
            expr = f"{expr}.astype({self._literal(np.dtype(dtype), 'dtype')})"
        lines = [f"{out} = {expr}"]
        if not self._checked(lines, {out: result}):
            lines = [f"{out} = unbroadcast({g}, {shape!r}, {self._literal(np.dtype(dtype), 'dtype')})"]
            self.namespace["unbroadcast"] = _unbroadcast
        self._emit("the gradient summed back to its input's shape (broadcasting's reverse)", lines)

    def add(self, tensor: Tensor, a: Any, b: Any, total: Any) -> None:
        na, nb = self._array(a), self._array(b)
        out = self._result(total, na.rsplit("_", 1)[0] if na.startswith("grad_") else "grad")
        self._emit("two gradients of one value added", [f"{out} = {na} + {nb}"])

    def store(self, tensor: Tensor, grad: Any, copy: bool, added: bool) -> None:
        if id(tensor) in self.made:
            self.unsupported("retain_grad() on a tensor made inside the function")
        if id(tensor) not in self.entry and id(tensor) not in self.arg_ids:  # first seen: .grad existed iff added
            self.entry[id(tensor)] = (tensor, (tensor.data.shape, tensor.data.dtype, tensor.requires_grad, not added))
        t, g = self._tensor_object(tensor), self._array(grad)
        self._reads_grad(tensor)
        self.grad_set.add(id(tensor))
        if added:
            self._emit("accumulated into .grad", [f"{t}.grad = Tensor._make({t}.grad.data + {g})"])
        else:
            self._emit("stored as .grad" + (" (a copy: the array is a view or held elsewhere)" if copy else ""),
                       [f"{t}.grad = Tensor._make({'np.array(' + g + ')' if copy else g})"])

    def zero_grad(self, tensors: list, set_to_none: bool) -> None:
        for t in tensors:
            self._snapshot(t)
        names = [self._tensor_object(t) for t in tensors]
        for t in tensors:
            if set_to_none:
                self.grad_set.add(id(t))
            else:
                self._reads_grad(t)
        if set_to_none:
            self._emit("zero_grad()", [f"{t}.grad = None" for t in names])
        else:
            self._emit("zero_grad(set_to_none=False)", [f"zero_grad(({', '.join(names)},), set_to_none=False)"])

    def update(self, optimizer: Any) -> None:
        if all(o is not optimizer for o in self.updated):
            self.updated.append(optimizer)
        for p in optimizer.params:  # the update skips a parameter without a gradient
            self._snapshot(p)
            self._tensor_object(p)
            self._reads_grad(p)

        name = self._global("opt", optimizer)
        kind = type(optimizer).__name__
        if type(optimizer) is SGD and float(optimizer.momentum) == 0 and float(optimizer.weight_decay) == 0:
            # SGD._update's plain case written out; momentum and weight decay stay 0 (a guard), lr is read here
            self.plain_sgd.append(optimizer)
            lr = self._name("lr")
            lines = [f"{lr} = float({name}.lr)"]
            self.values[lr] = float(optimizer.lr)
            as_array: dict[np.dtype, str] = {}  # lr as a 0-d array of each gradient dtype (see _numbers_as_arrays)
            for p in optimizer.params:
                if p.grad is not None:  # whether it has one is the same at every replay (the guards)
                    dtype = p.grad.data.dtype
                    factor = lr
                    if dtype.kind == "f":  # (a .grad from before the call: its dtype is guarded, see _grad_state)
                        if dtype not in as_array:
                            zero_d = np.array(float(optimizer.lr), dtype)
                            as_array[dtype] = self._name(f"lr_as_{dtype.name}")
                            self.namespace[as_array[dtype]] = zero_d
                            self.values[as_array[dtype]] = zero_d
                            lines.append(f"{as_array[dtype]}[()] = {lr}  # a 0-d array: numpy's faster operand")
                        factor = as_array[dtype]
                    step = self._name(f"step_{self.value_of[id(p)]}")
                    self.values[step] = float(optimizer.lr) * p.grad.data  # for checking the lines written later
                    lines += [f"{step} = {factor} * {self.tensor_name[id(p)]}.grad.data",
                              f"{self.value_of[id(p)]} -= {step}"]
            params = ", ".join(self.tensor_name[id(p)] for p in optimizer.params)
            lines.append(f"mark_modified({params})")  # new versions for all, as eager's run_update gives them
            self._emit(f"{kind} update: p ← p − lr·∇p (lr read at every call)", lines)
        else:
            self._emit(f"{kind} update (its own code; reads lr & co. at every call)",
                       [f"{name}._update()", f"mark_modified(*{name}.params)"])

    def value_read(self, what: str) -> None:
        raise RuntimeError(
            f"jit: {what} reads a tensor's value while the function is being captured, and a replay does not run "
            "that Python code again. Move it out of the jitted function (return the tensor and read it there)."
        )

    def unsupported(self, what: str) -> None:
        raise RuntimeError(f"jit: {what} inside a jitted function is not supported")


def _unbroadcast(grad: np.ndarray, shape: tuple, dtype: np.dtype) -> np.ndarray:
    return engine._unbroadcast(grad, shape, dtype, NUMPY_MATH)


def _same_bits(a: Any, b: Any) -> bool:
    """Same type, dtype, shape and bytes: NaNs and signed zeros included."""
    if type(a) is not type(b):
        return False
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# --------------------------------------------------------------------------------------------------------------
# A capture: the compiled step and its guards
# --------------------------------------------------------------------------------------------------------------


class _Miss:
    """What a compiled step returns when one of its guards does not hold."""

    def __repr__(self) -> str:
        return "MISS"


MISS = _Miss()


def _miss(*args: Any) -> _Miss:
    return MISS


class Capture:
    """One captured call: ``source`` (the generated step, its guards first) and ``step`` (it, compiled)."""

    def __init__(self, recorder: _Recorder, outputs: tuple[Tensor, ...], is_tuple: bool, kwnames: tuple) -> None:
        self.kwnames, self.arity = kwnames, len(recorder.params)
        names = [recorder.value_of.get(id(o)) or recorder._tensor(o) for o in outputs]
        ret = ", ".join(f"Tensor._make({n})" for n in names) + ("," if is_tuple and len(names) == 1 else "")
        guards = _guards(recorder)
        lines = _released_once(recorder.lines)
        lines = _without_dead_code(recorder, _fold_constants(recorder, lines), names)
        lines = _products_by_one_dropped(recorder, lines, names)
        lines = _into_buffers(recorder, lines, names)
        lines = _scalars_kept(recorder, lines, names)
        lines = _numbers_as_arrays(recorder, lines)
        body = (["# guards: what this capture depended on; if one fails, tl.jit captures again",
                 "if not (", *(f"    {g}" if i == 0 else f"    and {g}" for i, g in enumerate(guards)), "):",
                 "    return MISS", "# the step"]
                + recorder.prologue + lines + [f"return {ret if is_tuple else ret.rstrip(',')}"])
        params = ", ".join(name for name, _ in recorder.params)
        self.source = f"def {recorder.fn_name}({params}):\n" + "".join(f"    {line}\n" for line in body)
        namespace = {**recorder.namespace, "MISS": MISS, "engine": engine, "_constant_key": _constant_key,
                     "_same_constant": _same_constant,
                     "__name__": __name__}  # numpy warnings in it are the package's: silence_numpy_warnings
        exec(compile(self.source, f"<tl.jit {recorder.fn_name}>", "exec"), namespace)  # noqa: S102 - our own code
        self.step: Callable[..., Any] = namespace[recorder.fn_name]


_FOLDED = ": from constants only, computed once during the capture"
_IMPURE_CALLS = {"forward", "backward", "_update", "run_forward", "zero_grad"}  # they change objects


def _statement(line: str) -> ast.stmt | None:
    return None if line.startswith("#") else ast.parse(line).body[0]


def _names(node: ast.AST, context: type) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, context)}


def _is_pure_assignment(node: ast.stmt | None) -> bool:
    """``name = expr`` or ``name op= expr`` whose expression changes no object (no Function, no update)."""
    if not isinstance(node, (ast.Assign, ast.AugAssign)):
        return False
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    if not all(isinstance(t, ast.Name) for t in targets):
        return False
    calls = [n.func for n in ast.walk(node.value) if isinstance(n, ast.Call)]
    return not any((f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")) in _IMPURE_CALLS for f in calls)


_RELEASE = ".saved_tensors = ()  # released, as eager backward does"


def _released_once(lines: list[str]) -> list[str]:
    """A node's saved arrays are released after its last backward only (``retain_graph=True`` runs it twice)."""
    last = {line: i for i, line in enumerate(lines) if line.endswith(_RELEASE)}
    return [line for i, line in enumerate(lines) if not line.endswith(_RELEASE) or last[line] == i]


def _fold_constants(r: _Recorder, lines: list[str]) -> list[str]:
    """A value computed from constants only (the root gradient 1 times the loss's ½, say) is computed once: the
    capture's own result becomes a constant of the code. Same numpy call, same bits, one kernel less per step."""
    nodes = [_statement(line) for line in lines]
    stores = [name for node in nodes if node is not None for name in _names(node, ast.Store)]
    changed = _changed_in_place(nodes)  # (with out=: the sigmoid's np.tanh(s, out=s) writes into its own value)
    escaping = {n.id for node in nodes if node is not None for c in ast.walk(node)  # stored in .grad, returned
                if isinstance(c, ast.Call) and getattr(c.func, "attr", "") == "_make" for n in ast.walk(c)
                if isinstance(n, ast.Name)}
    constants = {name for name in r.constant_names}
    out = []
    for line, node in zip(lines, nodes):
        if isinstance(node, ast.Assign) and _is_pure_assignment(node):
            name = node.targets[0].id
            loads = _names(node.value, ast.Load) - {"np"}
            if loads <= constants and stores.count(name) == 1 and name not in changed | escaping:
                value = r.values[name]
                if isinstance(value, np.ndarray):
                    value = value.copy()
                    value.setflags(write=False)
                r.namespace[name] = value
                constants.add(name)
                out.append(f"# {line}{_FOLDED}")
                continue
        out.append(line)
    return out


def _without_dead_code(r: _Recorder, lines: list[str], results: list[str]) -> list[str]:
    """Drop the assignments whose values nothing reads (walking backwards from the results)."""
    live = set(results)
    protected = {name for name, _ in r.params} | set(r.value_of.values()) - set(r.made_names)
    kept: list[str] = []
    for line in reversed(lines):
        node = _statement(line)
        if node is not None:
            targets = _names(node, ast.Store) | ({node.target.id} if isinstance(node, ast.AugAssign) else set())
            if _is_pure_assignment(node) and not targets & (live | protected):
                continue
            live |= _names(node, ast.Load)
        kept.append(line)
    kept.reverse()
    return [line for i, line in enumerate(kept)  # a block's comment goes when its block went
            if not (_is_block_comment(line) and (i + 1 == len(kept) or _is_block_comment(kept[i + 1])))]


def _is_block_comment(line: str) -> bool:
    return line.startswith("# ") and not line.endswith(_FOLDED)


def _changed_in_place(nodes: list) -> set[str]:
    """The names whose arrays a statement overwrites: ``x op= ...``, ``x[...] = ...``, ``np.f(..., out=x)``."""
    changed = set()
    for node in nodes:
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            changed.add(node.target.id)
        for n in ast.walk(node) if node is not None else ():
            if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store) and isinstance(n.value, ast.Name):
                changed.add(n.value.id)
            if isinstance(n, ast.Call):
                changed |= {k.value.id for k in n.keywords if k.arg == "out" and isinstance(k.value, ast.Name)}
    return changed


def _products_by_one_dropped(r: _Recorder, lines: list[str], results: list[str]) -> list[str]:
    """``y = one * x`` with ``one`` a folded constant equal to 1 (the loss's ½ times the 2 of a square) is
    ``y = x``: multiplying by 1 changes no bit of a float. Only where y has x's dtype and shape, and neither
    leaves the step nor is changed in place, so that sharing one array cannot show."""
    nodes = [_statement(line) for line in lines]
    kept_apart = _escaping(nodes, results) | _changed_in_place(nodes)
    out = list(lines)
    for i, node in enumerate(nodes):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.BinOp) and isinstance(node.value.op, ast.Mult)):
            continue
        name, sides = node.targets[0].id, [node.value.left, node.value.right]
        if not all(isinstance(side, ast.Name) for side in sides) or name in kept_apart:
            continue
        for one, other in (sides, sides[::-1]):
            factor, x, y = r.namespace.get(one.id), r.values.get(other.id), r.values.get(name)
            if (isinstance(factor, (np.ndarray, np.floating)) and np.asarray(factor).dtype.kind == "f"
                    and bool(np.all(factor == 1))
                    and isinstance(x, np.ndarray) and isinstance(y, np.ndarray) and x.dtype == y.dtype
                    and x.shape == y.shape and other.id not in kept_apart
                    and r._checked([f"{name} = {other.id}"], {name: y}, keep=False)):
                out[i] = f"{name} = {other.id}  # × 1 (a folded constant): the same bits"
                break
    return out


_UFUNCS = {ast.Add: "np.add", ast.Sub: "np.subtract", ast.Mult: "np.multiply", ast.Div: "np.true_divide"}


def _in_place(node: ast.stmt | None) -> str | None:
    """The name an ``np.f(name, out=name)`` statement overwrites, else None."""
    if (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and node.value.args
            and isinstance(node.value.args[0], ast.Name)):
        out = [k.value for k in node.value.keywords if k.arg == "out"]
        if out and isinstance(out[0], ast.Name) and out[0].id == node.value.args[0].id:
            return out[0].id
    return None


_VIEWS = {"reshape", "swapaxes", "transpose", "view", "ravel", "squeeze", "astype", "asarray", "moveaxis",
          "broadcast_to", "expand_dims"}  # calls whose result may be (a view of) their argument


def _may_alias(value: ast.expr) -> bool:
    """Whether an expression's result may share memory with a value it reads (a name, ``x.T``, a reshape)."""
    if isinstance(value, (ast.BinOp, ast.UnaryOp, ast.Constant)):
        return False
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute):
        if value.func.attr in _VIEWS:
            return True
        return not (value.func.attr == "sum" or ast.unparse(value.func).startswith("np."))  # numpy: a new array
    return True


def _escaping(nodes: list, results: list[str]) -> set[str]:
    """The names whose arrays leave the step: returned, stored as a .grad, handed to a Function or an optimizer,
    and whatever they may be views or aliases of."""
    escaping = set(results)
    for node in nodes:
        if node is None:
            continue
        if not (isinstance(node, (ast.Assign, ast.AugAssign)) and _is_pure_assignment(node)) and not _in_place(node):
            escaping |= _names(node, ast.Load)  # handed to a Function, an optimizer, a .grad
        for call in ast.walk(node):
            if isinstance(call, ast.Call) and getattr(call.func, "attr", "") == "_make":
                escaping |= _names(call, ast.Load)
    changed = True
    while changed:  # a view or alias of a value (x.T, x.reshape(...), y = x) escapes with what it flows into
        changed = False
        for node in nodes:
            if isinstance(node, ast.Assign) and _names(node, ast.Store) & escaping and _may_alias(node.value):
                new = _names(node.value, ast.Load) - escaping
                if new:
                    escaping |= new
                    changed = True
    return escaping


def _is_dot(value: ast.expr) -> bool:
    return (isinstance(value, ast.Call) and ast.unparse(value.func) == "np.dot" and len(value.args) == 2
            and not value.keywords)


def _into_buffers(r: _Recorder, lines: list[str], results: list[str]) -> list[str]:
    """An elementwise result that never leaves the step (not returned, not stored as a .grad, not handed to a
    Function) is written into a buffer allocated once, with ``out=``: numpy computes each element the same way
    whatever the output array, so the bits are the same, minus an allocation per value and step. Each rewritten
    line is checked on the capture's arrays all the same."""
    nodes = [_statement(line) for line in lines]
    stores = [name for node in nodes if isinstance(node, ast.Assign) for name in _names(node, ast.Store)]
    escaping = _escaping(nodes, results)
    fresh = {}  # name -> its assignment: an elementwise result or a matrix product, a new array of its own
    for i, node in enumerate(nodes):
        if (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) and len(node.targets) == 1
                and (isinstance(node.value, ast.BinOp) and type(node.value.op) in _UFUNCS
                     or isinstance(node.value, ast.UnaryOp) and isinstance(node.value.op, ast.USub)
                     or _is_dot(node.value))):
            fresh[node.targets[0].id] = i
    out = list(lines)
    for name, i in fresh.items():
        value = r.values.get(name)
        if (name in escaping or stores.count(name) != 1 or not isinstance(value, np.ndarray) or value.ndim == 0
                or name in r.namespace):
            continue
        node = nodes[i].value
        buffer = r._global(f"buffer_{name}", np.empty_like(value))
        if isinstance(node, ast.BinOp):
            call = f"{_UFUNCS[type(node.op)]}({ast.unparse(node.left)}, {ast.unparse(node.right)}, out={buffer})"
        elif isinstance(node, ast.Call):  # np.dot takes out= positionally only
            call = f"np.dot({ast.unparse(node.args[0])}, {ast.unparse(node.args[1])}, {buffer})"
        else:
            call = f"np.negative({ast.unparse(node.operand)}, out={buffer})"
        rewritten = f"{name} = {call}"
        scope = {**r.namespace, **r.values}
        try:
            with np.errstate(all="ignore"):
                exec(lines[i], scope)  # noqa: S102 - the line as it was, on the capture's arrays
        except Exception:  # noqa: BLE001 - it reads what the capture cannot evaluate (an argument's p_t.grad):
            continue  # left as it is
        if r._checked([rewritten], {name: scope[name]}, keep=False):
            out[i] = rewritten
    return out


def _scalars_kept(r: _Recorder, lines: list[str], results: list[str]) -> list[str]:
    """``x = np.asarray(x)`` turns numpy's scalar result (a sum) into the engine's 0-d array. Where x never
    leaves the step and only written-out arithmetic reads it, the scalar gives the same value and dtype for a
    fraction of the time of array calls: the line goes, once every reader gives the same bits with either."""
    nodes = [_statement(line) for line in lines]
    escaping = _escaping(nodes, results)
    out = list(lines)
    for i, node in enumerate(nodes):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        name = node.targets[0].id
        array = r.values.get(name)
        if (ast.unparse(node.value) != f"np.asarray({name})" or name in escaping
                or not isinstance(array, np.ndarray) or array.ndim != 0 or array.dtype.kind != "f"):
            continue
        readers = []
        for later in nodes[i + 1:]:
            if later is not None and name in _names(later, ast.Load):
                readers.append(later)
            if later is not None and name in _names(later, ast.Store):
                break
        if not readers or not all(isinstance(n, ast.Assign) and isinstance(n.value, (ast.BinOp, ast.UnaryOp))
                                  and _is_pure_assignment(n) and name not in _names(n, ast.Store) for n in readers):
            continue
        same = True
        for reader in readers:
            results_of = []
            for value in (array, array[()]):  # the 0-d array, the scalar
                scope = {**r.namespace, **r.values, name: value}
                try:
                    with np.errstate(all="ignore"):
                        exec(ast.unparse(reader), scope)  # noqa: S102 - a line this module wrote
                except Exception:  # noqa: BLE001 - any failure means: keep the array
                    same = False
                    break
                results_of.append([scope[n] for n in sorted(_names(reader, ast.Store))])
            same = same and all(_same_bits(a, b) for a, b in zip(*results_of))
        if same:
            out[i] = None
    return [line for line in out if line is not None]


_NUMBER_NAMES = {0.0: "zero", 0.5: "half", 1.0: "one", 2.0: "two"}
_NUMBER_UFUNCS = {"np.add", "np.subtract", "np.multiply", "np.true_divide", "np.divide", "np.maximum", "np.minimum"}


def _numbers_as_arrays(r: _Recorder, lines: list[str]) -> list[str]:
    """A number written in the code (``x * 0.5``, ``1 - s``) costs numpy about 250 ns more per call than a 0-d
    array of the other operand's dtype, made once (``half``, ``one``): for a Python number numpy works out the
    result's dtype anew at every call. Both give the same bits, the number rounded to that dtype either way; each
    rewritten line is run both ways on copies of the capture's arrays and kept only if they agree bit for bit."""
    made: dict[tuple[float, str], str] = {}

    def as_array(number: ast.expr, other: ast.expr) -> ast.expr:
        """``number`` as the name of a 0-d array, when it is a number and ``other`` a float array (not 0-d)."""
        if not (isinstance(number, ast.Constant) and type(number.value) in (int, float)):
            return number
        value, dtype = float(number.value), _float_array_dtype(r, other)
        if dtype is None or not math.isfinite(value) or float(np.array(value, dtype)) != value:
            return number  # only a number the dtype holds exactly: the 0-d array is then the number itself
        key = (value, dtype.str)
        if key not in made:
            zero_d = np.array(value, dtype)
            zero_d.setflags(write=False)
            stem = _NUMBER_NAMES.get(value, f"number_{value!r}")
            made[key] = r._name(stem if dtype == np.float64 else f"{stem}_{dtype.name}")
            r.namespace[made[key]] = zero_d
        return ast.Name(made[key], ast.Load())

    class Rewrite(ast.NodeTransformer):
        def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
            self.generic_visit(node)
            if type(node.op) in _UFUNCS:  # not **: numpy computes x ** 0.5 as a square root for a number only
                node.left, node.right = as_array(node.left, node.right), as_array(node.right, node.left)
            return node

        def visit_AugAssign(self, node: ast.AugAssign) -> ast.stmt:
            self.generic_visit(node)
            if isinstance(node.target, ast.Name) and type(node.op) in _UFUNCS:
                node.value = as_array(node.value, ast.Name(node.target.id, ast.Load()))
            return node

        def visit_Call(self, node: ast.Call) -> ast.expr:
            self.generic_visit(node)
            if ast.unparse(node.func) in _NUMBER_UFUNCS and len(node.args) == 2:
                node.args = [as_array(node.args[0], node.args[1]), as_array(node.args[1], node.args[0])]
            return node

    out = []
    for line in lines:
        node = _statement(line)
        if node is None or not (_is_pure_assignment(node) or _in_place(node)):
            out.append(line)
            continue
        code, comment = (line.split("  # ", 1) + [""])[:2]
        rewritten = ast.unparse(Rewrite().visit(ast.parse(code)))
        if rewritten == ast.unparse(ast.parse(code)):
            out.append(line)
            continue
        names = _names(node, ast.Store) | _names(node, ast.Load)
        before, after = _run_on_copies(r, code, names), _run_on_copies(r, rewritten, names)
        same = before is not None and after is not None and all(
            _same_bits(before[n], after[n]) for n in names if isinstance(before.get(n), np.ndarray))
        out.append(rewritten + (f"  # {comment}" if comment else "") if same else line)
    return out


def _float_array_dtype(r: _Recorder, expr: ast.expr) -> np.dtype | None:
    """The dtype of an expression of names, attributes (``x.T``) and arithmetic, when the capture's arrays make it
    a float array that is not 0-d; else None."""
    allowed = (ast.Name, ast.BinOp, ast.UnaryOp, ast.Attribute, ast.Constant, ast.operator, ast.unaryop, ast.Load)
    if not all(isinstance(n, allowed) for n in ast.walk(expr)):
        return None
    try:
        with np.errstate(all="ignore"):
            value = eval(ast.unparse(expr), {**r.namespace, **r.values})  # noqa: S307 - an expression we wrote
    except Exception:  # noqa: BLE001 - one the capture cannot evaluate (p_t.grad.data): not rewritten
        return None
    return value.dtype if isinstance(value, np.ndarray) and value.ndim > 0 and value.dtype.kind == "f" else None


def _run_on_copies(r: _Recorder, line: str, names: set[str]) -> dict[str, Any] | None:
    """The scope a line leaves behind, run on copies of the capture's arrays it names (None if it fails)."""
    scope = {**r.namespace, **r.values}
    scope.update((n, scope[n].copy()) for n in names if isinstance(scope.get(n), np.ndarray))
    try:
        with np.errstate(all="ignore"):
            exec(line, scope)  # noqa: S102 - a line this module wrote
    except Exception:  # noqa: BLE001 - it reads what the capture cannot name: left as it is
        return None
    return scope


def _guards(r: _Recorder) -> list[str]:
    """The conditions a replay needs, as Python expressions over the generated function's names."""
    guards = [f"engine.is_grad_enabled() is {engine.is_grad_enabled()}"]  # engine._grad_enabled: slow __getattr__
    tensors: list[str] = []
    for name, v in r.params:
        if isinstance(v, Tensor):  # with whether it had a .grad when the call began (stored into, or added to)
            guards.append(f"isinstance({name}, Tensor)")
            guards += _tensor_guards(r, name, v, r.grad_state[id(v)] is None)
            guards += [f"{name} {'is' if v is w else 'is not'} {other}"  # the same tensor twice, or two tensors
                       for other, w in tensors]
            tensors.append((name, v))
        elif isinstance(v, float):  # by its bytes: 2.0 is not 2, -0.0 not 0.0, nor one NaN another
            guards.append(f"_same_constant({name}, {r._global('key', _constant_key(v, ''))})")
        elif v is None or isinstance(v, (bool, int, str)):
            guards.append(f"type({name}) is {type(v).__name__} and {name} == {v!r}")
        else:
            guards.append(f"_constant_key({name}, '') == {r._global('key', _constant_key(v, ''))}")
    for m, params, children, attributes in r.module_children:
        m_name = _object_name(r, m)
        guards.append(f"{m_name}.training is {m.training}")
        for kind, items in (("_parameters", params), ("_modules", children)):
            for key, obj in items:
                guards.append(f"{m_name}.{kind}.get({key!r}) is {_object_name(r, obj)}")
        for key, value in attributes:  # what forward may read besides them: negative_slope, p, a plain Tensor
            guards.append(_same_value(r, f"{m_name}.__dict__.get({key!r}, MISS)", key, value))
    for t, state in r.entry.values():
        name = _object_name(r, t)
        shape, dtype, requires_grad, no_grad = state
        guards += _tensor_guards(r, name, t, no_grad if id(t) in r.grad_read else None)
    for opt in r.plain_sgd:
        name = _object_name(r, opt)
        guards.append(f"{name}.momentum == 0 and {name}.weight_decay == 0")  # SGD keeps both as floats
    for kind, holder, key, value in r.names_read:
        where = r._global({"cell": f"cell_{key}", "globals": "fn_globals"}.get(kind, kind), holder)
        guards.append(_same_value(r, f"{where}.cell_contents" if kind == "cell" else f"{where}.get({key!r}, MISS)",
                                  key, value))
    optimizers = r.optimizers + [o for o in r.updated if all(o is not p for p in r.optimizers)]
    for opt in optimizers:  # zero_grad and the update were written for these parameters, and no others
        name = _object_name(r, opt)
        guards.append(f"len({name}.params) == {len(opt.params)}")
        guards += [f"{name}.params[{i}] is {_object_name(r, p)}" for i, p in enumerate(opt.params)]
    return guards


def _same_value(r: _Recorder, now: str, key: str, value: Any) -> str:
    """A guard that ``now`` still gives ``value``: the same object, or else a constant of the same exact type and
    value (a float rebound to an equal float need not capture again)."""
    if isinstance(value, (Tensor, Module, Optimizer)):
        return f"{now} is {_object_name(r, value)}"
    name = r._name(f"{key}_at_capture")  # a name of its own, even for an object named already (small ints are)
    r.namespace[name] = value
    try:
        constant = r._name(f"{key}_constant")
        r.namespace[constant] = _constant_key(value, "")
        equal = f" or _same_constant(_now, {constant})"
    except TypeError:  # not a constant (a list, a function): its identity is all a guard can check
        equal = ""
    return f"((_now := {now}) is {name}{equal})"


def _tensor_guards(r: _Recorder, name: str, t: Tensor, no_grad: bool | None) -> list[str]:
    """Shape, dtype and requires_grad of a tensor as the capture saw it, and whether it had a ``.grad``."""
    state = r.entry.get(id(t), (t, (t.data.shape, t.data.dtype, t.requires_grad, None)))[1]
    shape, dtype, requires_grad = state[:3]
    dtype_name = r._literal(np.dtype(dtype), "dtype")  # `is` first: numpy's built-in dtypes are singletons
    guards = [f"{name}.data.shape == {shape!r}",
              f"({name}.data.dtype is {dtype_name} or {name}.data.dtype == {dtype_name})",
              f"{name}.requires_grad {'is' if isinstance(requires_grad, bool) else '=='} {requires_grad!r}"]
    if no_grad is not None:
        guards.append(f"{name}.grad is {'' if no_grad else 'not '}None")
    grad = r.grad_state.get(id(t))
    if no_grad is False and grad is not None:  # a .grad the step reads (adds to, updates with): as it was
        grad_dtype = r._literal(grad[1], "dtype")
        guards += [f"{name}.grad.data.shape == {grad[0]!r}",
                   f"({name}.grad.data.dtype is {grad_dtype} or {name}.grad.data.dtype == {grad_dtype})"]
    return guards


def _grad_state(t: Tensor) -> tuple | None:
    """The shape and dtype of a tensor's ``.grad`` (None without one): a replay that reads it (to add to it, or
    in the update) was written for these, and eager's arithmetic would follow another dtype."""
    return None if t.grad is None else (t.grad.data.shape, t.grad.data.dtype)


def _object_name(r: _Recorder, obj: Any) -> str:
    """The generated code's name for an object it checks: the one it already has, or a new one."""
    if obj is None:
        return "None"
    if isinstance(obj, Tensor) and id(obj) in r.tensor_name and id(obj) not in r.arg_ids:
        return r.tensor_name[id(obj)]
    stem = r.names_of_objects.get(id(obj), type(obj).__name__.lower())
    return r._global(stem + "_t" if isinstance(obj, Tensor) else stem, obj)


# --------------------------------------------------------------------------------------------------------------
# tl.jit
# --------------------------------------------------------------------------------------------------------------


class Jitted:
    """A jitted function: call it like the original. ``captures`` are the kept captures, newest last, and
    ``source`` is the generated step of the newest."""

    def __init__(self, fn: Callable[..., Any], max_captures: int = 8) -> None:
        if max_captures < 1:
            raise ValueError(f"jit: max_captures must be at least 1; got {max_captures}")
        if isinstance(fn, (staticmethod, classmethod)):
            raise TypeError(f"jit: put @tl.jit below @{type(fn).__name__}, so that it wraps the function itself")
        self.fn, self.max_captures = fn, max_captures
        self.__wrapped__ = fn
        self.__name__ = getattr(fn, "__name__", "step")
        self.__doc__ = getattr(fn, "__doc__", None)
        self.captures: list[Capture] = []
        self._newest: Callable[..., Any] = _miss  # the newest capture's step, tried first
        self._newest_arity = -1
        self._lock = threading.Lock()  # replays share Function instances (their saved arrays): one at a time
        self.calls = self.captured = 0
        self._warned = False
        try:
            self._arg_names = list(inspect.signature(fn).parameters)
        except (TypeError, ValueError):
            self._arg_names = []

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        """``@tl.jit`` on a method: each instance gets its own jitted bound method, with captures of its own, whose
        ``self`` (its modules, optimizers and attributes) is found and guarded as for ``tl.jit(obj.method)``. It is
        kept in the instance's ``__dict__`` (by identity, whatever the class's ``==``; freed with the instance)."""
        if obj is None:
            return self
        own = getattr(obj, "__dict__", None)
        if own is None:
            raise TypeError(f"jit: @tl.jit on a method needs instances with a __dict__; {type(obj).__name__} has "
                            "none: jit the bound method instead, tl.jit(obj.method)")
        key = f"_tl_jit_{self.__name__}_{id(self):x}"
        bound = own.get(key)
        if bound is None:
            bound = own[key] = Jitted(types.MethodType(self.fn, obj), self.max_captures)
        return bound

    @property
    def source(self) -> str:
        if not self.captures:
            raise RuntimeError("jit: nothing captured yet: call the function once")
        return self.captures[-1].source

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if engine._observed_threads and engine.current_observer() is not None:  # a replay inside a capture would
            # run code the outer capture never sees (the count first: W1 replays skip the thread-local read)
            raise RuntimeError("jit: a jitted function cannot be called while another one is being captured")
        if not kwargs and len(args) == self._newest_arity:  # the usual call: the newest capture, first
            with self._lock:
                self.calls += 1
                result = self._newest(*args)
                if result is not MISS:
                    return result
                self.calls -= 1
        kwnames = tuple(sorted(kwargs)) if kwargs else ()
        values = args + tuple(kwargs[k] for k in kwnames) if kwargs else args
        with self._lock:
            self.calls += 1
            for capture in reversed(self.captures):  # the newest first; each step checks its own guards
                if capture.kwnames == kwnames and capture.arity == len(values):
                    result = capture.step(*values)
                    if result is not MISS:
                        return result
            return self._capture(args, kwargs, kwnames, values)

    def _capture(self, args: tuple, kwargs: dict, kwnames: tuple, values: tuple) -> Any:
        _check_arguments(args, kwargs)
        modules, optimizers, reachable = _reachable(self.fn)
        names = [self._arg_names[i] if i < len(self._arg_names) and self._arg_names[i] not in kwargs
                 else f"arg{i}" for i in range(len(args))] + list(kwnames)
        fn_name = re.sub(r"\W", "_", self.__name__)
        if not fn_name.isidentifier() or keyword.iskeyword(fn_name) or fn_name in _RESERVED:
            fn_name = "step"
        names_read = _names_read(self.fn, [type(m).forward for m in modules])
        recorder = _Recorder(fn_name, names, list(values), modules, optimizers, names_read)
        with engine.observing(recorder):
            result = self.fn(*args, **kwargs)
        outputs = result if isinstance(result, tuple) else (result,)
        for i, out in enumerate(outputs):
            if not isinstance(out, Tensor):
                raise TypeError(f"jit: the function must return a Tensor or a tuple of Tensors; output {i} is a "
                                f"{type(out).__name__}")
        hidden = [o for o in recorder.updated
                  if all(o is not p for p in optimizers) and all(o is not v for v in values)]
        if hidden:
            raise RuntimeError(
                f"jit: the step updates an optimizer ({type(hidden[0]).__name__}) that it reaches where a replay "
                "cannot check it is still the same (an attribute of a module, say). Keep it in a global or closure "
                "variable, or pass it as an argument."
            )
        capture = Capture(recorder, outputs, isinstance(result, tuple), kwnames)
        recorder.alive.clear()
        arrays_made_inside = [a for a in recorder.raw_arrays if id(a) not in reachable]
        if arrays_made_inside:
            raise RuntimeError(
                f"jit: the step hands an operation a numpy array (shape {arrays_made_inside[0].shape}) that is neither "
                "an argument nor reachable from the function: one computed inside it in numpy, which a replay would "
                "not compute again. Compute it with Tensor operations, or outside and pass it as an argument."
            )
        made_inside = [t for t in recorder.externals  # (a tensor the library wrapped around a reachable array is fine)
                       if id(t) not in reachable and id(t.data) not in reachable]
        if made_inside:
            shapes = ", ".join(str(t.shape) for t in made_inside)
            raise RuntimeError(
                f"jit: the step computes with a tensor (shape {shapes}) that is neither an argument nor reachable "
                "from the function (its globals, closure, defaults, modules, optimizers): one made inside it, such "
                "as a random mask (Dropout in training mode), tl.rand(...) or Tensor(array). A replay would reuse "
                "this call's values. Make it outside and pass it as an argument (or call model.eval())."
            )
        self._remember(capture)
        return result

    def _remember(self, capture: Capture) -> None:
        self.captured += 1
        self.captures.append(capture)
        self._newest = capture.step if not capture.kwnames else _miss
        self._newest_arity = capture.arity
        if len(self.captures) > self.max_captures:  # the oldest capture goes
            self.captures.pop(0)
        if not self._warned and self.calls >= 8 and self.captured > self.calls / 2:
            self._warned = True
            warnings.warn(
                f"jit: {self.__name__} was captured again on {self.captured} of {self.calls} calls: something it "
                "depends on changes from call to call (a float argument, or a global or closure variable the "
                "step reads, such as a learning rate? pass it as a Tensor or set it on the optimizer; a parameter's "
                ".grad set or cleared outside?)",
                RuntimeWarning, stacklevel=3)


def jit(fn: Callable[..., Any] | None = None, *, max_captures: int = 8) -> Any:
    """Capture ``fn`` (Tensors and Python constants in, a Tensor or a tuple of Tensors out) on its first call,
    then replay the generated step while the capture's guards hold. ``@tl.jit`` or
    ``@tl.jit(max_captures=...)``; see the module docstring and docs/jit.md."""
    if fn is None:
        return lambda f: Jitted(f, max_captures)
    return Jitted(fn, max_captures)
