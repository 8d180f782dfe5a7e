"""viz.backward_steps: the page that steps through a backward pass.

The fast tests read the written HTML: self-contained, one frame per step of ``tl.explain`` (and one before and one
after), the gradients written from the step that computed them, every user-supplied text escaped. The browser
tests open the page from disk in headless Chromium (Debian's chromium and chromedriver, through selenium) and
click through it, checking what is highlighted and written against ``tl.explain``'s own record.
"""

from __future__ import annotations

import inspect
import json
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from functions import Cube, FirstOnly

import tinygrad_lite as tl
from tinygrad_lite import Tensor, casestudy, ops, viz

pytest.importorskip("graphviz")
pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")

SVG = "{http://www.w3.org/2000/svg}"
PENDING = "grad –"  # what a box shows before its tensor's gradient is computed


def page_frames(page: str) -> list[dict[str, Any]]:
    """The frames as the page's script reads them."""
    found = re.search(r'<script type="application/json" id="frames">(.*?)</script>', page, re.S)
    assert found, "no frames in the page"
    return json.loads(found[1])


def page_svg(page: str) -> ET.Element:
    """The inline SVG, parsed (Graphviz writes it as XML)."""
    start, end = page.index("<svg"), page.index("</svg>") + len("</svg>")
    return ET.fromstring(page[start:end])


def svg_nodes(svg: ET.Element) -> dict[str, list[str]]:
    """DOT id → the texts of that node, in order (a tensor: name, shape, gradient; an operation: its name)."""
    return {g.find(f"{SVG}title").text: [t.text or "" for t in g.iter(f"{SVG}text")]
            for g in svg.iter(f"{SVG}g") if g.get("class") == "node"}


def replayed(frames: list[dict[str, Any]], index: int) -> dict[str, str]:
    """The gradients the picture shows at frame ``index``, by DOT id, as the page's script computes them."""
    shown: dict[str, str] = {}
    for frame in frames[: index + 1]:
        if frame["clear"]:
            shown.clear()
        shown.update(dict(frame["gradients"]))
    return shown


def scalar_grad(array: Any) -> str:
    return f"grad {float(np.asarray(array)):.4f}"


def expected_after(explanation: Any, steps_run: int) -> dict[str, str]:
    """Each named scalar tensor's gradient text once ``steps_run`` steps of explain's record have run."""
    shown = {}
    for step in explanation.steps[:steps_run]:
        shown[explanation.label(step.output)] = scalar_grad(step.grad_output)
        for arrival in step.inputs:
            shown[explanation.label(arrival.tensor)] = scalar_grad(
                arrival.total if arrival.added_to_earlier else arrival.grad)
    return shown


def ops_formula(operation: str) -> str:
    """The first paragraph of the operation's docstring in ops.py, on one line: its formula in symbols."""
    first = inspect.cleandoc(getattr(ops, operation).__doc__).split("\n\n")[0]
    return " ".join(line.strip() for line in first.splitlines())


def neuron_page(path: Path) -> tuple[str, Any]:
    """The page of the classic neuron, and explain's record of the same backward (on an identical neuron)."""
    o, names = viz.scalar_neuron()
    viz.backward_steps(o, path, params=names)
    o, names = viz.scalar_neuron()
    return path.read_text(encoding="utf-8"), tl.explain(o, params=names, values=True)


def broadcast_graph() -> tuple[Tensor, dict[str, Tensor]]:
    """loss = Σ (x·w + b)·(x·w + b): b broadcast over the rows, h = x·w + b reached by two paths, no retain_grad."""
    x = Tensor(np.arange(6.0).reshape(2, 3))
    w = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    b = Tensor(np.array([1.0, 0.0, -1.0]), requires_grad=True)
    h = x * w + b
    return (h * h).sum(), {"x": x, "w": w, "b": b, "h": h}


# --------------------------------------------------------------------------------------------------------------
# The HTML, without a browser
# --------------------------------------------------------------------------------------------------------------


def test_the_page_is_one_self_contained_file(tmp_path: Path) -> None:
    page, _ = neuron_page(tmp_path / "neuron.html")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<svg" in page and "<?xml" not in page and "<!DOCTYPE svg" not in page
    assert re.findall(r"<script\b[^>]*>", page) == ['<script type="application/json" id="frames">', "<script>"]
    assert not re.search(r"\b(?:src|href)\s*=", page)  # nothing loaded from anywhere, not even from disk
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert not re.search(r"\bfetch\(|XMLHttpRequest|import\(", page)


def test_one_frame_per_step_between_the_forward_pass_and_the_stored_grads(tmp_path: Path) -> None:
    page = casestudy.step_backward_page(tmp_path / "iris.html").read_text(encoding="utf-8")
    model, loss = casestudy.report._first_step(0, 5, np.float64)
    explanation = tl.explain(loss, params=model)
    frames = page_frames(page)
    assert len(frames) == len(explanation.steps) + 2 == 8
    assert [f["operation"] for f in frames] == [None, *[s.operation for s in explanation.steps], None]
    assert [f["step"] for f in frames] == [None, 0, 1, 2, 3, 4, 5, None]
    assert [f["headline"] for f in frames[2:4]] == ["step 1: SquaredError", "step 2: Sigmoid, layer 3"]
    nodes = svg_nodes(page_svg(page))
    for frame, step in zip(frames[1:-1], explanation.steps):
        assert frame["node"].startswith("op") and nodes[frame["node"]] == [step.operation]
        assert frame["formula"] == step.formula and frame["words"] == step.formula_in_words
    assert frames[0]["headline"] == "The forward pass, before backward" and frames[0]["gradients"] == []
    assert frames[-1]["headline"] == "After backward: what stays in .grad"


def test_each_gradient_is_shown_from_the_step_that_computed_it(tmp_path: Path) -> None:
    loss, names = broadcast_graph()
    page = viz.backward_steps(loss, tmp_path / "b.html", params=names).read_text(encoding="utf-8")
    frames, nodes = page_frames(page), svg_nodes(page_svg(page))
    dot_id = {texts[0]: node for node, texts in nodes.items() if texts[0] in names}
    w, b, h = dot_id["w"], dot_id["b"], dot_id["h"]
    assert [f["operation"] for f in frames[1:-1]] == ["Sum", "Mul", "Add", "Mul"]
    assert replayed(frames, 0) == {}
    assert set(replayed(frames, 2)) == {frames[1]["reads"], frames[2]["reads"], h}  # the loss, h·h and h
    assert b in replayed(frames, 3) and w not in replayed(frames, 3)  # Add (step 2) sent b its gradient
    assert w in replayed(frames, 4)
    assert set(replayed(frames, 5)) == {w, b}  # after backward only the leaves keep a .grad
    # dL/dh = 2h = [[2, -2, 6], [5, -8, 18]]: dL/dw = Σ_rows 2h·x, dL/db = Σ_rows 2h; written as draw_graph writes them
    assert replayed(frames, 5)[w] == "grad [ 15.0000, -34.0000, 102.0000]"
    assert replayed(frames, 5)[b] == "grad [ 7.0000, -10.0000, 24.0000]"
    assert "| grad [ 15.0000, -34.0000, 102.0000]" in viz.draw_graph(loss, params=names, show_grad=True).source
    # the room for a gradient in each box is its widest text: the layout never moves
    assert len(nodes[h][-1]) == max(len(replayed(frames, i).get(h, "")) for i in range(len(frames)))
    assert nodes[dot_id["x"]] == ["x", "(2, 3) float64"]  # needs no gradient: no field for one


def test_the_narration_says_what_the_engine_did(tmp_path: Path) -> None:
    loss, names = broadcast_graph()
    frames = page_frames(viz.backward_steps(loss, tmp_path / "b.html", params=names).read_text(encoding="utf-8"))
    mul, add = frames[2], frames[3]
    assert mul["lines"] == ["gradient in: (2, 3) = [[1, 1, 1], [1, 1, 1]]",
                            "in 0 → h: (2, 3) = [[1, -1, 3], [2.5, -4, 9]]",
                            "in 1 → h: (2, 3) = [[1, -1, 3], [2.5, -4, 9]]",
                            "in 1: h was reached by another path too: the two gradients are added",
                            "h in total: (2, 3) = [[2, -2, 6], [5, -8, 18]]"]
    assert add["lines"] == ["gradient in: (2, 3) = [[2, -2, 6], [5, -8, 18]]",
                            "in 0 → step 3: (2, 3) = [[2, -2, 6], [5, -8, 18]]", "in 1 → b: (3,) = [7, -10, 24]",
                            "in 1: broadcast undone, (2, 3) summed over axis 0 → (3,)"]
    assert frames[-1]["lines"] == ["b.grad ← (3,) = [7, -10, 24]", "w.grad ← (3,) = [15, -34, 102]",
                                   "The other gradients were freed as backward went; retain_grad() keeps one."]
    assert "in 0 needs none (it requires no gradient)" in frames[4]["lines"]  # x


def test_the_root_box_is_named_as_the_narration_names_it(tmp_path: Path) -> None:
    loss, names = broadcast_graph()
    page = viz.backward_steps(loss, tmp_path / "b.html", params=names).read_text(encoding="utf-8")
    frames, nodes = page_frames(page), svg_nodes(page_svg(page))
    assert nodes[frames[1]["reads"]][0] == "loss"  # the box step 0 reads: the root
    assert frames[0]["lines"][1].startswith("backward() runs them newest first, starting from d loss/d loss")
    assert not any(texts[0] == "output" for texts in nodes.values())


def test_an_input_that_gets_none_is_narrated_truthfully(tmp_path: Path) -> None:
    x, y, data = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0], requires_grad=True), Tensor([5.0, 6.0])
    loss = FirstOnly.apply(FirstOnly.apply(x, y), data).sum()
    frames = page_frames(viz.backward_steps(loss, tmp_path / "n.html", params={"x": x, "y": y, "data": data})
                         .read_text(encoding="utf-8"))
    assert "in 1 needs none (it requires no gradient)" in frames[2]["lines"]  # data
    assert "in 1 receives no gradient: FirstOnly's backward returned None for it" in frames[3]["lines"]  # y
    assert not any("requires no gradient" in line for line in frames[3]["lines"])


def test_a_formula_in_symbols_only_shows_no_words(tmp_path: Path) -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    page = viz.backward_steps(Cube.apply(x).sum(), tmp_path / "c.html", params={"x": x}).read_text(encoding="utf-8")
    cube = page_frames(page)[2]
    assert (cube["operation"], cube["formula"][:21], cube["words"]) == ("Cube", "z = x³;  dz/dx = 3x².", "")
    assert "not documented" not in page


def test_a_grad_from_an_earlier_backward_shows_from_frame_0(tmp_path: Path) -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()  # x.grad = 2x = [2, 4], before the pass the page shows
    page = viz.backward_steps((x * 3.0).sum(), tmp_path / "a.html", params={"x": x}).read_text(encoding="utf-8")
    frames, nodes = page_frames(page), svg_nodes(page_svg(page))
    x_id = next(node for node, texts in nodes.items() if texts[0] == "x")
    assert replayed(frames, 0) == {x_id: "grad [2.0000, 4.0000]"}
    assert "x.grad already holds (2,) = [2, 4] from an earlier backward: this pass's gradient will be added to it." \
        in frames[0]["lines"]
    assert replayed(frames, 2)[x_id] == "grad [3.0000, 3.0000]"  # the gradient this pass sends
    assert replayed(frames, 3)[x_id] == "grad [5.0000, 7.0000]"
    assert frames[-1]["lines"][0] == "x.grad ← (2,) = [5, 7]: this pass's gradient [3, 3] added to the .grad " \
        "already there"
    assert np.array_equal(x.grad.numpy(), [5.0, 7.0])


def test_counts_of_one_are_singular(tmp_path: Path) -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    frames = page_frames(viz.backward_steps(x.sum(), tmp_path / "s.html").read_text(encoding="utf-8"))
    assert frames[0]["lines"][0] == "1 operation was recorded computing loss; no gradient exists yet."


@pytest.mark.parametrize("rankdir", ["lr", "XY", None])
def test_a_bad_rankdir_is_refused_before_backward_runs(rankdir: Any, tmp_path: Path) -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="backward_steps: rankdir must be one of 'LR', 'TB', 'RL', 'BT'"):
        viz.backward_steps((x * x).sum(), tmp_path / "r.html", rankdir=rankdir)
    assert x.grad is None and not (tmp_path / "r.html").exists()
    with pytest.raises(ValueError, match="draw_graph: rankdir must be one of"):
        viz.draw_graph((x * x).sum(), rankdir=rankdir)


def test_values_false_shows_shapes_only(tmp_path: Path) -> None:
    loss, names = broadcast_graph()
    frames = page_frames(viz.backward_steps(loss, tmp_path / "b.html", params=names, values=False)
                         .read_text(encoding="utf-8"))
    assert frames[3]["lines"][:3] == ["gradient in: (2, 3)", "in 0 → step 3: (2, 3)", "in 1 → b: (3,)"]
    assert sorted(replayed(frames, len(frames) - 1).values()) == ["grad (3,)", "grad (3,)"]


def test_grad_ends_as_backward_leaves_it(tmp_path: Path) -> None:
    o, names = viz.scalar_neuron()
    viz.backward_steps(o, tmp_path / "n.html", params=names)
    plain, plain_names = viz.scalar_neuron()
    plain.backward()
    for name, tensor in names.items():
        assert np.array_equal(tensor.grad.data, plain_names[name].grad.data), name


def test_hostile_names_and_title_are_escaped(tmp_path: Path) -> None:
    hostile = "<script>alert('name')</script>"
    x, w = Tensor([1.0, 2.0]), Tensor([3.0, -1.0], requires_grad=True)
    loss = (x * w).sum()
    path = viz.backward_steps(loss, tmp_path / "h.html", params={hostile: w, "a&b</style><b>": x},
                              title="</title><script>alert('title')</script>")
    page = path.read_text(encoding="utf-8")
    assert len(re.findall(r"<script", page, re.I)) == 2 and "</style><b>" not in page
    assert "alert(" not in page.replace("&lt;script&gt;alert(", "").replace("\\u003cscript\\u003ealert(", "")
    assert "&lt;/title&gt;&lt;script&gt;alert(&#x27;title&#x27;)" in page
    assert [hostile, "(2,) float32", "grad [1.0000, 2.0000]"] in svg_nodes(page_svg(page)).values()
    assert f"{hostile}.grad ← (2,) = [1, 2]" in page_frames(page)[-1]["lines"]  # the JSON still says it as is


def test_without_dot_nothing_runs_and_nothing_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    o, names = viz.scalar_neuron()
    with pytest.raises(viz.GraphvizNotFoundError, match="apt-get install graphviz"):
        viz.backward_steps(o, tmp_path / "n.html", params=names)
    assert not (tmp_path / "n.html").exists()
    assert names["x1"].grad is None  # backward did not run


# --------------------------------------------------------------------------------------------------------------
# In a browser: headless Chromium
# --------------------------------------------------------------------------------------------------------------


def _no_selenium_manager(*args: object, **kwargs: object) -> None:
    raise AssertionError("selenium-manager must not run (it would download a browser or driver)")


def browser_programs() -> tuple[str, str]:
    """Chromium and chromedriver as found on PATH; the test is skipped, saying why, when either or selenium is
    missing (and only then)."""
    pytest.importorskip("selenium.webdriver", reason="needs selenium: pip install 'tinygrad-lite[browser]'")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        pytest.skip("needs chromium and chromedriver on PATH (make chromium, or apt-get install chromium "
                    "chromium-driver)")
    return chromium, chromedriver


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium driven through Debian's chromedriver, both found on PATH; quit whatever happens."""
    chromium, chromedriver = browser_programs()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.selenium_manager import SeleniumManager

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900"):
        options.add_argument(argument)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SeleniumManager, "binary_paths", _no_selenium_manager)
        driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    try:
        yield driver
    finally:
        driver.quit()


class Page:
    """The opened page, read through the DOM the script keeps up to date."""

    def __init__(self, driver: Any) -> None:
        from selenium.webdriver.common.by import By

        self.driver, self.by = driver, By

    def element(self, css: str) -> Any:
        return self.driver.find_element(self.by.CSS_SELECTOR, css)

    def text(self, css: str) -> str:
        return self.element(css).get_attribute("textContent")

    def frame(self) -> int:
        return int(self.element("body").get_attribute("data-frame"))

    def running(self) -> list[str]:
        """The operation names of the highlighted nodes."""
        return [g.get_attribute("textContent")
                for g in self.driver.find_elements(self.by.CSS_SELECTOR, "#graph g.node.running text")]

    def gradients(self) -> dict[str, str]:
        """Tensor name (its record's first field) → the gradient its box shows, for each box with one."""
        return self.driver.execute_script("""
            const shown = {};
            for (const text of document.querySelectorAll("#graph text.gradient")) {
              shown[text.parentNode.querySelector("text").textContent] = text.textContent;
            }
            return shown;""")

    def narration(self) -> tuple[str, str, str]:
        narration = self.element("#narration")
        return (narration.get_attribute("data-step"), narration.get_attribute("data-operation"),
                self.text("#headline"))


def test_stepping_through_the_neuron_in_a_browser(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.keys import Keys

    page_text, explanation = neuron_page(tmp_path / "neuron.html")
    steps = explanation.steps
    assert [s.operation for s in steps] == ["Tanh", "Add", "Add", "Mul", "Mul"]
    browser.get((tmp_path / "neuron.html").as_uri())
    page = Page(browser)
    none_yet = dict.fromkeys(["x1", "w1", "x2", "w2", "b", "x1·w1", "x2·w2", "x1·w1 + x2·w2", "n", "o"], PENDING)

    assert page.frame() == 0 and page.running() == []
    assert page.narration() == ("", "", "The forward pass, before backward")
    assert page.gradients() == none_yet
    assert page.element("#previous").get_attribute("disabled") == "true"

    for index, step in enumerate(steps):
        page.element("#next").click()
        assert page.frame() == index + 1
        assert page.running() == [step.operation]
        assert page.narration() == (str(index), step.operation, f"step {index}: {step.operation}")
        assert page.text("#formula") == ops_formula(step.operation) == step.formula
        assert page.text("#words") == "In words: " + step.formula_in_words
        assert page.gradients() == {**none_yet, **expected_after(explanation, index + 1)}, step.operation
    assert page.gradients()["x1"] == "grad -1.5000" and page.gradients()["w2"] == "grad 0.0000"

    page.element("#slider").send_keys(Keys.END)  # the slider, moved by keyboard as a user would
    last = len(steps) + 1
    assert page.frame() == last and page.running() == []
    assert page.narration() == ("", "", "After backward: what stays in .grad")
    assert page.gradients() == {s.name: scalar_grad(s.tensor.grad.data) for s in explanation.stored}
    assert page.element("#next").get_attribute("disabled") == "true"

    page.element("#previous").click()
    assert page.frame() == last - 1 and page.running() == [steps[-1].operation]
    assert page.text("#formula") == ops_formula(steps[-1].operation)
    page.element("body").send_keys(Keys.ARROW_LEFT)
    assert page.frame() == last - 2 and page.running() == [steps[-2].operation]
    assert page.gradients() == {**none_yet, **expected_after(explanation, len(steps) - 1)}
    page.element("body").send_keys(Keys.ARROW_RIGHT)
    assert page.frame() == last - 1
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    assert "<svg" in page_text


def test_the_last_frame_keeps_only_what_stays_in_grad(browser: Any, tmp_path: Path) -> None:
    loss, names = broadcast_graph()
    path = viz.backward_steps(loss, tmp_path / "b.html", params=names)
    browser.get(path.as_uri())
    page = Page(browser)
    page.element("#slider").click()  # the middle of the slider: frames 0-5, a click sets 2 or 3
    assert page.frame() in (2, 3) and page.gradients()["h"] != PENDING
    page.element("body").send_keys("x")  # other keys do nothing
    frame = page.frame()
    assert page.frame() == frame
    from selenium.webdriver.common.keys import Keys

    page.element("#slider").send_keys(Keys.END)
    assert page.gradients() == {"w": "grad [ 15.0000, -34.0000, 102.0000]", "b": "grad [ 7.0000, -10.0000, 24.0000]",
                                "h": PENDING, "(2, 3) float64": PENDING, "loss": PENDING}  # intermediates freed
    assert "The other gradients were freed" in page.text("#lines")
    page.element("#slider").send_keys(Keys.HOME)
    assert page.frame() == 0 and set(page.gradients().values()) == {PENDING}


def test_the_docs_screenshot_script_photographs_a_middle_frame(tmp_path: Path) -> None:
    import runpy
    import struct

    browser_programs()
    tool = runpy.run_path(str(Path(__file__).resolve().parent.parent / "tools" / "backward_steps_screenshot.py"))
    shot = tmp_path / "shot.png"
    tool["main"](["--output", str(shot), "--size", "800x700"])
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    assert struct.unpack(">I", png[16:20])[0] == 800  # the window's width; its height less the browser's bars
