"""``tl.explain(loss)``: a backward pass that narrates itself, step by step, like a textbook derivation.

It runs the ordinary ``loss.backward()`` (the leaves' ``.grad`` end up exactly as backward leaves them) while
watching the engine through its observer seam (``engine.observing``), and returns a record of what happened:

- one :class:`BackwardStep` per node, in the order the engine ran them: the operation, its layer, its local
  derivative in symbols and in words, the gradient that came in and the gradients that went out to each input
  (:class:`InputGradient`), with the broadcast axes the engine summed back and the gradients of two paths it
  added;
- one :class:`StoredGradient` per ``.grad`` written: which leaf (or ``retain_grad`` tensor) received what.

The formulas are not written here. Each is read from its Function's docstring in ``ops.py`` (first paragraph in
symbols, then a paragraph starting "In words:"), the same place its ``backward`` is defined, by
:func:`formula_of`. Layers are attributed by the rules ``viz.draw_graph`` clusters with
(:mod:`tinygrad_lite.attribution`).
"""

from __future__ import annotations

import html
import inspect
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import engine
from .attribution import named_tensors, operation_modules, tensors_inputs_first
from .engine import Function
from .nn import Module
from .ops import _broadcast_axes
from .tensor import Tensor

__all__ = ["BackwardExplanation", "BackwardStep", "Formula", "InputGradient", "StoredGradient", "explain",
           "formula_of"]

NOT_DOCUMENTED = "formula not documented"
_IN_WORDS = "In words:"
_WIDTH = 116  # the printed table wraps formulas at this width (a 120-column terminal, with room to spare)
_SMALL = 6  # arrays with at most this many elements are printed in full; larger ones are summarised


# --------------------------------------------------------------------------------------------------------------
# Formulas, from the docstrings of ops.py
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Formula:
    """A Function's local derivative, as its docstring writes it."""

    symbols: str  # the first paragraph: "forward;  derivative", e.g. "z = σ(x) = 1/(1+e^-x);  dz/dx = z(1 - z)."
    words: str  # the paragraph after "In words:"; "" if the docstring has none; NOT_DOCUMENTED if there is none


def formula_of(function: type[Function] | Function) -> Formula:
    """The formula of a Function class (or node), read from the docstring of the class that defines its math.

    A subclass that only renames (``Min(Max)``) or documents itself is read from its own docstring; one that
    redefines ``forward``/``backward`` without a docstring gets its class name and :data:`NOT_DOCUMENTED`,
    never its parent's formula. A docstring without an "In words:" paragraph gives no words (``""``): its
    formula is documented, so saying "not documented" under it would be wrong."""
    cls = function if isinstance(function, type) else type(function)
    for klass in cls.__mro__:
        if klass is Function:
            break
        doc = klass.__dict__.get("__doc__")
        if doc:
            paragraphs = _paragraphs(doc)
            words = [p[len(_IN_WORDS):].strip() for p in paragraphs[1:] if p.startswith(_IN_WORDS)]
            return Formula(paragraphs[0], words[0] if words else "")
        if "forward" in klass.__dict__ or "backward" in klass.__dict__:
            break
    return Formula(cls.__name__, NOT_DOCUMENTED)


def _paragraphs(doc: str) -> list[str]:
    """A docstring's paragraphs, each on one line: its lines joined by a space (the two spaces of
    "forward;  derivative" inside a line stay)."""
    return [" ".join(line.strip() for line in p.splitlines()) for p in inspect.cleandoc(doc).split("\n\n")]


# --------------------------------------------------------------------------------------------------------------
# The record
# --------------------------------------------------------------------------------------------------------------
# Frozen, and compared by identity (eq=False): the fields hold arrays and Tensors, whose == is elementwise.


@dataclass(frozen=True, eq=False)
class InputGradient:
    """What one step's backward sent to one of its node's inputs."""

    index: int  # which positional argument of forward: 0 is the formula's x (or X), 1 its y (or W), ...
    tensor: Tensor = field(repr=False)  # the input itself
    name: str | None  # its parameter name when params names it
    is_leaf: bool
    runs_at_step: int | None  # the index of the step where this input's own node runs (None for a leaf)
    returned: np.ndarray = field(repr=False)  # what the formula returned, before the engine fitted its shape
    grad: np.ndarray = field(repr=False)  # what the input received: ``returned`` summed back to its shape
    summed_axes: tuple[int, ...]  # the axes of ``returned`` summed to undo broadcasting; () when none were
    cast_to: str | None  # the input's dtype, when the engine cast the gradient to it (mixed dtypes); else None
    added_to_earlier: bool  # another path had already sent this tensor a gradient: the engine added the two
    total: np.ndarray | None = field(repr=False)  # that sum, when ``added_to_earlier``; else None

    @property
    def returned_shape(self) -> tuple[int, ...]:
        return self.returned.shape

    @property
    def shape(self) -> tuple[int, ...]:
        return self.grad.shape


@dataclass(frozen=True, eq=False)
class BackwardStep:
    """One node's backward: the chain rule applied once, turning its output's gradient into its inputs'.

    A drawing identifies the node by ``node`` (the very object ``tensor.grad_fn`` returns) or by ``node_seq``,
    its recording number: unique in the process, and what the engine orders by (descending)."""

    index: int  # position in ``BackwardExplanation.steps``: the engine ran step 0 first
    node: Function = field(repr=False)
    node_seq: int
    operation: str  # the Function's class name
    layer: str | None  # the dotted name of the submodule it belongs to ("0", "layers.1"), or None
    formula: str  # Formula.symbols of the operation
    formula_in_words: str  # Formula.words of the operation ("" when its docstring has no "In words:")
    output: Tensor = field(repr=False)  # the tensor the node made
    output_name: str | None  # its name when params names it
    grad_output: np.ndarray = field(repr=False)  # the complete gradient of the output that came in
    inputs: tuple[InputGradient, ...]  # one per input that received a gradient, in argument order
    no_gradient: tuple[int, ...]  # the Tensor arguments that received none: they require no gradient, or
    # the backward returned None for them (``tensor.requires_grad`` of ``node.inputs[i]`` tells which)

    @property
    def grad_output_shape(self) -> tuple[int, ...]:
        return self.grad_output.shape

    def returned_none(self, index: int) -> bool:
        """Whether input ``index`` of ``no_gradient`` requires a gradient and got none only because the backward
        returned None for it (a custom Function may), rather than because it requires none."""
        return index in self.no_gradient and self.node.inputs[index].requires_grad


@dataclass(frozen=True, eq=False)
class StoredGradient:
    """A gradient written into a tensor's ``.grad``: each leaf's after the last step, and a ``retain_grad()``
    tensor's just before its node's step. When ``.grad`` already held one, ``grad`` (this pass's) and ``result``
    (what ``.grad`` holds now) differ, and both are kept so that no reader has to guess which is shown."""

    tensor: Tensor = field(repr=False)
    name: str | None  # its parameter name when params names it
    is_leaf: bool
    grad: np.ndarray = field(repr=False)  # the gradient this backward computed (the sum over all paths)
    accumulated: bool  # ``.grad`` already held one (an earlier backward): this one was added to it
    at_step: int  # how many steps had run when it was stored
    result: np.ndarray = field(repr=False)  # ``.grad`` once stored: ``grad``, or ``previous + grad`` if accumulated
    previous: np.ndarray | None = field(default=None, repr=False)  # the ``.grad`` it was added to, else None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.grad.shape


# --------------------------------------------------------------------------------------------------------------
# explain()
# --------------------------------------------------------------------------------------------------------------


def explain(
    loss: Tensor,
    gradient: Any = None,
    *,
    params: Module | Mapping[str, Tensor] | None = None,
    values: bool = False,
    retain_graph: bool = False,
) -> BackwardExplanation:
    """Run ``loss.backward(gradient, retain_graph)`` and return the narrated record of it.

    ``params`` (a Module, or a name → Tensor mapping, as for ``viz.draw_graph``) names the parameters and, for a
    Module, attributes operations to its submodules (exactly when the forward ran inside
    ``viz.trace_modules(model)``). ``values=True`` prints the gradients' values too (summarised when large);
    the arrays themselves are in ``.steps`` either way. Each ``.grad`` ends up exactly as ``loss.backward()``
    would leave it, and the same rules apply: a non-scalar ``loss`` needs ``gradient``, and without
    ``retain_graph=True`` the graph cannot be walked a second time."""
    if not isinstance(loss, Tensor):
        raise TypeError(f"explain: loss must be a Tensor; got a {type(loss).__name__}")
    if not loss.requires_grad:
        raise RuntimeError(f"explain: the tensor of shape {loss.shape} does not require grad and has no grad_fn, "
                           "so there is no backward to explain; create the inputs with requires_grad=True")
    if engine.current_observer() is not None:
        raise RuntimeError("explain: cannot run while another engine observer is installed in this thread (a step "
                           "being compiled, say): that observer would miss this backward; call explain outside it")
    names = named_tensors(params, "explain")
    order, _ = tensors_inputs_first([loss])
    earlier = {id(t): np.array(t.grad.data) for t in order if t.grad is not None}  # what accumulating adds to
    module_names = {name for name, _ in params.named_modules()} if isinstance(params, Module) else set()
    layers = operation_modules(order, names, module_names)
    root_grad = engine._as_root_grad(loss, gradient, False, "explain")  # backward's rules, named explain
    narrator = _Narrator()
    with engine.observing(narrator):
        engine.run_backward([loss], [root_grad], retain_graph, False)
    steps = _finished_steps(narrator.steps, names, layers)
    stored = tuple(StoredGradient(t, names.get(id(t)), t.grad_fn is None, g, added, at, result,
                                  earlier.get(id(t)) if added else None)
                   for t, g, added, at, result in narrator.stored)
    return BackwardExplanation(loss, np.array(root_grad), tuple(steps), stored, names.get(id(loss)), values)


# --------------------------------------------------------------------------------------------------------------
# Listening to the engine
# --------------------------------------------------------------------------------------------------------------


class _Arrival:
    """One input's gradient from the node that just ran, while the engine's reports about it come in."""

    def __init__(self, index: int, tensor: Tensor, returned: Any, follows_another_path: bool) -> None:
        self.index, self.tensor, self.returned = index, tensor, returned
        self.grad = returned  # replaced by the unbroadcast result, if the engine fits its shape or dtype
        self.fitted = False  # whether the engine's unbroadcast report for it came
        self.follows_another_path = follows_another_path  # the tensor got a gradient before: an add report is due
        self.total: Any = None  # set when the engine adds it to an earlier path's gradient


class _StepDraft:
    """A step while it is recorded: the node, what came in, and its arrivals."""

    def __init__(self, node: Function, output: Tensor, grad: Any) -> None:
        self.node, self.output, self.grad = node, output, np.array(grad)
        self.arrivals: list[_Arrival] = []
        self.no_gradient: list[int] = []


class _Narrator(engine.Observer):
    """Turns the engine's reports into step drafts: a ``backward`` report opens a step with one arrival per input
    that gets a gradient; the ``unbroadcast`` and ``add`` reports that follow name their tensor, and complete
    that tensor's arrival in the open step (the first one still waiting for that report: a node may take the
    same tensor twice, ``x * x``, and its backward may return one array for both)."""

    def __init__(self) -> None:
        self.steps: list[_StepDraft] = []
        self.received: set[int] = set()  # the tensors that have received a gradient in this pass
        # (tensor, grad, accumulated, at step, the .grad it left)
        self.stored: list[tuple[Tensor, np.ndarray, bool, int, np.ndarray]] = []

    def backward(self, node: Function, output: Tensor, grad: Any, returned: Any) -> None:
        draft = _StepDraft(node, output, grad)
        grads = returned if type(returned) is tuple else (returned,)
        for index, (tensor, g) in enumerate(zip(node.inputs, grads)):
            if tensor is None:  # a Python value, not a Tensor: no gradient to speak of
                continue
            if g is None or not tensor.requires_grad:  # the engine passes nothing on to it
                draft.no_gradient.append(index)
            else:
                draft.arrivals.append(_Arrival(index, tensor, g, id(tensor) in self.received))
                self.received.add(id(tensor))
        self.steps.append(draft)

    def unbroadcast(self, tensor: Tensor, grad: Any, result: Any) -> None:
        arrival = self._arrival(tensor, lambda a: not a.fitted and a.returned is grad)
        arrival.grad, arrival.fitted = result, True

    def add(self, tensor: Tensor, previous: Any, grad: Any, total: Any) -> None:
        arrival = self._arrival(tensor, lambda a: a.follows_another_path and a.total is None and a.grad is grad)
        arrival.total = total

    def store(self, tensor: Tensor, grad: Any, copy: bool, added: bool) -> None:
        result = np.array(tensor.grad.data)  # the engine reports once .grad is written
        self.stored.append((tensor, np.array(grad), added, len(self.steps), result))

    def _arrival(self, tensor: Tensor, waiting: Any) -> _Arrival:
        for arrival in self.steps[-1].arrivals if self.steps else ():
            if arrival.tensor is tensor and waiting(arrival):
                return arrival
        raise RuntimeError("explain: the engine reported a gradient of a tensor that the step it ran did not "
                           "send one to")  # a report out of order would make the record wrong: refuse instead


def _finished_steps(
    drafts: list[_StepDraft], names: dict[int, str], layers: dict[int, str | None]
) -> list[BackwardStep]:
    """The drafts as frozen steps, every array copied (a later in-place change to a ``.grad`` or a buffer must
    not rewrite the record)."""
    step_of_node = {id(d.node): i for i, d in enumerate(drafts)}
    steps = []
    for i, draft in enumerate(drafts):
        inputs = tuple(_finished_input(a, names, step_of_node) for a in draft.arrivals)
        formula = formula_of(draft.node)
        steps.append(BackwardStep(
            index=i, node=draft.node, node_seq=draft.node.seq, operation=type(draft.node).__name__,
            layer=layers.get(id(draft.node)), formula=formula.symbols, formula_in_words=formula.words,
            output=draft.output, output_name=names.get(id(draft.output)), grad_output=draft.grad, inputs=inputs,
            no_gradient=tuple(draft.no_gradient)))
    return steps


def _finished_input(arrival: _Arrival, names: dict[int, str], step_of_node: dict[int, int]) -> InputGradient:
    tensor, returned, grad = arrival.tensor, np.array(arrival.returned), np.array(arrival.grad)
    node = tensor._node
    summed = _broadcast_axes(returned.shape, grad.shape) if returned.shape != grad.shape else ()
    return InputGradient(
        index=arrival.index, tensor=tensor, name=names.get(id(tensor)), is_leaf=node is None,
        runs_at_step=None if node is None else step_of_node.get(id(node)), returned=returned, grad=grad,
        summed_axes=summed, cast_to=str(grad.dtype) if grad.dtype != returned.dtype else None,
        added_to_earlier=arrival.total is not None,
        total=None if arrival.total is None else np.array(arrival.total))


# --------------------------------------------------------------------------------------------------------------
# Reading it: a table in a terminal, an HTML table in Jupyter
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class BackwardExplanation:
    """What :func:`explain` returns: ``print`` it for a table, display it in Jupyter for an HTML one, or read
    ``steps`` and ``stored`` in a program."""

    loss: Tensor = field(repr=False)
    root_grad: np.ndarray = field(repr=False)  # the gradient backward started from: 1 for a scalar loss
    steps: tuple[BackwardStep, ...]
    stored: tuple[StoredGradient, ...]
    loss_name: str | None = None
    values: bool = False  # whether str() and the HTML table show the gradients' values

    def __repr__(self) -> str:
        return (f"<BackwardExplanation of a loss of shape {self.loss.shape}: {counted(len(self.steps), 'step')}, "
                f"{counted(len(self.stored), 'gradient')} stored>")

    def __str__(self) -> str:
        return "\n".join(_text_lines(self))

    def _repr_html_(self) -> str:
        return _html_table(self)

    def label(self, tensor: Tensor) -> str:
        """How the table names a tensor: its parameter name, "loss", "leaf 0", ... or the step its node runs."""
        return _Labels(self).of(tensor)

    def notes(self, arrival: InputGradient) -> list[str]:
        """What the engine did to one input's gradient beyond passing it on: broadcasting summed back, a cast to
        the input's dtype, the gradient of another path added. The table's wording, for other views of it."""
        return _engine_notes(arrival, self.label(arrival.tensor))


class _Labels:
    """Names for the tensors of one explanation: parameter names where given, the loss, leaves numbered in the
    order they first receive a gradient, and a non-leaf by the step that runs its node."""

    def __init__(self, explanation: BackwardExplanation) -> None:
        self.by_id = {id(explanation.loss): printable(explanation.loss_name or "loss")}
        step_of_node = {id(s.node): s.index for s in explanation.steps}
        leaves = 0
        for step in explanation.steps:
            for arrival in step.inputs:
                key = id(arrival.tensor)
                if key in self.by_id:
                    continue
                if arrival.name is not None:
                    self.by_id[key] = printable(arrival.name)
                elif arrival.is_leaf:
                    self.by_id[key], leaves = f"leaf {leaves}", leaves + 1
                elif id(arrival.tensor._node) in step_of_node:
                    self.by_id[key] = f"step {step_of_node[id(arrival.tensor._node)]}"

    def of(self, tensor: Tensor) -> str:
        return self.by_id.get(id(tensor), "tensor")


def _shape(shape: tuple) -> str:
    return str(tuple(shape))


def counted(n: int, noun: str) -> str:
    """``n`` and the noun, singular for one: "1 step", "2 steps"."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def printable(name: str) -> str:
    """A user's name on one line: control characters (a newline in a parameter name) written as escapes, so
    they cannot break a table's rows."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in name)


def summarize(array: np.ndarray) -> str:
    """An array in a few words: every entry when small, else its shape, min, max, mean and first entries."""
    array = np.asarray(array)
    if array.size <= _SMALL:
        text = np.array2string(array, separator=", ", formatter={"float_kind": lambda v: f"{v:.4g}"})
        return " ".join(text.split())  # on one line: numpy breaks the rows of a matrix
    flat = array.astype(np.float64).ravel()
    first = ", ".join(f"{v:.4g}" for v in flat[:3])
    return (f"{_shape(array.shape)} min {flat.min():.4g} max {flat.max():.4g} mean {flat.mean():.4g}, "
            f"first [{first}, …]")


def _input_line(arrival: InputGradient, labels: _Labels) -> str:
    """Where one input's gradient went, and its shape: ``in 1 → 2.weight (3, 5)``."""
    return f"in {arrival.index} → {labels.of(arrival.tensor)} {_shape(arrival.shape)}"


def _input_notes(arrival: InputGradient, labels: _Labels, values: bool) -> list[str]:
    """What the engine did to one input's gradient beyond passing it on, and its values when asked."""
    notes = _engine_notes(arrival, labels.of(arrival.tensor))
    if values:
        notes.append(f"in {arrival.index} = {summarize(arrival.grad)}")
        if arrival.added_to_earlier:
            notes.append(f"{labels.of(arrival.tensor)} in total = {summarize(arrival.total)}")
    return notes


def _no_gradient_text(step: BackwardStep, index: int) -> str:
    """An input that received no gradient, and why: it needs none, or the backward returned None for it."""
    return f"in {index} gets none (backward returned None)" if step.returned_none(index) else f"in {index} needs none"


def _engine_notes(arrival: InputGradient, name: str) -> list[str]:
    notes = []
    if arrival.summed_axes:
        axes = ", ".join(map(str, arrival.summed_axes))
        notes.append(f"in {arrival.index}: broadcast undone, {_shape(arrival.returned_shape)} summed over "
                     f"axis {axes} → {_shape(arrival.shape)}")
    if arrival.cast_to is not None:
        notes.append(f"in {arrival.index}: cast from {arrival.returned.dtype} to {arrival.cast_to}")
    if arrival.added_to_earlier:
        notes.append(f"in {arrival.index}: {name} was reached by another path too: the two gradients are added")
    return notes


def _stored_line(stored: StoredGradient, labels: _Labels, values: bool) -> str:
    """``x.grad ← (3,), stored = [2, 4, 6]``; accumulated, it says this pass's gradient and the sum apart."""
    target = labels.of(stored.tensor) if stored.is_leaf or stored.name is not None else "output"
    kept = "" if stored.is_leaf or stored.name is not None else " (retain_grad)"  # in the row of its step
    line = f"{target}.grad ← {_shape(stored.shape)}, "
    if not stored.accumulated:
        return line + f"stored{kept}" + (f" = {summarize(stored.grad)}" if values else "")
    if not values:
        return line + f"this pass's gradient added to the .grad already there{kept}"
    return (line + f"this pass's gradient {summarize(stored.grad)} added to the .grad already there{kept}: "
            f"{target}.grad = {summarize(stored.result)}")


def _headline(explanation: BackwardExplanation, labels: _Labels) -> str:
    """The first line: what is differentiated, and the gradient backward starts from (given, for a vector)."""
    loss = labels.of(explanation.loss)
    shown = explanation.values or explanation.root_grad.size == 1
    start = f"d {loss}/d {loss} = {summarize(explanation.root_grad)}" if shown else f"d {loss}/d {loss} given"
    return (f"backward of {loss}, shape {_shape(explanation.loss.shape)}: {counted(len(explanation.steps), 'step')}, "
            f"newest operation first, starting from {start}")


def _text_lines(explanation: BackwardExplanation) -> list[str]:
    """The table: one row per step, its formula and notes on the lines below it, the stored gradients last."""
    labels, values = _Labels(explanation), explanation.values
    lines = [_headline(explanation, labels)]
    rows = [("step", "operation", "layer", "gradient in", "gradients out")]
    for step in explanation.steps:
        outs = [text for _, text in sorted([(a.index, _input_line(a, labels)) for a in step.inputs]
                                           + [(i, _no_gradient_text(step, i)) for i in step.no_gradient])]
        rows.append((str(step.index), step.operation, printable(step.layer or "-"), _shape(step.grad_output_shape),
                     "; ".join(outs) or "-"))
    widths = [max(len(row[c]) for row in rows) for c in range(4)]
    indent = " " * (widths[0] + 2)
    wrap = textwrap.TextWrapper(width=_WIDTH, initial_indent=indent, subsequent_indent=indent + "  ")
    for r, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[4])
        if r == 0:
            continue
        step = explanation.steps[r - 1]
        for stored in explanation.stored:
            if stored.at_step == step.index and not stored.is_leaf:
                lines.append(indent + _stored_line(stored, labels, values))
        lines += wrap.wrap(step.formula)
        if step.formula_in_words:  # none when the docstring gives the formula in symbols only
            lines += wrap.wrap("In words: " + step.formula_in_words)
        if values:
            lines.append(indent + f"gradient in = {summarize(step.grad_output)}")
        for arrival in step.inputs:
            lines += [indent + note for note in _input_notes(arrival, labels, values)]
    leaves = [s for s in explanation.stored if s.is_leaf]
    lines += ["leaf gradients:"] + [f"  {_stored_line(s, labels, values)}" for s in leaves] if leaves else []
    return lines


def _html_table(explanation: BackwardExplanation) -> str:
    """The same record as an HTML table, every text escaped."""
    labels, values = _Labels(explanation), explanation.values
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in ("step", "operation", "layer", "gradient in", "formula",
                                                "gradients out"))
    rows = []
    for step in explanation.steps:
        grad_in = e(_shape(step.grad_output_shape)) + (f"<br>{e(summarize(step.grad_output))}" if values else "")
        outs = [(a.index, e(_input_line(a, labels)) + "".join(f"<br><small>{e(n)}</small>"
                                                              for n in _input_notes(a, labels, values)))
                for a in step.inputs] + [(i, e(_no_gradient_text(step, i))) for i in step.no_gradient]
        words = f"<br><small>In words: {e(step.formula_in_words)}</small>" if step.formula_in_words else ""
        formula = e(step.formula) + words
        cells = (e(str(step.index)), e(step.operation), e(step.layer or "-"), grad_in, formula,
                 "<br>".join(text for _, text in sorted(outs)))
        rows.append("<tr>" + "".join(f'<td style="text-align:left">{c}</td>' for c in cells) + "</tr>")
    stored = "".join(f"<li>{e(_stored_line(s, labels, values))}</li>" for s in explanation.stored)
    return (f"<div><p>{e(_headline(explanation, labels))}</p><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table><p>gradients stored:</p><ul>{stored}</ul></div>")
