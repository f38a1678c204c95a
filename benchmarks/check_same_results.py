"""Regression harness: do two versions of sklearn_nettrim give the same results?

What it does
------------
``--out FILE.json`` trains a few small deterministic networks on scikit-learn's bundled
data, prunes them through the PUBLIC API only (``NetTrimTransformer(FrozenEstimator(mlp),
...).fit``, ``net_trim``, ``net_trim_path``, ``NetTrimCV``) over a matrix of options, and
writes, per case: every layer record of ``layer_stats_`` (all fields but timings), a
summary of the pruned weights (non-zeros, a hash of the sparsity mask, norms),
``sparsity_``, ``epsilon_``, ``n_iter_``, the held-out score (accuracy with the number of
correct rows, or R^2) and :func:`check_certificate` on the calibration rows. An exception
is recorded for its case instead of stopping the run.

``sklearn_nettrim`` is imported from whatever is first on ``sys.path``: run the script
with ``PYTHONPATH`` pointing at the checkout to measure (its path is printed and stored).

``--compare OLD.json NEW.json`` compares two such files case by case: the case keys must
be the same; integers (``nnz_after``, ``n_iter``, the number of correct test rows, ...),
booleans and strings must match exactly; floats must agree within ``--rtol`` (1e-6)
relative, ``|a - b| <= rtol * max(|a|, |b|)``, with an absolute floor ``--atol`` (1e-12)
for values that are zero on one side; NaN matches NaN. Exit code 1 when anything differs
beyond tolerance. Wall-clock timings are never stored in the compared fields (they are
under keys starting with ``_``), and the solver's ``message`` text and the warnings
raised are reported but do not fail the comparison.

The polish option is being renamed (``False -> None``, ``True -> "feasible"``,
``"refit" -> "least_squares"``). The cases are keyed and written with the OLD names; a
package that refuses an old value (an exception whose message mentions ``polish``) is
called with the new one, and ``--compare`` maps the recorded ``polished`` values through
the same table before comparing. Records may be dicts or typed objects (dataclasses,
named tuples, objects with attributes): they are read as mappings either way.

How to run
----------
::

    cd /tmp && PYTHONPATH=/work/base python /work/main/benchmarks/check_same_results.py \\
        --out /work/equiv/base.json
    cd /tmp && PYTHONPATH=/work/main python /work/main/benchmarks/check_same_results.py \\
        --out /work/equiv/new.json
    python /work/main/benchmarks/check_same_results.py --compare /work/equiv/base.json \\
        /work/equiv/new.json

``--cases REGEX`` runs (or compares) only the matching cases, ``--list`` prints the case
keys. About 2.5 minutes on 2 idle cores (4 minutes on a loaded machine), 95 cases.
"""

import argparse
import dataclasses
import hashlib
import json
import math
import os
import platform
import re
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Mapping

import numpy as np

#: The polish values renamed by the restructure.
OLD_TO_NEW = {False: None, True: "feasible", "refit": "least_squares"}

#: Fields whose absence from one side of a comparison is a failure (others: a note).
REQUIRED_FIELDS = {
    "nnz_after", "n_iter", "relative_error", "l1_after", "gap", "eps_abs", "converged",
    "polished", "refined", "sparsity_", "epsilon_", "test_score", "certified",
}
#: Fields compared and reported but never failing the comparison.
INFO_FIELDS = {"message", "warnings", "error_message", "sklearn_nettrim_file",
               "package_commit"}

DIGITS_CAL = 400  # calibration rows of the digits networks (of the 1000 training rows)


# --------------------------------------------------------------------------- helpers


def new_polish(old):
    """The restructured name of an old polish value (unchanged when not renamed)."""
    if isinstance(old, bool):
        return OLD_TO_NEW[old]
    return OLD_TO_NEW.get(old, old)


_POLISH_SEEN = {}  # old polish value -> the value the installed package accepted


def call_with_polish(run, polish):
    """``run(polish_value)``: with the old value, or the new one if the package refuses
    the old one (an exception whose message mentions "polish"). Returns (result, used)."""
    key = repr(polish)
    if key in _POLISH_SEEN:
        used = _POLISH_SEEN[key]
        return run(used), used
    try:
        result = run(polish)
    except Exception as exc:  # noqa: BLE001 - any refusal naming the parameter
        renamed_exists = isinstance(polish, bool) or polish in OLD_TO_NEW
        if "polish" not in str(exc).lower() or not renamed_exists:
            raise
        renamed = new_polish(polish)
        result = run(renamed)
        _POLISH_SEEN[key] = renamed
        return result, renamed
    _POLISH_SEEN[key] = polish
    return result, polish


def jsonable(value):
    """Plain JSON types: numpy scalars and arrays, tuples, dataclasses, ... converted."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()] if value.ndim else jsonable(value.item())
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    as_map = as_mapping(value)
    if as_map is not None:
        return jsonable(as_map)
    return repr(value)


def as_mapping(record):
    """A layer record (dict, dataclass, named tuple or plain object) as a dict, or None."""
    if isinstance(record, Mapping):
        return dict(record)
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        out = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
    elif hasattr(record, "_asdict"):
        out = dict(record._asdict())
    elif hasattr(record, "__dict__") and not callable(record):
        out = {k: v for k, v in vars(record).items() if not k.startswith("_")}
    else:
        return None
    # Fields a typed record may expose as properties.
    for name in REQUIRED_FIELDS | {"shape", "kind", "mode", "epsilon", "violation",
                                   "output_error", "output_bound"}:
        if name not in out and hasattr(record, name):
            try:
                out[name] = getattr(record, name)
            except Exception:  # noqa: BLE001
                pass
    return out


def layer_record(record):
    """One layer's record without timings (the only non-deterministic fields)."""
    mapping = as_mapping(record)
    if mapping is None:
        return {"unreadable_record": repr(record)}
    return {k: jsonable(v) for k, v in mapping.items()
            if "seconds" not in k and k not in ("time", "elapsed")}


def weights_summary(mlp):
    """Per layer: non-zeros, a hash of the sparsity mask and norms of the weights."""
    import scipy.sparse as sp

    out = []
    for W, b in zip(mlp.coefs_, mlp.intercepts_):
        W = W.toarray() if sp.issparse(W) else np.asarray(W)
        mask = np.packbits((W != 0).ravel())
        out.append({
            "nnz": int(np.count_nonzero(W)),
            "mask_sha1": hashlib.sha1(mask.tobytes()).hexdigest(),
            "abs_sum": float(np.abs(W).sum()),
            "fro": float(np.linalg.norm(W)),
            "intercept_fro": float(np.linalg.norm(b)),
            "intercept_sum": float(np.sum(b)),
        })
    return out


def test_summary(mlp, X, y):
    """Held-out score: accuracy with the number of correct rows, or R^2."""
    from sklearn.base import is_classifier

    pred = mlp.predict(X)
    out = {"test_score": float(mlp.score(X, y))}
    if is_classifier(mlp):
        out["n_correct"] = int(np.sum(pred == y))
    else:
        out["pred_sum"] = float(np.sum(pred))
    return out


def certificate_summary(estimator, X, sample_weight):
    from sklearn_nettrim import check_certificate

    certs = [layer_record(c) for c in check_certificate(estimator, X,
                                                        sample_weight=sample_weight)]
    return {"certified": [c.get("certified") for c in certs], "certificate": certs}


def fitted_summary(trim, data, Xcal, sample_weight):
    """Everything compared for a fitted NetTrimTransformer or NetTrimCV."""
    out = {
        "sparsity_": float(trim.sparsity_),
        "epsilon_": jsonable(trim.epsilon_),
        "n_iter_": jsonable(getattr(trim, "n_iter_", None)),
        "layers": [layer_record(r) for r in trim.layer_stats_],
        "weights": weights_summary(trim.estimator_),
    }
    out.update(test_summary(trim.estimator_, data["X_test"], data["y_test"]))
    out.update(certificate_summary(trim, Xcal, sample_weight))
    return out


# --------------------------------------------------------------------------- networks


def _fit_quietly(mlp, X, y):
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return mlp.fit(X, y)


def build_networks():
    """The trained networks and their calibration / held-out data."""
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.preprocessing import StandardScaler

    nets = {}
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    for name, hidden, activation in [("digits32", (32, 16), "relu"),
                                     ("digits128", (128, 64), "relu"),
                                     ("tanh", (32,), "tanh")]:
        mlp = MLPClassifier(hidden_layer_sizes=hidden, activation=activation, max_iter=200,
                            random_state=0)
        _fit_quietly(mlp, X[:1000], y[:1000])
        nets[name] = {"mlp": mlp, "X_cal": X[:DIGITS_CAL], "y_cal": y[:DIGITS_CAL],
                      "X_test": X[1000:], "y_test": y[1000:],
                      "note": f"digits X/16, MLP {hidden} {activation}, trained on X[:1000],"
                              f" calibration X[:{DIGITS_CAL}], test X[1000:]"}

    X, y = load_breast_cancer(return_X_y=True)
    scaler = StandardScaler().fit(X[:400])
    X = scaler.transform(X)
    mlp = MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0)
    _fit_quietly(mlp, X[:400], y[:400])
    nets["cancer"] = {"mlp": mlp, "X_cal": X[:400], "y_cal": y[:400],
                      "X_test": X[400:], "y_test": y[400:],
                      "note": "breast_cancer StandardScaler(X[:400]), MLP (16,), trained and"
                              " calibrated on X[:400], test X[400:]",
                      "unfitted": MLPClassifier(hidden_layer_sizes=(16,), max_iter=300,
                                                random_state=0)}

    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit(X[:300]).transform(X)
    y = (y - y[:300].mean()) / y[:300].std()
    mlp = MLPRegressor(hidden_layer_sizes=(16,), max_iter=500, random_state=0)
    _fit_quietly(mlp, X[:300], y[:300])
    nets["diabetes"] = {"mlp": mlp, "X_cal": X[:300], "y_cal": y[:300],
                        "X_test": X[300:], "y_test": y[300:],
                        "note": "diabetes StandardScaler, y standardised, MLPRegressor (16,),"
                                " trained and calibrated on X[:300], test X[300:]"}
    for data in nets.values():
        data["network"] = {"test": test_summary(data["mlp"], data["X_test"], data["y_test"]),
                           "weights": weights_summary(data["mlp"])}
    return nets


def demo_weights(n):
    """Deterministic integer sample weights with zeros (rows dropped): 0, 1, 2, 3, ..."""
    return (np.arange(n) % 4).astype(float)


# --------------------------------------------------------------------------- cases


def make_cases():
    """The case matrix: key -> spec. Keys use the OLD polish names."""
    cases = {}

    def add(key, **spec):
        assert key not in cases, key
        cases[key] = spec

    P = ("False", "True", "output", "refit", "refine")
    POLISH = {"False": False, "True": True, "output": "output", "refit": "refit",
              "refine": "refine"}

    # digits 64-32-16-10: the full mode x epsilon x polish grid.
    for mode in ("parallel", "cascade"):
        for eps in (0.05, 0.2):
            for p in P:
                add(f"digits32/{mode}/eps={eps}/polish={p}", net="digits32", api="transformer",
                    params=dict(mode=mode, epsilon=eps, polish=POLISH[p]))
        add(f"digits32/{mode}/eps=0.1/reweight=2", net="digits32", api="transformer",
            params=dict(mode=mode, epsilon=0.1, polish="output", reweight=2))
        for penalty in ("group", "sparse_group"):
            add(f"digits32/{mode}/eps=0.1/penalty={penalty}", net="digits32",
                api="transformer", params=dict(mode=mode, epsilon=0.1, polish="output",
                                               penalty=penalty))
        for allocation in ("magnitude", "output", "uniform"):
            add(f"digits32/{mode}/target=0.9/allocation={allocation}", net="digits32",
                api="transformer", params=dict(mode=mode, target_sparsity=0.9,
                                               allocation=allocation, polish="output",
                                               random_state=0))
        for p in ("False", "output"):
            add(f"digits32/{mode}/eps=0.1/sample_weight/polish={p}", net="digits32",
                api="transformer", sample_weight=True,
                params=dict(mode=mode, epsilon=0.1, polish=POLISH[p]))
        add(f"digits32/{mode}/path/polish=output", net="digits32", api="path",
            params=dict(mode=mode, epsilons=[0.02, 0.05, 0.1, 0.2], polish="output"))
    for p in ("False", "output"):
        add(f"digits32/cascade/eps=0.1/gamma=1.5/polish={p}", net="digits32",
            api="transformer", params=dict(mode="cascade", epsilon=0.1, gamma=1.5,
                                           polish=POLISH[p]))
    add("digits32/parallel/eps=0.1/n_jobs=2", net="digits32", api="transformer",
        params=dict(mode="parallel", epsilon=0.1, polish="output", n_jobs=2))
    add("digits32/parallel/eps=0.1/max_samples=250", net="digits32", api="transformer",
        params=dict(mode="parallel", epsilon=0.1, polish="output", max_samples=250,
                    random_state=0))
    add("digits32/parallel/eps=0.1/penalize_intercept", net="digits32", api="transformer",
        params=dict(mode="parallel", epsilon=0.1, polish="output", penalize_intercept=True))
    add("digits32/parallel/eps=0.1/net_trim", net="digits32", api="net_trim",
        params=dict(mode="parallel", epsilon=0.1, polish="refine"))
    add("digits32/cascade/path/polish=False", net="digits32", api="path",
        params=dict(mode="cascade", epsilons=[0.02, 0.1, 0.3], polish=False))
    add("digits32/parallel/path/polish=refine/reweight=1", net="digits32", api="path",
        params=dict(mode="parallel", epsilons=[0.05, 0.2], polish="refine", reweight=1))
    add("digits32/parallel/cv3/frozen", net="digits32", api="cv",
        params=dict(mode="parallel", epsilons=[0.02, 0.1, 0.3], cv=3, polish="output"))

    # digits 64-128-64-10.
    for mode in ("parallel", "cascade"):
        for eps in (0.05, 0.2):
            add(f"digits128/{mode}/eps={eps}/polish=output", net="digits128",
                api="transformer", params=dict(mode=mode, epsilon=eps, polish="output"))
    for p in ("False", "refine"):
        add(f"digits128/parallel/eps=0.1/polish={p}", net="digits128", api="transformer",
            params=dict(mode="parallel", epsilon=0.1, polish=POLISH[p]))
    add("digits128/parallel/target=0.9/allocation=magnitude", net="digits128",
        api="transformer", params=dict(mode="parallel", target_sparsity=0.9,
                                       allocation="magnitude", polish="output",
                                       random_state=0))
    add("digits128/cascade/target=0.9/allocation=uniform", net="digits128",
        api="transformer", params=dict(mode="cascade", target_sparsity=0.9,
                                       allocation="uniform", polish="output", random_state=0))

    # breast_cancer 30-16-1 (the only net small enough for cvxpy).
    for mode in ("parallel", "cascade"):
        for eps in (0.05, 0.2):
            add(f"cancer/{mode}/eps={eps}/polish=output", net="cancer", api="transformer",
                params=dict(mode=mode, epsilon=eps, polish="output"))
        for p in ("False", "output"):
            add(f"cancer/{mode}/eps=0.1/solver=cvxpy/polish={p}", net="cancer",
                api="transformer", params=dict(mode=mode, epsilon=0.1, solver="cvxpy",
                                               polish=POLISH[p]))
    add("cancer/parallel/eps=0.1/penalty=group", net="cancer", api="transformer",
        params=dict(mode="parallel", epsilon=0.1, polish="output", penalty="group"))
    add("cancer/cascade/cv3/trained", net="cancer", api="cv",
        params=dict(mode="cascade", epsilons=[0.02, 0.1, 0.3], cv=3, polish="output",
                    random_state=0))

    # diabetes MLPRegressor 10-16-1.
    for mode in ("parallel", "cascade"):
        for eps in (0.05, 0.2):
            for p in ("False", "output", "refine"):
                add(f"diabetes/{mode}/eps={eps}/polish={p}", net="diabetes",
                    api="transformer", params=dict(mode=mode, epsilon=eps, polish=POLISH[p]))
        add(f"diabetes/{mode}/target=0.9/allocation=uniform", net="diabetes",
            api="transformer", params=dict(mode=mode, target_sparsity=0.9,
                                           allocation="uniform", polish="output",
                                           random_state=0))
    add("diabetes/parallel/eps=0.1/sample_weight", net="diabetes", api="transformer",
        sample_weight=True, params=dict(mode="parallel", epsilon=0.1, polish="output"))
    add("diabetes/parallel/path/polish=output", net="diabetes", api="path",
        params=dict(mode="parallel", epsilons=[0.02, 0.1, 0.3], polish="output"))

    # tanh 64-32-10 (linear programs on the pre-activations).
    for mode in ("parallel", "cascade"):
        for eps in (0.05, 0.2):
            for p in ("False", "output", "refine"):
                add(f"tanh/{mode}/eps={eps}/polish={p}", net="tanh", api="transformer",
                    params=dict(mode=mode, epsilon=eps, polish=POLISH[p]))
    add("tanh/parallel/eps=0.1/reweight=2", net="tanh", api="transformer",
        params=dict(mode="parallel", epsilon=0.1, polish="output", reweight=2))
    add("tanh/cascade/target=0.9/allocation=uniform", net="tanh", api="transformer",
        params=dict(mode="cascade", target_sparsity=0.9, allocation="uniform",
                    polish="output", random_state=0))
    return cases


def run_case(spec, nets):
    """Fit one case through the public API; the summary dict (exceptions propagate)."""
    from sklearn.frozen import FrozenEstimator

    import sklearn_nettrim as snt

    data = nets[spec["net"]]
    mlp, Xcal = data["mlp"], data["X_cal"]
    params = dict(spec["params"])
    polish = params.pop("polish")
    weight = demo_weights(Xcal.shape[0]) if spec.get("sample_weight") else None
    api = spec["api"]

    if api == "transformer":
        def run(p):
            trim = snt.NetTrimTransformer(FrozenEstimator(mlp), polish=p, **params)
            return trim.fit(Xcal, sample_weight=weight)

        trim, used = call_with_polish(run, polish)
        out = fitted_summary(trim, data, Xcal, weight)
    elif api == "net_trim":
        pruned, used = call_with_polish(
            lambda p: snt.net_trim(mlp, Xcal, polish=p, sample_weight=weight, **params),
            polish)
        out = {"weights": weights_summary(pruned)}
        out.update(test_summary(pruned, data["X_test"], data["y_test"]))
    elif api == "path":
        (grid, estimators, stats), used = call_with_polish(
            lambda p: snt.net_trim_path(mlp, Xcal, polish=p, sample_weight=weight, **params),
            polish)
        out = {"epsilons": jsonable(grid), "points": []}
        for est, records in zip(estimators, stats):
            point = {"layers": [layer_record(r) for r in records],
                     "weights": weights_summary(est)}
            point.update(test_summary(est, data["X_test"], data["y_test"]))
            out["points"].append(point)
    elif api == "cv":
        estimator = FrozenEstimator(mlp) if spec["net"] != "cancer" else data["unfitted"]

        def run(p):
            cv = snt.NetTrimCV(estimator, polish=p, **params)
            return cv.fit(Xcal, data["y_cal"], sample_weight=weight)

        cv, used = call_with_polish(run, polish)
        out = fitted_summary(cv, data, Xcal, weight)
        out["best_index_"] = int(cv.best_index_)
        out["epsilons_"] = jsonable(cv.epsilons_)
        out["cv_results_"] = {k: jsonable(v) for k, v in sorted(cv.cv_results_.items())}
    else:
        raise ValueError(api)
    out["_polish_passed"] = jsonable(used)
    return out


# --------------------------------------------------------------------------- run


def package_commit(path):
    try:
        return subprocess.run(["git", "-C", os.path.dirname(path), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:  # noqa: BLE001
        return None


def run_all(out_path, pattern=None):
    import scipy
    import sklearn

    import sklearn_nettrim

    print(f"sklearn_nettrim imported from {sklearn_nettrim.__file__}", flush=True)
    cases = make_cases()
    if pattern:
        cases = {k: v for k, v in cases.items() if re.search(pattern, k)}
    start = time.perf_counter()
    nets = build_networks()
    print(f"networks trained in {time.perf_counter() - start:.1f}s", flush=True)
    meta = {
        "sklearn_nettrim_file": sklearn_nettrim.__file__,
        "package_commit": package_commit(sklearn_nettrim.__file__),
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "scipy": scipy.__version__, "sklearn": sklearn.__version__,
                     "sklearn_nettrim": getattr(sklearn_nettrim, "__version__", None)},
        "networks": {name: {"note": d["note"], **jsonable(d["network"])}
                     for name, d in nets.items()},
    }
    results = {}
    for i, (key, spec) in enumerate(cases.items()):
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                entry = run_case(spec, nets)
                status = "ok"
            except Exception as exc:  # noqa: BLE001 - recorded per case
                entry = {"error": type(exc).__name__, "error_message": str(exc)[:2000],
                         "_traceback": traceback.format_exc()[-4000:]}
                status = f"ERROR {type(exc).__name__}: {str(exc)[:150]}"
        entry["warnings"] = sorted({f"{w.category.__name__}: {w.message}"[:300]
                                    for w in caught})
        entry["_seconds"] = round(time.perf_counter() - t0, 3)
        entry["_spec"] = jsonable(spec)
        results[key] = entry
        print(f"[{i + 1:3d}/{len(cases)}] {entry['_seconds']:6.2f}s {key}: {status}",
              flush=True)
    meta["_total_seconds"] = round(time.perf_counter() - start, 1)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w") as f:
        json.dump({"meta": meta, "cases": results}, f, indent=1, sort_keys=True)
    n_err = sum("error" in e for e in results.values())
    print(f"{len(results)} cases ({n_err} errors) in {meta['_total_seconds']}s -> {out_path}")


# --------------------------------------------------------------------------- compare


def _normalise(key, value):
    if key in ("polished", "polish") and (isinstance(value, bool) or value == "refit"):
        return new_polish(value)
    return value


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def diff(old, new, path, rtol, atol, out):
    """Append (severity, path, old, new, rel) for every difference; returns max rel of
    the float fields compared."""
    key = path.rsplit("/", 1)[-1].split("[")[0]
    if key.startswith("_"):
        return 0.0
    info = key in INFO_FIELDS
    old, new = _normalise(key, old), _normalise(key, new)
    if isinstance(old, dict) and isinstance(new, dict):
        worst = 0.0
        for k in sorted(set(old) | set(new)):
            if k.startswith("_"):
                continue
            if k not in new or k not in old:
                sev = "FAIL" if k in REQUIRED_FIELDS else "note"
                side = "new" if k not in new else "old"
                out.append((sev, f"{path}/{k}", old.get(k, "<absent>"),
                            new.get(k, "<absent>"), f"missing in {side}"))
                continue
            worst = max(worst, diff(old[k], new[k], f"{path}/{k}", rtol, atol, out))
        return worst
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            out.append(("note" if info else "FAIL", path, f"len {len(old)}", f"len {len(new)}",
                        "length"))
            return 0.0
        worst = 0.0
        for i, (a, b) in enumerate(zip(old, new)):
            worst = max(worst, diff(a, b, f"{path}[{i}]", rtol, atol, out))
        return worst
    if _is_num(old) and _is_num(new):
        if isinstance(old, int) and isinstance(new, int):
            if old != new:
                out.append(("note" if info else "FAIL", path, old, new, "int"))
            return 0.0
        a, b = float(old), float(new)
        if math.isnan(a) and math.isnan(b):
            return 0.0
        if a == b:
            return 0.0
        if math.isnan(a) or math.isnan(b) or math.isinf(a) or math.isinf(b):
            out.append(("note" if info else "FAIL", path, old, new, "nan/inf"))
            return math.inf
        scale = max(abs(a), abs(b))
        rel = abs(a - b) / scale
        if abs(a - b) > max(rtol * scale, atol):
            out.append(("note" if info else "FAIL", path, old, new, f"rel {rel:.3g}"))
        return rel
    if old != new or type(old) is not type(new):
        out.append(("note" if info else "FAIL", path, old, new, "value"))
    return 0.0


def _walk_values(entry, name):
    """All values of field ``name`` anywhere in ``entry``."""
    if isinstance(entry, dict):
        for k, v in entry.items():
            if k == name:
                yield v
            elif not k.startswith("_"):
                yield from _walk_values(v, name)
    elif isinstance(entry, list):
        for v in entry:
            yield from _walk_values(v, name)


def compare(old_path, new_path, rtol, atol, verbose, pattern=None):
    with open(old_path) as f:
        old = json.load(f)
    with open(new_path) as f:
        new = json.load(f)
    print(f"old: {old_path} ({old['meta'].get('sklearn_nettrim_file')},"
          f" {old['meta'].get('package_commit')})")
    print(f"new: {new_path} ({new['meta'].get('sklearn_nettrim_file')},"
          f" {new['meta'].get('package_commit')})")
    failed = False
    net_diffs = []
    diff(old["meta"].get("networks"), new["meta"].get("networks"), "networks", rtol, atol,
         net_diffs)
    for sev, path, a, b, why in net_diffs:
        print(f"  {sev} trained network differs: {path}: {a!r} -> {b!r} ({why})")
        failed |= sev == "FAIL"
    old_cases, new_cases = old["cases"], new["cases"]
    if pattern:  # compare a subset (e.g. a run made with --cases)
        old_cases = {k: v for k, v in old_cases.items() if re.search(pattern, k)}
        new_cases = {k: v for k, v in new_cases.items() if re.search(pattern, k)}
    only_old = sorted(set(old_cases) - set(new_cases))
    only_new = sorted(set(new_cases) - set(old_cases))
    for k in only_old:
        print(f"MISSING in new: {k}")
    for k in only_new:
        print(f"MISSING in old: {k}")
    failed |= bool(only_old or only_new)
    counts = {"OK": 0, "DIFF": 0}
    for key in sorted(set(old_cases) & set(new_cases)):
        a, b = old_cases[key], new_cases[key]
        out = []
        if "error" in a or "error" in b:
            same = a.get("error") == b.get("error")
            status = "OK" if same else "DIFF"
            counts[status] += 1
            failed |= not same
            print(f"{status:4s} {key}: error old={a.get('error')} new={b.get('error')}"
                  f" ({(b.get('error_message') or a.get('error_message') or '')[:120]})")
            continue
        worst = diff(a, b, "", rtol, atol, out)
        fails = [d for d in out if d[0] == "FAIL"]
        flags = []
        for field in ("nnz_after", "n_iter", "n_correct", "test_score"):
            va, vb = list(_walk_values(a, field)), list(_walk_values(b, field))
            if va or vb:
                flags.append(f"{field}={'=' if va == vb else 'DIFFERS'}")
        status = "DIFF" if fails else "OK"
        counts[status] += 1
        failed |= bool(fails)
        print(f"{status:4s} {key}: {' '.join(flags)} max_rel_float={worst:.2g}"
              f" ({len(fails)} beyond tol, {len(out) - len(fails)} notes)")
        shown = out if verbose else fails[:15] + [d for d in out if d[0] == "note"][:5]
        for sev, path, va, vb, why in shown:
            print(f"      {sev} {path}: {str(va)[:80]} -> {str(vb)[:80]} ({why})")
        if not verbose and len(fails) > 15:
            print(f"      ... {len(fails) - 15} more (--verbose shows all)")
    print(f"\n{counts['OK']} cases match, {counts['DIFF']} differ,"
          f" {len(only_old) + len(only_new)} missing (rtol={rtol}, atol={atol})")
    print("RESULT:", "DIFFERENT" if failed else "SAME")
    return 1 if failed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="write the results of this checkout to FILE.json")
    parser.add_argument("--compare", nargs=2, metavar=("OLD.json", "NEW.json"))
    parser.add_argument("--cases", help="run or compare only the cases whose key matches"
                        " this regex")
    parser.add_argument("--list", action="store_true", help="print the case keys")
    parser.add_argument("--rtol", type=float, default=1e-6)
    parser.add_argument("--atol", type=float, default=1e-12)
    parser.add_argument("--verbose", action="store_true", help="print every difference")
    args = parser.parse_args()
    if args.list:
        for key in make_cases():
            if not args.cases or re.search(args.cases, key):
                print(key)
        return 0
    if args.compare:
        return compare(*args.compare, rtol=args.rtol, atol=args.atol, verbose=args.verbose,
                       pattern=args.cases)
    if not args.out:
        parser.error("give --out FILE.json, --compare OLD.json NEW.json or --list")
    run_all(args.out, args.cases)
    return 0


if __name__ == "__main__":
    sys.exit(main())
