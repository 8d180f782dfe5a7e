"""The engine's rule that tl.jit stands on: every array computation of a step is reported through the one seam
(engine.Observer), and nothing outside jit.py and the engine knows about capturing."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import Tensor, engine, nn
from tinygrad_lite.nn import functional as F

PACKAGE = Path(tl.__file__).parent


class _Results(engine.Observer):
    """Collects the tensors every forward report made."""

    def __init__(self) -> None:
        self.made: list[Tensor] = []

    def forward(self, ctx, args, kwargs, result):
        self.made.append(result)


x = Tensor(np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]), requires_grad=True)
y = Tensor(np.array([[1.0, 2.0, -1.0], [0.5, 0.5, 0.5]]))
labels = Tensor(np.array([2, 0]))

OPERATIONS = {
    "add": lambda: x + y, "sub": lambda: x - 1.0, "mul": lambda: 2.0 * x, "div": lambda: x / y,
    "pow": lambda: x**2, "neg": lambda: -x, "matmul": lambda: x @ y.T, "exp": lambda: x.exp(),
    "log": lambda: y.abs().log(), "sqrt": lambda: y.abs().sqrt(), "tanh": lambda: x.tanh(),
    "sigmoid": lambda: x.sigmoid(), "relu": lambda: x.relu(), "clip": lambda: x.clip(-0.5, 0.5),
    "maximum": lambda: x.maximum(y), "sum": lambda: x.sum(), "mean": lambda: x.mean(axis=0),
    "max": lambda: x.max(axis=1), "softmax": lambda: x.softmax(axis=1), "log_softmax": lambda: x.log_softmax(1),
    "reshape": lambda: x.reshape(3, 2), "transpose": lambda: x.T, "getitem": lambda: x[0, 1:],
    "astype": lambda: x.astype(tl.float32), "detach": lambda: x.detach(), "compare": lambda: x > y,
    "argmax": lambda: x.argmax(axis=1), "where": lambda: tl.where(x > 0, x, y), "cat": lambda: tl.cat([x, y]),
    "stack": lambda: tl.stack([x, y]), "mse": lambda: F.mse_loss(x, y),
    "cross_entropy_labels": lambda: F.cross_entropy(x, labels), "cross_entropy_probs": lambda: F.cross_entropy(
        x, y.softmax(axis=1)), "linear": lambda: nn.Linear(3, 2, dtype=np.float64)(x),
}


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_every_operation_is_reported_as_a_function(name):
    """A result made without a Function would be invisible to an observer, and a replay would freeze it."""
    results = _Results()
    with engine.observing(results):
        out = OPERATIONS[name]()
    assert any(out is t for t in results.made), f"{name}: its result was not made by a reported Function"


def test_backward_zero_grad_and_the_optimizer_update_are_reported():
    reports = []

    class Log(engine.Observer):
        def backward(self, node, output, grad, returned):
            reports.append("backward")

        def store(self, tensor, grad, copy, added):
            reports.append("store")

        def zero_grad(self, tensors, set_to_none):
            reports.append("zero_grad")

        def update(self, optimizer):
            reports.append("update")

    w = Tensor(np.ones(3), requires_grad=True)
    opt = tl.optim.SGD([w], lr=0.1)
    with engine.observing(Log()):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
    assert reports == ["zero_grad", "backward", "backward", "store", "update"]


def test_the_observer_is_per_thread_and_restored():
    import threading

    outer, inner = _Results(), _Results()
    with engine.observing(outer):
        with engine.observing(inner):
            x + y
        seen = []
        thread = threading.Thread(target=lambda: seen.append(engine.current_observer()))
        thread.start()
        thread.join()
        x * y
    assert len(inner.made) == 1 and len(outer.made) == 1 and seen == [None]
    assert engine.current_observer() is None


def test_nothing_outside_jit_and_the_engine_knows_about_capturing():
    for path in PACKAGE.rglob("*.py"):
        if path.name in ("jit.py", "engine.py", "cli.py", "__init__.py") or "casestudy" in path.parts:
            continue  # jit.py and the seam; the package exports tl.jit; cli.py and the case study use it
        text = path.read_text()
        assert not re.search(r"\bjit\b|captur|_tape\b", text), f"{path.relative_to(PACKAGE)} mentions the jit"
