"""The course site in a real browser (Chromium, headless, 127.0.0.1), page by page as a student meets it.

One walk over every page at 1280 px (``survey``) records what each test below asserts: every page loads with no
console error and nothing from the network, no broken internal link or image, math typeset (no raw TeX left);
nothing is wider than its column (and, on a few pages, not on a phone either); Previous/Next stay within an
edition and walk it in course order; a Chinese page's theme labels are Chinese; every widget's static picture has
its note with the notebook's Colab link; no executed output holds a stderr traceback. Then: the home page says what
the course is in both languages; the API reference documents each of coursekit's own public names once, and the
lectures' code links to it; the language switches work; search finds Chinese and English terms, ranks lectures
before the reference and shows snippets even when the site is opened from files; no instructor material is
published. Chinese pages are screenshotted.

Marked ``site``: scripts/test.sh runs it after the rest of the suite, when the notebook tests have left their
executed copies for the site (notebooks/execute.py), so building the site retrains nothing.
"""

from __future__ import annotations

import contextlib
import functools
import html
import http.server
import importlib
import importlib.util
import inspect
import json
import os
import posixpath
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote, unquote, urljoin, urlparse

import browser
import pytest

REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "_build" / "site"
STAGED = REPO / "_build" / "site-src"
WIDGET = "application/vnd.jupyter.widget-view+json"
pytestmark = [pytest.mark.site, *browser.needs_browser]
sys.path.insert(0, str(REPO / "site" / "_ext"))
import api_reference  # noqa: E402  (what the API reference must document)

TEXT_JS = """() => {
  const main = document.querySelector('main') || document.body;
  const clone = main.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, mjx-container, .lang-switch')
       .forEach(e => e.remove());
  return clone.innerText;
}"""


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:      # no request log on stderr
        pass


@pytest.fixture(scope="module")
def site():
    """Build the site (executes only notebooks without a current executed copy), serve it on 127.0.0.1."""
    start = time.monotonic()
    # COURSEKIT_SITE_NO_EXECUTE=1: a quick local check of the site's plumbing (pages without outputs);
    # COURSEKIT_SITE_BUILT=1: check the site already in _build/site (while working on these tests)
    if os.environ.get("COURSEKIT_SITE_BUILT") != "1":
        extra = ["--no-execute"] if os.environ.get("COURSEKIT_SITE_NO_EXECUTE") == "1" else []
        done = subprocess.run([sys.executable, str(REPO / "scripts" / "site.py"), *extra], capture_output=True,
                              text=True, timeout=3600)
        assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
        print(done.stdout.strip().splitlines()[-1], f"({time.monotonic() - start:.0f} s)")
    handler = functools.partial(QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def chromium():
    """One Chromium for the whole module (each test opens its own context: fresh storage, its own viewport)."""
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(browser.CHROMIUM), args=browser.ARGS)
        try:
            yield launched
        finally:
            launched.close()


@contextlib.contextmanager
def new_page(chromium, width: int = 1280, height: int = 900):
    context = chromium.new_context(viewport={"width": width, "height": height})
    try:
        yield context.new_page()
    finally:
        context.close()


def pages() -> list[str]:
    return sorted(p.relative_to(SITE).as_posix() for p in SITE.rglob("*.html")
                  if not {"_static", "_sources", "_images"} & set(p.relative_to(SITE).parts))


@functools.cache
def site_script():
    """scripts/site.py as a module (its file name would clash with the standard library's ``site``)."""
    spec = importlib.util.spec_from_file_location("coursekit_site_build", REPO / "scripts" / "site.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _wait_math(page) -> None:
    """Until MathJax 3 has typeset the page (its startup promise resolves after the first typeset) and
    _static/math_fit.js has broken the equations wider than their column into lines."""
    page.evaluate("async () => { if (window.MathJax && MathJax.startup && MathJax.startup.promise) "
                  "await MathJax.startup.promise; return true; }")
    page.wait_for_function("() => document.documentElement.dataset.mathFitted", timeout=60_000)


# every element of the article within the article's column, nothing in it scrolling sideways; a code block and an
# equation are measured whole (their spans and glyphs are inside them)
OVERFLOW_JS = """() => {
  const article = document.querySelector("article.bd-article") || document.querySelector("main");
  const box = article.getBoundingClientRect();
  const name = (e) => e.tagName.toLowerCase() + (typeof e.className === "string" && e.className
    ? "." + e.className.trim().split(/\\s+/).join(".") : "");
  const bad = [];
  for (const e of article.querySelectorAll("*")) {
    if (e.parentElement.closest("pre, mjx-container, svg")) continue;
    const r = e.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    const scrolls = e.scrollWidth > e.clientWidth + 1 &&
      (e.tagName === "PRE" || ["auto", "scroll"].includes(getComputedStyle(e).overflowX));
    if (r.right > box.right + 1 || r.left < box.left - 1)
      bad.push(`${name(e)} spans ${Math.round(r.left)}–${Math.round(r.right)} px, the column ` +
               `${Math.round(box.left)}–${Math.round(box.right)}: ${(e.textContent || "").trim().slice(0, 50)}`);
    else if (scrolls)
      bad.push(`${name(e)} is wider than itself (${e.scrollWidth} > ${e.clientWidth} px): ` +
               (e.textContent || "").trim().slice(0, 50));
  }
  return bad;
}"""
# what the survey keeps of each page
PAGE_JS = """() => ({
  nMath: document.querySelectorAll('.math').length,
  nTypeset: document.querySelectorAll('.math mjx-container').length,
  brokenImages: Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
  stderr: Array.from(document.querySelectorAll('.cell_output .stderr, .cell_output .traceback'))
               .map(e => e.innerText.slice(0, 200)),
  prev: (document.querySelector('a.left-prev') || {}).href || null,
  next: (document.querySelector('a.right-next') || {}).href || null,
  prevNextLabels: Array.from(document.querySelectorAll('.prev-next-subtitle')).map(e => e.textContent.trim()),
  labels: [...Array.from(document.querySelectorAll('.prev-next-subtitle, .page-toc .onthispage, #pst-back-to-top,'
                + ' .search-button__default-text, .skip-link a, .footer-item, .bd-sidebar-secondary h2'))
                .map(e => e.textContent.trim()),
           ...Array.from(document.querySelectorAll('input[type=search]')).map(e => e.placeholder)]
           .filter(t => t),
  switchButtons: document.querySelectorAll('.bilingual-switch [data-show]').length,
  pairs: document.querySelectorAll('.bilingual[lang="zh"]').length,
  notes: Array.from(document.querySelectorAll('.static-widget-note')).map(n => {
    const out = n.closest('.cell_output');
    const img = out && out.querySelector('img');
    return {lang: n.lang, text: n.innerText, href: n.querySelector('a') && n.querySelector('a').href,
            underPicture: !!img && !!(img.compareDocumentPosition(n) & Node.DOCUMENT_POSITION_FOLLOWING)};
  }),
  api: Array.from(document.querySelectorAll('dl.py > dt[id]')).map(dt => ({
    id: dt.id, kind: dt.parentElement.className, nested: !!dt.parentElement.closest('dd'),
    fields: Array.from(dt.parentElement.querySelector(':scope > dd')
                       .querySelectorAll(':scope > dl.field-list > dt')).map(f => f.textContent.trim())})),
})"""


@pytest.fixture(scope="module")
def survey(site, chromium) -> dict[str, dict]:
    """Every page once, at 1280 px, after its math is typeset and fitted: {page: what PAGE_JS saw, plus the
    console errors, failed requests, raw TeX left in the text and the elements wider than their column}."""
    seen: dict[str, dict] = {}
    with new_page(chromium) as page:
        errors: list[str] = []
        page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
        # A late fetch (the favicon) that the next page.goto cancels fails as net::ERR_ABORTED: the browser's doing,
        # not the site's (a missing file is an HTTP 404 below; a request off this machine is caught by its host).
        page.on("requestfailed", lambda r: None if r.failure == "net::ERR_ABORTED"
                else errors.append(f"request failed ({r.failure}): {r.url}"))
        page.on("request", lambda r: None if urlparse(r.url).hostname in ("127.0.0.1", "", None)
                else errors.append(f"request off this machine: {r.url}"))
        page.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
        for rel in pages():
            errors.clear()
            page.goto(f"{site}/{rel}", wait_until="load")
            _wait_math(page)
            record = page.evaluate(PAGE_JS)
            record["errors"] = list(errors)
            record["rawTex"] = re.findall(r"\\\(|\\\[|\$\$|(?<![\w$])\$[^$\s][^$\n]{0,80}?\$(?![\w$])",
                                          page.evaluate(TEXT_JS))
            record["overflow"] = page.evaluate(OVERFLOW_JS)
            seen[rel] = record
    return seen


def _path(href: str) -> str:
    return unquote(urlparse(href).path).lstrip("/")


def test_every_page(survey):
    """Each page loads with nothing from the network and no error, math typeset, figures and internal links whole."""
    per_lang = {lang: sum(p.startswith(f"{lang}/") for p in survey) for lang in ("zh", "en")}
    assert per_lang["zh"] == per_lang["en"] >= 3, per_lang
    problems: list[str] = []
    for rel, seen in survey.items():
        problems += [f"{rel}: {e}" for e in seen["errors"]]          # nothing may fail, nothing from the network
        if seen["nMath"] and seen["nTypeset"] < seen["nMath"]:
            problems.append(f"{rel}: {seen['nMath']} math elements, {seen['nTypeset']} typeset")
        if seen["rawTex"]:
            problems.append(f"{rel}: raw TeX left: {seen['rawTex'][:3]}")
        problems += [f"{rel}: image did not load: {src[:100]}" for src in seen["brokenImages"]]
        for href in seen["links"]:
            url = urlparse(href)
            if url.hostname == "127.0.0.1" and not url.path.endswith("/") and not (SITE / _path(href)).exists():
                problems.append(f"{rel}: broken link {_path(href)}")
    assert not problems, "\n".join(sorted(set(problems))[:40])


def test_nothing_is_wider_than_its_column_at_1280_px(survey):
    """Code wraps, tables wrap their cells, a long display equation is broken into lines (_static/math_fit.js):
    no element of any page reaches past its column, nothing scrolls sideways."""
    problems = [f"{rel}: {bad}" for rel, seen in survey.items() for bad in seen["overflow"][:3]]
    assert not problems, "\n".join(problems[:30])


def test_nothing_is_clipped_on_a_phone(site, chromium):
    """At 390 px: the home page, both front pages, the API page of diffusion and the longest lecture page of each
    edition keep every element within the column."""
    lectures = sorted((p for p in pages() if p.split("/")[0] in ("zh", "en") and not p.endswith("index.html")),
                      key=lambda p: (SITE / p).stat().st_size, reverse=True)
    chosen = ["index.html", "zh/index.html", "en/index.html", "api/diffusion.html",
              next(p for p in lectures if p.startswith("zh/")), next(p for p in lectures if p.startswith("en/"))]
    problems = []
    with new_page(chromium, 390, 844) as page:
        for rel in chosen:
            page.goto(f"{site}/{rel}", wait_until="load")
            _wait_math(page)
            problems += [f"{rel} at 390 px: {bad}" for bad in page.evaluate(OVERFLOW_JS)[:5]]
    assert not problems, "\n".join(problems[:30])


def test_previous_next_stay_within_an_edition(survey):
    """Following Next from an edition's front page visits every notebook of that edition in the order of the sources
    (a new unit, 07, joins at the end) and stops there; Previous walks back; docs/ and api/ pages keep to their own
    part, the home page has neither. Labels in the edition's language."""
    nbs = site_script().notebooks()
    for lang in ("zh", "en"):
        expected = [f"{lang}/index.html"] + [f"{lang}/{nb.stem(lang)}.html" for nb in nbs]
        walk = [expected[0]]
        while survey[walk[-1]]["next"] and len(walk) <= len(expected):
            walk.append(_path(survey[walk[-1]]["next"]))
        assert walk == expected, (lang, walk)
        assert survey[expected[0]]["prev"] is None
        assert [_path(survey[p]["prev"]) for p in expected[1:]] == expected[:-1], lang
        words = {"zh": ("上一页", "下一页"), "en": ("previous", "next")}[lang]
        assert survey[expected[1]]["prevNextLabels"] == list(words), survey[expected[1]]["prevNextLabels"]
    for rel, seen in survey.items():
        folder = rel.split("/")[0] if "/" in rel else None
        for link in (seen["prev"], seen["next"]):
            assert link is None or (folder is not None and _path(link).split("/")[0] == folder), (rel, link)


ENGLISH_LABEL = re.compile(r"\b(Contents|On this page|previous|next|Search|Back to top|Skip to main content|"
                           r"Copyright|By)\b", re.I)


def test_chinese_pages_have_chinese_theme_labels(survey):
    """Contents, Previous/Next, Search, Back to top, the footer: in Chinese on every zh/ page (_ext/editions.py)."""
    zh = {rel: seen["labels"] for rel, seen in survey.items() if rel.startswith("zh/")}
    assert all(len(labels) >= 3 for labels in zh.values()), zh
    english = [(rel, label) for rel, labels in zh.items() for label in labels if ENGLISH_LABEL.search(label)]
    assert not english, english[:10]
    assert "搜索" in " ".join(zh["zh/index.html"]) and "下一页" in zh["zh/index.html"]


def _staged_notebooks() -> list[Path]:
    return sorted(p for lang in ("zh", "en") for p in (STAGED / lang).glob("*.ipynb"))


def test_every_widget_picture_has_its_note(survey):
    """Under every widget's static picture, a note in the edition's language that the site shows a static picture,
    with the notebook's own Colab link to play (added by the site build, not written in the notebooks)."""
    colab = {f"{lang}/{nb.stem(lang)}.html": nb.colab[lang]
             for nb in site_script().notebooks() for lang in ("zh", "en")}
    expected = {}
    for path in _staged_notebooks():
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        expected[f"{path.parent.name}/{path.stem}.html"] = sum(WIDGET in o.get("data", {})
                                                                for c in cells for o in c.get("outputs", []))
    executed = any(c.get("outputs") for p in _staged_notebooks()
                   for c in json.loads(p.read_text(encoding="utf-8"))["cells"])
    if executed:                                        # (a --no-execute build has no outputs, hence no widgets)
        for lang in ("zh", "en"):
            assert sum(n for rel, n in expected.items() if rel.startswith(f"{lang}/")) >= 10, expected
    problems = []
    for rel, n in sorted(expected.items()):
        notes = survey[rel]["notes"]
        if len(notes) != n:
            problems.append(f"{rel}: {n} widgets, {len(notes)} notes")
        lang = rel.split("/")[0]
        for note in notes:
            said = ("静态图片" in note["text"] and "Colab" in note["text"]) if lang == "zh" \
                else "static picture" in note["text"]
            if note["lang"] != {"zh": "zh-CN", "en": "en"}[lang] or not said or not note["underPicture"]:
                problems.append(f"{rel}: note {note['text'][:60]!r} ({note['lang']}, under the picture: "
                                f"{note['underPicture']})")
            if note["href"] != colab[rel] or not colab[rel].startswith("https://colab.research.google.com/"):
                problems.append(f"{rel}: the note links {note['href']}, the notebook's Colab link is {colab[rel]}")
    assert not problems, "\n".join(problems[:20])


def test_no_stderr_traceback_in_executed_outputs(survey):
    """The executed notebooks the site shows hold no stderr output (a warning's traceback) and no error, and no
    page shows one."""
    problems = []
    for path in _staged_notebooks():
        for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
            for out in cell.get("outputs", []):
                if out.get("name") == "stderr" or out.get("output_type") == "error":
                    text = ("".join(out.get("text", "")) or out.get("ename", "")).strip() or "(empty)"
                    problems.append(f"{path.parent.name}/{path.name} cell {i}: {text.splitlines()[0][:160]}")
    problems += [f"{rel}: shows {text}" for rel, seen in survey.items() for text in seen["stderr"]]
    assert not problems, "\n".join(problems)


def test_home_page_says_what_the_course_is_in_both_languages(site, chromium):
    """The front door, in Chinese and in English: what the course covers (every unit of the sources, 07 included
    once it lands, each notebook by its title and linked in its edition), for whom, how to run it (locally and in
    Colab), where the assignments are; each edition's course map lists notebooks by title, not by file name."""
    build = site_script()
    nbs = build.notebooks()
    units = build.units(nbs)
    assert [u[0] for u in units] == sorted({nb.section for nb in nbs})
    with new_page(chromium) as page:
        page.goto(f"{site}/index.html", wait_until="load")
        halves = {lang: page.locator(f'section.bilingual[lang="{lang}"]') for lang in ("zh", "en")}
        text = {lang: half.inner_text() for lang, half in halves.items()}
        for heading in ("课程内容", "适合谁", "怎样运行", "作业", "从这里开始"):
            assert heading in text["zh"], heading
        for heading in ("What the course covers", "For whom", "How to run it", "Assignments", "Start here"):
            assert heading in text["en"], heading
        han = {lang: len(re.findall(r"[\u4e00-\u9fff]", t)) / max(1, len(t)) for lang, t in text.items()}
        assert han["zh"] > 0.25 and han["en"] < 0.02, han               # each half in its own language
        for lang in ("zh", "en"):
            assert "Colab" in text[lang] and f"jupyter lab notebooks/{lang}" in text[lang]
            assert "PyTorch" in text[lang] and "GPU" in text[lang]
            assert all(name in text[lang] for name in build.assignments())
            for section, titles, _, members in units:
                assert f"{section} {titles[lang]}" in text[lang], (lang, section)
                for nb in members:
                    link = halves[lang].get_by_role("link", name=nb.titles[lang], exact=True).first
                    assert unquote(link.get_attribute("href")) == f"{lang}/{nb.stem(lang)}.html", nb.titles
        for lang in ("zh", "en"):
            page.goto(f"{site}/{lang}/index.html", wait_until="load")
            titles = page.locator("table").first.locator("a").all_inner_texts()
            for nb in nbs:
                assert f"{nb.stem(lang).split('_')[0]} · {nb.titles[lang]}" in titles, (lang, nb.titles[lang])
            assert not any(nb.stem(lang) in t for t in titles for nb in nbs), titles     # titles, not file names
            colab = page.locator("a", has_text=build.TEXT[lang]["colab"])
            hrefs = [colab.nth(i).get_attribute("href") for i in range(colab.count())]
            for name in build.assignments():
                assert any(h.endswith(f"assignments/{name}/{name}.ipynb") for h in hrefs), (lang, name)


def _public_objects_at_run_time() -> list[str]:
    """``module.name`` of every public function and class whose ``__module__`` is the coursekit module it is found
    in: an oracle independent of site/_ext/api_reference.py, which reads the sources."""
    import pkgutil

    import coursekit

    found = []
    for info in pkgutil.walk_packages(coursekit.__path__, "coursekit."):
        if any(p.startswith("_") or p in ("cli", "__main__") for p in info.name.split(".")[1:]):
            continue
        module = importlib.import_module(info.name)
        found += [f"{info.name}.{name}" for name, obj in vars(module).items()
                  if not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
                  and obj.__module__ == info.name]
    return found


def test_api_reference_documents_coursekit_own_names_once(site, chromium, survey):
    """Only what coursekit defines (no lru_cache, Path, dataclass, field, replace, no check_* of coursekit._checks),
    each public name once with its own anchor, in the object index and the search; text2image and density
    included; every function's parameters listed, described with the docstring's own words where it has them."""
    api_pages = [p for p in survey if p.startswith("api/") and p != "api/index.html"]
    assert {"api/text2image.html", "api/density.html", "api/diffusion.html"} <= set(api_pages)
    ids = [entry["id"] for rel in api_pages for entry in survey[rel]["api"]]
    assert not sorted(a for a in set(ids) if ids.count(a) > 1)              # one anchor per name
    top = {e["id"]: e for rel in api_pages for e in survey[rel]["api"] if not e["nested"]}
    expected = {e.fullname for e in api_reference.entries()}
    assert set(top) == expected, (sorted(expected - set(top))[:10], sorted(set(top) - expected)[:10])
    for anchor in top:                                # each entry is coursekit's own object, never the stdlib's
        module, _, name = anchor.rpartition(".")
        obj = getattr(importlib.import_module(module), name)
        if (inspect.isroutine(obj) or inspect.isclass(obj)) and getattr(obj, "__module__", None):
            assert obj.__module__.split(".")[0] == "coursekit", (anchor, obj.__module__)
    leaves = {a.rpartition(".")[2] for a in top}
    assert not {"lru_cache", "Path", "dataclass", "field", "replace"} & leaves
    assert not [a for a in top if a.startswith("coursekit.vae.check_")]
    for full in _public_objects_at_run_time():        # the run-time oracle: every own function and class is there,
        module, _, name = full.rpartition(".")       # under its module or a package above it that exports it
        assert full in top or any(a.rpartition(".")[2] == name and module.startswith(a.rpartition(".")[0])
                                  for a in top), full
    # parameters: every function with parameters has its Parameters list; the docstring's words for load_digits
    without = []
    for anchor, entry in top.items():
        obj = getattr(importlib.import_module(anchor.rpartition(".")[0]), anchor.rpartition(".")[2])
        if entry["kind"].startswith("py function") and inspect.signature(obj).parameters \
                and not any(f.startswith("Parameters") for f in entry["fields"]):
            without.append(anchor)
    assert not without, without[:10]
    with new_page(chromium) as page:
        page.goto(f"{site}/api/data.html", wait_until="domcontentloaded")
        params = page.locator('dt[id="coursekit.data.load_digits"] + dd dl.field-list').first.inner_text()
        assert re.search(r'split.*train.*test', params, re.S) and re.search(r"size.*upsamples", params, re.S), params
        # in the object index: the search finds q_sample as an object, first
        page.goto(f"{site}/search.html?q=q_sample", wait_until="load")
        page.wait_for_function("() => (document.querySelector('#search-results .search-summary') || {}).innerText",
                               timeout=30_000)
        first = page.locator("#search-results li a").first.get_attribute("href")
        assert first.endswith("api/diffusion.html#coursekit.diffusion.q_sample"), first


def test_lecture_code_links_to_the_api_reference(site, chromium):
    """The coursekit names in the lectures' code (``D.q_sample``, ``DensityExplorer``) link to their entries; every
    such link lands on an anchor that exists; every lecture page links some."""
    anchors = {f"api/{p.name}": set(re.findall(r'id="([^"]+)"', p.read_text(encoding="utf-8")))
               for p in (SITE / "api").glob("*.html")}
    problems = []
    nbs = site_script().notebooks()
    for nb in nbs:
        for lang in ("zh", "en"):
            rel = f"{lang}/{nb.stem(lang)}.html"
            links = re.findall(r'<a class="reference internal api-link" href="([^"]+)"',
                               (SITE / rel).read_text(encoding="utf-8"))
            if len(links) < 5:
                problems.append(f"{rel}: {len(links)} links to the API reference")
            for href in links:
                target, _, anchor = unquote(href).partition("#")
                if anchor not in anchors.get(posixpath.normpath(posixpath.join(lang, target)), set()):
                    problems.append(f"{rel}: {href} has no target")
    assert not problems, "\n".join(problems[:20])
    four_a = next(nb for nb in nbs if nb.stem("en").startswith("04a"))
    with new_page(chromium) as page:
        for lang in ("zh", "en"):
            page.goto(f"{site}/{lang}/{four_a.stem(lang)}.html", wait_until="domcontentloaded")
            link = page.locator(".cell_input a.api-link", has_text=re.compile(r"^q_sample$")).first
            assert link.get_attribute("href").endswith("api/diffusion.html#coursekit.diffusion.q_sample")
            link.click()
            page.wait_for_load_state("domcontentloaded")
            assert unquote(urlparse(page.url).fragment) == "coursekit.diffusion.q_sample"
            assert page.locator('[id="coursekit.diffusion.q_sample"]').is_visible()


def test_language_switch_lands_on_the_twin(site, chromium):
    twins = json.loads((STAGED / "twins.json").read_text(encoding="utf-8"))
    zh_notebooks = sorted(k for k in twins if k.startswith("zh/") and k != "zh/index")
    assert zh_notebooks
    with new_page(chromium) as page:
        for name in [zh_notebooks[0], "zh/index"]:
            page.goto(f"{site}/{name}.html", wait_until="domcontentloaded")
            link = page.locator(".lang-switch-link")
            assert link.inner_text().strip() == "English"
            link.click()
            page.wait_for_load_state("domcontentloaded")
            assert unquote(urlparse(page.url).path) == f"/{twins[name]['page']}.html"
            back = page.locator(".lang-switch-link")
            assert back.inner_text().strip() == "中文"
            back.click()
            page.wait_for_load_state("domcontentloaded")
            assert unquote(urlparse(page.url).path) == f"/{name}.html"


SHOWN_JS = """(lang) => Array.from(document.querySelectorAll(`.bilingual[lang="${lang}"]`))
  .map(e => e.getClientRects().length > 0)"""
HAN_JS = "(document.querySelector('article').innerText.match(/[\\u4e00-\\u9fff]/g) || []).length"


def test_bilingual_pages_switch_language(site, chromium, survey):
    """The home page, docs/ and the API reference are written in both languages at once: their switch shows the
    Chinese halves, the English halves (the choice is kept on the next page) or both; the home page's and
    docs/notebooks.md's sections 中文 and English follow it. A page of one language declares it (<html lang>)."""
    bilingual = ["index.html", *[p for p in survey if p.split("/")[0] in ("docs", "api")]]
    assert "api/index.html" in bilingual and len(bilingual) >= 4
    for rel in bilingual:
        assert survey[rel]["switchButtons"] == 3, rel
        if rel in ("index.html", "api/index.html") or rel.startswith("docs/"):
            assert survey[rel]["pairs"] >= 1, rel                           # at least the title is paired
    with new_page(chromium) as page:
        page.goto(f"{site}/docs/gan.html", wait_until="domcontentloaded")
        n_zh, n_en = page.locator('.bilingual[lang="zh"]').count(), page.locator('.bilingual[lang="en"]').count()
        assert n_zh == n_en >= 20, (n_zh, n_en)
        both = page.evaluate(HAN_JS)
        assert all(page.evaluate(SHOWN_JS, "zh")) and all(page.evaluate(SHOWN_JS, "en"))
        page.click('.bilingual-switch [data-show="en"]')
        assert not any(page.evaluate(SHOWN_JS, "zh")) and all(page.evaluate(SHOWN_JS, "en"))
        assert page.evaluate(HAN_JS) < 0.2 * both                  # what is left: texts without a partner
        for rel in ("docs/notebooks.html", "index.html"):          # the choice holds on the next page
            page.goto(f"{site}/{rel}", wait_until="domcontentloaded")
            assert page.locator('.bilingual-switch [data-show="en"]').get_attribute("aria-pressed") == "true"
            assert not page.locator('section.bilingual[lang="zh"]').is_visible()
            assert page.locator('section.bilingual[lang="en"]').is_visible()
        page.click('.bilingual-switch [data-show="zh"]')
        assert page.locator('section.bilingual[lang="zh"]').is_visible()
        assert not page.locator('section.bilingual[lang="en"]').is_visible()
        page.goto(f"{site}/docs/gan.html", wait_until="domcontentloaded")
        assert all(page.evaluate(SHOWN_JS, "zh")) and not any(page.evaluate(SHOWN_JS, "en"))
        page.click('.bilingual-switch [data-show="both"]')
        assert all(page.evaluate(SHOWN_JS, "zh")) and all(page.evaluate(SHOWN_JS, "en"))
        for rel, lang in [(next(p for p in pages() if p.startswith("zh/")), "zh-CN"), ("en/index.html", "en")]:
            page.goto(f"{site}/{rel}", wait_until="domcontentloaded")
            assert page.evaluate("document.documentElement.lang") == lang, rel


def _search(page, base: str, query: str) -> list[tuple[str, str]]:
    """[(result kind, page path)] that the site's search lists for ``query``, in order, once it has finished."""
    page.goto(f"{base}/search.html?q={quote(query)}", wait_until="load")
    page.wait_for_function("() => (document.querySelector('#search-results .search-summary') || {}).innerText",
                           timeout=30_000)
    return [(kind, unquote(urlparse(href).path)) for kind, href in page.evaluate(
        "Array.from(document.querySelectorAll('#search-results li')).map(li => [li.className, li.querySelector('a')"
        ".href])")]


def _article_text(rel: str) -> str:
    """The text of a built page's article (code included, as the search indexes it)."""
    page = (SITE / rel).read_text(encoding="utf-8")
    article = re.search(r'<article class="bd-article"[^>]*>(.*?)</article>', page, re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", article.group(1) if article else page))


def test_search_finds_english_and_chinese_terms(site, chromium):
    """Chinese is indexed as character bigrams (site/_ext/zh_en_search.py): a term finds its unit's Chinese page,
    every page listed holds the term, a term on no page finds nothing; English words are stemmed as before. For
    the terms the lectures teach, a lecture (or an API object: ``elbo``) comes first, the API index is never
    among the first three, and a plain-text hit on an API or docs page comes after every plain-text hit on a
    lecture (an API object and a section title keep their own rank)."""
    twins = json.loads((STAGED / "twins.json").read_text(encoding="utf-8"))
    with new_page(chromium) as page:
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        found = _search(page, site, "schedule")
        assert any(p.startswith("/en/") for _, p in found), found
        for term, unit in [("扩散", "04a"), ("变分自编码器", "03"), ("判别器", "05a"), ("扩散模型", "04b")]:
            found = _search(page, site, term)
            assert f"/{next(k for k in twins if k.startswith(f'zh/{unit}_'))}.html" in {p for _, p in found}, term
            for path in {p for _, p in found}:       # the article (code included, as indexed) holds the whole term
                assert term in _article_text(path.lstrip("/")), (term, path)
        assert _search(page, site, "量子纠缠态") == []               # AND of the bigrams, not any character
        for query in ["扩散", "变分自编码器", "ELBO", "discriminator", "classifier-free guidance", "PatchGAN"]:
            found = _search(page, site, query)
            assert found and (found[0][0] == "kind-object" or found[0][1].startswith(("/zh/", "/en/"))), \
                (query, found[:3])                                           # a lecture (or an API object) first
            assert "/api/index.html" not in [path for _, path in found[:3]], (query, found[:3])
            lectures = [i for i, (kind, path) in enumerate(found)
                        if kind == "kind-text" and path.startswith(("/zh/", "/en/"))]
            reference = [i for i, (kind, path) in enumerate(found)
                         if kind == "kind-text" and path.startswith(("/api/", "/docs/"))]
            assert not (lectures and reference) or max(lectures) < min(reference), (query, found)
        assert not errors, errors


def test_search_from_files_shows_snippets(site, chromium):
    """Opened from files (file://, where a browser refuses the search's fetch of each page), a search result still
    carries a snippet around the term (_ext/offline_search.py)."""
    with new_page(chromium) as page:
        page.goto(f"{SITE.as_uri()}/search.html?q={quote('扩散')}", wait_until="load")
        page.wait_for_function("() => document.querySelectorAll('#search-results li p.context').length >= 3",
                               timeout=30_000)
        snippets = page.locator("#search-results li p.context").all_inner_texts()
        assert sum("扩散" in s for s in snippets) >= 3, snippets[:5]
        assert not any("浅色" in s or "跟随系统" in s for s in snippets), snippets[:3]   # the article, not the theme


def test_search_and_chinese_pages(site, chromium, artifacts_dir):
    with new_page(chromium) as page:
        page.goto(f"{site}/zh/index.html", wait_until="load")
        assert "课程地图" in page.inner_text("main")
        page.screenshot(path=str(artifacts_dir / "site_zh_index.png"))
        first = next(p for p in pages() if p.startswith("zh/") and p != "zh/index.html")
        page.goto(f"{site}/{first}", wait_until="load")
        _wait_math(page)
        page.screenshot(path=str(artifacts_dir / "site_zh_notebook.png"))
        # the Chinese text is drawn with a CJK font the page asks for
        assert page.evaluate("document.fonts.check('16px \"Noto Sans CJK SC\"', '扩散')")


def test_internal_anchor_targets_exist(site):
    """Links from the landing pages to notebooks, docs, glossary and API resolve (checked from the built files)."""
    for lang in ("zh", "en"):
        text = (SITE / lang / "index.html").read_text(encoding="utf-8")
        hrefs = [h.split("?")[0] for h in re.findall(r'href="([^"#:]+)"', text)]
        assert any("api/index.html" in h for h in hrefs) and any("glossary.html" in h for h in hrefs)
        for h in hrefs:
            assert (SITE / lang / unquote(h)).resolve().exists() or (SITE / unquote(urljoin(f"{lang}/", h))).exists(), h


def test_no_instructor_material_is_published(site):
    """The site is the students' side: no instructor guide, no exercise answers (docs/answers/), nothing of
    solutions/ (solution code, hidden tests), by page or by text, in any file of the site."""
    files = [p for p in SITE.rglob("*") if p.is_file() and p.suffix in (".html", ".js", ".txt", ".json")
             and "mathjax" not in p.parts]
    names = [p.relative_to(SITE).as_posix() for p in files]
    assert not [n for n in names if re.search(r"instructor|answers|solutions", n)], names
    text = "\n".join(html.unescape(p.read_text(encoding="utf-8", errors="replace")) for p in files)
    marks = []                                  # (nbgrader's markers are public: coursekit.grading names them)
    for path in [REPO / "docs" / "instructor.md", *sorted((REPO / "docs" / "answers").glob("*.md"))]:
        marks += [line.lstrip("# ").strip() for line in path.read_text(encoding="utf-8").splitlines()
                  if line.startswith("#") and len(line) > 12][:3]          # each private file's own headings
    released = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "assignments").rglob("*.ipynb"))
    for path in sorted((REPO / "solutions").rglob("*.ipynb")):          # solution code and hidden tests
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            for block in re.findall(r"### BEGIN (?:SOLUTION|HIDDEN TESTS)\n(.*?)### END", "".join(cell["source"]),
                                    re.S):
                marks += [line.strip() for line in block.splitlines()
                          if len(line.strip()) > 40 and json.dumps(line.strip())[1:-1] not in released][:2]
    assert len(marks) > 10, marks                       # the check reads real private text
    leaked = [m for m in marks if m in text]
    assert not leaked, leaked[:10]


@pytest.mark.parametrize("jobs", ["0", "-1", "two"])
def test_bad_jobs_is_a_one_line_error_before_any_work(jobs):
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "site.py"), "--jobs", jobs], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert f"--jobs: expected a positive integer, got '{jobs}'" in done.stderr.splitlines()[-1]
    assert "site: executing" not in done.stdout
