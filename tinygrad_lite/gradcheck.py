"""Gradient checking: compare the engine's gradients with central finite differences.

For a function ``f`` and an input ``x``, the numerical Jacobian column of element ``x[j]`` is
``(f(x + eps·e_j) - f(x - eps·e_j)) / (2·eps)``; the analytical Jacobian row of output element ``i`` is what a
backward pass from ``e_i`` gives. They must agree elementwise within ``atol + rtol·|numerical|``. Use float64:
with float32 the rounding error of the differences swamps the check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .engine import enable_grad, grad, no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """An analytical gradient disagrees with the finite-difference one."""


def _as_tuple(values: Any) -> tuple:
    return values if isinstance(values, tuple) else tuple(values) if isinstance(values, list) else (values,)


def _outputs(fn: Callable, inputs: Sequence[Tensor]) -> tuple[Tensor, ...]:
    outs = _as_tuple(fn(*inputs))
    for i, out in enumerate(outs):
        if not isinstance(out, Tensor):
            raise TypeError(f"gradcheck: output {i} of the function is a {type(out).__name__}, not a Tensor")
    return outs


def _numerical_jacobian(fn: Callable, inputs: Sequence[Tensor], k: int, eps: float) -> list[np.ndarray]:
    """For input ``k``: one array per output, shaped (output.size, input.size), by central differences."""
    x = inputs[k].data

    def evaluate() -> list[np.ndarray]:  # copies: an output may be a view of the input being perturbed
        return [o.data.astype(np.float64).ravel() for o in _outputs(fn, inputs)]

    jacobians = [np.zeros((out.size, x.size)) for out in evaluate()]
    with no_grad():
        for j in range(x.size):
            original = x.flat[j]
            x.flat[j] = original + eps
            plus = evaluate()
            x.flat[j] = original - eps
            minus = evaluate()
            x.flat[j] = original
            for jacobian, p, m in zip(jacobians, plus, minus):
                jacobian[:, j] = (p - m) / (2 * eps)
    return jacobians


def _analytical_jacobian(outputs: Sequence[Tensor], inputs: Sequence[Tensor], k: int) -> list[np.ndarray]:
    """For input ``k``: one array per output, shaped (output.size, input.size), one backward pass per row."""
    x = inputs[k]
    jacobians = []
    for out in outputs:
        rows = np.zeros((out.data.size, x.data.size))
        if out.requires_grad:
            for i in range(out.data.size):
                seed = np.zeros(out.data.size, dtype=out.data.dtype)
                seed[i] = 1.0
                (g,) = grad(out, x, grad_outputs=seed.reshape(out.shape), retain_graph=True, allow_unused=True)
                if g is not None:
                    rows[i] = g.data.ravel()
        jacobians.append(rows)
    return jacobians


def gradcheck(
    fn: Callable[..., Any],
    inputs: Tensor | Sequence[Tensor],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Check the gradients of ``fn(*inputs)`` (a Tensor or a tuple of them) with respect to every input that
    requires a gradient, against central differences. Returns True, or raises :class:`GradcheckError` naming
    the input, the elements and both values (returns False instead with ``raise_exception=False``)."""
    inputs = _as_tuple(inputs)
    checked = [k for k, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    for k in checked:
        if inputs[k].dtype != np.float64:
            raise TypeError(f"gradcheck: input {k} is {inputs[k].dtype}; finite differences need float64 inputs")
    outputs = _outputs(fn, inputs)
    for k in checked:
        analytical = _analytical_jacobian(outputs, inputs, k)
        numerical = _numerical_jacobian(fn, inputs, k, eps)
        for o, (a, n) in enumerate(zip(analytical, numerical)):
            bad = ~(np.abs(a - n) <= atol + rtol * np.abs(n))
            if bad.any():
                i, j = np.argwhere(bad)[0]
                out_index = np.unravel_index(i, outputs[o].shape)
                in_index = np.unravel_index(j, inputs[k].shape)
                message = (
                    f"gradcheck: gradient mismatch for input {k} (shape {inputs[k].shape}) at element "
                    f"{tuple(int(v) for v in in_index)}, output {o} (shape {outputs[o].shape}) element "
                    f"{tuple(int(v) for v in out_index)}: "
                    f"numerical {float(n[i, j])!r} vs analytical {float(a[i, j])!r} "
                    f"({int(bad.sum())} of {bad.size} Jacobian entries differ; atol={atol}, rtol={rtol})"
                )
                if raise_exception:
                    raise GradcheckError(message)
                return False
    return True


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Tensor | Sequence[Tensor] | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """Check second derivatives: gradcheck of the function ``(inputs, v) ↦ vᵀ·∂fn/∂inputs`` built with
    ``create_graph=True``. ``v`` (``grad_outputs``) is random unless given, and is checked as an input too."""
    inputs = _as_tuple(inputs)
    outputs = _outputs(fn, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = tuple(Tensor(rng.standard_normal(o.shape), requires_grad=True) for o in outputs)
    grad_outputs = _as_tuple(grad_outputs)
    differentiable = [k for k, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    n = len(inputs)

    def first_derivatives(*args: Tensor) -> tuple[Tensor, ...]:
        xs, vs = args[:n], args[n:]
        with enable_grad():  # gradcheck evaluates this under no_grad for its finite differences
            outs = list(_outputs(fn, xs))
            pairs = [(o, v) for o, v in zip(outs, vs) if o.requires_grad]
            wrt = [xs[k] for k in differentiable]
            if not pairs:
                return tuple(Tensor.zeros_like(x) for x in wrt)
            grads = grad([o for o, _ in pairs], wrt, grad_outputs=[v for _, v in pairs], create_graph=True,
                         allow_unused=True)
        return tuple(Tensor.zeros_like(x) if g is None else g for g, x in zip(grads, wrt))

    return gradcheck(first_derivatives, (*inputs, *grad_outputs), eps, atol, rtol, raise_exception)
