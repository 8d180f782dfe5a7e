"""The autodiff engine: how operations are recorded, and how the chain rule runs backwards.

Everything the engine does fits in four ideas:

1. **Recording.** Every differentiable operation is a :class:`Function`. Calling ``SomeOp.apply(...)`` runs its
   ``forward`` on numpy arrays and, when gradients are wanted, keeps the Function instance as the graph node of
   the result: it remembers its inputs and whatever ``forward`` saved for ``backward``.
2. **Order.** A tensor's gradient is complete only once every tensor computed from it has passed its gradient
   back. Each node carries a sequence number from when it was recorded, always larger than its inputs' nodes';
   ``backward()`` runs nodes from the newest to the oldest (a heap, no recursion, so deep graphs are fine),
   which is a reverse topological order of the graph.
3. **Chain rule.** Walking that order, each node turns the gradient of its output into gradients of its inputs;
   the gradients of a tensor used in several places are added up; leaves keep theirs in ``.grad``.
4. **Broadcasting's reverse.** An input that numpy broadcast gets a gradient of the broadcast shape; the engine
   sums it back to the input's shape in one place, :func:`_unbroadcast`, so no operation repeats that logic.

Higher-order derivatives come for free: with ``create_graph=True`` the same backward formulas run on Tensors
instead of numpy arrays, so the backward pass is itself recorded and can be differentiated again.

**One rule, one seam.** Every array computation of a training step happens in one of five places: a
:class:`Function`'s forward, a node's backward, the engine's handling of gradients (unbroadcast, adding two,
storing into ``.grad``), :func:`zero_grad`, or an optimizer update run through :func:`run_update`. Nothing
else in the package computes on a Tensor's array (that is why comparisons and ``argmax`` are Functions too).
So an :class:`Observer` installed with :func:`observing` sees the whole step; ``tl.jit`` is built on it, and
``tests/test_jit_seam.py`` enforces the rule.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import itertools
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from heapq import heappop, heappush
from typing import Any

import numpy as np

from .errors import AxisError, ShapeError, format_shapes

# --------------------------------------------------------------------------------------------------------------
# Gradient mode: one per thread, as in PyTorch
# --------------------------------------------------------------------------------------------------------------


class _GradState(threading.local):
    enabled = True  # every thread starts recording; no_grad in one thread does not touch another


_grad_state = _GradState()
# How many threads have recording switched off right now. While none has, every thread records, and apply reads
# this one global instead of its thread-local mode: a thread-local read on every operation costs W1 eager ~2 %.
_threads_not_recording = 0
_threads_not_recording_lock = threading.Lock()


def is_grad_enabled() -> bool:
    """Whether operations on tensors that require gradients are being recorded in this thread."""
    return _grad_state.enabled


def _set_grad_enabled(enabled: bool) -> bool:
    """Switch this thread's recording on or off; returns how it was."""
    global _threads_not_recording
    previous = _grad_state.enabled
    if enabled != previous:
        with _threads_not_recording_lock:
            _threads_not_recording += -1 if enabled else 1
        _grad_state.enabled = enabled
    return previous


class _GradMode:
    """Sets this thread's gradient recording on or off inside a ``with`` block or a decorated function."""

    enabled: bool

    def __enter__(self) -> None:
        self._previous = _set_grad_enabled(self.enabled)

    def __exit__(self, *exc: object) -> None:
        _set_grad_enabled(self._previous)

    def __call__(self, fn: Callable) -> Callable:
        mode = type(self)
        if inspect.isgeneratorfunction(fn):  # calling it only creates the generator: the mode must cover each step

            @functools.wraps(fn)
            def generator(*args: Any, **kwargs: Any) -> Any:
                return (yield from _each_step_in_mode(mode, fn(*args, **kwargs)))

            return generator

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with mode():
                return fn(*args, **kwargs)

        return wrapper


def _each_step_in_mode(mode: type[_GradMode], gen: Any) -> Any:
    """Drive ``gen`` with ``mode`` set while it runs (each ``next``, ``send`` and ``throw``) and the caller's own
    mode while the caller runs between two steps."""
    advance, value = gen.send, None
    while True:
        try:
            with mode():
                request = advance(value)
        except StopIteration as stop:
            return stop.value
        try:
            value = yield request
            advance = gen.send
        except GeneratorExit:
            with mode():
                gen.close()
            raise
        except BaseException as error:  # thrown in by the caller: the generator handles it, in its mode
            advance, value = gen.throw, error


class no_grad(_GradMode):  # noqa: N801 - named like torch.no_grad
    """Context manager and decorator: record nothing (inference, optimizer updates)."""

    enabled = False


class enable_grad(_GradMode):  # noqa: N801 - named like torch.enable_grad
    """Context manager and decorator: record again, e.g. inside a ``no_grad`` block."""

    enabled = True


# --------------------------------------------------------------------------------------------------------------
# Function: one recorded operation, and the node it leaves in the graph
# --------------------------------------------------------------------------------------------------------------

_RELEASED = object()  # marks a node whose saved arrays were freed by a backward without retain_graph


class Function:
    """A differentiable operation. Subclass it with two static methods:

    - ``forward(ctx, *args, **kwargs)`` computes the result from numpy arrays (each Tensor argument arrives as
      its ``.data``) and may call ``ctx.save_for_backward(...)``.
    - ``backward(ctx, grad_output)`` returns the gradient for each positional argument of ``forward`` (a tuple,
      or a single value when there is one argument; ``None`` for arguments that are not Tensors).

    ``backward`` receives numpy arrays. When a caller asks for ``create_graph=True`` it receives Tensors instead
    (``ctx.saved_tensors`` then holds the input and output Tensors in place of their arrays), so the formula,
    written once with operators and the functions of ``ctx.xp``, is recorded and can be differentiated again.

    The instance is both PyTorch's ``ctx`` and the graph node: ``tensor.grad_fn`` returns it.
    """

    # inputs: one entry per positional argument of forward, the Tensor or None
    # needs_input_grad: one entry per positional argument of forward: is it a Tensor that wants a gradient?
    #   (lets backward skip work, e.g. the matmul that would give the gradient of a constant input)
    # saved_tensors: what forward saved for backward (_RELEASED once freed)
    # seq: when the node was recorded; a node is always recorded after the nodes of its inputs, and an in-place
    #   change after the node has a larger number (see mark_modified)
    __slots__ = ("inputs", "needs_input_grad", "saved_tensors", "seq", "__dict__")

    # The array namespace backward formulas are written against (ctx.xp.exp, ctx.xp.where, ...). Its default,
    # ops.NUMPY_MATH, is assigned by ops.py right where it is defined (ops imports this module, so the engine
    # cannot name it here); _backward_on_tensors gives a node ops.TENSOR_MATH while it runs under create_graph.
    xp: Any
    differentiable = True  # False for operations whose result never carries a gradient (comparisons, argmax)
    # For create_graph: a float array forward saved that is neither an input nor the output would be a constant
    # in the second derivative. True declares that right (masks and tie-sharing weights: their derivative is
    # zero almost everywhere); otherwise such a backward is refused under create_graph.
    saves_constants = False
    # True refuses create_graph through this operation (PyTorch's once_differentiable): its backward is not
    # written to be differentiated again.
    once_differentiable = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Check the contract where it is written: without ``@staticmethod`` the call ``forward(ctx, ...)`` would
        pass the node twice and fail only later, inside backward, with a confusing argument count."""
        super().__init_subclass__(**kwargs)
        for name in ("forward", "backward"):
            if name in cls.__dict__ and not isinstance(cls.__dict__[name], (staticmethod, classmethod)):
                raise TypeError(f"{cls.__name__}.{name} must be a @staticmethod taking ctx first: "
                                f"@staticmethod\n    def {name}(ctx, ...)")

    @staticmethod
    def forward(ctx: Function, *args: Any, **kwargs: Any) -> np.ndarray:
        """Compute the result: a staticmethod taking ``ctx``, then the arguments of ``apply`` with each Tensor as its
        ``.data`` (a numpy array); it returns an array. Save what ``backward`` needs with
        ``ctx.save_for_backward(...)``, other values (an axis, a shape) as attributes of ``ctx``."""
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Function, grad_output: Any) -> Any:
        """A staticmethod taking ``ctx`` and the gradient of the output; returns one gradient per positional argument
        of ``forward`` (a tuple, or one value for one argument), ``None`` where none is needed. Write it with operators
        and ``ctx.xp``, not ``np``: under ``create_graph=True`` it gets Tensors instead of arrays."""
        raise NotImplementedError

    def save_for_backward(self, *values: Any) -> None:
        """Keep ``values`` for ``backward``, which reads them from ``ctx.saved_tensors``. Save inputs and the output
        themselves: ``create_graph=True`` swaps those for their Tensors, and refuses other float arrays."""
        self.saved_tensors = values

    @property
    def next_functions(self) -> tuple:
        """The nodes that made this node's inputs (``None`` for leaves and constants), as in PyTorch."""
        return tuple(None if t is None else t._node for t in self.inputs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}Backward>"

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Tensor:
        """Run ``forward`` and, if any Tensor argument requires a gradient, record the node."""
        ctx = cls()
        # What forward gets (arrays) and what the node records (its inputs, which of them want a gradient), in
        # one pass rather than three comprehensions: apply runs for every operation, and on Python 3.11 each
        # comprehension is a function call of its own.
        arrays, inputs, needs_grad = [], [], []
        for a in args:
            if isinstance(a, Tensor):
                arrays.append(a.data)
                inputs.append(a)
                needs_grad.append(a.requires_grad)
            else:
                arrays.append(a)
                inputs.append(None)
                needs_grad.append(False)
        try:
            out = run_forward(ctx, arrays, kwargs)
        except (ValueError, IndexError, TypeError, OverflowError) as error:
            raise _naming_operation_and_shapes(error, cls, args) from None
        result = Tensor._make(out)
        observer = _seam.observer if _observed_threads else None
        if observer is not None:
            observer.forward(ctx, args, kwargs, result)
        recording = _threads_not_recording == 0 or _grad_state.enabled
        if recording and cls.differentiable and any(needs_grad):
            ctx.inputs = tuple(inputs)
            ctx.needs_input_grad = tuple(needs_grad)
            ctx.seq = next(_sequence)
            result.requires_grad = True
            result._node = ctx
        return result


_sequence = itertools.count()


def run_forward(ctx: Function, arrays: Sequence, kwargs: dict) -> np.ndarray:
    """Call ``ctx``'s forward on arrays, always giving an ndarray (numpy gives scalars for 0-d results)."""
    ctx.saved_tensors = ()
    out = ctx.forward(ctx, *arrays, **kwargs)
    return out if type(out) is np.ndarray else _scalar_result_as_array(ctx, out)


def _scalar_result_as_array(ctx: Function, out: Any) -> np.ndarray:
    """numpy returns scalars from 0-d operations; turn one back into a 0-d array, in the result and in what
    forward saved, so that every tensor holds an ndarray."""
    array = np.asarray(out)
    for saved in ctx.saved_tensors:
        if saved is out:  # forward saved its own result
            ctx.saved_tensors = tuple([array if s is out else s for s in ctx.saved_tensors])
            break
    return array


def _naming_operation_and_shapes(error: Exception, cls: type, args: tuple) -> Exception:
    """The error numpy raised inside ``forward``, of the same kind, saying which operation on which shapes."""
    shapes = " and ".join(str(a.shape) for a in args if isinstance(a, Tensor))
    message = f"{cls.__name__.lower()}: {format_shapes(str(error).strip())} (input shapes: {shapes})"
    # our classes, not numpy's (its AxisError takes other arguments): a ValueError from numpy inside forward is
    # shapes that do not fit (broadcasting, reshape, matmul, concatenate), which PyTorch code catches as
    # RuntimeError
    if isinstance(error, IndexError):
        return AxisError(message) if isinstance(error, ValueError) else IndexError(message)  # numpy's AxisError
    if isinstance(error, OverflowError):  # a Python int beyond an integer dtype: uint8 tensor + 300
        return OverflowError(message)
    return ShapeError(message) if isinstance(error, ValueError) else TypeError(message)


# --------------------------------------------------------------------------------------------------------------
# The seam: an observer of every array computation (tl.jit is built on it)
# --------------------------------------------------------------------------------------------------------------


class Observer:
    """What the engine reports, in order, to the observer installed in the current thread by :func:`observing`.

    Each method is called right after the engine did the computation it names, with the objects involved, so
    that an observer can write the step down as a program (``tl.jit``) without the engine knowing why. Arrays
    are identified by object: a gradient passed to one report is the same object as the one a later report
    receives. The defaults do nothing, except for the two refusals, which an observer may turn into errors.
    """

    def forward(self, ctx: Function, args: tuple, kwargs: dict, result: Tensor) -> None:
        """``ctx.forward`` ran on the arrays of ``args`` (Tensors, or other values as given) and made ``result``."""

    def backward(self, node: Function, output: Tensor, grad: Any, returned: Any) -> None:
        """``node.backward(node, grad)`` returned ``returned`` (a tuple, or one gradient for one input); ``grad`` is
        the gradient of ``output``, the tensor the node made."""

    def unbroadcast(self, tensor: Tensor, grad: Any, result: Any) -> None:
        """A gradient for the input ``tensor`` was fitted to its shape and dtype: ``_unbroadcast(grad, ...)`` gave
        ``result``."""

    def add(self, tensor: Tensor, previous: Any, grad: Any, total: Any) -> None:
        """``tensor`` had received ``previous`` along another path: ``total = previous + grad``."""

    def store(self, tensor: Tensor, grad: Any, copy: bool, added: bool) -> None:
        """``grad`` went into ``tensor.grad``: added to the one there, or stored (a copy of it if ``copy``)."""

    def zero_grad(self, tensors: list, set_to_none: bool) -> None:
        """:func:`zero_grad` is about to clear the gradients of ``tensors``."""

    def update(self, optimizer: Any) -> None:
        """:func:`run_update` is about to update ``optimizer``'s parameters in place."""

    def value_read(self, what: str) -> None:
        """Python is reading a tensor's value (``item()``, ``numpy()``, ...), e.g. to decide a branch."""

    def unsupported(self, what: str) -> None:
        """A computation the reports above cannot describe is about to run (``tl.grad``, ``create_graph``)."""


class _Seam(threading.local):
    observer: Observer | None = None  # per thread: another thread's eager work is not reported


_seam = _Seam()
# How many threads have an observer installed. While none has (eager training), each report site reads this one
# global instead of the thread-local: that lookup on every operation cost W1 eager about 3 %.
_observed_threads = 0
_observed_threads_lock = threading.Lock()


@contextlib.contextmanager
def observing(observer: Observer) -> Iterable[None]:
    """Report every array computation of the current thread to ``observer`` inside the ``with`` block."""
    global _observed_threads
    with _observed_threads_lock:
        _observed_threads += 1
    previous, _seam.observer = _seam.observer, observer
    try:
        yield
    finally:
        _seam.observer = previous
        with _observed_threads_lock:
            _observed_threads -= 1


def current_observer() -> Observer | None:
    """The observer installed in this thread, if any."""
    return _seam.observer


def read_value(what: str) -> None:
    """Called where Python reads a tensor's value (``item()``, ``numpy()``, ...): tells the observer."""
    observer = _seam.observer if _observed_threads else None
    if observer is not None:
        observer.value_read(what)


def run_update(optimizer: Any) -> None:
    """Run ``optimizer._update()`` (the in-place update of its parameters' arrays), reported to the observer;
    each parameter's version goes up, as for any in-place change."""
    observer = _seam.observer if _observed_threads else None
    if observer is not None:
        observer.update(optimizer)
    optimizer._update()
    mark_modified(*optimizer.params)


# An in-place change takes a number from the counter nodes take their ``seq`` from, after the change: memory
# changed after a node was recorded has a number above the node's. ``_latest_change`` is the latest such number:
# a backward that finds it below the node's ``seq`` knows nothing changed since and skips the check. (Under a
# lock: two threads' changes then take and write their numbers in the same order, so the latest number is the
# highest, a memory's last number is its highest, and no first change of a memory overwrites another's entry.)
_latest_change = -1
_changes_lock = threading.Lock()
# The memory changed in place: id of the array that owns it -> [a weak reference to it, its version (how many
# changes it has seen), the numbers of its latest changes, oldest first]. Keyed on the owner, so that a view
# (reshape, slicing, detach, .T) and its base are one memory with one version, as in PyTorch. The latest numbers
# tell a backward how many versions ago a node saved it, for the error message.
_changed_memory: dict[int, list] = {}
_CHANGES_KEPT = 8


def _owner(array: np.ndarray) -> np.ndarray:
    """The array that owns ``array``'s memory (itself, or the base its views go back to)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def mark_modified(*tensors: Tensor) -> None:
    """The tensors' arrays were changed in place: their memory gets a new version, which graphs that saved it
    (through these tensors or any view of the same memory) refuse."""
    global _latest_change
    with _changes_lock:
        change = next(_sequence)
        for tensor in tensors:
            owner = tensor.data if tensor.data.base is None else _owner(tensor.data)
            entry = _changed_memory.get(id(owner))
            if entry is None or entry[0]() is not owner:  # first change of this memory: watch when it is freed
                key = id(owner)
                forget = weakref.ref(owner, lambda _, key=key: _changed_memory.pop(key, None))
                entry = _changed_memory[key] = [forget, 0, deque(maxlen=_CHANGES_KEPT)]
            entry[1] += 1
            entry[2].append(change)
        _latest_change = change


def version_of(array: np.ndarray) -> int:
    """How many in-place changes the memory of ``array`` has seen (``Tensor._version``), views included."""
    owner = _owner(array)
    entry = _changed_memory.get(id(owner))
    return entry[1] if entry is not None and entry[0]() is owner else 0


def change_in_place(what: str) -> None:
    """Called before a Tensor's array is changed in place by the Tensor API (``+=``, ``add_``, ...): not a
    Function and not an optimizer update, so an observer cannot write it down; it is told, and may refuse."""
    observer = _seam.observer if _observed_threads else None
    if observer is not None:
        observer.unsupported(f"{what} (an in-place change of a tensor)")


# --------------------------------------------------------------------------------------------------------------
# Backward
# --------------------------------------------------------------------------------------------------------------


def run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[Any],
    retain_graph: bool,
    create_graph: bool,
    capture: Sequence[Tensor] | None = None,
) -> dict[int, Any]:
    """Propagate ``root_grads`` from ``roots`` back through the graph.

    Order: a node may run only once the gradients from all of its consumers have arrived. Every node is
    recorded after the nodes of its inputs, so running nodes from the most recently recorded to the oldest
    (a heap keyed by ``-seq``) guarantees that; this is how PyTorch orders its engine too. It needs no
    recursion and no separate sorting pass, and each node runs once however many paths reach it.
    Leaves have no node; their gradients are complete once the heap is empty.

    Without ``capture`` the gradients of leaves (and of tensors that called ``retain_grad``) are added to their
    ``.grad``. With ``capture`` nothing is written; the gradients of those tensors are returned by ``id``.
    Gradients are numpy arrays, or Tensors when ``create_graph`` is set.
    """
    xp = TENSOR_MATH if create_graph else NUMPY_MATH
    pending: dict[int, Any] = {}  # id(tensor) -> the sum of the gradients that reached it so far
    heap: list[tuple[int, int, Tensor]] = []  # (-seq, id, tensor) for non-leaves that have a pending gradient
    leaves: list[Tensor] = []  # leaves that have a pending gradient
    wanted = None if capture is None else {id(t) for t in capture}
    captured: dict[int, Any] = {}
    stored_arrays: set[int] = set()  # ids of the arrays this pass stored as a .grad (see _accumulate)
    # Record the backward only for higher order. The plain pass computes on arrays, so it records nothing and
    # leaves this thread's mode alone (switching it costs a lock and two thread-local writes per backward).
    grad_was_enabled = _set_grad_enabled(True) if create_graph else None
    try:
        _receive(zip(roots, root_grads), pending, heap, leaves, xp, None)
        while heap:
            _, key, tensor = heappop(heap)  # the newest node: every consumer of its tensor has run
            grad = pending.pop(key)  # so this gradient is complete
            if wanted is not None:
                if key in wanted:
                    captured[key] = grad
            elif tensor._retains_grad:
                _accumulate(tensor, grad, create_graph, stored_arrays)
            node = tensor._node
            input_grads = _run_node(node, tensor, grad, create_graph)
            if not retain_graph:
                node.saved_tensors = _RELEASED
            _receive(zip(node.inputs, input_grads), pending, heap, leaves, xp, node)
        for leaf in leaves:  # the heap is empty, so the leaves' gradients are complete too
            grad = pending.pop(id(leaf))
            if wanted is None:
                _accumulate(leaf, grad, create_graph, stored_arrays)
            elif id(leaf) in wanted:
                captured[id(leaf)] = grad
    finally:
        if create_graph:
            _set_grad_enabled(grad_was_enabled)
    return captured


def _receive(arrivals: Iterable[tuple[Tensor | None, Any]], pending: dict[int, Any],
             heap: list[tuple[int, int, Tensor]], leaves: list[Tensor], xp: Any, source: Function | None) -> None:
    """Add each ``(tensor, gradient)`` pair into ``pending``. The first gradient a tensor receives schedules it:
    a non-leaf goes onto the heap, a leaf into ``leaves``. ``source`` is the node whose backward gave them."""
    for tensor, grad in arrivals:
        if grad is None or tensor is None or not tensor.requires_grad:
            continue  # a constant input, or one whose gradient backward skipped (needs_input_grad)
        data = tensor.data
        try:
            mismatch = grad.shape != data.shape or grad.dtype != data.dtype  # numpy broadcast or promoted it
        except AttributeError:
            raise _gradient_error(source, tensor, f"is a {type(grad).__name__}, not an array") from None
        if mismatch:
            if source is not None and not _sums_to(grad.shape, data.shape):
                raise _gradient_error(source, tensor, f"has shape {tuple(grad.shape)}, which cannot be summed to "
                                                      f"the input's shape {data.shape}")
            unbroadcast_grad = _unbroadcast(grad, data.shape, data.dtype, xp)
            observer = _seam.observer if _observed_threads else None
            if observer is not None:
                observer.unbroadcast(tensor, grad, unbroadcast_grad)
            grad = unbroadcast_grad
        key = id(tensor)
        previous = pending.get(key)
        if previous is None:  # the first gradient to arrive
            pending[key] = grad
            if tensor._node is None:
                leaves.append(tensor)
            else:
                heappush(heap, (-tensor._node.seq, key, tensor))
        else:  # another path reached this tensor already: add up
            pending[key] = total = previous + grad
            observer = _seam.observer if _observed_threads else None
            if observer is not None:
                observer.add(tensor, previous, grad, total)


def _sums_to(grad_shape: tuple, shape: tuple) -> bool:
    """Whether a gradient of ``grad_shape`` is one of an input of ``shape`` that numpy broadcast: summing out the
    axes broadcasting added or stretched gives ``shape``."""
    extra = len(grad_shape) - len(shape)
    return extra >= 0 and all(n == 1 or n == g for n, g in zip(shape, grad_shape[extra:]))


def _gradient_error(source: Function | None, tensor: Tensor, problem: str) -> Exception:
    """A gradient a backward returned that cannot be an input's gradient, named by the Function and the index."""
    if source is None:
        return ShapeError(f"backward: the gradient {problem}")
    index = next(i for i, t in enumerate(source.inputs) if t is tensor)
    error = ShapeError if "shape" in problem else TypeError
    return error(f"{type(source).__name__}.backward: the gradient for input {index} {problem}")


def _unbroadcast(grad: Any, shape: tuple, dtype: np.dtype, xp: Any) -> Any:
    """Undo on a gradient what numpy did to its input: sum out the axes broadcasting added or stretched, and cast
    back to the input's dtype (a float32 input combined with a float64 one gets a float32 gradient). The one
    place for both, so that no operation's backward repeats them."""
    if grad.shape != shape:
        grad = xp.sum_to(grad, shape)
    if grad.dtype != dtype:
        grad = xp.astype(grad, dtype)
    return grad


def _run_node(node: Function, output: Tensor, grad: Any, create_graph: bool) -> tuple:
    """One step of the chain rule: the node's backward formula turns the gradient of its output into one
    gradient per input (``None`` for an input that needs none)."""
    if node.saved_tensors is _RELEASED:
        raise _freed_graph_error(node)
    if _latest_change > node.seq:  # something changed in place since: was it saved here?
        _check_saved_versions(node, output)
    if create_graph:
        input_grads = _backward_on_tensors(node, output, grad)
    else:  # the plain backward() pass: the formula on numpy arrays
        input_grads = node.backward(node, grad)
        observer = _seam.observer if _observed_threads else None
        if observer is not None:
            observer.backward(node, output, grad, input_grads)
    if type(input_grads) is not tuple:  # a node with one input may return its gradient alone
        input_grads = (input_grads,)
    if len(input_grads) != len(node.inputs):
        raise _contract_error(node, f"returned {len(input_grads)} gradients, but forward took "
                                    f"{len(node.inputs)} positional arguments: return one per argument, None for "
                                    "those that are not Tensors")
    return input_grads


def _check_saved_versions(node: Function, output: Tensor) -> None:
    """Refuse to run a node's backward with an array it saved whose memory was changed in place after the node
    was recorded: the formula would mix the new values into the old graph, as PyTorch refuses too."""
    for saved in node.saved_tensors:
        if not isinstance(saved, np.ndarray):
            continue
        owner = _owner(saved)
        entry = _changed_memory.get(id(owner))
        if entry is not None and entry[2][-1] > node.seq and entry[0]() is owner:
            with _changes_lock:  # another thread may be adding a change
                version, latest = entry[1], tuple(entry[2])
            since = sum(change > node.seq for change in latest)
            exact = since < len(latest) or version == len(latest)  # else older changes were forgotten
            expected = f"{'' if exact else 'at most '}{version - since}"
            raise RuntimeError(
                f"{type(node).__name__}: a tensor of shape {saved.shape} that this operation saved for backward "
                f"was modified by an in-place operation after the graph recorded it, directly or through a view "
                f"of the same memory: it is at version {version}; expected version {expected}. Change it only "
                "after backward, or compute again from the new values."
            )


def _contract_error(node: Function, problem: str) -> RuntimeError:
    return RuntimeError(f"{type(node).__name__}.backward {problem}")


def _backward_on_tensors(node: Function, output: Tensor, grad: Any) -> Any:
    """Apply one node's backward formula to Tensors (create_graph=True), so that it records a graph too: each
    saved array is swapped for the Tensor it came from, and the formula's ``ctx.xp`` for Tensor operations."""
    name = type(node).__name__
    if node.once_differentiable:
        raise RuntimeError(f"{name} is once-differentiable: create_graph=True cannot differentiate its backward")
    arrays = node.saved_tensors
    by_id = {id(t.data): t for t in (*node.inputs, output) if t is not None}
    attributes = tuple(node.__dict__.values())  # never swapped for Tensors: even an input's array stays constant
    for a in (*arrays, *attributes):
        keeps_constant = id(a) not in by_id or any(a is b for b in attributes)
        if keeps_constant and isinstance(a, np.ndarray) and a.dtype.kind in "fc" and not node.saves_constants:
            raise RuntimeError(
                f"{name}.backward under create_graph=True: forward kept an array of shape {a.shape} that is neither "
                "an input nor the output, so a second derivative would treat it as a constant and be silently "
                "wrong. Save inputs and outputs only and recompute the rest in backward with ctx.xp; or set "
                "saves_constants = True on the Function if that value's derivative is zero (a mask), or "
                "once_differentiable = True to refuse higher order through it."
            )
    node.saved_tensors = tuple(by_id.get(id(a), a) for a in arrays)
    node.xp = TENSOR_MATH
    try:
        return node.backward(node, grad)
    finally:
        node.saved_tensors = arrays
        del node.xp


def _freed_graph_error(node: Function) -> RuntimeError:
    return RuntimeError(
        f"Trying to backward through the graph a second time (at {type(node).__name__}): its saved values "
        "were freed after the first backward. Pass retain_graph=True to the first backward() if you "
        "need to run backward twice."
    )


def _accumulate(tensor: Tensor, grad: Any, create_graph: bool, stored_arrays: set[int]) -> None:
    """Add ``grad`` into ``tensor.grad``. A numpy gradient is stored only if nothing else holds it, so a user
    who edits ``p.grad.data`` in place can never change another tensor's gradient."""
    if create_graph:
        tensor.grad = grad if tensor.grad is None else tensor.grad + grad
        return
    added = tensor.grad is not None
    if added:
        tensor.grad = Tensor._make(tensor.grad.data + grad)
        copy = False
    else:
        # a view (of a saved array, or a broadcast) or an array another tensor already holds: copy it
        copy = type(grad) is not np.ndarray or grad.base is not None or id(grad) in stored_arrays
        stored = np.array(grad) if copy else grad  # a copy (and an array, where numpy gave a 0-d scalar)
        stored_arrays.add(id(stored))
        tensor.grad = Tensor._make(stored)
    observer = _seam.observer if _observed_threads else None
    if observer is not None:
        observer.store(tensor, grad, copy, added)


def zero_grad(tensors: Iterable[Tensor], set_to_none: bool = True) -> None:
    """Clear the gradients of ``tensors``: set them to ``None``, or to zeros (in place when the gradient is a plain
    writeable array, as in PyTorch). ``Module.zero_grad`` and ``Optimizer.zero_grad`` both come here."""
    tensors = list(tensors)
    observer = _seam.observer if _observed_threads else None
    if observer is not None:
        observer.zero_grad(tensors, set_to_none)
    for tensor in tensors:
        grad = tensor.grad
        if grad is None:
            continue
        if set_to_none:
            tensor.grad = None
        elif grad.grad_fn is None and grad.data.flags.writeable and grad.data.shape == tensor.shape:
            grad.data.fill(0)
        else:
            tensor.grad = Tensor._make(np.zeros_like(tensor.data))


def _as_root_grad(root: Tensor, gradient: Any, create_graph: bool, what: str) -> Any:
    """The starting gradient for ``root``: ones for a scalar, else the given one, checked against its shape."""
    if gradient is None:
        if root.data.shape == () and not create_graph:  # the usual loss.backward(): d(loss)/d(loss) = 1
            return np.array(1, root.data.dtype)
        if root.data.size != 1:
            raise ShapeError(
                f"{what}: grad can be implicitly created only for scalar outputs; got a tensor of shape "
                f"{root.shape}. Pass gradient= (the vector in the vector-Jacobian product)."
            )
        data = np.ones(root.data.shape, root.data.dtype)
    elif isinstance(gradient, Tensor):
        if create_graph:
            _check_grad_shape(gradient.shape, root.shape, what)
            return gradient
        data = np.array(gradient.data, dtype=root.data.dtype)
    else:
        data = np.array(gradient, dtype=root.data.dtype)
    _check_grad_shape(data.shape, root.shape, what)
    return Tensor._make(data) if create_graph else data


def _check_grad_shape(grad_shape: tuple, shape: tuple, what: str) -> None:
    if tuple(grad_shape) != tuple(shape):
        raise ShapeError(f"{what}: gradient of shape {tuple(grad_shape)} does not match the output's shape "
                         f"{tuple(shape)}")


def backward(tensor: Tensor, gradient: Any = None, retain_graph: bool = False, create_graph: bool = False) -> None:
    """Accumulate d(tensor)/d(leaf) into every leaf's ``.grad``; see :meth:`Tensor.backward`."""
    if not tensor.requires_grad:
        raise RuntimeError(
            f"backward: tensor of shape {tensor.shape} does not require grad and has no grad_fn; "
            "create the inputs with requires_grad=True"
        )
    observer = _seam.observer if _observed_threads else None
    if observer is not None and create_graph:
        observer.unsupported("backward(create_graph=True)")
    if observer is not None and isinstance(gradient, Tensor):  # its array would be copied outside the reports
        observer.unsupported("backward(gradient=<a Tensor>)")
    root_grad = _as_root_grad(tensor, gradient, create_graph, "backward")
    run_backward([tensor], [root_grad], retain_graph or create_graph, create_graph)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """The gradients of ``outputs`` with respect to ``inputs``, returned instead of accumulated into ``.grad``,
    like ``torch.autograd.grad``. With ``create_graph=True`` the results are differentiable."""
    if _seam.observer is not None:
        _seam.observer.unsupported("tl.grad (use loss.backward())")
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor) or isinstance(grad_outputs, np.ndarray):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} (shape {t.shape}) does not require grad")
    for i, t in enumerate(outputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: output {i} (shape {t.shape}) does not require grad and has no grad_fn")
    root_grads = [_as_root_grad(o, g, create_graph, "grad") for o, g in zip(outputs, grad_outputs)]
    retain = create_graph if retain_graph is None else retain_graph
    captured = run_backward(outputs, root_grads, retain, create_graph, capture=inputs)
    results: list[Tensor | None] = []
    for i, t in enumerate(inputs):
        g = captured.get(id(t))
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} (shape {t.shape}) was not used to compute the outputs; "
                "pass allow_unused=True to get None for it"
            )
        results.append(g if g is None or isinstance(g, Tensor) else Tensor._make(np.asarray(g)))
    return tuple(results)


# The engine and the Tensor class refer to each other: Tensor methods apply Functions, and Function.apply makes
# Tensors. Importing here, after everything above is defined, resolves the cycle.
from .ops import NUMPY_MATH, TENSOR_MATH  # noqa: E402
from .tensor import Tensor  # noqa: E402
