"""Each edition is a book of its own: Previous/Next stay inside it, and a Chinese page speaks Chinese.

One Sphinx project holds both editions (one search, one API reference), so the theme's Previous/Next follow the
whole table of contents: "Next" on the last Chinese notebook would open the English book's first page. Here a
page's Previous/Next are kept only when they lie in the same top folder (``zh/``, ``en/``, ``docs/``, ``api/``;
the bilingual home page has none).

The site is built with ``language = "en"``, so the theme's own labels (Contents, Previous/Next, Search, Back to
top …) are English everywhere. A Chinese page gets them in Chinese: its template context gets ``gettext`` (and
``_``, ``translate`` for sphinx-book-theme) backed by the Simplified Chinese catalogues that Sphinx, the PyData
theme and the book theme ship, plus ``EXTRA`` for the few strings none of them translates.
"""

from __future__ import annotations

import gettext
import importlib.util
import posixpath
from pathlib import Path

# strings of the templates that no shipped catalogue translates (checked on the built pages by tests/test_site.py)
EXTRA = {
    "Contents": "目录",
    "On this page": "本页目录",
    "Search": "搜索",
    "Search...": "搜索…",
    "previous": "上一页",
    "next": "下一页",
    "previous page": "上一页",
    "next page": "下一页",
    "Back to top": "回到顶部",
    "Skip to main content": "跳到正文",
    "Color mode": "颜色模式",
    "Light": "浅色",
    "Dark": "深色",
    "System Settings": "跟随系统",
    "Site navigation": "网站导航",
    "Section Navigation": "本节导航",
    "Toggle primary sidebar": "显示/隐藏左侧栏",
    "Toggle secondary sidebar": "显示/隐藏右侧栏",
    "By": "作者",
    "© Copyright %(copyright)s.": "© %(copyright)s",
    "&#169; Copyright %(copyright)s.": "&#169; %(copyright)s",
}
COPYRIGHT = "2026，课程作者"


class _Extra(gettext.NullTranslations):
    def gettext(self, message: str) -> str:
        return EXTRA.get(message, message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)


def _catalogue(package: str, *parts: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    return path if path.is_file() else None


def chinese() -> gettext.NullTranslations:
    """Our strings first, then the book theme's, the PyData theme's and Sphinx's own Simplified Chinese."""
    chain: gettext.NullTranslations = _Extra()
    for package, parts in [
        ("sphinx_book_theme", ("theme", "sphinx_book_theme", "static", "locales", "zh_CN", "LC_MESSAGES",
                               "booktheme.mo")),
        ("pydata_sphinx_theme", ("locale", "zh", "LC_MESSAGES", "sphinx.mo")),
        ("sphinx", ("locale", "zh_CN", "LC_MESSAGES", "sphinx.mo")),
    ]:
        path = _catalogue(package, *parts)
        if path is not None:
            with path.open("rb") as f:
                chain.add_fallback(gettext.GNUTranslations(f))
    return chain


ZH = chinese()


def edition_of(pagename: str) -> str | None:
    """The top folder of a page (zh, en, docs, api), None for the pages at the root (home, search, index)."""
    return pagename.split("/")[0] if "/" in pagename else None


def target_page(pagename: str, link: str) -> str:
    """The page name a relative link of ``pagename`` points at (``../en/index.html`` from ``zh/x`` → ``en/index``)."""
    path = link.split("#")[0].split("?")[0]
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(pagename), path))
    return joined[:-len(".html")] if joined.endswith(".html") else joined


def keep_in_edition(app, pagename, templatename, context, doctree) -> None:
    """Previous/Next only within the page's own top folder; Chinese labels on Chinese pages."""
    folder = edition_of(pagename)
    for key in ("prev", "next"):
        link = context.get(key)
        if link and (folder is None or edition_of(target_page(pagename, link.get("link", ""))) != folder):
            context[key] = None
    if folder == "zh":
        context["gettext"] = context["_"] = ZH.gettext
        context["ngettext"] = ZH.ngettext
        context["translate"] = ZH.gettext
        context["theme_search_bar_text"] = ZH.gettext("Search...")
        context["copyright"] = COPYRIGHT


def setup(app):
    app.connect("html-page-context", keep_in_edition, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
