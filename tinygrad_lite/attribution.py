"""Which layer each operation of a recorded graph belongs to: one set of rules for ``viz.draw_graph`` (its clusters)
and ``tl.explain`` (its "layer" column), so that a drawing and a narration never disagree.

The engine records no module information, so an operation is attributed to a submodule *after the fact*, from
the parameters:

1. an operation that takes a parameter of submodule ``m`` (or a tensor computed from ``m``'s parameters only,
   such as ``W.T``) belongs to ``m``;
2. an elementwise operation (its result has the shape of its inputs) whose tensor inputs all come from
   operations of one submodule ``m`` (plus Python constants) belongs to ``m`` too: this puts the sigmoid after a
   Linear into the Linear's layer, while an operation that mixes in an outside tensor (the targets of a loss)
   or reduces (a ``sum``) is left outside.

For exact attribution, run the forward pass inside :func:`trace_modules`: every operation created while a
submodule's ``forward`` runs is then tagged with that submodule (the innermost one), and tags win over rules 1-2.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .nn import Module
from .tensor import Tensor

MODULE_TAG = "_traced_module"  # attribute trace_modules sets on graph nodes: (submodule name, class name)


def named_tensors(params: Module | Mapping[str, Tensor] | None, caller: str) -> dict[int, str]:
    """``id(tensor)`` → name, from a Module (``named_parameters()``) or a name → Tensor mapping. ``caller`` names
    the public function in error messages."""
    if params is None:
        return {}
    if isinstance(params, Module):
        pairs = params.named_parameters()
    elif isinstance(params, Mapping):
        pairs = params.items()
    else:
        raise TypeError(f"{caller}: params must be an nn.Module or a mapping of names to Tensors; got a "
                        f"{type(params).__name__}")
    names: dict[int, str] = {}
    for name, tensor in pairs:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"{caller}: params[{name!r}] is a {type(tensor).__name__}, not a Tensor")
        names.setdefault(id(tensor), str(name))
    return names


@contextlib.contextmanager
def trace_modules(module: Module) -> Iterator[None]:
    """Tag the graph nodes each submodule creates, so drawings and explanations attribute them exactly.

    Inside the ``with`` block each submodule's ``forward`` is wrapped: when it returns, the operations between
    its tensor arguments and its result are tagged with the submodule's dotted name (the innermost submodule
    wins). Operations on tensors that reach ``forward`` other than as arguments are tagged too. Usage::

        with viz.trace_modules(model):
            loss = loss_fn(model(x), y)
        draw_graph(loss, params=model)
    """
    wrapped: list[tuple[Module, Any]] = []  # (submodule, the forward its instance had of its own, or None)
    try:
        for name, sub in module.named_modules():
            if name:  # not the root: its tag would put the whole forward pass in one cluster
                own = vars(sub).get("forward")
                object.__setattr__(sub, "forward", _tagging_forward(sub.forward, (name, type(sub).__name__)))
                wrapped.append((sub, own))
        yield
    finally:
        for sub, own in reversed(wrapped):
            if own is not None:
                object.__setattr__(sub, "forward", own)
            else:
                object.__delattr__(sub, "forward")


def _tagging_forward(forward: Any, tag: tuple[str, str]) -> Any:
    @functools.wraps(forward)
    def tagged(*args: Any, **kwargs: Any) -> Any:
        result = forward(*args, **kwargs)
        stop = {id(t) for t in _tensors_in((args, kwargs))}
        stack = list(_tensors_in(result))
        seen: set[int] = set()
        while stack:
            tensor = stack.pop()
            node = tensor.grad_fn
            if id(tensor) in stop or node is None or id(node) in seen:
                continue
            seen.add(id(node))
            if getattr(node, MODULE_TAG, None) is None:
                setattr(node, MODULE_TAG, tag)
            stack += [t for t in node.inputs if t is not None]
        return result

    return tagged


def _tensors_in(value: Any) -> list[Tensor]:
    """The Tensors in a value: itself, or the items of (nested) tuples, lists and dict values."""
    found: list[Tensor] = []
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, Tensor):
            found.append(v)
        elif isinstance(v, (list, tuple)):
            stack += v
        elif isinstance(v, Mapping):
            stack += list(v.values())
    return found


def tensors_inputs_first(roots: Sequence[Tensor]) -> tuple[list[Tensor], dict[int, Tensor]]:
    """Every tensor behind ``roots``, each after all of its inputs (iterative DFS: deep chains are fine),
    and ``id(node)`` → the tensor it produced."""
    order: list[Tensor] = []
    produced: dict[int, Tensor] = {}
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(r, False) for r in reversed(roots)]
    while stack:
        tensor, inputs_done = stack.pop()
        if inputs_done:
            order.append(tensor)
            continue
        if id(tensor) in visited:
            continue
        visited.add(id(tensor))
        stack.append((tensor, True))
        node = tensor.grad_fn
        if node is not None:
            produced.setdefault(id(node), tensor)
            for parent in reversed(node.inputs):
                if parent is not None and id(parent) not in visited:
                    stack.append((parent, False))
    return order, produced


def operation_modules(order: list[Tensor], names: dict[int, str], module_names: set[str]) -> dict[int, str | None]:
    """``id(node)`` → the submodule its operation belongs to, for every operation in ``order``: its
    :func:`trace_modules` tag when it has one, else rules 1-2 (which need the submodules' names)."""
    inferred = _modules_of_operations(order, names, module_names) if module_names else {}
    modules: dict[int, str | None] = {}
    for tensor in order:
        node = tensor.grad_fn
        if node is not None:
            tag = getattr(node, MODULE_TAG, None)
            modules[id(node)] = tag[0] if tag is not None else inferred.get(id(node))
    return modules


def _modules_of_operations(
    order: list[Tensor], names: dict[int, str], module_names: set[str]
) -> dict[int, str | None]:
    """``id(node)`` → the submodule name its operation belongs to (rules 1-2 of the module docstring)."""
    owner_of_tensor: dict[int, str] = {}  # params, and tensors computed from one submodule's params only
    op_module: dict[int, str | None] = {}
    for tensor in order:
        node = tensor.grad_fn
        if node is None:
            name = names.get(id(tensor))
            module = name.rpartition(".")[0] if name else ""
            if module in module_names and module:
                owner_of_tensor[id(tensor)] = module
            continue
        inputs = [t for t in node.inputs if t is not None]
        direct = [owner_of_tensor[id(t)] for t in inputs if id(t) in owner_of_tensor]
        if direct:
            module = direct[0]
            if len(direct) == len(inputs) and len(set(direct)) == 1:
                owner_of_tensor[id(tensor)] = module  # e.g. W.T: still "the weights of module"
        elif all(t.shape == tensor.shape for t in inputs):  # elementwise: an activation, a scaling
            upstream = {op_module.get(id(t.grad_fn)) if t.grad_fn is not None else None for t in inputs}
            module = upstream.pop() if len(upstream) == 1 else None
        else:  # a reduction or reshape after a layer (a loss, say) is not part of it
            module = None
        op_module[id(node)] = module
    return op_module
