"""Search results with a snippet when the site is opened from files, and lectures ranked before the reference.

Sphinx's search page fetches each result page to cut a snippet around the query; a browser refuses ``fetch`` on
``file://`` pages, so a student who opens ``_build/site/index.html`` from disk gets bare titles. After the build
this extension writes ``_static/pagetext.js``: the main text of every page (what the snippet is cut from), which
``_static/offline_search.js`` loads on the search page only when it was opened from a file, answering the search's
``fetch`` of a page from it. Served over HTTP nothing changes.

``_static/scorer.js`` (``html_search_scorer``) ranks a plain-text hit on a reference page (``api/``, ``docs/``)
below the same hit on a lecture, so a query finds the lecture that teaches a term before the reference that merely
mentions it; an API object hit (``q_sample``) keeps its own, higher score.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

MAIN = re.compile(r'<article class="bd-article"[^>]*>(.*?)</article>', re.S)
DROP = re.compile(r"<(script|style|svg)\b.*?</\1>|<div class=\"lang-switch.*?</div>", re.S)
HEADERLINK = re.compile(r'<a class="headerlink"[^>]*>.*?</a>', re.S)
TAG = re.compile(r"<[^>]+>")
SPACE = re.compile(r"\s+")


def page_text(page: str) -> str:
    """The text of a built page's article (what Sphinx cuts its snippets from), as one line."""
    found = MAIN.search(page)
    body = HEADERLINK.sub("", DROP.sub("", found.group(1) if found else page))
    return SPACE.sub(" ", html.unescape(TAG.sub(" ", body))).strip()


def write_page_text(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    texts = {}
    for doc in sorted(app.env.found_docs):
        path = out / f"{doc}.html"
        if path.exists():
            texts[doc] = page_text(path.read_text(encoding="utf-8"))
    data = json.dumps(texts, ensure_ascii=False, separators=(",", ":"))
    (out / "_static" / "pagetext.js").write_text(f"window.COURSE_PAGE_TEXT = {data};\n", encoding="utf-8")


def setup(app):
    app.connect("build-finished", write_page_text)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
