"""What every benchmark shares: the machine it ran on, and a JSON file of its tables.

Every benchmark prints :func:`environment_line` first (which BLAS, how many threads) and
ends with :func:`save_results`, which writes ``benchmarks/results/<name>.json``. The
documentation's Benchmarks page renders those files: its numbers are never typed by hand.

Schema of a results file::

    {
      "name": "accuracy",                 # the file stem
      "title": "...", "description": "...",
      "command": "python benchmarks/bench_accuracy.py --quick",
      "environment": {...},               # environment(): date, machine, versions, BLAS
      "tables": [{"title": "...", "columns": [...], "rows": [[...], ...], "note": "..."}],
      "figures": ["accuracy.png"],        # files next to the JSON file (optional)
      "data": {...}                       # anything else, machine-readable (optional)
    }
"""

import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _blas_pools():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        return []
    return [{key: pool.get(key) for key in ("user_api", "internal_api", "prefix", "version",
                                              "num_threads", "architecture")}
            for pool in threadpool_info()]


def source_commit():
    """The repository's commit, with "+changes" when sklearn_nettrim has uncommitted edits."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "sklearn_nettrim"],
                               cwd=root, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("+changes" if dirty else "")


def environment():
    """Date, commit, machine, library versions and BLAS thread pools, as a dict."""
    import numpy
    import scipy
    import sklearn

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": source_commit(),
        # Other processes slow the BLAS threads down: the 1-minute load when it started.
        "load_average": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
        "blas": _blas_pools(),
    }


def environment_line(env=None):
    """One line saying where the numbers come from (print it first)."""
    env = environment() if env is None else env
    pools = "; ".join(f"{p['internal_api']} {p['version']} ({p['architecture']},"
                      f" {p['num_threads']} threads, {p['prefix']})"
                      for p in env["blas"] if p["user_api"] == "blas") or "no BLAS found"
    return (f"# {env['date']} | commit {env.get('commit')} | {env['machine']} | Python {env['python']}, numpy"
            f" {env['numpy']}, scipy {env['scipy']}, scikit-learn {env['scikit-learn']} |"
            f" BLAS: {pools} | OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']} | load"
            f" {env.get('load_average')}")


def save_figure(fig, path, dpi=100):
    """Save a matplotlib figure (tight layout) next to the results, close it, return the path."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def _plain(value):
    """JSON-safe scalars (numpy numbers become Python numbers, NaN becomes None)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def save_results(name, *, title, description, tables, figures=(), data=None, env=None):
    """Write ``benchmarks/results/<name>.json`` and return its path.

    ``tables`` is a list of dicts with ``title``, ``columns``, ``rows`` (lists of cells)
    and an optional ``note``. ``figures`` are file names inside ``benchmarks/results``.
    """
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    payload = {
        "name": name,
        "title": title,
        "description": description,
        "command": "python " + " ".join([f"benchmarks/{Path(sys.argv[0]).name}"]
                                        + sys.argv[1:]),
        "environment": environment() if env is None else env,
        "tables": [_plain(dict(table)) for table in tables],
        "figures": list(figures),
        "data": _plain(data or {}),
    }
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"results written to {path}")
    return path
