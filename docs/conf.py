"""Sphinx configuration for sklearn-nettrim (build: python -m sphinx -b html docs docs/_build/html)."""

import sklearn_nettrim

project = "sklearn-nettrim"
author = "sklearn-nettrim developers"
copyright = "2025, sklearn-nettrim developers"
version = release = sklearn_nettrim.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
]

# The API pages are generated into docs/generated/ (listed in docs/.gitignore: it is
# build output, rewritten on every build).
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

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
source_suffix = {".rst": "restructuredtext"}
root_doc = "index"
default_role = "literal"
html_theme = "alabaster"
html_static_path = []
nitpicky = False
