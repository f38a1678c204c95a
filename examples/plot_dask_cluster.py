"""
=====================================
Pruning on a Dask (or Ray) cluster
=====================================

In parallel mode the layer programs of Net-Trim are independent, and
:class:`~sklearn_nettrim.NetTrimCV` runs its folds independently (in either mode). Both go
through scikit-learn's joblib :class:`~sklearn.utils.parallel.Parallel`, so the joblib
backend that is active when ``fit`` runs decides where the work goes: local processes
(``loky``, the default), a Dask cluster, or a Ray cluster. Each job carries only one
layer's arrays (or one fold's data), never the estimator. Nothing in the estimators
changes::

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

The pruning here uses ``mode="parallel"`` on purpose: the default cascade mode prunes
each layer on the output of the pruned layers before it, so its layers are solved one
after the other and there is nothing to fan out per layer (it is the more accurate mode
at high sparsity; see the cascade-versus-parallel example). In parallel mode every
layer's program, or with ``target_sparsity`` every layer's search for its tolerance, is
one job. NetTrimCV keeps its default (cascade) mode: there the jobs are the folds.

This example starts a small local Dask cluster (needs ``pip install distributed``), prunes
a digits network and runs NetTrimCV on it, with ``n_jobs=1``, the local ``loky`` backend
and on the cluster, and compares the results. On a 2-core machine and with layers this
small the cluster brings no speed-up (its scheduling overhead is of the order of the
solves); it pays off when the layers are large and the cluster has many cores. It runs in
well under a minute.
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
from threadpoolctl import threadpool_info

from sklearn_nettrim import NetTrimCV, NetTrimTransformer, check_certificate

try:
    from distributed import Client, LocalCluster
except ImportError as exc:
    raise ImportError(
        "This example needs Dask's distributed scheduler: pip install distributed"
        " (or pip install 'sklearn-nettrim[dask]').") from exc

warnings.filterwarnings("ignore", message="Stochastic Optimizer", category=ConvergenceWarning)


def blas_threads():
    """The number of threads the BLAS libraries of this process use."""
    return max((pool["num_threads"] for pool in threadpool_info()
                if pool["user_api"] == "blas"), default=None)


blas_at_start = blas_threads()
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


def compare(a, b):
    """How two pruned networks (fitted NetTrimTransformer or NetTrimCV) differ."""
    nnz = [[r["nnz_after"] for r in t.layer_stats_] for t in (a, b)]
    errors = [[r["relative_error"] for r in t.layer_stats_] for t in (a, b)]
    weights = zip(a.estimator_.coefs_, b.estimator_.coefs_)
    return (f"non-zeros per layer {nnz[0]} vs {nnz[1]};"
            f" largest difference of a layer's relative error"
            f" {np.max(np.abs(np.subtract(*errors))):.1e},"
            f" of a weight {max(np.max(np.abs(Wa - Wb)) for Wa, Wb in weights):.1e};"
            f" test predictions agree on"
            f" {np.mean(a.predict(X_test) == b.predict(X_test)):.1%}")


def certified(trim, X):
    return all(c["certified"] for c in check_certificate(trim, X))


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

print("\nNetTrimTransformer(epsilon=0.1, mode='parallel'), 3 layers:")
for label, trim, seconds in [("n_jobs=1", serial, t_serial),
                             ("loky, n_jobs=-1", local, t_local),
                             ("dask, n_jobs=-1", on_dask, t_dask)]:
    print(f"  {label:<16} {seconds:6.2f} s  sparsity {trim.sparsity_:.1%}  test accuracy"
          f" {trim.score(X_test, y_test):.4f}  every layer certified:"
          f" {certified(trim, X_train)}")
print(f"  dask vs loky:     {compare(on_dask, local)}")
print(f"  loky vs n_jobs=1: {compare(local, serial)}")

# %%
# The backend decides where each layer is solved, not what is solved: every run solves the
# same programs, and :func:`~sklearn_nettrim.check_certificate` verifies each result's
# layers (above). The results agree up to floating-point rounding, which differs between
# processes and threads (how many BLAS threads each uses, for one). The l1 solutions
# then differ at the level of the solver's tolerance;
# the support refinement (the default ``polish="refine"``) chooses among supports of the
# same size that keep the layer's bound, and such a small difference can tip it towards
# another, about as good. So compare the sizes, the certificates and the scores, not the
# bits, when the same network is pruned on different machines. On one machine, the same
# number of BLAS threads in every process (``OPENBLAS_NUM_THREADS=1`` set before Python
# starts, say) makes the backends agree to the bit.

# %%
# NetTrimCV: one job per fold
# ---------------------------
# Every fold trains the network on its training part and walks the epsilon path on it, in
# cascade mode (the default); the final refit on all the data runs in this process. A
# smaller network and grid than above keep this part short.
epsilons = [0.05, 0.1, 0.2]


def cross_validate():
    network = MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=200, random_state=0)
    return NetTrimCV(network, epsilons=epsilons, cv=3, n_jobs=-1).fit(X_train, y_train)


cv_local, t_cv_local = timed(cross_validate)
with joblib.parallel_config(backend="dask"):
    cv_dask, t_cv_dask = timed(cross_validate)

score_difference = np.max(np.abs(cv_local.cv_results_["mean_test_score"]
                                  - cv_dask.cv_results_["mean_test_score"]))
print("\nNetTrimCV(64-32 network, cv=3, 3 epsilons):")
print(f"  loky  {t_cv_local:6.2f} s  epsilon_ {cv_local.epsilon_}  sparsity"
      f" {cv_local.sparsity_:.1%}  test accuracy {cv_local.score(X_test, y_test):.4f}")
print(f"  dask  {t_cv_dask:6.2f} s  epsilon_ {cv_dask.epsilon_}  sparsity"
      f" {cv_dask.sparsity_:.1%}  test accuracy {cv_dask.score(X_test, y_test):.4f}")
print(f"  largest difference of a mean CV score: {score_difference:.4f}")
print(f"  dask vs loky: {compare(cv_dask, cv_local)}")
print(f"BLAS threads of this process: {blas_at_start} at the start, {blas_threads()} now")

# %%
# The folds ran in different processes or threads, so their CV scores can differ in the
# last digits, as above. The final refit runs in this process both times, at the same
# ``epsilon_``, yet it too can come out slightly different: the Dask workers of this
# example are threads of this process, and running tasks on them can leave this
# process's BLAS with fewer threads than it started with (the last line above). In
# cascade mode a small difference in one layer changes the input of the next, so the
# sizes of the later layers can move a little too.

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
