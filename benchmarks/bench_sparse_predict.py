"""Sparse-prediction benchmark: dense ``coefs_`` against CSR ``coefs_`` by sparsity.

What it measures
----------------
``NetTrimTransformer.sparsify()`` stores the pruned network's ``coefs_`` as CSR matrices;
scikit-learn's forward pass then multiplies with ``safe_sparse_dot``. This prints the
``predict`` time of the same network with dense and with CSR weights (timeit-style: the
number of calls per measurement from ``Timer.autorange``, the best of ``--repeat``
measurements, per call) and the ratio dense/sparse (> 1: sparse is faster), for batches
of 1 and 1000 rows, to show at which sparsity sparse storage starts to pay. Predictions
are checked to agree. Two parts:

* ``pruned``: the digits MLP 64-128-64-10 (X/16, trained on all 1797 rows) pruned by
  ``NetTrimTransformer(FrozenEstimator(mlp), epsilon=e, n_jobs=1)`` at a sweep of
  epsilons; the sparse copy is made by ``sparsify()`` itself. Digits layers are small,
  so per-call overhead weighs heavily here.
* ``synthetic``: a 784-300-100-10 ``MLPClassifier`` (its random initial weights; the
  estimator is fitted for one epoch on random data only to exist) with magnitude masks
  keeping the largest ``|w|`` of every layer at 50, 80, 90, 95, 98 and 99% sparsity; the
  sparse copy gets ``scipy.sparse.csr_matrix`` of each layer, which is what
  ``sparsify()`` stores. Inputs are MNIST-like: values in [0, 1], about 20% non-zero.

How to run
----------
::

    python benchmarks/bench_sparse_predict.py            # both parts (about 3 min)
    python benchmarks/bench_sparse_predict.py --quick    # fewer points, fewer repeats
"""

import argparse
import copy
import sys
import time
import timeit
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.neural_network import MLPClassifier

from sklearn_nettrim import NetTrimTransformer

BATCH_SIZES = (1, 1000)
EPSILONS = (0.05, 0.2, 0.4, 0.6, 0.8)
QUICK_EPSILONS = (0.05, 0.4, 0.8)
SPARSITIES = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99)
QUICK_SPARSITIES = (0.5, 0.9, 0.99)
SHAPE = (784, 300, 100, 10)


def best_seconds(func, X, repeat):
    """Seconds per call of ``func(X)``: best of ``repeat`` measurements (timeit style)."""
    timer = timeit.Timer(lambda: func(X))
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=repeat, number=number)) / number


def batches(X, rng):
    return {size: X[rng.choice(X.shape[0], size=size, replace=size > X.shape[0])]
            for size in BATCH_SIZES}


HEADER = (f"{'batch':>5}  {'dense ms':>9}  {'sparse ms':>9}  {'dense/sparse':>12}"
          "  same predictions")


def compare(dense, sparse, X_batches, repeat):
    """One line per batch size: dense and sparse predict times and their ratio."""
    lines = []
    for size, X in X_batches.items():
        same = bool(np.allclose(dense.predict_proba(X), sparse.predict_proba(X)))
        t_dense = best_seconds(dense.predict, X, repeat)
        t_sparse = best_seconds(sparse.predict, X, repeat)
        lines.append(f"{size:>5}  {1e3 * t_dense:>9.3f}  {1e3 * t_sparse:>9.3f}"
                     f"  {t_dense / t_sparse:>11.2f}x  {'yes' if same else 'NO'}")
    return lines


def pruned_part(epsilons, repeat, rng):
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(hidden_layer_sizes=(128, 64), max_iter=300,
                            random_state=0).fit(X, y)
    X_batches = batches(X, rng)
    print("== pruned: digits MLP 64-128-64-10 pruned by NetTrimTransformer, then"
          " sparsify(); per-layer sparsity in brackets")
    print(f"   {'epsilon':>7}  {'sparsity':>8}  {'per layer':<22}  " + HEADER)
    for epsilon in epsilons:
        trim = NetTrimTransformer(FrozenEstimator(mlp), epsilon=epsilon, n_jobs=1).fit(X)
        sparse = copy.deepcopy(trim)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "less than 90% sparse"
            sparse.sparsify()
        layers = " ".join(f"{r['sparsity']:.0%}" for r in trim.layer_stats_)
        for k, line in enumerate(compare(trim, sparse, X_batches, repeat)):
            lead = (f"{epsilon:>7.2f}  {trim.sparsity_:>8.1%}  [{layers}]" if k == 0
                    else f"{'':>7}  {'':>8}  {'':<2}")
            print(f"   {lead:<41}  {line}", flush=True)
    print()


def synthetic_network(rng):
    """A fitted 784-300-100-10 MLPClassifier with its random initial weights."""
    X = rng.random_sample((200, SHAPE[0]))
    y = np.arange(200) % SHAPE[-1]
    mlp = MLPClassifier(hidden_layer_sizes=SHAPE[1:-1], max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return mlp.fit(X, y)


def magnitude_masked(mlp, sparsity):
    """A copy keeping the largest (1 - sparsity) fraction of |w| in every layer."""
    masked = copy.deepcopy(mlp)
    coefs = []
    for W in mlp.coefs_:
        keep = max(round((1 - sparsity) * W.size), 1)
        threshold = np.partition(np.abs(W).ravel(), W.size - keep)[W.size - keep]
        coefs.append(np.where(np.abs(W) >= threshold, W, 0))
    masked.coefs_ = coefs
    return masked


def synthetic_part(sparsities, repeat, rng):
    mlp = synthetic_network(rng)
    X = rng.random_sample((5000, SHAPE[0])) * (rng.random_sample((5000, SHAPE[0])) < 0.2)
    X_batches = batches(X, rng)
    print(f"== synthetic: MLP {'-'.join(map(str, SHAPE))}, magnitude masks per layer;"
          " CSR copy as stored by sparsify()")
    print(f"   {'sparsity':>8}  " + HEADER)
    for sparsity in sparsities:
        dense = magnitude_masked(mlp, sparsity)
        sparse = copy.deepcopy(dense)
        sparse.coefs_ = [sp.csr_matrix(W) for W in dense.coefs_]
        for k, line in enumerate(compare(dense, sparse, X_batches, repeat)):
            lead = f"{sparsity:>8.0%}" if k == 0 else " " * 8
            print(f"   {lead}  {line}", flush=True)
    print()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer epsilons and sparsities, 3 repeats")
    parser.add_argument("--repeat", type=int, default=None,
                        help="measurements per timing, the best is kept (default 7, quick 3)")
    args = parser.parse_args(argv)
    repeat = args.repeat or (3 if args.quick else 7)

    start = time.perf_counter()
    rng = np.random.RandomState(0)
    print(f"Net-Trim sparse prediction benchmark (python {sys.version.split()[0]}):"
          f" predict() seconds per call, best of {repeat}\n")
    pruned_part(QUICK_EPSILONS if args.quick else EPSILONS, repeat, rng)
    synthetic_part(QUICK_SPARSITIES if args.quick else SPARSITIES, repeat, rng)
    print(f"total wall time: {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()
