"""Gradient checking: compare the engine's gradients with central finite differences.

For a function ``f`` and an input ``x``, the numerical Jacobian column of element ``x[j]`` is
``(f(x + eps·e_j) - f(x - eps·e_j)) / (2·eps)``; the analytical Jacobian row of output element ``i`` is what a
backward pass from ``e_i`` gives. They must agree elementwise within ``atol + rtol·|numerical|``. Use float64:
with float32 the rounding error of the differences swamps the check.

A failed check raises :class:`GradcheckError`; its ``mismatch`` (a :class:`Mismatch`) says where, so that a
caller such as ``tinygrad_lite.testing`` can write its own report from the same facts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .engine import enable_grad, grad, no_grad
from .tensor import Tensor


@dataclass(frozen=True)
class Mismatch:
    """The first Jacobian entry a check found outside the tolerance, and where it is.

    ``order=1``: the derivative of output ``output`` at ``output_element`` with respect to input ``input`` at
    ``element``. ``order=2`` (gradgradcheck): the derivative of the *first-order gradient of input* ``output``
    at ``output_element`` with respect to input ``input`` at ``element``; or, when ``wrt_v`` is set, with respect
    to element ``element`` of the vector ``v`` that seeded output ``input`` of the function.
    """

    order: int
    input: int
    element: tuple[int, ...]
    input_shape: tuple[int, ...]
    output: int
    output_element: tuple[int, ...]
    output_shape: tuple[int, ...]
    numerical: float
    analytical: float
    atol: float
    rtol: float
    count: int  # how many entries of that Jacobian are outside the tolerance
    total: int  # how many entries it has
    wrt_v: bool = False

    @property
    def difference(self) -> float:
        return abs(self.analytical - self.numerical)

    @property
    def tolerance(self) -> float:
        """What the difference had to stay within: ``atol + rtol·|numerical|``."""
        return self.atol + self.rtol * abs(self.numerical)

    def where(self, names: Sequence[str] | None = None) -> str:
        """Which entry, in words; ``names[k]`` names input ``k`` (default ``"input k"``)."""
        def name(k: int) -> str:
            return names[k] if names is not None else f"input {k}"

        if self.order == 1:
            return (f"{name(self.input)} (shape {self.input_shape}) at element {self.element}, "
                    f"output {self.output} (shape {self.output_shape}) element {self.output_element}")
        wrt = (f"v, the vector seeding output {self.input} (shape {self.input_shape}), element {self.element}"
               if self.wrt_v else f"{name(self.input)} element {self.element}")
        return (f"the first-order gradient of {name(self.output)} (shape {self.output_shape}) at element "
                f"{self.output_element}, differentiated with respect to {wrt}")


class GradcheckError(AssertionError):
    """An analytical gradient disagrees with the finite-difference one, or the function changed an input.

    ``mismatch`` is the :class:`Mismatch` found (``None`` when an input was changed in place). The checks of
    ``tinygrad_lite.testing`` also set ``example``: the arguments, in float64, that failed.
    """

    def __init__(self, message: str, mismatch: Mismatch | None = None, example: tuple | None = None) -> None:
        super().__init__(message)
        self.mismatch = mismatch
        self.example = example


def _as_tuple(values: Any) -> tuple:
    return values if isinstance(values, tuple) else tuple(values) if isinstance(values, list) else (values,)


def _index(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(v) for v in np.unravel_index(flat, shape))


def _outputs(fn: Callable, inputs: Sequence[Any]) -> tuple[Tensor, ...]:
    outs = _as_tuple(fn(*inputs))
    for i, out in enumerate(outs):
        if not isinstance(out, Tensor):
            raise TypeError(f"gradcheck: output {i} of the function is a {type(out).__name__}, not a Tensor")
    return outs


def _numerical_jacobian(fn: Callable, inputs: Sequence[Any], k: int, eps: float) -> list[np.ndarray]:
    """For input ``k``: one array per output, shaped (output.size, input.size), by central differences."""
    x = inputs[k].data

    def evaluate() -> list[np.ndarray]:  # copies: an output may be a view of the input being perturbed
        return [o.data.astype(np.float64).ravel() for o in _outputs(fn, inputs)]

    jacobians = [np.zeros((out.size, x.size)) for out in evaluate()]
    with no_grad():
        for j in range(x.size):
            original = x.flat[j]
            try:
                x.flat[j] = original + eps
                plus = evaluate()
                x.flat[j] = original - eps
                minus = evaluate()
            finally:  # even when fn raises: the input (perhaps a model's weight) must keep its value
                x.flat[j] = original
            for jacobian, p, m in zip(jacobians, plus, minus):
                jacobian[:, j] = (p - m) / (2 * eps)
    return jacobians


def _analytical_jacobians(outputs: Sequence[Tensor], inputs: Sequence[Any], checked: list[int]) -> dict:
    """For each checked input ``k``: one array per output, shaped (output.size, input.size). One backward pass
    per output element gives that row for every checked input at once."""
    wrt = [inputs[k] for k in checked]
    jacobians = {k: [np.zeros((o.data.size, inputs[k].data.size)) for o in outputs] for k in checked}
    for o, out in enumerate(outputs):
        if not out.requires_grad:
            continue  # a constant output: its rows stay zero
        for i in range(out.data.size):
            seed = np.zeros(out.data.size, dtype=out.data.dtype)
            seed[i] = 1.0
            grads = grad(out, wrt, grad_outputs=seed.reshape(out.shape), retain_graph=True, allow_unused=True)
            for k, g in zip(checked, grads):
                if g is not None:
                    jacobians[k][o][i] = g.data.ravel()
    return jacobians


def _changed_in_place(inputs: Sequence[Any], before: dict[int, np.ndarray]) -> str | None:
    """A sentence naming the first input whose values differ from the copy taken before, or None."""
    for k, copy in before.items():
        now = inputs[k].data
        if now.shape != copy.shape or not np.array_equal(now, copy, equal_nan=True):
            if now.shape != copy.shape:
                return f"input {k} changed shape in place, from {copy.shape} to {now.shape}"
            j = int(np.argmax(~((now == copy) | (np.isnan(now) & np.isnan(copy))).ravel()))
            return (f"input {k} (shape {copy.shape}) was changed in place by the function or its backward: "
                    f"element {_index(j, copy.shape)} was {float(copy.flat[j])!r} and is now {float(now.flat[j])!r}. "
                    "A backward must not write into the arrays it receives or saved; compute new ones.")
    return None


def _first_mismatch(
    fn: Callable, inputs: Sequence[Any], eps: float, atol: float, rtol: float
) -> tuple[Mismatch | None, str | None]:
    """Compare every checked input's Jacobian; return the first entry outside the tolerance (order 1), or a
    sentence saying which input the function or its backward changed in place."""
    checked = [k for k, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    for k in checked:
        if inputs[k].dtype != np.float64:
            raise TypeError(f"gradcheck: input {k} is {inputs[k].dtype}; finite differences need float64 inputs")
    before = {k: t.data.copy() for k, t in enumerate(inputs) if isinstance(t, Tensor)}
    outputs = _outputs(fn, inputs)
    analytical = _analytical_jacobians(outputs, inputs, checked)
    changed = _changed_in_place(inputs, before)
    if changed:
        return None, changed
    for k in checked:
        numerical = _numerical_jacobian(fn, inputs, k, eps)
        for o, (a, n) in enumerate(zip(analytical[k], numerical)):
            bad = ~(np.abs(a - n) <= atol + rtol * np.abs(n))
            if bad.any():
                i, j = np.argwhere(bad)[0]
                mismatch = Mismatch(
                    order=1, input=k, element=_index(j, inputs[k].shape), input_shape=inputs[k].shape,
                    output=o, output_element=_index(i, outputs[o].shape), output_shape=outputs[o].shape,
                    numerical=float(n[i, j]), analytical=float(a[i, j]), atol=atol, rtol=rtol,
                    count=int(bad.sum()), total=bad.size,
                )
                return mismatch, None
    return None, None


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
    the input, the elements and both values (returns False instead with ``raise_exception=False``). It also
    fails if ``fn`` or its backward changes an input in place."""
    inputs = _as_tuple(inputs)
    mismatch, changed = _first_mismatch(fn, inputs, eps, atol, rtol)
    if mismatch is None and changed is None:
        return True
    if not raise_exception:
        return False
    if changed:
        raise GradcheckError(f"gradcheck: {changed}")
    raise GradcheckError(
        f"gradcheck: gradient mismatch for {mismatch.where()}: numerical {mismatch.numerical!r} vs analytical "
        f"{mismatch.analytical!r} ({mismatch.count} of {mismatch.total} Jacobian entries differ; atol={atol}, "
        f"rtol={rtol})",
        mismatch,
    )


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
    ``create_graph=True``. ``v`` (``grad_outputs``) is random unless given, and is checked as an input too.
    A failure names the first-order gradient that is not differentiated correctly (``Mismatch.order == 2``).
    """
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

    found, changed = _first_mismatch(first_derivatives, (*inputs, *grad_outputs), eps, atol, rtol)
    if found is None and changed is None:
        return True
    if not raise_exception:
        return False
    if changed:
        raise GradcheckError(f"gradgradcheck: {changed}")
    wrt_v = found.input >= n  # the entry is a derivative with respect to v, not to an input
    mismatch = Mismatch(
        order=2, input=found.input - n if wrt_v else found.input, element=found.element,
        input_shape=found.input_shape, output=differentiable[found.output], output_element=found.output_element,
        output_shape=found.output_shape, numerical=found.numerical, analytical=found.analytical, atol=atol,
        rtol=rtol, count=found.count, total=found.total, wrt_v=wrt_v,
    )
    raise GradcheckError(
        f"gradgradcheck: second-derivative mismatch in {mismatch.where()}: numerical {mismatch.numerical!r} vs "
        f"analytical {mismatch.analytical!r} ({mismatch.count} of {mismatch.total} entries differ; atol={atol}, "
        f"rtol={rtol}). The first-order gradient is vᵀ·∂fn/∂input for a random v, built with create_graph=True",
        mismatch,
    )
