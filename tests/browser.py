"""Driving JupyterLab in a real browser for the widget tests (tests/test_browser*.py): JupyterLab on 127.0.0.1,
Debian's Chromium via Playwright. Never runs ``playwright install``: it drives /usr/bin/chromium
(scripts/setup.sh installs it as root).

``through`` serves the notebook up to the last code cell that contains that text (the widget the test moves): the
cells after it are the notebook tests' job (tests/test_notebooks.py runs every cell of both editions), so the
browser test does not train their models a second time.

    pytestmark = browser.needs_browser
    def test_x(tmp_path, artifacts_dir):
        with browser.notebook_in_lab(tmp_path, NOTEBOOK, through="Explorer(") as page:   # cells run, no error
            box = page.locator(".widget-vbox", has=page.locator(".widget-slider", has_text="…")).first
            browser.move_slider_and_check_figure(page, box, box.locator(".widget-slider").first, 5, "what")
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer {url} within {timeout:.0f} s")


def _cells_through(notebook: Path, through: str | None) -> dict:
    """The notebook's JSON, cut after the last code cell whose source contains ``through`` (None: whole)."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    if through is not None:
        hits = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and through in "".join(c["source"])]
        assert hits, f"no code cell of {notebook.name} contains {through!r}"
        nb["cells"] = nb["cells"][:hits[-1] + 1]
    return nb


@contextlib.contextmanager
def jupyterlab(tmp_path: Path, notebook: Path, through: str | None = None):
    """(base URL, token, notebook path relative to the server root) of a JupyterLab serving a copy of
    ``notebook`` (up to the last code cell containing ``through``) under its edition's folder (zh/ or en/: the
    folder tells coursekit which edition it is)."""
    edition = notebook.parent.name
    root = tmp_path / "root"
    (root / edition).mkdir(parents=True)
    (root / edition / notebook.name).write_text(json.dumps(_cells_through(notebook, through), ensure_ascii=False),
                                                encoding="utf-8")
    config = tmp_path / "jupyter-config"
    (config / "labconfig").mkdir(parents=True)
    # no "fetch news?" notification over the notebook
    (config / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(config), JUPYTER_DATA_DIR=str(tmp_path / "jupyter-data"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter-runtime"), IPYTHONDIR=str(tmp_path / "ipython"),
               COURSEKIT_PROGRESS="0")
    env.pop("MPLBACKEND", None)          # the kernel picks the inline backend, as for a student
    env.pop("COURSEKIT_LANG", None)      # the edition must come from the notebook's path
    port, token = _free_port(), os.urandom(12).hex()
    log = open(tmp_path / "jupyterlab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False",
         "--allow-root",        # CI containers run as root; the server only listens on 127.0.0.1 with a token
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{base}/api/status?token={token}", proc)
        yield base, token, f"{edition}/{notebook.name}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def prompts(page) -> list[str]:
    return page.eval_on_selector_all(".jp-CodeCell .jp-InputArea-prompt", "els => els.map(e => e.textContent)")


def wait_all_run(page, n_cells: int, timeout_s: float) -> None:
    """Until every code cell shows an execution count (and none is queued or running, "[*]")."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        shown = prompts(page)
        if len(shown) == n_cells and all(p.strip() not in ("[ ]:", "[*]:", "") for p in shown):
            return
        time.sleep(1.0)
    raise TimeoutError(f"cells not all executed after {timeout_s:.0f} s: {prompts(page)}")


def set_slider(page, widget, value: int) -> None:
    """Type a value into an ipywidgets 8 slider's editable readout, as a user can."""
    readout = widget.locator(".widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(str(value))
    page.keyboard.press("Enter")


def image_src(box) -> str:
    return box.locator("img.widget-image").first.get_attribute("src") or ""


def wait_src_change(box, before: str, timeout_s: float = 30.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = image_src(box)
        if now and now != before:
            return now
        time.sleep(0.25)
    raise AssertionError("the figure did not change after moving the slider")


def move_slider_and_check_figure(page, box, slider, value: int, what: str) -> None:
    """Set ``slider`` to ``value`` and wait until the figure of the widget ``box`` is a different image."""
    before = image_src(box)
    assert before, f"{what} shows no figure"
    set_slider(page, slider, value)
    wait_src_change(box, before)




def code_cell_count(notebook: Path, through: str | None = None) -> int:
    return sum(c["cell_type"] == "code" for c in _cells_through(notebook, through)["cells"])


def open_and_run_all(page, base: str, token: str, rel: str, n_cells: int, timeout_s: float = 420) -> None:
    """Open the notebook in JupyterLab, wait for its kernel, Run → Run All Cells, wait until every cell ran."""
    page.goto(f"{base}/lab/tree/{quote(rel)}?token={token}", wait_until="domcontentloaded")
    page.wait_for_selector(".jp-NotebookPanel .jp-CodeCell", timeout=90_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle'], "
                           ".jp-KernelStatus, .jp-Toolbar-kernelStatus", timeout=90_000)
    time.sleep(2.0)                                      # let the kernel finish starting
    page.click(".jp-NotebookPanel")
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    wait_all_run(page, n_cells, timeout_s=timeout_s)


def assert_no_error_output(page, when: str = "") -> None:
    """No stderr output and no traceback anywhere in the notebook."""
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert errors.count() == 0, f"error output {when}: " + " | ".join(errors.all_inner_texts())[:2000]
    tracebacks = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']")
    assert tracebacks.count() == 0, f"traceback {when}: " + " | ".join(tracebacks.all_inner_texts())[:2000]


@contextlib.contextmanager
def browser_page(width: int = 1400, height: int = 1000):
    """A page of Debian's Chromium driven by Playwright (never ``playwright install``)."""
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


needs_browser = [
    pytest.mark.slow, pytest.mark.notebooks,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium (scripts/setup.sh as root)"),
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None,
                       reason="needs the playwright Python package (.[dev])"),
]


@contextlib.contextmanager
def notebook_in_lab(tmp_path: Path, notebook: Path, through: str | None = None, timeout_s: float = 420):
    """A Chromium page on JupyterLab with ``notebook`` (up to the last code cell containing ``through``) open, every
    cell run (Run All Cells) and no error or stderr output: what each widget test starts from."""
    with jupyterlab(tmp_path, notebook, through) as (base, token, rel), browser_page() as page:
        open_and_run_all(page, base, token, rel, code_cell_count(notebook, through), timeout_s=timeout_s)
        assert_no_error_output(page, "after Run All")
        yield page
