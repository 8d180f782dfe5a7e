"""Gradient checks for your own operations and models, as hypothesis properties for pytest.

The same machinery that proves every built-in operation right, at first and second order, against finite
differences::

    from tinygrad_lite.testing import check_function, check_module, tensors, away_from

    def test_my_op():
        check_function(MyOp.apply, tensors(shape=(3,)))

    def test_my_relu_net():
        check_module(net, tensors(shape=(2, 4), elements=away_from(0)))

- strategies (``strategies.py``): ``tensors``, ``shapes``, ``broadcastable_shapes``, ``axes``, and the domains
  ``floats``, ``positive``, ``unit_interval``, ``away_from``, ``grid``;
- checks (``checks.py``): ``check_function``, ``check_module``.

It needs hypothesis: ``pip install 'tinygrad-lite[testing]'``. This package itself imports without it (so
``import tinygrad_lite.testing`` never breaks a core install); the first use of any name above imports
hypothesis and, when it is missing, raises an ImportError that says what to install.
"""

from __future__ import annotations

import importlib
from typing import Any

# Each public name, and the submodule that defines it (imported on first use: both need hypothesis).
_HOME = {
    "axes": "strategies", "away_from": "strategies", "broadcastable_shapes": "strategies", "floats": "strategies",
    "grid": "strategies", "positive": "strategies", "shapes": "strategies", "tensors": "strategies",
    "unit_interval": "strategies", "check_function": "checks", "check_module": "checks",
}
__all__ = sorted(_HOME)

def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
