"""Sphinx configuration of the course site (built by ``bash scripts/site.sh``; never edit the staged copy in
``_build/site-src``). Sphinx + MyST-NB + sphinx-book-theme, fully offline: MathJax is served from the site itself
(the copy that the ``sphinx-mathjax-offline`` package ships), no widget JavaScript is loaded from a CDN (each
widget's output bundle carries a static PNG, which the site shows), notebooks are not executed here (their
executed copies come from ``notebooks/execute.py``'s cache)."""

from __future__ import annotations

import json
import posixpath
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
import api_links  # noqa: E402
import bilingual  # noqa: E402
import docstrings  # noqa: E402
import editions  # noqa: E402
import offline_search  # noqa: E402
from zh_en_search import SearchChineseEnglish  # noqa: E402

project = "深度生成模型 · Deep Generative Models"
author = "coursekit"
copyright = "2026, the course authors"
extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.mathjax", "sphinx.ext.napoleon"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
language = "en"

# --- notebooks (MyST-NB) -----------------------------------------------------------------------------------
nb_execution_mode = "off"                       # executed copies are staged by scripts/site.py
nb_ipywidgets_js = {}                           # no widget JavaScript from a CDN: the static PNG is shown
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None),
                              ("html", "application/vnd.jupyter.widget-state+json", None)]
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type", "misc.highlighting_failure"]

# --- math, offline -----------------------------------------------------------------------------------------
# MathJax 3, TeX input and SVG output in one self-contained file (the copy that the sphinx-mathjax-offline
# package ships, staged into _static/mathjax by scripts/site.py): no web fonts, nothing from the network
mathjax_path = "mathjax/tex-svg.js"
mathjax3_config = {"options": {"enableMenu": False}, "svg": {"fontCache": "global"}}

# --- API reference ------------------------------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "all"     # every parameter listed, with its type
autodoc_mock_imports: list[str] = []
# the docstrings' indented formulas and code as literal blocks, |x| and a lone * escaped, each parameter with the
# docstring's sentence that names it (_ext/docstrings.py); one page per module, only what coursekit defines
# (_ext/api_reference.py); the lectures' code linked to it (_ext/api_links.py)

# --- look ---------------------------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "深度生成模型 · Deep Generative Models"
html_static_path = ["_static"]
html_favicon = "_static/favicon.png"                  # made by scripts/site.py (no request for /favicon.ico)
html_css_files = ["course.css"]
html_js_files = ["bilingual.js", "offline_search.js", "math_fit.js"]
html_copy_source = False                              # no _sources/ copies: nothing links to them
html_theme_options = {"show_toc_level": 2, "use_download_button": False, "use_fullscreen_button": False,
                      "home_page_in_toc": True}
html_context = {"default_mode": "light"}
html_last_updated_fmt = None
html_show_sourcelink = False

# --- search: Chinese as character bigrams, English stemmed (_ext/zh_en_search.py; no jieba) -----------------
html_search_language = SearchChineseEnglish.lang
html_search_scorer = str(HERE / "_static" / "scorer.js")      # lectures before the reference (_ext/offline_search.py)

# --- the language switch: every page links to its twin in the other language -------------------------------
TWINS = json.loads((HERE / "twins.json").read_text(encoding="utf-8")) if (HERE / "twins.json").exists() else {}
BILINGUAL = {"docs", "api", "index"}         # pages (folders) written in both languages at once; index: the home
SWITCH = ('<div class="lang-switch" lang="{lang}"><a class="lang-switch-link" href="{href}" hreflang="{lang}">'
          "{text}</a></div>\n")


def add_language_switch(app, pagename, templatename, context, doctree):
    """A page of one language links to its twin in the other; a page in both languages (docs/, the API
    reference) gets the switch that shows one language or both; zh/ pages declare lang="zh-CN"."""
    if "body" not in context or doctree is None:
        return
    twin = TWINS.get(pagename)
    if twin:
        href = posixpath.relpath(twin["page"], posixpath.dirname(pagename) or ".") + ".html"
        context["body"] = SWITCH.format(lang=twin["lang"], href=href, text=twin["text"]) + context["body"]
        if pagename.startswith("zh/"):
            context["language"] = "zh-CN"
    elif pagename.split("/")[0] in BILINGUAL:
        context["body"] = bilingual.SWITCH + context["body"]


def mark_bilingual_pairs(app, doctree, docname):
    if docname.split("/")[0] in BILINGUAL:
        bilingual.mark_pairs(doctree)


def setup(app):
    app.add_search_language(SearchChineseEnglish)
    api_links.setup(app)              # the lectures' coursekit names → their API entries (after the build)
    editions.setup(app)               # Previous/Next within an edition; the theme's labels in Chinese on zh/ pages
    offline_search.setup(app)         # snippets when opened from files
    app.connect("autodoc-process-docstring", docstrings.process_docstring)
    app.connect("doctree-resolved", mark_bilingual_pairs)
    app.connect("html-page-context", add_language_switch)
