"""How bad input is reported: the two exception classes that let numpy habits and PyTorch habits catch the
same error, the shapes in their messages, and the filter that keeps numpy's RuntimeWarnings inside the package.

numpy raises ``ValueError`` where shapes do not fit and PyTorch ``RuntimeError``; numpy's ``AxisError`` is both
``ValueError`` and ``IndexError`` and PyTorch raises ``IndexError`` for an axis out of range. Every such error in
tinygrad_lite is one of these classes, so ``except ValueError``, ``except RuntimeError`` and
``except IndexError`` each work where the user's habit expects them to.
"""

from __future__ import annotations

import re
import warnings

__all__ = ["AxisError", "ShapeError", "format_shapes", "silence_numpy_warnings"]


class ShapeError(ValueError, RuntimeError):
    """Shapes that do not fit an operation: a ``ValueError`` (numpy) and a ``RuntimeError`` (PyTorch)."""


class AxisError(IndexError, ValueError):
    """An axis out of range or repeated: an ``IndexError`` (PyTorch) and a ``ValueError`` (numpy)."""


_NUMPY_SHAPE = re.compile(r"\((\d+(?:, ?\d+)+),?\)")


def format_shapes(message: str) -> str:
    """numpy writes shapes as ``(4,2)``; write them as Python tuples, ``(4, 2)``, like the rest of our messages."""
    return _NUMPY_SHAPE.sub(lambda m: "(" + ", ".join(n.strip() for n in m.group(1).split(",")) + ")", message)


def silence_numpy_warnings() -> None:
    """Ignore the RuntimeWarnings numpy raises inside tinygrad_lite ("overflow encountered in exp", "invalid
    value encountered in subtract" for inf - inf, ...): PyTorch returns the same inf and NaN silently.

    A warnings filter rather than ``np.errstate`` around each operation: it costs nothing until numpy warns
    (errstate costs about as much as a small operation), and numpy code outside the package still warns.
    Called once on import; a filter that turns warnings into errors, added later, still takes precedence.
    """
    warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"tinygrad_lite(\.|$)")
