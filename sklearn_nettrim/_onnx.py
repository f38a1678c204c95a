"""ONNX export of a pruned network, whatever the storage of its weights.

``sparsify()`` stores ``coefs_`` as scipy.sparse CSR matrices, which scikit-learn's MLP
predicts with but skl2onnx's MLP converter does not read (it calls ``coefs_[i].ravel()``
and fails with ``AttributeError: 'csr_matrix' object has no attribute 'ravel'``). ONNX's
MLP graph is dense in any case (``MatMul`` with dense initializers), so the export
densifies a copy: the model itself is left as it is.
"""

import copy

from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ._base import PrunedNetworkMixin
from ._network import dense

__all__ = ["to_onnx"]


def _dense_network(model):
    """A shallow copy of the network inside ``model`` with dense ``coefs_``."""
    if isinstance(model, PrunedNetworkMixin):
        check_is_fitted(model)
        model = model.estimator_
    if not isinstance(model, (MLPClassifier, MLPRegressor)):
        raise TypeError(
            "sklearn_nettrim.to_onnx exports a NetTrimTransformer or NetTrimCV (its pruned"
            " network estimator_), an MLPClassifier or MLPRegressor, or a Pipeline ending"
            f" in one of them; got {type(model).__name__}.")
    check_is_fitted(model)
    exported = copy.copy(model)
    exported.coefs_ = [dense(W) for W in model.coefs_]
    return exported


def _exportable(model):
    if not isinstance(model, Pipeline):
        return _dense_network(model)
    *head, (name, last) = model.steps
    for step_name, step in head:
        if isinstance(step, PrunedNetworkMixin):
            raise TypeError(
                f"Pipeline step {step_name!r} is a {type(step).__name__} used as a"
                " transformer (feature selection), which skl2onnx cannot convert; only a"
                " final step that predicts is exported.")
    exported = copy.copy(model)
    exported.steps = [*head, (name, _dense_network(last))]
    return exported


def to_onnx(model, X=None, **kwargs):
    """Convert a pruned network to ONNX with skl2onnx, also after ``sparsify()``.

    skl2onnx reads an MLP's ``coefs_`` as dense arrays and fails on the CSR matrices
    ``sparsify()`` stores. This function exports a copy of the network with dense
    weights (``model`` is not modified) through :func:`skl2onnx.to_onnx`. The ONNX graph
    is dense: zero weights are stored as zeros (an ONNX file compresses well; use
    ``compact()`` first to remove dead units and shrink the graph).

    Parameters
    ----------
    model : NetTrimTransformer, NetTrimCV, MLPClassifier, MLPRegressor or Pipeline
        A fitted Net-Trim estimator (its pruned network ``estimator_`` is exported: the
        ONNX model predicts, it does not ``transform``), a fitted MLP, or a Pipeline whose
        last step is one of these (earlier steps are passed to skl2onnx as they are).
    X : array-like, default=None
        Example input, used by skl2onnx to infer the input type (e.g.
        ``X[:1].astype(np.float32)``); or give ``initial_types``.
    **kwargs
        Passed to :func:`skl2onnx.to_onnx` (``options``, ``target_opset``, ...).
        For a classifier, ``options={"zipmap": False}`` gives the probabilities as a
        plain tensor.

    Returns
    -------
    onx : onnx.ModelProto
        The ONNX model, as returned by skl2onnx.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.neural_network import MLPClassifier
    >>> from sklearn.preprocessing import scale
    >>> from sklearn_nettrim import NetTrimTransformer
    >>> from sklearn_nettrim import to_onnx
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = scale(X).astype(np.float32)
    >>> mlp = MLPClassifier(hidden_layer_sizes=(32,), max_iter=500, random_state=0)
    >>> trim = NetTrimTransformer(mlp, epsilon=0.3).fit(X, y)
    >>> onx = to_onnx(trim.sparsify(), X[:1], options={"zipmap": False})  # doctest: +SKIP
    """
    try:
        import skl2onnx
    except ImportError as exc:
        raise ImportError(
            "sklearn_nettrim.to_onnx needs skl2onnx (and onnx): pip install skl2onnx."
            " onnxruntime runs the exported model.") from exc
    return skl2onnx.to_onnx(_exportable(model), X, **kwargs)
