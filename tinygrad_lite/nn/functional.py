"""Losses and activations as functions: ``F.mse_loss(out, y)``, ``F.cross_entropy(logits, labels)``, ...

Every loss takes ``reduction='mean' | 'sum' | 'none'`` and is differentiable in the target too wherever
PyTorch's is (all of them except cross-entropy with class indices). Unlike PyTorch, a loss never broadcasts
the target against the input: a ``(N,)`` target with a ``(N, 1)`` input is a ``ShapeError`` (a ``ValueError``
and a ``RuntimeError``), because silently broadcasting it to ``(N, N)`` computes a different loss.

Numerical stability: cross-entropy is computed from ``log_softmax`` and BCE-with-logits from softplus, never
from probabilities, so logits of any finite size give finite losses and gradients.

This module only checks arguments and composes operations: every derivative, including those of the fused
losses (``ops.SquaredError``, ``ops.NegativeLogLikelihood``, ...), is written in ``ops.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..errors import ShapeError
from ..tensor import Tensor, _as_tensor, _promote_operands, _pytorch_names, get_rng, where

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "dropout", "l1_loss",
    "leaky_relu", "linear", "log_softmax", "mse_loss", "relu", "sigmoid", "softmax", "tanh",
]

_REDUCTIONS = ("mean", "sum", "none")


# --------------------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------------------


def _check_reduction(reduction: Any, name: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none'; got {reduction!r}")


def _float_input(x: Any, name: str) -> Tensor:
    x = _as_tensor(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: input must be a floating-point tensor; got dtype {x.dtype}")
    return x


def _check_same_shape(x: Tensor, y: Tensor, name: str) -> None:
    if x.shape != y.shape:
        raise ShapeError(
            f"{name}: input shape {x.shape} and target shape {y.shape} differ; losses do not broadcast the "
            f"target (reshape it, e.g. target.reshape{x.shape})"
        )


def _elementwise_loss_operands(input: Any, target: Any, reduction: str, name: str) -> tuple[Tensor, Tensor]:
    """Input and target of an elementwise loss as tensors of one shape, promoted to one dtype like the operands
    of ``x - y``."""
    if (isinstance(input, Tensor) and isinstance(target, Tensor) and input.data.dtype == target.data.dtype
            and input.data.dtype.kind == "f" and input.data.shape == target.data.shape and reduction in _REDUCTIONS):
        return input, target  # the usual case, checked cheaply: float tensors of one shape and dtype
    _check_reduction(reduction, name)
    x, y = _float_input(input, name), _as_tensor(target)
    _check_same_shape(x, y, name)
    return _promote_operands(x, y)


# --------------------------------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------------------------------


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error: ℓᵢ = (xᵢ - yᵢ)², then mean, sum or none."""
    x, y = _elementwise_loss_operands(input, target, reduction, "mse_loss")
    return ops.SquaredError.apply(x, y, reduction)


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean absolute error: ℓᵢ = |xᵢ - yᵢ| (gradient 0 where xᵢ = yᵢ, as in PyTorch)."""
    x, y = _elementwise_loss_operands(input, target, reduction, "l1_loss")
    return ops.reduce_losses((x - y).abs(), reduction)


def binary_cross_entropy(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """BCE on probabilities: ℓᵢ = -(yᵢ·log xᵢ + (1 - yᵢ)·log(1 - xᵢ)), each log clamped at -100 as in
    PyTorch. ``input`` must lie in [0, 1]; prefer :func:`binary_cross_entropy_with_logits` on logits."""
    x, y = _elementwise_loss_operands(input, target, reduction, "binary_cross_entropy")
    if x.data.size and not (np.all(x.data >= 0) and np.all(x.data <= 1)):
        if np.isnan(x.data).any():
            raise ValueError("binary_cross_entropy: input contains NaN; input values must be probabilities in "
                             "[0, 1]")
        raise ValueError(
            "binary_cross_entropy: input values must be probabilities in [0, 1]; got values from "
            f"{x.data.min():g} to {x.data.max():g} (for logits use binary_cross_entropy_with_logits)"
        )
    loss = -(y * ops.ClampedLog.apply(x) + (1 - y) * ops.ClampedLog.apply(1 - x))
    return ops.reduce_losses(loss, reduction)


def binary_cross_entropy_with_logits(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """BCE on logits: ℓᵢ = -(yᵢ·log σ(xᵢ) + (1 - yᵢ)·log(1 - σ(xᵢ))) = softplus(xᵢ) - xᵢ·yᵢ, computed stably
    for any finite logit."""
    x, y = _elementwise_loss_operands(input, target, reduction, "binary_cross_entropy_with_logits")
    return ops.reduce_losses(ops.BCEWithLogits.apply(x, y), reduction)


def cross_entropy(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy on logits of shape ``(N, C)`` (also ``(C,)`` and ``(N, C, d1, ...)``; classes on
    axis 1, or 0 for 1-D input).

    - Class indices (an integer tensor or array of shape ``(N,)``, resp. ``()`` / ``(N, d1, ...)``):
      ℓₙ = -log_softmax(x)ₙ,yₙ.
    - Class probabilities (a float target of the input's shape): ℓₙ = -Σ_c yₙ,c · log_softmax(x)ₙ,c;
      differentiable in the target.

    ``mean`` averages over the N (·d1·...) samples.
    """
    name = "cross_entropy"
    _check_reduction(reduction, name)
    x, y = _float_input(input, name), _as_tensor(target)
    if x.ndim == 0:
        raise ShapeError(f"{name}: input must have a class axis; got a 0-d tensor")
    axis = 0 if x.ndim == 1 else 1
    classes = x.shape[axis]
    samples_shape = x.shape[:axis] + x.shape[axis + 1 :]  # the input's shape without the class axis
    if y.dtype.kind in "iu":
        if y.shape != samples_shape:
            raise ShapeError(
                f"{name}: class-index target must have shape {samples_shape} for input shape {x.shape}; got target "
                f"shape {y.shape} (for one-hot or probability targets use a float target of the input's shape)"
            )
        # -log_softmax at each sample's class: picked with a mask (an operation on the labels, as the engine's
        # rule asks) rather than by indexing with the labels' values
        mask = ops.ClassMask.apply(y, classes, axis)
        picked = where(mask, x.log_softmax(axis=axis), 0.0).sum(axis=axis)
        return ops.reduce_losses(-picked, reduction)
    if y.dtype.kind != "f":
        raise TypeError(f"{name}: target must hold integer class indices or float probabilities; got dtype {y.dtype}")
    if y.shape != x.shape:
        raise ShapeError(
            f"{name}: probability target must have the input's shape {x.shape}; got target shape {y.shape} "
            f"(class indices must be an integer tensor of shape {samples_shape})"
        )
    x, y = _promote_operands(x, y)
    return ops.NegativeLogLikelihood.apply(x.log_softmax(axis=axis), y, axis, reduction)


# --------------------------------------------------------------------------------------------------------------
# Activations and layers as functions
# --------------------------------------------------------------------------------------------------------------


def relu(x: Tensor) -> Tensor:
    """``x.relu()``: max(x, 0)."""
    return x.relu()


def sigmoid(x: Tensor) -> Tensor:
    """``x.sigmoid()``: 1 / (1 + exp(−x))."""
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    """``x.tanh()``."""
    return x.tanh()


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """``x.leaky_relu(negative_slope)``: x where x > 0, ``negative_slope``·x elsewhere."""
    return x.leaky_relu(negative_slope)


@_pytorch_names
def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """``x.softmax(axis)``: exp(x) / Σ exp(x) along ``axis``."""
    return x.softmax(axis)


@_pytorch_names
def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """``x.log_softmax(axis)``: x − logsumexp(x) along ``axis``."""
    return x.log_softmax(axis)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x @ Wᵀ + b, with W of shape (out_features, in_features), recorded as one operation (ops.Linear)."""
    x = x if isinstance(x, Tensor) else Tensor(x, dtype=weight.dtype)
    xs, ws = x.data.shape, weight.data.shape
    if not xs or len(ws) != 2 or xs[-1] != ws[1]:
        raise ShapeError(f"linear: input of shape {xs} does not fit a weight of shape {ws} "
                         "(the input's last axis must equal the weight's in_features, its second axis)")
    if bias is not None and bias.data.shape != ws[:1]:
        raise ShapeError(f"linear: bias of shape {bias.shape} does not fit a weight of shape {ws}")
    dtype = weight.data.dtype
    if x.data.dtype != dtype or (bias is not None and bias.data.dtype != dtype):
        y = x @ weight.T  # mixed dtypes: the operators promote them, as in PyTorch
        return y if bias is None else y + bias
    return ops.Linear.apply(x, weight, bias)


def _check_p(p: Any, name: str) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0 <= p <= 1:
        raise ValueError(f"{name}: dropout probability has to be between 0 and 1; got {p!r}")
    return float(p)


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: in training, zero each element with probability ``p`` and scale the rest by
    1/(1 - p), so the expected value is unchanged; otherwise return ``x`` itself."""
    p = _check_p(p, "dropout")
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0
    x = _float_input(x, "dropout")
    keep = get_rng().random(x.shape) >= p
    return x * Tensor._make(keep.astype(x.dtype) * (1.0 / (1.0 - p)))
