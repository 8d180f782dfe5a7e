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
        # First let CPython's bounded free lists turn over: objects freed while tracing park there (up to a fixed
        # number per size, about 70 KiB here, reached within 5,000 steps) and would read as growth.
        for _ in range(5_000):
            step()
        start = tracemalloc.get_traced_memory()[0]
        peaks = []
        for _ in range(2):  # 2 × 5,000 steps: the peak of the second half must not exceed the first's
            tracemalloc.reset_peak()
            for _ in range(5_000):
                step()
            peaks.append(tracemalloc.get_traced_memory()[1])
        end = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # A leak of one graph node per step would add megabytes over these 10,000 steps, and one 56-byte object
    # every 35 steps 16 KiB. What does move is numpy's and CPython's small-object caches, whose fill level
    # wanders by a few KiB from run to run (seen: 0.5 to 5 KiB, not growing with the number of steps).
    assert end - start < 16384, (start, end)
    assert peaks[1] - peaks[0] < 16384, peaks


def test_the_graph_of_a_step_is_freed_once_its_loss_is_dropped():
    x = Tensor(np.ones(3), requires_grad=True)
    loss = (x.sigmoid() * 2).sum()
    node = weakref.ref(loss.grad_fn)
    loss.backward()
    del loss
    gc.collect()
    assert node() is None  # nothing but the loss held the graph: no reference cycles keep it alive
