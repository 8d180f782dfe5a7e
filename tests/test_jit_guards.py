"""tl.jit never returns a silently wrong result within what its guards cover (docs/jit.md, sections 4-5): each case
below once did, and now behaves as eager or raises."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

import tinygrad_lite as tl
from tinygrad_lite import Tensor, nn, optim
from tinygrad_lite.nn import functional as F


def _linears(n: int = 2, dtype: type = np.float64) -> list[nn.Linear]:
    """``n`` copies of the same Linear(3, 1): one per system compared."""
    models = []
    for _ in range(n):
        tl.manual_seed(0)
        models.append(nn.Linear(3, 1, dtype=dtype))
    return models


def _same_params(a: nn.Module, b: nn.Module) -> None:
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        assert np.array_equal(p.data, q.data), name
        assert (p.grad is None) == (q.grad is None), name
        if p.grad is not None:
            assert np.array_equal(p.grad.data, q.grad.data), f"{name}.grad"


X = Tensor(np.arange(6.0).reshape(2, 3))


def test_gradients_accumulate_across_calls_without_zero_grad():
    eager_model, jit_model = _linears()

    def step(model, x):
        loss = model(x).sum()
        loss.backward()
        return loss

    jitted = tl.jit(lambda x: step(jit_model, x))
    for _ in range(3):
        step(eager_model, X)
        jitted(X)
    _same_params(eager_model, jit_model)
    assert np.array_equal(jit_model.bias.grad.data, [6.0])  # 2 rows × 3 calls, not the last call's 2


def test_the_gradient_of_an_input_goes_to_that_input():
    w = Tensor(np.array([1.0, 2.0, 3.0]))
    x1, x2 = Tensor(np.ones(3), requires_grad=True), Tensor(np.full(3, 2.0), requires_grad=True)

    def step(x):
        loss = (x * w).sum()
        loss.backward()
        return loss

    jitted = tl.jit(step)
    jitted(x1)
    jitted(x2)
    assert np.array_equal(x1.grad.data, [1.0, 2.0, 3.0])
    assert np.array_equal(x2.grad.data, [1.0, 2.0, 3.0])


def test_a_parameter_replaced_after_capture_is_used():
    eager_model, jit_model = _linears()

    def step(model, x):
        model.zero_grad()
        loss = (model(x) ** 2).sum()
        loss.backward()
        return loss

    jitted = tl.jit(lambda x: step(jit_model, x))
    jitted(X), jitted(X)
    new = np.array([[0.5, -1.0, 2.0]])
    eager_model.weight = nn.Parameter(Tensor(new))
    jit_model.weight = nn.Parameter(Tensor(new))
    assert step(eager_model, X).data == jitted(X).data
    _same_params(eager_model, jit_model)


class _Doubling(nn.Module):
    """Doubles its input in training mode only: behaviour that follows the training flag."""

    def forward(self, x):
        return x * 2.0 if self.training else x


def test_the_training_flag_is_a_guard():
    eager_model, jit_model = (nn.Sequential(m, _Doubling()) for m in _linears())

    def step(model, x):
        return model(x).sum()

    jitted = tl.jit(lambda x: step(jit_model, x))
    for training in (True, False, True):
        eager_model.train(training), jit_model.train(training)
        assert step(eager_model, X).data == jitted(X).data
    assert len(jitted.captures) == 2


def test_dropout_in_training_mode_is_refused_and_in_evaluation_mode_replays():
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4, dtype=np.float64), nn.Dropout(0.5))
    jitted = tl.jit(lambda x: model(x).sum())
    with pytest.raises(RuntimeError, match=r"made inside it.*Dropout in training mode"):
        jitted(X)
    model.eval()
    assert jitted(X).data == model(X).sum().data
    assert jitted(X).data == model(X).sum().data
    model.train()
    with pytest.raises(RuntimeError, match="made inside"):
        jitted(X)


@pytest.mark.parametrize("read", ["numpy", "item", "float", "bool", "tolist", "asarray"])
def test_reading_a_value_during_capture_names_the_read(read):
    def step(x):
        s = x.sum()
        value = {"numpy": lambda: s.numpy(), "item": s.item, "float": lambda: float(s), "bool": lambda: bool(s),
                 "tolist": s.tolist, "asarray": lambda: np.asarray(s)}[read]()
        return s * 2.0 if value > 0 else s

    expected = {"numpy": "numpy()", "item": "item()", "float": "item()", "bool": "bool()", "tolist": "tolist()",
                "asarray": "np.asarray()"}[read]
    with pytest.raises(RuntimeError, match=rf"jit: {expected.replace('(', '[(]').replace(')', '[)]')} reads"):
        tl.jit(step)(X)


def test_constants_of_different_types_are_different_captures():
    def scale(x, c):
        return x * c

    jitted = tl.jit(scale)
    ints = Tensor(np.arange(3))
    for c in (2, 2.0, 2, 2.0, True):
        eager, jit_result = scale(ints, c), jitted(ints, c)
        assert jit_result.dtype == eager.dtype
        assert np.array_equal(jit_result.data, eager.data)
    assert len(jitted.captures) == 3
    assert tl.jit(scale)(Tensor([1.0]), -0.0).data.tobytes() == scale(Tensor([1.0]), -0.0).data.tobytes()


def test_set_to_none_after_a_capture_made_with_gradients_present():
    eager_model, jit_model = _linears()
    for m in (eager_model, jit_model):
        m(X).sum().backward()  # gradients exist when the capture is made

    def step(model, x):
        loss = model(x).sum()
        loss.backward()
        return loss

    jitted = tl.jit(lambda x: step(jit_model, x))
    for set_to_none in (False, True, True, False):
        step(eager_model, X), jitted(X)
        eager_model.zero_grad(set_to_none=set_to_none), jit_model.zero_grad(set_to_none=set_to_none)
        step(eager_model, X), jitted(X)
        _same_params(eager_model, jit_model)


def test_a_layer_frozen_after_capture():
    def make():
        tl.manual_seed(0)
        return nn.Sequential(nn.Linear(3, 2, dtype=np.float64), nn.Tanh(), nn.Linear(2, 1, dtype=np.float64))

    eager_model, jit_model = make(), make()
    opts = [optim.SGD(m.parameters(), lr=0.1, momentum=0.9) for m in (eager_model, jit_model)]

    def step(model, opt, x):
        opt.zero_grad()
        loss = model(x).sum()
        loss.backward()
        opt.step()
        return loss

    jitted = tl.jit(lambda x: step(jit_model, opts[1], x))
    for i in range(4):
        if i == 2:
            eager_model[0].requires_grad_(False), jit_model[0].requires_grad_(False)
        assert step(eager_model, opts[0], X).data == jitted(X).data
        _same_params(eager_model, jit_model)


def test_keyword_arguments():
    def f(x, scale=1.0):
        return x * scale

    jitted = tl.jit(f)
    for _ in range(2):
        assert np.array_equal(jitted(x=X, scale=3.0).data, f(X, 3.0).data)
        assert np.array_equal(jitted(X, scale=3.0).data, f(X, 3.0).data)
        assert np.array_equal(jitted(X).data, f(X).data)


def test_another_threads_eager_work_is_not_captured():
    w = Tensor(np.ones(3))

    def other_thread():
        for _ in range(50):
            (Tensor(np.ones(3)).exp() * 2.0).sum()

    def step(x):
        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join()  # its eager work runs while this call is being captured
        return (x * w).sum()

    jitted = tl.jit(step)
    jitted(X)
    assert "Exp" not in jitted.source
    assert np.array_equal(jitted(Tensor(np.ones((2, 3)))).data, 6.0)


def test_the_cache_is_bounded_and_warns_when_it_captures_on_most_calls():
    w = Tensor(np.ones(3))
    jitted = tl.jit(lambda x, lr: (x * w).sum() * lr)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(200):
            assert jitted(X, 0.01 * i).data == (X * w).sum().data * (0.01 * i)
    assert len(jitted.captures) == 8
    assert sum("captured again on" in str(w.message) for w in caught) == 1
    assert len(tl.jit(lambda x: x * 2.0, max_captures=2).__call__(X).shape) == 2
    with pytest.raises(ValueError, match="max_captures"):
        tl.jit(lambda x: x, max_captures=0)


def test_the_learning_rate_set_on_the_optimizer_needs_no_new_capture():
    eager_model, jit_model = _linears()
    opts = [optim.Adam(m.parameters(), lr=0.1) for m in (eager_model, jit_model)]

    def step(model, opt, x):
        opt.zero_grad()
        loss = (model(x) ** 2).sum()
        loss.backward()
        opt.step()
        return loss

    jitted = tl.jit(lambda x: step(jit_model, opts[1], x))
    for i in range(6):
        for opt in opts:
            opt.lr = 0.1 / (i + 1)
        assert step(eager_model, opts[0], X).data == jitted(X).data
    _same_params(eager_model, jit_model)
    assert len(jitted.captures) == 1


def test_grad_mode_is_a_guard():
    w = Tensor(np.ones(3), requires_grad=True)
    jitted = tl.jit(lambda x: (x * w).sum())
    with tl.no_grad():
        jitted(X)
    assert len(jitted.captures) == 1
    jitted(X)
    assert len(jitted.captures) == 2


def test_unsupported_inside_a_capture():
    w = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"jit: tl.grad"):
        tl.jit(lambda x: tl.grad((x * w).sum(), w)[0])(X)
    with pytest.raises(RuntimeError, match=r"create_graph"):
        tl.jit(lambda x: (x * w).sum().backward(create_graph=True) or x)(X)
    with pytest.raises(TypeError, match="Tensor inside a container"):
        tl.jit(lambda xs: xs[0])((X, X))


def test_the_same_tensor_twice_and_two_tensors_are_different_captures():
    jitted = tl.jit(lambda a, b: a * b)
    other = Tensor(np.ones((2, 3)))
    assert np.array_equal(jitted(X, X).data, (X * X).data)
    assert np.array_equal(jitted(X, other).data, X.data)
    assert len(jitted.captures) == 2


def test_a_custom_function_appears_as_one_call():
    class Cube(tl.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x**2 * g

    w = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)

    def step(x):
        loss = Cube.apply(x * w).sum()
        loss.backward()
        return loss

    jitted = tl.jit(step)
    for scale in (1.0, 2.0):
        w.grad = None
        jitted(X * scale)
        expected = (3 * (X.data * scale * w.data) ** 2 * X.data * scale).sum(axis=0)
        assert np.array_equal(w.grad.data, expected)
    assert "Cube.forward(" in jitted.source and "Cube.backward(" in jitted.source


def test_losses_and_cross_entropy_match_eager_with_the_optimizer_state():
    eager_model, jit_model = _linears()
    opts = [optim.SGD(m.parameters(), lr=0.1, momentum=0.9, nesterov=True) for m in (eager_model, jit_model)]
    y = Tensor(np.array([0, 0]))

    def step(model, opt, x):
        opt.zero_grad()
        out = model(x)
        loss = F.cross_entropy(tl.cat([out, out * 0.5], axis=1), y)
        loss.backward()
        opt.step()
        return loss

    jitted = tl.jit(lambda x: step(jit_model, opts[1], x))
    for _ in range(4):
        assert step(eager_model, opts[0], X).data == jitted(X).data
    _same_params(eager_model, jit_model)
    for a, b in zip(opts[0].momentum_buffers, opts[1].momentum_buffers):
        assert np.array_equal(a, b)


def test_calls_with_other_numbers_of_arguments_and_keywords_find_their_captures():
    def f(x, y=None, scale=1.0):
        return x * scale if y is None else (x + y) * scale

    jitted = tl.jit(f)
    calls = [((X,), {}), ((X, X), {}), ((X,), {"scale": 2.0}), ((X,), {}), ((X, X), {}), ((X,), {"scale": 2.0})]
    for args, kwargs in calls:
        assert np.array_equal(jitted(*args, **kwargs).data, f(*args, **kwargs).data)
    assert len(jitted.captures) == 3


def test_backward_twice_with_retain_graph_and_functions_that_are_called_not_inlined():
    """A 3-D input keeps Linear a call of its Function, and Exp and Pow are not written out: their saved arrays
    must survive the first of two backward passes."""
    def make():
        tl.manual_seed(0)
        m = nn.Sequential(nn.Linear(3, 4, dtype=np.float64), nn.Tanh(), nn.Linear(4, 2, dtype=np.float64))
        return m, optim.SGD(m.parameters(), lr=0.1)

    (eager_model, eager_opt), (jit_model, jit_opt) = make(), make()

    def step(model, opt, x):
        opt.zero_grad()
        out = model(x)
        loss = (out**2).mean() + out.exp().sum() * 0.01
        loss.backward(retain_graph=True)
        loss.backward()
        opt.step()
        return loss

    jitted = tl.jit(lambda x: step(jit_model, jit_opt, x))
    rs = np.random.RandomState(0)
    for _ in range(4):
        x = Tensor(rs.standard_normal((2, 5, 3)))
        assert step(eager_model, eager_opt, x).data.tobytes() == jitted(x).data.tobytes()
    _same_params(eager_model, jit_model)
    assert "Exp.backward(" in jitted.source and len(jitted.captures) == 1


def test_what_a_step_returns_or_stores_is_never_a_reused_buffer():
    """Buffers hold only values that stay inside the step: returned tensors and gradients of one call keep their
    values after the next call, as eagerly."""
    tl.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4, dtype=np.float64), nn.Sigmoid(), nn.Linear(4, 2, dtype=np.float64))
    opt = optim.SGD(model.parameters(), lr=0.1)

    @tl.jit
    def step(x, y):
        opt.zero_grad()
        out = model(x)
        h = out.reshape(-1) * 2.0
        loss = F.mse_loss(out, y) + (h * h).sum()
        loss.backward()
        opt.step()
        return out, h, loss

    rs = np.random.RandomState(0)
    kept = []
    for _ in range(4):
        results = step(Tensor(rs.standard_normal((5, 3))), Tensor(rs.standard_normal((5, 2))))
        grads = [p.grad for p in model.parameters()]
        kept.append([(t, t.data.copy()) for t in (*results, *grads)])
    for generation in kept:
        for tensor, values in generation:
            assert np.array_equal(tensor.data, values)
    assert "out=buffer_" in step.source


def test_class_indices_out_of_range_raise_on_a_replay_too():
    """cross_entropy's label check lives in the ClassMask operation, so a replay with new labels runs it."""
    import numpy as np
    import pytest

    import tinygrad_lite as tl
    from tinygrad_lite import nn, optim
    from tinygrad_lite.nn import functional as F

    model = nn.Linear(3, 4)
    opt = optim.SGD(model.parameters(), lr=0.1)

    @tl.jit
    def step(x, y):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    x = tl.Tensor(np.ones((5, 3), np.float32))
    for _ in range(3):  # capture, then replays
        step(x, tl.Tensor(np.array([0, 1, 2, 3, 0])))
    weights = model.weight.data.copy()
    with pytest.raises(ValueError, match=r"cross_entropy: class indices must lie in \[0, 4\); got values from 0 to 7"):
        step(x, tl.Tensor(np.array([0, 1, 2, 3, 7])))
    np.testing.assert_array_equal(model.weight.data, weights)  # refused before any update


def test_a_replayed_update_gives_new_versions_so_an_old_graph_refuses_backward():
    """A replay changes the weights in place as eager's optimizer does: their versions go up, so a graph recorded
    before the replay refuses to run backward with the new weights, as it does after an eager step."""
    import numpy as np
    import pytest

    import tinygrad_lite as tl
    from tinygrad_lite import nn, optim

    def jitted_step(model, opt):
        @tl.jit
        def step(x):
            loss = model(x).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        return step

    for make_optimizer in (lambda ps: optim.SGD(ps, lr=0.1), lambda ps: optim.Adam(ps, lr=0.1)):
        model = nn.Linear(3, 1, dtype=np.float64)
        step = jitted_step(model, make_optimizer(model.parameters()))
        x = tl.Tensor(np.ones((4, 3)))
        step(x)
        step(x)  # a replay
        old = model(x).sum()
        old.backward(retain_graph=True)
        step(x)  # another replay updates the weights the old graph saved
        with pytest.raises(RuntimeError, match="modified by an in-place operation"):
            old.backward()


@pytest.mark.parametrize("change", ["append", "replace"])
@pytest.mark.parametrize("momentum", [0.0, 0.9])  # the written-out plain update, and SGD's own code
@pytest.mark.parametrize("as_argument", [False, True])  # the optimizer read from the closure, or passed in
def test_a_parameter_list_of_the_optimizer_changed_after_capture(change, momentum, as_argument):
    def run(use_jit: bool) -> list[np.ndarray]:
        tl.manual_seed(0)
        a, b = nn.Linear(3, 2, dtype=np.float64), nn.Linear(3, 2, dtype=np.float64)
        opt = optim.SGD(a.parameters(), lr=0.1, momentum=momentum)

        def step(x, optimizer=None):
            loss = a(x).sum() + (b(x) * b(x)).sum()
            (optimizer or opt).zero_grad()
            loss.backward()
            (optimizer or opt).step()
            return loss

        f = tl.jit(step) if use_jit else step
        args = (X, opt) if as_argument else (X,)
        f(*args), f(*args)
        if change == "append":  # b's parameters join the update (the same optimizer object: only its list changed)
            opt.params.extend(b.parameters())
            opt.momentum_buffers.extend([None, None])
        else:  # b's weight is updated instead of a's
            opt.params[0] = b.weight
        for _ in range(3):
            f(*args)
        return [p.data.copy() for p in [*a.parameters(), *b.parameters()]]

    for eager, jitted in zip(run(False), run(True)):
        assert eager.tobytes() == jitted.tobytes()


def _eager_and_jit(build, calls: int, between=None) -> None:
    """Run the step ``build()`` makes eagerly and jitted side by side, ``between(i, state)`` before each call,
    and compare every returned loss and the final tensors bit for bit."""
    runs = []
    for use_jit in (False, True):
        step, tensors, args = build()
        f = tl.jit(step) if use_jit else step
        losses = []
        for i in range(calls):
            if between is not None:
                between(i, tensors)
            losses.append(f(*args(i)).data.copy())
        runs.append((losses, [t.data.copy() for t in tensors], [None if t.grad is None else t.grad.data.copy()
                                                                  for t in tensors]))
    (eager_losses, eager_data, eager_grads), (jit_losses, jit_data, jit_grads) = runs
    for a, b in zip(eager_losses + eager_data, jit_losses + jit_data):
        assert a.tobytes() == b.tobytes()
    for a, b in zip(eager_grads, jit_grads):
        assert (a is None) == (b is None) and (a is None or a.tobytes() == b.tobytes())


def test_the_gradient_of_a_requires_grad_argument_accumulates_across_calls():
    w = Tensor(np.array([1.0, 2.0, 3.0]))

    def build():
        x = Tensor(np.ones(3), requires_grad=True)
        return (lambda x: _backward_and_return((x * w).sum())), [x], lambda i: (x,)

    _eager_and_jit(build, calls=3)


def _backward_and_return(loss):
    loss.backward()
    return loss


def test_a_frozen_argument_held_by_sgd_whose_grad_is_set_by_hand():
    def build():
        v, p = Tensor(np.ones(3), requires_grad=True), Tensor(np.full(3, 2.0))
        opt = optim.SGD([v, p], lr=0.1)

        def step(x, p):
            loss = (v * x * p).sum()
            loss.backward()
            opt.step()
            return loss

        return step, [v, p], lambda i: (Tensor(np.arange(3.0)), p)

    def set_grad(i, tensors):
        if i == 2:
            tensors[1].grad = Tensor(np.ones(3))

    _eager_and_jit(build, calls=4, between=set_grad)


@pytest.mark.parametrize("zero", [True, False])
def test_a_parameter_passed_as_an_argument_while_an_optimizer_holds_it(zero):
    def build():
        w = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
        opt = optim.SGD([w], lr=0.1)

        def step(x, p):
            if zero:
                opt.zero_grad()
            loss = (p * x * p).sum()
            loss.backward()
            opt.step()
            return loss

        return step, [w], lambda i: (Tensor(np.array([0.5, -1.0, 2.0])), w)

    _eager_and_jit(build, calls=4)


def test_a_matrix_product_with_a_plain_array_operand():
    from tinygrad_lite import ops

    weights = np.ones((3, 2))  # reachable from the step: held by reference, a change in place is seen

    def build():
        a = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
        return (lambda a: _backward_and_return(ops.Matmul.apply(a, weights).sum())), [a], lambda i: (a,)

    def change(i, tensors):
        weights[0, 0] = float(i)

    _eager_and_jit(build, calls=3, between=change)
    made_inside = tl.jit(lambda a: ops.Matmul.apply(a, weights * 2.0).sum())  # a replay would reuse this product
    with pytest.raises(RuntimeError, match=r"hands an operation a numpy array \(shape \(3, 2\)\) that is neither "
                                           "an argument nor reachable"):
        made_inside(Tensor(np.ones((2, 3))))


def test_log_softmax_of_an_infinite_input_on_a_replay_gives_eager_bits_and_no_warning():
    jitted = tl.jit(lambda x: F.log_softmax(x, dim=1))
    jitted(Tensor(np.array([[1.0, 2.0, 3.0]])))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tl.silence_numpy_warnings()  # as on import: numpy's inf - inf inside the package, eager or replayed, is quiet
        for row in ([1.0, np.inf, 3.0], [-np.inf, -np.inf, -np.inf], [np.nan, 0.0, 1.0]):
            x = Tensor(np.array([row]))
            assert jitted(x).data.tobytes() == F.log_softmax(x, dim=1).data.tobytes(), row
    assert len(jitted.captures) == 1


def test_an_optimizer_the_step_reaches_as_a_module_attribute_is_refused():
    m = nn.Linear(3, 1, dtype=np.float64)
    m.opt = optim.SGD([m.weight], lr=0.1)

    def step(x):
        m.opt.zero_grad()
        loss = (m(x) ** 2).sum()
        loss.backward()
        m.opt.step()
        return loss

    with pytest.raises(RuntimeError, match=r"updates an optimizer \(SGD\) that it reaches where a replay cannot "
                                           r"check it is still the same"):
        tl.jit(step)(X)


def test_globals_and_closure_variables_the_step_reads_are_guarded_by_identity():
    namespace: dict = {}
    exec(  # a module-level step: model, opt and scale are globals it reads
        "def step(x):\n"
        "    loss = (model(x) ** 2).sum() * scale\n"
        "    opt.zero_grad()\n"
        "    loss.backward()\n"
        "    opt.step()\n"
        "    return loss\n", namespace)

    def bind(seed: int, scale: float) -> None:
        tl.manual_seed(seed)
        namespace["model"] = nn.Linear(3, 1, dtype=np.float64)
        namespace["opt"] = optim.SGD(namespace["model"].parameters(), lr=0.1)
        namespace["scale"] = scale

    results = {}
    for use_jit in (False, True):
        bind(0, 1.0)
        step = tl.jit(namespace["step"]) if use_jit else namespace["step"]
        step(X), step(X)
        bind(1, 1.0)  # a new model and optimizer under the same names
        step(X)
        namespace["scale"] = 3.0  # a global float the step reads
        losses = [step(X).data.copy() for _ in range(2)]
        results[use_jit] = (losses, namespace["model"].weight.data.copy())
    assert all(a.tobytes() == b.tobytes() for a, b in zip(results[False][0], results[True][0]))
    assert results[False][1].tobytes() == results[True][1].tobytes()


def test_jit_as_a_method_decorator_captures_per_instance_and_follows_self():
    class Trainer:
        def __init__(self, seed: int) -> None:
            tl.manual_seed(seed)
            self.model = nn.Linear(3, 1, dtype=np.float64)
            self.opt = optim.SGD(self.model.parameters(), lr=0.1)
            self.scale = 1.0

        def plain_step(self, x):
            loss = (self.model(x) ** 2).sum() * self.scale
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            return loss

        jit_step = tl.jit(plain_step)

    eager, jitted, other = Trainer(0), Trainer(0), Trainer(1)
    for i in range(4):
        if i == 2:  # an attribute the step reads, changed on both
            eager.scale = jitted.scale = 3.0
        assert eager.plain_step(X).data.tobytes() == jitted.jit_step(X).data.tobytes()
        other.jit_step(X)
    assert eager.model.weight.data.tobytes() == jitted.model.weight.data.tobytes()
    assert jitted.jit_step is jitted.jit_step and jitted.jit_step is not other.jit_step
    assert len(jitted.jit_step.captures) == 2 and len(other.jit_step.captures) == 1


def _module_level(source: str) -> dict:
    """Functions defined as at a module's top level: the names they read are globals of this namespace."""
    namespace: dict = {"tl": tl, "nn": nn, "optim": optim, "Tensor": Tensor, "np": np}
    exec(source, namespace)
    return namespace


def test_a_global_a_helper_reads_is_guarded_too():
    ns = _module_level(
        "scale = 1.0\n"
        "def helper(y):\n"
        "    return y * scale\n"
        "def step(x):\n"
        "    return helper((x * x).sum())\n")
    jitted, x = tl.jit(ns["step"]), Tensor([1.0, 2.0])
    assert jitted(x).item() == 5.0 and jitted(x).item() == 5.0
    ns["scale"] = 7.0  # rebound where only the helper reads it
    assert jitted(x).item() == 35.0


def test_a_rebound_equal_float_is_not_captured_again():
    ns = _module_level("scale = 1.5\ndef step(x):\n    return (x * x).sum() * scale\n")
    jitted, x = tl.jit(ns["step"]), Tensor([1.0, 2.0])
    for _ in range(5):
        ns["scale"] = float("1.5")  # a new float object, the same value
        assert jitted(x).item() == 7.5
    assert len(jitted.captures) == 1
    ns["scale"] = -0.0
    assert jitted(x).item() == 0.0 and len(jitted.captures) == 2  # 0.0 and -0.0 are different constants


def test_functools_partial_keywords_and_the_globals_of_its_function_are_guarded():
    import functools

    ns = _module_level("offset = 0.0\ndef step(x, k):\n    return (x * x).sum() * k + offset\n")
    f = functools.partial(ns["step"], k=2.0)
    jitted, x = tl.jit(f), Tensor([1.0, 2.0])
    assert jitted(x).item() == 10.0
    ns["offset"] = 1.0
    assert jitted(x).item() == 11.0
    f.keywords["k"] = 3.0
    assert jitted(x).item() == 16.0


def test_module_attributes_forward_reads_are_guarded():
    class Shifted(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(3, 1, dtype=np.float64)
            self.temperature = 1.0
            self.shift = Tensor(np.zeros(1))

        def forward(self, x):
            return self.linear(x) / self.temperature + self.shift

    tl.manual_seed(0)
    model, act = Shifted(), nn.LeakyReLU(0.01)
    jitted = tl.jit(lambda x: act(model(x)).sum())
    eager = lambda x: act(model(x)).sum()  # noqa: E731
    x = Tensor(-np.ones((2, 3)))
    for change in (None, lambda: setattr(act, "negative_slope", 0.5), lambda: setattr(model, "temperature", 4.0),
                   lambda: setattr(model, "shift", Tensor(np.full(1, 5.0)))):
        if change is not None:
            change()
        assert jitted(x).data.tobytes() == eager(x).data.tobytes()


def test_an_index_tensor_argument_is_read_at_every_call():
    w = Tensor(np.array([0.5, 1.5, 2.0]), requires_grad=True)

    def build():
        v = Tensor(np.arange(3.0), requires_grad=True)
        indices = [Tensor(np.array([0, 1])), Tensor(np.array([2, 2])), Tensor(np.array([1, 0]))]
        return (lambda v, idx: _backward_and_return((w * v)[idx].sum())), [v], lambda i: (v, indices[i % 3])

    _eager_and_jit(build, calls=6)
    mask = Tensor(np.array([True, False, True]))
    with pytest.raises(RuntimeError, match="hands an operation a numpy array"):  # numpy worked out its indices
        tl.jit(lambda v, m: (v * w)[m].sum())(Tensor(np.arange(3.0)), mask)


def test_method_decoration_keys_instances_by_identity_and_frees_them():
    import gc
    import weakref as weakref_module

    class Scaled:
        def __init__(self, scale: float) -> None:
            self.scale = scale

        def __eq__(self, other):  # equal by value: two instances must still not share captures
            return isinstance(other, Scaled)

        def __hash__(self):
            return 0

        @tl.jit
        def step(self, x):
            return (x * self.scale).sum()

    def losses(instances: list, x: Tensor) -> list[float]:  # in a function: no temporaries keep an instance
        return [instance.step(x).item() for instance in instances]

    a, b = Scaled(2.0), Scaled(3.0)
    assert losses([a, b, a], Tensor([1.0, 2.0])) == [6.0, 9.0, 6.0]
    gone = weakref_module.ref(a)
    del a
    gc.collect()
    assert gone() is None  # the jitted method kept with the instance goes with it

    with pytest.raises(TypeError, match="put @tl.jit below @staticmethod"):
        class Wrong:  # noqa: F841 - the class statement itself raises
            @tl.jit
            @staticmethod
            def step(x):
                return x.sum()


@pytest.mark.parametrize("name", ["lr", "MISS", "len", "type", "isinstance", "float", "engine", "np"])
def test_arguments_and_functions_may_have_any_name(name):
    namespace: dict = {"w": Tensor(np.array([1.0, 2.0]), requires_grad=True), "optim": optim}
    exec(f"opt = optim.SGD([w], lr=0.1)\n"
         f"def {name}(x, {name}):\n"
         f"    loss = (w * x * {name}).sum()\n"
         f"    opt.zero_grad()\n"
         f"    loss.backward()\n"
         f"    opt.step()\n"
         f"    return (w * {name}).sum()\n", namespace)
    step, w = namespace[name], namespace["w"]
    jitted, start = tl.jit(step), w.data.copy()
    x, factor = Tensor(np.array([1.0, -1.0])), Tensor(np.array([2.0, 3.0]))
    results = [jitted(x, factor).data.copy() for _ in range(3)]
    w.data[...] = start
    for result in results:
        assert result.tobytes() == step(x, factor).data.tobytes()
    assert len(jitted.captures) <= 2


def test_signed_zeros_and_nan_signs_of_constants_are_different_constants():
    for zero, other in [(np.float32(0.0), np.float32(-0.0)), (0.0, -0.0), (float("nan"), -float("nan"))]:
        ns = _module_level("def step(x):\n    return (x * x).sum() * c\n")
        ns["c"] = zero
        jitted, x = tl.jit(ns["step"]), Tensor([1.0, 2.0])
        jitted(x)
        ns["c"] = other
        assert jitted(x).data.tobytes() == ns["step"](x).data.tobytes()


def test_a_deleted_global_that_held_none_captures_again():
    ns = _module_level("flag = None\ndef step(x):\n    return (x * 2.0).sum() if flag is None else x.sum()\n")
    jitted, x = tl.jit(ns["step"]), Tensor([1.0, 2.0])
    jitted(x)
    del ns["flag"]
    with pytest.raises(NameError):
        jitted(x)


def test_globals_a_module_forward_reads_and_rebound_classes_are_guarded():
    ns = _module_level(
        "GAIN = 1.0\n"
        "Act = nn.ReLU\n"
        "class Gained(nn.Module):\n"
        "    def forward(self, x):\n"
        "        return x * GAIN\n"
        "model = Gained()\n"
        "def step(x):\n"
        "    return Act()(model(x)).sum()\n")
    jitted, x = tl.jit(ns["step"]), Tensor([-1.0, 2.0])
    assert jitted(x).item() == 2.0
    ns["GAIN"] = 3.0
    assert jitted(x).item() == 6.0
    ns["Act"] = nn.Tanh
    assert jitted(x).data.tobytes() == ns["step"](x).data.tobytes()


def test_a_global_array_the_library_wraps_as_a_tensor_is_read_by_reference():
    ns = _module_level("def step(x):\n    return ((x - Y) ** 2).sum()\n")
    ns["Y"] = np.array([1.0, 1.0])
    jitted, x = tl.jit(ns["step"]), Tensor([1.0, 2.0])
    assert jitted(x).item() == 1.0
    ns["Y"][...] = 2.0  # changed in place: the replay reads the same array
    assert jitted(x).item() == ns["step"](x).item() == 1.0
    ns["Y"][0] = 0.0
    assert jitted(x).item() == ns["step"](x).item() == 1.0 + 0.0


def test_float_arguments_are_told_apart_by_their_bits():
    jitted, x = tl.jit(lambda x, c: (x * c).sum()), Tensor([1.0, 2.0])
    for c in (2.0, -0.0, 0.0, -0.0, float("nan"), -float("nan")):
        assert jitted(x, c).data.tobytes() == (x * c).sum().data.tobytes(), c
    assert len(jitted.captures) == 5  # 2.0, -0.0, 0.0 and the two NaNs


def test_a_model_passed_as_a_partial_keyword_is_reachable():
    import functools

    tl.manual_seed(0)
    model = nn.Linear(3, 1, dtype=np.float64)
    jitted = tl.jit(functools.partial(lambda x, model: (model(x) ** 2).sum(), model=model))
    x = Tensor(np.ones((2, 3)))
    for _ in range(2):
        assert jitted(x).data.tobytes() == (model(x) ** 2).sum().data.tobytes()


@pytest.mark.parametrize("dtypes", [(np.float64, np.float32), (np.float32, np.float64)])
def test_a_gradient_from_before_the_call_is_guarded_by_its_dtype_and_shape(dtypes):
    """A step that updates with a .grad it did not compute (set by hand, or accumulated from earlier calls) was
    written for that .grad's dtype: eager's lr·g follows whatever dtype comes, so another captures again."""
    param_dtype, other = dtypes
    g = np.random.RandomState(0).standard_normal(2000)
    grads = [g.astype(param_dtype), g.astype(other), g.astype(other), g[:1].astype(param_dtype)]

    def build():
        w = Tensor(np.linspace(0.3, 2.9, 2000).astype(param_dtype), requires_grad=True)
        opt = optim.SGD([w], lr=0.1)

        def step(x):
            opt.step()
            return (w * x).sum()

        return step, [w], lambda i: (Tensor(np.ones(2000, param_dtype)),)

    def set_grad(i, tensors):
        tensors[0].grad = Tensor(grads[i])

    _eager_and_jit(build, calls=4, between=set_grad)
