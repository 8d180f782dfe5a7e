"""Each step's graph is freed: training the article's network for 10,000 steps does not grow memory."""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import Tensor, nn, optim


def _article_step():
    rs = np.random.RandomState(0)
    X, Y = Tensor(rs.random_sample((100, 4))), Tensor(np.eye(3)[rs.randint(0, 3, 100)])
    model = nn.Sequential(nn.Linear(4, 5, bias=False, dtype=np.float64), nn.Sigmoid(),
                          nn.Linear(5, 3, bias=False, dtype=np.float64), nn.Sigmoid())
    opt = optim.SGD(model.parameters(), lr=0.1)

    def step():
        loss = 0.5 * ((model(X) - Y) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return step


@pytest.mark.slow
@pytest.mark.parametrize("jitted", [False, True], ids=["eager", "jit"])
def test_memory_does_not_grow_over_10000_steps(jitted):
    step = _article_step()
    step = tl.jit(step) if jitted else step
    for _ in range(100):
        step()
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(1_000):
            step()
        after_1000, peak_1000 = tracemalloc.get_traced_memory()
        for _ in range(9_000):
            step()
        after_10000, peak_10000 = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # One step of this network allocates a few KiB; a leak of even one node per step would add up to far more.
    assert after_10000 - after_1000 < 4096, (after_1000, after_10000)
    assert peak_10000 - peak_1000 < 4096, (peak_1000, peak_10000)


def test_the_graph_of_a_step_is_freed_once_its_loss_is_dropped():
    x = Tensor(np.ones(3), requires_grad=True)
    loss = (x.sigmoid() * 2).sum()
    node = weakref.ref(loss.grad_fn)
    loss.backward()
    del loss
    gc.collect()
    assert node() is None  # nothing but the loss held the graph: no reference cycles keep it alive
