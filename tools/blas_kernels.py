"""Play several CPUs on one machine: run the trajectory tests, or measure the case study, under each BLAS kernel.

A 100,000-step training run amplifies the last bit of every rounding, and the order of rounding inside a matrix
product is chosen by OpenBLAS per CPU: its *kernel*. The environment variable ``OPENBLAS_CORETYPE`` forces a
kernel, so one machine can reproduce what another CPU computes. This script runs each kernel that this CPU can
execute (at least Prescott, Nehalem, Sandybridge, Haswell and Zen; SkylakeX and Cooperlake where the CPU has
AVX-512) in its own process:

    python tools/blas_kernels.py tests                 # pytest -m trajectory under each kernel: a results table
    python tools/blas_kernels.py tests -- -k corrected  # more pytest arguments go after --
    python tools/blas_kernels.py figures --seeds 0-9   # the case study's figures: their spread over the kernels

``tests`` exits non-zero when any kernel fails, or when a run did not use the kernel it asked for (OpenBLAS
ignores a name it does not know; another BLAS library ignores the variable). ``figures`` prints, for every seed,
variant and figure, the smallest and largest value over the kernels, in the precision docs/iris.md shows them;
that is how the tables of docs/iris.md and docs/article.md were made (``--save DIR`` keeps each kernel's raw
figures as JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: OpenBLAS kernels of x86-64 CPUs, each with the CPU flags (as /proc/cpuinfo names them) it executes on.
KERNELS = {
    "Prescott": {"pni"},  # SSE3
    "Nehalem": {"sse4_2"},
    "Sandybridge": {"avx"},
    "Haswell": {"avx2", "fma"},
    "Zen": {"avx2", "fma"},
    "SkylakeX": {"avx512f", "avx512dq", "avx512bw", "avx512vl", "avx512cd"},
    "Cooperlake": {"avx512f", "avx512dq", "avx512bw", "avx512vl", "avx512cd", "avx512_bf16"},
}


#: What OpenBLAS reports (threadpoolctl's ``architecture``) when a kernel is forced: some share another's code.
REPORTED_AS = {"Prescott": {"Prescott", "Katmai"}, "Zen": {"Zen", "Haswell"}, "Cooperlake": {"Cooperlake", "SkylakeX"}}


def kernel_was_used(requested: str | None, reported: str) -> bool:
    """Whether the kernel a run reported is the one it asked for: OpenBLAS silently ignores a name it does not
    know, and a numpy built on another BLAS ignores the variable altogether, which would make a check pass
    without checking anything."""
    return requested is None or reported in REPORTED_AS.get(requested, {requested})


def runnable_kernels() -> list[str]:
    """The kernels of :data:`KERNELS` this CPU can execute; empty off x86-64 Linux (only the default runs)."""
    if platform.machine() not in ("x86_64", "AMD64") or not Path("/proc/cpuinfo").exists():
        return []
    flags: set[str] = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    return [name for name, needs in KERNELS.items() if needs <= flags]


def _env(kernel: str | None) -> dict[str, str]:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONHASHSEED="0")
    if kernel is not None:
        env["OPENBLAS_CORETYPE"] = kernel
    return env


def _run(argv: list[str], kernel: str | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, env=_env(kernel), capture_output=True, text=True, check=False)


def _in_parallel(fn, kernels: list[str | None]) -> list:
    """``fn(kernel)`` for each kernel, as many at a time as there are cores (each process is single-threaded)."""
    with ThreadPoolExecutor(max_workers=max(1, min(len(kernels), os.cpu_count() or 1))) as pool:
        return list(pool.map(fn, kernels))


# ------------------------------------------------------------------------------------------------ tests


def _blas_line(output: str) -> str:
    """The BLAS library and kernel the run really used, from the header line tests/conftest.py prints."""
    for line in output.splitlines():
        if line.startswith("BLAS:"):
            return line.removeprefix("BLAS:").strip()
    return "?"


def _kernel_of(blas: str) -> str:
    """``Haswell`` from ``openblas 0.3.31, kernel Haswell``; ``?`` when no OpenBLAS kernel is named."""
    return blas.rpartition("kernel ")[2] if "kernel " in blas else "?"


def _summary_line(output: str) -> str:
    lines = [line.strip("= ") for line in output.splitlines() if line.startswith("=")]
    return lines[-1] if lines else "no summary"


def run_tests(kernels: list[str | None], pytest_args: list[str]) -> int:
    argv = [sys.executable, "-m", "pytest", "-m", "trajectory", "-p", "no:cacheprovider", *pytest_args]
    results = _in_parallel(lambda k: _run(argv, k), kernels)
    print(f"{'OPENBLAS_CORETYPE':<18} {'kernel in use':<40} result")
    failed = 0
    for kernel, proc in zip(kernels, results, strict=True):
        blas = _blas_line(proc.stdout)
        print(f"{kernel or '(default)':<18} {blas:<40} {_summary_line(proc.stdout)}")
        if not kernel_was_used(kernel, _kernel_of(blas)):
            failed += 1
            sys.stderr.write(f"\n--- {kernel}: the run used {blas!r}, not the kernel it asked for ---\n")
        elif proc.returncode != 0:
            failed += 1
            sys.stderr.write(f"\n--- {kernel or 'default'} failed (exit {proc.returncode}) ---\n")
            sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-2000:])
    print(f"kernels: {len(kernels) - failed} passed, {failed} failed")
    return 1 if failed else 0


# ---------------------------------------------------------------------------------------------- figures


def measure(seeds: list[int], variants: list[str], steps: int) -> dict:
    """The five figures of each (seed, variant) run in this process, with the kernel it used."""
    from tinygrad_lite import casestudy

    runs = [[seed, variant, *casestudy.run(seed, variant, steps).figures] for seed in seeds for variant in variants]
    return {"kernel": _kernel_in_use(), "runs": runs}


def _kernel_in_use() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "?"
    import numpy  # noqa: F401 - threadpoolctl sees only the libraries already loaded

    names = [f"{i['internal_api']} {i.get('version')}, kernel {i.get('architecture')}" for i in threadpool_info()
             if i["user_api"] == "blas"]
    return ", ".join(names) or "?"


def _span(figure: str, values: list[float]) -> str:
    """``a`` when every kernel shows the same figure at the precision the tables use, else ``a–b``."""
    from tinygrad_lite.casestudy.report import format_figure

    lo, hi = format_figure(figure, min(values)), format_figure(figure, max(values))
    return lo if lo == hi else f"{lo}–{hi}"


def spread_tables(measured: list[dict]) -> str:
    """Markdown: per (seed, variant) the span of each figure over the kernels; then, per variant, the span of
    the min / median / max over the seeds."""
    import numpy as np

    from tinygrad_lite.casestudy.report import FIGURES

    by_run: dict[tuple[int, str], list[list[float]]] = {}
    for m in measured:
        for seed, variant, *figures in m["runs"]:
            by_run.setdefault((seed, variant), []).append(figures)
    lines = ["kernels: " + "; ".join(m["kernel"] for m in measured), "",
             "| seed | variant | " + " | ".join(FIGURES) + " |", "|---" * (2 + len(FIGURES)) + "|"]
    for (seed, variant), per_kernel in sorted(by_run.items()):
        cells = [_span(f, [k[i] for k in per_kernel]) for i, f in enumerate(FIGURES)]
        lines.append(f"| {seed} | {variant} | " + " | ".join(cells) + " |")
    lines += ["", "| variant | " + " | ".join(FIGURES) + " |", "|---" * (1 + len(FIGURES)) + "|"]
    for variant in dict.fromkeys(v for _, v in by_run):
        seeds = sorted(s for s, v in by_run if v == variant)
        cells = []
        for i, figure in enumerate(FIGURES):
            # one (seeds × kernels) array; each statistic over the seeds, then its span over the kernels
            values = np.array([[k[i] for k in by_run[(s, variant)]] for s in seeds])
            stats = (values.min(axis=0), np.median(values, axis=0), values.max(axis=0))
            cells.append(" / ".join(_span(figure, list(s)) for s in stats))
        lines.append(f"| {variant} (seeds {seeds[0]}–{seeds[-1]}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_figures(kernels: list[str | None], seeds: str, variants: str, steps: int, save: Path | None) -> int:
    argv = [sys.executable, __file__, "_measure", "--seeds", seeds, "--variants", variants, "--steps", str(steps)]
    procs = _in_parallel(lambda k: _run(argv, k), kernels)
    measured = []
    for kernel, proc in zip(kernels, procs, strict=True):
        if proc.returncode != 0:
            sys.stderr.write(f"{kernel}: measuring failed\n{proc.stderr[-3000:]}")
            return 1
        measured.append(json.loads(proc.stdout))
        if not kernel_was_used(kernel, _kernel_of(measured[-1]["kernel"])):
            sys.stderr.write(f"{kernel}: the run used {measured[-1]['kernel']!r}, not the kernel it asked for\n")
            return 1
        if save is not None:
            save.mkdir(parents=True, exist_ok=True)
            (save / f"{kernel or 'default'}.json").write_text(proc.stdout)
    print(spread_tables(measured))
    return 0


# ------------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))
    from tinygrad_lite.cli import parse_seeds

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kernels", help="comma-separated kernels (default: every one this CPU executes)")
    sub = parser.add_subparsers(dest="mode", required=True)
    tests = sub.add_parser("tests", help="pytest -m trajectory under each kernel")
    tests.add_argument("pytest_args", nargs="*", help="more pytest arguments")
    for name in ("figures", "_measure"):
        p = sub.add_parser(name, help="the case study's figures and their spread over the kernels"
                           if name == "figures" else argparse.SUPPRESS)
        p.add_argument("--seeds", default="0-9")
        p.add_argument("--variants", default="framework,corrected,article")
        p.add_argument("--steps", type=int, default=100_000)
        if name == "figures":
            p.add_argument("--save", type=Path, help="keep each kernel's raw figures as JSON in this folder")
    args = parser.parse_args(argv)

    if args.mode == "_measure":
        print(json.dumps(measure(parse_seeds(args.seeds), args.variants.split(","), args.steps)))
        return 0
    kernels: list[str | None] = args.kernels.split(",") if args.kernels else list(runnable_kernels())
    if not kernels:
        print("not an x86-64 Linux machine: only the default BLAS kernel runs")
        kernels = [None]
    elif not _kernel_in_use().startswith("openblas"):
        print(f"numpy's BLAS is not OpenBLAS ({_kernel_in_use()}): kernels cannot be forced; only the default runs")
        kernels = [None]
    if args.mode == "tests":
        return run_tests(kernels, args.pytest_args)
    return run_figures(kernels, args.seeds, args.variants, args.steps, args.save)


if __name__ == "__main__":
    sys.exit(main())
