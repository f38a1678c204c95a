"""Plots: score and sparsity along epsilon, and which input pixels survive.

matplotlib is optional: it is imported when a plot is drawn, with a helpful error.
"""

import numpy as np
import scipy.sparse as sp

__all__ = ["NetTrimPathDisplay", "plot_first_layer_mask"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "Plotting needs matplotlib: pip install matplotlib (or"
            " pip install 'sklearn-nettrim[examples]').") from exc
    return plt


class NetTrimPathDisplay:
    """Mean CV score and sparsity against epsilon, with the chosen epsilon marked.

    Build it with :meth:`from_estimator` (a fitted NetTrimCV) or :meth:`from_cv_results`
    (NetTrimCV's or GridSearchCV's ``cv_results_``), like scikit-learn's
    ``ValidationCurveDisplay``.

    Parameters
    ----------
    epsilons, mean_score, std_score, sparsity : ndarray of shape (n_points,)
        ``std_score`` and ``sparsity`` may be None.
    chosen_epsilon : float or None
    score_name : str

    Attributes
    ----------
    ax_, ax_sparsity_, figure_ : matplotlib objects, after :meth:`plot`.
    """

    def __init__(self, epsilons, mean_score, std_score=None, sparsity=None,
                 chosen_epsilon=None, score_name="score"):
        self.epsilons = np.asarray(epsilons, dtype=float)
        self.mean_score = np.asarray(mean_score, dtype=float)
        self.std_score = None if std_score is None else np.asarray(std_score, dtype=float)
        self.sparsity = None if sparsity is None else np.asarray(sparsity, dtype=float)
        self.chosen_epsilon = chosen_epsilon
        self.score_name = score_name

    def plot(self, ax=None):
        """Draw on ``ax`` (a new figure if None); sparsity on a twin axis. Returns self."""
        plt = _pyplot()
        if ax is None:
            _, ax = plt.subplots()
        order = np.argsort(self.epsilons)
        eps = self.epsilons[order]
        mean = self.mean_score[order]
        ax.plot(eps, mean, "o-", color="C0", label=f"mean test {self.score_name}")
        if self.std_score is not None:
            std = self.std_score[order]
            ax.fill_between(eps, mean - std, mean + std, color="C0", alpha=0.2)
        ax.set_xscale("log")
        ax.set_xlabel("epsilon (relative tolerance per layer)")
        ax.set_ylabel(self.score_name, color="C0")
        self.ax_sparsity_ = None
        if self.sparsity is not None:
            twin = ax.twinx()
            twin.plot(eps, self.sparsity[order], "s--", color="C1", label="sparsity")
            twin.set_ylabel("sparsity (fraction of zero weights)", color="C1")
            twin.set_ylim(0, 1)
            self.ax_sparsity_ = twin
        if self.chosen_epsilon is not None:
            ax.axvline(self.chosen_epsilon, color="k", linestyle=":",
                       label=f"chosen epsilon = {self.chosen_epsilon:.3g}")
        ax.legend(loc="lower left")
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_cv_results(cls, cv_results, *, chosen_epsilon=None, metric="score",
                        sparsity="sparsity", ax=None):
        """From NetTrimCV's or GridSearchCV's ``cv_results_`` (epsilon as a parameter).

        For GridSearchCV, ``metric`` is the scoring key and ``sparsity`` the key of
        :func:`sklearn_nettrim.metrics.sparsity_scorer` if it was used.
        """
        if "epsilon" in cv_results:
            eps = cv_results["epsilon"]
            spars = cv_results.get(f"mean_{sparsity}")
        else:
            params = [k for k in cv_results if k.startswith("param_") and "epsilon" in k]
            if not params:
                raise ValueError("cv_results has no epsilon column or parameter.")
            eps = np.asarray(cv_results[params[0]], dtype=float)
            spars = cv_results.get(f"mean_test_{sparsity}")
        display = cls(eps, cv_results[f"mean_test_{metric}"],
                      cv_results.get(f"std_test_{metric}"), spars, chosen_epsilon, metric)
        return display.plot(ax=ax)

    @classmethod
    def from_estimator(cls, estimator, *, ax=None):
        """From a fitted :class:`~sklearn_nettrim.NetTrimCV`."""
        if not hasattr(estimator, "cv_results_"):
            raise TypeError("from_estimator needs a fitted NetTrimCV; for GridSearchCV use"
                            " from_cv_results(search.cv_results_).")
        return cls.from_cv_results(estimator.cv_results_, chosen_epsilon=estimator.epsilon_,
                                   ax=ax)


def plot_first_layer_mask(estimator, image_shape=None, *, ax=None, cmap="viridis"):
    """Show, per input pixel, how many first-layer weights survive pruning.

    Pixels at zero are ignored by the pruned network (``transform`` drops them).

    Parameters
    ----------
    estimator : fitted NetTrimTransformer, NetTrimCV, or MLP
    image_shape : tuple of int or None
        Shape of one image; None means square.
    ax : matplotlib Axes or None

    Returns
    -------
    ax : matplotlib Axes
    """
    plt = _pyplot()
    network = getattr(estimator, "estimator_", estimator)
    first = network.coefs_[0]
    kept = (np.diff(sp.csr_matrix(first).indptr) if sp.issparse(first)
            else np.count_nonzero(first, axis=1))
    n = kept.size
    if image_shape is None:
        side = int(round(np.sqrt(n)))
        if side * side != n:
            raise ValueError(f"{n} input features are not a square image: pass image_shape.")
        image_shape = (side, side)
    if int(np.prod(image_shape)) != n:
        raise ValueError(f"image_shape {image_shape} does not hold {n} input features.")
    if ax is None:
        _, ax = plt.subplots()
    image = ax.imshow(kept.reshape(image_shape), cmap=cmap)
    ax.figure.colorbar(image, ax=ax, label="first-layer weights kept")
    ax.set_title(f"{np.count_nonzero(kept)} of {n} inputs used")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax
