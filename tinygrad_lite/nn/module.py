"""``Parameter``, ``Module`` and ``Sequential``: how a network keeps track of its weights.

A Module registers every :class:`Parameter` and sub-Module assigned to one of its attributes, in assignment
order, so ``named_parameters()`` can walk the tree and name each weight by its path (``layers.0.weight``).
Registered values live both in the registry (``_parameters`` / ``_modules``, for order and names) and in the
instance ``__dict__``, so reading ``self.weight`` in ``forward`` is a plain attribute lookup.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from .. import engine
from ..tensor import Tensor, get_default_dtype


class Parameter(Tensor):
    """A Tensor that a :class:`Module` registers as one of its weights: ``requires_grad=True`` by default.

    Like ``Tensor(data)``, the data is copied; Python floats become the default float dtype.
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None) -> None:
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class _IncompatibleKeys(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of layers and networks. Subclasses call ``super().__init__()``, assign Parameters and
    sub-Modules as attributes, and define ``forward``; calling the module calls ``forward``."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration ---------------------------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        if params is None:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() was called: "
                f"call super().__init__() first in {type(self).__name__}.__init__"
            )
        modules = self.__dict__["_modules"]
        if isinstance(value, Parameter):
            modules.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} as parameter {name!r} of "
                                f"{type(self).__name__} (nn.Parameter or None expected)")
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} as child module {name!r} of "
                                f"{type(self).__name__} (nn.Module or None expected)")
            modules[name] = None
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or a ``None`` placeholder, e.g. a disabled bias) under ``name``."""
        self._register("register_parameter", name, param, Parameter, self._parameters)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as a child named ``name`` (names need not be identifiers, e.g. ``"0"``)."""
        self._register("add_module", name, module, Module, self._modules)

    def _register(self, caller: str, name: str, value: Any, kind: type, registry: OrderedDict) -> None:
        """``value`` of class ``kind`` goes in through ``__setattr__``; ``None`` holds the place in ``registry``
        (so the name keeps its position, and reads as ``None``)."""
        if value is None:
            self._parameters.pop(name, None)
            self._modules.pop(name, None)
            registry[name] = None
            object.__setattr__(self, name, None)
        elif isinstance(value, kind):
            setattr(self, name, value)
        else:
            raise TypeError(f"{caller}: {name!r} must be an nn.{kind.__name__} or None; got {type(value).__name__}")

    # ---- forward --------------------------------------------------------------------------------------------

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation of this module, defined by each subclass; ``module(x)`` calls it."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    @property
    def __call__(self) -> Callable[..., Any]:
        """Calling a module runs its ``forward``: ``module(x)`` is ``module.forward(x)``, with nothing in between
        (no hooks, unlike PyTorch), so the property hands out the bound ``forward`` itself."""
        return self.forward

    # ---- walking the tree -----------------------------------------------------------------------------------

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, parameter)`` pairs, this module's own first, then each child's in order. A parameter
        shared by several modules is listed once (under its first name) unless ``remove_duplicate=False``."""
        seen: set[int] = set()
        modules = self.named_modules(prefix, remove_duplicate) if recurse else iter([(prefix, self)])
        for module_prefix, module in modules:
            for name, param in module._parameters.items():
                if param is None or (remove_duplicate and id(param) in seen):
                    continue
                seen.add(id(param))
                yield (f"{module_prefix}.{name}" if module_prefix else name), param

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """The parameters of :meth:`named_parameters`, without their names (what an optimizer takes)."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """``(name, module)`` for each direct sub-module, in the order they were assigned."""
        for name, module in self._modules.items():
            if module is not None:
                yield name, module

    def children(self) -> Iterator[Module]:
        """The direct sub-modules, in the order they were assigned."""
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix: str = "", remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """This module (named ``prefix``) and every descendant, depth first; a module reachable by several
        paths is listed once unless ``remove_duplicate=False``."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if remove_duplicate and id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module.named_children()]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        """The modules of :meth:`named_modules`, without their names: this one first."""
        for _, module in self.named_modules():
            yield module

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every child (recursively) and then on this module, e.g. for custom initialisation."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ---- modes and gradients --------------------------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=True``) or evaluation mode on this module and all its descendants. Only
        some layers behave differently (``Dropout``)."""
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode must be a bool; got {mode!r}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: the same as ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Switch gradient tracking of every parameter on or off (e.g. to freeze part of a network)."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def to(self, dtype: Any) -> Module:
        """Convert every parameter (and its gradient) to the float ``dtype``, in place, as PyTorch's
        ``module.to(dtype)``. Do it before making the optimizer: its state keeps the old dtype."""
        dtype = _default_float_dtype(dtype)
        for param in self.parameters():
            param.data = param.data.astype(dtype, copy=False)
            if param.grad is not None:
                param.grad = Tensor._make(param.grad.data.astype(dtype, copy=False))
        return self

    def double(self) -> Module:
        """``to(float64)``."""
        return self.to(np.float64)

    def float(self) -> Module:
        """``to(float32)``."""
        return self.to(np.float32)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of all parameters: set them to ``None`` (default) or to zeros."""
        engine.zero_grad(self.parameters(), set_to_none)

    # ---- state ----------------------------------------------------------------------------------------------

    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Every parameter by dotted name, as a numpy copy (later training does not change it). A parameter
        shared by several modules appears under each of its names, as in PyTorch."""
        return OrderedDict(
            (name, param.data.copy()) for name, param in self.named_parameters(remove_duplicate=False)
        )

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> _IncompatibleKeys:
        """Copy values (numpy arrays or Tensors) into the parameters of the same names, in place and in each
        parameter's own dtype. Nothing is changed unless every value fits.

        Raises ``RuntimeError`` listing every problem at once: with ``strict`` (default) missing and unexpected
        keys; always, values whose shape differs from the parameter's or that are not numbers. Returns the
        ``(missing_keys, unexpected_keys)`` named tuple.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected a mapping of names to arrays; got {type(state_dict).__name__}")
        params = OrderedDict(self.named_parameters(remove_duplicate=False))
        missing = [name for name in params if name not in state_dict]
        unexpected = [str(name) for name in state_dict if name not in params]
        problems = ["  missing keys: " + ", ".join(missing)] if strict and missing else []
        if strict and unexpected:
            problems.append("  unexpected keys: " + ", ".join(unexpected))
        updates: list[tuple[Parameter, np.ndarray]] = []
        for name, param in params.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            array = np.asarray(value.data if isinstance(value, Tensor) else value)
            if array.dtype.kind not in "biuf":
                problems.append(f"  {name}: value of dtype {array.dtype} is not numeric")
            elif array.shape != param.shape:
                problems.append(f"  {name}: shape {array.shape} in the state dict, {param.shape} in the model")
            else:
                updates.append((param, array))
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n" + "\n".join(problems))
        for param, array in updates:
            if param.data.flags.writeable:
                np.copyto(param.data, array, casting="unsafe")
            else:
                param.data = array.astype(param.dtype)
        return _IncompatibleKeys(missing, unexpected)

    # ---- printing -------------------------------------------------------------------------------------------

    def extra_repr(self) -> str:
        """The text inside this module's parentheses in ``repr`` (its settings); empty by default."""
        return ""

    def __repr__(self) -> str:
        lines = [line for line in self.extra_repr().split("\n") if line]
        for name, module in self._modules.items():
            text = repr(module).replace("\n", "\n  ")
            lines.append(f"({name}): {text}")
        if not self._modules:
            return f"{type(self).__name__}({self.extra_repr()})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"


class Sequential(Module):
    """Modules applied one after another: ``Sequential(Linear(4, 5), Sigmoid())(x)``. Children are named
    ``"0"``, ``"1"``, ... (or by the keys of an ordered dict passed as the only argument)."""

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], Mapping):
            items = list(modules[0].items())
        else:
            items = [(str(i), m) for i, m in enumerate(modules)]
        for name, module in items:
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: element {name} is a {type(module).__name__}, not an nn.Module")
            self.add_module(name, module)

    def forward(self, x: Any) -> Any:
        """Each child applied to the previous one's output, in order."""
        for module in self._modules.values():
            x = module.forward(x)  # what module(x) runs (see Module.__call__)
        return x

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index: int | slice) -> Module:
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        if not isinstance(index, (int, np.integer)) or not -len(items) <= index < len(items):
            raise IndexError(f"Sequential: index {index!r} is out of range for {len(items)} modules")
        return items[index][1]

    def append(self, module: Module) -> Sequential:
        """Add ``module`` at the end (named by its position) and return this Sequential."""
        self.add_module(str(len(self)), module)
        return self


def _default_float_dtype(dtype: Any) -> np.dtype:
    """``dtype`` as a numpy float dtype, or the default float dtype when it is None."""
    dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"parameters must have a floating-point dtype; got {dtype}")
    return dtype
