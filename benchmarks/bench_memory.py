"""Memory benchmark: time and peak memory of one layer's ADMM solve as the calibration grows.

What it measures
----------------
One 784-300 ReLU layer (random Gaussian weights, std 1/sqrt(784), intercepts N(0, 0.1))
on P synthetic calibration samples that look like images: ``max(N(0.2, 1), 0)``, so
non-negative with about 58% non-zeros. For every P, a fresh subprocess (so that its
``ru_maxrss`` belongs to that size alone) draws the data, then, with ``tracemalloc``
started AFTER the data exist, builds ``LayerProgram(X, W, kind="relu", epsilon=0.05)``
and solves it with ``solve_layer(program, "admm", max_iter=--max-iter)``. It prints the
build and solve seconds, the iterations (the solve is capped: every iteration allocates
the same temporaries, so the peak is reached within the first ``check_every`` iterations
and seconds per iteration are what grow with P), the tracemalloc peak (numpy reports its
buffers to tracemalloc), the process's ``ru_maxrss`` minus its RSS before the build, and
a prediction from the arrays the code allocates (N = 785 weight rows with the intercept,
M = 300 outputs)::

    bytes ~ 8 * (3 P N + 15 P M + 4 N^2)

counted in ``_program.py``, ``_solvers/__init__.py`` and ``_solvers/admm.py`` (float64):

* 3 P x N: ``LayerProgram.A`` (``[X, 1]``), the copy ``program.restricted`` takes with a
  boolean row mask (even when every row is kept) and ADMM's column-scaled copy of A;
* 15 P x M: the program's Y and the restricted copy of Y; ADMM's constraint set stores
  ``on``, ``off`` (float masks) and ``Y * on``; the iterates AU, D, work, Z, Lz; and, in
  every residual check, Z_old, ``AU - Z``, ``Z - Z_old`` and the 2-wide ``hstack``;
* 4 N x N: the Gram matrix, the identity, its Cholesky solve and the symmetrised inverse.

A sample-by-sample (P x P) array would show as a peak growing with P squared.

The table and a figure (peak memory against P, measured and predicted) are also written
to ``benchmarks/results/memory.json`` and ``memory.png`` for the documentation.

How to run
----------
::

    python benchmarks/bench_memory.py                   # P = 1k, 10k, 50k (about 2 min, 2.7 GB)
    python benchmarks/bench_memory.py --quick           # P = 1k, 10k
    python benchmarks/bench_memory.py --sizes 2000 20000 --max-iter 100
"""

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np
from _results import RESULTS_DIR, environment_line, save_figure, save_results

from sklearn_nettrim._program import LayerProgram
from sklearn_nettrim._solvers import solve_layer

N_INPUTS, N_OUTPUTS = 784, 300
SIZES = (1_000, 10_000, 50_000)
QUICK_SIZES = (1_000, 10_000)
MB = 2.0 ** 20


def predicted_bytes(P, N=N_INPUTS + 1, M=N_OUTPUTS):
    return 8 * (3 * P * N + 15 * P * M + 4 * N * N)


def rss_bytes():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def measure(P, max_iter, seed=0):
    """Run in the child: one size, returned as a dict."""
    rng = np.random.RandomState(seed)
    X = np.maximum(rng.normal(0.2, 1.0, size=(P, N_INPUTS)), 0)
    W = np.vstack([rng.normal(0, 1 / np.sqrt(N_INPUTS), size=(N_INPUTS, N_OUTPUTS)),
                   rng.normal(0, 0.1, size=(1, N_OUTPUTS))])
    rss_before = rss_bytes()
    tracemalloc.start()
    start = time.perf_counter()
    program = LayerProgram(X, W, kind="relu", epsilon=0.05)
    build = time.perf_counter() - start
    solution = solve_layer(program, "admm", max_iter=max_iter, warn=False)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux
    return {"P": P, "build": build, "solve": solution.seconds, "n_iter": solution.n_iter,
            "converged": solution.converged, "violation": solution.check.violation,
            "peak": peak, "rss": maxrss - rss_before, "data": X.nbytes}


def plot_memory(results, path):
    """Peak memory against P, measured and predicted, on log axes (None without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no figure.")
        return None
    sizes = [r["P"] for r in results]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(sizes, [r["peak"] / MB for r in results], "o-", label="tracemalloc peak")
    ax.plot(sizes, [r["rss"] / MB for r in results], "s--", label="maxrss growth")
    ax.plot(sizes, [predicted_bytes(P) / MB for P in sizes], "k:",
            label="predicted 8(3PN + 15PM + 4N^2)")
    ax.plot(sizes, [r["data"] / MB for r in results], "^-", color="C7", label="X itself")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("calibration samples P")
    ax.set_ylabel("MB")
    ax.set_title(f"One {N_INPUTS}-{N_OUTPUTS} ReLU layer, ADMM")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="P = 1k and 10k only")
    parser.add_argument("--sizes", type=int, nargs="+", default=None,
                        help=f"calibration sizes (default {list(SIZES)})")
    parser.add_argument("--max-iter", type=int, default=50,
                        help="ADMM iteration cap (default 50; the peak comes in the first 10)")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(measure(args.child, args.max_iter)))
        return

    sizes = args.sizes or (QUICK_SIZES if args.quick else SIZES)
    start = time.perf_counter()
    print(environment_line())
    print(f"Net-Trim memory benchmark (python {sys.version.split()[0]}): one"
          f" {N_INPUTS}-{N_OUTPUTS} ReLU layer, ADMM capped at {args.max_iter} iterations,"
          " one subprocess per size\n")
    print("   predicted = 8 * (3 P N + 15 P M + 4 N^2) bytes, N = 785, M = 300; peak ="
          " tracemalloc peak after the data exist; maxrss = ru_maxrss - RSS before the"
          " build; X = the input data itself (not counted in either)")
    header = (f"{'P':>7}  {'build s':>7}  {'solve s':>7}  {'it':>4}  {'s/iter':>7}"
              f"  {'viol':>8}  {'peak MB':>8}  {'maxrss MB':>9}  {'predicted MB':>12}"
              f"  {'peak/pred':>9}  {'X MB':>6}  {'peak/P kB':>9}")
    print("   " + header)
    print("   " + "-" * len(header))
    results, rows = [], []
    for P in sizes:
        child = subprocess.run(
            [sys.executable, __file__, "--child", str(P), "--max-iter", str(args.max_iter)],
            capture_output=True, text=True, check=True)
        r = json.loads(child.stdout.strip().splitlines()[-1])
        predicted = predicted_bytes(P)
        iters = f"{r['n_iter']}" + ("" if r["converged"] else "!")
        print(f"   {P:>7}  {r['build']:>7.2f}  {r['solve']:>7.2f}  {iters:>4}"
              f"  {r['solve'] / max(r['n_iter'], 1):>7.4f}  {r['violation']:>8.1e}"
              f"  {r['peak'] / MB:>8.1f}  {r['rss'] / MB:>9.1f}  {predicted / MB:>12.1f}"
              f"  {r['peak'] / predicted:>9.2f}  {r['data'] / MB:>6.1f}"
              f"  {r['peak'] / P / 1024:>9.2f}", flush=True)
        results.append(r)
        rows.append([P, round(r["build"], 3), round(r["solve"], 3), iters,
                     r["solve"] / max(r["n_iter"], 1), r["violation"], r["peak"] / MB,
                     r["rss"] / MB, predicted / MB, r["peak"] / predicted, r["data"] / MB,
                     r["peak"] / P / 1024])
    print("\n   'it' ends with ! when the cap stopped ADMM before convergence; viol is the"
          " relative constraint violation reached. A constant peak/P means linear growth.")
    seconds = time.perf_counter() - start
    print(f"\ntotal wall time: {seconds:.0f}s")

    figure = plot_memory(results, RESULTS_DIR / "memory.png") if len(results) > 1 else None
    save_results(
        "memory",
        title="Memory: one layer's ADMM solve as the calibration data grows",
        description=(
            f"One {N_INPUTS}-{N_OUTPUTS} ReLU layer (random Gaussian weights) on P synthetic,"
            " image-like calibration samples, solved by ADMM at ``epsilon=0.05`` with"
            f" ``max_iter={args.max_iter}`` (the peak is reached within the first"
            " iterations), each size in a fresh subprocess. *peak* is the tracemalloc peak"
            " after the data exist, *maxrss* the growth of the process's resident memory,"
            " *predicted* the upper count of the arrays in this script's docstring,"
            " ``8 * (3 P N + 15 P M + 4 N^2)`` bytes with N = 785 and M = 300"
            " (*peak/predicted* shows how much of it is really allocated). A constant"
            " peak per sample means memory grows linearly with P: no P x P array."),
        tables=[{
            "title": "Time and peak memory per calibration size",
            "columns": ["P", "build s", "solve s", "iterations", "s/iter", "violation",
                        "peak MB", "maxrss MB", "predicted MB", "peak/predicted", "X MB",
                        "peak/P kB"],
            "rows": rows,
            "note": ("Iterations ending in ! hit the cap before convergence (the cap bounds"
                     " the time; memory is reached early). *violation* is the relative"
                     " constraint violation reached."),
        }],
        figures=[figure.name] if figure is not None else [],
        data={"sizes": list(sizes), "max_iter": args.max_iter, "results": results,
              "total_seconds": seconds})


if __name__ == "__main__":
    main()
