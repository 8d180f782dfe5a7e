"""optim: every optimizer step checked against PyTorch's update formulas written out in numpy."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import Tensor, nn, optim

STEPS = 6


def make_params(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return [Tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True) for shape in [(3, 2), (4,), ()]]


def grad_sequence(params, steps=STEPS, seed=1):
    """A fixed gradient per step and parameter (set by hand, so the reference sees exactly the same ones)."""
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(p.shape).astype(p.dtype) for p in params] for _ in range(steps)]


def run(opt, params, grads):
    """Apply the optimizer to the gradient sequence; return the parameter values after each step."""
    history = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = Tensor(g.copy())
        opt.step()
        history.append([p.data.copy() for p in params])
    return history


# --------------------------------------------------------------------------------------------------------------
# Hand-written references, transcribed from PyTorch's documented algorithms
# --------------------------------------------------------------------------------------------------------------


def sgd_reference(p0, grads, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
    p, buf, history = p0.copy(), None, []
    for g in grads:
        if weight_decay != 0:
            g = g + weight_decay * p
        if momentum != 0:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
        history.append(p)
    return history


def adam_reference(p0, grads, lr, betas, eps, weight_decay, decoupled):
    b1, b2 = betas
    p, m, v, history = p0.copy(), np.zeros_like(p0), np.zeros_like(p0), []
    for t, g in enumerate(grads, start=1):
        if weight_decay != 0:
            if decoupled:
                p = p * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        history.append(p)
    return history


def check_against(history, references, rtol=1e-12):
    for step, values in enumerate(history):
        for k, value in enumerate(values):
            np.testing.assert_allclose(value, references[k][step], rtol=rtol, atol=1e-14,
                                       err_msg=f"step {step + 1}, parameter {k}")


# --------------------------------------------------------------------------------------------------------------
# SGD
# --------------------------------------------------------------------------------------------------------------

SGD_CASES = [
    dict(lr=0.1),
    dict(lr=0.1, weight_decay=0.05),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3),
    dict(lr=0.05, momentum=0.8, nesterov=True),
    dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01),
    dict(lr=0.05, momentum=0.5, dampening=0.2, weight_decay=0.1),
]


@pytest.mark.parametrize("kwargs", SGD_CASES, ids=[",".join(f"{k}={v}" for k, v in c.items()) for c in SGD_CASES])
def test_sgd_matches_hand_computation(kwargs):
    params = make_params()
    p0 = [p.data.copy() for p in params]
    grads = grad_sequence(params)
    history = run(optim.SGD(params, **kwargs), params, grads)
    references = [sgd_reference(p0[k], [g[k] for g in grads], **kwargs) for k in range(len(params))]
    check_against(history, references)


def test_sgd_first_momentum_step_uses_the_gradient_itself():
    """PyTorch starts the buffer at the gradient (not (1 - dampening)·gradient)."""
    p = Tensor([1.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.5)
    p.grad = Tensor([2.0])
    opt.step()
    np.testing.assert_allclose(p.data, [1.0 - 0.1 * 2.0])
    opt.step()  # buffer: 0.9·2 + 0.5·2 = 2.8
    np.testing.assert_allclose(p.data, [0.8 - 0.1 * 2.8])


def test_sgd_does_not_modify_the_gradient():
    params = make_params()
    grads = grad_sequence(params, steps=1)
    for p, g in zip(params, grads[0]):
        p.grad = Tensor(g.copy())
    optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1).step()
    for p, g in zip(params, grads[0]):
        np.testing.assert_array_equal(p.grad.data, g)


def test_sgd_with_real_backward():
    tl.manual_seed(0)
    model = nn.Linear(3, 1, dtype=tl.float64)
    x, y = tl.randn(8, 3, dtype=tl.float64), tl.randn(8, 1, dtype=tl.float64)
    w0 = model.weight.data.copy()
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss = nn.MSELoss()(model(x), y)
    loss.backward()
    g = model.weight.grad.data.copy()
    opt.step()
    np.testing.assert_allclose(model.weight.data, w0 - 0.1 * g, rtol=1e-14)
    losses = [loss.item()]
    for _ in range(50):
        opt.zero_grad()
        loss = nn.MSELoss()(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


# --------------------------------------------------------------------------------------------------------------
# Adam and AdamW
# --------------------------------------------------------------------------------------------------------------

ADAM_CASES = [
    dict(lr=0.01),
    dict(lr=0.01, betas=(0.8, 0.9), eps=1e-6),
    dict(lr=0.01, weight_decay=0.1),
]


@pytest.mark.parametrize("decoupled", [False, True], ids=["Adam", "AdamW"])
@pytest.mark.parametrize("kwargs", ADAM_CASES, ids=["default", "betas-eps", "weight-decay"])
def test_adam_and_adamw_match_hand_computation(kwargs, decoupled):
    params = make_params()
    p0 = [p.data.copy() for p in params]
    grads = grad_sequence(params)
    cls = optim.AdamW if decoupled else optim.Adam
    full = dict(betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2 if decoupled else 0.0) | kwargs
    history = run(cls(params, **kwargs), params, grads)
    references = [adam_reference(p0[k], [g[k] for g in grads], decoupled=decoupled, **full)
                  for k in range(len(params))]
    check_against(history, references, rtol=1e-11)


def test_adam_bias_correction_makes_the_first_step_lr_sized():
    """Without bias correction the first step would be lr·(1-β₁)/√(1-β₂) ≈ 3.2·lr; with it, ≈ lr·sign(g)."""
    p = Tensor(np.zeros(4), requires_grad=True)
    p.grad = Tensor([1e-3, -2.0, 50.0, -1e3])
    optim.Adam([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [-0.1, 0.1, -0.1, 0.1], rtol=1e-4)  # ε: 1e-3/(1e-3 + 1e-8)


def test_adamw_decay_is_decoupled_from_the_gradient():
    """With a zero gradient AdamW only shrinks p by (1 - lr·λ); Adam's L2 term instead goes through the
    normalisation and moves p by about lr·sign(p)."""
    for cls in (optim.AdamW, optim.Adam):
        p = Tensor(np.array([2.0, -4.0]), requires_grad=True)
        p.grad = Tensor(np.zeros(2))
        cls([p], lr=0.1, weight_decay=0.5).step()
        if cls is optim.AdamW:
            np.testing.assert_allclose(p.data, [2.0 * 0.95, -4.0 * 0.95], rtol=1e-15)
        else:
            np.testing.assert_allclose(p.data, [1.9, -3.9], rtol=1e-6)
    assert optim.AdamW([Tensor([1.0], requires_grad=True)]).weight_decay == 1e-2
    assert optim.Adam([Tensor([1.0], requires_grad=True)]).weight_decay == 0.0


def test_adam_step_count_is_per_parameter():
    a, b = Tensor([1.0], requires_grad=True), Tensor([1.0], requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = Tensor([1.0])
    opt.step()  # b has no gradient: skipped, its step count stays 0
    b.grad = Tensor([1.0])
    opt.step()
    assert opt.steps == [2, 1]
    np.testing.assert_allclose(b.data, [0.9], rtol=1e-6)  # a first step for b: bias-corrected to lr


# --------------------------------------------------------------------------------------------------------------
# Common behaviour
# --------------------------------------------------------------------------------------------------------------

ALL_OPTIMIZERS = [
    lambda ps: optim.SGD(ps, lr=0.1),
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01),
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda ps: optim.SGD(ps, lr=np.float64(0.1), momentum=np.float64(0.9)),
    lambda ps: optim.Adam(ps, lr=0.01, weight_decay=0.1),
    lambda ps: optim.Adam(ps, lr=np.float64(0.01), betas=(np.float64(0.9), 0.99)),
    lambda ps: optim.AdamW(ps, lr=0.01),
]
IDS = ["sgd", "sgd-momentum", "sgd-nesterov", "sgd-numpy-floats", "adam-l2", "adam-numpy-floats", "adamw"]


@pytest.mark.parametrize("make", ALL_OPTIMIZERS, ids=IDS)
def test_float32_stays_float32_and_updates_in_place(make):
    params = make_params(np.float32)
    arrays = [p.data for p in params]
    opt = make(params)
    for grads in grad_sequence(params, steps=3):
        for p, g in zip(params, grads):
            p.grad = Tensor(g)
        opt.step()
    for p, array in zip(params, arrays):
        assert p.dtype == np.float32 and p.data is array  # in place: the same array, still float32
        assert p.is_leaf and p.grad_fn is None
    states = [getattr(opt, name) for name in ("momentum_buffers", "exp_avgs", "exp_avg_sqs") if hasattr(opt, name)]
    assert all(s is None or s.dtype == np.float32 for state in states for s in state)


@pytest.mark.parametrize("make", ALL_OPTIMIZERS, ids=IDS)
def test_params_without_grad_are_skipped(make):
    params = make_params()
    before = [p.data.copy() for p in params]
    opt = make(params)
    params[0].grad = Tensor(np.ones(params[0].shape))
    opt.step()
    assert not np.array_equal(params[0].data, before[0])
    np.testing.assert_array_equal(params[1].data, before[1])
    np.testing.assert_array_equal(params[2].data, before[2])


@pytest.mark.parametrize("make", ALL_OPTIMIZERS, ids=IDS)
def test_zero_grad(make):
    params = make_params()
    opt = make(params)
    for p in params:
        p.grad = Tensor(np.ones(p.shape))
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.data.any() for p in params)
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_zero_grad_clears_in_place_and_module_and_optimizer_agree():
    """One place clears gradients (engine.zero_grad): zeros go into the existing array when it is writeable."""
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    model(Tensor(np.ones((4, 3), np.float32))).sum().backward()
    arrays = [p.grad.data for p in model.parameters()]
    opt.zero_grad(set_to_none=False)
    assert all(p.grad.data is a and not a.any() for p, a in zip(model.parameters(), arrays))
    recorded = Tensor(np.ones((2, 3), np.float32), requires_grad=True) * 2.0  # a gradient with a graph of its own
    model.weight.grad = recorded
    model.zero_grad(set_to_none=False)
    assert model.weight.grad is not recorded and model.weight.grad.grad_fn is None
    assert not model.weight.grad.data.any() and recorded.data.all()
    model.zero_grad()
    assert model.weight.grad is None and model.bias.grad is None


def test_optim_does_not_import_nn():
    """Layers depend downwards only: optimizers work on tensors and know nothing of modules."""
    tree = ast.parse(Path(optim.__file__).read_text())
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert imported and not [name for name in imported if "nn" in name.split(".")]


def test_learning_rate_can_change_between_steps():
    p = Tensor([1.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    p.grad = Tensor([1.0])
    opt.step()
    opt.lr = 0.5
    opt.step()
    np.testing.assert_allclose(p.data, [1.0 - 0.1 - 0.5])


def test_closure_is_evaluated_with_gradients():
    p = Tensor([3.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with tl.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 9.0
    np.testing.assert_allclose(p.data, [3.0 - 0.25 * 6.0])


def test_accepts_generators_and_repr():
    model = nn.Linear(2, 2)
    opt = optim.Adam(model.parameters())
    assert len(opt.params) == 2
    assert repr(opt) == "Adam(2 parameters, lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0)"
    assert "nesterov=False" in repr(optim.SGD(model.parameters(), lr=0.1))


def test_validation_errors():
    p = [Tensor([1.0], requires_grad=True)]
    with pytest.raises(ValueError, match="invalid learning rate -0.1"):
        optim.SGD(p, lr=-0.1)
    with pytest.raises(ValueError, match="invalid learning rate nan"):
        optim.Adam(p, lr=math.nan)
    with pytest.raises(ValueError, match="learning rate must be a number"):
        optim.SGD(p, lr="0.1")
    with pytest.raises(ValueError, match="invalid momentum"):
        optim.SGD(p, lr=0.1, momentum=-0.5)
    with pytest.raises(ValueError, match="invalid weight_decay"):
        optim.SGD(p, lr=0.1, weight_decay=-1)
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum > 0 and zero dampening"):
        optim.SGD(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Nesterov momentum requires"):
        optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)
    with pytest.raises(ValueError, match="invalid beta1 1.0"):
        optim.Adam(p, betas=(1.0, 0.999))
    with pytest.raises(ValueError, match="invalid beta2 -0.1"):
        optim.AdamW(p, betas=(0.9, -0.1))
    with pytest.raises(ValueError, match="betas must be a pair"):
        optim.Adam(p, betas=0.9)
    with pytest.raises(ValueError, match="invalid eps"):
        optim.Adam(p, eps=-1e-8)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.SGD(p[0], lr=0.1)
    with pytest.raises(TypeError, match="parameter 0 is a ndarray"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(TypeError, match="dtype int64"):
        optim.SGD([Tensor([1, 2])], lr=0.1)
    with pytest.raises(ValueError, match="not a leaf"):
        optim.SGD([p[0] * 2], lr=0.1)
    with pytest.raises(ValueError, match="appears more than once"):
        optim.SGD([p[0], p[0]], lr=0.1)
    with pytest.raises(TypeError, match="parameter groups"):
        optim.SGD([{"params": p}], lr=0.1)
