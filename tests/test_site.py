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
from urllib.parse import unquote, urljoin, urlparse

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


def test_search_and_chinese_pages(site, artifacts_dir):
    with browser.browser_page() as page:
        page.goto(f"{site}/search.html?q=schedule", wait_until="load")
        page.wait_for_selector("#search-results li, .search li", timeout=30_000)
        assert page.locator("#search-results li, .search li").count() > 0
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
