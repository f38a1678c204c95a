"""
==========================================================
Choosing epsilon: GridSearchCV with a sparsity-aware refit
==========================================================

``epsilon`` trades sparsity against accuracy. Because
:class:`~sklearn_nettrim.NetTrimTransformer` ends a :class:`~sklearn.pipeline.Pipeline`
like any classifier, :class:`~sklearn.model_selection.GridSearchCV` can choose it; the
package adds two pieces so that the search prefers small networks:

* :func:`~sklearn_nettrim.metrics.sparsity_scorer`, a scorer (the fraction of zero
  weights of the pruned network) to use next to accuracy in a multi-metric ``scoring``;
* :func:`~sklearn_nettrim.metrics.sparsest_within`, a callable ``refit`` that picks the
  sparsest candidate whose mean accuracy is within a tolerance of the best one.

Inside every fold the network is trained on the training part, pruned with that same
training part as calibration data and scored on the held-out part, so the CV scores are
honest estimates. :class:`~sklearn_nettrim.NetTrimCV` does the same job the way
:class:`~sklearn.linear_model.LassoCV` does: it trains the network once per fold and walks
the whole epsilon grid with warm starts, instead of training once per fold and per
epsilon. Both are run here on the breast cancer data set; the script takes well under a
minute.
"""

# %%
# Data and pipeline
# -----------------
import time
import warnings

from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_nettrim import NetTrimCV, NetTrimTransformer
from sklearn_nettrim.metrics import network_sparsity, sparsest_within, sparsity_scorer

# The MLP's own training may stop at max_iter; Net-Trim's warnings stay visible.
warnings.filterwarnings("ignore", message="Stochastic Optimizer", category=ConvergenceWarning)

X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, random_state=0, stratify=y)


def make_mlp():
    return MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=500, random_state=0)


pipe = make_pipeline(StandardScaler(), NetTrimTransformer(make_mlp()))
epsilons = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5]

unpruned = make_pipeline(StandardScaler(), make_mlp()).fit(X_train, y_train)
print(f"unpruned network: {sum(W.size for W in unpruned[-1].coefs_)} weights,"
      f" test accuracy {unpruned.score(X_test, y_test):.4f}")

# %%
# Grid search: accuracy and sparsity, refit on the sparsest within 0.01
# ----------------------------------------------------------------------
# With a callable ``refit`` GridSearchCV has no ``best_score_`` (the CV accuracy of the
# chosen candidate is read from ``cv_results_``), and with multi-metric scoring
# ``search.score`` does not know which scorer to use: score ``best_estimator_`` instead.
start = time.perf_counter()
search = GridSearchCV(
    pipe, {"nettrimtransformer__epsilon": epsilons}, cv=5,
    scoring={"accuracy": "accuracy", "sparsity": sparsity_scorer},
    refit=sparsest_within(0.01, metric="accuracy"),
).fit(X_train, y_train)
search_seconds = time.perf_counter() - start

results = search.cv_results_
print(f"\nGridSearchCV, 5 folds ({search_seconds:.1f} s)")
print(f"{'epsilon':>8}  {'CV accuracy':>15}  {'sparsity':>8}  {'rank':>4}")
for i, epsilon in enumerate(results["param_nettrimtransformer__epsilon"]):
    chosen = "  <- refit" if i == search.best_index_ else ""
    print(f"{epsilon:>8.2f}  {results['mean_test_accuracy'][i]:.4f} +- "
          f"{results['std_test_accuracy'][i]:.4f}  {results['mean_test_sparsity'][i]:>8.1%}"
          f"  {results['rank_test_accuracy'][i]:>4}{chosen}")
search_epsilon = search.best_params_["nettrimtransformer__epsilon"]
print(f"chosen epsilon {search_epsilon}: CV accuracy "
      f"{results['mean_test_accuracy'][search.best_index_]:.4f}; refit on the whole training"
      f" set: sparsity {network_sparsity(search.best_estimator_):.1%},"
      f" test accuracy {search.best_estimator_.score(X_test, y_test):.4f}")

# %%
# NetTrimCV: one training per fold, a warm-started path over epsilon
# -------------------------------------------------------------------
# NetTrimCV takes the network itself (not a pipeline), so it goes at the end of one.
# Its internal folds see data scaled by a scaler fitted on the whole training set: a
# negligible leak for standardisation.
start = time.perf_counter()
cv_pipe = make_pipeline(
    StandardScaler(),
    NetTrimCV(make_mlp(), epsilons=epsilons, cv=5, score_tolerance=0.01),
).fit(X_train, y_train)
cv_seconds = time.perf_counter() - start
trim_cv = cv_pipe[-1]

print(f"\nNetTrimCV, 5 folds ({cv_seconds:.1f} s)")
print(f"{'epsilon':>8}  {'CV accuracy':>15}  {'sparsity':>8}")
for i, epsilon in enumerate(trim_cv.cv_results_["epsilon"]):
    chosen = "  <- chosen" if i == trim_cv.best_index_ else ""
    print(f"{epsilon:>8.2f}  {trim_cv.cv_results_['mean_test_score'][i]:.4f} +- "
          f"{trim_cv.cv_results_['std_test_score'][i]:.4f}"
          f"  {trim_cv.cv_results_['mean_sparsity'][i]:>8.1%}{chosen}")
print(f"chosen epsilon {trim_cv.epsilon_}: refit sparsity {trim_cv.sparsity_:.1%},"
      f" test accuracy {cv_pipe.score(X_test, y_test):.4f}")

print(f"\nsummary: GridSearchCV eps={search_epsilon} in {search_seconds:.1f} s;"
      f" NetTrimCV eps={trim_cv.epsilon_} in {cv_seconds:.1f} s"
      f" ({search_seconds / cv_seconds:.1f}x faster)")

# %%
# Both rules keep the sparsest epsilon whose mean CV accuracy is within 0.01 of the best.
# They can still land on neighbouring grid points: NetTrimCV warm-starts every solve from
# the previous epsilon, so its pruned networks (and CV scores) differ slightly from the
# independent solves of the grid search, and a point near the tolerance edge can fall on
# either side of it.

# %%
# Plot: mean CV accuracy (left axis) and sparsity (right axis) against epsilon
# -----------------------------------------------------------------------------
# :class:`~sklearn_nettrim.plotting.NetTrimPathDisplay` reads either ``cv_results_``.
try:
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
    print("matplotlib is not installed: no figure.")

if plt is not None:
    from sklearn_nettrim.plotting import NetTrimPathDisplay

    fig, (ax_search, ax_cv) = plt.subplots(1, 2, figsize=(12, 4.5))
    NetTrimPathDisplay.from_cv_results(
        search.cv_results_, chosen_epsilon=search_epsilon, metric="accuracy",
        sparsity="sparsity", ax=ax_search)
    ax_search.set_title("GridSearchCV + sparsest_within(0.01)")
    NetTrimPathDisplay.from_estimator(trim_cv, ax=ax_cv)
    ax_cv.set_title("NetTrimCV (score_tolerance=0.01)")
    fig.tight_layout()
    plt.show()
