"""The page :func:`tinygrad_lite.viz.backward_steps` writes: a backward pass to step through, frame by frame.

It is one HTML file that works opened from disk: the graph's SVG, the frames as JSON and a short script, all
inline; no server, no network, no library. The graph is drawn once and a frame holds only what changes on it:

- which operation runs (its node's DOT id, which the SVG keeps in each node's ``<title>``) and which tensor's
  gradient it reads;
- the gradients written on the picture at this frame, as each tensor's box shows them (``grad ...``). The script
  shows frame k by replaying frames 0..k, so a gradient appears at the step that computed it and stays;
- the narration under the picture, from ``tl.explain``'s record: the operation, its layer, its formula in
  symbols and in words, the gradient in and the gradients out with their shapes, the broadcast axes summed, the
  paths added.

Frame 0 is the forward pass (no gradient yet, but the ``.grad`` an earlier backward left in a leaf), then one
frame per step of the explanation, then the ``.grad`` that backward leaves behind: that last frame clears the
picture first, since the intermediate gradients are freed (unless ``retain_grad()`` kept them).

This module knows nothing of Graphviz: :mod:`tinygrad_lite.viz` draws and renders the graph and passes in how a
gradient reads in a box.
"""

from __future__ import annotations

import html
import json
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .explain import BackwardExplanation, BackwardStep, counted, summarize
from .tensor import Tensor

GradientText = Callable[[np.ndarray], str]  # a gradient as its tensor's box shows it: "grad -1.5000"


@dataclass
class Frame:
    """What one frame shows. Tensors and nodes are the objects themselves here; the page names them by DOT id."""

    headline: str
    lines: list[str]
    gradients: list[tuple[Tensor, str]] = field(default_factory=list)  # box texts set at this frame, in order
    step: int | None = None  # the index of explain's step; None before and after backward
    operation: str | None = None
    node: Any = None  # the graph node whose backward runs (a Function)
    reads: Tensor | None = None  # its output, whose gradient it reads
    formula: str = ""
    words: str = ""
    clear: bool = False  # wipe the gradients shown so far before writing this frame's


# --------------------------------------------------------------------------------------------------------------
# The frames, narrated from explain's record
# --------------------------------------------------------------------------------------------------------------


def frames(explanation: BackwardExplanation, gradient_text: GradientText) -> list[Frame]:
    """The forward pass, one frame per step in the order the engine ran them, and the ``.grad`` left behind."""
    steps = [_step_frame(explanation, step, gradient_text) for step in explanation.steps]
    return [_forward_frame(explanation, gradient_text), *steps, _last_frame(explanation, gradient_text)]


def widest_gradient_texts(all_frames: list[Frame]) -> dict[int, str]:
    """``id(tensor)`` → the longest text its box will show: drawn in the SVG, it reserves the room for every
    other (the layout never moves between frames)."""
    widest: dict[int, str] = {}
    for frame in all_frames:
        for tensor, text in frame.gradients:
            if len(text) > len(widest.get(id(tensor), "")):
                widest[id(tensor)] = text
    return widest


def _amount(array: np.ndarray, values: bool) -> str:
    """A gradient in the narration: its shape, and its values when asked (``scalar = 0.5``)."""
    shape = "scalar" if array.ndim == 0 else str(tuple(array.shape))
    if not values:
        return shape
    return f"{shape} = {summarize(array).removeprefix(str(tuple(array.shape)) + ' ')}"  # said once is enough


def _forward_frame(explanation: BackwardExplanation, gradient_text: GradientText) -> Frame:
    """Before backward: what was recorded, and the ``.grad`` that earlier passes left, which this one adds to."""
    loss, values = explanation.label(explanation.loss), explanation.values
    root = explanation.root_grad
    start = summarize(root) if values or root.size == 1 else "the gradient given"
    earlier = [s for s in explanation.stored if s.previous is not None]
    recorded = f"{counted(len(explanation.steps), 'operation')} {'was' if len(explanation.steps) == 1 else 'were'}"
    lines = [f"{recorded} recorded computing {loss}; "
             + ("this pass has computed no gradient yet." if earlier else "no gradient exists yet."),
             f"backward() runs them newest first, starting from d {loss}/d {loss} = {start}."]
    lines += [f"{explanation.label(s.tensor)}.grad already holds {_amount(s.previous, values)} from an earlier "
              "backward: this pass's gradient will be added to it." for s in earlier]
    return Frame("The forward pass, before backward", lines,
                 [(s.tensor, gradient_text(s.previous)) for s in earlier])


def _step_frame(explanation: BackwardExplanation, step: BackwardStep, gradient_text: GradientText) -> Frame:
    """One step: the node runs, reads its output's gradient and sends one to each input that needs it."""
    label, values = explanation.label, explanation.values
    lines = [f"{label(s.tensor)}.grad ← {_amount(s.grad, values)}, kept (retain_grad)"
             for s in explanation.stored if s.at_step == step.index and not s.is_leaf]
    lines.append(f"gradient in: {_amount(step.grad_output, values)}")
    outs = [(a.index, f"in {a.index} → {label(a.tensor)}: {_amount(a.grad, values)}") for a in step.inputs]
    outs += [(i, f"in {i} receives no gradient: {step.operation}'s backward returned None for it"
              if step.returned_none(i) else f"in {i} needs none (it requires no gradient)") for i in step.no_gradient]
    lines += [text for _, text in sorted(outs)]
    for arrival in step.inputs:
        lines += explanation.notes(arrival)
        if arrival.added_to_earlier and values:
            lines.append(f"{label(arrival.tensor)} in total: {_amount(arrival.total, values)}")
    gradients = [(step.output, gradient_text(step.grad_output))]
    gradients += [(a.tensor, gradient_text(a.total if a.added_to_earlier else a.grad)) for a in step.inputs]
    where = f", layer {step.layer}" if step.layer else ""
    return Frame(f"step {step.index}: {step.operation}{where}", lines, gradients, step=step.index,
                 operation=step.operation, node=step.node, reads=step.output, formula=step.formula,
                 words=step.formula_in_words)


def _last_frame(explanation: BackwardExplanation, gradient_text: GradientText) -> Frame:
    """The ``.grad`` of each leaf (and ``retain_grad`` tensor) as backward left it; nothing else stays."""
    label, values = explanation.label, explanation.values
    lines, gradients = [], []
    for stored in explanation.stored:
        kept = "" if stored.is_leaf else " (retain_grad)"
        line = f"{label(stored.tensor)}.grad ← {_amount(stored.result, values)}{kept}"
        if stored.accumulated:
            this_pass = f" {summarize(stored.grad)}" if values else ""
            line += f": this pass's gradient{this_pass} added to the .grad already there"
        lines.append(line)
        gradients.append((stored.tensor, gradient_text(stored.result)))
    kept_ids = {id(s.tensor) for s in explanation.stored}
    if any(id(a.tensor) not in kept_ids for step in explanation.steps for a in step.inputs):
        lines.append("The other gradients were freed as backward went; retain_grad() keeps one.")
    return Frame("After backward: what stays in .grad", lines, gradients, clear=True)


# --------------------------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------------------------


def frame_json(frame: Frame, dot_ids: dict[int, str]) -> dict[str, Any]:
    """A frame as the page's script reads it, tensors and nodes by DOT id (a tensor not drawn is left out)."""
    def dot(obj: Any) -> str | None:
        return None if obj is None else dot_ids.get(id(obj))

    return {"headline": frame.headline, "step": frame.step, "operation": frame.operation, "node": dot(frame.node),
            "reads": dot(frame.reads), "clear": frame.clear, "formula": frame.formula, "words": frame.words,
            "lines": frame.lines,
            "gradients": [[dot_ids[id(t)], text] for t, text in frame.gradients if id(t) in dot_ids]}


def inline_svg(svg: str) -> str:
    """Graphviz's SVG document as an element of an HTML page: no XML declaration, doctype or comments."""
    return re.sub(r"<!--.*?-->\n?", "", svg[svg.index("<svg"):], flags=re.S)


def script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element: ``<``, ``>`` and ``&`` escaped, so no text can close it."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def page(title: str, svg: str, frames_json: list[dict[str, Any]]) -> str:
    """The whole page: ``svg`` is Graphviz's output, whose texts Graphviz has escaped; the title is escaped here
    and the frames' texts are set by the script as text, never as HTML."""
    return _PAGE.substitute(title=html.escape(title), css=_CSS, svg=inline_svg(svg), last=len(frames_json) - 1,
                            frames=script_json(frames_json), script=_SCRIPT)


_PAGE = string.Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>$title</title>
<style>$css</style>
</head>
<body>
<h1>$title</h1>
<nav id="controls">
<button id="previous" type="button">◀ Previous</button>
<input id="slider" type="range" min="0" max="$last" step="1" value="0" aria-label="frame">
<button id="next" type="button">Next ▶</button>
<span id="position"></span>
<span class="hint">(← and → keys too) orange: the operation running and the gradients it just wrote;
blue: the gradient it reads</span>
</nav>
<figure id="graph">
$svg
</figure>
<section id="narration" aria-live="polite">
<h2 id="headline"></h2>
<p id="formula"></p>
<p id="words"></p>
<ul id="lines"></ul>
</section>
<script type="application/json" id="frames">$frames</script>
<script>$script</script>
</body>
</html>
""")

_CSS = """
body { font-family: Helvetica, Arial, sans-serif; margin: 0 2em; color: #111827; }
h1 { font-size: 1.3em; }
#controls, #narration { position: sticky; background: white; z-index: 1; }
#controls { top: 0; padding: 0.5em 0; display: flex; gap: 0.8em; align-items: center; flex-wrap: wrap; }
#slider { width: 20em; }
.hint { color: #6b7280; font-size: 0.85em; }
#graph { margin: 0.5em 0; }
#graph svg { max-width: 100%; height: auto; }
#narration { bottom: 0; max-height: 45vh; overflow: auto; border-top: 1px solid #d1d5db; padding-bottom: 0.5em; }
#headline { font-size: 1.15em; margin: 0.3em 0; }
#formula { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.95em; }
#words { color: #374151; }
#lines { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.9em; }
g.node.running ellipse { fill: #fbbf24; stroke: #b45309; stroke-width: 3px; }
g.edge.running path { stroke: #b45309; stroke-width: 2.5px; }
g.edge.running polygon { fill: #b45309; stroke: #b45309; }
g.node.reads polygon { stroke: #2563eb; stroke-width: 3px; }
g.node.fresh polygon { stroke: #d97706; stroke-width: 3px; }
g.node.fresh text.gradient { fill: #b45309; font-weight: bold; }
text.gradient.pending { fill: #9ca3af; }
"""

_SCRIPT = """
"use strict";
// Shows one frame at a time; everything it shows comes from the frames written by viz.backward_steps.
const frames = JSON.parse(document.getElementById("frames").textContent);
const byId = id => document.getElementById(id);
const slider = byId("slider"), previous = byId("previous"), next = byId("next");

const drawn = new Map();  // DOT id (t3, op2) -> its <g> in the SVG, which keeps the id in its <title>
for (const g of document.querySelectorAll("#graph g.node")) {
  g.dataset.id = g.querySelector("title").textContent;
  drawn.set(g.dataset.id, g);
}
const edges = [...document.querySelectorAll("#graph g.edge")].map(
  g => [g, ...g.querySelector("title").textContent.split("->")]);
const gradientTexts = new Map();  // DOT id of a tensor -> the <text> of its gradient: its record's last field
for (const frame of frames) {
  for (const [id] of frame.gradients) {
    const texts = drawn.get(id).querySelectorAll("text");
    const text = texts[texts.length - 1];
    text.classList.add("gradient");
    text.dataset.tensor = id;
    gradientTexts.set(id, text);
  }
}

let current = 0;

function gradientsAt(index) {
  // Frames 0..index replayed: each gradient from the step that wrote it on, the last frame's after a clear.
  const shown = new Map();
  for (const frame of frames.slice(0, index + 1)) {
    if (frame.clear) shown.clear();
    for (const [id, text] of frame.gradients) shown.set(id, text);
  }
  return shown;
}

function narrate(frame) {
  const narration = byId("narration");
  narration.dataset.step = frame.step === null ? "" : frame.step;
  narration.dataset.operation = frame.operation || "";
  byId("headline").textContent = frame.headline;
  byId("formula").textContent = frame.formula;
  byId("words").textContent = frame.words ? "In words: " + frame.words : "";
  byId("lines").replaceChildren(...frame.lines.map(line => {
    const item = document.createElement("li");
    item.textContent = line;
    return item;
  }));
}

function keepInView(element) {
  // Scrolls a tall graph so that the running operation sits between the controls and the narration.
  const box = element.getBoundingClientRect();
  const top = byId("controls").getBoundingClientRect().bottom, bottom = byId("narration").getBoundingClientRect().top;
  if (box.top < top || box.bottom > bottom) window.scrollBy(0, (box.top + box.bottom - top - bottom) / 2);
}

function show(index) {
  current = Math.max(0, Math.min(frames.length - 1, index));
  const frame = frames[current];
  const shown = gradientsAt(current);
  for (const [id, text] of gradientTexts) {
    text.textContent = shown.has(id) ? shown.get(id) : "grad –";
    text.classList.toggle("pending", !shown.has(id));
  }
  const fresh = new Set(frame.gradients.map(([id]) => id).filter(id => id !== frame.reads));
  for (const [id, g] of drawn) {
    g.classList.toggle("running", id === frame.node);
    g.classList.toggle("reads", id === frame.reads);
    g.classList.toggle("fresh", fresh.has(id));
  }
  for (const [g, tail, head] of edges) {
    g.classList.toggle("running", frame.node !== null && (tail === frame.node || head === frame.node));
  }
  narrate(frame);
  if (frame.node !== null) keepInView(drawn.get(frame.node));
  document.body.dataset.frame = current;
  slider.value = current;
  previous.disabled = current === 0;
  next.disabled = current === frames.length - 1;
  byId("position").textContent = "frame " + (current + 1) + " of " + frames.length;
}

previous.addEventListener("click", () => show(current - 1));
next.addEventListener("click", () => show(current + 1));
slider.addEventListener("input", () => show(Number(slider.value)));
document.addEventListener("keydown", event => {
  if (event.target === slider || event.altKey || event.ctrlKey || event.metaKey) return;  // it moves itself
  if (event.key === "ArrowRight") show(current + 1);
  else if (event.key === "ArrowLeft") show(current - 1);
  else return;
  event.preventDefault();
});
show(0);
"""
