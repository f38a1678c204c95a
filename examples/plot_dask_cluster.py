"""
=====================================
Pruning on a Dask (or Ray) cluster
=====================================

In parallel mode the layer programs of Net-Trim are independent, and
:class:`~sklearn_nettrim.NetTrimCV` runs its folds independently. Both go through
scikit-learn's joblib :class:`~sklearn.utils.parallel.Parallel`, so the joblib backend
that is active when ``fit`` runs decides where the work goes: local processes (``loky``,
the default), a Dask cluster, or a Ray cluster. Each job carries only one layer's arrays
(or one fold's data), never the estimator. Nothing in the estimators changes::

    import joblib
    from distributed import Client

    client = Client("tcp://scheduler-address:8786")   # or Client(LocalCluster(...))
    with joblib.parallel_config(backend="dask"):
        trim = NetTrimTransformer(FrozenEstimator(mlp), mode="parallel", n_jobs=-1).fit(X)

Ray works the same way once its joblib backend is registered
(``pip install "ray[default]"``)::

    import joblib
    from ray.util.joblib import register_ray

    register_ray()
    with joblib.parallel_config(backend="ray"):
        trim = NetTrimTransformer(FrozenEstimator(mlp), mode="parallel", n_jobs=-1).fit(X)

This example starts a small local Dask cluster (needs ``pip install distributed``), prunes
a digits network and runs NetTrimCV on it, once with the local ``loky`` backend and once
on the cluster, and checks that the pruned weights are the same. On a 2-core machine and
with layers this small the cluster brings no speed-up (its scheduling overhead is of the
order of the solves); it pays off when the layers are large and the cluster has many
cores. It runs in well under a minute.
"""

# %%
# A local Dask cluster
# --------------------
# ``processes=False`` keeps the workers as threads of this process, which is enough to
# show the mechanism and avoids re-importing this script in worker processes. For a real
# cluster, connect the Client to its scheduler instead.
import time
import warnings

import joblib
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from sklearn_nettrim import NetTrimCV, NetTrimTransformer

try:
    from distributed import Client, LocalCluster
except ImportError as exc:
    raise ImportError(
        "This example needs Dask's distributed scheduler: pip install distributed"
        " (or pip install 'sklearn-nettrim[dask]').") from exc

warnings.filterwarnings("ignore", message="Stochastic Optimizer", category=ConvergenceWarning)

cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                       dashboard_address=None)
client = Client(cluster)
print(f"Dask cluster: {len(client.scheduler_info()['workers'])} workers")

# %%
# Data and network
# ----------------
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16.0, y, test_size=0.3, random_state=0, stratify=y)
mlp = MLPClassifier(hidden_layer_sizes=(128, 64), max_iter=300, random_state=0)
mlp.fit(X_train, y_train)
print(f"network {[W.shape for W in mlp.coefs_]}, test accuracy {mlp.score(X_test, y_test):.4f}")


def same_weights(a, b):
    """Whether two pruned networks have the same weights (and the same zeros)."""
    return all(np.allclose(Wa, Wb) and np.array_equal(Wa == 0, Wb == 0)
               for Wa, Wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_))


def timed(fit):
    start = time.perf_counter()
    result = fit()
    return result, time.perf_counter() - start


# %%
# NetTrimTransformer: one job per layer
# -------------------------------------
def prune():
    return NetTrimTransformer(FrozenEstimator(mlp), epsilon=0.1, mode="parallel",
                              n_jobs=-1).fit(X_train)


serial, t_serial = timed(lambda: NetTrimTransformer(
    FrozenEstimator(mlp), epsilon=0.1, mode="parallel", n_jobs=1).fit(X_train))
# Start loky's worker processes first, so that the timing below is the solves only.
joblib.Parallel(n_jobs=-1)(joblib.delayed(abs)(i) for i in range(4))
local, t_local = timed(prune)  # default backend: loky processes
with joblib.parallel_config(backend="dask"):
    on_dask, t_dask = timed(prune)

print("\nNetTrimTransformer(epsilon=0.1), 3 layers:")
print(f"  n_jobs=1          {t_serial:6.2f} s  sparsity {serial.sparsity_:.1%}")
print(f"  loky, n_jobs=-1   {t_local:6.2f} s  sparsity {local.sparsity_:.1%}")
print(f"  dask, n_jobs=-1   {t_dask:6.2f} s  sparsity {on_dask.sparsity_:.1%}")
print(f"  same weights (dask vs loky): {same_weights(on_dask.estimator_, local.estimator_)};"
      f" (loky vs n_jobs=1): {same_weights(local.estimator_, serial.estimator_)}")

# %%
# NetTrimCV: one job per fold
# ---------------------------
# Every fold trains the network on its training part and walks the epsilon path on it;
# the final refit (on all the data) solves its layers through the same backend. A smaller
# network and grid than above keep this part short.
epsilons = [0.05, 0.1, 0.2]


def cross_validate():
    network = MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=200, random_state=0)
    return NetTrimCV(network, epsilons=epsilons, cv=3, n_jobs=-1).fit(X_train, y_train)


cv_local, t_cv_local = timed(cross_validate)
with joblib.parallel_config(backend="dask"):
    cv_dask, t_cv_dask = timed(cross_validate)

same_scores = np.allclose(cv_local.cv_results_["mean_test_score"],
                          cv_dask.cv_results_["mean_test_score"])
print("\nNetTrimCV(64-32 network, cv=3, 3 epsilons):")
print(f"  loky  {t_cv_local:6.2f} s  epsilon_ {cv_local.epsilon_}  sparsity"
      f" {cv_local.sparsity_:.1%}  test accuracy {cv_local.score(X_test, y_test):.4f}")
print(f"  dask  {t_cv_dask:6.2f} s  epsilon_ {cv_dask.epsilon_}  sparsity"
      f" {cv_dask.sparsity_:.1%}  test accuracy {cv_dask.score(X_test, y_test):.4f}")
print(f"  same CV scores: {same_scores};"
      f" same weights: {same_weights(cv_dask.estimator_, cv_local.estimator_)}")

# %%
# Timings
# -------
try:
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
    print("matplotlib is not installed: no figure.")

if plt is not None:
    fig, ax = plt.subplots(figsize=(6, 3))
    labels = ["prune, n_jobs=1", "prune, loky", "prune, dask", "NetTrimCV, loky",
              "NetTrimCV, dask"]
    ax.barh(labels, [t_serial, t_local, t_dask, t_cv_local, t_cv_dask],
            color=["C7", "C0", "C1", "C0", "C1"])
    ax.invert_yaxis()
    ax.set_xlabel("seconds")
    ax.set_title("Same results, different joblib backends")
    fig.tight_layout()
    plt.show()

client.close()
cluster.close()
