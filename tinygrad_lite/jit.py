"""``tl.jit``: capture a training step once, then replay it without building a graph.

The first call of a jitted function runs it eagerly, as usual, while a recorder (:class:`_Tape`) notes every
operation the engine performs on arrays: each forward, each node's backward, each gradient summed back to its
input's shape (unbroadcast) or added to another, each gradient stored into a leaf's ``.grad``, and each
optimizer update or ``zero_grad``. Values live in numbered registers. Later calls with inputs of the same
shapes and dtypes run only that list of steps on the new inputs' arrays: no Tensors, no nodes, no topological
ordering, no Python code of the function itself. The numpy calls are the same ones in the same order, so the
results are the same as eager, bit for bit.

What a replay cannot see, because it does not run the function's Python code again:

- Python control flow that depends on tensor values (``if loss.item() > 1``) is frozen as it went during
  capture. Reading a value with ``item()``, ``float()``, ``int()``, ``bool()`` or ``tolist()`` during capture
  raises a clear error; reading ``.data`` directly cannot be detected.
- Tensors created inside the function (``Tensor(array)``, ``tl.rand(...)``, dropout masks) are constants of the
  capture: pass anything that changes between calls as an argument.
- Parameters are read afresh at every replay, so an optimizer (which updates ``p.data`` in place) works.

A different shape or dtype of any argument, or a different value of a non-tensor argument, captures again.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from . import engine
from .ops import NUMPY_MATH
from .tensor import Tensor


class _Tape:
    """The recording of one call: ``steps`` are closures over a list of registers (arrays)."""

    def __init__(self, inputs: list[Tensor]) -> None:
        self.steps: list[Callable[[list], None]] = []
        self.register_of: dict[int, int] = {}  # id(Tensor) for forward values, id(array) for gradients
        self.initial: list[Any] = []  # what each register holds before a replay starts: constants
        self.externals: list[tuple[int, Tensor]] = []  # tensors from outside (parameters): read at every replay
        self.alive: list[Any] = []  # every object whose id is a key, so no id is reused during the capture
        self.inputs = [self._new(t, None) for t in inputs]
        self.outputs: Any = None

    def _new(self, obj: Any, initial: Any) -> int:
        self.register_of[id(obj)] = len(self.initial)
        self.initial.append(initial)
        self.alive.append(obj)
        return len(self.initial) - 1

    def _tensor(self, t: Tensor) -> int:
        """The register of a Tensor argument; a tensor not made during the capture is read at every replay."""
        r = self.register_of.get(id(t))
        if r is None:
            r = self._new(t, None)
            self.externals.append((r, t))
        return r

    def _array(self, a: Any, computed: bool = False) -> int:
        """The register of a gradient array. One the capture has not seen is either computed by the step being
        recorded, or a constant of the capture (the root's ones): its captured value is then kept."""
        r = self.register_of.get(id(a))
        return self._new(a, None if computed else a) if r is None else r

    # ---- what the engine reports ----------------------------------------------------------------------------

    def _constant(self, value: Any) -> int:
        self.initial.append(value)
        return len(self.initial) - 1

    def forward(self, ctx: engine.Function, args: tuple, kwargs: dict, result: Tensor) -> None:
        registers = [self._tensor(a) if isinstance(a, Tensor) else self._constant(a) for a in args]
        out = self._new(result, None)
        run_forward, gather = engine.run_forward, operator.itemgetter(*registers)
        if len(registers) == 1:  # itemgetter of one index gives the item itself, not a tuple

            def step(regs: list) -> None:
                regs[out] = run_forward(ctx, (gather(regs),), kwargs)
        else:

            def step(regs: list) -> None:
                regs[out] = run_forward(ctx, gather(regs), kwargs)

        self.steps.append(step)

    def backward(self, node: engine.Function, grad: Any, input_grads: tuple) -> None:
        g = self._array(grad)
        outs = [None if a is None else self._array(a, computed=True) for a in input_grads]

        def step(regs: list) -> None:
            grads = node.backward(node, regs[g])
            node.saved_tensors = ()  # as eager backward releases them: the next replay's forward saves afresh
            for r, a in zip(outs, grads if type(grads) is tuple else (grads,)):
                if r is not None:
                    regs[r] = a

        self.steps.append(step)

    def unbroadcast(self, grad: Any, result: Any, shape: tuple, dtype: np.dtype) -> None:
        src, dst = self._array(grad), self._new(result, None)

        def step(regs: list) -> None:
            regs[dst] = engine._unbroadcast(regs[src], shape, dtype, NUMPY_MATH)

        self.steps.append(step)

    def add(self, a: Any, b: Any, total: Any) -> None:
        ra, rb, rt = self._array(a), self._array(b), self._new(total, None)

        def step(regs: list) -> None:
            regs[rt] = regs[ra] + regs[rb]

        self.steps.append(step)

    def store(self, tensor: Tensor, grad: Any, copy: bool, added: bool) -> None:
        r = self._array(grad)

        def step(regs: list) -> None:
            value = regs[r]
            if added:
                tensor.grad = Tensor._make(tensor.grad.data + value)
            else:
                tensor.grad = Tensor._make(np.array(value) if copy else value)

        self.steps.append(step)

    def call(self, fn: Callable[[], Any]) -> None:
        """A side effect on arrays outside the graph: an optimizer's update, ``zero_grad``."""
        self.steps.append(lambda regs: fn())

    # ---- replay ---------------------------------------------------------------------------------------------

    def replay(self, args: list[Tensor]) -> Any:
        regs = self.initial.copy()
        for r, t in zip(self.inputs, args):
            regs[r] = t.data
        for r, t in self.externals:
            regs[r] = t.data
        for step in self.steps:
            step(regs)
        if isinstance(self.outputs, tuple):
            return tuple(Tensor._make(regs[r]) for r in self.outputs)
        return Tensor._make(regs[self.outputs])


def _signature(args: tuple) -> tuple:
    """What must match for a replay: every Tensor's shape and dtype, every other argument's value."""
    key: list[Hashable] = []
    for i, a in enumerate(args):
        if isinstance(a, Tensor):
            key.append((a.data.shape, a.data.dtype))
        else:
            try:
                hash(a)
            except TypeError:
                raise TypeError(f"jit: argument {i} is a {type(a).__name__}: pass Tensors or hashable Python "
                                "constants") from None
            key.append(("constant", a))
    return tuple(key)


def jit(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Capture ``fn`` (Tensors and Python constants in, a Tensor or a tuple of Tensors out) on its first call
    for each signature, then replay the capture; see the module docstring for what a replay cannot see."""
    tapes: dict[tuple, _Tape] = {}

    @functools.wraps(fn)
    def wrapper(*args: Any) -> Any:
        if engine._tape is not None:  # a replay inside it would run numpy calls the outer capture never sees
            raise RuntimeError("jit: a jitted function cannot be called while another one is being captured")
        key = _signature(args)
        tape = tapes.get(key)
        tensors = [a for a in args if isinstance(a, Tensor)]
        if tape is not None:
            return tape.replay(tensors)
        tape = _Tape(tensors)
        engine._tape = tape
        try:
            result = fn(*args)
        finally:
            engine._tape = None
        outputs = result if isinstance(result, tuple) else (result,)
        for i, out in enumerate(outputs):
            if not isinstance(out, Tensor):
                raise TypeError(f"jit: the function must return a Tensor or a tuple of Tensors; output {i} is a "
                                f"{type(out).__name__}")
        registers = tuple(tape._tensor(out) for out in outputs)
        tape.outputs = registers if isinstance(result, tuple) else registers[0]
        tape.alive.clear()  # ids only had to stay unique while recording
        tapes[key] = tape
        return result

    wrapper.captures = tapes  # type: ignore[attr-defined]  # for tests and curious readers
    return wrapper
