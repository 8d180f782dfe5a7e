"""Small right Functions that several test files check, or derive deliberately wrong ones from."""

from __future__ import annotations

import tinygrad_lite as tl


class Cube(tl.Function):
    """z = x³;  dz/dx = 3x². Written with operators only, so it works on arrays and (create_graph) Tensors."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x


class Mul(tl.Function):
    """z = x·y;  dz/dx = y, dz/dy = x."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * y, g * x


class MulMutatingY(Mul):
    """Right gradients, then ``y += 1`` on the array forward saved, which is y's own data: a check that runs
    backward more than once must notice its inputs changed."""

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        grads = (g * y, g * x)
        y += 1.0
        return grads


class Square(tl.Function):
    # No docstring, on purpose: tl.explain falls back on the class name for an undocumented Function.

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * g * x


class FirstOnly(tl.Function):
    """z = x·y;  dz/dx = y, and no gradient for y (on purpose: a custom backward may return None)."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(y)
        return x * y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y, None
