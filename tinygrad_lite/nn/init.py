"""Weight initialisation, in place: each function fills ``t.data`` (keeping its dtype) and returns ``t``.

Random draws come from the generator behind ``tl.manual_seed``, so seeded runs are reproducible. The formulas
are PyTorch's (``torch.nn.init``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..engine import no_grad
from ..errors import ShapeError
from ..tensor import Tensor, get_rng

__all__ = [
    "calculate_gain", "constant_", "kaiming_normal_", "kaiming_uniform_", "normal_", "ones_", "uniform_",
    "xavier_normal_", "xavier_uniform_", "zeros_",
]


def _fill(t: Tensor, values: Any, op: str) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: expected a Tensor; got {type(t).__name__}")
    with no_grad():
        t.data[...] = values
    return t


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with draws from U(a, b)."""
    if not a <= b:
        raise ValueError(f"uniform_: expected a <= b; got a={a}, b={b}")
    return _fill(t, get_rng().uniform(a, b, np.shape(t.data)), "uniform_")


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with draws from N(mean, std²)."""
    if not std >= 0:
        raise ValueError(f"normal_: std must be non-negative; got {std}")
    return _fill(t, get_rng().normal(mean, std, np.shape(t.data)), "normal_")


def constant_(t: Tensor, value: float) -> Tensor:
    """Fill with ``value``."""
    return _fill(t, value, "constant_")


def zeros_(t: Tensor) -> Tensor:
    """Fill ``t`` with 0s."""
    return _fill(t, 0, "zeros_")


def ones_(t: Tensor) -> Tensor:
    """Fill ``t`` with 1s."""
    return _fill(t, 1, "ones_")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The gain PyTorch recommends for a nonlinearity: 1 for linear/identity/sigmoid, 5/3 for tanh, √2 for
    relu, √(2 / (1 + slope²)) for leaky_relu (slope ``param``, default 0.01). Only the nonlinearities this
    library has are known; any other name is a ``ValueError``."""
    if nonlinearity in ("linear", "identity", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"calculate_gain: negative_slope {slope!r} is not a number")
        return math.sqrt(2.0 / (1 + slope**2))
    raise ValueError(
        f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; "
        "expected 'linear', 'identity', 'sigmoid', 'tanh', 'relu' or 'leaky_relu'"
    )


def _fans(t: Tensor, op: str) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shaped (out, in, *kernel): in·k and out·k, k the kernel size."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: expected a Tensor; got {type(t).__name__}")
    if t.ndim < 2:
        raise ShapeError(f"{op}: fan in and fan out need a tensor with at least 2 dimensions; got shape {t.shape}")
    receptive = math.prod(t.shape[2:])
    return t.shape[1] * receptive, t.shape[0] * receptive


def _fan(t: Tensor, mode: str, op: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{op}: mode must be 'fan_in' or 'fan_out'; got {mode!r}")
    fan_in, fan_out = _fans(t, op)
    return fan_in if mode == "fan_in" else fan_out


def xavier_uniform_(t: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot: U(-b, b) with b = gain·√(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(t, "xavier_uniform_")
    if fan_in + fan_out == 0:
        return t
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound)


def xavier_normal_(t: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot: N(0, s²) with s = gain·√(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(t, "xavier_normal_")
    if fan_in + fan_out == 0:
        return t
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    """He: U(-b, b) with b = gain·√(3 / fan), gain = ``calculate_gain(nonlinearity, a)``. ``Linear`` uses
    a = √5, which gives b = 1/√fan_in."""
    fan = _fan(t, mode, "kaiming_uniform_")
    if fan == 0:  # a zero-element weight: nothing to fill
        return t
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(t, -bound, bound)


def kaiming_normal_(t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    """He: N(0, s²) with s = gain / √fan."""
    fan = _fan(t, mode, "kaiming_normal_")
    if fan == 0:
        return t
    return normal_(t, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan))
