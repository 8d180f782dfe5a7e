"""In-place changes, PyTorch's way: the array changes where it is and its version goes up; a leaf that requires
grad changes only inside no_grad; a graph that saved the old values refuses to run backward with the new ones."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import Tensor


def test_the_manual_sgd_update_keeps_the_weight_a_leaf_that_requires_grad() -> None:
    w = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    array = w.data
    for _ in range(3):
        loss = (w * w).sum()
        loss.backward()
        with tl.no_grad():
            w -= 0.1 * w.grad
        w.grad = None
    assert w.requires_grad and w.is_leaf and w.data is array  # the same tensor, changed in place
    np.testing.assert_allclose(w.numpy(), np.array([1.0, -2.0]) * 0.8**3)


@pytest.mark.parametrize("change", [lambda x: x.__iadd__(1.0), lambda x: x.add_(1.0), lambda x: x.zero_(),
                                    lambda x: x.__setitem__(0, 5.0), lambda x: x.clamp_(max=0.0)])
def test_a_leaf_that_requires_grad_is_not_changed_in_place_while_recording(change) -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad cannot be changed in place"):
        change(x)
    np.testing.assert_array_equal(x.numpy(), [1.0, 2.0])  # untouched


def test_backward_refuses_weights_an_optimizer_changed_after_the_graph_was_recorded() -> None:
    model = tl.nn.Linear(3, 1, dtype=np.float64)
    opt = tl.optim.SGD(model.parameters(), lr=0.1)
    loss = model(Tensor(np.ones((4, 3)))).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match=r"Linear: a tensor of shape \(1, 3\) that this operation saved for "
                                           r"backward was modified by an in-place operation after the graph "
                                           r"recorded it, directly or through a view of the same memory: it is at "
                                           r"version 1; expected version 0\."):
        loss.backward()


def test_the_error_names_the_version_the_graph_saw_and_the_version_now() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)
    with tl.no_grad():
        w.add_(1.0)  # version 1 before the graph is recorded
    y = (w * w).sum()
    for change in range(1, 13):
        with tl.no_grad():
            w.mul_(1.0)
        # exact while the engine remembers a change from before the graph (it keeps the last 8); a bound after
        expected = "1" if change < 8 else "at most " + str(1 + change - 8)
        with pytest.raises(RuntimeError, match=rf"it is at version {1 + change}; expected version {expected}\."):
            y.backward(retain_graph=True)


def test_views_and_their_base_share_one_version_as_in_pytorch() -> None:
    x = Tensor(np.arange(6.0))
    view, detached = x.reshape(2, 3), x.detach()
    assert x._version == view._version == detached._version == 0
    detached.add_(1.0)
    view.data[0, 0] = 5.0  # through .data: not tracked, as in PyTorch
    x.mul_(2.0)
    assert x._version == view._version == detached._version == 2
    assert Tensor(np.arange(3.0))._version == 0


def test_a_constant_saved_by_a_node_and_changed_in_place_is_caught_too() -> None:
    x, w = Tensor([1.0, 2.0]), Tensor([3.0, 4.0], requires_grad=True)
    y = (x * w).sum()  # Mul saved x: w's gradient is x
    x.add_(10.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_a_change_that_no_saved_array_sees_is_fine() -> None:
    x, w = Tensor([1.0, 2.0]), Tensor([3.0, 4.0], requires_grad=True)
    y = (x + w).sum()  # Add saves nothing
    x.mul_(2.0)
    y.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 1.0])


def test_augmented_assignment_on_a_recorded_tensor_records_the_operation_under_the_same_name() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)
    y = w * 3.0
    y += w  # y is now the recorded y + w
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [4.0, 4.0])
    with pytest.raises(RuntimeError, match="part of the recorded graph"):
        (w * 3.0).add_(1.0)


def test_in_place_methods_change_the_array_where_it_is_and_count_versions() -> None:
    x = Tensor(np.arange(4.0))
    view = x.data[1:]
    x.add_(1.0).mul_(2.0).sub_(1.0).div_(2.0)
    np.testing.assert_array_equal(x.numpy(), [0.5, 1.5, 2.5, 3.5])
    np.testing.assert_array_equal(view, [1.5, 2.5, 3.5])  # the same memory
    x.clamp_(min=1.0, max=3.0)
    x[0] = 9.0
    np.testing.assert_array_equal(x.numpy(), [9.0, 1.5, 2.5, 3.0])
    x.copy_(Tensor([1.0, 1.0, 1.0, 1.0]))
    x.fill_(7.0)
    x.zero_()
    np.testing.assert_array_equal(x.numpy(), [0.0, 0.0, 0.0, 0.0])
    assert x._version == 9


def test_in_place_results_must_fit_the_tensor() -> None:
    x = Tensor([1.0, 2.0])
    with pytest.raises(ValueError, match=r"\+=: a result of shape \(3, 2\) cannot be written into a tensor of shape "
                                         r"\(2,\)"):
        x += np.ones((3, 2))
    n = Tensor(np.array([1, 2]))
    with pytest.raises(TypeError, match=r"add_: a result of dtype float64 cannot be written into a tensor of dtype"):
        n.add_(0.5)


def test_an_in_place_change_inside_a_jitted_step_is_refused_by_name() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)

    @tl.jit
    def step(x):
        loss = (w * x).sum()
        loss.backward()
        with tl.no_grad():
            w.sub_(0.1 * w.grad)
        return loss

    with pytest.raises(RuntimeError, match=r"jit: sub_ \(an in-place change of a tensor\) inside a jitted function"):
        step(Tensor([1.0, 1.0]))


@pytest.mark.parametrize(
    "record, change",
    [
        (lambda x: (x.reshape(2, 2) * x.reshape(2, 2)).sum(), lambda x: x.mul_(10.0)),  # a view saved, base changed
        (lambda x: (x * x).sum(), lambda x: x.detach().mul_(10.0)),  # the tensor saved, a detached view changed
        (lambda x: (x * x).sum(), lambda x: x.reshape(2, 2).T.mul_(10.0)),  # ... a view of a view changed
    ],
)
def test_a_change_through_another_tensor_over_the_same_memory_is_caught(record, change) -> None:
    x = Tensor(np.array([1.0, 2.0, 3.0, 4.0]), requires_grad=True)
    z = record(x)
    with tl.no_grad():
        change(x)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.backward()


def test_a_value_that_requires_grad_is_not_dropped_from_the_graph_by_an_in_place_write() -> None:
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = Tensor(np.zeros(2))
    y += x  # y is now the recorded zeros + x
    (y * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])
    buf = Tensor(np.zeros(3))
    with pytest.raises(RuntimeError, match="the value requires grad"):
        buf[0] = x.sum()
    with pytest.raises(RuntimeError, match="the value requires grad"):
        Tensor(np.zeros(2)).copy_(x)


def test_clamp_takes_tensor_bounds() -> None:
    t = Tensor([-2.0, 0.5, 3.0])
    t.clamp_(min=Tensor(-1.0), max=Tensor([1.0, 1.0, 2.0]))
    np.testing.assert_array_equal(t.numpy(), [-1.0, 0.5, 2.0])
