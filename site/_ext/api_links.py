"""Link the ``coursekit`` names in the lectures' code to their entries in the API reference.

After the HTML is written (``build-finished``), each lecture page is read once: its code cells' imports say
which names stand for which ``coursekit`` module or object (``from coursekit import diffusion as D``,
``from coursekit.widgets import DensityExplorer``), then every use in the highlighted code (``D.q_sample``,
``DensityExplorer(...)``, ``coursekit.i18n`` in an import) and every inline literal of the prose written the same
way (```D.q_sample```) becomes a link to the entry that ``api_reference.canonical`` names, when that entry exists
in the built reference (Sphinx's Python object inventory). Outputs are never touched.
"""

from __future__ import annotations

import ast
import html
import re
from pathlib import Path

import api_reference

CODE_BLOCK = re.compile(r'(<div class="highlight-(?:python|ipython3?|default) notranslate"><div class="highlight">'
                        r"<pre>)(.*?)(</pre>)", re.S)
TAG = re.compile(r"<[^>]+>")
DOT = '<span class="o">.</span>'
# a name not preceded by a dot, then .attr .attr …
CHAIN = re.compile(r'(?<!<span class="o">\.</span>)<span class="n">(\w+)</span>((?:<span class="o">\.</span>'
                   r'<span class="n">\w+</span>)*)')
MODULE_PATH = re.compile(r'<span class="nn">(coursekit(?:\.\w+)*)</span>')
PRE_SPAN = re.compile(r'(<span class="pre">)([^<]{12,})(</span>)')    # inline code and signatures: long names
BREAK_AFTER = re.compile(r"(?<=[\w)])([._/])(?=\w)")
INLINE = re.compile(r'<code class="docutils literal notranslate"><span class="pre">([A-Za-z_][\w.]*)(\(\))?</span>'
                    r"</code>")


def bindings(code: str) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """({alias: coursekit module}, {alias: (coursekit module, name)}) from the import statements of ``code``."""
    modules: dict[str, str] = {}
    names: dict[str, tuple[str, str]] = {}
    for block in code.split("\x00"):
        try:
            tree = ast.parse("\n".join(line for line in block.splitlines() if not line.lstrip().startswith(("%", "!"))))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == api_reference.PACKAGE:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    if api_reference.module_file(full) is not None and alias.name not in \
                            api_reference.defined(node.module):
                        modules[alias.asname or alias.name] = full
                    else:
                        names[alias.asname or alias.name] = (node.module, alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == api_reference.PACKAGE and alias.asname:
                        modules[alias.asname] = alias.name
    return modules, names


class Linker:
    """Resolves a dotted use in one page to the URL of its API entry."""

    def __init__(self, objects: dict[str, str], modules: dict[str, str], names: dict[str, tuple[str, str]]):
        self.objects = objects            # {full name: URL relative to the page}
        self.modules, self.names = modules, names

    def resolve(self, head: str, attrs: list[str]) -> list[str | None]:
        """For ``head.attr1.attr2…``: the full name each part links to (None: no link), in order."""
        out: list[str | None] = [None] * (1 + len(attrs))
        parts = [head, *attrs]
        if head in self.modules:
            module, i = self.modules[head], 1
            out[0] = self._module(module)
            while i < len(parts) and api_reference.module_file(f"{module}.{parts[i]}") is not None \
                    and parts[i] not in api_reference.defined(module):
                module = f"{module}.{parts[i]}"
                out[i] = self._module(module)
                i += 1
            if i == len(parts):
                return out
            full = api_reference.canonical(module, parts[i])
        elif head in self.names:
            i = 0
            full = api_reference.canonical(*self.names[head])
        else:
            return out
        while full is not None and full in self.objects:
            out[i] = full
            i += 1
            if i == len(parts):
                break
            full = f"{full}.{parts[i]}"                   # a method or attribute of the class
        return out

    def _module(self, module: str) -> str | None:
        return f"module-{module}" if f"module-{module}" in self.objects else None

    def link(self, full: str | None, inner: str) -> str:
        if full is None:
            return inner
        title = full.removeprefix("module-")
        return f'<a class="reference internal api-link" href="{self.objects[full]}" title="{title}">{inner}</a>'


def link_code(linker: Linker, pre: str) -> str:
    def chain(m: re.Match) -> str:
        attrs = re.findall(r'<span class="n">(\w+)</span>', m.group(2))
        targets = linker.resolve(m.group(1), attrs)
        pieces = [linker.link(targets[0], f'<span class="n">{m.group(1)}</span>')]
        pieces += [DOT + linker.link(t, f'<span class="n">{a}</span>') for a, t in zip(attrs, targets[1:])]
        return "".join(pieces)

    pre = CHAIN.sub(chain, pre)
    return MODULE_PATH.sub(lambda m: linker.link(linker._module(m.group(1)), m.group(0)), pre)


def link_inline(linker: Linker, page: str) -> str:
    def one(m: re.Match) -> str:
        before = page[max(0, m.start() - 400):m.start()]
        if before.rfind("<a ") > before.rfind("</a>"):
            return m.group(0)                              # already inside a link
        parts = m.group(1).split(".")
        targets = linker.resolve(parts[0], parts[1:])
        last = next((t for t in reversed(targets) if t is not None), None)
        return linker.link(last, m.group(0)) if last and targets[-1] == last else m.group(0)

    return INLINE.sub(one, page)


def break_points(page: str) -> str:
    """``<wbr>`` after each dot, underscore or slash inside a long inline name (``coursekit.autoregressive``,
    ``discretized_gaussian_log_likelihood``), so a narrow table column or a phone breaks it there, not mid-word."""
    return PRE_SPAN.sub(lambda m: m.group(1) + BREAK_AFTER.sub(r"\1<wbr>", m.group(2)) + m.group(3), page)


def objects_by_url(app, pagename: str) -> dict[str, str]:
    """{full name or ``module-…``: URL relative to ``pagename``} for every Python object of the reference."""
    out = {}
    for name, entry in app.env.get_domain("py").objects.items():
        url = app.builder.get_relative_uri(pagename, entry.docname)
        out[name] = f"{url}#{entry.node_id}"
        if entry.objtype == "module":
            out[f"module-{name}"] = f"{url}#module-{name}"
    return out


def lecture_pages(app) -> list[str]:
    return [doc for doc in app.env.found_docs if doc.split("/")[0] in ("zh", "en") and not doc.endswith("/index")]


def link_page(app, pagename: str) -> int:
    """Rewrite one built page; the number of links made."""
    path = Path(app.outdir) / f"{pagename}.html"
    page = path.read_text(encoding="utf-8")
    blocks = [m.group(2) for m in CODE_BLOCK.finditer(page)]
    code = "\x00".join(html.unescape(TAG.sub("", b)) for b in blocks)
    modules, names = bindings(code)
    if api_reference.PACKAGE not in modules:
        modules[api_reference.PACKAGE] = api_reference.PACKAGE    # ``coursekit.diffusion.q_sample`` written out
    linker = Linker(objects_by_url(app, pagename), modules, names)
    linked = CODE_BLOCK.sub(lambda m: m.group(1) + link_code(linker, m.group(2)) + m.group(3), page)
    linked = link_inline(linker, linked)
    path.write_text(break_points(linked), encoding="utf-8")
    return linked.count("api-link") - page.count("api-link")


def link_lectures(app, exception) -> None:
    """Link the lectures' code to the reference; break points in the long names of every page."""
    if exception is not None or app.builder.format != "html":
        return
    lectures = set(lecture_pages(app))
    for page in sorted(app.env.found_docs):
        if page in lectures:
            link_page(app, page)
        else:
            path = Path(app.outdir) / f"{page}.html"
            if path.exists():
                path.write_text(break_points(path.read_text(encoding="utf-8")), encoding="utf-8")


def setup(app):
    app.connect("build-finished", link_lectures)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

