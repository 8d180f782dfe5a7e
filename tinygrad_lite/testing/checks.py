"""``check_function`` and ``check_module``: gradcheck and gradgradcheck as hypothesis properties.

Each generated example is copied to float64 and checked at first order (``tl.gradcheck``) and, for
``order=2``, at second order (``tl.gradgradcheck``). When a check fails, hypothesis shrinks the example to a
small one, and the error says in one message what a person needs to act: which input and element, the
analytical and numerical values, their difference against the tolerance, and the example itself.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import numpy as np

from ..engine import no_grad
from ..gradcheck import GradcheckError, gradcheck, gradgradcheck
from ..nn.module import Module
from ..tensor import Tensor
from ._hypothesis import hypothesis, st


def check_function(
    f: Callable[..., Any],
    *strategies: st.SearchStrategy,
    args: st.SearchStrategy | None = None,
    order: int = 2,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    max_examples: int | None = None,
    deadline: float | timedelta | None = None,
    settings: hypothesis.settings | None = None,
) -> None:
    """Check the gradients of ``f`` against finite differences on examples drawn by hypothesis; raise
    :class:`~tinygrad_lite.GradcheckError` with a report on the first (shrunk) failure, return None otherwise.

    ``f`` is anything that takes Tensors: a function of Tensors, a custom ``tl.Function``'s ``apply``, a
    Module (then only its inputs are checked; :func:`check_module` checks its parameters too). Each strategy
    draws one positional argument: Tensors that require grad are checked, anything else (a Python number, an
    axis, a numpy array) is passed along as a constant. When arguments depend on each other (an axis valid
    for the drawn shape), pass instead ``args=``, one strategy that draws the whole tuple of arguments.

    ``order=2`` checks second derivatives too; ``order=1`` only the gradient. ``eps``, ``atol`` and ``rtol`` are
    gradcheck's. ``max_examples``, for each of the ``order`` passes (gradients first, then gradients and second
    derivatives), defaults to the active hypothesis profile's (100 unless a profile says otherwise);
    ``deadline`` defaults to none, since the time a check takes varies with the shapes drawn; ``settings`` is a
    ``hypothesis.settings`` to start from. Call it from a plain test, not inside ``@given``.
    """
    __tracebackhide__ = True  # pytest shows the report, not the frames of this module
    name = _name(f)
    drawn = _arguments(f"check_function({name})", strategies, args)
    _check_order(order)

    def check(arguments: Sequence[Any], level: int) -> None:
        __tracebackhide__ = True
        example = tuple(_float64_copy(a) for a in arguments)
        _check_example(f"check_function({name})", f, example, len(example), level, eps, atol, rtol)

    _run(check, drawn, order, f"check_function({name})", _database_key(f), max_examples, deadline, settings)


def check_module(
    model: Module,
    *input_strategies: st.SearchStrategy,
    args: st.SearchStrategy | None = None,
    order: int = 2,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    max_examples: int | None = None,
    deadline: float | timedelta | None = None,
    settings: hypothesis.settings | None = None,
) -> None:
    """Check the gradients of every parameter of ``model`` and of every input that requires grad, on inputs
    drawn by the strategies (one per positional argument of ``forward``, or ``args=`` for the whole tuple).

    The check runs on a float64 copy of the model in evaluation mode (a dropout mask drawn anew for each
    evaluation would make finite differences meaningless); ``model`` itself, its dtype, values, gradients and
    mode, is not changed. The parameters keep their values: the inputs vary. A failure names the parameter
    by its dotted name (``'0.weight'``). The other arguments are :func:`check_function`'s.
    """
    __tracebackhide__ = True
    if not isinstance(model, Module):
        raise TypeError(f"check_module: expected an nn.Module; got {type(model).__name__} (use check_function)")
    title = f"check_module({type(model).__name__})"
    drawn = _arguments(title, input_strategies, args)
    _check_order(order)
    twin = _float64_twin(model)
    named = [(n, p) for n, p in twin.named_parameters() if p.requires_grad]
    params = tuple(p for _, p in named)

    def forward(*arguments: Any) -> Any:  # the parameters come last; the twin reads them as its own attributes
        return twin(*arguments[: len(arguments) - len(params)])

    def check(arguments: Sequence[Any], level: int) -> None:
        __tracebackhide__ = True
        inputs = tuple(_float64_copy(a) for a in arguments)
        names = [f"input {k}" for k in range(len(inputs))] + [f"parameter {n!r}" for n, _ in named]
        _check_example(title, forward, (*inputs, *params), len(inputs), level, eps, atol, rtol, names)

    _run(check, drawn, order, title, _database_key(model), max_examples, deadline, settings)


# --------------------------------------------------------------------------------------------------------------
# One example
# --------------------------------------------------------------------------------------------------------------


def _check_example(
    title: str,
    f: Callable[..., Any],
    example: tuple,
    shown: int,
    order: int,
    eps: float,
    atol: float,
    rtol: float,
    names: Sequence[str] | None = None,
) -> None:
    """gradcheck, then gradgradcheck, of ``f`` at ``example``; a failure is re-raised with the full report.
    The first ``shown`` arguments are the drawn ones (the rest are a model's parameters)."""
    __tracebackhide__ = True
    if not any(isinstance(a, Tensor) and a.requires_grad for a in example):
        raise ValueError(f"{title}: no argument is a Tensor that requires grad, so there is nothing to check; "
                         "draw the inputs with tensors() (float tensors require grad by default)")
    before = tuple(_copy_of(a) for a in example)  # for the report: the function may change its inputs
    try:
        gradcheck(f, example, eps, atol, rtol)
        if order == 2:
            gradgradcheck(f, example, eps=eps, atol=atol, rtol=rtol)
    except GradcheckError as error:
        report = _report(title, f, error, before, shown, eps, names)
        raise GradcheckError(report, error.mismatch, before) from None


def _report(
    title: str, f: Callable, error: GradcheckError, example: tuple, shown: int, eps: float, names: Any
) -> str:
    """The failure in one message: what is wrong, where, both values against the tolerance, the example."""
    m = error.mismatch
    name = (lambda k: names[k]) if names is not None else (lambda k: f"input {k}")
    if m is None:  # gradcheck found an input changed in place; its sentence says which
        lines = [f"{title}: an input was changed in place.", "  " + str(error).split(": ", 1)[1]]
    else:
        if m.order == 1:
            lines = [f"{title}: a gradient does not match finite differences."]
        else:
            lines = [
                f"{title}: a second derivative does not match finite differences.",
                "  The gradient passed gradcheck, here and on every example of the first pass, but differentiating",
                "  it (create_graph=True) gives another value. Usual causes: backward uses np.* instead of ctx.xp.*,",
                "  or a value computed in forward instead of the saved input or output.",
            ]
        lines.append(f"  where       {m.where(names)}")
        if not m.wrt_v:
            value = np.asarray(example[m.input].data)[m.element]
            lines.append(f"  value       {name(m.input)} is {float(value)!r} there")
        jacobian = "Jacobian" if m.order == 1 else "second-order Jacobian"
        lines += [
            f"  analytical  {m.analytical!r}  (the engine's backward)",
            f"  numerical   {m.numerical!r}  (central difference, eps={eps})",
            f"  difference  {m.difference:.6g} > tolerance {m.tolerance:.6g} "
            f"= atol {m.atol} + rtol {m.rtol}·|numerical|",
            f"  {m.count} of {m.total} entries of this {jacobian} differ",
        ]
    lines += _precision_notes(f, example)
    lines.append("Falsifying example (shrunk by hypothesis; checked in float64):")
    lines += [_show(f"  {name(k)} = ", a) for k, a in enumerate(example[:shown])]
    if shown < len(example):
        lines.append("  (the parameters: the model's own values, in float64)")
    return "\n".join(lines)


def _precision_notes(f: Callable, example: tuple) -> list[str]:
    """A note for each output that is not float64: then the function itself rounds, and no tolerance helps."""
    try:
        with no_grad():
            outputs = f(*example)
    except Exception:  # the report must not fail because the function does
        return []
    outputs = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
    return [
        f"  note: output {i} is {out.dtype}: the function leaves float64 somewhere, so finite differences see its "
        "rounding, not its derivative"
        for i, out in enumerate(outputs) if isinstance(out, Tensor) and out.dtype != np.float64
    ]


def _show(prefix: str, value: Any) -> str:
    """``prefix`` and an argument as a person can read and paste it: every digit of every element."""
    if not isinstance(value, Tensor):
        return prefix + repr(value)
    if value.ndim == 0:
        text = repr(value.data.item())
    else:  # continuation lines are indented by len(prefix), under the first element
        text = np.array2string(value.data, separator=", ", floatmode="unique", threshold=10_000, prefix=prefix)
    flags = f"shape {value.shape}, {value.dtype}" + (", requires grad" if value.requires_grad else "")
    return f"{prefix}{text}  ({flags})"


# --------------------------------------------------------------------------------------------------------------
# Arguments and models
# --------------------------------------------------------------------------------------------------------------


def _float64_copy(value: Any) -> Any:
    """A fresh float64 leaf for a float Tensor (so hypothesis's value is never touched); a copy of anything
    else mutable; constants as they are."""
    if isinstance(value, Tensor):
        data = value.data.astype(np.float64) if value.dtype.kind == "f" else value.data.copy()
        return Tensor(data, requires_grad=value.requires_grad)
    return value.copy() if isinstance(value, np.ndarray) else value


def _copy_of(value: Any) -> Any:
    if isinstance(value, Tensor):
        return Tensor(value.data, requires_grad=value.requires_grad)  # Tensor() copies the data
    return value.copy() if isinstance(value, np.ndarray) else value


def _float64_twin(model: Module) -> Module:
    """A deep copy of ``model`` with float64 parameters and no gradients, in evaluation mode."""
    try:
        twin = copy.deepcopy(model)
    except Exception as error:
        raise TypeError(f"check_module: cannot copy {type(model).__name__}, and checking it must not change it: "
                        f"copy.deepcopy failed ({error})") from error
    for param in twin.parameters():
        param.data = param.data.astype(np.float64)
        param.grad = None
    return twin.eval()


def _arguments(title: str, strategies: tuple, args: Any) -> st.SearchStrategy:
    """One strategy for the tuple of arguments."""
    if args is not None and strategies:
        raise TypeError(f"{title}: give either one strategy per argument or args=, not both")
    if args is None and not strategies:
        raise TypeError(f"{title}: give one strategy per argument, e.g. tensors(shape=(3,)), or args=")
    return st.tuples(*strategies) if args is None else args.map(tuple)


def _check_order(order: int) -> None:
    if order not in (1, 2):
        raise ValueError(f"order must be 1 (gradients) or 2 (gradients and second derivatives); got {order!r}")


def _name(f: Any) -> str:
    """How a report names ``f``: ``LogCosh.apply``, ``Sequential``, ``test_x.<locals>.<lambda>``."""
    if isinstance(f, Module):
        return type(f).__name__
    owner = getattr(f, "__self__", None)
    if owner is not None and hasattr(f, "__name__"):
        return f"{owner.__name__ if isinstance(owner, type) else type(owner).__name__}.{f.__name__}"
    return getattr(f, "__qualname__", None) or repr(f)


def _database_key(f: Any) -> bytes:
    """Tells the checks of different functions apart in hypothesis's database of failing examples."""
    target = f.forward if isinstance(f, Module) else f
    code = getattr(getattr(target, "__func__", target), "__code__", None)
    place = f"{code.co_filename}:{code.co_firstlineno}" if code is not None else ""
    return f"{_name(f)} {place}".encode()


def _run(
    check: Callable[[Sequence[Any], int], None],
    drawn: st.SearchStrategy,
    order: int,
    title: str,
    key: bytes,
    max_examples: int | None,
    deadline: float | timedelta | None,
    settings: hypothesis.settings | None,
) -> None:
    """Run ``check`` as hypothesis properties over ``drawn``, now: first the gradients alone on every example,
    then, for ``order=2``, gradients and second derivatives. So a wrong gradient is always reported as such,
    and a second-order report means the gradient passed on every example of the first pass."""
    __tracebackhide__ = True
    for level in range(1, order + 1):
        _run_pass(functools.partial(check, level=level), drawn, title, key + b" order %d" % level, max_examples,
                  deadline, settings)


def _run_pass(
    check: Callable[[Sequence[Any]], None],
    drawn: st.SearchStrategy,
    title: str,
    key: bytes,
    max_examples: int | None,
    deadline: float | timedelta | None,
    settings: hypothesis.settings | None,
) -> None:
    __tracebackhide__ = True

    def each_example(arguments: Sequence[Any]) -> None:
        __tracebackhide__ = True
        check(arguments)

    # what hypothesis prints before a failing example: "check_function(arguments=(...))"
    each_example.__name__ = each_example.__qualname__ = title.split("(")[0]
    # Hypothesis keys its database of failing examples by the test's source code, the same closure for every
    # check; the extra digest it takes (it uses it for pytest's parametrize) keeps each check's own examples.
    each_example._hypothesis_internal_add_digest = key
    base = settings if settings is not None else hypothesis.settings()
    overrides: dict[str, Any] = {
        "deadline": deadline,
        "report_multiple_bugs": False,  # one failure, one message; a second bug shows once the first is fixed
        # hypothesis's explanation would list lines of gradcheck that only failing examples ran: the report
        # already says what failed, in the user's terms
        "phases": [phase for phase in base.phases if phase.name != "explain"],
    }
    if max_examples is not None:
        overrides["max_examples"] = max_examples
    hypothesis.given(drawn)(hypothesis.settings(base, **overrides)(each_example))()
