"""A real browser on the Chinese diffusion notebook: JupyterLab on 127.0.0.1, Debian's Chromium via Playwright.

Runs every cell, moves the β-schedule explorer's t slider and the denoising player's slider, checks that each
figure changed and that no error (or stderr) output appeared, and saves screenshots under artifacts/.
Never runs ``playwright install``: it drives /usr/bin/chromium (scripts/setup.sh installs it as root).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
NOTEBOOK = REPO / "notebooks" / "zh" / "04a_扩散模型_前向过程与DDPM.ipynb"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]

pytestmark = [pytest.mark.slow, pytest.mark.notebooks]


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


@pytest.fixture
def jupyterlab(tmp_path):
    """(base URL, token, notebook path relative to the server root) of a JupyterLab serving a copy of the
    notebook under zh/ (the folder tells coursekit which edition it is)."""
    root = tmp_path / "root"
    (root / "zh").mkdir(parents=True)
    shutil.copy(NOTEBOOK, root / "zh" / NOTEBOOK.name)
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
        yield base, token, f"zh/{NOTEBOOK.name}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _prompts(page) -> list[str]:
    return page.eval_on_selector_all(".jp-CodeCell .jp-InputArea-prompt", "els => els.map(e => e.textContent)")


def _wait_all_run(page, n_cells: int, timeout_s: float) -> None:
    """Until every code cell shows an execution count (and none is queued or running, "[*]")."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        prompts = _prompts(page)
        if len(prompts) == n_cells and all(p.strip() not in ("[ ]:", "[*]:", "") for p in prompts):
            return
        time.sleep(1.0)
    raise TimeoutError(f"cells not all executed after {timeout_s:.0f} s: {_prompts(page)}")


def _set_slider(page, widget, value: int) -> None:
    """Type a value into an ipywidgets 8 slider's editable readout, as a user can."""
    readout = widget.locator(".widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(str(value))
    page.keyboard.press("Enter")


def _image_src(box) -> str:
    return box.locator("img.widget-image").first.get_attribute("src") or ""


def _wait_src_change(box, before: str, timeout_s: float = 30.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = _image_src(box)
        if now and now != before:
            return now
        time.sleep(0.25)
    raise AssertionError("the figure did not change after moving the slider")


def _move_slider_and_check_figure(page, box, slider, value: int, what: str) -> None:
    """Set ``slider`` to ``value`` and wait until the figure of the widget ``box`` is a different image."""
    before = _image_src(box)
    assert before, f"{what} shows no figure"
    _set_slider(page, slider, value)
    _wait_src_change(box, before)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium (scripts/setup.sh as root)")
def test_chinese_notebook_widgets_in_jupyterlab(jupyterlab, artifacts_dir):
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright Python package (.[dev])")
    base, token, rel = jupyterlab
    n_cells = sum(c["cell_type"] == "code" for c in json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"])
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/lab/tree/{quote(rel)}?token={token}", wait_until="domcontentloaded")
            page.wait_for_selector(".jp-NotebookPanel .jp-CodeCell", timeout=90_000)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle'], "
                                   ".jp-KernelStatus, .jp-Toolbar-kernelStatus", timeout=90_000)
            time.sleep(2.0)                                      # let the kernel finish starting
            page.click(".jp-NotebookPanel")
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            _wait_all_run(page, n_cells, timeout_s=420)

            errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            assert errors.count() == 0, "error output: " + " | ".join(errors.all_inner_texts())[:2000]

            # β-schedule explorer: the box with the "时间步 t" slider and the two schedule dropdowns
            explorer = page.locator(".widget-vbox", has=page.locator(".widget-dropdown", has_text="调度 A")).first
            explorer.scroll_into_view_if_needed()
            t_slider = explorer.locator(".widget-slider", has_text="时间步 t").last
            _move_slider_and_check_figure(page, explorer, t_slider, 650, "the schedule explorer")
            assert t_slider.locator(".widget-readout").inner_text().strip() == "650"
            explorer.scroll_into_view_if_needed()
            page.screenshot(path=str(artifacts_dir / "browser_04a_zh_explorer.png"))

            # denoising player: the box whose slider is labelled "帧"
            player = page.locator(".widget-vbox", has=page.locator(".widget-slider", has_text="帧")).last
            player.scroll_into_view_if_needed()
            frame = player.locator(".widget-slider", has_text="帧").first
            _move_slider_and_check_figure(page, player, frame, 40, "the denoising player")
            assert "t = " in player.locator(".widget-html").first.inner_text()
            player.scroll_into_view_if_needed()
            page.screenshot(path=str(artifacts_dir / "browser_04a_zh_player.png"))

            assert errors.count() == 0, "error output after moving the sliders"
            tracebacks = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']")
            assert tracebacks.count() == 0
        finally:
            browser.close()
