"""Reading a fitted scikit-learn MLP as a stack of layers, and writing pruned weights back.

Everything here works on plain arrays: the layer solvers never see an estimator, so the
jobs sent to joblib workers (or a Dask cluster) carry layer data only.
"""

import copy

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.neural_network import MLPClassifier, MLPRegressor

SUPPORTED_ESTIMATORS = (MLPClassifier, MLPRegressor)

# Hidden activation -> (forward function, program kind, Lipschitz constant).
# ReLU layers get the authors' ReLU program on their outputs. The others are an
# extension: their pre-activations are kept with the linear program, and the error after
# the activation is at most the Lipschitz constant times the pre-activation error.
HIDDEN_ACTIVATIONS = {
    "relu": (lambda z: np.maximum(z, 0), "relu", 1.0),
    "identity": (lambda z: z, "linear", 1.0),
    "tanh": (np.tanh, "linear", 1.0),
    "logistic": (expit, "linear", 0.25),
}


def check_supported_estimator(estimator):
    """Raise a TypeError naming what is supported unless ``estimator`` is an MLP."""
    inner = getattr(estimator, "estimator", None)
    target = inner if type(estimator).__name__ == "FrozenEstimator" else estimator
    if not isinstance(target, SUPPORTED_ESTIMATORS):
        raise TypeError(
            "Net-Trim prunes scikit-learn multi-layer perceptrons: estimator must be an"
            " MLPClassifier or MLPRegressor (optionally wrapped in FrozenEstimator), got"
            f" {type(target).__name__}.")
    activation = target.activation
    if activation not in HIDDEN_ACTIVATIONS:
        raise ValueError(
            f"hidden activation {activation!r} is not supported; Net-Trim handles"
            f" {sorted(HIDDEN_ACTIVATIONS)}.")
    return target


def dense(W):
    """``W`` as a dense array (``coefs_`` may be CSR after ``sparsify()``)."""
    return W.toarray() if sp.issparse(W) else W


def stacked_weights(mlp):
    """Each layer's weights with its intercept as the last row, shape (n_in + 1, n_out).

    Dense even when ``coefs_`` are scipy.sparse (after ``sparsify()``).
    """
    return [np.vstack([dense(W), b[None, :]])
            for W, b in zip(mlp.coefs_, mlp.intercepts_)]


def layer_kinds(mlp):
    """The program kind of each layer: hidden layers by activation, output layer linear."""
    hidden = HIDDEN_ACTIVATIONS[mlp.activation][1]
    return [hidden] * (len(mlp.coefs_) - 1) + ["linear"]


def hidden_activation(mlp):
    return HIDDEN_ACTIVATIONS[mlp.activation][0]


def network_arrays(mlp, X):
    """``(weights, X, kinds, activation)``: stacked weights and ``X`` in one float dtype
    (float32 or wider), each layer's program kind and the hidden activation."""
    dtype = np.result_type(X.dtype, np.float32)
    weights = [W.astype(dtype, copy=False) for W in stacked_weights(mlp)]
    return weights, X.astype(dtype, copy=False), layer_kinds(mlp), hidden_activation(mlp)


def layer_output(h, W, activation):
    """A hidden layer's output on its input ``h`` (stacked ``W``), in the dtype of ``h``."""
    return activation(h @ W[:-1] + W[-1]).astype(h.dtype, copy=False)


def layer_inputs(weights, X, activation):
    """The input of every layer on ``X``: ``[X, h_1, ..., h_{L-1}]`` (no ones column).

    ``weights`` are stacked as by :func:`stacked_weights`, ``activation`` is the hidden
    activation function. Arrays stay in the dtype of ``X``.
    """
    inputs = [X]
    for Wb in weights[:-1]:
        h = inputs[-1]
        inputs.append(layer_output(h, Wb, activation))
    return inputs


def share_best_weights(mlp):
    """Point the MLP's record of its best training weights at its current weights.

    scikit-learn keeps ``_best_coefs``/``_best_intercepts``, a copy of the weights that an
    early-stopping ``fit`` restores at its end. Left alone in a pruned network it is a
    dense copy of the ORIGINAL weights: it doubles the saved model and undoes pruning on
    a ``warm_start`` refit. Sharing the current arrays keeps one copy on disk (pickle and
    skops store a shared array once).
    """
    if hasattr(mlp, "_best_coefs"):
        mlp._best_coefs = list(mlp.coefs_)
        mlp._best_intercepts = list(mlp.intercepts_)
    return mlp


def with_weights(mlp, weights):
    """A deep copy of ``mlp`` carrying ``weights`` (stacked), in the dtype of the original.

    The optimizer state (Adam's or SGD's moments of the ORIGINAL weights) is dropped: it
    does not describe the pruned weights, a ``warm_start`` refit builds a fresh one, and
    without it the model saves with ``skops.io`` using trusted types only.
    """
    pruned = copy.deepcopy(mlp)
    pruned.__dict__.pop("_optimizer", None)
    pruned.coefs_ = [np.ascontiguousarray(Wb[:-1]).astype(W.dtype, copy=False)
                     for Wb, W in zip(weights, mlp.coefs_)]
    pruned.intercepts_ = [np.ascontiguousarray(Wb[-1]).astype(b.dtype, copy=False)
                          for Wb, b in zip(weights, mlp.intercepts_)]
    return share_best_weights(pruned)
