"""tinygrad_lite: reverse-mode automatic differentiation on numpy, small enough to read in an afternoon.

The engine (recording, topological order, backward) is ``engine.py``; every primitive with its derivative is
``ops.py``; the Tensor API is ``tensor.py``.
"""

from . import engine  # noqa: I001 - imported first: it closes the engine <-> tensor import cycle
from .errors import AxisError, ShapeError, silence_numpy_warnings
from .engine import Function, enable_grad, grad, is_grad_enabled, no_grad
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .tensor import (
    Tensor, arange, bool_, cat, eye, float32, float64, full, get_default_dtype, int64, manual_seed, ones,
    ones_like, rand, randn, set_default_dtype, stack, tensor, uniform, where, zeros, zeros_like,
)
from . import nn, optim
from .explain import explain
from .jit import jit
from .serialization import load, save

silence_numpy_warnings()

__version__ = "0.1.0"

__all__ = [
    "arange", "AxisError", "bool_", "cat", "enable_grad", "engine", "explain", "eye", "float32", "float64", "full",
    "Function", "get_default_dtype", "grad", "gradcheck", "GradcheckError", "gradgradcheck", "int64",
    "is_grad_enabled", "jit", "load", "manual_seed", "nn", "no_grad", "ones", "ones_like", "optim", "rand", "randn",
    "save", "set_default_dtype", "ShapeError", "stack", "Tensor", "tensor", "uniform", "where", "zeros",
    "zeros_like",
]
