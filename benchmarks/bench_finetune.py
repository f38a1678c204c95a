"""Fine-tuning benchmark: label-free, masked fine-tuning after Net-Trim and after magnitude.

What it measures
----------------
The MNIST-5k network of ``_networks`` (784-300-100-10, trained on the first 4000 rows of
:func:`_networks.mnist_5k`, tested on the last 1000) is pruned by ``NetTrimTransformer``
with the package's defaults (cascade mode, ``polish="refine"``; ``--mode`` and ``--polish``
change them) to target sizes of 95% and 98% (``--targets``; or ``--epsilons``). Each pruned network is then fine-tuned towards the ORIGINAL network's
class probabilities on the 4000 calibration rows (no labels), zeros kept, with the code
path of ``fine_tune=E`` (``_finetune.fine_tune_weights``, Adam, learning rate 1e-2 unless
``--learning-rate``, batch 200, ``random_state=0``). The test accuracy is read after 0, 5, 20 and 50 epochs of ONE
50-epoch run: the first ``k`` epochs of a run are exactly a ``fine_tune=k`` run (same
permutations, same Adam steps; tests/test_finetune.py checks it), so the seconds at epoch
``k`` are what ``fine_tune=k`` adds to the pruning.

As the authors' evaluation does, the magnitude baseline is fine-tuned the same way: per
layer the largest ``|w|`` of ``coefs_`` are kept, exactly Net-Trim's per-layer nnz
(intercepts kept), then the same fine-tuning from the same masked weights.

How to run
----------
::

    python benchmarks/bench_finetune.py                       # 95% and 98%, the defaults
    python benchmarks/bench_finetune.py --targets 0.9 --epochs 5 20
    python benchmarks/bench_finetune.py --epsilons 0.6 --polish feasible --learning-rate 1e-3 \
        --name finetune_feasible                    # a fixed epsilon, another polish and step
"""

import argparse
import time
import warnings

import numpy as np
from _networks import load_network, mnist_5k
from _results import environment_line, save_results
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator

from sklearn_nettrim import NetTrimTransformer
from sklearn_nettrim._finetune import fine_tune_weights, forward, original_outputs
from sklearn_nettrim._network import stacked_weights

DEFAULT_TARGETS = (0.95, 0.98)
DEFAULT_EPOCHS = (5, 20, 50)
BATCH_SIZE, SEED = 200, 0


def accuracy(weights, mlp, X, y):
    proba = forward(weights, X, mlp.activation, mlp.out_activation_)[-1]
    return float(np.mean(mlp.classes_[proba.argmax(axis=1)] == y))


def magnitude_mask(mlp, nnz):
    """Per layer, the ``nnz`` largest |w| of coefs_ kept, intercepts kept (stacked)."""
    pruned = []
    for Wb, k in zip(stacked_weights(mlp), nnz):
        body = Wb[:-1]
        keep = np.zeros(body.size, dtype=bool)
        keep[np.argsort(np.abs(body), axis=None)[::-1][:k]] = True
        pruned.append(np.vstack([body * keep.reshape(body.shape), Wb[-1:]]))
    return pruned


def fine_tune_curve(mlp, weights, X_train, X_test, y_test, epochs, learning_rate):
    """Test accuracy and cumulative seconds after each epoch in ``epochs`` of one run."""
    targets = original_outputs(mlp, X_train)
    marks = {0: (accuracy(weights, mlp, X_test, y_test), 0.0)}
    start = time.perf_counter()

    def record(epoch, W, loss):
        if epoch in epochs:
            elapsed = time.perf_counter() - start
            marks[epoch] = (accuracy(W, mlp, X_test, y_test), elapsed)
            print(f"      epoch {epoch:3d}: test accuracy {marks[epoch][0]:.4f},"
                  f" distillation loss {loss:.4f}, {elapsed:.1f}s", flush=True)

    _, losses = fine_tune_weights(
        weights, X_train, targets, hidden=mlp.activation, output=mlp.out_activation_,
        epochs=max(epochs), learning_rate=learning_rate, batch_size=BATCH_SIZE,
        random_state=SEED, callback=record)
    return marks, losses


def report(unpruned, columns, rows, runs, mode, learning_rate, name, polish):
    print(f"\n   unpruned {unpruned:.4f}")
    print("   " + " | ".join(columns))
    for row in rows:
        print("   " + " | ".join("-" if c is None else str(c) for c in row))
    note = (f"Unpruned test accuracy {unpruned:.4f}. Fine-tuning: Adam, learning rate"
            f" {learning_rate}, batch {BATCH_SIZE}, random_state {SEED}, towards the"
            " original network's probabilities on the 4000 calibration rows (no labels);"
            " accuracies at k epochs are the first k epochs of one run (identical to"
            " fine_tune=k). 'prune s' is the Net-Trim fit; 's k ep' the fine-tuning"
            " seconds added. The magnitude rows keep Net-Trim's per-layer nnz.")
    save_results(
        name,
        title="Label-free fine-tuning after pruning (MNIST-5k, 784-300-100-10)",
        description=(f"Test accuracy of Net-Trim ({mode}, polish={polish!r}) and of magnitude"
                     " pruning at the same per-layer nnz, before and after masked"
                     " fine-tuning towards the original network's outputs."),
        tables=[{"title": "Test accuracy after k epochs of fine-tuning", "columns": columns,
                 "rows": rows, "note": note}],
        data={"unpruned_accuracy": unpruned, "mode": mode, "runs": runs,
              "learning_rate": learning_rate, "batch_size": BATCH_SIZE, "polish": polish})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epsilons", type=float, nargs="+", default=None,
                        help="prune at these epsilons instead of --targets")
    parser.add_argument("--epochs", type=int, nargs="+", default=DEFAULT_EPOCHS)
    parser.add_argument("--mode", default="cascade", choices=["parallel", "cascade"])
    parser.add_argument("--learning-rate", type=float, default=1e-2)
    parser.add_argument("--name", default="finetune", help="results file stem")
    parser.add_argument("--targets", type=float, nargs="+", default=list(DEFAULT_TARGETS),
                        help="target sparsities (default 0.95 0.98)")
    parser.add_argument("--polish", default="refine",
                        help="Net-Trim's polish: refine (the default), output, feasible, None")
    args = parser.parse_args()
    polish = {"None": None}.get(args.polish, args.polish)
    print(environment_line())
    epochs = sorted(args.epochs)
    mlp, X_train = load_network("mnist")
    X_all, y_all = mnist_5k()
    y_train, X_test, y_test = y_all[:4000], X_all[4000:], y_all[4000:]
    unpruned = float(mlp.score(X_test, y_test))
    print(f"unpruned test accuracy {unpruned:.4f} (train {mlp.score(X_train, y_train):.4f})")
    columns = (["method", "epsilon", "sparsity", "nnz per layer", "prune s"]
               + [f"acc {e} ep" for e in [0] + epochs] + [f"s {e} ep" for e in epochs])
    rows, runs = [], []
    settings = ([{"epsilon": e} for e in args.epsilons] if args.epsilons
                else [{"target_sparsity": t} for t in args.targets])
    for setting in settings:
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            trim = NetTrimTransformer(FrozenEstimator(mlp), mode=args.mode, polish=polish,
                                      n_jobs=1, **setting).fit(X_train)
        prune_seconds = time.perf_counter() - start
        epsilon = (float(trim.epsilon_) if np.ndim(trim.epsilon_) == 0
                   else [round(float(e), 4) for e in trim.epsilon_])
        nnz = [r["nnz_after"] for r in trim.layer_stats_]
        print(f"== Net-Trim {args.mode} polish={polish!r} epsilon {epsilon}:"
              f" sparsity {trim.sparsity_:.2%},"
              f" nnz {nnz}, {prune_seconds:.1f}s, {len(caught)} solver warnings", flush=True)
        candidates = [("Net-Trim " + args.mode, stacked_weights(trim.estimator_), prune_seconds),
                      ("magnitude", magnitude_mask(mlp, nnz), None)]
        for method, weights, seconds in candidates:
            print(f"   {method}:", flush=True)
            marks, losses = fine_tune_curve(mlp, weights, X_train, X_test, y_test, epochs,
                                            args.learning_rate)
            rows.append([method, epsilon, round(trim.sparsity_, 4), " ".join(map(str, nnz)),
                         None if seconds is None else round(seconds, 1)]
                        + [round(marks[e][0], 4) for e in [0] + epochs]
                        + [round(marks[e][1], 1) for e in epochs])
            runs.append({"method": method, "epsilon": epsilon, "sparsity": trim.sparsity_,
                         "nnz": nnz, "prune_seconds": seconds, "loss": losses,
                         "accuracy": {str(e): marks[e][0] for e in marks},
                         "seconds": {str(e): marks[e][1] for e in marks}})
        report(unpruned, columns, rows, runs, args.mode, args.learning_rate, args.name,
               polish)  # saved after every epsilon


if __name__ == "__main__":
    main()
