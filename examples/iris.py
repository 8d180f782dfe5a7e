"""The article's case study in a few lines: a 4-5-3 sigmoid network learns Iris with ``loss.backward()``.

The data, the initial weights and the training loop are the library's (``tinygrad_lite.casestudy``, where the
loop reads ``out = model(X); loss = ½·Σ(Y − out)²; opt.zero_grad(); loss.backward(); opt.step()``); this
script shows how the pieces fit. ``tinygrad-lite iris`` is the full command line (variants, seeds, progress).

    python examples/iris.py [--steps 100000] [--seed 0] [--plot loss.png]
"""

from __future__ import annotations

import argparse
import time
from types import SimpleNamespace

from tinygrad_lite import Tensor, casestudy, no_grad
from tinygrad_lite.casestudy.protocol import article_accuracy, classification_accuracy, split_and_init
from tinygrad_lite.cli import plot_problem

parser = argparse.ArgumentParser(description="The article's Iris case study with tinygrad_lite.")
parser.add_argument("--steps", type=int, default=100_000)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--plot", metavar="PATH", help="save the error curve, e.g. loss.png")
args = parser.parse_args()
if args.plot and (problem := plot_problem(args.plot)):
    parser.error(problem)  # before training, not after it

# Data and initial weights by the seed protocol: L2-normalised rows, one-hot labels, 100 train / 50 validation.
data = split_and_init(args.seed)
model = casestudy.build_model(data.w0, data.w1)  # Linear(4, 5) → Sigmoid → Linear(5, 3) → Sigmoid, no biases
print(model)

start = time.perf_counter()
history = casestudy.train(model, data.X_train, data.Y_train, steps=args.steps, lr=0.1)
seconds = time.perf_counter() - start
print(f"{args.steps:,} steps in {seconds:.1f} s; mean|Y − out| went from {history[0]:.4f} to {history[-1]:.4f}")

with no_grad():
    for name, X, Y in (("train", data.X_train, data.Y_train), ("validation", data.X_val, data.Y_val)):
        out = model(Tensor(X)).numpy()
        print(f"{name:>10}: the article's 'accuracy' (1 − mean|Y − out|)·100 = {article_accuracy(Y, out):.2f} %,"
              f" classification accuracy = {classification_accuracy(Y, out):.0f} %")
print("the article prints 99.04 % / 92.86 %, with its own metric, for an unknown seed")

if args.plot:
    casestudy.plot_history([SimpleNamespace(variant="framework", seed=args.seed, history=history)], args.plot)
    print(f"error curve written to {args.plot}")
