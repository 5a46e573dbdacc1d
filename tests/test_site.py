"""The course site in a real browser (Chromium, headless, 127.0.0.1): every page loads with no console error, no
failed request (nothing from the network) and no broken internal link; math is typeset (no raw TeX left); figures
load; the language switch lands on the twin page; search finds a term; Chinese pages are screenshotted.

Marked ``site``: scripts/test.sh runs it after the rest of the suite, when the notebook tests have left their
executed copies for the site (notebooks/execute.py), so building the site retrains nothing.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
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
pytestmark = [pytest.mark.site, *browser.needs_browser]

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
    # COURSEKIT_SITE_NO_EXECUTE=1: a quick local check of the site's plumbing (pages without outputs)
    extra = ["--no-execute"] if os.environ.get("COURSEKIT_SITE_NO_EXECUTE") == "1" else []
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "site.py"), *extra], capture_output=True, text=True,
                          timeout=3600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-5000:]
    print(done.stdout.strip().splitlines()[-1], f"({time.monotonic() - start:.0f} s)")
    handler = functools.partial(QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def pages() -> list[str]:
    return sorted(p.relative_to(SITE).as_posix() for p in SITE.rglob("*.html")
                  if not {"_static", "_sources", "_images"} & set(p.relative_to(SITE).parts))


def _wait_math(page) -> None:
    """Until MathJax 3 has typeset the page (its startup promise resolves after the first typeset)."""
    page.evaluate("async () => { if (window.MathJax && MathJax.startup && MathJax.startup.promise) "
                  "await MathJax.startup.promise; return true; }")


def test_every_page(site, artifacts_dir):
    all_pages = pages()
    per_lang = {lang: sum(p.startswith(f"{lang}/") for p in all_pages) for lang in ("zh", "en")}
    assert per_lang["zh"] == per_lang["en"] >= 3, per_lang
    problems: list[str] = []
    with browser.browser_page(1300, 900) as page:
        errors: list[str] = []
        page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
        page.on("response", lambda r: errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
        for rel in all_pages:
            errors.clear()
            page.goto(f"{site}/{rel}", wait_until="load")
            _wait_math(page)
            problems += [f"{rel}: {e}" for e in errors]          # nothing may fail, nothing comes from the network
            # math: every math element typeset, no raw TeX delimiters or $…$ left in the text
            n_math = page.evaluate("document.querySelectorAll('.math').length")
            n_typeset = page.evaluate("document.querySelectorAll('.math mjx-container').length")
            if n_math and n_typeset < n_math:
                problems.append(f"{rel}: {n_math} math elements, {n_typeset} typeset")
            text = page.evaluate(TEXT_JS)
            raw = re.findall(r"\\\(|\\\[|\$\$|(?<![\w$])\$[^$\s][^$\n]{0,80}?\$(?![\w$])", text)
            if raw:
                problems.append(f"{rel}: raw TeX left: {raw[:3]}")
            # figures load
            broken = page.evaluate("Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0))"
                                   ".map(i => i.src)")
            problems += [f"{rel}: image did not load: {src[:100]}" for src in broken]
            # internal links point at pages that exist
            for href in page.evaluate("Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"):
                url = urlparse(href)
                if url.hostname != "127.0.0.1" or url.path.endswith("/"):
                    continue
                target = SITE / unquote(url.path).lstrip("/")
                if not target.exists():
                    problems.append(f"{rel}: broken link {unquote(url.path)}")
    assert not problems, "\n".join(sorted(set(problems))[:40])


def test_language_switch_lands_on_the_twin(site):
    twins = json.loads((REPO / "_build" / "site-src" / "twins.json").read_text(encoding="utf-8"))
    zh_notebooks = sorted(k for k in twins if k.startswith("zh/") and k != "zh/index")
    assert zh_notebooks
    with browser.browser_page() as page:
        for name in [zh_notebooks[0], "zh/index"]:
            page.goto(f"{site}/{name}.html", wait_until="load")
            link = page.locator(".lang-switch-link")
            assert link.inner_text().strip() == "English"
            link.click()
            page.wait_for_load_state("load")
            assert unquote(urlparse(page.url).path) == f"/{twins[name]['page']}.html"
            back = page.locator(".lang-switch-link")
            assert back.inner_text().strip() == "中文"
            back.click()
            page.wait_for_load_state("load")
            assert unquote(urlparse(page.url).path) == f"/{name}.html"


SHOWN_JS = """(lang) => Array.from(document.querySelectorAll(`.bilingual[lang="${lang}"]`))
  .map(e => e.getClientRects().length > 0)"""
HAN_JS = "(document.querySelector('article').innerText.match(/[\\u4e00-\\u9fff]/g) || []).length"


def test_bilingual_pages_switch_language(site):
    """docs/ and the API reference are written in both languages at once: their switch shows the Chinese halves,
    the English halves (the choice is kept on the next page) or both; docs/notebooks.md's sections 中文 and
    English follow it. A page of one language declares it (<html lang>)."""
    bilingual = [p for p in pages() if p.split("/")[0] in ("docs", "api")]
    assert "api/index.html" in bilingual and len(bilingual) >= 4
    with browser.browser_page() as page:
        for rel in bilingual:
            page.goto(f"{site}/{rel}", wait_until="load")
            assert page.locator(".bilingual-switch [data-show]").count() == 3, rel
            assert page.locator('.bilingual[lang="zh"]').count() >= 1, rel        # at least the title is paired
        page.goto(f"{site}/docs/instructor.html", wait_until="load")
        n_zh, n_en = page.locator('.bilingual[lang="zh"]').count(), page.locator('.bilingual[lang="en"]').count()
        assert n_zh == n_en >= 20, (n_zh, n_en)
        both = page.evaluate(HAN_JS)
        assert all(page.evaluate(SHOWN_JS, "zh")) and all(page.evaluate(SHOWN_JS, "en"))
        page.click('.bilingual-switch [data-show="en"]')
        assert not any(page.evaluate(SHOWN_JS, "zh")) and all(page.evaluate(SHOWN_JS, "en"))
        assert page.evaluate(HAN_JS) < 0.2 * both                  # what is left: texts without a partner
        page.goto(f"{site}/docs/notebooks.html", wait_until="load")    # the choice holds on the next page
        assert page.locator('.bilingual-switch [data-show="en"]').get_attribute("aria-pressed") == "true"
        assert not page.locator('section.bilingual[lang="zh"]').is_visible()
        assert page.locator('section.bilingual[lang="en"]').is_visible()
        page.click('.bilingual-switch [data-show="zh"]')
        assert page.locator('section.bilingual[lang="zh"]').is_visible()
        assert not page.locator('section.bilingual[lang="en"]').is_visible()
        page.goto(f"{site}/docs/instructor.html", wait_until="load")
        assert all(page.evaluate(SHOWN_JS, "zh")) and not any(page.evaluate(SHOWN_JS, "en"))
        page.click('.bilingual-switch [data-show="both"]')
        assert all(page.evaluate(SHOWN_JS, "zh")) and all(page.evaluate(SHOWN_JS, "en"))
        for rel, lang in [(next(p for p in pages() if p.startswith("zh/")), "zh-CN"), ("en/index.html", "en")]:
            page.goto(f"{site}/{rel}", wait_until="load")
            assert page.evaluate("document.documentElement.lang") == lang, rel


def _search(page, site: str, query: str) -> list[str]:
    """The pages (paths) that the site's search lists for ``query``, once the search has finished."""
    page.goto(f"{site}/search.html?q={quote(query)}", wait_until="load")
    page.wait_for_function("() => (document.querySelector('#search-results .search-summary') || {}).innerText",
                           timeout=30_000)
    hrefs = page.evaluate("Array.from(document.querySelectorAll('#search-results li a')).map(a => a.href)")
    return sorted({unquote(urlparse(h).path) for h in hrefs})


def test_search_finds_english_and_chinese_terms(site):
    """Chinese is indexed as character bigrams (site/_ext/zh_en_search.py): a term finds its unit's Chinese page,
    every page listed holds the term, a term on no page finds nothing; English words are stemmed as before."""
    twins = json.loads((REPO / "_build" / "site-src" / "twins.json").read_text(encoding="utf-8"))
    with browser.browser_page() as page:
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        found = _search(page, site, "schedule")
        assert any(p.startswith("/en/") for p in found), found
        for term, unit in [("扩散", "04a"), ("变分自编码器", "03"), ("判别器", "05a"), ("扩散模型", "04b")]:
            found = _search(page, site, term)
            assert f"/{next(k for k in twins if k.startswith(f'zh/{unit}_'))}.html" in found, (term, found)
            for path in found:            # the article (code included, as indexed) holds the whole term
                page.goto(f"{site}{quote(path)}", wait_until="domcontentloaded")
                assert term in page.evaluate("(document.querySelector('article') || document.body).textContent"), \
                    (term, path)
        assert _search(page, site, "量子纠缠态") == []               # AND of the bigrams, not any character
        assert not errors, errors


def test_search_and_chinese_pages(site, artifacts_dir):
    with browser.browser_page() as page:
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
        html = (SITE / lang / "index.html").read_text(encoding="utf-8")
        hrefs = [h.split("?")[0] for h in re.findall(r'href="([^"#:]+)"', html)]
        assert any("api/index.html" in h for h in hrefs) and any("glossary.html" in h for h in hrefs)
        for h in hrefs:
            assert (SITE / lang / unquote(h)).resolve().exists() or (SITE / unquote(urljoin(f"{lang}/", h))).exists(), h


@pytest.mark.parametrize("jobs", ["0", "-1", "two"])
def test_bad_jobs_is_a_one_line_error_before_any_work(jobs):
    done = subprocess.run([sys.executable, str(REPO / "scripts" / "site.py"), "--jobs", jobs], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert f"--jobs: expected a positive integer, got '{jobs}'" in done.stderr.splitlines()[-1]
    assert "site: executing" not in done.stdout
