"""
===================================================
Tabular data: a DataFrame in, feature names out
===================================================

Net-Trim prunes the first layer of a network like any other layer. An input feature whose
first-layer weights are ALL pruned no longer reaches the network: ``transform`` drops
that column, and ``get_feature_names_out`` names the columns that are kept. With
``set_output(transform="pandas")`` the whole :class:`~sklearn.pipeline.Pipeline` takes a
pandas DataFrame and gives one back, so the pruned network doubles as a feature selector
whose choices can be read by name.

This example works on the 30 named measurements of scikit-learn's breast cancer data
set: it fits ``StandardScaler`` followed by :class:`~sklearn_nettrim.NetTrimTransformer`
around a one-hidden-layer :class:`~sklearn.neural_network.MLPClassifier`, pruned to a few
target sizes (``target_sparsity``, everything else at its defaults), prints which
measurements the pruned network still reads, and passes the kept columns, by name, to a
:class:`~sklearn.linear_model.LogisticRegression`. It runs in a few seconds.
"""

# %%
# Data: a DataFrame with named columns
# ------------------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_nettrim import NetTrimTransformer

# The MLP's own training may stop at max_iter; Net-Trim's warnings stay visible.
warnings.filterwarnings("ignore", message="Stochastic Optimizer", category=ConvergenceWarning)

X, y = load_breast_cancer(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, random_state=0, stratify=y)
print(f"{type(X).__name__} of shape {X.shape}; first columns: {list(X.columns[:4])}")


def make_trim_pipeline(target_sparsity):
    network = MLPClassifier(hidden_layer_sizes=(16,), max_iter=500, random_state=0)
    return make_pipeline(
        StandardScaler(),
        NetTrimTransformer(network, target_sparsity=target_sparsity),
    ).set_output(transform="pandas")


# %%
# Prune to a few sizes
# --------------------
# The transformer trains the network inside the pipeline (on the scaled training data)
# and prunes it with the same data as calibration data, to the fraction of zero weights
# asked for. The pipeline ends with the pruned network, so ``score`` is its test
# accuracy; ``get_feature_names_out`` runs through every step and returns the names of
# the columns that ``transform`` keeps.
sparsities = [0.8, 0.9, 0.95, 0.97]
pipes = {}
print(f"\n{'target':>6}  {'sparsity':>8}  {'test accuracy':>13}  {'features kept':>13}")
for sparsity in sparsities:
    pipe = make_trim_pipeline(sparsity).fit(X_train, y_train)
    pipes[sparsity] = pipe
    kept = pipe.get_feature_names_out()
    print(f"{sparsity:>6.0%}  {pipe[-1].sparsity_:>8.1%}  {pipe.score(X_test, y_test):>13.4f}"
          f"  {len(kept):>6} of {X.shape[1]}")
scaler, trim = pipes[sparsities[0]]
trained = trim.network_
print(f"the trained network before pruning: {sum(W.size for W in trained.coefs_)} weights,"
      f" test accuracy {trained.score(scaler.transform(X_test), y_test):.4f}")

# %%
# Which measurements are dropped
# ------------------------------
# ``transform`` returns a DataFrame that keeps the index and the names of the surviving
# columns. ``target_sparsity`` counts weights, not features: a feature goes when all of
# its first-layer weights do. To drop whole features directly, see the group penalty
# (:ref:`sphx_glr_auto_examples_plot_group_feature_selection.py`).
chosen_sparsity = 0.95
X_kept = pipes[chosen_sparsity].transform(X_test)
dropped = [name for name in X.columns if name not in set(X_kept.columns)]
print(f"{chosen_sparsity:.0%} pruned: transform {X_test.shape} ->"
      f" {type(X_kept).__name__} {X_kept.shape}")
print(f"kept: {list(X_kept.columns)}")
print(f"dropped: {dropped}")

# %%
# The kept columns, by name, into another model
# ---------------------------------------------
# Any estimator can take the selected columns: here a logistic regression, fitted on the
# DataFrame that the scaler and the pruned network's ``transform`` produce. Its
# ``feature_names_in_`` are the names Net-Trim kept.
selector = make_trim_pipeline(chosen_sparsity)
model = make_pipeline(*[step for _, step in selector.steps], LogisticRegression())
model.set_output(transform="pandas").fit(X_train, y_train)
print(f"logistic regression on {len(model[-1].feature_names_in_)} named features:"
      f" test accuracy {model.score(X_test, y_test):.4f}")
print(f"its first features: {list(model[-1].feature_names_in_[:5])}")

# %%
# First-layer weights kept per measurement
# ----------------------------------------
# Each bar counts the hidden units that still read a measurement (out of 16). A feature
# with no bar at some size is dropped by ``transform`` there.
fig, ax = plt.subplots(figsize=(8, 7))
positions = np.arange(X.shape[1])
height = 0.8 / len(sparsities)
for i, sparsity in enumerate(sparsities):
    first_layer = pipes[sparsity][-1].estimator_.coefs_[0]
    ax.barh(positions + i * height, np.count_nonzero(first_layer, axis=1), height=height,
            label=f"{sparsity:.0%} of the weights pruned")
ax.set_yticks(positions + 0.4 - height / 2, X.columns, fontsize=7)
ax.invert_yaxis()
ax.set_xlabel("hidden units that read the feature (non-zero first-layer weights)")
ax.set_title("Breast cancer: first-layer weights kept per feature")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
