"""
==========================================================
Choosing epsilon: GridSearchCV with a sparsity-aware refit
==========================================================

The usual way to use :class:`~sklearn_nettrim.NetTrimTransformer` is to ask for a size,
``target_sparsity=0.9``, and let it search each layer's tolerance. This example is about
the other knob, the relative tolerance ``epsilon`` itself, and about choosing either one
by cross-validation. ``epsilon`` trades sparsity against accuracy; because
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
epsilon. Both are run here on the breast cancer data set. A grid over ``target_sparsity``
works the same way with GridSearchCV, with the same scorers and ``refit``: the last
search below does it. Everything else is at its defaults (cascade mode, the support
refinement ``polish="refine"``). The script takes well under a minute.
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


def timed_search(parameter, values):
    """GridSearchCV over one of the transformer's parameters: (search, seconds)."""
    start = time.perf_counter()
    search = GridSearchCV(
        pipe, {f"nettrimtransformer__{parameter}": values}, cv=5,
        scoring={"accuracy": "accuracy", "sparsity": sparsity_scorer},
        refit=sparsest_within(0.01, metric="accuracy"),
    ).fit(X_train, y_train)
    return search, time.perf_counter() - start


# In cascade mode ``epsilon`` is the first layer's relative tolerance; every later layer's
# comes from the error it inherits from the pruned layers before it (see the user guide),
# so even an ``epsilon`` close to 1 still asks the later layers to repair that error.
epsilons = [0.1, 0.5, 0.8, 0.9, 0.95]

unpruned = make_pipeline(StandardScaler(), make_mlp()).fit(X_train, y_train)
print(f"unpruned network: {sum(W.size for W in unpruned[-1].coefs_)} weights,"
      f" test accuracy {unpruned.score(X_test, y_test):.4f}")

# %%
# Grid search: accuracy and sparsity, refit on the sparsest within 0.01
# ----------------------------------------------------------------------
# With a callable ``refit`` GridSearchCV has no ``best_score_`` (the CV accuracy of the
# chosen candidate is read from ``cv_results_``), and with multi-metric scoring
# ``search.score`` does not know which scorer to use: score ``best_estimator_`` instead.
search, search_seconds = timed_search("epsilon", epsilons)

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
# The usual way: GridSearchCV over target_sparsity
# -------------------------------------------------
# The sparsity a given ``epsilon`` reaches depends on the network and the data, and is
# known only after pruning (the tables above measure it); what one usually wants to
# choose is the size itself. ``target_sparsity`` is an ordinary parameter, so the same
# GridSearchCV, scorers and ``refit`` rule search it: every fold prunes its own network
# to that size (within half a point, or a warning says why not), and
# ``sparsest_within`` keeps the smallest network whose CV accuracy is within 0.01 of the
# best. (NetTrimCV walks a path over ``epsilon`` only.)
sparsities = [0.9, 0.95, 0.98]
size_search, size_seconds = timed_search("target_sparsity", sparsities)

size_results = size_search.cv_results_
print(f"\nGridSearchCV over target_sparsity, 5 folds ({size_seconds:.1f} s)")
print(f"{'target':>8}  {'CV accuracy':>15}  {'sparsity':>8}")
for i, target in enumerate(size_results["param_nettrimtransformer__target_sparsity"]):
    chosen = "  <- refit" if i == size_search.best_index_ else ""
    print(f"{target:>8.0%}  {size_results['mean_test_accuracy'][i]:.4f} +- "
          f"{size_results['std_test_accuracy'][i]:.4f}"
          f"  {size_results['mean_test_sparsity'][i]:>8.1%}{chosen}")
size_target = size_search.best_params_["nettrimtransformer__target_sparsity"]
print(f"chosen target {size_target:.0%}: refit on the whole training set: sparsity"
      f" {network_sparsity(size_search.best_estimator_):.1%}, test accuracy"
      f" {size_search.best_estimator_.score(X_test, y_test):.4f}")

# %%
# Plot: mean CV accuracy and sparsity against epsilon, and against the size
# ---------------------------------------------------------------------------
# :class:`~sklearn_nettrim.plotting.NetTrimPathDisplay` reads either ``cv_results_`` of
# the searches over epsilon (CV accuracy on the left axis, sparsity on the right); the
# third panel is the search over ``target_sparsity``.
try:
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
    print("matplotlib is not installed: no figure.")

if plt is not None:
    from sklearn_nettrim.plotting import NetTrimPathDisplay

    fig, (ax_search, ax_cv, ax_size) = plt.subplots(1, 3, figsize=(16, 4.5))
    NetTrimPathDisplay.from_cv_results(
        search.cv_results_, chosen_epsilon=search_epsilon, metric="accuracy",
        sparsity="sparsity", ax=ax_search)
    ax_search.set_title("GridSearchCV + sparsest_within(0.01)")
    NetTrimPathDisplay.from_estimator(trim_cv, ax=ax_cv)
    ax_cv.set_title("NetTrimCV (score_tolerance=0.01)")
    for ax in (ax_search, ax_cv):
        ax.set_xscale("linear")  # the grid is dense near 1: a linear axis shows it
    ax_size.errorbar(size_results["mean_test_sparsity"], size_results["mean_test_accuracy"],
                     yerr=size_results["std_test_accuracy"], marker="o", capsize=3)
    best = size_search.best_index_
    ax_size.plot(size_results["mean_test_sparsity"][best],
                 size_results["mean_test_accuracy"][best], "r*", markersize=14,
                 label=f"refit: target {size_target:.0%}")
    ax_size.set_xlabel("sparsity (fraction of zero weights)")
    ax_size.set_ylabel("mean CV accuracy")
    ax_size.set_title("GridSearchCV over target_sparsity")
    ax_size.legend()
    ax_size.grid(alpha=0.3)
    fig.tight_layout()
    plt.show()
