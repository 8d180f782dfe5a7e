"""Beyond the article: a small ReLU network separates two interleaving half-moons.

The data are generated here in numpy (two noisy half circles, like scikit-learn's ``make_moons``), the network
is ``2 → 16 → 16 → 1`` with ReLU, the loss is binary cross-entropy on the logits, and Adam does the updates.
A straight line cannot separate the moons; the network reaches 100 % training accuracy on the default data, and
``--plot moons.png`` draws its decision boundary.

    python examples/moons.py --plot moons.png
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

import tinygrad_lite as tl
from tinygrad_lite import Tensor, nn, optim
from tinygrad_lite.cli import PLOT_FORMATS, int_at_least, path_with_suffix, plot_problem, positive_float
from tinygrad_lite.nn import functional as F


def make_moons(n: int = 200, noise: float = 0.15, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points on two interleaving half circles with Gaussian noise: ``X`` (n, 2) float32, ``y`` (n,) 0/1.

    Class 0 is the upper moon (centre (0, 0)), class 1 the lower one (centre (1, 0.5)), flipped and shifted so
    each reaches into the other's hollow.
    """
    rs = np.random.RandomState(seed)
    n0 = n // 2
    t0, t1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n - n0)
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    X = np.concatenate([upper, lower]) + rs.normal(scale=noise, size=(n, 2))
    y = np.concatenate([np.zeros(n0), np.ones(n - n0)])
    order = rs.permutation(n)
    return X[order].astype(np.float32), y[order].astype(np.float32)


def build_model(hidden: int = 16) -> nn.Sequential:
    """A multi-layer perceptron with one output: the logit of class 1."""
    return nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))


def train(model: nn.Module, X: np.ndarray, y: np.ndarray, steps: int = 500, lr: float = 0.02) -> list[float]:
    """Full-batch Adam on the mean binary cross-entropy of the logits; returns the loss of every step."""
    X, y = Tensor(X), Tensor(y.reshape(-1, 1))
    opt = optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = F.binary_cross_entropy_with_logits(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@tl.no_grad()
def accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    """Percentage of points on the right side of the boundary (logit > 0 means class 1)."""
    predicted = model(Tensor(X)).numpy()[:, 0] > 0
    return float(np.mean(predicted == (y > 0.5)) * 100)


@tl.no_grad()
def plot_decision_boundary(model: nn.Module, X: np.ndarray, y: np.ndarray, path: str) -> None:
    """The predicted probability of class 1 over the plane, the boundary (p = 0.5), and the points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (x_min, y_min), (x_max, y_max) = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
    gx, gy = np.meshgrid(np.linspace(x_min, x_max, 300), np.linspace(y_min, y_max, 300))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
    prob = model(Tensor(grid)).sigmoid().numpy().reshape(gx.shape)
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=110)
    ax.contourf(gx, gy, prob, levels=20, cmap="RdBu_r", alpha=0.6)
    ax.contour(gx, gy, prob, levels=[0.5], colors="black", linewidths=1.5)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu_r", edgecolors="black", linewidths=0.5, s=18)
    ax.set_title(f"two moons: decision boundary, training accuracy {accuracy(model, X, y):.1f} %")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> float:
    """Train on the moons and return the training accuracy in percent."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int_at_least(2), default=200, help="number of points (default 200)")
    parser.add_argument("--noise", type=float, default=0.15, help="noise standard deviation (default 0.15)")
    parser.add_argument("--steps", type=int_at_least(1), default=500, help="Adam steps, full batch (default 500)")
    parser.add_argument("--lr", type=positive_float, default=0.02, help="learning rate (default 0.02)")
    parser.add_argument("--seed", type=int_at_least(0), default=0, help="seed of the data and the initial weights")
    parser.add_argument("--plot", metavar="PATH", type=path_with_suffix(PLOT_FORMATS),
                        help="save the decision boundary, e.g. moons.png")
    args = parser.parse_args(argv)
    if args.plot and (problem := plot_problem(args.plot)):
        parser.error(problem)  # before training, not after it

    tl.manual_seed(args.seed)
    X, y = make_moons(args.points, args.noise, args.seed)
    model = build_model()
    losses = train(model, X, y, args.steps, args.lr)
    acc = accuracy(model, X, y)
    print(f"two moons: {args.points} points, noise {args.noise}; {args.steps} Adam steps; "
          f"loss {losses[0]:.4f} -> {losses[-1]:.4f}; training accuracy {acc:.1f} %")
    if args.plot:
        plot_decision_boundary(model, X, y, args.plot)
        print(f"decision boundary written to {args.plot}")
    return acc


if __name__ == "__main__":
    main()
