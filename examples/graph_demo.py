"""Draw computation graphs: the classic one-neuron scalar expression, and one training step of the Iris network.

    python examples/graph_demo.py                    # writes graph.svg: o = tanh(x1·w1 + x2·w2 + b)
    python examples/graph_demo.py --output demo.png  # the format comes from the extension (.svg, .png, .pdf)
    python examples/graph_demo.py --iris iris.svg    # the Iris network's training-step graph
    python examples/graph_demo.py --docs             # regenerate the pictures in docs/images/

Rendering needs Graphviz's ``dot`` (``apt-get install graphviz`` or ``brew install graphviz``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tinygrad_lite import casestudy, viz

DOCS_IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"


def iris_graph(seed: int = 0) -> Any:
    """One training step of the article's network (the case study's own), drawn after ``loss.backward()`` with
    parameter names, weight gradients and one cluster per layer."""
    return casestudy.step_graph(seed, show_grad=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", "-o", default="graph.svg", help="the scalar example's file (default graph.svg)")
    parser.add_argument("--iris", metavar="PATH", help="also render the Iris training step to PATH")
    parser.add_argument("--docs", action="store_true", help="regenerate docs/images/*.svg")
    args = parser.parse_args(argv)
    if args.docs:
        for name, graph in (("scalar_graph.svg", viz.scalar_demo()), ("iris_graph.svg", iris_graph())):
            print("wrote", viz.render(graph, DOCS_IMAGES / name))
        return
    print("wrote", viz.render(viz.scalar_demo(), args.output))
    if args.iris:
        print("wrote", viz.render(iris_graph(), args.iris))


if __name__ == "__main__":
    main()
