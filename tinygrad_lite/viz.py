"""Draw the computation graph that ``backward()`` walks, with Graphviz.

:func:`draw_graph` turns the graph behind a tensor into a ``graphviz.Digraph``: one box per tensor (its name when
known, shape and dtype, optionally its values and gradient), one ellipse per operation, and arrows in data-flow
order: input tensor → operation → output tensor. It works after ``backward()`` too, which is the usual moment to
draw: ``draw_graph(loss, params=model, show_grad=True)``.

Grouping operations by layer. The engine records no module information, so when ``params`` is a Module the
graph is split into one cluster per submodule *after the fact*, by the rules of :mod:`tinygrad_lite.attribution`
(shared with ``tl.explain``): an operation on a submodule's parameters belongs to it, and so does an elementwise
operation right after it (the sigmoid after a Linear). For exact grouping, run the forward pass inside
:func:`trace_modules`: every operation created while a submodule's ``forward`` runs is then tagged with that
submodule (the innermost one), and tags win over those rules.

Stepping through backward. :func:`backward_steps` runs ``backward()`` through ``tl.explain`` and writes one HTML
page that replays it on this picture, one operation at a time, each step narrated under it.

The ``graphviz`` Python package is imported only when drawing (``pip install tinygrad-lite[viz]``); rendering
also needs Graphviz's ``dot`` program, and :func:`render` says how to install it when it is missing.
"""

from __future__ import annotations

import functools
import html
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from . import backward_page
from .attribution import MODULE_TAG, named_tensors, operation_modules, tensors_inputs_first, trace_modules
from .explain import explain
from .nn import Module
from .tensor import Tensor

__all__ = ["GraphvizNotFoundError", "backward_steps", "draw_graph", "render", "scalar_demo", "scalar_neuron",
           "trace_modules"]

# Colours: one per kind of node, shared by the nodes and the legend.
_COLORS = {
    "input": "#dbeafe",  # leaf that needs no gradient: data, targets
    "leaf": "#bfdbfe",  # leaf that needs a gradient but is not a named parameter
    "parameter": "#fde68a",
    "tensor": "#ffffff",  # intermediate result
    "operation": "#e5e7eb",
    "output": "#fca5a5",
}
_LEGEND = {
    "input": "input (no grad)",
    "leaf": "leaf (requires grad)",
    "parameter": "parameter",
    "tensor": "intermediate",
    "operation": "operation",
    "output": "output",
}
_SMALL = 4  # tensors with at most this many elements show their values; larger ones a summary
_RANKDIRS = ("LR", "TB", "RL", "BT")  # Graphviz's directions; it lays out any other value (even "lr") as TB

_INSTALL_GRAPHVIZ = (
    "Rendering a graph needs Graphviz's `dot` program, which was not found on PATH. Install Graphviz:\n"
    "  Debian/Ubuntu: sudo apt-get install graphviz\n"
    "  macOS:         brew install graphviz\n"
    "  conda:         conda install -c conda-forge graphviz\n"
    "  others:        https://graphviz.org/download/\n"
    "(draw_graph itself works without it: the returned Digraph's .source is the DOT text.)"
)


class GraphvizNotFoundError(RuntimeError):
    """Rendering was asked for but Graphviz's ``dot`` executable is not installed."""


# --------------------------------------------------------------------------------------------------------------
# graphviz, imported lazily
# --------------------------------------------------------------------------------------------------------------


def _graphviz() -> Any:
    try:
        import graphviz
    except ImportError:
        raise ImportError(
            "tinygrad_lite.viz needs the graphviz Python package: pip install 'tinygrad-lite[viz]' "
            "(or pip install graphviz). Rendering also needs the Graphviz programs (apt-get install graphviz, "
            "brew install graphviz)."
        ) from None
    return graphviz


@functools.cache
def _digraph_class() -> type:
    """A ``graphviz.Digraph`` whose rendering (``render``, ``pipe``, Jupyter display) turns a missing ``dot``
    into :class:`GraphvizNotFoundError` with installation instructions."""
    graphviz = _graphviz()

    class Digraph(graphviz.Digraph):
        def pipe(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().pipe(*args, **kwargs)
            except graphviz.ExecutableNotFound as error:
                raise GraphvizNotFoundError(_INSTALL_GRAPHVIZ) from error

        def render(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().render(*args, **kwargs)
            except graphviz.ExecutableNotFound as error:
                raise GraphvizNotFoundError(_INSTALL_GRAPHVIZ) from error

    Digraph.__module__ = __name__
    return Digraph


def render(graph: Any, path: str | Path) -> Path:
    """Write ``graph`` to ``path`` in the format its extension names (``.svg``, ``.png``, ``.pdf``; ``.gv`` or
    ``.dot`` write the DOT source and need no Graphviz). Raises :class:`GraphvizNotFoundError` with installation
    instructions when the ``dot`` program is missing."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt in ("gv", "dot"):
        path.write_text(graph.source, encoding="utf-8")
        return path
    if fmt not in ("svg", "png", "pdf"):
        raise ValueError(f"render: cannot tell the format from {str(path)!r}; use a .svg, .png, .pdf or .gv file")
    graphviz = _graphviz()
    try:
        data = graph.pipe(format=fmt)
    except graphviz.ExecutableNotFound as error:
        raise GraphvizNotFoundError(_INSTALL_GRAPHVIZ) from error
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------------------------------------------
# The graph
# --------------------------------------------------------------------------------------------------------------


def _format_values(array: np.ndarray) -> str:
    if array.dtype == np.bool_ or np.issubdtype(array.dtype, np.integer):
        return np.array2string(array, separator=", ")
    if array.ndim == 0:
        return f"{float(array):.4f}"
    return np.array2string(array, precision=4, separator=", ", floatmode="fixed", suppress_small=True)


def _summary(label: str, value: Any) -> str:
    if value is None:
        return f"{label} None"
    array = np.asarray(value.data if isinstance(value, Tensor) else value)
    if array.size <= _SMALL:
        return f"{label} {' '.join(_format_values(array).split())}"
    a = array.astype(np.float64)
    return f"{label} mean {a.mean():.4f} norm {np.linalg.norm(a.ravel()):.4f}"


def _record_escape(text: str) -> str:
    """Escape what a Graphviz record label treats as structure."""
    return re.sub(r'([{}|<>"\\])', r"\\\1", text)


def _record(fields: list[str], rankdir: str) -> str:
    """A record label whose fields read left to right whatever the direction of the graph."""
    label = " | ".join(_record_escape(f) for f in fields)
    return "{ " + label + " }" if rankdir.upper() in ("LR", "RL") else label


def _name_and_type(tensor: Tensor, name: str) -> list[str]:
    """The first fields of a tensor's record: its name (when it has one), then shape and dtype."""
    shape = "scalar" if tensor.ndim == 0 else str(tuple(tensor.shape))
    return [name, f"{shape} {tensor.dtype}"] if name else [f"{shape} {tensor.dtype}"]


def _tensor_label(tensor: Tensor, name: str, show_data: bool, show_grad: bool, rankdir: str) -> str:
    fields = _name_and_type(tensor, name)
    if show_data:
        fields.append(_summary("data", tensor))
    if show_grad and (tensor.grad is not None or (tensor.grad_fn is None and tensor.requires_grad)):
        fields.append(_summary("grad", tensor.grad))  # intermediates keep a grad only after retain_grad()
    return _record(fields, rankdir)


def _node_kind(tensor: Tensor, is_root: bool, is_named: bool) -> str:
    """What a tensor is, as a key of ``_COLORS``: a named leaf that requires a gradient is a parameter."""
    if is_root:
        return "output"
    if tensor.grad_fn is not None:
        return "tensor"
    if not tensor.requires_grad:
        return "input"
    return "parameter" if is_named else "leaf"


def _tensor_attrs(tensor: Tensor, kind: str, name: str | None, label: Callable[[Tensor, str], str]) -> dict[str, str]:
    """The record of one tensor: its name (an unnamed input, leaf or output is called that), then ``label``."""
    name = name or {"output": "output", "input": "input", "leaf": "leaf"}.get(kind, "")
    attrs = {"label": label(tensor, name), "shape": "record", "style": "filled", "fillcolor": _COLORS[kind]}
    if kind == "output":
        attrs["penwidth"] = "2"
    return attrs


def _operation_attrs(node: Any) -> dict[str, str]:
    return {"label": type(node).__name__, "shape": "ellipse", "style": "filled", "fillcolor": _COLORS["operation"]}


def _check_rankdir(rankdir: Any, caller: str) -> None:
    """Refuse a direction Graphviz would ignore without a word (drawing top to bottom instead)."""
    if rankdir not in _RANKDIRS:
        raise ValueError(f"{caller}: rankdir must be one of {', '.join(map(repr, _RANKDIRS))}; got {rankdir!r}")


def _cluster_id(name: str, taken: set[str]) -> str:
    base = "cluster_" + (re.sub(r"\W", "_", name) or "root")
    cid, i = base, 1
    while cid in taken:
        i += 1
        cid = f"{base}_{i}"
    taken.add(cid)
    return cid


def draw_graph(
    root: Tensor | Sequence[Tensor],
    params: Module | Mapping[str, Tensor] | None = None,
    show_data: bool = False,
    show_grad: bool = False,
    rankdir: str = "LR",
) -> Any:
    """The computation graph behind ``root`` as a ``graphviz.Digraph``.

    One record per tensor (name, shape, dtype, and with ``show_data`` / ``show_grad`` its values and gradient:
    up to 4 elements in full, larger tensors as mean and norm), one ellipse per operation, edges from input
    tensor to operation to output tensor; a tensor reached along many paths is drawn once. ``params`` (a Module
    or a name → Tensor mapping) names tensors; with a Module each submodule's operations and parameters sit in a
    labelled cluster (see the module docstring for how operations are attributed). Colours and the legend under
    the graph tell inputs, leaves, parameters, intermediates, operations and the output apart.
    ``root`` may be a sequence of tensors (several outputs). The graph can be drawn after ``backward()``.
    ``rankdir`` is the direction of the data flow: "LR" (left to right), "TB", "RL" or "BT"; any other value
    is a ValueError (Graphviz would silently draw it top to bottom).
    """
    _check_rankdir(rankdir, "draw_graph")
    label = functools.partial(_tensor_label, show_data=show_data, show_grad=show_grad, rankdir=rankdir)
    return _drawing(root, params, label, rankdir, "draw_graph")[0]


def _drawing(
    root: Tensor | Sequence[Tensor],
    params: Module | Mapping[str, Tensor] | None,
    label: Callable[[Tensor, str], str],
    rankdir: str,
    caller: str,
) -> tuple[Any, dict[int, str]]:
    """What :func:`draw_graph` draws, each tensor's record from ``label(tensor, name)``; and ``id(tensor)`` or
    ``id(node)`` → its DOT id, which the rendered SVG keeps in each node's ``<title>``."""
    digraph_class = _digraph_class()
    roots = [root] if isinstance(root, Tensor) else list(root)
    if not roots or not all(isinstance(r, Tensor) for r in roots):
        raise TypeError(f"{caller}: root must be a Tensor or a sequence of Tensors")
    names = named_tensors(params, caller)
    modules = dict(params.named_modules()) if isinstance(params, Module) else {}
    order, produced = tensors_inputs_first(roots)
    nodes, edges = _nodes_and_edges(order, produced, names, modules, {id(r) for r in roots}, label)

    graph = digraph_class(name="tinygrad_lite", graph_attr={"rankdir": rankdir, "fontname": "Helvetica"},
                          node_attr={"fontname": "Helvetica", "fontsize": "11"}, edge_attr={"arrowsize": "0.7"})
    _add_in_clusters(graph, nodes, _cluster_classes(modules, order), digraph_class)
    for tail, head in edges:
        graph.edge(tail, head)
    graph.attr(label=_legend({node.kind for node in nodes}), labelloc="b", labeljust="l", fontsize="10")
    return graph, {id(node.drawn): node.id for node in nodes}


class _DrawnNode(NamedTuple):
    """One node of the drawing: a tensor's record or an operation's ellipse."""

    id: str  # the DOT id: t0, t1, ... for tensors, op0, op1, ... for operations
    attrs: dict[str, str]  # label, shape, colours
    kind: str  # a key of _COLORS
    cluster: str | None  # the submodule it is drawn inside, None for the top level
    drawn: Any  # the Tensor or the graph node (a Function) it stands for


def _nodes_and_edges(
    order: list[Tensor],
    produced: dict[int, Tensor],
    names: dict[int, str],
    modules: dict[str, Module],
    root_ids: set[int],
    label: Callable[[Tensor, str], str],
) -> tuple[list[_DrawnNode], list[tuple[str, str]]]:
    """A node for every tensor and for every operation, each with its submodule's cluster (an operation's as
    ``attribution.operation_modules`` says; a tensor sits with the operation that made it, a parameter with its
    module), and the edges in data-flow order: input tensor → operation → output."""
    operation_module = operation_modules(order, names, set(modules))
    tensor_ids = {id(t): f"t{i}" for i, t in enumerate(order)}
    nodes: list[_DrawnNode] = []
    edges: list[tuple[str, str]] = []
    op_count = 0
    for tensor in order:
        tensor_id, node = tensor_ids[id(tensor)], tensor.grad_fn
        cluster = None
        if node is not None and produced.get(id(node)) is tensor:  # the operation that made this tensor
            op_id = f"op{op_count}"
            op_count += 1
            cluster = operation_module[id(node)]
            nodes.append(_DrawnNode(op_id, _operation_attrs(node), "operation", cluster, node))
            edges += [(tensor_ids[id(t)], op_id) for t in node.inputs if t is not None]
            edges.append((op_id, tensor_id))
        kind = _node_kind(tensor, id(tensor) in root_ids, id(tensor) in names)
        if kind == "parameter" and modules:
            owner = names[id(tensor)].rpartition(".")[0]
            cluster = owner if owner in modules and owner else None
        attrs = _tensor_attrs(tensor, kind, names.get(id(tensor)), label)
        nodes.append(_DrawnNode(tensor_id, attrs, kind, cluster, tensor))
    return nodes, edges


def _cluster_classes(modules: dict[str, Module], order: list[Tensor]) -> dict[str, str]:
    """Submodule name → class name, for the cluster labels: from the Module, and from trace_modules' tags (which
    name their submodule even when the graph is drawn without ``params``)."""
    classes = {name: type(module).__name__ for name, module in modules.items()}
    for tensor in order:
        tag = getattr(tensor.grad_fn, MODULE_TAG, None)
        if tag is not None:
            classes.setdefault(*tag)
    return classes


def _add_in_clusters(graph: Any, nodes: list[_DrawnNode], cluster_classes: dict[str, str], digraph_class: type) -> None:
    """Add ``nodes`` to ``graph``, each inside its submodule's cluster. Clusters nest by dotted name: "layers.0"
    sits inside "layers" when both are submodules."""
    clusters = _cluster_names({node.cluster for node in nodes if node.cluster}, cluster_classes)
    subgraphs = {"": graph}
    taken: set[str] = set()
    for name in sorted(clusters, key=lambda c: (c.count("."), c)):
        cls = cluster_classes.get(name)
        subgraphs[name] = digraph_class(name=_cluster_id(name, taken), graph_attr={
            "label": f"{name}: {cls}" if cls else name, "style": "rounded,dashed", "color": "#6b7280",
            "fontcolor": "#374151", "labeljust": "l"})
    for node in nodes:
        subgraphs[node.cluster if node.cluster in subgraphs else ""].node(node.id, **node.attrs)
    for name in sorted(clusters, key=lambda c: (-c.count("."), c)):  # deepest first, into their parents
        parent = name.rpartition(".")[0]
        while parent and parent not in subgraphs:
            parent = parent.rpartition(".")[0]
        subgraphs[parent].subgraph(subgraphs[name])


def _cluster_names(used: set[str], cluster_classes: dict[str, str]) -> set[str]:
    """The clusters to draw: each submodule that holds a node, and its ancestors that are submodules too."""
    names: set[str] = set()
    for module in used:
        parts = module.split(".")
        for k in range(1, len(parts) + 1):
            prefix = ".".join(parts[:k])
            if prefix in cluster_classes or prefix == module:
                names.add(prefix)
    return names


def _legend(kinds: set[str]) -> str:
    """An HTML-like table of the node kinds in this graph, used as the graph's label (no extra nodes)."""
    cells = "".join(
        f'<td bgcolor="{_COLORS[k]}">{html.escape(_LEGEND[k])}</td>' for k in _LEGEND if k in kinds
    )
    return f'<<table border="0" cellborder="1" cellspacing="3" cellpadding="3"><tr>{cells}</tr></table>>'


# --------------------------------------------------------------------------------------------------------------
# Stepping through backward
# --------------------------------------------------------------------------------------------------------------


def backward_steps(
    loss: Tensor,
    path: str | Path,
    *,
    params: Module | Mapping[str, Tensor] | None = None,
    values: bool = True,
    gradient: Any = None,
    rankdir: str = "LR",
    title: str | None = None,
) -> Path:
    """Run ``loss.backward()`` through ``tl.explain`` and write ``path``: one HTML page that steps through it.

    The page is self-contained (the SVG and the script inline: open it from disk, no server, no network). It
    shows the graph as :func:`draw_graph` draws it, with the same clusters by layer, and Previous / Next buttons,
    a slider and the arrow keys. Frame 0 is the forward pass; then one frame per step, in the engine's order: the
    operation running is highlighted, each gradient is written into its tensor's box from the step that
    computed it on, and under the picture the step is narrated (operation, layer, formula in symbols and in
    words, shapes in and out, broadcast axes summed, paths added); the last frame shows the ``.grad`` that
    backward leaves. ``values=False`` shows shapes instead of values. ``params`` and ``gradient`` are as for
    ``tl.explain``; every ``.grad`` ends as ``loss.backward()`` leaves it. ``rankdir`` is "LR", "TB", "RL" or
    "BT", as for :func:`draw_graph`. Graphviz's ``dot`` is needed; it and ``rankdir`` are checked before backward
    runs.

    The graph is rendered once, with room in each box for its widest gradient, and the page's script
    highlights it and fills it in frame by frame (:mod:`tinygrad_lite.backward_page`). So the picture never
    moves between frames, and the Iris network's training step makes one run of ``dot`` and a 26 kB page in
    about 35 ms; one SVG per frame took 8 runs, 121 kB and 145 ms, and its layout moved at 7 of the 8 frames.
    """
    _check_rankdir(rankdir, "backward_steps")  # every refusal before backward changes any .grad
    _digraph_class()
    if shutil.which("dot") is None:
        raise GraphvizNotFoundError(_INSTALL_GRAPHVIZ)
    explanation = explain(loss, gradient, params=params, values=values)
    frames = backward_page.frames(explanation, functools.partial(_gradient_text, values=values))
    label = functools.partial(_stepping_label, texts=backward_page.widest_gradient_texts(frames), rankdir=rankdir,
                              root=(loss, explanation.label(loss)))
    graph, dot_ids = _drawing(loss, params, label, rankdir, "backward_steps")
    svg = graph.pipe(format="svg").decode("utf-8")
    title = title or f"The backward pass of {explanation.label(loss)}, step by step"
    page = backward_page.page(title, svg, [backward_page.frame_json(f, dot_ids) for f in frames])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def _gradient_text(gradient: np.ndarray, values: bool) -> str:
    """A gradient in its tensor's box on the page: as draw_graph's ``show_grad`` writes it, or only its shape."""
    if values:
        return _summary("grad", gradient)
    return "grad " + ("scalar" if gradient.ndim == 0 else str(tuple(gradient.shape)))


def _stepping_label(tensor: Tensor, name: str, texts: dict[int, str], rankdir: str, root: tuple[Tensor, str]) -> str:
    """A tensor's record on the page: name, shape and dtype, and a last field holding the widest gradient text it
    will show (the page's script rewrites that field frame by frame); none for a tensor that gets no gradient.
    The root is named as the narration names it ("loss", or its name in params), not draw_graph's "output"."""
    if tensor is root[0]:
        name = root[1]
    fields = _name_and_type(tensor, name)
    if id(tensor) in texts:
        fields.append(texts[id(tensor)])
    return _record(fields, rankdir)


# --------------------------------------------------------------------------------------------------------------
# The classic first picture
# --------------------------------------------------------------------------------------------------------------


def scalar_neuron() -> tuple[Tensor, dict[str, Tensor]]:
    """One neuron ``o = tanh(x1·w1 + x2·w2 + b)`` before ``backward()``: ``o``, and a name for each of its tensors
    (the intermediates call ``retain_grad()``, so that they keep their gradients to show)."""
    x1, x2 = Tensor(2.0, requires_grad=True), Tensor(0.0, requires_grad=True)
    w1, w2 = Tensor(-3.0, requires_grad=True), Tensor(1.0, requires_grad=True)
    b = Tensor(6.8813735870195432, requires_grad=True)
    x1w1, x2w2 = x1 * w1, x2 * w2
    x1w1x2w2 = x1w1 + x2w2
    n = x1w1x2w2 + b
    o = n.tanh()
    for t in (x1w1, x2w2, x1w1x2w2, n, o):
        t.retain_grad()
    names = {"x1": x1, "x2": x2, "w1": w1, "w2": w2, "b": b, "x1·w1": x1w1, "x2·w2": x2w2,
             "x1·w1 + x2·w2": x1w1x2w2, "n": n, "o": o}
    return o, names


def scalar_demo(rankdir: str = "LR") -> Any:
    """The classic first picture of autodiff: the :func:`scalar_neuron` after ``o.backward()``, every tensor with
    its value and gradient."""
    o, names = scalar_neuron()
    o.backward()
    return draw_graph(o, params=names, show_data=True, show_grad=True, rankdir=rankdir)
