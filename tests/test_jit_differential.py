"""Differential test of tl.jit: generated training programs run eagerly and jitted side by side, and after every
step the losses, parameters, gradients and optimizer state are the same bit for bit (or the jitted call raised
the documented error, after running the call eagerly, which the eager side then does too)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_lite as tl
from tinygrad_lite import Tensor, nn, optim
from tinygrad_lite.nn import functional as F

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


@st.composite
def programs(draw):
    """A network, a loss, an optimizer, and a list of steps with what happens before each."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    sizes = draw(st.lists(st.integers(1, 5), min_size=2, max_size=4))
    optimizer = draw(st.sampled_from(["sgd", "adam", "adamw"]))
    settings: dict = {"lr": draw(st.sampled_from([0.01, 0.1, 0.3]))}
    if optimizer == "sgd":
        settings["momentum"] = draw(st.sampled_from([0.0, 0.9]))
        settings["nesterov"] = settings["momentum"] > 0 and draw(st.booleans())
        settings["dampening"] = 0.0 if settings["nesterov"] else draw(st.sampled_from([0.0, 0.5]))
        settings["weight_decay"] = draw(st.sampled_from([0.0, 1e-2]))
    else:
        settings["weight_decay"] = draw(st.sampled_from([0.0, 1e-2]))
    event = st.fixed_dictionaries({
        "batch": st.sampled_from([3, 5]),
        "micro": st.integers(1, 2),  # backward passes accumulated into .grad before the update
        "zero": st.sampled_from(["start", "before_backward", "none"]),
        "set_to_none": st.booleans(),
        "toggle": st.sampled_from([None, None, None, "train", "eval"]),
        "freeze": st.booleans() if draw(st.booleans()) else st.just(False),
        "replace": st.booleans() if draw(st.booleans()) else st.just(False),
        "lr": st.sampled_from([None, None, 0.05]),
    })
    return {
        "dtype": dtype, "sizes": sizes, "bias": draw(st.booleans()),
        "activation": draw(st.sampled_from(sorted(ACTIVATIONS))),
        "loss": draw(st.sampled_from(["mse_mean", "mse_sum", "cross_entropy"])),
        "dropout": draw(st.booleans()),
        "optimizer": optimizer, "settings": settings,
        "steps": draw(st.lists(event, min_size=2, max_size=6)),
    }


class System:
    """One model and its optimizer, stepped eagerly or through tl.jit."""

    def __init__(self, program: dict, jitted: bool) -> None:
        tl.manual_seed(0)
        sizes, dtype = program["sizes"], program["dtype"]
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(n_in, n_out, bias=program["bias"], dtype=dtype))
            if i < len(sizes) - 2:
                layers.append(ACTIVATIONS[program["activation"]]())
                if program["dropout"]:
                    layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)
        make = {"sgd": optim.SGD, "adam": optim.Adam, "adamw": optim.AdamW}[program["optimizer"]]
        self.opt = make(self.model.parameters(), **program["settings"])
        self.loss_kind = program["loss"]
        self.step = tl.jit(self._step) if jitted else self._step

    def _loss(self, out: Tensor, y: Tensor) -> Tensor:
        if self.loss_kind == "cross_entropy":
            return F.cross_entropy(out, y)
        return F.mse_loss(out, y, reduction="mean" if self.loss_kind == "mse_mean" else "sum")

    def _step(self, x: Tensor, y: Tensor, micro: int, zero: str, set_to_none: bool) -> Tensor:
        if zero == "start":
            self.opt.zero_grad(set_to_none)
        loss = None
        for _ in range(micro):
            loss = self._loss(self.model(x), y)
            if zero == "before_backward":
                self.model.zero_grad(set_to_none)
            loss.backward()
        self.opt.step()
        return loss


def _data(program: dict, batch: int, rs: np.random.RandomState) -> tuple[Tensor, Tensor]:
    n_in, n_out = program["sizes"][0], program["sizes"][-1]
    x = Tensor(rs.standard_normal((batch, n_in)).astype(program["dtype"]))
    if program["loss"] == "cross_entropy":
        return x, Tensor(rs.randint(0, n_out, batch))
    return x, Tensor(rs.standard_normal((batch, n_out)).astype(program["dtype"]))


def _identical(a, b) -> bool:
    """Bit for bit: dtype, shape and bytes (a network that diverged has NaNs, which == never calls equal)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _assert_same(a: System, b: System) -> None:
    for (name, p), (_, q) in zip(a.model.named_parameters(), b.model.named_parameters()):
        assert _identical(p.data, q.data), name
        assert p.requires_grad == q.requires_grad, name
        assert (p.grad is None) == (q.grad is None), f"{name}.grad"
        if p.grad is not None:
            assert _identical(p.grad.data, q.grad.data), f"{name}.grad"
    for field in ("momentum_buffers", "exp_avgs", "exp_avg_sqs", "steps"):
        for s, t in zip(getattr(a.opt, field, []), getattr(b.opt, field, [])):
            assert (s is None) == (t is None) and (s is None or _identical(s, t)), field


def _before_step(systems: tuple[System, System], event: dict, dtype: type) -> None:
    for system in systems:
        model, opt = system.model, system.opt
        if event["toggle"]:
            model.train(event["toggle"] == "train")
        if event["freeze"] and len(model) > 1:  # the last layer keeps the loss differentiable
            model[0].requires_grad_(False)
        if event["replace"]:  # a new Parameter object, new values
            model[0].weight = nn.Parameter(Tensor((model[0].weight.data * 0.5).astype(dtype)))
            opt.params = list(model.parameters())
        if event["lr"] is not None:
            opt.lr = event["lr"]


def run_program(program: dict) -> None:
    eager, jitted = System(program, False), System(program, True)
    rs = np.random.RandomState(0)
    for event in program["steps"]:
        _before_step((eager, jitted), event, program["dtype"])
        x, y = _data(program, event["batch"], rs)
        args = (x, y, event["micro"], event["zero"], event["set_to_none"])
        tl.manual_seed(1)  # the same dropout masks on both sides
        try:
            got = jitted.step(*args)
        except RuntimeError as error:  # the documented refusal, raised after the call ran eagerly
            assert "made inside it" in str(error) and program["dropout"] and jitted.model.training
            got = None
        tl.manual_seed(1)
        expected = eager.step(*args)
        if got is not None:
            assert _identical(expected.data, got.data)
        _assert_same(eager, jitted)


@given(programs())
def test_eager_and_jitted_training_programs_agree_bit_for_bit(program):
    run_program(program)
