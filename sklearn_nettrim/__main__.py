"""``python -m sklearn_nettrim``: train an MLP on digits, prune it to target sizes, report.

At each target sparsity, Net-Trim with its defaults (``NetTrimTransformer(
FrozenEstimator(mlp), target_sparsity=s)``: cascade mode, support refinement, magnitude
split) beside the honest baseline (:func:`~sklearn_nettrim.magnitude_prune`: global
magnitude threshold and sequential least-squares refit), then Net-Trim at a few fixed
epsilons.

Uses only data that ships with scikit-learn; about 17 seconds on 2 idle cores.
"""

import argparse
import time
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from ._certificate import check_certificate
from ._transformer import NetTrimTransformer
from .baseline import magnitude_prune


def _row(method, network, sparsity, accuracy, seconds, certified):
    nnz = " ".join(str(int((W != 0).sum())) for W in network.coefs_)
    return (f"{method:>22} | {nnz:>14} | {sparsity:>8.1%} | {accuracy:>8.4f} |"
            f" {seconds:>7.2f} | {certified}")


def _nettrim_row(method, mlp, X_train, X_test, y_test, **params):
    """Net-Trim with its defaults and ``params``, pruned on ``X_train``: a table row."""
    start = time.perf_counter()
    trim = NetTrimTransformer(FrozenEstimator(mlp), **params).fit(X_train)
    seconds = time.perf_counter() - start
    certified = all(c["certified"] for c in check_certificate(trim, X_train))
    return _row(method, trim.estimator_, trim.sparsity_, trim.score(X_test, y_test), seconds,
                certified)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sklearn_nettrim", description=__doc__)
    parser.add_argument("--targets", type=float, nargs="+", default=[0.9, 0.95],
                        help="target sparsities (fractions of zero weights)")
    parser.add_argument("--epsilons", type=float, nargs="*", default=[0.1, 0.3],
                        help="fixed relative tolerances to prune at, with the defaults")
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, test_size=0.3, random_state=0, stratify=y)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Stochastic Optimizer",
                                category=ConvergenceWarning)  # the MLP's own training
        mlp = MLPClassifier(hidden_layer_sizes=(128, 64), max_iter=300,
                            random_state=0).fit(X_train, y_train)
    shapes = " ".join(f"{W.shape[0]}x{W.shape[1]}" for W in mlp.coefs_)
    before = mlp.score(X_test, y_test)
    print(f"digits: {X_train.shape[0]} train / {X_test.shape[0]} test images;"
          f" MLP {shapes} trained in {time.perf_counter() - start:.1f}s;"
          f" test accuracy {before:.4f}. Calibration data: the training images.\n")
    header = (f"{'method':>22} | {'nnz per layer':>14} | {'sparsity':>8} | {'accuracy':>8} |"
              f" {'seconds':>7} | certified")
    print(header)
    print("-" * len(header))
    for target in args.targets:
        print(_nettrim_row(f"Net-Trim, target {target:g}", mlp, X_train, X_test, y_test,
                           target_sparsity=target))
        start = time.perf_counter()
        baseline = magnitude_prune(mlp, X_train, target_sparsity=target)
        seconds = time.perf_counter() - start
        zeros = sum(int((W == 0).sum()) for W in baseline.coefs_)
        total = sum(W.size for W in baseline.coefs_)
        print(_row(f"baseline, target {target:g}", baseline, zeros / total,
                   baseline.score(X_test, y_test), seconds, "no bound"))
    for epsilon in args.epsilons:
        print(_nettrim_row(f"Net-Trim, epsilon {epsilon:g}", mlp, X_train, X_test, y_test,
                           epsilon=epsilon))
    total = " ".join(str(W.size) for W in mlp.coefs_)
    print(f"\n(weights per layer before pruning: {total}; intercepts are not counted."
          " Net-Trim's defaults: mode='cascade', polish='refine', allocation 'magnitude';"
          " 'certified': every layer's output bound verified by check_certificate on the"
          " calibration data. The baseline carries no bound.)")


if __name__ == "__main__":
    main()
