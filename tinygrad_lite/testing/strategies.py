"""Hypothesis strategies for gradient checks: shapes, axes, tensors, and the values they may hold.

Shapes are small on purpose. A gradient check builds the whole Jacobian, which costs O(input size × output
size) function evaluations, so a 4×4×4×4 tensor would cost a thousand times a 1×4×1×2 one without finding
anything it does not: ``max_size`` (16 elements by default) caps the number of elements.

Values come from a *domain*, an element strategy for ``tensors(elements=...)``. Central differences with
``eps = 1e-6`` only see a derivative where the function is smooth within ``eps`` of the point, so a domain keeps
clear of what is not: ``positive`` for log and sqrt, ``unit_interval`` for a probability, ``away_from`` for a
kink (relu and abs at 0, the bounds of clip), ``grid`` with ``unique=True`` for ties (max, min, sort).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from ..tensor import Tensor
from ._hypothesis import hnp, st


def _reused(make: Any) -> Any:
    """Strategies are immutable, and hypothesis validates each new one when it is first drawn from: called
    inside a composite, once per example, that validation would cost more than the drawing. So the functions
    below return the same strategy for the same (hashable) arguments."""
    cached = functools.lru_cache(maxsize=1024)(make)

    @functools.wraps(make)
    def reuse(*args: Any, **kwargs: Any) -> Any:
        try:
            hash((args, tuple(kwargs.items())))
        except TypeError:  # an unhashable argument (a list for a shape): a new strategy
            return make(*args, **kwargs)
        return cached(*args, **kwargs)

    return reuse


# --------------------------------------------------------------------------------------------------------------
# Shapes and axes
# --------------------------------------------------------------------------------------------------------------


@_reused
def shapes(
    *, min_dims: int = 0, max_dims: int = 4, min_side: int = 1, max_side: int = 4, max_size: int = 16
) -> st.SearchStrategy[tuple[int, ...]]:
    """Shapes with ``min_dims..max_dims`` axes of ``min_side..max_side`` each and at most ``max_size`` elements
    (unless ``min_side`` forces more). Sides are drawn within what is left of ``max_size``, so no draw is ever
    rejected, then shuffled so that any axis can be the long one. Shrinks towards fewer, shorter axes."""
    return _shapes(min_dims, max_dims, min_side, max_side, max_size)


@_reused
def broadcastable_shapes(
    n: int = 2, *, min_dims: int = 0, max_dims: int = 4, max_side: int = 4, max_size: int = 16
) -> st.SearchStrategy[tuple[tuple[int, ...], ...]]:
    """``n`` shapes that broadcast together: each is one drawn result shape with some leading axes dropped and
    some axes set to 1, so both ways numpy broadcasts (prepending axes, stretching size-1 axes) are exercised."""
    return _broadcastable_shapes(n, shapes(min_dims=min_dims, max_dims=max_dims, max_side=max_side, max_size=max_size))


# Composites are defined once, here: hypothesis reads a composite's source when it is defined, which would cost
# more than the draw itself if shapes() defined one on every call.


@st.composite
def _shapes(
    draw: st.DrawFn, min_dims: int, max_dims: int, min_side: int, max_side: int, max_size: int
) -> tuple[int, ...]:
    ndim = draw(st.integers(min_dims, max_dims))
    sides: list[int] = []
    for _ in range(ndim):
        room = max_size // max(math.prod(sides), 1)
        sides.append(draw(st.integers(min_side, max(min_side, min(max_side, room)))))
    order = draw(st.permutations(range(ndim)))
    return tuple(sides[i] for i in order)


@st.composite
def _broadcastable_shapes(draw: st.DrawFn, n: int, results: st.SearchStrategy) -> tuple[tuple[int, ...], ...]:
    result = draw(results)
    out = []
    for _ in range(n):
        drop = draw(st.integers(0, len(result)))
        out.append(tuple(1 if draw(st.booleans()) else side for side in result[drop:]))
    return tuple(out)


@_reused
def axes(ndim: int, *, allow_none: bool = True, allow_tuple: bool = True) -> st.SearchStrategy[Any]:
    """An ``axis`` argument for a tensor with ``ndim`` axes: ``None`` (all axes), an int, or a tuple of distinct
    axes, negative ones mixed in. A 0-d tensor without ``None`` gets 0 or -1, the tensor itself, as in PyTorch.
    Shrinks towards ``None``."""
    choices: list[st.SearchStrategy] = [st.none()] if allow_none else []
    if ndim:
        choices.append(st.integers(-ndim, ndim - 1))
        if allow_tuple:
            choices.append(hnp.valid_tuple_axes(ndim, min_size=1))
    elif not allow_none:
        choices.append(st.sampled_from([0, -1]))
    return st.one_of(choices)


# --------------------------------------------------------------------------------------------------------------
# Domains: element strategies for tensors(elements=...)
# --------------------------------------------------------------------------------------------------------------


@_reused
def floats(low: float = -3.0, high: float = 3.0) -> st.SearchStrategy[float]:
    """Finite floats in ``[low, high]``: the default domain, for functions smooth everywhere (exp, tanh, ...).
    Bounded, because a gradient check compares values, and exp(700) leaves no digits to compare."""
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


@_reused
def positive(low: float = 0.1, high: float = 3.0) -> st.SearchStrategy[float]:
    """Floats in ``[low, high]`` with ``low > 0``: the domain of log, sqrt, and a power's base. Not down to 0:
    there the derivatives (1/x, 1/(2√x)) grow without bound and finite differences lose every digit."""
    if low <= 0:
        raise ValueError(f"positive: low must be > 0; got {low}")
    return floats(low, high)


@_reused
def unit_interval(margin: float = 0.05) -> st.SearchStrategy[float]:
    """Floats inside (0, 1), at least ``margin`` from both ends: a probability, as binary cross-entropy takes,
    kept away from the poles of its logarithms at 0 and 1."""
    if not 0 < margin < 0.5:
        raise ValueError(f"unit_interval: margin must be in (0, 0.5); got {margin}")
    return floats(margin, 1.0 - margin)


@_reused
def away_from(*kinks: float, margin: float = 0.05, low: float = -3.0, high: float = 3.0) -> st.SearchStrategy[float]:
    """Floats in ``[low, high]`` at least ``margin`` from every point in ``kinks`` (default: 0), where a function
    has no derivative: relu and abs at 0, ``clip(-1, 1)`` at -1 and 1, a divisor's pole at 0. ``margin`` must be
    far more than eps, or the two sides of a central difference straddle the kink.

    Drawn from the intervals between the kinks, never by rejection."""
    points = sorted(kinks) if kinks else [0.0]
    edges = [low, *[e for p in points for e in (p - margin, p + margin)], high]
    intervals = [(max(a, low), min(b, high)) for a, b in zip(edges[::2], edges[1::2])]
    intervals = [(a, b) for a, b in intervals if a <= b]
    if not intervals:
        raise ValueError(f"away_from: no value in [{low}, {high}] is {margin} away from {points}")
    return st.sampled_from(intervals).flatmap(lambda interval: floats(*interval))


@_reused
def grid(spacing: float = 0.1, offset: float = 0.0, low: float = -3.0, high: float = 3.0) -> st.SearchStrategy[float]:
    """The points ``offset + k·spacing`` in ``[low, high]``. With ``tensors(..., unique=True)`` every two
    elements differ by at least ``spacing``: away from ties, where max, min and maximum have no derivative. Two
    tensors drawn with offsets 0 and ``spacing / 2`` never come within ``spacing / 2`` of each other."""
    first, last = math.ceil((low - offset) / spacing), math.floor((high - offset) / spacing)
    if first > last:
        raise ValueError(f"grid: no point offset + k·{spacing} lies in [{low}, {high}]")
    return st.integers(first, last).map(lambda k: offset + k * spacing)


# --------------------------------------------------------------------------------------------------------------
# Tensors
# --------------------------------------------------------------------------------------------------------------


@_reused
def tensors(
    shape: int | tuple[int, ...] | st.SearchStrategy[tuple[int, ...]] | None = None,
    *,
    dtype: Any = np.float64,
    elements: st.SearchStrategy | None = None,
    requires_grad: bool | None = None,
    unique: bool = False,
) -> st.SearchStrategy[Tensor]:
    """Tensors of ``shape`` (a tuple, an int, or a strategy; default :func:`shapes`) holding ``elements``
    (default :func:`floats`), built on ``hypothesis.extra.numpy.arrays``.

    ``dtype`` defaults to float64, the precision finite differences need; float elements are drawn in float64
    and converted, so any domain works with float32 too. ``requires_grad`` defaults to True for float dtypes
    (those are the inputs a check differentiates) and False otherwise (class indices, masks).
    ``unique=True`` makes the elements pairwise different (see :func:`grid`).
    """
    dtype = np.dtype(dtype)
    if shape is None:
        shape = shapes()
    if dtype.kind == "f":
        arrays = hnp.arrays(np.float64, shape, elements=floats() if elements is None else elements, unique=unique)
        if dtype != np.float64:
            arrays = arrays.map(lambda a: a.astype(dtype))
    else:
        arrays = hnp.arrays(dtype, shape, elements=elements, unique=unique)
    if dtype.kind == "f" if requires_grad is None else requires_grad:
        return arrays.map(lambda a: Tensor(a, requires_grad=True))
    return arrays.map(Tensor)
