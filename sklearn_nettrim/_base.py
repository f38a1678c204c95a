"""What NetTrimTransformer and NetTrimCV share: a fitted, pruned MLP and its delegation.

Modelled on scikit-learn's ``SelectFromModel``: prediction methods exist only where the
wrapped network has them (``available_if``), tags follow the network so that
``is_classifier`` and ``GridSearchCV``'s stratification do the right thing, and
``transform`` keeps the input features that still carry a first-layer weight.
"""

import inspect
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.feature_selection import SelectorMixin
from sklearn.frozen import FrozenEstimator
from sklearn.neural_network import MLPClassifier
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _num_features, check_is_fitted, validate_data

from ._compact import compact_network
from ._diagnostics import calibration_size_warning, constant_layer_warning
from ._network import (
    check_supported_estimator,
    dense,
    layer_kinds,
    share_best_weights,
    with_weights,
)
from ._spec import PruneOptions, check_polish
from ._warnings import warn_user
from ._weights import check_sample_weight, positive_rows

#: Below this fraction of zeros in a layer, sparse storage makes prediction slower
#: (measured on 2 cores: 50% sparse is 3x slower than dense, 99% is 7x faster).
SPARSE_GAIN_THRESHOLD = 0.9


def default_network():
    """The network used when ``estimator=None``: small, quick and deterministic."""
    return MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0)


def _estimator_has(attr):
    """Delegate ``attr`` only where the (fitted or given) network has it."""

    def check(self):
        if hasattr(self, "estimator_"):
            return hasattr(self.estimator_, attr)
        return hasattr(self._network_template(), attr)

    return check


def subsample(X, max_samples, random_state):
    """Rows of X used as calibration data: all, or ``max_samples`` (int or fraction)."""
    rows = _drawn_rows(X.shape[0], max_samples, random_state)
    return X if rows is None else X[rows]


def _drawn_rows(n, max_samples, random_state):
    """The sorted rows ``max_samples`` draws out of ``n``, or None for all of them.

    Booleans are refused: ``True`` is an ``Integral`` equal to 1 (scikit-learn's
    ``Interval(Integral, ...)`` constraint accepts it) and would prune on a single row,
    which sets every weight to zero.
    """
    if max_samples is None:
        return None
    if isinstance(max_samples, (bool, np.bool_)):
        raise ValueError(
            f"max_samples must be an int (a number of rows), a float in (0, 1] (a"
            f" fraction of the rows) or None (all rows), got the boolean {max_samples!r}."
            " max_samples=True would calibrate on a single row; pass max_samples=None to"
            " use all rows.")
    k = int(max_samples) if isinstance(max_samples, Integral) else int(np.ceil(max_samples * n))
    if k >= n:
        return None
    return np.sort(check_random_state(random_state).choice(n, size=max(k, 1), replace=False))


def calibration_data(X, sample_weight, max_samples, random_state):
    """Calibration rows and their weights: ``(dense X, weights or None)``.

    Rows of weight 0 are dropped first; ``max_samples`` then draws uniformly (without
    replacement) among the remaining rows, which keep their weights, so the subsample
    estimates the same weighted error as all rows do. Without weights the draw is the
    one :func:`subsample` makes.
    """
    X, sample_weight = positive_rows(X, sample_weight)
    rows = _drawn_rows(X.shape[0], max_samples, random_state)
    if rows is not None:
        X = X[rows]
        sample_weight = None if sample_weight is None else sample_weight[rows]
    if sp.issparse(X):
        # The layer programs are dense (n_samples x n_inputs) in any case.
        X = X.toarray()
    return X, sample_weight


def overall_sparsity(records):
    """Fraction of zero non-intercept weights over all layers (from their records)."""
    total = sum(r.shape[0] * r.shape[1] for r in records)
    kept = sum(r.nnz_after for r in records)
    return 1.0 - kept / total if total else 0.0


class PrunedNetworkMixin(MetaEstimatorMixin, SelectorMixin, BaseEstimator):
    """Base of the Net-Trim meta-estimators: training, validation, delegation, export."""

    def _network_template(self):
        """The network as given (the MLP inside a FrozenEstimator), or the default."""
        estimator = self._network_estimator()
        if isinstance(estimator, FrozenEstimator):
            return estimator.estimator
        return estimator

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        network = self._network_template()
        try:
            network_tags = network.__sklearn_tags__()
        except AttributeError:  # not an estimator: fit will say so
            return tags
        tags.estimator_type = network_tags.estimator_type
        tags.classifier_tags = network_tags.classifier_tags
        tags.regressor_tags = network_tags.regressor_tags
        tags.target_tags.required = not isinstance(self.estimator, FrozenEstimator)
        tags.input_tags.sparse = network_tags.input_tags.sparse
        return tags

    def _network_estimator(self):
        """``estimator``, or the default network (taking sample weights when routed)."""
        if self.estimator is not None:
            return self.estimator
        network = default_network()
        if _routing_enabled():
            # Without routing the default network is trained with the sample weights;
            # with routing on, it asks for them, so that both behave the same.
            network.set_fit_request(sample_weight=True).set_score_request(
                sample_weight=True)
        return network

    def get_metadata_routing(self):
        """Get the metadata routing of this object.

        ``fit`` consumes ``sample_weight`` itself, for the pruning (request it with
        ``set_fit_request(sample_weight=True)`` inside a Pipeline or a search) and routes
        the metadata the network's ``fit`` requests to it (``mlp.set_fit_request(...)``;
        the default network requests ``sample_weight``). See scikit-learn's
        Metadata Routing User Guide.

        Returns
        -------
        routing : MetadataRouter
        """
        return MetadataRouter(owner=self).add_self_request(self).add(
            estimator=self._network_estimator(),
            method_mapping=MethodMapping().add(caller="fit", callee="fit"))

    def _route_fit_params(self, sample_weight, fit_params):
        """Metadata of ``fit`` per consumer: ``routed.estimator.fit`` and the others.

        With metadata routing on, as the routing says; without it, ``fit_params`` and
        ``sample_weight`` go to the network's ``fit`` (a frozen network is not fitted).
        """
        if _routing_enabled():
            if sample_weight is not None:
                fit_params = dict(fit_params, sample_weight=sample_weight)
            return process_routing(self, "fit", **fit_params)
        network_fit = dict(fit_params)
        if sample_weight is not None and not isinstance(self.estimator, FrozenEstimator):
            network_fit["sample_weight"] = sample_weight
        return Bunch(estimator=Bunch(fit=network_fit), splitter=Bunch(split={}),
                     scorer=Bunch(score={} if sample_weight is None
                                  else {"sample_weight": sample_weight}))

    def _fitted_network(self, X, y, fit_params):
        """Train a clone of the network on (X, y), or return the frozen fitted one."""
        estimator = self._network_estimator()
        network = check_supported_estimator(estimator)
        if isinstance(estimator, FrozenEstimator):
            check_is_fitted(network, msg=(
                "The network inside FrozenEstimator is not fitted: train it first, or pass"
                " the unfitted MLP itself so that NetTrimTransformer trains it on (X, y)."))
            n_features = _num_features(X)
            if network.n_features_in_ != n_features:
                raise ValueError(
                    f"X has {n_features} features, but the frozen network was trained on"
                    f" {network.n_features_in_} features.")
            return network
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None:"
                " it trains the network on (X, y) before pruning it. To prune an already"
                " trained network, pass FrozenEstimator(mlp) and call fit(X).")
        return clone(network).fit(X, y, **fit_params)

    def _validated_fit_data(self, X, y, fit_params, sample_weight=None):
        """Validate X (recording n_features_in_ and feature names) and fit the network.

        ``fit_params`` are the network's (already routed). Returns the fitted network (a
        clone, or the frozen one), the validated X, the validated sample weights, and the
        calibration data with its weights (see :func:`calibration_data`).
        """
        check_supported_estimator(self._network_estimator())
        X_checked = validate_data(self, X, accept_sparse=["csr", "csc"],
                                  dtype=[np.float64, np.float32], reset=True)
        sample_weight = check_sample_weight(sample_weight, X_checked.shape[0])
        network = self._fitted_network(X, y, fit_params)
        calibration, calibration_weight = calibration_data(
            X_checked, sample_weight, self.max_samples, self.random_state)
        message = calibration_size_warning(
            calibration.shape[0], [W.shape for W in network.coefs_], layer_kinds(network))
        if message:
            warn_user(message)
        return network, X_checked, sample_weight, calibration, calibration_weight

    def _validate_params(self):
        check_polish(self.polish)  # before the generic message: name the new values
        super()._validate_params()

    def _prune_options(self, sample_weight=None, **changes):
        """The frozen options of this fit, built once from the validated parameters."""
        self._warn_unused_params()
        return PruneOptions.from_params(self.get_params(deep=False),
                                        sample_weight).with_(**changes)

    def _changed_from_default(self, name):
        """Whether the user set parameter ``name`` to something other than its default."""
        default = inspect.signature(type(self).__init__).parameters[name].default
        value = getattr(self, name)
        return not (np.ndim(value) == 0 and value == default)

    def _warn_unused_params(self):
        """Say so when a parameter the user set has no effect with the others."""
        if self.solver != "admm":
            changed = [k for k in ("max_iter", "tol") if self._changed_from_default(k)]
            if changed:
                warn_user(
                    f"{' and '.join(changed)} apply to solver='admm' only; solver="
                    f"{self.solver!r} uses cvxpy's own stopping rules (CLARABEL, then SCS).")
        if (getattr(self, "target_sparsity", None) is not None
                and self._changed_from_default("epsilon")):
            warn_user(
                f"epsilon={self.epsilon!r} is ignored: target_sparsity="
                f"{self.target_sparsity!r} is set, and the per-layer tolerances that reach"
                " it are searched for (they are in epsilon_ after fit). Set only one of"
                " the two.")

    def _set_pruned(self, network, weights, records):
        """Store the pruned network and its statistics as fitted attributes."""
        if hasattr(network, "classes_"):
            self.classes_ = network.classes_
        self.network_ = network
        self.estimator_ = with_weights(network, weights)
        message = constant_layer_warning(weights, [r.kind for r in records],
                                         getattr(self, "epsilon_", None))
        if message:
            warn_user(message)
        self.layer_stats_ = [record.as_dict() for record in records]
        self.sparsity_ = overall_sparsity(records)
        self.n_iter_ = max(r.n_iter for r in records)
        curve = records[0].fine_tune_loss
        self.fine_tune_loss_ = None if curve is None else np.asarray(curve)
        self.kept_units_ = [np.arange(W.shape[1]) for W in self.estimator_.coefs_[:-1]]
        self.hidden_units_ = tuple(int(units.size) for units in self.kept_units_)

    def _checked(self, X):
        check_is_fitted(self)
        validate_data(self, X, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32],
                      reset=False)
        return X

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Predict with the pruned network."""
        X = self._checked(X)
        return self.estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of the pruned network."""
        X = self._checked(X)
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities of the pruned network."""
        X = self._checked(X)
        return self.estimator_.predict_log_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the pruned network."""
        X = self._checked(X)
        return self.estimator_.decision_function(X)

    @available_if(_estimator_has("score"))
    def score(self, X, y, sample_weight=None):
        """Score of the pruned network (accuracy for a classifier, R^2 for a regressor)."""
        X = self._checked(X)
        return self.estimator_.score(X, y, sample_weight=sample_weight)

    def _get_support_mask(self):
        check_is_fitted(self)
        first = self.estimator_.coefs_[0]
        if sp.issparse(first):
            return np.diff(sp.csr_matrix(first).indptr) > 0
        return np.any(first != 0, axis=1)

    def sparsify(self):
        """Store the pruned network's ``coefs_`` as scipy.sparse CSR matrices.

        Predictions stay the same (scikit-learn's MLP forward pass multiplies with
        ``safe_sparse_dot``) and memory shrinks with the sparsity. Prediction gets faster
        only for layers above about 90% sparsity on a typical CPU; below that a
        UserWarning says so. Returns ``self``.

        skl2onnx cannot convert an MLP with sparse ``coefs_`` (it fails with
        ``AttributeError: 'csr_matrix' object has no attribute 'ravel'``): export with
        ``sklearn_nettrim.to_onnx(self, X)``, which converts a dense copy, or call
        :meth:`densify` first.
        """
        check_is_fitted(self)
        dense_layers = [i for i, W in enumerate(self.estimator_.coefs_)
                        if not sp.issparse(W) and np.mean(W == 0) < SPARSE_GAIN_THRESHOLD]
        if dense_layers:
            warn_user(
                f"layers {dense_layers} are less than {SPARSE_GAIN_THRESHOLD:.0%} sparse:"
                " sparse storage saves memory there but makes prediction slower."
                " (ONNX export needs dense weights: use sklearn_nettrim.to_onnx, or"
                " densify() first.)")
        self.estimator_.coefs_ = [sp.csr_matrix(W) for W in self.estimator_.coefs_]
        share_best_weights(self.estimator_)
        return self

    def densify(self):
        """Store the pruned network's ``coefs_`` as dense arrays again. Returns ``self``."""
        check_is_fitted(self)
        self.estimator_.coefs_ = [dense(W) for W in self.estimator_.coefs_]
        share_best_weights(self.estimator_)
        return self

    def compact(self):
        """Remove the pruned network's dead hidden units; predictions stay the same.

        A hidden unit without any non-zero incoming weight outputs the constant
        ``activation(intercept)``: it is folded into the next layer's intercepts and
        removed; a unit without any non-zero outgoing weight is removed. This repeats
        until nothing changes. ``estimator_`` is replaced by a new, smaller MLP of the
        same class (``hidden_layer_sizes`` and ``coefs_`` shrink, CSR ``coefs_`` stay
        CSR), which is faster to predict with and smaller on disk; the previous
        ``estimator_`` object and ``network_`` are not modified. ``hidden_units_`` then
        counts the units kept per hidden layer and ``kept_units_`` gives their indices
        in ``network_``. Input features are never removed (the model still takes all
        ``n_features_in_`` columns); ``get_support`` may lose features that only fed
        removed units. After ``compact()``, :func:`check_certificate` no longer applies
        (its layer programs have ``network_``'s shapes): check before compacting.

        Returns ``self``, like ``sparsify()``.

        Examples
        --------
        >>> from sklearn.datasets import load_breast_cancer
        >>> from sklearn.neural_network import MLPClassifier
        >>> from sklearn.preprocessing import scale
        >>> from sklearn_nettrim import NetTrimTransformer
        >>> X, y = load_breast_cancer(return_X_y=True)
        >>> X = scale(X)
        >>> mlp = MLPClassifier(hidden_layer_sizes=(32,), max_iter=500, random_state=0)
        >>> trim = NetTrimTransformer(mlp, epsilon=0.3).fit(X, y)
        >>> before = trim.predict_proba(X)
        >>> trim.compact().hidden_units_[0] < 32
        True
        >>> bool(np.allclose(trim.predict_proba(X), before))
        True
        """
        check_is_fitted(self)
        self.estimator_, kept = compact_network(self.estimator_)
        # Indices relative to network_, also when compacting twice.
        self.kept_units_ = [before[now] for before, now in zip(self.kept_units_, kept)]
        self.hidden_units_ = tuple(int(units.size) for units in self.kept_units_)
        return self
