"""Optimizers: ``SGD``, ``Adam`` and ``AdamW``, with PyTorch's update formulas.

Each ``step()`` updates ``p.data`` in place with numpy's in-place operations, skipping parameters whose
``grad`` is None. Per-parameter state (momentum buffers, moment estimates, step counts) is kept in lists
aligned with ``self.params``. Hyperparameters are plain Python floats, so a float32 parameter stays float32
(NEP 50: a Python float never widens a numpy array). They are read at every step, so ``opt.lr = 0.01`` between
steps takes effect, as a learning-rate schedule needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from . import engine
from .engine import enable_grad
from .tensor import Tensor

__all__ = ["SGD", "Adam", "AdamW", "Optimizer"]


def _checked_float(value: Any, name: str, owner: str, low: float = 0.0, high: float | None = None) -> float:
    """``value`` as a Python float in [low, high) (or [low, ∞)), else a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{owner}: {name} must be a number; got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and value >= low and (high is None or value < high)):
        bounds = f"in [{low}, {high})" if high is not None else f">= {low}"
        raise ValueError(f"{owner}: invalid {name} {value!r}; it must be finite and {bounds}")
    return value


class Optimizer:
    """Base class: holds the parameters (an iterable of leaf float Tensors, e.g. ``model.parameters()``)."""

    def __init__(self, params: Iterable[Tensor]) -> None:
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params must be an iterable of Tensors, e.g. model.parameters(); got a Tensor")
        params = list(params)
        if not params:
            raise ValueError(f"{name}: got an empty parameter list")
        seen: set[int] = set()
        for i, p in enumerate(params):
            if isinstance(p, dict):
                raise TypeError(f"{name}: parameter groups (dicts) are not supported; pass Tensors")
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: parameter {i} is a {type(p).__name__}, not a Tensor")
            if p.dtype.kind != "f":
                raise TypeError(f"{name}: parameter {i} has dtype {p.dtype}; only float tensors can be optimized")
            if not p.is_leaf:
                raise ValueError(f"{name}: parameter {i} (shape {p.shape}) is not a leaf tensor; can't optimize it")
            if id(p) in seen:
                raise ValueError(f"{name}: parameter {i} (shape {p.shape}) appears more than once")
            seen.add(id(p))
        self.params: list[Tensor] = params

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient: ``None`` (default) or zeros."""
        engine.zero_grad(self.params, set_to_none)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient. ``closure``, if given, recomputes and returns the loss
        (it is called with gradients enabled before the update)."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        engine.run_update(self)
        return loss

    def _update(self) -> None:
        """Update the parameters' arrays (``p.data``) in place. It works on arrays, not Tensors, so nothing is
        recorded, and it needs no ``no_grad()`` block."""
        raise NotImplementedError

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self._settings().items())
        return f"{type(self).__name__}({len(self.params)} parameters, {settings})"

    def _settings(self) -> dict[str, Any]:
        return {}


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov and (L2) weight decay, exactly as PyTorch.

    For each parameter p with gradient g, at step t (λ = weight_decay, μ = momentum, τ = dampening, γ = lr)::

        g ← g + λ·p                         if λ ≠ 0
        b ← g                               if μ ≠ 0, first step (the buffer starts as the gradient)
        b ← μ·b + (1 - τ)·g                 if μ ≠ 0, later steps
        g ← g + μ·b  if nesterov, else  g ← b   (if μ ≠ 0)
        p ← p - γ·g

    Nesterov needs μ > 0 and τ = 0.
    """

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0) -> None:
        super().__init__(params)
        self.lr = _checked_float(lr, "learning rate", "SGD")
        self.momentum = _checked_float(momentum, "momentum", "SGD")
        self.dampening = _checked_float(dampening, "dampening", "SGD", low=-math.inf)
        self.weight_decay = _checked_float(weight_decay, "weight_decay", "SGD")
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum > 0 and zero dampening; got "
                             f"momentum={self.momentum}, dampening={self.dampening}")
        self.momentum_buffers: list[np.ndarray | None] = [None] * len(self.params)

    def _settings(self) -> dict[str, Any]:
        return {"lr": self.lr, "momentum": self.momentum, "dampening": self.dampening,
                "nesterov": self.nesterov, "weight_decay": self.weight_decay}

    def _update(self) -> None:
        lr, momentum, weight_decay = float(self.lr), float(self.momentum), float(self.weight_decay)
        if momentum == 0 and weight_decay == 0:  # plain SGD: one temporary (lr·g)
            for p in self.params:
                g = p.grad
                if g is not None:
                    p.data -= lr * g.data
            return
        keep = 1.0 - float(self.dampening)
        buffers = self.momentum_buffers
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            param, d_p = p.data, p.grad.data
            owned = False  # whether d_p is a temporary of ours that may be overwritten
            if weight_decay != 0:
                d_p = np.multiply(param, weight_decay, dtype=param.dtype)
                d_p += p.grad.data
                owned = True
            if momentum != 0:
                buf = buffers[i]
                if buf is None:
                    buf = buffers[i] = np.array(d_p, dtype=param.dtype, copy=True)
                else:
                    buf *= momentum
                    if keep == 1.0:
                        buf += d_p
                    else:
                        buf += keep * d_p
                if self.nesterov:
                    if owned:
                        d_p += momentum * buf
                    else:
                        d_p = np.multiply(buf, momentum, dtype=param.dtype)
                        d_p += p.grad.data
                        owned = True
                else:
                    d_p, owned = buf, False
            if owned:
                d_p *= lr
                param -= d_p
            else:
                param -= lr * d_p


class Adam(Optimizer):
    """Adam (Kingma & Ba) with PyTorch's formulas, L2 weight decay added to the gradient.

    For each parameter p with gradient g, at its step t = 1, 2, ... (m and v start at zero)::

        g ← g + λ·p                                   if λ = weight_decay ≠ 0
        m ← β₁·m + (1 - β₁)·g
        v ← β₂·v + (1 - β₂)·g²
        p ← p - (lr / (1 - β₁ᵗ)) · m / (√v / √(1 - β₂ᵗ) + ε)

    The step count is kept per parameter (a parameter skipped because its grad was None does not advance).
    """

    _decoupled = False

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(params)
        name = type(self).__name__
        self.lr = _checked_float(lr, "learning rate", name)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2); got {betas!r}")
        self.betas = (_checked_float(betas[0], "beta1", name, 0.0, 1.0),
                      _checked_float(betas[1], "beta2", name, 0.0, 1.0))
        self.eps = _checked_float(eps, "eps", name)
        self.weight_decay = _checked_float(weight_decay, "weight_decay", name)
        n = len(self.params)
        self.steps: list[int] = [0] * n
        self.exp_avgs: list[np.ndarray | None] = [None] * n  # m
        self.exp_avg_sqs: list[np.ndarray | None] = [None] * n  # v
        self._scratch: list[np.ndarray | None] = [None] * n  # one temporary per parameter, reused every step

    def _settings(self) -> dict[str, Any]:
        return {"lr": self.lr, "betas": self.betas, "eps": self.eps, "weight_decay": self.weight_decay}

    def _update(self) -> None:
        lr, eps, weight_decay = float(self.lr), float(self.eps), float(self.weight_decay)
        beta1, beta2 = float(self.betas[0]), float(self.betas[1])
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            param, g = p.data, p.grad.data
            m, v, s = self.exp_avgs[i], self.exp_avg_sqs[i], self._scratch[i]
            if m is None or m.shape != param.shape:
                m, v, s = (np.zeros_like(param) for _ in range(3))
                self.exp_avgs[i], self.exp_avg_sqs[i], self._scratch[i] = m, v, s
            self.steps[i] += 1
            t = self.steps[i]
            if weight_decay != 0:
                if self._decoupled:  # AdamW: p ← p·(1 - lr·λ)
                    param *= 1.0 - lr * weight_decay
                else:  # Adam: g ← g + λ·p
                    np.multiply(param, weight_decay, out=s)
                    s += g
                    g = s
            m *= beta1  # m ← β₁·m + (1 - β₁)·g
            if g is s:  # s holds the decayed gradient, still needed below: one temporary
                m += (1.0 - beta1) * g
            else:
                np.multiply(g, 1.0 - beta1, out=s)
                m += s
            v *= beta2  # v ← β₂·v + (1 - β₂)·g²
            np.multiply(g, g, out=s)
            s *= 1.0 - beta2
            v += s
            step_size = lr / (1.0 - beta1**t)
            np.sqrt(v, out=s)  # s ← √v / √(1 - β₂ᵗ) + ε
            s /= math.sqrt(1.0 - beta2**t)
            s += eps
            np.divide(m, s, out=s)
            s *= step_size
            param -= s


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), PyTorch's formulas.

    For each parameter p with gradient g, at its step t = 1, 2, ... (m and v start at zero)::

        p ← p · (1 - lr·λ)                            λ = weight_decay (default 0.01)
        m ← β₁·m + (1 - β₁)·g
        v ← β₂·v + (1 - β₂)·g²
        p ← p - (lr / (1 - β₁ᵗ)) · m / (√v / √(1 - β₂ᵗ) + ε)
    """

    _decoupled = True

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)
