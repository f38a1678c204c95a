"""Removing dead hidden units: a pruned MLP that is really smaller, with the same outputs.

Pruning leaves zeros that are still stored and multiplied. A hidden unit whose incoming
weights are all zero outputs the constant ``activation(intercept)`` on every input: that
constant times its outgoing weights folds into the next layer's intercepts, and the unit
goes. A unit whose outgoing weights are all zero affects nothing: it goes too. Each
removal can kill units in the neighbouring layers, so the sweep repeats until nothing
changes. The result is an MLP of the same class computing the same function (to float
rounding) with fewer units per hidden layer.
"""

import copy

import numpy as np
import scipy.sparse as sp

from ._network import HIDDEN_ACTIVATIONS, check_supported_estimator, share_best_weights

#: Fitted state that describes the weights as they were during training (shapes included).
_TRAINING_STATE = ("_optimizer", "_best_coefs", "_best_intercepts")


def _dense(W):
    return W.toarray() if sp.issparse(W) else np.array(W)


def _sweep(coefs, intercepts, kept, activation):
    """One pass over the hidden layers; returns whether any unit was removed."""
    changed = False
    for layer in range(len(coefs) - 1):
        W_in, W_out = coefs[layer], coefs[layer + 1]
        no_input = ~np.any(W_in != 0, axis=0)
        no_output = ~np.any(W_out != 0, axis=1)
        constant = no_input & ~no_output
        if np.any(constant):
            # These units output activation(b) on every input: fold it downstream.
            values = activation(intercepts[layer][constant])
            intercepts[layer + 1] = intercepts[layer + 1] + values @ W_out[constant]
        drop = no_input | no_output
        if np.any(drop):
            keep = ~drop
            coefs[layer] = W_in[:, keep]
            intercepts[layer] = intercepts[layer][keep]
            coefs[layer + 1] = W_out[keep]
            kept[layer] = kept[layer][keep]
            changed = True
    return changed


def compact_network(mlp):
    """A new MLP of the same class without dead hidden units, and the units it kept.

    Parameters
    ----------
    mlp : fitted MLPClassifier or MLPRegressor
        Dense or scipy.sparse ``coefs_``; it is not modified.

    Returns
    -------
    compacted : MLPClassifier or MLPRegressor
        Same class and outputs, ``hidden_layer_sizes`` and ``coefs_`` shrunk; ``coefs_``
        keep their storage (CSR stays CSR) and dtype. A hidden layer whose units all died
        (the network's output is then constant) keeps one inert unit with zero weights
        and zero intercept, so that the model stays a valid MLP for every tool.
    kept_units : list of ndarray of int
        Per hidden layer, the indices (into ``mlp``'s units) of the units kept; empty
        for a layer whose units all died.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.neural_network import MLPClassifier
    >>> from sklearn_nettrim._compact import compact_network
    >>> X, y = load_iris(return_X_y=True)
    >>> mlp = MLPClassifier(hidden_layer_sizes=(6,), max_iter=2000, random_state=0).fit(X, y)
    >>> mlp.coefs_[0][:, :2] = 0      # two units without inputs
    >>> small, kept = compact_network(mlp)
    >>> small.hidden_layer_sizes, kept[0].tolist()
    ((4,), [2, 3, 4, 5])
    >>> bool(np.allclose(small.predict_proba(X), mlp.predict_proba(X)))
    True
    """
    network = check_supported_estimator(mlp)
    activation = HIDDEN_ACTIVATIONS[network.activation][0]
    sparse_layers = [sp.issparse(W) for W in network.coefs_]
    coefs = [_dense(W) for W in network.coefs_]
    intercepts = [np.array(b) for b in network.intercepts_]
    kept = [np.arange(W.shape[1]) for W in coefs[:-1]]
    while _sweep(coefs, intercepts, kept, activation):
        pass
    for layer, units in enumerate(kept):
        if units.size == 0:  # an inert placeholder unit: zero in, zero out, zero intercept
            coefs[layer] = np.zeros((coefs[layer].shape[0], 1), dtype=coefs[layer].dtype)
            intercepts[layer] = np.zeros(1, dtype=intercepts[layer].dtype)
            coefs[layer + 1] = np.zeros((1, coefs[layer + 1].shape[1]),
                                        dtype=coefs[layer + 1].dtype)
    compacted = type(network).__new__(type(network))
    compacted.__dict__ = copy.deepcopy(
        {key: value for key, value in network.__dict__.items()
         if key not in _TRAINING_STATE + ("coefs_", "intercepts_")})
    compacted.coefs_ = [sp.csr_matrix(W) if sparse else np.ascontiguousarray(W)
                        for W, sparse in zip(coefs, sparse_layers)]
    compacted.intercepts_ = [np.ascontiguousarray(b) for b in intercepts]
    compacted.hidden_layer_sizes = tuple(int(W.shape[1]) for W in coefs[:-1])
    if hasattr(network, "_best_coefs"):
        compacted._best_coefs = compacted.coefs_  # then shared, as in with_weights
    return share_best_weights(compacted), kept
