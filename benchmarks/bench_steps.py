"""Time one full training step (forward, backward, optimizer update) of three networks in several systems.

Workloads:
- W1 "article": X 100×4 → 5 → 3, sigmoid on both layers, no biases, ½·Σ(Y − out)², SGD lr 0.1, float64.
- W2 "mid": 64 → 128 → 10 with biases, batch 128, ReLU, softmax cross-entropy (mean), SGD lr 0.1, float32.
- W3 "large": 784 → 512 → 256 → 10 with biases, batch 256, ReLU, softmax cross-entropy (mean), SGD, float32.

Systems: the step hand-written in numpy (the reference), for W1 also the same step in buffers allocated once,
tinygrad_lite eager with ``optim.SGD``, tinygrad_lite under ``tl.jit`` (when the package has it), PyTorch eager
CPU with a manual update and with ``torch.optim.SGD`` (when torch is installed: ``pip install -e '.[bench]'``).

Method: one process; BLAS pinned to one thread (threadpoolctl) and PyTorch to one thread; every system starts
from the same weights and data, and the run first checks that their losses agree after a few steps; then rounds
alternate between the systems (each round times a batch of steps of every system, in a rotating order), and
the table reports the median time per step over the rounds and its ratio to hand-written numpy.

    python benchmarks/bench_steps.py                 # prints the table and writes docs/performance.md
    python benchmarks/bench_steps.py --rounds 5 --quick --no-write
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tinygrad_lite as tl  # noqa: E402
from tinygrad_lite import Tensor, nn, optim  # noqa: E402
from tinygrad_lite.casestudy import handwritten  # noqa: E402
from tinygrad_lite.nn import functional as F  # noqa: E402

try:
    import torch
except ImportError:  # the optional `bench` extra
    torch = None


# --------------------------------------------------------------------------------------------------------------
# Workloads: sizes, data and initial weights shared by every system
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Workload:
    name: str
    sizes: tuple[int, ...]  # layer widths, input first
    batch: int
    dtype: type
    bias: bool
    activation: str  # "sigmoid" on every layer (W1) or "relu" between layers with a cross-entropy head
    lr: float = 0.1

    def data(self, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], list[np.ndarray]]:
        """X, Y (one-hot), and per layer W of shape (out, in) and b (out,), uniform like nn.Linear's init."""
        rs = np.random.RandomState(seed)
        X = rs.standard_normal((self.batch, self.sizes[0])).astype(self.dtype)
        labels = rs.randint(0, self.sizes[-1], self.batch)
        Y = np.eye(self.sizes[-1], dtype=self.dtype)[labels]
        if self.activation == "sigmoid":  # the article's data: normalised rows, weights in [-1, 1)
            X = np.abs(X) / np.linalg.norm(X, axis=1, keepdims=True)
        weights, biases = [], []
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            bound = 1.0 if self.activation == "sigmoid" else 1 / np.sqrt(n_in)
            weights.append(rs.uniform(-bound, bound, (n_out, n_in)).astype(self.dtype))
            biases.append(rs.uniform(-bound, bound, n_out).astype(self.dtype))
        return X, Y, weights, biases


WORKLOADS = {
    "W1": Workload("W1 article", (4, 5, 3), 100, np.float64, bias=False, activation="sigmoid"),
    "W2": Workload("W2 mid", (64, 128, 10), 128, np.float32, bias=True, activation="relu"),
    "W3": Workload("W3 large", (784, 512, 256, 10), 256, np.float32, bias=True, activation="relu"),
}


# --------------------------------------------------------------------------------------------------------------
# Systems: each is a closure `step() -> loss` built from the workload's data
# --------------------------------------------------------------------------------------------------------------


def numpy_step(w: Workload) -> Callable[[], float]:
    """The reference: forward, backward and update written out by hand, in place where numpy allows."""
    X, Y, Ws, bs = w.data()
    n_layers = len(Ws)

    def step() -> float:
        acts = [X]
        for i, W in enumerate(Ws):
            z = acts[-1] @ W.T
            if w.bias:
                z += bs[i]
            if w.activation == "sigmoid":
                acts.append(1 / (1 + np.exp(-z)))
            elif i < n_layers - 1:
                acts.append(np.maximum(z, 0))
            else:
                acts.append(z)
        out = acts[-1]
        if w.activation == "sigmoid":
            err = out - Y
            loss = 0.5 * float(np.dot(err.ravel(), err.ravel()))
            delta = err * (out * (1 - out))
        else:
            shifted = out - out.max(axis=1, keepdims=True)
            e = np.exp(shifted)
            s = e.sum(axis=1, keepdims=True)
            loss = float(np.mean(np.log(s)[:, 0] - (shifted * Y).sum(axis=1)))
            delta = (e / s - Y) / w.batch
        for i in range(n_layers - 1, -1, -1):
            a = acts[i]
            grad_W = delta.T @ a
            if w.bias:
                bs[i] -= w.lr * delta.sum(axis=0)
            if i > 0:
                delta = delta @ Ws[i]
                delta *= a * (1 - a) if w.activation == "sigmoid" else (a > 0)
            Ws[i] -= w.lr * grad_W
        return loss

    return step


def numpy_buffers_step(w: Workload) -> Callable[[], float]:
    """W1 only: the step as the case study's numpy loop writes it (``tinygrad_lite.casestudy.handwritten.train_numpy``),
    every intermediate in a buffer allocated once and filled with ``out=``. A second, harder reference: it shows
    how much of the plain step's time is allocation."""
    X, Y, (W0, W1), _ = w.data()
    n, hidden, outputs = X.shape[0], W0.shape[0], W1.shape[0]
    h, d_h, delta1 = (np.empty((n, hidden), w.dtype) for _ in range(3))
    out, err, delta2 = (np.empty((n, outputs), w.dtype) for _ in range(3))
    g0, g1 = np.empty_like(W0), np.empty_like(W1)
    sigmoid_ = handwritten.sigmoid_  # that loop's in-place σ (inputs here stay far from exp's overflow)

    def step() -> float:  # every update in place (out=): a closure cannot rebind its buffers with -=
        sigmoid_(np.dot(X, W0.T, out=h))
        sigmoid_(np.dot(h, W1.T, out=out))
        np.subtract(out, Y, out=err)
        loss = 0.5 * float(np.dot(err.ravel(), err.ravel()))
        np.subtract(1.0, out, out=delta2)
        np.multiply(delta2, out, out=delta2)
        np.multiply(delta2, err, out=delta2)  # δ2 = (out − Y)·out(1 − out)
        np.dot(delta2, W1, out=delta1)
        np.subtract(1.0, h, out=d_h)
        np.multiply(d_h, h, out=d_h)
        np.multiply(delta1, d_h, out=delta1)  # δ1 = (δ2·W1)·h(1 − h)
        np.dot(delta2.T, h, out=g1)
        np.multiply(g1, w.lr, out=g1)
        np.subtract(W1, g1, out=W1)
        np.dot(delta1.T, X, out=g0)
        np.multiply(g0, w.lr, out=g0)
        np.subtract(W0, g0, out=W0)
        return loss

    return step


def tinygrad_model(w: Workload) -> tuple[nn.Module, Tensor, Tensor]:
    X, Y, Ws, bs = w.data()
    layers: list[nn.Module] = []
    for i, W in enumerate(Ws):
        layers.append(nn.Linear(W.shape[1], W.shape[0], bias=w.bias, dtype=w.dtype))
        if w.activation == "sigmoid":
            layers.append(nn.Sigmoid())
        elif i < len(Ws) - 1:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    state = {}
    for i, (W, b) in enumerate(zip(Ws, bs)):  # an activation follows every Linear but the last: indices 0, 2, ...
        state[f"{2 * i}.weight"] = W
        if w.bias:
            state[f"{2 * i}.bias"] = b
    model.load_state_dict(state)
    return model, Tensor(X), Tensor(Y)


def tinygrad_loss(w: Workload, out: Tensor, Y: Tensor) -> Tensor:
    if w.activation == "sigmoid":
        return 0.5 * F.mse_loss(out, Y, reduction="sum")
    return F.cross_entropy(out, Y)


def tinygrad_step(w: Workload) -> Callable[[], float]:
    """What a user writes: model(X), the loss, zero_grad, backward, optimizer step."""
    model, X, Y = tinygrad_model(w)
    opt = optim.SGD(model.parameters(), lr=w.lr)

    def step() -> float:
        loss = tinygrad_loss(w, model(X), Y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss.data)

    return step


def tinygrad_jit_step(w: Workload) -> Callable[[], float]:
    """The same step under tl.jit: captured once, then replayed."""
    model, X, Y = tinygrad_model(w)
    opt = optim.SGD(model.parameters(), lr=w.lr)

    @tl.jit
    def train_step(x: Tensor, y: Tensor) -> Tensor:
        loss = tinygrad_loss(w, model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return lambda: float(train_step(X, Y).data)


def torch_step(w: Workload, use_optim: bool) -> Callable[[], float]:
    X, Y, Ws, bs = w.data()
    layers: list = []
    for i, W in enumerate(Ws):
        linear = torch.nn.Linear(W.shape[1], W.shape[0], bias=w.bias, dtype=torch.from_numpy(W).dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W))
            if w.bias:
                linear.bias.copy_(torch.from_numpy(bs[i]))
        layers.append(linear)
        if w.activation == "sigmoid":
            layers.append(torch.nn.Sigmoid())
        elif i < len(Ws) - 1:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    params = list(model.parameters())
    opt = torch.optim.SGD(params, lr=w.lr) if use_optim else None

    def step() -> float:
        out = model(Xt)
        if w.activation == "sigmoid":
            loss = 0.5 * torch.nn.functional.mse_loss(out, Yt, reduction="sum")
        else:
            loss = torch.nn.functional.cross_entropy(out, Yt)
        if opt is not None:
            opt.zero_grad()
            loss.backward()
            opt.step()
        else:
            for p in params:
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p in params:
                    p -= w.lr * p.grad
        return float(loss.detach())

    return step


def systems(w: Workload) -> dict[str, Callable[[], float]]:
    found = {"numpy (reference)": numpy_step(w)}
    if w.activation == "sigmoid" and not w.bias and len(w.sizes) == 3:
        found["numpy, preallocated buffers"] = numpy_buffers_step(w)
    found["tinygrad_lite eager"] = tinygrad_step(w)
    if hasattr(tl, "jit"):
        found["tinygrad_lite jit"] = tinygrad_jit_step(w)
    if torch is not None:
        found["PyTorch eager, manual update"] = torch_step(w, use_optim=False)
        found["PyTorch eager, optim.SGD"] = torch_step(w, use_optim=True)
    return found


# --------------------------------------------------------------------------------------------------------------
# Targets, and what limits the figures (written into docs/performance.md)
# --------------------------------------------------------------------------------------------------------------

TARGETS = {
    ("W1", "tinygrad_lite eager"): 2.0, ("W2", "tinygrad_lite eager"): 1.3, ("W3", "tinygrad_lite eager"): 1.1,
    ("W1", "tinygrad_lite jit"): 1.0, ("W2", "tinygrad_lite jit"): 1.05, ("W3", "tinygrad_lite jit"): 1.02,
}

LIMITS = """## What limits each figure

- **W1 eager.** The arrays are tiny (100×4 → 5 → 3): the step makes about as many numpy calls as the
  hand-written one (some 30, of 0.5 to 1.5 µs each), and the rest is Python. A sampling profile (py-spy at
  2,000 samples a second over 200,000 steps) puts about 30 % of the step in the engine itself:
  `Function.apply` (the node, the output Tensor, the lists of arguments, the call of forward) takes about
  1.5 µs per operation, and running one node in `backward()` (the heap, the pending gradients, the shape and
  dtype check that decides whether to unbroadcast, freeing the saved arrays) about 2 µs; a step has six
  nodes. The layers above (`Module`, `F.linear`'s checks, operator dispatch) and the optimizer add a few µs.
  That makes about 3× the hand-written step, not 2×: 2× would take a compiled engine or fused operations,
  which the project does not do to stay readable. The ratio moves with the machine: on this VM it measured
  2.6× to 3.0× across runs, highest when the machine ran fastest. Against the step written with buffers
  allocated once (the case study's numpy loop, the "preallocated buffers" row, about 0.8× of the plain
  step) eager takes about 3.5×.
- **W1 jit.** A replay is one call of the generated step (docs/jit.md): straight numpy, no Function calls,
  matrix products as `np.dot` into buffers allocated once (less call overhead than `@`, the same bits), and
  numbers as 0-d arrays of their operand's dtype (numpy takes a Python number about 250 ns slower per call,
  and a W1 step has a dozen). What it still does that the hand-written step does not: enter the jitted
  function (~0.4 µs: a method call and a lock), check its guards (about 45 attribute reads and identity
  checks, ~1.7 µs), wrap the loss and two gradients in Tensors and give the weights new versions (~1.1 µs);
  compute the loss as eager does (squares and numpy's pairwise sum, where the hand-written step uses one
  `np.dot`: 5 % faster here, but for 10⁷ float32 elements 3·10⁻⁵ off where the pairwise sum is 10⁻⁸ off, so
  eager keeps the sum) and σ as ½ + ½·tanh(x/2). Those are the price of being bit-identical to eager and never
  silently wrong; buffers, `np.dot` and 0-d numbers win most of it back, so the ratio sits at about 1.0 and
  moves by a few hundredths from run to run on this VM.
- **W2.** Per-node overhead matters less (arrays of 128×128), but the framework still does more numpy work:
  cross-entropy is `log_softmax` and a negative log-likelihood (two nodes, as in PyTorch) whose backward
  passes through both, where the hand-written step computes the gradient `(softmax − Y)/N` at once; and
  numpy's reductions along 10-element rows (max, sum) are slow in every system. The jit's generated step
  does the same numpy work as eager without the Python around it, and reuses buffers for the elementwise
  temporaries, which brings it to about the hand-written step.
- **W3.** The matrix products dominate and are the same BLAS calls in every system, so every ratio sits
  near 1; what is left is the extra copies and temporaries (see the peak memory column)."""


# --------------------------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------------------------


def check_agreement(w: Workload, steps: int = 5) -> dict[str, list[float]]:
    """Fresh copies of every system, a few steps each: the losses must agree (same weights, same data)."""
    losses = {name: [step() for _ in range(steps)] for name, step in systems(w).items()}
    reference = np.array(losses["numpy (reference)"])
    tolerance = 1e-9 if w.dtype == np.float64 else 1e-4
    for name, values in losses.items():
        if not np.allclose(values, reference, rtol=tolerance, atol=tolerance):
            raise SystemExit(f"{w.name}: {name} disagrees with numpy: {values} vs {reference.tolist()}")
    return losses


def time_systems(w: Workload, rounds: int, target_seconds: float) -> dict[str, list[float]]:
    """Seconds per step of each system, one figure per round; systems alternate within every round."""
    steps = systems(w)
    for step in steps.values():  # warm up (and let the jit capture)
        for _ in range(3):
            step()
    batch = {}
    for name, step in steps.items():  # steps per timing batch, so that each batch takes about target_seconds
        start = time.perf_counter()
        n = 0
        while time.perf_counter() - start < target_seconds / 4:
            step()
            n += 1
        batch[name] = max(1, int(4 * n))
    times: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:  # rotate who goes first
            step, n = steps[name], batch[name]
            gc.collect()
            start = time.perf_counter()
            for _ in range(n):
                step()
            times[name].append((time.perf_counter() - start) / n)
    return times


def peak_memory(w: Workload, steps: int = 20) -> dict[str, int]:
    """Peak bytes allocated through Python's and numpy's allocators (tracemalloc) while taking ``steps`` steps,
    above what was allocated before. Not meaningful for PyTorch, whose allocator tracemalloc does not see."""
    peaks = {}
    for name, step in systems(w).items():
        if name.startswith("PyTorch"):
            continue
        for _ in range(3):
            step()
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(steps):
            step()
        peaks[name] = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
    return peaks


def capture_seconds(w: Workload, repeats: int = 5) -> float:
    """The first call of a fresh jitted step: the eager run, the capture and the compilation (median)."""
    times = []
    for _ in range(repeats):
        step = tinygrad_jit_step(w)
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def memory_growth(w: Workload, steps: int = 10_000) -> int:
    """Bytes still allocated (tracemalloc) after ``steps`` more replays than a warm-up: 0 means no leak."""
    step = tinygrad_jit_step(w)
    for _ in range(10):
        step()
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for _ in range(steps):
        step()
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return grown


IRIS_RUNS = 7


def iris_seconds(steps: int) -> dict[str, float]:
    """Training time of ``tinygrad-lite iris`` (the framework under tl.jit) and of ``--variant corrected``
    (the hand-written numpy loop), seed 0, ``steps`` steps each, ``IRIS_RUNS`` alternating pairs: the median of
    each, and ``ratio``, the median of the pairs' ratios (the two runs of a pair see the same machine load)."""
    from tinygrad_lite import casestudy

    times: dict[str, list[float]] = {"framework": [], "corrected": []}
    for i in range(IRIS_RUNS):
        for variant in (list(times) if i % 2 else list(reversed(times))):
            times[variant].append(casestudy.run(seed=0, variant=variant, steps=steps).seconds)
    ratio = statistics.median(f / c for f, c in zip(times["framework"], times["corrected"]))
    return {**{variant: statistics.median(values) for variant, values in times.items()}, "ratio": ratio}


def _format_time(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f} µs" if seconds < 1e-3 else f"{seconds * 1e3:,.2f} ms"


def _cpu_name() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo; elsewhere what platform knows): timings depend on it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def performance_page(rows: list[tuple], rounds: int, blas: str, extras: list[str] | None = None) -> str:
    """docs/performance.md: the machine, one table row per (workload, system), how each target is met, and
    what limits the figures."""
    lines = [
        "# Performance",
        "",
        "Time per training step (forward, backward, optimizer update), median over "
        f"{rounds} interleaved rounds, and the ratio to the same step hand-written in numpy, measured in one "
        "run by `python benchmarks/bench_steps.py` (which rewrites this file). Peak memory is what tracemalloc "
        "sees above the baseline while taking 20 steps (numpy's and Python's allocations; PyTorch's allocator "
        "is invisible to it). Before timing, the run checks that every system's losses agree after 5 steps.",
        "",
        f"Machine: {_cpu_name()} ({platform.machine()}), {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}" + (f", PyTorch {torch.__version__}" if torch is not None else ", PyTorch not "
                                     "installed") + f"; BLAS: {blas}.",
        "",
        "| workload | system | time per step | ratio to numpy | peak memory |",
        "|---|---|---:|---:|---:|",
    ]
    for workload, name, median, ratio, peak in rows:
        memory = "" if peak is None else f"{peak / 1024:,.0f} KiB"
        lines.append(f"| {workload} | {name} | {_format_time(median)} | {ratio:.2f}× | {memory} |")
    ratios = {(workload.split()[0], name): ratio for workload, name, _, ratio, _ in rows}
    lines += ["", "## Targets", "", "| workload | system | target | measured | met |",
              "|---|---|---:|---:|---|"]
    for (workload, name), target in TARGETS.items():
        if (workload, name) in ratios:
            measured = ratios[(workload, name)]
            lines.append(f"| {workload} | {name} | ≤ {target:.2f}× | {measured:.2f}× | "
                         f"{'yes' if measured <= target else f'no, by {measured / target:.2f}×'} |")
    lines += ["", *(extras or []), LIMITS, "", "Workloads and method: `benchmarks/README.md`.", ""]
    return "\n".join(lines)


def jit_figures(iris_steps: int, quick: bool = False) -> list[str]:
    """The jit's other targets: capture time, memory over 10,000 replays, the case study's training time."""
    w1 = WORKLOADS["W1"]
    capture = capture_seconds(w1)
    growth = memory_growth(w1, 1_000 if quick else 10_000)
    lines = ["## The jit's other figures", "",
             f"- Capture plus compilation of W1 (its first call, eager run included): "
             f"{capture * 1e3:.1f} ms (target ≤ 50 ms).",
             f"- Memory still allocated after {1_000 if quick else 10_000:,} more W1 replays: {growth:,} bytes "
             "(tracemalloc; no growth means 0 or a few hundred bytes of interpreter state)."]
    print("\n".join(lines[2:]), flush=True)
    if iris_steps:
        seconds = iris_seconds(iris_steps)
        line = (f"- `tinygrad-lite iris` training time, {iris_steps:,} steps, {IRIS_RUNS} alternating pairs of runs: "
                f"framework (tl.jit, the default) {seconds['framework']:.2f} s, `--variant corrected` (hand-written "
                f"numpy in buffers) {seconds['corrected']:.2f} s (medians); median ratio of the pairs "
                f"{seconds['ratio']:.2f}× (target ≤ 1.3×).")
        print(line, flush=True)
        lines.append(line)
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=31, help="timing rounds per workload (default 31)")
    parser.add_argument("--seconds", type=float, default=0.1, help="target seconds per timing batch")
    parser.add_argument("--workloads", default="W1,W2,W3")
    parser.add_argument("--quick", action="store_true", help="short batches, for a smoke run")
    parser.add_argument("--iris-steps", type=int, default=20_000,
                        help="steps of each `tinygrad-lite iris` run timed (default 20000; 0 skips)")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write docs/performance.md")
    parser.add_argument("--output", default=str(Path(__file__).resolve().parents[1] / "docs" / "performance.md"))
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds = 0.02

    from threadpoolctl import threadpool_info, threadpool_limits

    if torch is not None:
        torch.set_num_threads(1)
    rows = []
    with threadpool_limits(limits=1):
        blas = ", ".join(f"{i['internal_api']} {i.get('version')} ({i['num_threads']} thread)"
                         for i in threadpool_info())
        for key in args.workloads.split(","):
            w = WORKLOADS[key.strip()]
            losses = check_agreement(w)
            times = time_systems(w, args.rounds, args.seconds)
            peaks = peak_memory(w)
            reference = statistics.median(times["numpy (reference)"])
            for name, values in times.items():
                median = statistics.median(values)
                rows.append((w.name, name, median, median / reference, peaks.get(name)))
                print(f"{w.name:10s} {name:30s} {_format_time(median):>12s} {median / reference:6.2f}×"
                      + (f"  peak {peaks[name] / 1024:,.0f} KiB" if name in peaks else ""), flush=True)
            print(f"{w.name:10s} losses after 5 steps agree: {losses['numpy (reference)'][-1]:.6g}", flush=True)

        extras = jit_figures(args.iris_steps, quick=args.quick)
    page = performance_page(rows, args.rounds, blas, extras)
    if not args.no_write:
        Path(args.output).write_text(page)
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
