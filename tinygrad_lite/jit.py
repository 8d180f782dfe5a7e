"""``tl.jit``: a training step captured once, written down as one function of numpy code, replayed from it.

**Capture.** The first call runs the function eagerly while a :class:`_Recorder`, installed through the engine's
one seam (:class:`engine.Observer`), writes down every array computation the engine reports, in order: each
Function's forward, each node's backward, each gradient unbroadcast, added, or stored into a ``.grad``, each
``zero_grad`` and each optimizer update. The engine's rule (its module docstring) is that a step computes on
arrays nowhere else, so the list is the whole step.

**Program → code.** Each report becomes one line of Python that calls the same numpy code on the same kind of
values: ``sigmoid3 = Sigmoid.forward(op3, linear2)``, ``grad_w0 = unbroadcast(grad_w0_1, ...)``,
``w0_t.grad = Tensor._make(grad_w0)``, ``opt0._update()``. Values get names from the parameters they hold
(``w0`` for ``0.weight``) or the operation that made them. The lines become the source of one function,
compiled once; every replay is one call of it, with no Tensors, no graph and none of the user's Python. The
calls are the same ones in the same order as eager, so the results are the same, bit for bit.

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

import inspect
import keyword
import math
import re
import threading
import types
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from . import engine
from .ops import NUMPY_MATH
from .tensor import Tensor

__all__ = ["jit", "Jitted"]


# --------------------------------------------------------------------------------------------------------------
# What a call depends on, besides the parameters: its arguments and grad mode
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
    return type(value), (repr(value) if isinstance(value, float) else value)


def _signature(args: tuple, kwargs: dict) -> tuple[tuple, list[Tensor]]:
    """The cache key of a call, and its Tensor arguments in order (positional, then keywords by name)."""
    key: list[Any] = [engine.is_grad_enabled()]
    tensors: list[Tensor] = []
    named = [(f"argument {i}", a) for i, a in enumerate(args)]
    named += [(f"argument {name!r}", kwargs[name]) for name in sorted(kwargs)]
    for (where, a), name in zip(named, [None] * len(args) + sorted(kwargs)):
        if isinstance(a, Tensor):
            alias = next((i for i, t in enumerate(tensors) if t is a), -1)  # the same tensor passed twice
            key.append((name, a.data.shape, a.data.dtype, a.requires_grad, a.grad is None, alias))
            tensors.append(a)
        else:
            key.append((name, _constant_key(a, where)))
    return tuple(key), tensors


def _reachable(fn: Callable, depth: int = 3) -> tuple[list, list, set]:
    """The modules, optimizers and ids of tensors ``fn`` can reach through its closure, defaults, bound ``self`` and the
    globals its code names (and, a few levels deep, those of the functions it reaches the same way)."""
    from .nn.module import Module
    from .optim import Optimizer

    modules: dict[int, Any] = {}
    optimizers: dict[int, Any] = {}
    tensors: set[int] = set()
    seen: set[int] = set()

    def visit(obj: Any, level: int) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, Tensor):
            tensors.add(id(obj))
        elif isinstance(obj, Module):
            for m in obj.modules():
                modules[id(m)] = m
                tensors.update(id(v) for v in vars(m).values() if isinstance(v, Tensor))
        elif isinstance(obj, Optimizer):
            optimizers[id(obj)] = obj
            tensors.update(id(p) for p in obj.params)
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
        elif level > 0 and hasattr(obj, "func") and hasattr(obj, "args"):  # functools.partial
            visit(obj.func, level)
            for a in obj.args:
                visit(a, level - 1)
        elif isinstance(obj, dict) and level > 0:
            for value in list(obj.values())[:64]:
                visit(value, level - 1)
        elif level > 0 and hasattr(obj, "__dict__") and not isinstance(obj, (type, types.ModuleType)):
            visit(vars(obj), level)  # an object holding a model and its optimizer

    visit(fn, depth)
    for m in modules.values():
        tensors.update(id(p) for p in m._parameters.values())
    return list(modules.values()), list(optimizers.values()), tensors


def _parameter_names(modules: list) -> dict[int, str]:
    """Short variable names for parameters: ``w0`` for ``0.weight``, ``b_fc1`` for ``fc1.bias``."""
    names: dict[int, str] = {}
    tops = [m for m in modules if not any(m is not n and m in list(n.modules()) for n in modules)]
    for top in tops:
        for path, p in top.named_parameters():
            *prefix, last = path.split(".")
            stem = {"weight": "w", "bias": "b"}.get(last, last)
            joined = "_".join(prefix)
            names.setdefault(id(p), stem + (joined if joined[:1].isdigit() else ("_" + joined if joined else "")))
    return names


# --------------------------------------------------------------------------------------------------------------
# The recorder: engine reports → lines of Python
# --------------------------------------------------------------------------------------------------------------

_LITERALS = (bool, int, str, type(None))


class _Recorder(engine.Observer):
    """Writes the step down as it runs: one line of Python per report, over named values."""

    def __init__(self, fn_name: str, arg_names: list[str], inputs: list[Tensor], modules: list,
                 optimizers: list) -> None:
        self.fn_name = fn_name
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {"Tensor": Tensor, "np": np, "zero_grad": engine.zero_grad,
                                          "run_forward": engine.run_forward, "unbroadcast": _unbroadcast}
        self.used: set[str] = set(self.namespace) | set(keyword.kwlist)
        self.value_of: dict[int, str] = {}  # id(Tensor) made or read by the step -> its array's name
        self.array_of: dict[int, str] = {}  # id(ndarray) of every array the step made or read -> its name
        self.tensor_name: dict[int, str] = {}  # id(Tensor) whose object the step uses (.grad) -> its name
        self.grad_set: set[int] = set()  # tensors whose .grad the step set before reading it (zero_grad, store)
        self.grad_read: set[int] = set()  # tensors whose .grad (whether there is one) the step read first
        self.op_name: dict[int, str] = {}  # id(Function instance) -> its name
        self.arg_ids = {id(t) for t in inputs}
        self.alive: list[Any] = []  # every object whose id is a key: no id is reused while recording
        self.param_names = _parameter_names(modules)
        self.entry: dict[int, tuple] = {}  # id(Tensor) -> (tensor, its state when the call began)
        self.made: dict[int, weakref.ref] = {}  # tensors the step made: the results of forwards
        self.externals: list[Tensor] = []  # tensors read from outside: parameters
        self.modules, self.optimizers = modules, optimizers
        self.training = [m.training for m in modules]
        self.module_params = [(m, tuple(m._parameters.items())) for m in modules]
        self.params: list[str] = []
        self.prologue: list[str] = []
        for name, t in zip(arg_names, inputs):
            array = self._name(name)
            self.params.append(array + "_t")
            self.used.add(array + "_t")
            self._bind_tensor(t, array)
            self.prologue.append(f"{array} = {array}_t.data")
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

    def _global(self, stem: str, value: Any) -> str:
        name = self._name(stem)
        self.namespace[name] = value
        return name

    def _bind_tensor(self, t: Tensor, array_name: str) -> None:
        self.value_of[id(t)] = array_name
        self.array_of[id(t.data)] = array_name
        self.tensor_name[id(t)] = array_name + "_t"
        self.alive += [t, t.data]

    def _snapshot(self, t: Tensor) -> None:
        if id(t) not in self.entry and id(t) not in self.arg_ids:  # arguments are checked by the cache key
            self.entry[id(t)] = (t, (t.data.shape, t.data.dtype, t.requires_grad, t.grad is None))

    def _tensor(self, t: Tensor) -> str:
        """The name of a Tensor's array; a tensor the step has not seen is read from outside at every call."""
        name = self.value_of.get(id(t))
        if name is None:
            self._snapshot(t)
            name = self._name(self.param_names.get(id(t), "t"))
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
            self.array_of[id(a)] = name
            self.alive.append(a)
        return name

    def _result(self, a: Any, stem: str) -> str:
        name = self._name(stem)
        self.array_of[id(a)] = name
        self.alive.append(a)
        return name

    def _literal(self, value: Any, stem: str) -> str:
        if isinstance(value, _LITERALS) or (isinstance(value, float) and math.isfinite(value)):
            return repr(value)
        if isinstance(value, tuple) and all(isinstance(v, _LITERALS) for v in value):
            return repr(value)
        if isinstance(value, np.dtype):
            return self._global(str(value), value)
        return self._global(getattr(value, "__name__", stem), value)

    # ---- what the engine reports ------------------------------------------------------------------------------

    def forward(self, ctx: engine.Function, args: tuple, kwargs: dict, result: Tensor) -> None:
        cls = type(ctx).__name__
        op = self.op_name[id(ctx)] = self._global(f"op{len(self.op_name)}", ctx)
        klass = self.namespace.get(cls)
        cls_name = cls if klass is type(ctx) else self._global(cls, type(ctx))
        self.namespace[cls_name] = type(ctx)
        values = [self._tensor(a) if isinstance(a, Tensor) else self._literal(a, "c") for a in args]
        out = self._name(cls.lower())
        self.value_of[id(result)] = out
        self.array_of[id(result.data)] = out
        self.made[id(result)] = weakref.ref(result)
        self.alive += [result, result.data]
        if result.data.ndim == 0:  # numpy may give a scalar here: run_forward turns it into an array as eager
            kw = self._global("kw", kwargs)
            call = f"run_forward({op}, ({', '.join(values)},), {kw})"
        else:
            kw = "".join(f", {k}={self._literal(v, k)}" for k, v in kwargs.items())
            call = f"{cls_name}.forward({op}, {', '.join(values)}{kw})"
        self.lines.append(f"{out} = {call}")

    def backward(self, node: engine.Function, grad: Any, returned: Any) -> None:
        cls, op = type(node), self.op_name[id(node)]
        g = self._array(grad)
        grads = returned if type(returned) is tuple else (returned,)
        outs = []
        for t, a in zip(node.inputs, grads):
            if a is None or t is None:
                outs.append("_")
            else:
                outs.append(self._result(a, "grad_" + self.value_of.get(id(t), "x")))
        targets = ", ".join(outs) + ("," if type(returned) is tuple and len(outs) == 1 else "")
        self.lines.append(f"{targets} = {self.namespace_name(cls)}.backward({op}, {g})")
        if node.saved_tensors:
            self.lines.append(f"{op}.saved_tensors = ()  # released, as eager backward does")

    def namespace_name(self, cls: type) -> str:
        return next(k for k, v in self.namespace.items() if v is cls)

    def unbroadcast(self, grad: Any, result: Any, shape: tuple, dtype: np.dtype) -> None:
        g = self._array(grad)
        out = self._result(result, g.rsplit("_", 1)[0] if g.startswith("grad_") else "grad")
        self.lines.append(f"{out} = unbroadcast({g}, {shape!r}, {self._literal(np.dtype(dtype), 'dtype')})")

    def add(self, a: Any, b: Any, total: Any) -> None:
        na, nb = self._array(a), self._array(b)
        out = self._result(total, na.rsplit("_", 1)[0] if na.startswith("grad_") else "grad")
        self.lines.append(f"{out} = {na} + {nb}")

    def store(self, tensor: Tensor, grad: Any, copy: bool, added: bool) -> None:
        if id(tensor) in self.made:
            self.unsupported("retain_grad() on a tensor made inside the function")
        if id(tensor) not in self.entry and id(tensor) not in self.arg_ids:  # first seen: .grad existed iff added
            self.entry[id(tensor)] = (tensor, (tensor.data.shape, tensor.data.dtype, tensor.requires_grad, not added))
        t, g = self._tensor_object(tensor), self._array(grad)
        self._reads_grad(tensor)
        self.grad_set.add(id(tensor))
        if added:
            self.lines.append(f"{t}.grad = Tensor._make({t}.grad.data + {g})")
        else:
            self.lines.append(f"{t}.grad = Tensor._make({'np.array(' + g + ')' if copy else g})")

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
            self.lines += [f"{t}.grad = None" for t in names]
        else:
            self.lines.append(f"zero_grad(({', '.join(names)},), set_to_none=False)")

    def update(self, optimizer: Any) -> None:
        for p in optimizer.params:  # the update skips a parameter without a gradient
            self._snapshot(p)
            self._tensor_object(p)
            self._reads_grad(p)
        name = self._global("opt", optimizer)
        self.lines.append(f"{name}._update()  # {type(optimizer).__name__}: reads lr & co. at every call")

    def value_read(self, what: str) -> None:
        raise RuntimeError(
            f"jit: {what} reads a tensor's value while the function is being captured, and a replay does not run "
            "that Python code again. Move it out of the jitted function (return the tensor and read it there)."
        )

    def unsupported(self, what: str) -> None:
        raise RuntimeError(f"jit: {what} inside a jitted function is not supported")


def _unbroadcast(grad: np.ndarray, shape: tuple, dtype: np.dtype) -> np.ndarray:
    return engine._unbroadcast(grad, shape, dtype, NUMPY_MATH)


# --------------------------------------------------------------------------------------------------------------
# A capture: the compiled step and its guards
# --------------------------------------------------------------------------------------------------------------


class Capture:
    """One captured call: ``source`` (the generated step), ``step`` (it, compiled) and the guards."""

    def __init__(self, recorder: _Recorder, outputs: tuple[Tensor, ...], is_tuple: bool) -> None:
        names = [recorder.value_of.get(id(o)) or recorder._tensor(o) for o in outputs]
        ret = ", ".join(f"Tensor._make({n})" for n in names) + ("," if is_tuple and len(names) == 1 else "")
        body = recorder.prologue + recorder.lines + [f"return {ret if is_tuple else ret.rstrip(',')}"]
        self.source = f"def {recorder.fn_name}({', '.join(recorder.params)}):\n" + "".join(
            f"    {line}\n" for line in body)
        namespace = dict(recorder.namespace)
        exec(compile(self.source, f"<tl.jit {recorder.fn_name}>", "exec"), namespace)  # noqa: S102 - our own code
        self.step: Callable[..., Any] = namespace[recorder.fn_name]
        # guards: every tensor read from outside, as it was when the call began; modules as they were
        # whether a .grad exists matters only where the step reads that before setting it
        self.tensor_guards = [(t, (*state[:3], state[3] if id(t) in recorder.grad_read else None))
                              for t, state in recorder.entry.values()]
        self.module_guards = [(m, training, params)
                              for m, training, (_, params) in zip(recorder.modules, recorder.training,
                                                                  recorder.module_params)]

    def holds(self) -> bool:
        """Whether everything the capture depended on (besides the arguments, in the cache key) still holds."""
        for m, training, params in self.module_guards:
            if m.training is not training or len(m._parameters) != len(params):
                return False
            current = m._parameters
            for name, p in params:
                if current.get(name) is not p:
                    return False
        for t, (shape, dtype, requires_grad, no_grad) in self.tensor_guards:
            data = t.data
            if (data.shape != shape or data.dtype != dtype or t.requires_grad != requires_grad
                    or (no_grad is not None and (t.grad is None) is not no_grad)):
                return False
        return True


# --------------------------------------------------------------------------------------------------------------
# tl.jit
# --------------------------------------------------------------------------------------------------------------


class Jitted:
    """A jitted function: call it like the original. ``captures`` are the kept captures, newest last, and
    ``source`` is the generated step of the newest."""

    def __init__(self, fn: Callable[..., Any], max_captures: int = 8) -> None:
        if max_captures < 1:
            raise ValueError(f"jit: max_captures must be at least 1; got {max_captures}")
        self.fn, self.max_captures = fn, max_captures
        self.__wrapped__ = fn
        self.__name__ = getattr(fn, "__name__", "step")
        self.__doc__ = getattr(fn, "__doc__", None)
        self._by_key: dict[tuple, list[Capture]] = {}
        self.captures: list[Capture] = []
        self._lock = threading.Lock()  # replays share Function instances (their saved arrays): one at a time
        self.calls = self.captured = 0
        self._warned = False
        try:
            self._arg_names = list(inspect.signature(fn).parameters)
        except (TypeError, ValueError):
            self._arg_names = []

    @property
    def source(self) -> str:
        if not self.captures:
            raise RuntimeError("jit: nothing captured yet: call the function once")
        return self.captures[-1].source

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if engine.current_observer() is not None:  # its replay would run code the outer capture never sees
            raise RuntimeError("jit: a jitted function cannot be called while another one is being captured")
        key, tensors = _signature(args, kwargs)
        with self._lock:
            self.calls += 1
            for capture in self._by_key.get(key, ()):
                if capture.holds():
                    return capture.step(*tensors)
            return self._capture(key, tensors, args, kwargs)

    def _capture(self, key: tuple, tensors: list[Tensor], args: tuple, kwargs: dict) -> Any:
        modules, optimizers, reachable = _reachable(self.fn)
        names = [self._arg_names[i] if i < len(self._arg_names) and self._arg_names[i] not in kwargs
                 else f"arg{i}" for i in range(len(args))]
        names = [n for n, a in zip(names, args) if isinstance(a, Tensor)]
        names += [k for k in sorted(kwargs) if isinstance(kwargs[k], Tensor)]
        fn_name = re.sub(r"\W", "_", self.__name__)
        if not fn_name.isidentifier() or keyword.iskeyword(fn_name):
            fn_name = "step"
        recorder = _Recorder(fn_name, names, tensors, modules, optimizers)
        with engine.observing(recorder):
            result = self.fn(*args, **kwargs)
        outputs = result if isinstance(result, tuple) else (result,)
        for i, out in enumerate(outputs):
            if not isinstance(out, Tensor):
                raise TypeError(f"jit: the function must return a Tensor or a tuple of Tensors; output {i} is a "
                                f"{type(out).__name__}")
        capture = Capture(recorder, outputs, isinstance(result, tuple))
        recorder.alive.clear()
        made_inside = [t for t in recorder.externals if id(t) not in reachable]
        if made_inside:
            shapes = ", ".join(str(t.shape) for t in made_inside)
            raise RuntimeError(
                f"jit: the step computes with a tensor (shape {shapes}) that is neither an argument nor reachable "
                "from the function (its globals, closure, defaults, modules, optimizers): one made inside it, such "
                "as a random mask (Dropout in training mode), tl.rand(...) or Tensor(array). A replay would reuse "
                "this call's values. Make it outside and pass it as an argument (or call model.eval())."
            )
        self._remember(key, capture)
        return result

    def _remember(self, key: tuple, capture: Capture) -> None:
        self.captured += 1
        self._by_key.setdefault(key, []).insert(0, capture)
        self.captures.append(capture)
        if len(self.captures) > self.max_captures:  # the oldest capture goes
            oldest = self.captures.pop(0)
            for k, kept in list(self._by_key.items()):
                if oldest in kept:
                    kept.remove(oldest)
                    if not kept:
                        del self._by_key[k]
        if not self._warned and self.calls >= 8 and self.captured > self.calls / 2:
            self._warned = True
            warnings.warn(
                f"jit: {self.__name__} was captured again on {self.captured} of {self.calls} calls: something it "
                "depends on changes from call to call (a float argument such as a learning rate? pass it as a "
                "Tensor or set it on the optimizer; a parameter's .grad set or cleared outside?)",
                RuntimeWarning, stacklevel=3)


def jit(fn: Callable[..., Any] | None = None, *, max_captures: int = 8) -> Any:
    """Capture ``fn`` (Tensors and Python constants in, a Tensor or a tuple of Tensors out) on its first call,
    then replay the generated step while the capture's guards hold. ``@tl.jit`` or
    ``@tl.jit(max_captures=...)``; see the module docstring and docs/jit.md."""
    if fn is None:
        return lambda f: Jitted(f, max_captures)
    return Jitted(fn, max_captures)
