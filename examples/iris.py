"""The article's case study in a few lines: a 4-5-3 sigmoid network learns Iris with ``loss.backward()``.

``casestudy.run`` is the case study's one entry point: it draws the split and the initial weights by the seed
protocol, builds the network (``casestudy.build_model``) and trains it with the loop of ``casestudy.train``,
which reads ``out = model(X); loss = ½·Σ(Y − out)²; opt.zero_grad(); loss.backward(); opt.step()``. This script
shows what comes out; ``tinygrad-lite iris`` is the full command line (variants, seeds, progress).

    python examples/iris.py [--steps 100000] [--seed 0] [--plot loss.png]
"""

from __future__ import annotations

import argparse

from tinygrad_lite import casestudy
from tinygrad_lite.casestudy.protocol import ARTICLE_TRAIN_ACCURACY, ARTICLE_VAL_ACCURACY
from tinygrad_lite.cli import PLOT_FORMATS, int_at_least, path_with_suffix, plot_problem

parser = argparse.ArgumentParser(description="The article's Iris case study with tinygrad_lite.")
parser.add_argument("--steps", type=int_at_least(1), default=100_000, help="training steps (default 100000)")
parser.add_argument("--seed", type=int_at_least(0), default=0, help="seed of the split and weights (default 0)")
parser.add_argument("--plot", metavar="PATH", type=path_with_suffix(PLOT_FORMATS),
                    help="save the error curve, e.g. loss.png")
args = parser.parse_args()
if args.plot and (problem := plot_problem(args.plot)):
    parser.error(problem)  # before training, not after it

result = casestudy.run(seed=args.seed, variant="framework", steps=args.steps)
print(f"{args.steps:,} steps in {result.seconds:.1f} s; "
      f"mean|Y − out| went from {result.history[0]:.4f} to {result.history[-1]:.4f}")
for name, art, cls in (("train", result.art_train, result.cls_train), ("validation", result.art_val, result.cls_val)):
    print(f"{name:>10}: the article's 'accuracy' (1 − mean|Y − out|)·100 = {art:.2f} %,"
          f" classification accuracy = {cls:.0f} %")
print(f"the article prints {ARTICLE_TRAIN_ACCURACY} % / {ARTICLE_VAL_ACCURACY} %, with its own metric, "
      "for an unknown seed")

if args.plot:
    casestudy.plot_history([result], args.plot)
    print(f"error curve written to {args.plot}")
