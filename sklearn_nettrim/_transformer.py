"""NetTrimTransformer: a meta-estimator that trains (or takes) an MLP and prunes it."""

from numbers import Integral, Real

from sklearn.base import BaseEstimator, _fit_context
from sklearn.frozen import FrozenEstimator
from sklearn.utils._param_validation import Interval, StrOptions

from ._allocation import ALLOCATIONS, resolve_allocation
from ._base import PrunedNetworkMixin
from ._penalties import PENALTIES
from ._prune import prune_fitted_network
from ._solvers import SOLVERS
from ._spec import POLISHES


class NetTrimTransformer(PrunedNetworkMixin):
    """Prune a scikit-learn MLP with Net-Trim, layer by layer, by convex programs.

    For every layer, Net-Trim finds the sparsest weights (smallest l1 norm) that keep the
    layer's outputs on the calibration data within ``epsilon`` (relative, Frobenius norm)
    of the original outputs. ``fit`` trains a clone of ``estimator`` on ``(X, y)`` and
    prunes it on ``X``; to prune a network that is already trained, wrap it:
    ``NetTrimTransformer(FrozenEstimator(mlp)).fit(X)``. The pruned network is
    ``estimator_``, a plain fitted MLP; prediction methods delegate to it, and
    ``transform`` keeps the input features that still have a non-zero first-layer weight.

    ``fit(X, y, sample_weight=w)`` trains the network with the weights and measures every
    layer's error in the sample-weighted Frobenius norm. With scikit-learn's metadata
    routing on, ``set_fit_request(sample_weight=True)`` lets a Pipeline or GridSearchCV
    pass the weights to the pruning, and the network's own requests decide what reaches
    its ``fit`` (see "Sample weights and metadata routing" in the user guide).

    Parameters
    ----------
    estimator : MLPClassifier, MLPRegressor, FrozenEstimator of one, or None
        The network to train and prune. ``None`` means a small ``MLPClassifier`` with one
        hidden layer of 8 units and ``random_state=0``.
    epsilon : float or array-like of shape (n_layers,), default=0.05
        Relative tolerance per layer: ``||outputs(U) - outputs(W)||_F <= epsilon *
        ||outputs(W)||_F`` on the calibration data. 0 keeps the outputs exactly; at 1 a
        ReLU layer may be pruned away entirely. In cascade mode, the tolerance of the
        first layer.
    mode : {"cascade", "parallel"}, default="cascade"
        ``"cascade"`` (default) prunes layer after layer, each seeing the pruned layers
        before it and absorbing their error: the network ends closer to the original
        (at a fixed ``epsilon`` its later layers may keep more weights). ``"parallel"``
        prunes every layer against the original network's activations (independent,
        solved concurrently through joblib: faster on many cores, less accurate: 0.88
        against 0.97 test accuracy on a digits 64-128-64-10 network at 90% sparsity).
    solver : {"admm", "cvxpy"}, default="admm"
        ``"admm"`` is the fast batched solver; ``"cvxpy"`` (CLARABEL, then SCS) is the
        slow reference, for small layers.
    gamma : float, default=1.1
        Cascade mode: layer ``l >= 2`` may use ``gamma`` times the squared error its
        original weights make on the pruned input. Must be >= 1. The error of the pruned
        network's outputs is then at most ``eps_1 * prod_l sqrt(gamma) ||W_l||_2`` over
        the later layers (``eps_1 = epsilon * ||Y_1||_F``, ``||W_l||_2`` the spectral
        norm): the ``eps_1 * sqrt(gamma ** (L - 1))`` often quoted holds only when every
        later layer is a contraction.
    penalize_intercept : bool, default=False
        Whether intercepts are part of the l1 objective (True is the authors' program).
    polish : {"refine", "output", "feasible", "least_squares"} or None, default="refine"
        After the l1 solve (which picks the support and shrinks the kept weights), refit
        the kept weights. ``"output"`` refits them for the smallest OUTPUT error
        (least squares on the active outputs, inactive pre-activations only kept <= 0)
        and keeps the result only where the measured output error is no larger than the
        l1 solution's: the layer's output bound (``layer_stats_[i]["output_bound"]``,
        what a user is promised) still holds, the program's clip constraints may not.
        ``"refine"`` (default) also chooses the support again, at the l1 solution's number of
        non-zeros in each layer, for the same output loss (ALPS-style ADMM, Meng et al.
        2024), and keeps it only where the measured output error stays within the
        layer's output bound and the loss is below the ``"output"`` polish's
        (``layer_stats_[i]["refined"]`` says which); otherwise the layer is polished as
        by ``"output"``. Costs about three output polishes per layer; much more
        accurate at high sparsity.
        ``"feasible"`` refits within the program's own constraints (every constraint
        still holds; much less accurate at high sparsity). ``"least_squares"`` uses
        unconstrained least squares to the original pre-activations: no guarantee
        (``layer_stats_`` reports the violation). ``None`` keeps the l1 solution.
        ``layer_stats_[i]["guarantee"]`` says what each layer keeps. (Before 0.2:
        ``True`` is now ``"feasible"``, ``"refit"`` is ``"least_squares"`` and ``False``
        is ``None``; the old values are refused.)
    max_samples : int, float or None, default=None
        Calibration rows used for pruning: all (None), a number, or a fraction of ``X``,
        drawn with ``random_state``. Each layer's program is O(n_samples * width) in memory.
        With ``sample_weight``, rows of weight 0 are dropped first and the rows are drawn
        uniformly among the others, keeping their weights.
    max_iter : int, default=2000
        Iteration cap of the ADMM solver (a ConvergenceWarning tells when it is reached).
        ``solver="cvxpy"`` uses cvxpy's own stopping rules: a UserWarning says so when
        ``max_iter`` or ``tol`` is changed with it.
    tol : float, default=1e-3
        Relative tolerance of the ADMM primal and dual residuals (``solver="admm"``).
    n_jobs : int or None, default=None
        Layers solved concurrently in parallel mode, through joblib.
    verbose : int, default=0
        If > 0, print one line per layer as it finishes.
    random_state : int, RandomState instance or None, default=None
        Draws the ``max_samples`` subsample, the rows of the allocation search and the
        fine-tuning mini-batches.
    target_sparsity : float in (0, 1) or None, default=None
        Prune to this overall fraction of zero (non-intercept) weights instead of a given
        ``epsilon`` (a UserWarning says so when ``epsilon`` is set to anything but its
        default: it is not used): the per-layer tolerances are searched for,
        and the achieved ``sparsity_`` is within 0.005 of the target or a UserWarning
        says why not. Every layer is still a Net-Trim program with its own tolerance
        (``epsilon_``), so every layer keeps its guarantee.
    allocation : {"auto", "magnitude", "output", "uniform"}, default="auto"
        With ``target_sparsity``: how the budget of non-zeros is split across layers.
        ``"magnitude"`` gives every layer the non-zeros that one global threshold on the
        trained ``|w|`` would keep (big layers are pruned harder than small ones), then
        searches each layer's tolerance for its share; ``"output"`` gives every layer the
        share at which one shared price per non-zero balances the layer's effect on the
        network's final outputs (measured along each layer's path on up to 1000
        calibration rows; slower); ``"uniform"`` uses one relative epsilon for every layer
        (cascade mode: for the first layer). In cascade mode the later layers' tolerances
        found are floors (see ``epsilon``) and a layer's unused share passes to the next.
        ``"auto"`` is ``"magnitude"``, the most accurate of the measured choices (with
        the default cascade mode and refinement; see the user guide's benchmarks);
        ``allocation_`` says which one was used.
    reweight : int, default=0
        Rounds of reweighted l1 (Candes, Wakin and Boyd 2008) after the first solve: each
        round solves the same constrained program with every weight's cost
        ``1 / (|u| + delta)`` from the previous answer, warm-started, which pushes small
        weights to zero (fewer non-zeros at the same epsilon). Every round is feasible for
        the same constraints, so the guarantee holds. Costs one solve per round.
    fine_tune : int, default=0
        Epochs of label-free fine-tuning after pruning: the pruned network is trained by
        Adam on mini-batches of the calibration data, its zeros kept zero and its
        intercepts free, to reproduce the ORIGINAL network's outputs (class
        probabilities of a classifier, predictions of a regressor). No labels are used,
        so it works on a frozen network too. The per-layer bound then no longer
        applies: ``layer_stats_`` marks every layer ``fine_tuned`` with its errors
        re-measured, and :func:`check_certificate` gives no verdict.
    fine_tune_learning_rate : float, default=1e-3
        Adam's step size for fine-tuning (scikit-learn's MLP default).
    fine_tune_batch_size : int, default=200
        Mini-batch size for fine-tuning (at most the number of calibration rows).
    penalty : {"l1", "group", "sparse_group"}, default="l1"
        The objective of every layer program. ``"l1"`` (Net-Trim) zeroes single weights.
        ``"group"`` minimises the sum of the Euclidean norms of the weight rows (one
        input unit's outgoing weights), so whole input units drop out: on the first layer
        whole input features (``transform``/``get_support`` then select features), on
        later layers whole hidden units, which :meth:`compact` removes for a smaller,
        faster model. ``"sparse_group"`` is half of each (``0.5 * l1 + 0.5 * group`` per
        row): whole units drop out and the rows that stay are sparse too. The
        constraints, the guarantee and ``polish`` (which keeps the support) are the same
        for all three.

    Attributes
    ----------
    estimator_ : MLPClassifier or MLPRegressor
        The pruned network (picklable and usable without this package).
    epsilon_ : float or ndarray of shape (n_layers,)
        The relative tolerance used: ``epsilon`` itself, or the tolerances found for
        ``target_sparsity`` (one per layer when they differ).
    allocation_ : {"magnitude", "output", "uniform"} or None
        The allocation used for ``target_sparsity`` (``"auto"`` resolved for ``mode``);
        None without ``target_sparsity``.
    network_ : MLPClassifier or MLPRegressor
        The fitted network before pruning (the frozen network itself when wrapped in
        FrozenEstimator; it is never modified).
    layer_stats_ : list of dict
        Per layer: ``shape``, ``nnz_before``, ``nnz_after``, ``sparsity``, ``eps_abs``,
        ``relative_error``, ``violation``, ``gap`` (certified relative optimality gap of the
        l1 solve, ``nan`` where not certified), ``n_iter``, ``converged``, ``seconds`` and more:
        the layer's certificate as the solver reported it, and what the fit used
        (``epsilon``, ``epsilon_floor``, ``gamma``, ``penalty``, ``polished``,
        ``guarantee``); :func:`check_certificate` recomputes the certificate from
        ``network_``, ``estimator_``, these records and data. After a fit with
        ``sample_weight``, errors and ``eps_abs`` are in the weighted norm.
    sparsity_ : float
        Fraction of zero non-intercept weights over all layers.
    n_iter_ : int
        The largest number of solver iterations over the layers.
    fine_tune_loss_ : ndarray of shape (fine_tune + 1,) or None
        The distillation loss on the calibration data before fine-tuning and after each
        epoch (None when ``fine_tune=0``).
    hidden_units_ : tuple of int
        Units per hidden layer of ``estimator_`` (fewer after :meth:`compact`).
    kept_units_ : list of ndarray of int
        Per hidden layer, the indices in ``network_`` of the units ``estimator_`` keeps.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` has feature names.
    classes_ : ndarray
        Only when the network is a classifier.

    See Also
    --------
    net_trim : The same pruning as a function of a fitted network.
    check_certificate : Recompute every layer's error and violation on data.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.neural_network import MLPClassifier
    >>> from sklearn_nettrim import NetTrimTransformer
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16
    >>> mlp = MLPClassifier(hidden_layer_sizes=(32,), max_iter=300, random_state=0)
    >>> trim = NetTrimTransformer(mlp, epsilon=0.1).fit(X, y)
    >>> trim.sparsity_ > 0.3
    True
    >>> trim.score(X, y) > 0.9
    True
    """

    _parameter_constraints = {
        "estimator": [BaseEstimator, None],
        "epsilon": [Interval(Real, 0, None, closed="left"), "array-like"],
        "mode": [StrOptions({"parallel", "cascade"})],
        "solver": [StrOptions(set(SOLVERS))],
        "gamma": [Interval(Real, 1, None, closed="left")],
        "penalize_intercept": ["boolean"],
        "polish": [StrOptions(set(POLISHES)), None],
        "max_samples": [Interval(Integral, 1, None, closed="left"),
                        Interval(Real, 0, 1, closed="right"), None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "target_sparsity": [Interval(Real, 0, 1, closed="neither"), None],
        "allocation": [StrOptions(set(ALLOCATIONS))],
        "reweight": [Interval(Integral, 0, None, closed="left")],
        "fine_tune": [Interval(Integral, 0, None, closed="left")],
        "fine_tune_learning_rate": [Interval(Real, 0, None, closed="neither")],
        "fine_tune_batch_size": [Interval(Integral, 1, None, closed="left")],
        "penalty": [StrOptions(set(PENALTIES))],
    }

    def __init__(self, estimator=None, *, epsilon=0.05, mode="cascade", solver="admm",
                 gamma=1.1, penalize_intercept=False, polish="refine", max_samples=None,
                 max_iter=2000, tol=1e-3, n_jobs=None, verbose=0, random_state=None,
                 target_sparsity=None, allocation="auto", reweight=0, fine_tune=0,
                 fine_tune_learning_rate=1e-3, fine_tune_batch_size=200, penalty="l1"):
        self.estimator = estimator
        self.epsilon = epsilon
        self.mode = mode
        self.solver = solver
        self.gamma = gamma
        self.penalize_intercept = penalize_intercept
        self.polish = polish
        self.max_samples = max_samples
        self.max_iter = max_iter
        self.tol = tol
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.random_state = random_state
        self.target_sparsity = target_sparsity
        self.allocation = allocation
        self.reweight = reweight
        self.fine_tune = fine_tune
        self.fine_tune_learning_rate = fine_tune_learning_rate
        self.fine_tune_batch_size = fine_tune_batch_size
        self.penalty = penalty

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, sample_weight=None, **fit_params):
        """Train the network on ``(X, y)`` (unless frozen) and prune it on ``X``.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Training and calibration data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
            Targets; needed unless the estimator is a fitted network in FrozenEstimator.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows. The pruning measures every layer's error in the
            sample-weighted Frobenius norm (rows of weight 0 are ignored, an integer
            weight counts as that many copies of the row), and the weights are passed to
            the network's ``fit`` when it is trained (with metadata routing on: when the
            network requests them).
        **fit_params : dict
            Passed to the network's ``fit`` (with metadata routing on: routed to it as
            it requests).

        Returns
        -------
        self : object
        """
        routed = self._route_fit_params(sample_weight, fit_params)
        network, _, _, calibration, weight = self._validated_fit_data(
            X, y, routed.estimator.fit, sample_weight)
        options = self._prune_options(weight)
        self.allocation_ = (None if self.target_sparsity is None
                            else resolve_allocation(self.allocation, self.mode))
        weights, records, self.epsilon_ = prune_fitted_network(
            network, calibration, options, epsilon=self.epsilon,
            target_sparsity=self.target_sparsity, allocation=self.allocation_)
        self._set_pruned(network, weights, records)
        return self

def net_trim(mlp, X, *, epsilon=0.05, mode="cascade", solver="admm", gamma=1.1,
             penalize_intercept=False, polish="refine", max_samples=None, max_iter=2000,
             tol=1e-3, n_jobs=None, verbose=0, random_state=None, target_sparsity=None,
             allocation="auto", reweight=0, sample_weight=None, fine_tune=0,
             fine_tune_learning_rate=1e-3, fine_tune_batch_size=200, penalty="l1"):
    """Return a pruned copy of a fitted MLP (the original is not modified).

    Parameters
    ----------
    mlp : MLPClassifier or MLPRegressor
        A fitted network.
    X : array-like of shape (n_samples, n_features)
        Calibration data.
    epsilon, mode, solver, gamma, penalize_intercept, polish, max_samples, max_iter, tol,\
n_jobs, verbose, random_state, target_sparsity, allocation, reweight, fine_tune,\
fine_tune_learning_rate, fine_tune_batch_size, penalty
        As in :class:`NetTrimTransformer`.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the rows of ``X``: every layer's error is measured in the
        sample-weighted Frobenius norm (see :meth:`NetTrimTransformer.fit`).

    Returns
    -------
    pruned : MLPClassifier or MLPRegressor
        A fitted network of the same class with sparse weights.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.neural_network import MLPClassifier
    >>> from sklearn.preprocessing import scale
    >>> from sklearn_nettrim import net_trim
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = scale(X)
    >>> mlp = MLPClassifier(hidden_layer_sizes=(16,), max_iter=500, random_state=0).fit(X, y)
    >>> pruned = net_trim(mlp, X, epsilon=0.1)
    >>> bool((pruned.coefs_[0] == 0).mean() > 0.3)
    True
    """
    trim = NetTrimTransformer(
        FrozenEstimator(mlp), epsilon=epsilon, mode=mode, solver=solver, gamma=gamma,
        penalize_intercept=penalize_intercept, polish=polish, max_samples=max_samples,
        max_iter=max_iter, tol=tol, n_jobs=n_jobs, verbose=verbose, random_state=random_state,
        target_sparsity=target_sparsity, allocation=allocation, reweight=reweight,
        fine_tune=fine_tune, fine_tune_learning_rate=fine_tune_learning_rate,
        fine_tune_batch_size=fine_tune_batch_size, penalty=penalty)
    return trim.fit(X, sample_weight=sample_weight).estimator_
