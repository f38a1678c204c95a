"""
=========================================
Net-Trim: cascade versus parallel pruning
=========================================

Net-Trim prunes a trained network one layer at a time: each layer gets the sparsest
weights (smallest l1 norm) that keep its outputs on calibration data within a relative
tolerance ``epsilon`` of the original outputs. There are two ways to chain the layers:

* ``mode="parallel"``: every layer is pruned against the ORIGINAL network's activations.
  The layer programs are independent (they can run concurrently) and every layer gets
  the same relative tolerance ``epsilon``; the errors of the layers add up through the
  network.
* ``mode="cascade"``: layer after layer, each layer sees the already pruned layers
  before it and must bring the outputs back close to the original ones. Only the first
  layer gets ``epsilon``; a later layer may use ``gamma`` times the error it inherits,
  which keeps the error of the whole network bounded.

This example trains a small MLP on the digits data set, prunes it in both modes at a few
values of ``epsilon`` (with polishing, the default) and compares test accuracy against
sparsity, and the number of non-zero weights left in each layer. It runs in well under a
minute.
"""

# %%
# Train the network
# -----------------
# A 64-128-64-10 ReLU network on 70% of the digits; the other 30% is the test set. The
# training images also serve as the calibration data of Net-Trim.
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from sklearn_nettrim import NetTrimTransformer

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16.0, y, test_size=0.3, random_state=0, stratify=y)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)  # the MLP's own training only
    mlp = MLPClassifier(hidden_layer_sizes=(128, 64), max_iter=300, random_state=0)
    mlp.fit(X_train, y_train)

layer_sizes = [W.size for W in mlp.coefs_]
accuracy_before = mlp.score(X_test, y_test)
print(f"weights per layer: {layer_sizes}; test accuracy before pruning: {accuracy_before:.4f}")

# %%
# Prune in both modes
# -------------------
# ``FrozenEstimator`` tells :class:`~sklearn_nettrim.NetTrimTransformer` that the network
# is already trained: ``fit(X)`` only prunes it. The pruned network is ``estimator_``, a
# plain :class:`~sklearn.neural_network.MLPClassifier`.
epsilons = [0.02, 0.05, 0.1, 0.2, 0.3, 0.4]
modes = ["parallel", "cascade"]
results = {mode: [] for mode in modes}
for mode in modes:
    for epsilon in epsilons:
        start = time.perf_counter()
        trim = NetTrimTransformer(FrozenEstimator(mlp), epsilon=epsilon, mode=mode,
                                  polish="feasible").fit(X_train)
        results[mode].append({
            "epsilon": epsilon,
            "nnz": [r["nnz_after"] for r in trim.layer_stats_],
            "sparsity": trim.sparsity_,
            "accuracy": trim.score(X_test, y_test),
            "seconds": time.perf_counter() - start,
        })

print(f"\n{'epsilon':>7}  {'mode':<8}  {'nnz per layer':>16}  {'sparsity':>8}  "
      f"{'accuracy':>8}  {'seconds':>7}")
for epsilon_index, epsilon in enumerate(epsilons):
    for mode in modes:
        r = results[mode][epsilon_index]
        nnz = " ".join(str(n) for n in r["nnz"])
        print(f"{epsilon:>7.2f}  {mode:<8}  {nnz:>16}  {r['sparsity']:>8.1%}  "
              f"{r['accuracy']:>8.4f}  {r['seconds']:>7.2f}")

# %%
# Accuracy against sparsity, and where the weights go
# ---------------------------------------------------
# The first layer is pruned identically in both modes (it sees the original input
# either way). The modes differ in the later layers: in cascade mode a hidden layer's
# tolerance is the error it inherits from the pruned layers before it, which here is
# smaller than ``epsilon`` relative to its outputs, and it must also correct that error;
# so at the same ``epsilon`` cascade keeps MORE weights in the second hidden layer and is
# more accurate. At a given overall sparsity, cascade mode is the more accurate one at
# the high-sparsity end.
fig, (ax_acc, ax_nnz) = plt.subplots(1, 2, figsize=(11, 4.2))
styles = {"parallel": ("C0", "o", "-"), "cascade": ("C1", "s", "--")}
for mode in modes:
    color, marker, line = styles[mode]
    ax_acc.plot([r["sparsity"] for r in results[mode]], [r["accuracy"] for r in results[mode]],
                color=color, marker=marker, linestyle=line, label=mode)
    for eps_label, r in zip(epsilons, results[mode]):
        ax_acc.annotate(f"{eps_label:g}", (r["sparsity"], r["accuracy"]), fontsize=7,
                        textcoords="offset points", xytext=(3, 3), color=color)
ax_acc.axhline(accuracy_before, color="k", linewidth=0.8, label="before pruning")
ax_acc.set_xlabel("sparsity (fraction of zero weights)")
ax_acc.set_ylabel("test accuracy")
ax_acc.set_title("Test accuracy (labels: epsilon)")
ax_acc.legend()
ax_acc.grid(alpha=0.3)

layer_names = [f"layer {i} ({W.shape[0]}x{W.shape[1]})" for i, W in enumerate(mlp.coefs_)]
for layer, name in enumerate(layer_names):
    for mode in modes:
        color, marker, line = styles[mode]
        nnz = [r["nnz"][layer] for r in results[mode]]
        ax_nnz.plot(epsilons, nnz, color=f"C{layer + 2}", marker=marker, linestyle=line,
                    label=f"{name}, {mode}")
ax_nnz.set_xscale("log")
ax_nnz.set_yscale("log")
ax_nnz.set_xlabel("epsilon")
ax_nnz.set_ylabel("non-zero weights")
ax_nnz.set_title("Non-zero weights per layer")
ax_nnz.legend(fontsize=7)
ax_nnz.grid(alpha=0.3, which="both")
fig.tight_layout()

# %%
# The ratio of non-zero weights, cascade over parallel, per layer at each epsilon:
ratios = np.array([[c / max(p, 1) for c, p in zip(rc["nnz"], rp["nnz"])]
                   for rc, rp in zip(results["cascade"], results["parallel"])])
for epsilon, row in zip(epsilons, ratios):
    print(f"epsilon {epsilon:>4.2f}: cascade/parallel nnz per layer "
          + " ".join(f"{v:5.2f}" for v in row))

plt.show()
