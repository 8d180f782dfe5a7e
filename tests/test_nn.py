"""nn: Module bookkeeping, layers, initialisation, and every loss checked against PyTorch's formulas in numpy.
The losses' gradients, first and second order, are checked with every other operation in test_ops.py."""

from __future__ import annotations

import math
import re
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import Tensor, nn
from tinygrad_lite.nn import functional as F
from tinygrad_lite.nn import init


def t64(a, requires_grad=True):
    return Tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(4, 5), nn.Sigmoid(), nn.Linear(5, 3, bias=False))
        self.scale = nn.Parameter(np.ones(3))
        self.head = nn.Linear(3, 2)
        self.note = "not registered"

    def forward(self, x):
        return self.head(self.layers(x) * self.scale)


# --------------------------------------------------------------------------------------------------------------
# Module bookkeeping
# --------------------------------------------------------------------------------------------------------------


def test_named_parameters_are_dotted_and_ordered():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "layers.0.weight", "layers.0.bias", "layers.2.weight", "head.weight", "head.bias"]
    assert [p for p in net.parameters()] == [p for _, p in net.named_parameters()]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["scale"]


def test_children_and_modules():
    net = Net()
    assert list(net.children()) == [net.layers, net.head]
    assert [type(m).__name__ for m in net.modules()] == ["Net", "Sequential", "Linear", "Sigmoid", "Linear", "Linear"]
    assert [n for n, _ in net.named_modules()] == ["", "layers", "layers.0", "layers.1", "layers.2", "head"]


def test_registration_rules():
    net = Net()
    assert "note" not in dict(net.named_parameters()) and net.note == "not registered"
    with pytest.raises(TypeError, match="as parameter 'scale'"):
        net.scale = Tensor([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="as child module 'head'"):
        net.head = 3
    net.head = None  # a module slot can be emptied
    assert [n for n, _ in net.named_parameters()][-1] == "layers.2.weight"
    net.extra = nn.Linear(2, 2)
    assert list(dict(net.named_children())) == ["layers", "extra"]
    del net.extra
    assert "extra" not in dict(net.named_children())
    # reassigning a registered parameter keeps its place
    new = nn.Parameter(np.zeros(3))
    net.scale = new
    assert net.scale is new and next(net.parameters()) is new


def test_setattr_before_init_is_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter([1.0])

    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        Broken()


def test_shared_parameter_listed_once_but_in_state_dict_under_each_name():
    a = nn.Linear(2, 2)
    seq = nn.Sequential(a, a)
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_forward_missing_and_call():
    with pytest.raises(NotImplementedError, match="Module does not define forward"):
        nn.Module()(1)
    net = Net()
    assert net(tl.randn(7, 4)).shape == (7, 2)


def test_calling_a_module_passes_any_arguments_to_forward_and_honours_an_instance_forward():
    class Affine(nn.Module):
        def forward(self, x, scale=1.0, *, shift=0.0):
            return x * scale + shift

    m, x = Affine(), Tensor([1.0, 2.0])
    assert m(x, 2.0, shift=1.0).data.tolist() == [3.0, 5.0]
    with pytest.raises(TypeError):
        m()  # forward's own signature is what a call checks
    m.forward = lambda x: x * 10.0  # an instance's own forward wins, as in PyTorch, inside Sequential too
    assert m(x).data.tolist() == [10.0, 20.0]
    assert nn.Sequential(m, nn.Identity())(x).data.tolist() == [10.0, 20.0]


def test_train_eval_propagate():
    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(0.5), nn.ReLU()))
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.train(False)
    assert not net[1][0].training
    with pytest.raises(ValueError, match="mode must be a bool"):
        net.train("yes")


def test_zero_grad():
    net = Net()
    net(tl.randn(3, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.data.any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_requires_grad_freezes():
    net = Net()
    net.layers.requires_grad_(False)
    net(tl.randn(3, 4)).sum().backward()
    assert net.layers[0].weight.grad is None and net.head.weight.grad is not None


def test_apply_visits_every_module():
    seen = []
    Net().apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "Sigmoid", "Linear", "Sequential", "Linear", "Net"]


# --------------------------------------------------------------------------------------------------------------
# state_dict / load_state_dict
# --------------------------------------------------------------------------------------------------------------


def test_state_dict_is_a_copy_and_roundtrips():
    tl.manual_seed(0)
    a, b = Net(), Net()
    state = a.state_dict()
    assert isinstance(state, OrderedDict) and list(state) == [n for n, _ in a.named_parameters()]
    assert all(isinstance(v, np.ndarray) for v in state.values())
    a.head.weight.data += 1  # later changes don't leak into the copy
    assert not np.array_equal(state["head.weight"], a.head.weight.data)
    weight_array = b.head.weight.data
    result = b.load_state_dict(state)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert b.head.weight.data is weight_array  # copied in place
    for name, value in b.state_dict().items():
        np.testing.assert_array_equal(value, state[name])
    x = tl.randn(5, 4)
    state["head.weight"] = a.head.weight.data
    b.load_state_dict(state)
    np.testing.assert_array_equal(a(x).data, b(x).data)


def test_load_state_dict_keeps_dtype_and_accepts_tensors():
    lin = nn.Linear(2, 3)
    assert lin.weight.dtype == np.float32
    lin.load_state_dict({"weight": Tensor(np.full((3, 2), 0.1)), "bias": np.arange(3)})
    assert lin.weight.dtype == np.float32 and lin.bias.dtype == np.float32
    np.testing.assert_array_equal(lin.weight.data, np.float32(0.1))
    np.testing.assert_array_equal(lin.bias.data, [0, 1, 2])


def test_strict_load_lists_every_problem_and_changes_nothing():
    net = Net()
    before = net.state_dict()
    state = net.state_dict()
    del state["head.bias"], state["scale"]
    state["head.wieght"] = np.zeros((2, 3))
    state["layers.0.weight"] = np.zeros((4, 5))
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(state)
    msg = str(info.value)
    assert "missing keys: scale, head.bias" in msg
    assert "unexpected keys: head.wieght" in msg
    assert "layers.0.weight: shape (4, 5) in the state dict, (5, 4) in the model" in msg
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_non_strict_load_reports_keys_but_shapes_still_error():
    net = Net()
    state = {"head.bias": np.ones(2), "other": np.ones(1)}
    result = net.load_state_dict(state, strict=False)
    assert result.unexpected_keys == ["other"]
    assert result.missing_keys == ["scale", "layers.0.weight", "layers.0.bias", "layers.2.weight", "head.weight"]
    np.testing.assert_array_equal(net.head.bias.data, 1)
    with pytest.raises(RuntimeError, match=re.escape("head.bias: shape (3,)")):
        net.load_state_dict({"head.bias": np.ones(3)}, strict=False)
    with pytest.raises(RuntimeError, match="not numeric"):
        net.load_state_dict({"head.bias": np.array(["a", "b"])}, strict=False)
    with pytest.raises(TypeError, match="mapping"):
        net.load_state_dict([1, 2])


# --------------------------------------------------------------------------------------------------------------
# repr
# --------------------------------------------------------------------------------------------------------------


def test_repr_of_module_tree():
    expected = (
        "Net(\n"
        "  (layers): Sequential(\n"
        "    (0): Linear(in_features=4, out_features=5, bias=True)\n"
        "    (1): Sigmoid()\n"
        "    (2): Linear(in_features=5, out_features=3, bias=False)\n"
        "  )\n"
        "  (head): Linear(in_features=3, out_features=2, bias=True)\n"
        ")"
    )
    assert repr(Net()) == expected
    assert repr(nn.Dropout(0.25)) == "Dropout(p=0.25)"
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"
    assert repr(nn.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    assert repr(nn.Softmax(axis=0)) == "Softmax(axis=0)"
    assert repr(nn.Parameter([1.0])).startswith("Parameter containing:\nTensor([1.")


def test_parameter():
    p = nn.Parameter([1.0, 2.0])
    assert p.requires_grad and p.is_leaf and p.dtype == tl.get_default_dtype()
    assert not nn.Parameter([1.0], requires_grad=False).requires_grad
    with pytest.raises(TypeError, match="floating-point"):
        nn.Parameter([1, 2])
    y = p * 2
    assert type(y) is Tensor


# --------------------------------------------------------------------------------------------------------------
# Sequential
# --------------------------------------------------------------------------------------------------------------


def test_sequential_container():
    a, b, c = nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and list(seq) == [a, b, c]
    assert seq[0] is a and seq[-1] is c
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and list(sub) == [b, c]
    assert [n for n, _ in sub.named_parameters()] == ["2.weight", "2.bias"]
    with pytest.raises(IndexError, match="out of range"):
        seq[3]
    with pytest.raises(TypeError, match="not an nn.Module"):
        nn.Sequential(a, "relu")
    x = tl.randn(2, 3)
    np.testing.assert_allclose(seq(x).data, c(b(a(x))).data)
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(3, 2)), ("act", nn.Tanh())]))
    assert [n for n, _ in named.named_parameters()] == ["fc.weight", "fc.bias"]
    named.append(nn.Identity())
    assert len(named) == 3 and isinstance(named[2], nn.Identity)
    assert nn.Sequential()(x) is x


# --------------------------------------------------------------------------------------------------------------
# Linear and init
# --------------------------------------------------------------------------------------------------------------


def test_linear_shapes_and_formula():
    lin = nn.Linear(4, 3, dtype=tl.float64)
    assert lin.weight.shape == (3, 4) and lin.bias.shape == (3,)
    x = np.random.default_rng(0).standard_normal((5, 4))
    np.testing.assert_allclose(lin(Tensor(x)).data, x @ lin.weight.data.T + lin.bias.data, rtol=1e-12)
    assert lin(Tensor(x[0])).shape == (3,)
    assert lin(Tensor(np.ones((2, 5, 4)))).shape == (2, 5, 3)
    no_bias = nn.Linear(4, 3, bias=False)
    assert no_bias.bias is None and [n for n, _ in no_bias.named_parameters()] == ["weight"]
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match="non-negative int"):
            nn.Linear(bad, 3)


def test_linear_gradients():
    lin = nn.Linear(3, 2, dtype=tl.float64)
    x = t64(np.random.default_rng(1).standard_normal((4, 3)))
    assert tl.gradcheck(lambda x, w, b: F.linear(x, w, b), (x, lin.weight, lin.bias))


def test_linear_dtype_follows_default():
    assert nn.Linear(2, 2).weight.dtype == np.float32
    tl.set_default_dtype(tl.float64)
    try:
        lin = nn.Linear(2, 2)
        assert lin.weight.dtype == np.float64 and lin.bias.dtype == np.float64
    finally:
        tl.set_default_dtype(tl.float32)
    assert nn.Linear(2, 2, dtype=np.float64).weight.dtype == np.float64
    with pytest.raises(TypeError, match="floating-point"):
        nn.Linear(2, 2, dtype=np.int64)


def test_linear_init_bounds_and_statistics():
    tl.manual_seed(0)
    fan_in = 50
    lin = nn.Linear(fan_in, 2000)
    bound = 1 / math.sqrt(fan_in)
    w, b = lin.weight.data.astype(np.float64), lin.bias.data.astype(np.float64)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.99 * bound  # the whole interval is used
    # U(-b, b): mean 0, variance b²/3 (100,000 draws: 4-sigma tolerances)
    assert abs(w.mean()) < 4 * bound / math.sqrt(3 * w.size)
    assert abs(w.var() / (bound**2 / 3) - 1) < 0.02
    assert abs(b.var() / (bound**2 / 3) - 1) < 0.15
    tl.manual_seed(0)
    np.testing.assert_array_equal(nn.Linear(fan_in, 2000).weight.data, lin.weight.data)  # seeded: reproducible


def test_init_functions():
    tl.manual_seed(1)
    t = Tensor(np.zeros((200, 300), dtype=np.float32))
    assert init.uniform_(t, -2, 3) is t and t.dtype == np.float32
    assert t.data.min() >= -2 and t.data.max() <= 3 and abs(t.data.mean() - 0.5) < 0.02
    init.normal_(t, 1.0, 2.0)
    assert abs(t.data.mean() - 1) < 0.03 and abs(t.data.std() - 2) < 0.03
    np.testing.assert_array_equal(init.zeros_(t).data, 0)
    np.testing.assert_array_equal(init.ones_(t).data, 1)
    np.testing.assert_array_equal(init.constant_(t, 0.5).data, 0.5)
    init.xavier_uniform_(t, gain=2.0)
    bound = 2.0 * math.sqrt(6 / (300 + 200))
    assert np.abs(t.data).max() <= bound and np.abs(t.data).max() > 0.99 * bound
    init.kaiming_uniform_(t)  # a=0, leaky_relu: gain √(2/(1+0)) → bound √2·√(3/fan_in) = √(6/300)
    bound = math.sqrt(6 / 300)
    assert np.abs(t.data).max() <= bound and np.abs(t.data).max() > 0.99 * bound
    init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu")
    assert np.abs(t.data).max() <= math.sqrt(6 / 200)
    init.xavier_normal_(t)
    assert abs(t.data.std() - math.sqrt(2 / 500)) < 0.002
    init.kaiming_normal_(t, nonlinearity="relu")
    assert abs(t.data.std() - math.sqrt(2 / 300)) < 0.002
    assert not t.requires_grad and t.grad_fn is None


def test_init_errors_and_gains():
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("linear") == init.calculate_gain("identity") == 1
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    for unknown in ("swish", "selu", "conv2d"):  # no such layer here: a clear error, not a silent gain
        with pytest.raises(ValueError, match=f"unsupported nonlinearity '{unknown}'; expected 'linear'"):
            init.calculate_gain(unknown)
    with pytest.raises(ValueError, match="negative_slope"):
        init.calculate_gain("leaky_relu", "0.1")
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.xavier_uniform_(Tensor(np.zeros(3)))
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_uniform_(Tensor(np.zeros((2, 2))), mode="fan")
    with pytest.raises(ValueError, match="a <= b"):
        init.uniform_(Tensor(np.zeros(2)), 1, 0)
    with pytest.raises(ValueError, match="std"):
        init.normal_(Tensor(np.zeros(2)), 0, -1)
    with pytest.raises(TypeError, match="expected a Tensor"):
        init.zeros_(np.zeros(2))
    empty = nn.Linear(0, 3)  # PyTorch allows a zero-feature layer
    assert empty.weight.shape == (3, 0) and not empty.bias.data.any()


# --------------------------------------------------------------------------------------------------------------
# Activations, Identity, Flatten, Dropout
# --------------------------------------------------------------------------------------------------------------


def test_activations():
    x = np.linspace(-3, 3, 12).reshape(3, 4)
    xt = Tensor(x)
    np.testing.assert_allclose(nn.Sigmoid()(xt).data, 1 / (1 + np.exp(-x)), rtol=1e-12)
    np.testing.assert_allclose(nn.ReLU()(xt).data, np.maximum(x, 0))
    np.testing.assert_allclose(nn.Tanh()(xt).data, np.tanh(x), rtol=1e-12)
    np.testing.assert_allclose(nn.LeakyReLU(0.2)(xt).data, np.where(x > 0, x, 0.2 * x))
    np.testing.assert_allclose(nn.LeakyReLU()(xt).data, np.where(x > 0, x, 0.01 * x))
    e = np.exp(x)
    np.testing.assert_allclose(nn.Softmax()(xt).data, e / e.sum(1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(nn.Softmax(axis=0)(xt).data, e / e.sum(0, keepdims=True), rtol=1e-12)
    assert nn.Identity(3, foo=4)(xt) is xt
    np.testing.assert_allclose(F.relu(xt).data, np.maximum(x, 0))
    np.testing.assert_allclose(F.log_softmax(xt).data, x - np.log(e.sum(1, keepdims=True)), rtol=1e-12)


def test_flatten():
    x = tl.zeros(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0)(x).shape == (120,)
    assert nn.Flatten(1, 2)(x).shape == (2, 12, 5)
    assert nn.Flatten(-2)(x).shape == (2, 3, 20)


def test_dropout_validation():
    for p in (-0.1, 1.5, "0.5", None, True):
        with pytest.raises(ValueError, match="between 0 and 1"):
            nn.Dropout(p)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(tl.ones(2), 2.0)


def test_dropout_eval_is_identity_and_edge_probabilities():
    x = tl.randn(10, 10)
    drop = nn.Dropout(0.3).eval()
    assert drop(x) is x
    assert nn.Dropout(0.0)(x) is x
    y = nn.Dropout(1.0)(x)
    assert y.shape == x.shape and not y.data.any()


def test_dropout_statistics_and_gradient():
    tl.manual_seed(0)
    p = 0.3
    x = Tensor(np.full((400, 250), 2.0, dtype=np.float32), requires_grad=True)
    y = nn.Dropout(p)(x)
    assert y.dtype == np.float32
    dropped = y.data == 0
    n = dropped.size
    assert abs(dropped.mean() - p) < 4 * math.sqrt(p * (1 - p) / n)
    np.testing.assert_allclose(y.data[~dropped], 2.0 / (1 - p), rtol=1e-6)  # inverted: the kept are scaled
    assert abs(y.data.mean() - 2.0) < 0.02  # expectation preserved
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, np.where(dropped, 0, 1 / (1 - p)), rtol=1e-6)
    tl.manual_seed(0)
    np.testing.assert_array_equal(nn.Dropout(p)(x).data, y.data)  # masks follow tl.manual_seed


# --------------------------------------------------------------------------------------------------------------
# Losses: numpy references (PyTorch's definitions)
# --------------------------------------------------------------------------------------------------------------


def np_reduce(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](loss)


def np_log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def np_mse(x, y):
    return (x - y) ** 2


def np_l1(x, y):
    return np.abs(x - y)


def np_bce(x, y):
    return -(y * np.maximum(np.log(x), -100) + (1 - y) * np.maximum(np.log(1 - x), -100))


def np_bce_logits(x, y):
    sig = 1 / (1 + np.exp(-x))
    return -(y * np.log(sig) + (1 - y) * np.log(1 - sig))


REDUCTIONS = ["mean", "sum", "none"]
rng = np.random.default_rng(1234)
X = rng.standard_normal((4, 3))
Y = rng.standard_normal((4, 3))
P = rng.uniform(0.05, 0.95, (4, 3))
Q = rng.uniform(0, 1, (4, 3))
L1_Y = X + np.where(rng.random((4, 3)) < 0.5, -1, 1) * rng.uniform(0.1, 1, (4, 3))  # away from the kink

ELEMENTWISE = [
    ("mse", F.mse_loss, nn.MSELoss, np_mse, X, Y),
    ("l1", F.l1_loss, nn.L1Loss, np_l1, X, L1_Y),
    ("bce", F.binary_cross_entropy, nn.BCELoss, np_bce, P, Q),
    ("bce_logits", F.binary_cross_entropy_with_logits, nn.BCEWithLogitsLoss, np_bce_logits, X, Q),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, fn, module, ref, x, y", ELEMENTWISE, ids=[e[0] for e in ELEMENTWISE])
def test_elementwise_loss_values(name, fn, module, ref, x, y, reduction):
    expected = np_reduce(ref(x, y), reduction)
    out = fn(t64(x), t64(y), reduction=reduction)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(module(reduction=reduction)(t64(x), t64(y)).data, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(fn(t64(x), y, reduction=reduction).data, expected, rtol=1e-12, atol=1e-15)


def test_bce_logits_gradient_formula():
    x, y = t64(X), t64(Q)
    F.binary_cross_entropy_with_logits(x, y, reduction="sum").backward()
    np.testing.assert_allclose(x.grad.data, 1 / (1 + np.exp(-X)) - Q, rtol=1e-12)
    np.testing.assert_allclose(y.grad.data, -X, rtol=1e-12)


# ---- cross-entropy --------------------------------------------------------------------------------------------

LOGITS = rng.standard_normal((5, 4))
LABELS = np.array([0, 3, 1, 1, 2])
PROBS = rng.dirichlet(np.ones(4), size=5)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_with_class_indices(reduction):
    expected = np_reduce(-np_log_softmax(LOGITS, 1)[np.arange(5), LABELS], reduction)
    for target in (LABELS, Tensor(LABELS), LABELS.tolist(), LABELS.astype(np.int32)):
        np.testing.assert_allclose(F.cross_entropy(t64(LOGITS), target, reduction).data, expected, rtol=1e-12)
    np.testing.assert_allclose(nn.CrossEntropyLoss(reduction)(t64(LOGITS), LABELS).data, expected, rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_with_probabilities(reduction):
    expected = np_reduce(-(PROBS * np_log_softmax(LOGITS, 1)).sum(1), reduction)
    np.testing.assert_allclose(F.cross_entropy(t64(LOGITS), t64(PROBS), reduction).data, expected, rtol=1e-12)
    # one-hot probabilities give the class-index loss
    onehot = np.eye(4)[LABELS]
    np.testing.assert_allclose(F.cross_entropy(t64(LOGITS), onehot, reduction).data,
                               F.cross_entropy(t64(LOGITS), LABELS, reduction).data, rtol=1e-12)


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    x = t64(LOGITS)
    F.cross_entropy(x, LABELS).backward()
    e = np.exp(LOGITS)
    np.testing.assert_allclose(x.grad.data, (e / e.sum(1, keepdims=True) - np.eye(4)[LABELS]) / 5, rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_unbatched_and_spatial(reduction):
    # (C,) with a 0-d label
    expected = np_reduce(-np_log_softmax(LOGITS[0], 0)[2], reduction)
    np.testing.assert_allclose(F.cross_entropy(t64(LOGITS[0]), np.array(2), reduction).data, expected, rtol=1e-12)
    # (N, C, d): classes on axis 1
    x = rng.standard_normal((2, 4, 3))
    y = np.array([[0, 3, 1], [2, 2, 0]])
    logp = np_log_softmax(x, 1)
    picked = np.take_along_axis(logp, y[:, None, :], axis=1)[:, 0, :]
    np.testing.assert_allclose(F.cross_entropy(t64(x), y, reduction).data, np_reduce(-picked, reduction), rtol=1e-12)
    probs = rng.dirichlet(np.ones(4), size=(2, 3)).transpose(0, 2, 1)
    expected = np_reduce(-(probs * logp).sum(1), reduction)
    np.testing.assert_allclose(F.cross_entropy(t64(x), probs, reduction).data, expected, rtol=1e-12)


def test_cross_entropy_float32_stays_float32():
    out = F.cross_entropy(Tensor(LOGITS.astype(np.float32)), LABELS)
    assert out.dtype == np.float32
    assert F.mse_loss(Tensor(X.astype(np.float32)), np.zeros((4, 3), dtype=np.int64)).dtype == np.float32
    assert F.mse_loss(Tensor(X.astype(np.float32)), X).dtype == np.float64  # float32 with float64 → float64


# ---- numerical stability --------------------------------------------------------------------------------------


def _no_warnings(fn):
    with warnings.catch_warnings(), np.errstate(divide="raise", over="raise", invalid="raise"):
        warnings.simplefilter("error")
        return fn()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_stable_for_huge_logits(dtype):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [1e4, 1e4, -1e4]], dtype=dtype)
    x = Tensor(logits, requires_grad=True)

    def run():
        loss = F.cross_entropy(x, np.array([1, 2, 0]), reduction="none")
        loss.sum().backward()
        return loss

    loss = _no_warnings(run)
    np.testing.assert_allclose(loss.data, [2e4, 0.0, math.log(2)], rtol=1e-6)
    assert np.isfinite(x.grad.data).all()
    np.testing.assert_allclose(x.grad.data, [[1, -1, 0], [0, 0, 0], [-0.5, 0.5, 0]], atol=1e-6)
    y = Tensor(np.array([[0.5, 0.5, 0.0]] * 3, dtype=dtype), requires_grad=True)
    x.grad = None
    _no_warnings(lambda: F.cross_entropy(x, y).backward())
    assert np.isfinite(x.grad.data).all() and np.isfinite(y.grad.data).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_stable_for_huge_logits(dtype):
    x = Tensor(np.array([1e4, 1e4, -1e4, -1e4, 0.0], dtype=dtype), requires_grad=True)
    y = Tensor(np.array([1.0, 0.0, 1.0, 0.0, 1.0], dtype=dtype), requires_grad=True)

    def run():
        loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
        loss.sum().backward()
        return loss

    loss = _no_warnings(run)
    np.testing.assert_allclose(loss.data, [0.0, 1e4, 1e4, 0.0, math.log(2)], rtol=1e-6)
    np.testing.assert_allclose(x.grad.data, [0.0, 1.0, -1.0, 0.0, -0.5], atol=1e-7)
    np.testing.assert_allclose(y.grad.data, -x.data)
    # moderate logits: exact for hard labels, where softplus(x) - x would cancel
    z = Tensor(np.array([30.0, -30.0]))
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(z, np.array([1.0, 0.0]), "none").data,
                               np.log1p(np.exp(-30.0)), rtol=1e-12)


def test_bce_clamps_logs_at_minus_100():
    x = t64([0.0, 1.0, 0.0, 1.0, 1e-50])
    y = t64([1.0, 0.0, 0.0, 1.0, 1.0])

    def run():
        loss = F.binary_cross_entropy(x, y, reduction="none")
        loss.sum().backward()
        return loss

    loss = _no_warnings(run)
    np.testing.assert_allclose(loss.data, [100, 100, 0, 0, 100])
    assert np.isfinite(x.grad.data).all() and np.isfinite(y.grad.data).all()
    np.testing.assert_allclose(y.grad.data, [100, -100, 100, -100, 100])  # d/dy = clog(1-x) - clog(x)


# ---- bad inputs -----------------------------------------------------------------------------------------------

LOSS_FUNCTIONS = [
    ("mse_loss", F.mse_loss),
    ("l1_loss", F.l1_loss),
    ("binary_cross_entropy", F.binary_cross_entropy),
    ("binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits),
]


@pytest.mark.parametrize("name, fn", LOSS_FUNCTIONS)
def test_losses_never_broadcast_the_target(name, fn):
    x = Tensor(np.full((4, 1), 0.5))
    with pytest.raises(ValueError, match=re.escape(f"{name}: input shape (4, 1) and target shape (4,) differ")):
        fn(x, np.full(4, 0.5))
    with pytest.raises(ValueError, match=re.escape("input shape (4, 1) and target shape (1, 4)")):
        fn(x, np.full((1, 4), 0.5))
    with pytest.raises(ValueError, match=re.escape("input shape (4, 1) and target shape ()")):
        fn(x, 0.5)


@pytest.mark.parametrize("name, fn", LOSS_FUNCTIONS + [("cross_entropy", F.cross_entropy)])
def test_bad_reduction(name, fn):
    with pytest.raises(ValueError, match=f"{name}: reduction must be 'mean', 'sum' or 'none'; got 'avg'"):
        fn(t64(P), t64(Q), reduction="avg")


@pytest.mark.parametrize("module", [nn.MSELoss, nn.L1Loss, nn.CrossEntropyLoss, nn.BCELoss, nn.BCEWithLogitsLoss])
def test_loss_module_bad_reduction(module):
    with pytest.raises(ValueError, match=f"{module.__name__}: reduction must be"):
        module(reduction="elementwise_mean")


def test_loss_input_must_be_float():
    with pytest.raises(TypeError, match="mse_loss: input must be a floating-point tensor"):
        F.mse_loss(Tensor([1, 2]), Tensor([1, 2]))
    with pytest.raises(TypeError, match="cross_entropy: input must be a floating-point"):
        F.cross_entropy(Tensor([[1, 2]]), [0])


def test_bce_input_outside_unit_interval():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: input values must be probabilities in \[0, 1\]"):
        F.binary_cross_entropy(t64([0.5, 1.5]), t64([1.0, 0.0]))
    with pytest.raises(ValueError, match="binary_cross_entropy_with_logits"):
        F.binary_cross_entropy(t64([-0.1]), t64([1.0]))


def test_cross_entropy_bad_targets():
    x = t64(LOGITS)
    with pytest.raises(ValueError, match=re.escape("class indices must lie in [0, 4); got values from 0 to 4")):
        F.cross_entropy(x, np.array([0, 1, 2, 3, 4]))
    with pytest.raises(ValueError, match="got values from -1"):
        F.cross_entropy(x, np.array([0, 1, 2, 3, -1]))
    with pytest.raises(ValueError, match=re.escape("class-index target must have shape (5,) for input shape (5, 4); "
                                                   "got target shape (5, 1)")):
        F.cross_entropy(x, LABELS.reshape(5, 1))
    with pytest.raises(ValueError, match=re.escape("class-index target must have shape (5,)")):
        F.cross_entropy(x, np.eye(4, dtype=np.int64)[LABELS])  # one-hot as ints: ambiguous, rejected
    with pytest.raises(ValueError, match=re.escape("probability target must have the input's shape (5, 4); got "
                                                   "target shape (5,)")):
        F.cross_entropy(x, LABELS.astype(np.float64))
    with pytest.raises(TypeError, match="integer class indices or float probabilities"):
        F.cross_entropy(x, np.ones((5, 4), dtype=bool))
    with pytest.raises(ValueError, match="class axis"):
        F.cross_entropy(t64(1.0), np.array(0))
