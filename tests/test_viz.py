"""tinygrad_lite.viz: the DOT source of known graphs (nodes, labels, edges, clusters), real rendering with Graphviz,
and the errors a user without Graphviz sees."""

from __future__ import annotations

import re
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import Tensor, nn, viz

graphviz = pytest.importorskip("graphviz")
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")

_NODE = re.compile(r"^\s*(t\d+|op\d+) \[(.*)\]$", re.M)
_EDGE = re.compile(r"^\s*(\w+) -> (\w+)", re.M)


def parse(g) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Node id → its attribute text, and the edges, from a Digraph's DOT source."""
    return {m[1]: m[2] for m in _NODE.finditer(g.source)}, [(m[1], m[2]) for m in _EDGE.finditer(g.source)]


def op_names(nodes: dict[str, str]) -> list[str]:
    return sorted(re.match(r"label=(\w+)", attrs)[1] for nid, attrs in nodes.items() if nid.startswith("op"))


def node_with(nodes: dict[str, str], text: str) -> str:
    found = [nid for nid, attrs in nodes.items() if text in attrs]
    assert len(found) == 1, f"{text!r} in {found}"
    return found[0]


def cluster_body(source: str, cluster: str) -> str:
    """The lines of one (non-nested) cluster subgraph."""
    m = re.search(r"subgraph " + re.escape(cluster) + r" \{\n(.*?)\n\t\}", source, re.S)
    assert m, f"no {cluster} in\n{source}"
    return m[1]


# ---- structure ----------------------------------------------------------------------------------------------


def test_mul_sum_has_one_node_per_tensor_and_operation() -> None:
    a = Tensor(np.ones((2, 3)), requires_grad=True)
    b = Tensor(np.ones((2, 3)), requires_grad=True)
    out = (a * b).sum()
    g = viz.draw_graph(out, params={"a": a, "b": b})
    assert isinstance(g, graphviz.Digraph)
    nodes, edges = parse(g)
    tensors = [n for n in nodes if n.startswith("t")]
    assert len(tensors) == 4 and op_names(nodes) == ["Mul", "Sum"]
    ta, tb = node_with(nodes, "{ a |"), node_with(nodes, "{ b |")
    mul, total = node_with(nodes, "label=Mul"), node_with(nodes, "label=Sum")
    product = next(dst for src, dst in edges if src == mul)
    result = node_with(nodes, "{ output |")
    assert sorted(edges) == sorted([(ta, mul), (tb, mul), (mul, product), (product, total), (total, result)])
    assert "(2, 3) float64" in nodes[ta] and "scalar float64" in nodes[result]


def test_a_tensor_reached_by_many_paths_is_drawn_once() -> None:
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = a + a  # diamond: a feeds Add twice
    c = (b * a).sum()  # and a feeds Mul as well
    nodes, edges = parse(viz.draw_graph(c, params={"a": a}))
    ta = node_with(nodes, "{ a |")
    add, mul = node_with(nodes, "label=Add"), node_with(nodes, "label=Mul")
    assert len(nodes) == 4 + 3  # a, b, b*a, c; Add, Mul, Sum
    assert edges.count((ta, add)) == 2 and edges.count((ta, mul)) == 1


def test_graph_is_drawn_after_backward_and_several_roots() -> None:
    x = Tensor([[1.0, 2.0]], requires_grad=True)
    y = x.exp().sum()
    z = x.sigmoid().mean()
    y.backward()  # frees saved arrays, keeps the structure
    nodes, _ = parse(viz.draw_graph([y, z]))
    assert op_names(nodes).count("Exp") == 1 and "Sigmoid" in op_names(nodes)
    assert sum("output" in attrs for attrs in nodes.values()) == 2
    assert sum("{ leaf |" in attrs for attrs in nodes.values()) == 1  # x, shared by both roots, drawn once


def test_leaf_without_graph_is_a_single_node() -> None:
    nodes, edges = parse(viz.draw_graph(Tensor(3.0)))
    assert len(nodes) == 1 and edges == []


def test_constants_are_not_nodes_and_inputs_are_marked() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)
    x = Tensor([3.0, 4.0])
    out = (w * x * 2.0).sum()
    nodes, _ = parse(viz.draw_graph(out, params={"w": w, "x": x}))
    assert len(nodes) == 5 + 3  # w, x, w*x, *2, sum; Mul, Mul, Sum
    assert viz._COLORS["input"] in nodes[node_with(nodes, "{ x |")]
    assert viz._COLORS["parameter"] in nodes[node_with(nodes, "{ w |")]
    assert viz._COLORS["output"] in nodes[node_with(nodes, "{ output |")]


def test_legend_lists_only_the_kinds_present() -> None:
    a = Tensor(1.0, requires_grad=True)
    source = viz.draw_graph(a * 2.0).source
    assert "leaf (requires grad)" in source and "operation" in source and "output" in source
    assert "parameter" not in source and "input (no grad)" not in source


def test_rankdir_and_record_orientation() -> None:
    a = Tensor(1.0, requires_grad=True)
    lr, tb = viz.draw_graph(a.exp()).source, viz.draw_graph(a.exp(), rankdir="TB").source
    assert "rankdir=LR" in lr and '"{ leaf | scalar float32 }"' in lr
    assert "rankdir=TB" in tb and '"leaf | scalar float32"' in tb  # fields still read left to right


def test_bad_root_and_bad_params() -> None:
    with pytest.raises(TypeError, match="root must be a Tensor"):
        viz.draw_graph(np.ones(3))
    with pytest.raises(TypeError, match="not a Tensor"):
        viz.draw_graph(Tensor(1.0), params={"w": np.ones(2)})


def test_ten_thousand_operation_chain_draws_without_recursion() -> None:
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    nodes, edges = parse(viz.draw_graph(y))
    assert len(nodes) == 10_001 + 10_000 and len(edges) == 20_000


# ---- labels -------------------------------------------------------------------------------------------------


def test_scalar_shows_data_and_grad() -> None:
    a = Tensor(2.0, requires_grad=True)
    y = a * a
    y.backward()
    nodes, _ = parse(viz.draw_graph(y, params={"a": a}, show_data=True, show_grad=True))
    assert nodes[node_with(nodes, "{ a |")].startswith('label="{ a | scalar float32 | data 2.0000 | grad 4.0000 }"')
    assert "data 4.0000 }" in nodes[node_with(nodes, "{ output |")]  # no retained grad on a non-leaf


def test_small_tensors_show_values_large_ones_a_summary() -> None:
    v = Tensor([1.0, -2.0], requires_grad=True)
    m = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    out = (v.sum() * m).sum()
    nodes, _ = parse(viz.draw_graph(out, params={"v": v, "m": m}, show_data=True))
    assert "data [ 1.0000, -2.0000]" in nodes[node_with(nodes, "{ v |")]
    assert "data mean 2.5000 norm 7.4162" in nodes[node_with(nodes, "{ m |")]
    assert "grad " not in g_source(out, {"v": v}, show_data=True)
    out.backward()
    nodes, _ = parse(viz.draw_graph(out, params={"v": v, "m": m}, show_grad=True))
    assert "grad [15.0000, 15.0000]" in nodes[node_with(nodes, "{ v |")]
    assert "grad mean -1.0000 norm 2.4495" in nodes[node_with(nodes, "{ m |")]


def g_source(root, params, **kwargs) -> str:
    return viz.draw_graph(root, params=params, **kwargs).source


def test_leaf_without_gradient_yet_says_none() -> None:
    a = Tensor(2.0, requires_grad=True)
    nodes, _ = parse(viz.draw_graph(a * 3.0, params={"a": a}, show_grad=True))
    assert "grad None" in nodes[node_with(nodes, "{ a |")]


def test_scalar_demo_is_the_classic_neuron() -> None:
    nodes, edges = parse(viz.scalar_demo())
    assert len(nodes) == 10 + 5 and len(edges) == 14
    assert "{ o | scalar float32 | data 0.7071 | grad 1.0000 }" in nodes[node_with(nodes, "{ o |")]
    assert "data 2.0000 | grad -1.5000" in nodes[node_with(nodes, "{ x1 |")]
    assert "data -3.0000 | grad 1.0000" in nodes[node_with(nodes, "{ w1 |")]
    assert op_names(nodes) == ["Add", "Add", "Mul", "Mul", "Tanh"]


# ---- modules and clusters -----------------------------------------------------------------------------------


class _Linear(nn.Module):
    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(np.random.default_rng(0).normal(size=(n_out, n_in)))

    def forward(self, x: Tensor) -> Tensor:
        return x @ self.weight.T


class _Sigmoid(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.act1, self.fc2, self.act2 = _Linear(4, 5), _Sigmoid(), _Linear(5, 3), _Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        return self.act2(self.fc2(self.act1(self.fc1(x))))


def _iris_step(model, trace: bool = False) -> Tensor:
    x, y = Tensor(np.full((6, 4), 0.5)), Tensor(np.eye(3)[[0, 1, 2, 0, 1, 2]])
    if trace:
        with viz.trace_modules(model):
            out = model(x)
    else:
        out = model(x)
    loss = 0.5 * ((y - out) ** 2).sum()
    loss.backward()
    return loss


def test_clusters_from_parameters() -> None:
    model = _Net()
    g = viz.draw_graph(_iris_step(model), params=model, show_grad=True)
    source = g.source
    assert re.findall(r"subgraph (\w+)", source) == ["cluster_fc1", "cluster_fc2"]
    fc1, fc2 = cluster_body(source, "cluster_fc1"), cluster_body(source, "cluster_fc2")
    assert 'label="fc1: _Linear"' in fc1 and "fc1.weight | (5, 4) float64 | grad mean" in fc1
    # the weight, its transpose, the product and the sigmoid after it; the loss stays outside
    for text in fc1, fc2:
        assert re.findall(r"label=(Permute|Matmul|Sigmoid)", text) == ["Permute", "Matmul", "Sigmoid"]
    outside = re.sub(r"subgraph .*?\n\t\}", "", source, flags=re.S)
    assert re.findall(r"label=(\w+) fill", outside) == ["Sub", "Pow", "Sum", "Mul"]


def test_clusters_from_trace_modules_are_exact() -> None:
    model = _Net()
    loss = _iris_step(model, trace=True)
    assert "forward" not in vars(model.fc1) and "forward" not in vars(model)  # forward unwrapped again
    source = viz.draw_graph(loss, params=model).source
    assert re.findall(r"subgraph (\w+)", source) == ["cluster_act1", "cluster_act2", "cluster_fc1", "cluster_fc2"]
    assert re.findall(r"label=(\w+) fill", cluster_body(source, "cluster_act1")) == ["Sigmoid"]
    assert re.findall(r"label=(\w+) fill", cluster_body(source, "cluster_fc2")) == ["Permute", "Matmul"]
    assert 'label="act1: _Sigmoid"' in source
    # tags are kept on the nodes: drawing without params still groups
    assert "subgraph cluster_act2" in viz.draw_graph(loss).source


def test_trace_modules_gives_back_an_instance_s_own_forward() -> None:
    model = _Net()
    own = model.fc2.forward
    object.__setattr__(model.fc2, "forward", own)  # an instance attribute, as trace_modules itself sets one
    _iris_step(model, trace=True)
    assert vars(model.fc2)["forward"] is own and "forward" not in vars(model.fc1)


def test_params_must_be_a_module_or_a_mapping() -> None:
    with pytest.raises(TypeError, match=r"nn\.Module or a mapping"):
        viz.draw_graph(Tensor(1.0), params=[Tensor(1.0)])


def test_nested_modules_nest_clusters() -> None:
    outer = nn.Module()
    outer.block = _Net()
    x = Tensor(np.ones((2, 4)))
    loss = outer.block(x).sum()
    source = viz.draw_graph(loss, params=outer).source
    assert "subgraph cluster_block {" in source
    block = source[source.index("subgraph cluster_block {"):]
    assert block.index("subgraph cluster_block_fc1") < block.index("\n\t}")  # inside the block cluster
    assert 'label="block.fc1: _Linear"' in source and "block.fc2.weight" in source


def test_clusters_with_tinygrad_lite_nn() -> None:
    model = nn.Sequential(nn.Linear(4, 5, bias=False), nn.Sigmoid(), nn.Linear(5, 3, bias=False), nn.Sigmoid())
    loss = _iris_step(model)
    source = viz.draw_graph(loss, params=model).source
    assert "0.weight | (5, 4)" in source and "2.weight | (3, 5)" in source
    assert "subgraph cluster_0 " in source and "subgraph cluster_2 " in source
    traced = viz.draw_graph(_iris_step(model, trace=True), params=model).source
    assert all(f"subgraph cluster_{i} " in traced for i in range(4))
    assert 'label="1: Sigmoid"' in traced


def test_clusters_with_linear_and_bias_put_the_add_in_the_layer() -> None:
    class Affine(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(np.ones((2, 3)))
            self.bias = nn.Parameter(np.zeros(2))

        def forward(self, x: Tensor) -> Tensor:
            return (x @ self.weight.T + self.bias).relu()

    model = nn.Module()
    model.layer = Affine()
    out = model.layer(Tensor(np.ones((4, 3)))).mean()
    source = viz.draw_graph(out, params=model).source
    layer = cluster_body(source, "cluster_layer")
    assert re.findall(r"label=(\w+) fill", layer) == ["Permute", "Matmul", "Add", "Relu"]
    assert "layer.bias" in layer


# ---- rendering ----------------------------------------------------------------------------------------------


@needs_dot
@pytest.mark.parametrize("show", [False, True])
def test_rendered_svg_has_one_node_per_graph_node(tmp_path: Path, show: bool) -> None:
    model = _Net()
    loss = _iris_step(model, trace=True)
    g = viz.draw_graph(loss, params=model, show_data=show, show_grad=show)
    nodes, edges = parse(g)
    path = viz.render(g, tmp_path / "graph.svg")
    root = ET.parse(path).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    groups = root.iter(f"{ns}g")
    classes = [el.get("class") for el in groups]
    assert classes.count("node") == len(nodes) == 14 + 10  # the legend is the graph's label, not nodes
    assert classes.count("edge") == len(edges)
    assert classes.count("cluster") == 4
    text = " ".join(t.text or "" for t in root.iter(f"{ns}text"))
    assert "fc1.weight" in text and "act2: _Sigmoid" in text and "parameter" in text


@needs_dot
@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".pdf", b"%PDF")])
def test_render_picks_the_format_from_the_extension(tmp_path: Path, suffix: str, magic: bytes) -> None:
    path = viz.render(viz.scalar_demo(), tmp_path / "sub" / f"demo{suffix}")
    assert path.read_bytes().startswith(magic)


def test_render_dot_source_and_unknown_format(tmp_path: Path) -> None:
    g = viz.scalar_demo()
    assert viz.render(g, tmp_path / "demo.gv").read_text() == g.source
    with pytest.raises(ValueError, match=r"\.svg, \.png, \.pdf"):
        viz.render(g, tmp_path / "demo.jpeg2000")


def test_missing_dot_gives_install_instructions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    g = viz.scalar_demo()  # drawing needs no dot
    assert "digraph" in g.source
    for attempt in (lambda: viz.render(g, tmp_path / "x.svg"), lambda: g.pipe(format="svg"),
                    lambda: g.render(tmp_path / "x", format="png")):
        with pytest.raises(viz.GraphvizNotFoundError) as info:
            attempt()
        message = str(info.value)
        assert "apt-get install graphviz" in message and "brew install graphviz" in message
        assert isinstance(info.value, RuntimeError)
    assert not (tmp_path / "x.svg").exists()


def test_missing_graphviz_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    viz._digraph_class.cache_clear()
    monkeypatch.setitem(sys.modules, "graphviz", None)  # makes `import graphviz` raise ImportError
    try:
        with pytest.raises(ImportError, match=r"pip install 'tinygrad-lite\[viz\]'"):
            viz.draw_graph(Tensor(1.0))
    finally:
        viz._digraph_class.cache_clear()


def test_viz_does_not_import_graphviz_at_import_time() -> None:
    import subprocess

    code = "import sys, tinygrad_lite.viz; assert 'graphviz' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_dtype_is_shown() -> None:
    a = Tensor([1.0, 2.0], requires_grad=True, dtype=tl.float64)
    assert "(2,) float64" in viz.draw_graph(a.sum()).source


@needs_dot
def test_example_script_renders_both_pictures(tmp_path: Path) -> None:
    import runpy

    demo = runpy.run_path(str(Path(__file__).resolve().parent.parent / "examples" / "graph_demo.py"))
    demo["main"](["--output", str(tmp_path / "demo.svg"), "--iris", str(tmp_path / "iris.svg")])
    for name, clusters in ("demo.svg", 0), ("iris.svg", 4):
        classes = [el.get("class") for el in ET.parse(tmp_path / name).getroot().iter()]
        assert classes.count("cluster") == clusters and classes.count("node") > 10
