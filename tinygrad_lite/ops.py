"""The primitive operations: each one's forward and backward side by side, like a table of derivatives. Every
backward formula of the library is in this file; docs/ops.md lists them, family by family.

Conventions
-----------
- ``forward(ctx, ...)`` gets numpy arrays (Python numbers stay numbers) and returns a numpy array.
- ``backward(ctx, g)`` gets the gradient ``g`` of the output and returns one gradient per positional argument
  of ``forward``. A gradient may keep the broadcast shape: the engine sums it back to the input's shape and
  casts it to the input's dtype (``engine._unbroadcast``), so no operation here repeats that.
- Backward formulas are written once, with operators and the functions of ``ctx.xp``. For a plain backward,
  ``ctx.xp`` is :data:`NUMPY_MATH` and everything is numpy; under ``create_graph=True`` it is
  :data:`TENSOR_MATH` and the same formula builds a differentiable graph (higher-order derivatives).
- Each Function's docstring is its row of the table of derivatives, in two parts that ``tl.explain`` prints:
  a first paragraph in symbols, ``forward;  derivative`` (z the output, g the gradient arriving at it), then a
  paragraph starting ``In words:``. Remarks may follow. The formula is written there once, beside its code.
- Composite operations are built from these primitives and need no formula of their own: ``mean``, ``var``,
  ``stack``, ... in ``tensor.py``; ``l1_loss``, ``binary_cross_entropy`` and cross-entropy with class indices
  in ``nn/functional.py``, which also checks the arguments of the fused losses below before applying them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .engine import Function

# --------------------------------------------------------------------------------------------------------------
# Elementwise arithmetic: z = x op y, numpy broadcasting
# --------------------------------------------------------------------------------------------------------------


class Add(Function):
    """z = x + y;  dz/dx = 1, dz/dy = 1.

    In words: the gradient passes through unchanged to both inputs."""

    @staticmethod
    def forward(ctx, x, y):
        return x + y

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(Function):
    """z = x - y;  dz/dx = 1, dz/dy = -1.

    In words: x receives the gradient as it is, y receives it negated."""

    @staticmethod
    def forward(ctx, x, y):
        return x - y

    @staticmethod
    def backward(ctx, g):
        return g, -g


class Mul(Function):
    """z = x * y;  dz/dx = y, dz/dy = x.

    In words: each factor's gradient is the incoming gradient times the other factor."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        return (g * y if need_x else None), (g * x if need_y else None)


class Div(Function):
    """z = x / y;  dz/dx = 1/y, dz/dy = -x/y² = -z/y.

    In words: x's gradient is the incoming gradient divided by y; y's is minus that times the result."""

    @staticmethod
    def forward(ctx, x, y):
        z = x / y
        ctx.save_for_backward(y, z)
        return z

    @staticmethod
    def backward(ctx, g):
        y, z = ctx.saved_tensors
        gx = g / y
        return gx, (-gx * z if ctx.needs_input_grad[1] else None)


class Pow(Function):
    """z = x ** y;  dz/dx = y·x^(y-1), dz/dy = z·log(x).

    In words: the power rule for the base; for the exponent, the result times the log of the base.

    Both are 0 where the formula would give 0·inf (dz/dx for a constant exponent 0, or y = 0 at x = 0; dz/dy at
    x = 0 for y ≥ 0), as in PyTorch."""

    @staticmethod
    def forward(ctx, x, y):
        z = x**y
        ctx.save_for_backward(x, y, z)
        return z

    @staticmethod
    def backward(ctx, g):
        x, y, z = ctx.saved_tensors
        if isinstance(y, (int, float)):  # a constant exponent c: dz/dx = c·x^(c-1)
            if y == 0:
                return g * 0, None  # x^0 = 1 is constant (c·x^(c-1) would be 0·inf at x = 0)
            if y == 2:
                return g * (x + x), None  # the common square: 2x, without a pow per element
            return g * y * x ** (y - 1), None
        need_x, need_y = ctx.needs_input_grad
        xp, zero_base = ctx.xp, np.asarray(x) == 0
        gx = gy = None
        if need_x:
            singular = zero_base & (np.asarray(y) == 0)  # 0·0^(-1): use 0^0 instead, y·0^0 = 0
            gx = g * y * x ** (xp.where(singular, 0, y - 1) if singular.any() else y - 1)
        if need_y:
            gy = g * z * xp.log(xp.where(zero_base, 1, x) if zero_base.any() else x)
        return gx, gy


class Maximum(Function):
    """z = max(x, y);  dz/dx = 1[x > y] + ½·1[x = y], dz/dy = 1 - dz/dx.

    In words: the gradient goes to the larger input, split evenly where they tie."""

    saves_constants = True  # the 0 / ½ / 1 weights: piecewise constant, derivative zero
    _wins, _select = staticmethod(np.greater), staticmethod(np.maximum)

    @classmethod
    def forward(cls, ctx, x, y):
        # weight_x: 1 where x is chosen, 0.5 on ties, 0 elsewhere (a constant: its own derivative is zero)
        weight_x = cls._wins(x, y) + 0.5 * (x == y)
        ctx.save_for_backward(weight_x.astype(np.result_type(x, y), copy=False))
        return cls._select(x, y)

    @staticmethod
    def backward(ctx, g):
        (weight_x,) = ctx.saved_tensors
        return g * weight_x, g * (1 - weight_x)


class Minimum(Maximum):
    """z = min(x, y);  dz/dx = 1[x < y] + ½·1[x = y], dz/dy = 1 - dz/dx.

    In words: the gradient goes to the smaller input, split evenly where they tie."""

    _wins, _select = staticmethod(np.less), staticmethod(np.minimum)


class Where(Function):
    """z = cond ? x : y;  dz/dx = 1[cond], dz/dy = 1[not cond].

    In words: the gradient goes to whichever input was picked; cond is a constant mask and receives none."""

    @staticmethod
    def forward(ctx, cond, x, y):
        ctx.save_for_backward(cond)
        return np.where(cond, x, y)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved_tensors
        return None, ctx.xp.where(cond, g, 0), ctx.xp.where(cond, 0, g)


# --------------------------------------------------------------------------------------------------------------
# Elementwise functions of one input
# --------------------------------------------------------------------------------------------------------------


class Neg(Function):
    """z = -x;  dz/dx = -1.

    In words: the gradient comes back negated."""

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, g):
        return -g


class Exp(Function):
    """z = e^x;  dz/dx = e^x = z.

    In words: the incoming gradient times the result itself."""

    @staticmethod
    def forward(ctx, x):
        z = np.exp(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        return g * z


class Log(Function):
    """z = ln x;  dz/dx = 1/x.

    In words: the incoming gradient divided by the input."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / x


class Sqrt(Function):
    """z = √x;  dz/dx = 1/(2√x) = 1/(2z).

    In words: the incoming gradient divided by twice the result."""

    @staticmethod
    def forward(ctx, x):
        z = np.sqrt(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        return g * 0.5 / z


class Abs(Function):
    """z = |x|;  dz/dx = sign(x).

    In words: the gradient keeps its sign where x is positive, flips it where x is negative, and is 0 at 0 (as
    in PyTorch)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * ctx.xp.sign(x)


class Sin(Function):
    """z = sin x;  dz/dx = cos x.

    In words: the incoming gradient times the cosine of the input."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * ctx.xp.cos(x)


class Cos(Function):
    """z = cos x;  dz/dx = -sin x.

    In words: the incoming gradient times minus the sine of the input."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.cos(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return -g * ctx.xp.sin(x)


class Tanh(Function):
    """z = tanh x;  dz/dx = 1 - z².

    In words: the incoming gradient times one minus the square of the result."""

    @staticmethod
    def forward(ctx, x):
        z = np.tanh(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        return g * (1 - z * z)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """σ(x) = ½ + ½·tanh(x/2): the same function as 1/(1+e^-x), but tanh never overflows, so any finite input
    gives a finite result without numpy warnings."""
    z = np.tanh(x * 0.5)
    z *= 0.5  # in place where numpy gave an array (a 0-d input gives a scalar, which is simply rebound)
    z += 0.5
    return z


class Sigmoid(Function):
    """z = σ(x) = 1/(1+e^-x);  dz/dx = z(1 - z).

    In words: the incoming gradient times z(1 - z), computed from the saved output z, not from the input."""

    @staticmethod
    def forward(ctx, x):
        z = _sigmoid(x)
        ctx.save_for_backward(z)
        return z

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        return g * z * (1 - z)


class Relu(Function):
    """z = max(x, 0);  dz/dx = 1[x > 0].

    In words: the gradient passes where the input was positive and is 0 elsewhere (at 0 too)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.maximum(x, 0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x > 0)  # a 0/1 mask: branch-free, unlike where, which mispredicts on a mixed-sign input


class LeakyRelu(Function):
    """z = x if x > 0 else s·x;  dz/dx = 1 if x > 0 else s.

    In words: the gradient passes where the input was positive and is scaled by the slope s elsewhere."""

    @staticmethod
    def forward(ctx, x, negative_slope):
        ctx.save_for_backward(x)
        ctx.negative_slope = negative_slope
        return np.where(x > 0, x, x * negative_slope)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return ctx.xp.where(x > 0, g, g * ctx.negative_slope), None


class Softplus(Function):
    """z = ln(1 + e^x);  dz/dx = σ(x).

    In words: the incoming gradient times the sigmoid of the input.

    Computed as max(x, 0) + ln(1 + e^-|x|), which never overflows."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * ctx.xp.sigmoid(x)


_GELU_C = float(np.sqrt(2.0 / np.pi))
_GELU_A = 0.044715


class Gelu(Function):
    """z = ½x(1 + tanh u), u = c(x + a·x³);  dz/dx = ½(1 + tanh u) + ½x(1 - tanh² u)·c(1 + 3a·x²).

    In words: the product rule on x times the smooth step ½(1 + tanh u).

    PyTorch's ``approximate='tanh'``, with c = √(2/π) and a = 0.044715."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 0.5 * x * (1 + np.tanh(_GELU_C * (x + _GELU_A * x * x * x)))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        t = ctx.xp.tanh(_GELU_C * (x + _GELU_A * x * x * x))
        return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * _GELU_C * (1 + 3 * _GELU_A * x * x))


class Clip(Function):
    """z = min(max(x, low), high);  dz/dx = 1[low ≤ x ≤ high].

    In words: the gradient passes where the input lay within the bounds and is 0 where it was clipped (as in
    PyTorch's clamp)."""

    @staticmethod
    def forward(ctx, x, low, high):
        inside = np.ones(x.shape, dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        ctx.save_for_backward(inside)
        return np.clip(x, low, high)

    @staticmethod
    def backward(ctx, g):
        (inside,) = ctx.saved_tensors
        return g * inside, None, None


class Cast(Function):
    """z = x converted to another dtype;  dz/dx = 1.

    In words: the gradient flows back unchanged; the engine casts it back to x's dtype."""

    @staticmethod
    def forward(ctx, x, dtype):
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g, None


# --------------------------------------------------------------------------------------------------------------
# Reductions. `axes` is a tuple of non-negative axes (tensor.py normalises what users pass).
# --------------------------------------------------------------------------------------------------------------


def _kept_shape(shape: tuple, axes: tuple) -> tuple:
    """The shape a reduction over ``axes`` has with keepdims=True: a 1 in place of each reduced axis."""
    return tuple([1 if i in axes else n for i, n in enumerate(shape)])


def _reduced_shape(shape: tuple, axes: tuple) -> tuple:
    """The shape a reduction over ``axes`` has with keepdims=False: the reduced axes left out."""
    return tuple([n for i, n in enumerate(shape) if i not in axes])


# PyTorch sums bool and every integer dtype but uint64 as int64; numpy sums bool as bool and uint8 as uint64
_SUM_DTYPES = {np.dtype(t): np.dtype(np.int64) for t in (np.bool_, np.int8, np.int16, np.int32, np.uint8,
                                                          np.uint16, np.uint32)}


class Sum(Function):
    """z = Σ x over axes;  dz/dx = 1 for every summed element.

    In words: the incoming gradient is copied back to every element that was summed (broadcast over the summed
    axes)."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.shape, ctx.kept = x.shape, _kept_shape(x.shape, axes)
        return np.add.reduce(x, axis=axes, keepdims=keepdim, dtype=_SUM_DTYPES.get(x.dtype))

    @staticmethod
    def backward(ctx, g):
        return ctx.xp.broadcast_to(ctx.xp.reshape(g, ctx.kept), ctx.shape), None, None


class Max(Function):
    """z = max x over axes;  dz/dx = 1[x = z] / k, with k the number of maximal elements.

    In words: the gradient goes to the maximal elements, shared equally among ties."""

    saves_constants = True  # the shares of the maximal elements: piecewise constant, derivative zero
    _reduce = np.maximum.reduce

    @classmethod
    def forward(cls, ctx, x, axes, keepdim):
        z = cls._reduce(x, axis=axes, keepdims=True)
        chosen = x == z
        if z.dtype.kind == "f" and np.isnan(z).any():  # a NaN is the maximum, and its gradient goes to the NaNs
            chosen |= np.isnan(x)
        share = chosen / np.add.reduce(chosen, axis=axes, keepdims=True, dtype=x.dtype)
        ctx.save_for_backward(share.astype(x.dtype, copy=False))
        ctx.kept = z.shape
        return z if keepdim else z.reshape(_reduced_shape(x.shape, axes))

    @staticmethod
    def backward(ctx, g):
        (share,) = ctx.saved_tensors
        return ctx.xp.reshape(g, ctx.kept) * share, None, None


class Min(Max):
    """z = min x over axes;  dz/dx = 1[x = z] / k, with k the number of minimal elements.

    In words: the gradient goes to the minimal elements, shared equally among ties."""

    _reduce = np.minimum.reduce


def _shifted_logsumexp(x: np.ndarray, axes: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log Σ e^x over axes (keepdims) as m + log Σ e^(x - m), with m the maximum, so no exponential overflows.
    Returns m, x - m and log Σ e^(x - m) separately: log_softmax is (x - m) - log Σ e^(x - m), which keeps
    the precision that m + log Σ, subtracted from x, would round away for large x."""
    m = np.maximum.reduce(x, axis=axes, keepdims=True, initial=-np.inf)  # initial: an empty axis gives -inf
    finite = np.isfinite(m)
    if not finite.all():  # all -inf (or an inf) along an axis: shifting by it would give nan
        m = np.where(finite, m, 0)
    shifted = x - m
    return m, shifted, np.log(np.add.reduce(np.exp(shifted), axis=axes, keepdims=True))


class LogSumExp(Function):
    """z = log Σ e^x over axes;  dz/dx = e^(x - z) = softmax(x).

    In words: the incoming gradient is spread over the summed elements in proportion to their softmax."""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        m, _, log_sum = _shifted_logsumexp(x, axes)
        z = m + log_sum
        ctx.kept = z.shape
        if not keepdim:
            z = z.reshape(_reduced_shape(x.shape, axes))
        ctx.save_for_backward(x, z)
        return z

    @staticmethod
    def backward(ctx, g):
        x, z = ctx.saved_tensors
        xp = ctx.xp
        return xp.reshape(g, ctx.kept) * xp.exp(x - xp.reshape(z, ctx.kept)), None, None


class Softmax(Function):
    """z = e^x / Σ e^x along an axis;  dx = z ⊙ (g - Σ(g ⊙ z)) along that axis.

    In words: each element's gradient is its probability times how far its incoming gradient lies above the
    probability-weighted mean of the incoming gradient."""

    @staticmethod
    def forward(ctx, x, axis):
        e = np.exp(x - np.maximum.reduce(x, axis=axis, keepdims=True, initial=-np.inf))  # an empty axis works
        z = e / np.add.reduce(e, axis=axis, keepdims=True)
        ctx.save_for_backward(z)
        ctx.axis = axis
        return z

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        return z * (g - ctx.xp.sum(g * z, axis=ctx.axis, keepdims=True)), None


class LogSoftmax(Function):
    """z = x - log Σ e^x along an axis;  dx = g - e^z ⊙ Σ g along that axis.

    In words: the incoming gradient minus the probabilities times its sum along the axis."""

    @staticmethod
    def forward(ctx, x, axis):
        _, shifted, log_sum = _shifted_logsumexp(x, (axis,))
        z = shifted - log_sum
        ctx.save_for_backward(z)
        ctx.axis = axis
        return z

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        xp = ctx.xp
        return g - xp.exp(z) * xp.sum(g, axis=ctx.axis, keepdims=True), None


# --------------------------------------------------------------------------------------------------------------
# Matrix product (both inputs at least 2-D; tensor.py turns 1-D operands into matrices and back)
# --------------------------------------------------------------------------------------------------------------


class Matmul(Function):
    """Z = X @ Y (batched, batch axes broadcast);  dX = G @ Yᵀ, dY = Xᵀ @ G (ᵀ swaps the last two axes).

    In words: each operand's gradient is the incoming gradient multiplied by the other operand, transposed, on
    the side where that operand stood."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x @ y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        swap = ctx.xp.swapaxes
        return (g @ swap(y, -1, -2) if need_x else None), (swap(x, -1, -2) @ g if need_y else None)


class Linear(Function):
    """Y = X @ Wᵀ + b, with W of shape (out, in) and X of shape (..., in);  dX = G @ W, dW = Gᵀ @ X, db = Σ G,
    dW and db summed over every batch axis of X.

    In words: the input's gradient is G times the weights; the weights' is Gᵀ times the input, one outer product
    per batch row, added up; the bias's is G summed over the batch.

    A network layer as one node instead of three (transpose, matmul, add), since per-node overhead dominates
    small networks."""

    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        y = x @ w.T
        if b is not None:
            y += b
        return y

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        xp = ctx.xp
        out_features, in_features = w.shape
        gx = g @ w if need_x else None
        gw = None
        if need_w:  # every batch row adds an outer product g_row ⊗ x_row: flatten the batch axes, then Gᵀ @ X
            g2 = g if g.ndim == 2 else xp.reshape(g, (-1, out_features))
            x2 = x if x.ndim == 2 else xp.reshape(x, (-1, in_features))
            gw = g2.T @ x2
        gb = xp.sum(g, axis=tuple(range(g.ndim - 1)), keepdims=False) if need_b else None
        return gx, gw, gb


# --------------------------------------------------------------------------------------------------------------
# Losses. One node each where a composition would record several (a loss is where a small network's per-node
# overhead shows) or lose precision, as in PyTorch; nn/functional.py checks the arguments and applies these.
# --------------------------------------------------------------------------------------------------------------


def reduce_losses(losses: Any, reduction: str) -> Any:
    """The per-element (or per-sample) losses themselves (``'none'``), their sum, or their mean. The same code
    reduces numpy arrays, in the forward of the fused losses below, and Tensors, for the losses that
    nn/functional.py composes from recorded operations."""
    if reduction == "none":
        return losses
    total = losses.sum()
    if reduction == "sum":
        return total
    count = math.prod(losses.shape)
    return total / count if count else total * math.nan  # the mean of nothing is NaN, as in PyTorch


class SquaredError(Function):
    """z = Σ (x - y)² (reduction 'sum'), its mean ('mean'), or each (x - y)² ('none');  dz/dx = 2(x - y)·g
    (divided by N for the mean), dz/dy = -dz/dx.

    In words: the prediction's gradient is twice its difference from the target, times the incoming gradient;
    the target's is the negative of that."""

    @staticmethod
    def forward(ctx, x, y, reduction):
        ctx.save_for_backward(x, y)
        ctx.scale = 2 / max(x.size, 1) if reduction == "mean" else 2  # d(x - y)² = 2(x - y), over N for the mean
        d = x - y
        d *= d  # in place: d is our own temporary
        return reduce_losses(d, reduction)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        gx = (g * ctx.scale) * (x - y)
        return gx, (-gx if ctx.needs_input_grad[1] else None), None


class NegativeLogLikelihood(Function):
    """ℓ = -Σ_c y_c·logp_c along the class axis, per sample; then their mean ('mean'), sum ('sum') or each
    ('none');  ∂ℓ/∂logp = -y·g, ∂ℓ/∂y = -logp·g, with g spread along the class axis (÷ N for the mean).

    In words: each log-probability's gradient is minus its target weight times the incoming gradient.

    After ``log_softmax`` this is cross-entropy in two nodes, as PyTorch's log_softmax + nll_loss."""

    @staticmethod
    def forward(ctx, logp, y, axis, reduction):
        ctx.save_for_backward(logp, y)
        losses = -np.add.reduce(logp * y, axis=axis)
        ctx.reduction, ctx.count = reduction, losses.size
        ctx.kept = logp.shape[:axis] + (1,) + logp.shape[axis + 1 :]  # a loss per sample, the class axis kept
        return reduce_losses(losses, reduction)

    @staticmethod
    def backward(ctx, g):
        logp, y = ctx.saved_tensors
        need_logp, need_y = ctx.needs_input_grad[:2]
        if ctx.reduction == "none":
            g = ctx.xp.reshape(g, ctx.kept)
        elif ctx.reduction == "mean":
            g = g / ctx.count
        return (-(y * g) if need_logp else None), (-(logp * g) if need_y else None), None, None


class ClampedLog(Function):
    """z = max(ln x, -100);  dz/dx = 1/x where ln x > -100, 0 where clamped.

    In words: the gradient of the log, 1/x, except where the log was clamped, which receives none.

    PyTorch's BCE clamps its logs at -100, so a probability of 0 costs 100, not inf."""

    @staticmethod
    def forward(ctx, x):
        with np.errstate(divide="ignore"):
            z = np.log(x)
        unclamped = z > -100
        ctx.save_for_backward(x, unclamped)
        return np.maximum(z, -100)

    @staticmethod
    def backward(ctx, g):
        x, unclamped = ctx.saved_tensors
        xp = ctx.xp
        return xp.where(unclamped, g, 0) / xp.where(unclamped, x, 1)


class BCEWithLogits(Function):
    """z = softplus(x) - x·y;  dz/dx = σ(x) - y, dz/dy = -x.

    In words: the logit's gradient is the predicted probability minus the target, times the incoming gradient.

    Computed as max(x, 0) - x·y + ln(1 + e^-|x|): no exponential overflows, and for hard labels (y = 0 or 1) the
    first two terms cancel exactly."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        z = np.maximum(x, 0)
        z -= x * y  # first, so that an exact 0 (hard labels) keeps the small log term's precision
        z += np.log1p(np.exp(-np.abs(x)))
        return z

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        need_x, need_y = ctx.needs_input_grad
        return (g * (ctx.xp.sigmoid(x) - y) if need_x else None), (-g * x if need_y else None)


# --------------------------------------------------------------------------------------------------------------
# Moving elements around: the gradient is moved back the same way
# --------------------------------------------------------------------------------------------------------------


class Reshape(Function):
    """z = x with a new shape;  dx = g reshaped back.

    In words: the gradient is reshaped back to the input's shape."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return ctx.xp.reshape(g, ctx.shape), None


class Permute(Function):
    """z = x with its axes reordered;  dx = g with the inverse order.

    In words: the gradient's axes are put back in the input's order."""

    @staticmethod
    def forward(ctx, x, dims):
        ctx.inverse = tuple(np.argsort(dims))
        return np.transpose(x, dims)

    @staticmethod
    def backward(ctx, g):
        return ctx.xp.transpose(g, ctx.inverse), None


class Expand(Function):
    """z = x broadcast to a larger shape;  dx = g summed over the broadcast axes.

    In words: the gradient is summed back to the input's shape, which is exactly the engine's shape fitting, so
    backward hands g back as it is.

    A view: nothing is copied."""

    @staticmethod
    def forward(ctx, x, shape):
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return g, None


class GetItem(Function):
    """z = x[index];  dx = zeros of x's shape with g added at index.

    In words: the gradient goes back to the selected elements, the others receive 0, and repeated indices
    accumulate."""

    @staticmethod
    def forward(ctx, x, index, advanced):
        ctx.shape, ctx.index, ctx.advanced = x.shape, index, advanced
        return x[index]

    @staticmethod
    def backward(ctx, g):
        return ctx.xp.index_add(ctx.shape, ctx.index, g, ctx.advanced), None, None


class IndexAdd(Function):
    """z = zeros(shape) with x added at index;  dx = g[index].

    In words: the gradient is read back at the indices. This is GetItem's backward as an operation of its own,
    so that it can be differentiated again."""

    @staticmethod
    def forward(ctx, g, shape, index, advanced):
        ctx.index, ctx.advanced = index, advanced
        return NUMPY_MATH.index_add(shape, index, g, advanced)

    @staticmethod
    def backward(ctx, g):
        return g[ctx.index], None, None, None


class Cat(Function):
    """z = the inputs joined along an axis;  dxᵢ = the slice of g where xᵢ lies.

    In words: each input receives its own slice of the gradient."""

    @staticmethod
    def forward(ctx, *xs, axis):
        ctx.axis, ctx.sizes = axis, [x.shape[axis] for x in xs]
        return np.concatenate(xs, axis=axis)

    @staticmethod
    def backward(ctx, g):
        grads, start = [], 0
        lead = (slice(None),) * ctx.axis
        for size in ctx.sizes:
            grads.append(g[(*lead, slice(start, start + size))])
            start += size
        return tuple(grads)


# --------------------------------------------------------------------------------------------------------------
# Operations without a gradient. They are Functions all the same: every array computation is one (engine.py).
# --------------------------------------------------------------------------------------------------------------


class Compare(Function):
    """z = compare(x, y), e.g. x < y;  no gradient.

    In words: a boolean mask; it is never recorded, so nothing flows back."""

    differentiable = False

    @staticmethod
    def forward(ctx, x, y, compare):
        return compare(x, y)


class ArgReduce(Function):
    """z = the index of the largest (argmax) or smallest (argmin) element along an axis;  no gradient.

    In words: an int64 index, not a value of x; it is never recorded, so nothing flows back."""

    differentiable = False

    @staticmethod
    def forward(ctx, x, reduce, axis, keepdim):
        return np.asarray(reduce(x, axis=axis, keepdims=keepdim), dtype=np.int64)


class ClassMask(Function):
    """z = True at each sample's class along an axis, from integer class indices (a one-hot mask);  no gradient.

    In words: a boolean mask cross_entropy picks with; it is never recorded, so nothing flows back.

    The labels are checked here, in the operation, so that every path that runs it (eager, or a compiled step
    replayed with new labels) refuses an index outside the classes instead of a silent all-False row."""

    differentiable = False

    @staticmethod
    def forward(ctx, labels, classes, axis):
        if labels.size and (labels.min() < 0 or labels.max() >= classes):
            raise ValueError(f"cross_entropy: class indices must lie in [0, {classes}); got values from "
                             f"{labels.min()} to {labels.max()}")
        return np.moveaxis(labels[..., None] == np.arange(classes), -1, axis)


class Detach(Function):
    """z = x, cut off from the graph;  no gradient.

    In words: the same array, never recorded, so nothing flows back."""

    differentiable = False

    @staticmethod
    def forward(ctx, x):
        return x


# --------------------------------------------------------------------------------------------------------------
# The two array namespaces that backward formulas are written against (ctx.xp)
# --------------------------------------------------------------------------------------------------------------


def _broadcast_axes(shape: tuple, target: tuple) -> tuple:
    """The axes of an array of ``shape`` to sum so that it becomes ``target`` (which broadcasts to ``shape``):
    the leading axes broadcasting prepended, and the axes where ``target`` has a 1."""
    lead = len(shape) - len(target)
    return tuple(range(lead)) + tuple(lead + i for i, n in enumerate(target) if n == 1 and shape[lead + i] != 1)


class _NumpyMath:
    """Backward formulas on numpy arrays: the fast path of every plain ``backward()``."""

    exp, log, sin, cos, tanh, sign = np.exp, np.log, np.sin, np.cos, np.tanh, np.sign
    where = np.where
    # Methods rather than np.reshape & co.: numpy's Python wrappers cost more than the work on small arrays.
    sum = np.add.reduce
    reshape = staticmethod(lambda a, shape: a.reshape(shape))
    transpose = staticmethod(lambda a, axes: a.transpose(axes))
    swapaxes = staticmethod(lambda a, i, j: a.swapaxes(i, j))
    sigmoid = staticmethod(_sigmoid)

    @staticmethod
    def broadcast_to(a: np.ndarray, shape: tuple) -> np.ndarray:
        out = np.empty(shape, a.dtype)  # a fresh array: faster than np.broadcast_to for small ones, and writable
        out[...] = a
        return out

    @staticmethod
    def astype(a: np.ndarray, dtype: Any) -> np.ndarray:
        return a.astype(dtype)

    @staticmethod
    def sum_to(a: np.ndarray, shape: tuple) -> np.ndarray:
        return np.add.reduce(a, axis=_broadcast_axes(a.shape, shape), keepdims=True).reshape(shape)

    @staticmethod
    def index_add(shape: tuple, index: Any, g: np.ndarray, advanced: bool) -> np.ndarray:
        out = np.zeros(shape, dtype=g.dtype)
        if advanced:
            np.add.at(out, index, g)  # unbuffered: an index that repeats accumulates every time
        else:
            out[index] += g
        return out


class _TensorMath:
    """The same functions on Tensors, each a recorded operation: backward formulas become differentiable."""

    exp = staticmethod(lambda a: Exp.apply(a))
    log = staticmethod(lambda a: Log.apply(a))
    sin = staticmethod(lambda a: Sin.apply(a))
    cos = staticmethod(lambda a: Cos.apply(a))
    tanh = staticmethod(lambda a: Tanh.apply(a))
    sigmoid = staticmethod(lambda a: Sigmoid.apply(a))
    sign = staticmethod(lambda a: np.sign(a.data))  # piecewise constant: a constant array, no gradient
    astype = staticmethod(lambda a, dtype: Cast.apply(a, dtype))
    reshape = staticmethod(lambda a, shape: Reshape.apply(a, tuple(shape)))
    transpose = staticmethod(lambda a, axes: Permute.apply(a, tuple(axes)))

    @staticmethod
    def where(cond: Any, a: Any, b: Any) -> Any:
        return Where.apply(getattr(cond, "data", cond), a, b)

    @staticmethod
    def sum(a: Any, axis: Any, keepdims: bool = False) -> Any:
        axes = tuple(ax % a.ndim for ax in ((axis,) if isinstance(axis, int) else axis))
        return Sum.apply(a, axes, keepdims)

    @staticmethod
    def broadcast_to(a: Any, shape: tuple) -> Any:
        return a if a.shape == tuple(shape) else Expand.apply(a, tuple(shape))

    @staticmethod
    def swapaxes(a: Any, i: int, j: int) -> Any:
        dims = list(range(a.ndim))
        dims[i], dims[j] = dims[j], dims[i]
        return Permute.apply(a, tuple(dims))

    @staticmethod
    def sum_to(a: Any, shape: tuple) -> Any:
        return Reshape.apply(Sum.apply(a, _broadcast_axes(a.shape, shape), True), tuple(shape))

    @staticmethod
    def index_add(shape: tuple, index: Any, g: Any, advanced: bool) -> Any:
        return IndexAdd.apply(g, shape, index, advanced)


NUMPY_MATH = _NumpyMath
TENSOR_MATH = _TensorMath
Function.xp = NUMPY_MATH  # every backward formula's default namespace: the seam declared at engine.Function.xp
