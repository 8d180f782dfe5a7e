"""Hypothesis strategies for the operation tests, in one place.

Shapes have 0 to 4 dimensions of size 1 to 4, but their total size is capped (``budget``): a gradient check
builds the full Jacobian, which costs O(input size × output size), so a 4×4×4×4 input would dominate the run
without testing anything a 1×4×1×2 one does not.

Values are float64 and kept away from kinks and domain edges, so that central differences with eps = 1e-6 see a
smooth function: positive inputs of log/sqrt/pow are ≥ 0.5, inputs of abs/relu/leaky_relu are at least 0.05 away
from 0, and inputs of max/min/maximum/minimum/clip are built from distinct grid points (spacing 0.1 ≫ eps), so
ties happen only where a test asks for them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

MAX_DIMS = 4
MAX_SIDE = 4
BUDGET = 16  # largest number of elements of a drawn shape (see the module docstring)
GRID = 0.1  # spacing of the grid that tie-free values are drawn from


# --------------------------------------------------------------------------------------------------------------
# Shapes
# --------------------------------------------------------------------------------------------------------------


@st.composite
def shapes(
    draw: st.DrawFn,
    min_dims: int = 0,
    max_dims: int = MAX_DIMS,
    min_side: int = 1,
    max_side: int = MAX_SIDE,
    budget: int = BUDGET,
) -> tuple[int, ...]:
    """A shape with ``min_dims..max_dims`` axes of size ``min_side..max_side`` and at most ``budget`` elements.
    Sides are drawn one by one, each capped by what is left of the budget, so no draw is ever rejected."""
    ndim = draw(st.integers(min_dims, max_dims))
    shape: list[int] = []
    for _ in range(ndim):
        room = budget // max(math.prod(shape), 1)
        shape.append(draw(st.integers(min_side, max(min_side, min(max_side, room)))))
    order = draw(st.permutations(range(ndim)))  # the budget shrinks late axes; shuffle so every axis can be big
    return tuple(shape[i] for i in order)


@st.composite
def broadcastable_shapes(
    draw: st.DrawFn, num_shapes: int = 2, min_dims: int = 0, max_dims: int = MAX_DIMS, budget: int = BUDGET
) -> tuple[tuple[int, ...], ...]:
    """``num_shapes`` mutually broadcastable shapes: each is the result shape with some leading axes dropped
    and some axes set to 1 (so prepended axes and stretched size-1 axes are both exercised)."""
    result = draw(shapes(min_dims=min_dims, max_dims=max_dims, budget=budget))
    out = []
    for _ in range(num_shapes):
        drop = draw(st.integers(0, len(result)))
        shape = [1 if draw(st.booleans()) else n for n in result[drop:]]
        out.append(tuple(shape))
    return tuple(out)


def broadcastable_pairs(**kwargs: Any) -> st.SearchStrategy:
    return broadcastable_shapes(num_shapes=2, **kwargs)


def broadcastable_triples(**kwargs: Any) -> st.SearchStrategy:
    return broadcastable_shapes(num_shapes=3, **kwargs)


@st.composite
def matmul_shapes(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Two shapes that ``@`` accepts: 1-D·1-D, 1-D·2-D, 2-D·1-D, 2-D·2-D, and batched ones whose batch axes
    broadcast (different lengths, size-1 axes), with 1-D operands against batches too."""
    n, k, m = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    batch_x, batch_y = draw(broadcastable_pairs(max_dims=2, budget=4))
    x = draw(st.sampled_from([(k,), (n, k), (*batch_x, n, k)]))
    y = draw(st.sampled_from([(k,), (k, m), (*batch_y, k, m)]))
    return x, y


# --------------------------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------------------------


def floats(shape: tuple[int, ...], low: float = -3.0, high: float = 3.0) -> st.SearchStrategy:
    """float64 values in [low, high]: smooth functions (exp, sin, tanh, softmax, ...)."""
    return hnp.arrays(np.float64, shape, elements=st.floats(low, high, allow_nan=False, allow_infinity=False))


def positive(shape: tuple[int, ...], low: float = 0.5, high: float = 3.0) -> st.SearchStrategy:
    """float64 values ≥ 0.5: the domain of log, sqrt and of a pow base, well inside it."""
    return floats(shape, low, high)


def probabilities(shape: tuple[int, ...], margin: float = 0.05) -> st.SearchStrategy:
    """float64 values in [margin, 1 - margin]: inputs of binary cross-entropy, away from its logs' poles at 0
    and 1 (and from the clamp at -100)."""
    return floats(shape, margin, 1 - margin)


@st.composite
def class_probabilities(draw: st.DrawFn, shape: tuple[int, ...], axis: int) -> np.ndarray:
    """float64 values ≥ 0.05 that sum to 1 along ``axis``: a cross-entropy target of class probabilities."""
    weights = draw(floats(shape, 0.1, 1.0))
    return weights / weights.sum(axis=axis, keepdims=True)


def away_from_zero(shape: tuple[int, ...], margin: float = 0.05, high: float = 3.0) -> st.SearchStrategy:
    """float64 values with |x| ≥ margin: a kink at 0 (abs, relu, leaky_relu) or a pole (a divisor)."""
    magnitude = st.floats(margin, high, allow_nan=False)
    elements = st.tuples(st.booleans(), magnitude).map(lambda t: t[1] if t[0] else -t[1])
    return hnp.arrays(np.float64, shape, elements=elements)


@st.composite
def distinct(draw: st.DrawFn, shape: tuple[int, ...], offset: float = 0.0, span: int = 30) -> np.ndarray:
    """float64 values that are pairwise distinct points ``offset + GRID·k``, |k| ≤ span: no ties, and any two
    values differ by ≥ GRID. Two arrays drawn with offsets 0 and GRID/2 never come within GRID/2 of each other."""
    size = math.prod(shape)
    ks = draw(st.lists(st.integers(-span, span), min_size=size, max_size=size, unique=True))
    return (np.array(ks, dtype=np.float64) * GRID + offset).reshape(shape)


# --------------------------------------------------------------------------------------------------------------
# Arguments: axes, permutations, index expressions
# --------------------------------------------------------------------------------------------------------------


@st.composite
def axes(draw: st.DrawFn, ndim: int, allow_none: bool = True, allow_tuple: bool = True) -> Any:
    """A reduction ``axis``: None, an int (negative allowed) or a non-empty tuple of distinct axes, written
    with positive and negative numbers mixed."""
    choices = ["none"] if allow_none else []
    if ndim:
        choices.append("int")
        if allow_tuple:
            choices.append("tuple")
    if not choices:  # a 0-d tensor without None: axis 0 / -1 is the tensor itself, as in PyTorch
        return draw(st.sampled_from([0, -1]))
    kind = draw(st.sampled_from(choices))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    chosen = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(a - ndim if draw(st.booleans()) else a for a in chosen)


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
        idx = draw(hnp.arrays(np.int64, draw(shapes(max_dims=2, budget=6)), elements=st.integers(-n, n - 1)))
        items = [*prefix, idx]
        used = start + 1
    elif kind == "int2":
        a_shape, b_shape = draw(broadcastable_pairs(max_dims=2, budget=4))
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


def indices(shape: tuple[int, ...]) -> st.SearchStrategy:
    """A basic or (for at least one axis) an advanced index expression valid for ``shape``."""
    return basic_indices(shape) | advanced_indices(shape) if shape else basic_indices(shape)
