"""The strategies only this project's operation tests need, built on the public ones of tinygrad_lite.testing
(shapes, tensors, the value domains): shapes for ``@``, reduction arguments, permutations, index expressions
and a cross-entropy target. Anything a user testing their own operation would want lives in the toolkit.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_lite as tl
from tinygrad_lite.testing import axes, broadcastable_shapes, floats, shapes, tensors


@st.composite
def matmul_shapes(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Two shapes that ``@`` accepts: 1-D·1-D, 1-D·2-D, 2-D·1-D, 2-D·2-D, and batched ones whose batch axes
    broadcast (different lengths, size-1 axes), with 1-D operands against batches too."""
    n, k, m = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    batch_x, batch_y = draw(broadcastable_shapes(2, max_dims=2, max_size=4))
    x = draw(st.sampled_from([(k,), (n, k), (*batch_x, n, k)]))
    y = draw(st.sampled_from([(k,), (k, m), (*batch_y, k, m)]))
    return x, y


def reduction_args(ndim: int) -> st.SearchStrategy:
    """``{"axis": ..., "keepdim": ...}`` for a tensor with ``ndim`` axes."""
    return st.fixed_dictionaries({"axis": axes(ndim), "keepdim": st.booleans()})


def reduced_count(shape: tuple[int, ...], axis: Any) -> int:
    """How many elements a reduction over ``axis`` combines into each result."""
    if axis is None:
        return math.prod(shape)
    items = axis if isinstance(axis, tuple) else (axis,)
    return math.prod(shape[a] for a in items) if shape else 1


@st.composite
def permutations(draw: st.DrawFn, ndim: int) -> tuple[int, ...]:
    """A permutation of ``range(ndim)``, some entries written as negative axes."""
    perm = draw(st.permutations(range(ndim)))
    return tuple(p - ndim if draw(st.booleans()) else p for p in perm)


@st.composite
def class_probabilities(draw: st.DrawFn, shape: tuple[int, ...], axis: int) -> tl.Tensor:
    """A differentiable cross-entropy target: values ≥ 0.025 that sum to 1 along ``axis``."""
    weights = draw(tensors(shape, elements=floats(0.1, 1.0))).data
    return tl.Tensor(weights / weights.sum(axis=axis, keepdims=True), requires_grad=True)


# --------------------------------------------------------------------------------------------------------------
# Index expressions
# --------------------------------------------------------------------------------------------------------------


@st.composite
def _basic_item(draw: st.DrawFn, n: int) -> Any:
    """An int, or a slice (with a step, possibly negative), valid for an axis of size ``n``."""
    if draw(st.booleans()):
        return draw(st.integers(-n, n - 1))
    start = draw(st.none() | st.integers(-n - 1, n + 1))
    stop = draw(st.none() | st.integers(-n - 1, n + 1))
    step = draw(st.sampled_from([None, 1, 2, -1, -2, 3]))
    return slice(start, stop, step)


@st.composite
def basic_indices(draw: st.DrawFn, shape: tuple[int, ...]) -> tuple:
    """A basic index for ``shape``: ints and slices for a prefix of the axes, ``None`` inserted anywhere, and
    possibly an ``Ellipsis`` standing for a run of axes."""
    ndim = len(shape)
    used = draw(st.integers(0, ndim))
    items: list[Any] = [draw(_basic_item(shape[i])) for i in range(used)]
    if draw(st.booleans()) and used < ndim:
        tail = draw(st.integers(0, ndim - used))  # index the last `tail` axes after an Ellipsis
        items.append(Ellipsis)
        items.extend(draw(_basic_item(shape[i])) for i in range(ndim - tail, ndim))
    for _ in range(draw(st.integers(0, 2))):
        items.insert(draw(st.integers(0, len(items))), None)
    return tuple(items)


@st.composite
def advanced_indices(draw: st.DrawFn, shape: tuple[int, ...]) -> tuple:
    """An advanced index for ``shape`` (at least one axis): integer arrays (negative entries and repeats
    allowed, so gradients must accumulate), optionally two that broadcast together, or a boolean mask over one
    or two consecutive axes, mixed with slices and ``None``/``Ellipsis``."""
    ndim = len(shape)
    kind = draw(st.sampled_from(["int", "int2", "mask"] if ndim >= 2 else ["int", "mask"]))
    start = draw(st.integers(0, ndim - (2 if kind == "int2" else 1)))
    prefix: list[Any] = [draw(st.sampled_from([slice(None), slice(None, None, -1)])) for _ in range(start)]
    if kind == "int":
        n = shape[start]
        idx = draw(hnp.arrays(np.int64, draw(shapes(max_dims=2, max_size=6)), elements=st.integers(-n, n - 1)))
        items = [*prefix, idx]
        used = start + 1
    elif kind == "int2":
        a_shape, b_shape = draw(broadcastable_shapes(2, max_dims=2, max_size=4))
        a = draw(hnp.arrays(np.int64, a_shape, elements=st.integers(-shape[start], shape[start] - 1)))
        b = draw(hnp.arrays(np.int64, b_shape, elements=st.integers(-shape[start + 1], shape[start + 1] - 1)))
        items = [*prefix, a, b]
        used = start + 2
    else:
        width = draw(st.integers(1, min(2, ndim - start)))
        mask = draw(hnp.arrays(np.bool_, shape[start : start + width]))
        items = [*prefix, mask]
        used = start + width
    if used < ndim and draw(st.booleans()):
        items.append(draw(st.sampled_from([Ellipsis, slice(None, None, 2), 0])))
    if draw(st.booleans()):
        items.insert(draw(st.integers(0, len(items))), None)
    return tuple(items)
