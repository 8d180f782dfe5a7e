"""The two exception classes that let numpy habits and PyTorch habits catch the same error.

numpy raises ``ValueError`` where shapes do not fit and PyTorch ``RuntimeError``; numpy's ``AxisError`` is both
``ValueError`` and ``IndexError`` and PyTorch raises ``IndexError`` for an axis out of range. Every such error in
tinygrad_lite is one of these classes, so ``except ValueError``, ``except RuntimeError`` and
``except IndexError`` each work where the user's habit expects them to.
"""

from __future__ import annotations

import re

__all__ = ["AxisError", "ShapeError", "format_shapes"]


class ShapeError(ValueError, RuntimeError):
    """Shapes that do not fit an operation: a ``ValueError`` (numpy) and a ``RuntimeError`` (PyTorch)."""


class AxisError(IndexError, ValueError):
    """An axis out of range or repeated: an ``IndexError`` (PyTorch) and a ``ValueError`` (numpy)."""


_NUMPY_SHAPE = re.compile(r"\((\d+(?:, ?\d+)+),?\)")


def format_shapes(message: str) -> str:
    """numpy writes shapes as ``(4,2)``; write them as Python tuples, ``(4, 2)``, like the rest of our messages."""
    return _NUMPY_SHAPE.sub(lambda m: "(" + ", ".join(n.strip() for n in m.group(1).split(",")) + ")", message)
