"""Sphinx configuration for sklearn-nettrim.

Build (what .ci/run runs): ``python -m sphinx -W --keep-going -q -b html docs <outdir>``.
The build executes every ``examples/plot_*.py`` (sphinx-gallery) and reads the benchmark
results in ``benchmarks/results/*.json`` (``docs/_ext/benchmark_results.py``). It needs
no network: no intersphinx inventories, and the theme's fonts and icons ship with it.
"""

import os
import sys
from pathlib import Path

import sklearn_nettrim

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

project = "sklearn-nettrim"
author = "sklearn-nettrim developers"
copyright = "2025, sklearn-nettrim developers"
version = release = sklearn_nettrim.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "benchmark_results",
]

# The API pages are generated into docs/generated/ (listed in docs/.gitignore: it is
# build output, rewritten on every build), next to sphinx-gallery's backreference files
# ("Examples using ..."), which the autosummary templates include.
autosummary_generate = True
autosummary_imported_members = False
templates_path = ["_templates"]
autodoc_default_options = {}
autodoc_typehints = "none"

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# No network at build time: no intersphinx inventories are fetched.
intersphinx_mapping = {}

# The examples run while the docs build, in this process: non-interactive matplotlib.
os.environ.setdefault("MPLBACKEND", "Agg")

sphinx_gallery_conf = {
    # Every examples/plot_*.py is executed and rendered; new ones are picked up as added.
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py|/_",
    "within_subsection_order": "FileNameSortKey",
    # "Examples using X" on the API pages.
    "doc_module": ("sklearn_nettrim",),
    "backreferences_dir": "generated",
    "inspect_global_variables": True,
    "reference_url": {"sklearn_nettrim": None},
    # A failing example fails the build (its traceback is printed).
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "min_reported_time": 0,
    # Each example page shows its own running time; the summary page would load its
    # table scripts from a CDN.
    "write_computation_times": False,
    "show_memory": False,
    "remove_config_comments": True,
    "download_all_examples": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "binder": {},
    "jupyterlite": {},
}

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip", "auto_examples/*.md5",
                    "auto_examples/*.codeobj.json", "auto_examples/*.json"]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
default_role = "literal"
nitpicky = False

html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-nettrim {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "header_links_before_dropdown": 6,
    "show_prev_next": False,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "icon_links": [],
    # Offline: no version switcher JSON, no analytics, no remote logo.
    "check_switcher": False,
}
html_sidebars = {"index": [], "changelog": [], "benchmarks": []}
html_context = {"default_mode": "light"}
