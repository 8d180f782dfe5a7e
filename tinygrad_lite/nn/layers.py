"""Layers: ``Linear``, activations, ``Dropout``, ``Identity``, ``Flatten``, and the loss modules."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..tensor import Tensor, _pytorch_names
from . import functional as F
from . import init
from .module import Module, Parameter, _default_float_dtype


class Linear(Module):
    """y = x @ Wᵀ + b, with ``weight`` of shape ``(out_features, in_features)`` and ``bias`` ``(out_features,)``.

    Initialised as in PyTorch: W and b from U(-1/√in_features, 1/√in_features) (``kaiming_uniform_`` with
    a = √5 for W). Parameters take ``dtype``, or the default float dtype (``tl.get_default_dtype()``).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        for name, n in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
                raise ValueError(f"Linear: {name} must be a non-negative int; got {n!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        dtype = _default_float_dtype(dtype)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(self.out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input unchanged (a placeholder); constructor arguments are accepted and ignored."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x


class Sigmoid(Module):
    """σ(x) = 1 / (1 + e^-x), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class ReLU(Module):
    """max(x, 0), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return x.relu()


class Tanh(Module):
    """tanh(x), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class LeakyReLU(Module):
    """x where x > 0, else ``negative_slope``·x."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        return x.leaky_relu(self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Softmax(Module):
    """e^x / Σ e^x along ``axis`` (PyTorch calls it ``dim``, accepted as an alias)."""

    @_pytorch_names
    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = axis

    def forward(self, x: Tensor) -> Tensor:
        return x.softmax(self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class Dropout(Module):
    """In training mode, zero each element with probability ``p`` and scale the others by 1/(1 - p)
    (inverted dropout); in evaluation mode, the identity. Masks come from ``tl.manual_seed``'s generator."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        self.p = F._check_p(p, "Dropout")

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Flatten(Module):
    """Merge axes ``start_dim..end_dim`` into one: ``(N, C, H, W)`` → ``(N, C·H·W)`` by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


# --------------------------------------------------------------------------------------------------------------
# Losses: modules around the functions of nn.functional
# --------------------------------------------------------------------------------------------------------------


class _Loss(Module):
    """A loss function of nn.functional as a module: the reduction is given once, to the constructor."""

    function: Callable[[Any, Any, str], Tensor]  # each subclass names the function it wraps

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        F._check_reduction(reduction, type(self).__name__)
        self.reduction = reduction

    def forward(self, input: Any, target: Any) -> Tensor:
        return self.function(input, target, self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


class MSELoss(_Loss):
    """(x - y)², reduced: see :func:`nn.functional.mse_loss`."""

    function = staticmethod(F.mse_loss)


class L1Loss(_Loss):
    """|x - y|, reduced: see :func:`nn.functional.l1_loss`."""

    function = staticmethod(F.l1_loss)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy on logits, targets as class indices or probabilities: see
    :func:`nn.functional.cross_entropy`."""

    function = staticmethod(F.cross_entropy)


class BCELoss(_Loss):
    """Binary cross-entropy on probabilities: see :func:`nn.functional.binary_cross_entropy`."""

    function = staticmethod(F.binary_cross_entropy)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits, computed stably: see :func:`nn.functional.binary_cross_entropy_with_logits`."""

    function = staticmethod(F.binary_cross_entropy_with_logits)
