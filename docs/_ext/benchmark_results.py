"""Sphinx directive ``benchmark-results``: the Benchmarks page, read from the results files.

Every benchmark script ends with ``benchmarks/_results.py``'s ``save_results``, which
writes ``benchmarks/results/<name>.json`` (title, description, command, environment,
tables, figures, data). This directive renders every such file it finds, so a results
file added later appears without editing the page. Usage::

    .. benchmark-results:: ../benchmarks/results

       solvers   Solver speed: ADMM against cvxpy and least squares
       accuracy  Accuracy against the peers at matched sparsity

The argument is the results directory, relative to the page. The content lists the
benchmarks the page expects, in the order they are shown, each with the title its section
gets while it has no results file: such a benchmark gets a short "not run yet" section
instead of an error. Results files that are not listed follow in alphabetical order.

Text fields (description, table notes) are read as reStructuredText when they parse
cleanly on their own, otherwise shown as plain paragraphs: a stray ``*`` in a benchmark's
description never breaks a ``-W`` build.
"""

import json
import os
import re
from pathlib import Path

import docutils.core
from docutils import nodes
from docutils.parsers.rst import Directive, directives
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Standalone reStructuredText (no Sphinx roles) quietly parsed, errors reported as nodes.
_QUIET = {"report_level": 5, "halt_level": 5, "warning_stream": False,
          "file_insertion_enabled": False, "raw_enabled": False}
_PROBLEMS = (nodes.system_message, nodes.problematic)


def _plain_paragraphs(text):
    """Paragraphs split on blank lines, shown exactly as written."""
    blocks = [block.strip() for block in re.split(r"\n\s*\n", text) if block.strip()]
    return [nodes.paragraph(block, block) for block in blocks]


def text_nodes(text):
    """Body nodes for a text field: reStructuredText if it parses cleanly, else plain."""
    if not text:
        return []
    try:
        tree = docutils.core.publish_doctree(text, settings_overrides=_QUIET)
    except Exception:  # noqa: BLE001 - any parse failure: show the text as it is
        return _plain_paragraphs(text)
    if any(True for _ in tree.findall(lambda node: isinstance(node, _PROBLEMS))):
        return _plain_paragraphs(text)
    if any(isinstance(child, (nodes.section, nodes.title)) for child in tree.children):
        return _plain_paragraphs(text)
    return [child.deepcopy() for child in tree.children]


def cell_text(value):
    """A table cell: numbers with 4 significant digits, None as an empty cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.4g}"
    return str(value)


def table_node(table, css_class="benchmark-table"):
    """A docutils table (header row = ``columns``) with the table's title as caption."""
    columns = [str(c) for c in table.get("columns", [])]
    rows = [list(row) for row in table.get("rows", [])]
    width = max([len(columns)] + [len(row) for row in rows]) if (columns or rows) else 0
    node = nodes.table(classes=[css_class])
    if table.get("title"):
        node += nodes.title(table["title"], table["title"])
    group = nodes.tgroup(cols=max(width, 1))
    node += group
    for _ in range(max(width, 1)):
        group += nodes.colspec(colwidth=1)

    def row_node(cells):
        row = nodes.row()
        for i in range(max(width, 1)):
            text = cell_text(cells[i]) if i < len(cells) else ""
            entry = nodes.entry()
            entry += nodes.paragraph(text, text)
            row += entry
        return row

    if columns:
        head = nodes.thead()
        head += row_node(columns)
        group += head
    body = nodes.tbody()
    for cells in rows:
        body += row_node(cells)
    group += body
    return node


def environment_fields(result):
    """Date, machine, software and BLAS of a results file, as a field list."""
    env = result.get("environment") or {}
    fields = nodes.field_list()

    def add(name, value):
        if value:
            field = nodes.field()
            field += nodes.field_name(name, name)
            body = nodes.field_body()
            body += nodes.paragraph(str(value), str(value))
            field += body
            fields.append(field)

    add("Date", env.get("date"))
    add("Commit", env.get("commit"))
    add("Machine", env.get("machine"))
    versions = [f"{key} {env[key]}" for key in ("python", "numpy", "scipy", "scikit-learn")
                if env.get(key)]
    add("Software", ", ".join(versions))
    pools = [f"{p.get('internal_api')} {p.get('version')} ({p.get('architecture')},"
             f" {p.get('num_threads')} threads)"
             for p in env.get("blas") or [] if p.get("user_api") == "blas"]
    add("BLAS", "; ".join(pools) or "not reported")
    threads = [f"{key}={env[key]}" for key in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS")
               if env.get(key)]
    add("Environment", ", ".join(threads))
    if env.get("load_average") is not None:
        add("Load when it started", f"{env['load_average']} (1-minute load average)")
    return fields


def section_node(document, title, name):
    section = nodes.section(ids=[nodes.make_id(f"benchmark-{name}")],
                            names=[nodes.fully_normalize_name(f"benchmark {name}")])
    section += nodes.title(title, title)
    document.note_implicit_target(section, section)
    return section


def literal(text):
    return nodes.literal(text, text)


def script_writing(benchmarks_dir, name):
    """The benchmark script that saves results under ``name`` (None if none found)."""
    pattern = re.compile(r"save_results\(\s*['\"]" + re.escape(name) + r"['\"]")
    for script in sorted(benchmarks_dir.glob("bench_*.py")):
        if pattern.search(script.read_text(encoding="utf-8", errors="replace")):
            return script
    guess = benchmarks_dir / f"bench_{name}.py"
    return guess if guess.exists() else None


class BenchmarkResults(Directive):
    """Render every ``<name>.json`` of a results directory (see the module docstring)."""

    required_arguments = 1
    has_content = True
    option_spec = {"class": directives.class_option}

    def run(self):
        env = self.state.document.settings.env
        srcdir = Path(env.srcdir)
        page_dir = (srcdir / env.docname).parent
        results_dir = (page_dir / self.arguments[0]).resolve()
        lines = [line.split(None, 1) for line in self.content if line.strip()]
        expected = [words[0] for words in lines]
        self.placeholder_titles = {words[0]: words[-1].strip() for words in lines}
        found = {path.stem: path for path in sorted(results_dir.glob("*.json"))}
        names = expected + sorted(set(found) - set(expected))
        env.note_dependency(str(results_dir))
        env.benchmark_results_docs = getattr(env, "benchmark_results_docs", set())
        env.benchmark_results_docs.add(env.docname)

        overview = self.overview(names, found)
        sections = []
        for name in names:
            if name in found:
                sections.append(self.result_section(name, found[name], srcdir))
            else:
                sections.append(self.missing_section(name, results_dir))
        return [overview] + sections

    def load(self, path):
        env = self.state.document.settings.env
        env.note_dependency(str(path))
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            logger.warning(f"benchmark results {path} could not be read: {exc}",
                           location=(env.docname, self.lineno))
            return None

    def overview(self, names, found):
        """One row per benchmark: its title, the date and machine that produced it."""
        rows = []
        for name in names:
            result = self.load(found[name]) if name in found else None
            if result is None:
                rows.append([name, f"{self.placeholder_titles.get(name, name)}: no results"
                             " yet", "", ""])
                continue
            env = result.get("environment") or {}
            rows.append([name, result.get("title", name), env.get("date", ""),
                         env.get("machine", "")])
        table = table_node({"title": "Results files", "rows": rows,
                            "columns": ["benchmark", "title", "date", "machine"]},
                           css_class="benchmark-overview")
        # Link each benchmark name to its section.
        for row, name in zip(table.findall(nodes.row), [None] + names):
            if name is None:
                continue
            first = row.children[0].children[0]
            ref = nodes.reference(name, "", internal=True,
                                  refid=nodes.make_id(f"benchmark-{name}"))
            ref += literal(name)
            first.children = []
            first += ref
        return table

    def result_section(self, name, path, srcdir):
        document = self.state.document
        result = self.load(path)
        if result is None:
            return self.missing_section(name, path.parent, broken=True)
        section = section_node(document, result.get("title") or name, name)
        section.extend(text_nodes(result.get("description", "")))

        produced = nodes.paragraph()
        produced += nodes.Text("Produced on the machine below; file ")
        produced += literal(f"benchmarks/results/{path.name}")
        produced += nodes.Text(". To regenerate it, run from the repository root:")
        section += produced
        section += environment_fields(result)
        command = result.get("command") or f"python benchmarks/bench_{name}.py"
        section += nodes.literal_block(command, command, language="bash")

        for table in result.get("tables") or []:
            section += table_node(table)
            section.extend(text_nodes(table.get("note", "")))

        for figure in result.get("figures") or []:
            section += self.figure_node(path.parent / figure, srcdir)
        return section

    def figure_node(self, path, srcdir):
        if not path.is_file():
            text = f"Figure {path.name} is listed in the results file but missing."
            return nodes.paragraph(text, text)
        self.state.document.settings.env.note_dependency(str(path))
        figure = nodes.figure(classes=["benchmark-figure"])
        # "/..." is relative to the source directory: Sphinx copies the file into _images.
        uri = "/" + Path(os.path.relpath(path.resolve(), srcdir)).as_posix()
        figure += nodes.image(uri=uri, alt=path.stem)
        return figure

    def missing_section(self, name, results_dir, broken=False):
        title = self.placeholder_titles.get(name, name) if not broken else name
        section = section_node(self.state.document, title, name)
        paragraph = nodes.paragraph()
        state = "could not be read" if broken else "has not been written yet"
        paragraph += nodes.Text("The results file ")
        paragraph += literal(f"benchmarks/results/{name}.json")
        paragraph += nodes.Text(f" {state}: no numbers to show. ")
        script = script_writing(results_dir.parent, name)
        if script is not None:
            paragraph += nodes.Text("Run ")
            paragraph += literal(f"python benchmarks/{script.name}")
            paragraph += nodes.Text(" from the repository root to produce it.")
        else:
            paragraph += nodes.Text("The benchmark that writes it is not in this checkout.")
        section += paragraph
        return section


def always_reread(app, env, added, changed, removed):
    """Pages showing results are re-read on every build: results files come and go."""
    return sorted(getattr(env, "benchmark_results_docs", set()) - set(removed))


def purge_doc(app, env, docname):
    getattr(env, "benchmark_results_docs", set()).discard(docname)


def merge_info(app, env, docnames, other):
    env.benchmark_results_docs = (getattr(env, "benchmark_results_docs", set())
                                  | getattr(other, "benchmark_results_docs", set()))


def setup(app):
    app.add_directive("benchmark-results", BenchmarkResults)
    app.connect("env-get-outdated", always_reread)
    app.connect("env-purge-doc", purge_doc)
    app.connect("env-merge-info", merge_info)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
