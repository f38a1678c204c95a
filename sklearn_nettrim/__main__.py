"""``python -m sklearn_nettrim``: train an MLP on digits, prune it at a few epsilons, report.

Both modes, parallel and cascade, at each epsilon; then once to a target size.

Uses only data that ships with scikit-learn; runs in well under a minute on 2 cores.
"""

import argparse
import time
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from ._transformer import NetTrimTransformer


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sklearn_nettrim", description=__doc__)
    parser.add_argument("--epsilons", type=float, nargs="+", default=[0.05, 0.1, 0.2, 0.3, 0.5])
    parser.add_argument("--modes", choices=["parallel", "cascade"], nargs="+",
                        default=["parallel", "cascade"])
    parser.add_argument("--no-polish", action="store_true", help="skip polishing")
    parser.add_argument("--target", type=float, default=0.9,
                        help="target sparsity of the last run (0 skips it)")
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, test_size=0.3, random_state=0, stratify=y)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(hidden_layer_sizes=(128, 64), max_iter=300,
                            random_state=0).fit(X_train, y_train)
    shapes = " ".join(f"{W.shape[0]}x{W.shape[1]}" for W in mlp.coefs_)
    print(f"digits: {X_train.shape[0]} train / {X_test.shape[0]} test images;"
          f" MLP {shapes} trained in {time.perf_counter() - start:.1f}s;"
          f" test accuracy {mlp.score(X_test, y_test):.4f}")
    polish = False if args.no_polish else "output"
    print(f"Net-Trim, polish={polish!r}, calibration data = the training images\n")
    header = (f"{'mode':>8} | {'epsilon':>7} | {'nnz per layer':>18} | {'sparsity':>8} |"
              f" {'acc before':>10} | {'acc after':>9} | {'seconds':>7}")
    print(header)
    print("-" * len(header))
    before = mlp.score(X_test, y_test)
    for mode in args.modes:
        for epsilon in args.epsilons:
            start = time.perf_counter()
            trim = NetTrimTransformer(FrozenEstimator(mlp), epsilon=epsilon, mode=mode,
                                      polish=polish).fit(X_train)
            seconds = time.perf_counter() - start
            nnz = " ".join(str(r["nnz_after"]) for r in trim.layer_stats_)
            print(f"{mode:>8} | {epsilon:>7.3f} | {nnz:>18} | {trim.sparsity_:>8.1%} |"
                  f" {before:>10.4f} | {trim.score(X_test, y_test):>9.4f} | {seconds:>7.2f}")
    total = " ".join(str(W.size) for W in mlp.coefs_)
    print(f"\n(weights per layer before pruning: {total}; intercepts are not counted."
          " Cascade prunes each layer on the pruned layers before it: at high epsilon it"
          " keeps far more accuracy at the same sparsity.)")
    if args.target:
        start = time.perf_counter()
        trim = NetTrimTransformer(FrozenEstimator(mlp), target_sparsity=args.target,
                                  mode="cascade", polish=polish).fit(X_train)
        nnz = " ".join(str(r["nnz_after"]) for r in trim.layer_stats_)
        print(f"\ncascade, target_sparsity={args.target:g}: nnz per layer {nnz},"
              f" sparsity {trim.sparsity_:.1%}, test accuracy {trim.score(X_test, y_test):.4f}"
              f" (unpruned {before:.4f}), {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    main()
