"""
=====================================================
Selecting input features with the group penalty
=====================================================

With ``penalty="group"``, Net-Trim minimises the sum of the Euclidean norms of the weight
rows instead of the sum of absolute weights: a row is one input unit's outgoing weights,
so whole input units drop out. On the first layer the input units are the data's
features: the pruned network stops reading some columns altogether, and
:class:`~sklearn_nettrim.NetTrimTransformer` becomes a feature selector, with
``get_support`` and ``get_feature_names_out`` like scikit-learn's
:class:`~sklearn.feature_selection.SelectFromModel`, under the same guarantee as
always: on the calibration data, every layer's outputs stay within that layer's
``epsilon`` of the trained network's (in the parallel mode used here, each layer is
measured on the trained network's own activations before it).

Here the transformer trains an MLP on the breast cancer data (a pandas DataFrame),
prunes it with the group penalty inside a :class:`~sklearn.pipeline.Pipeline`, hands the
selected columns to a logistic regression, and finally :meth:`compact` removes the
hidden units the pruning left without inputs or outputs. The script takes a few seconds.
"""

# %%
# Data: a DataFrame with 30 named features
# ----------------------------------------
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_nettrim import NetTrimTransformer

warnings.simplefilter("ignore", ConvergenceWarning)  # the MLP's own training

X, y = load_breast_cancer(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0,
                                                    stratify=y)
print(f"{X.shape[1]} features, {X_train.shape[0]} training rows")

# %%
# A pipeline with Net-Trim as the feature selector
# ------------------------------------------------
# The first layer gets a loose tolerance (features may go), the output layer a tight
# one. That is why this example uses ``mode="parallel"`` rather than the default cascade
# mode: in parallel mode every layer is held to its OWN ``epsilon`` against the trained
# network's activations. In cascade mode a later layer's tolerance is at least the error
# it inherits from the pruned layers before it (a given ``epsilon`` is only a floor
# there), so after a loosely pruned first layer the output layer could not be held
# tight. ``set_output(transform="pandas")`` keeps the column names through the pipeline.
mlp = MLPClassifier(hidden_layer_sizes=(32,), max_iter=1000, random_state=0)
selector = NetTrimTransformer(mlp, epsilon=[0.7, 0.05], penalty="group", mode="parallel")
pipe = make_pipeline(StandardScaler(), selector, LogisticRegression())
pipe.set_output(transform="pandas")
pipe.fit(X_train, y_train)

trim = pipe[1]
kept = trim.get_feature_names_out()
print(f"kept {len(kept)} of {X.shape[1]} features:")
print(", ".join(kept))
print(f"logistic regression on the kept features: test accuracy"
      f" {pipe.score(X_test, y_test):.3f}")

# %%
# The pruned network itself
# -------------------------
# The selector is also the pruned network: it predicts with ``estimator_``, which no
# longer reads the dropped columns at all. Its accuracy is compared with the trained
# network's (``network_``).
X_test_scaled = pipe[0].transform(X_test)
print(f"trained network: {trim.network_.score(X_test_scaled, y_test):.3f},"
      f" pruned (group): {trim.score(X_test_scaled, y_test):.3f},"
      f" {trim.sparsity_:.0%} of the weights are zero")
first = trim.estimator_.coefs_[0]
print(f"first-layer rows that are entirely zero: {int(np.sum(~first.any(axis=1)))}")

# %%
# Compact: remove the dead hidden units
# -------------------------------------
# Hidden units without inputs become constants folded into the output layer; units
# without outputs go. The network gets smaller and predicts exactly the same.
before = trim.predict_proba(X_test_scaled)
trim.compact()
print(f"hidden units: {trim.network_.hidden_layer_sizes} -> {trim.hidden_units_}")
print("same predictions:", np.allclose(trim.predict_proba(X_test_scaled), before))
